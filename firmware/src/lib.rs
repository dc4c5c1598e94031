//! The device side of Provisio: the NodeMCU device agent ([`agent`]), the simulated fleet
//! ([`fleet`]) with fault injection ([`faults`]), and a real Mosquitto launcher for tests and
//! benchmarks ([`mosquitto`]).

pub mod agent;
pub mod cli;
pub mod faults;
pub mod fleet;
pub mod mosquitto;

pub use agent::runner::BrokerAddr;
pub use faults::{DeviceFaults, FaultSpec};
pub use fleet::{Fleet, FleetConfig, FleetHandle, OnlineGauge};
