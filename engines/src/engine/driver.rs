//! The driver interface: one implementation per kind of device (NodeMCU over MQTT, Raspberry Pi
//! over SSH/LXC, MICA over JSON-RPC), chosen by node type; plus a no-op driver.

use super::executor::Outputs;
use crate::events::EventSink;
use futures::future::BoxFuture;
use provisio_model::plan::Step;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// An artifact file made available to devices.
#[derive(Debug, Clone)]
pub struct ServedArtifact {
    /// Deployment artifact name (from the node template or its implementation).
    pub name: String,
    pub file_name: String,
    /// Where devices download it (artifact server or external base URL).
    pub url: String,
    pub size: u64,
    /// Lowercase hex MD5.
    pub md5: String,
    pub bytes: Arc<Vec<u8>>,
}

/// What a driver gets besides the step.
#[derive(Clone)]
pub struct DriverContext {
    pub events: EventSink,
    pub cancel: CancellationToken,
    /// Artifacts of this step's node, already served.
    pub artifacts: Vec<ServedArtifact>,
}

/// What [`Driver::run`] returns.
pub type DriverFuture = BoxFuture<'static, Result<Outputs, String>>;

/// Runs lifecycle operations for one kind of node.
pub trait Driver: Send + Sync + 'static {
    /// Runs `step`; `Ok` with the output parameters only when the operation fully succeeded.
    fn run(&self, step: Step, ctx: DriverContext) -> DriverFuture;
}

/// Drivers by key (`nodemcu`, `raspberry`, `mica`, …).
#[derive(Clone, Default)]
pub struct DriverRegistry {
    drivers: HashMap<String, Arc<dyn Driver>>,
}

impl DriverRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, key: &str, driver: Arc<dyn Driver>) {
        self.drivers.insert(key.to_string(), driver);
    }

    pub fn get(&self, key: &str) -> Option<Arc<dyn Driver>> {
        self.drivers.get(key).cloned()
    }
}

/// The driver key for a node type (see [`provisio_model::drivers::driver_kind`]).
pub fn driver_key(
    lib: &provisio_model::Library,
    node_type: &provisio_model::QName,
) -> Option<&'static str> {
    provisio_model::drivers::driver_kind(lib, node_type).map(|k| k.key())
}

/// The driver key of each step of `plan`, by step index.
pub fn driver_keys(
    lib: &provisio_model::Library,
    plan: &provisio_model::plan::Plan,
) -> Vec<Option<&'static str>> {
    plan.steps
        .iter()
        .map(|s| driver_key(lib, &s.node_type))
        .collect()
}
