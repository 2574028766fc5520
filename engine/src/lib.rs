//! Tern engine.
