//! Simulated devices whose broker is a container of the same deployment (a MonitoringBroker or
//! Mosquitto on a simulated Pi) cannot connect before that container runs. Their fleet starts
//! with the deploy and keeps retrying; this driver wrapper holds each device group's first
//! step until its devices are online (bounded), so no command is published to nobody.

use super::simulate::device_node;
use provisio_engines::engine::driver::{Driver, DriverContext, DriverFuture};
use provisio_engines::events::Level;
use provisio_firmware::OnlineGauge;
use provisio_model::plan::Step;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a device group's first step waits for its devices.
pub const WAIT: Duration = Duration::from_secs(60);

/// Wraps the NodeMCU driver: steps of a gated device group wait for its devices first.
pub struct AwaitDevices {
    pub inner: Arc<dyn Driver>,
    /// Device node → (its fleet's online count, how many must be online).
    pub gates: HashMap<String, (OnlineGauge, usize)>,
}

impl Driver for AwaitDevices {
    fn run(&self, step: Step, ctx: DriverContext) -> DriverFuture {
        let gate = self.gates.get(&device_node(&step)).cloned();
        let inner = self.inner.clone();
        Box::pin(async move {
            if let Some((gauge, n)) = gate
                && gauge.online() < n
            {
                ctx.events.log(
                    Level::Info,
                    Some(&step.node),
                    format!("waiting for {n} simulated device(s) to reach their broker"),
                );
                tokio::select! {
                    ok = gauge.wait(n, WAIT) => if !ok {
                        ctx.events.log(
                            Level::Warn,
                            Some(&step.node),
                            format!("only {} of {n} simulated devices reached their broker", gauge.online()),
                        );
                    },
                    _ = ctx.cancel.cancelled() => return Err("cancelled".to_string()),
                }
            }
            inner.run(step, ctx).await
        })
    }
}
