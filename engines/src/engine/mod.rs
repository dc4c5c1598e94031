//! The deployment engine: executes a plan's steps through drivers, reports events, and keeps
//! instance state on disk.

pub mod driver;
pub mod executor;
pub mod instance;
pub mod run;
