//! Device drivers: how a lifecycle operation reaches a kind of device.

pub mod container_files;
pub mod mica;
pub mod mica_api;
pub mod nodemcu;
pub mod raspberry;
pub mod ssh;
pub mod tls_pin;
