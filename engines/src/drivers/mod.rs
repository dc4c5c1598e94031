//! Device drivers: how a lifecycle operation reaches a kind of device.

pub mod nodemcu;
pub mod raspberry;
pub mod ssh;
