//! Tern engine.

pub mod config;
pub mod connector;
pub mod delivery;
pub mod dlr_index;
pub mod gateway;
pub mod http;
pub mod lifecycle;
pub mod mesh;
pub mod message;
pub mod metrics;
pub mod mo;
pub mod router;
pub mod server;
pub mod shard;
pub mod users;
