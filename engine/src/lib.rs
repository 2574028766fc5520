//! Tern engine.

pub mod config;
pub mod dlr_index;
pub mod router;
pub mod users;
