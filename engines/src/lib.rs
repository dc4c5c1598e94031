//! The deployment engine: executes plans through drivers and reports typed events.

pub mod artifact_server;
pub mod broker;
pub mod drivers;
pub mod engine;
pub mod events;
pub mod image_cache;
pub mod images;
pub mod mica_emulator;
pub mod monitoring;
pub mod netsim;
pub mod pubsub;
pub mod simnet;
pub mod standin;
