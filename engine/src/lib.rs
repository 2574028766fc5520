//! Tern engine.

pub mod config;
pub mod dlr_index;
pub mod lifecycle;
pub mod message;
pub mod router;
pub mod users;
