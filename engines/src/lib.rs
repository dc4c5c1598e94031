//! The deployment engine: executes plans through drivers and reports typed events.

pub mod engine;
pub mod events;
