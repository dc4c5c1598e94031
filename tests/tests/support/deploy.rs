//! Deploying through the application's deploy path (as the CLI and the GUI do) while watching
//! its events, and reading the device states an instance recorded.

use provisio_app::deploy::{DeployOptions, deploy};
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::events::{DeployEvent, EventSink};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Deploys service template `name` of `file`; `tick` sees every event (and `None` every
/// 20 ms) while it runs. Returns the instance and the wall time.
pub async fn deploy_watching(
    file: &std::path::Path,
    name: &str,
    opts: &DeployOptions,
    mut tick: impl FnMut(Option<&DeployEvent>),
) -> (InstanceState, Duration, String) {
    let loaded = provisio_app::library::open_with_builtin(file).unwrap();
    let st = loaded
        .library
        .service_templates()
        .into_iter()
        .map(|(_, s)| s)
        .find(|s| s.id == name)
        .unwrap_or_else(|| panic!("{name} in {}", file.display()))
        .clone();
    let (sink, mut rx) = EventSink::new();
    let t0 = Instant::now();
    let inputs = BTreeMap::new();
    let run = deploy(&loaded, &st, &inputs, opts, sink, CancellationToken::new());
    tokio::pin!(run);
    let mut log = String::new();
    let out = loop {
        tokio::select! {
            r = &mut run => break r.unwrap_or_else(|e| panic!("{name}: {e}")),
            Some(e) = rx.recv() => {
                if !matches!(e, DeployEvent::DeviceState { .. } | DeployEvent::StepProgress { .. }) {
                    log.push_str(&format!("{e:?}\n"));
                }
                tick(Some(&e));
            }
            _ = tokio::time::sleep(Duration::from_millis(20)) => tick(None),
        }
    };
    let took = t0.elapsed();
    while let Ok(e) = rx.try_recv() {
        tick(Some(&e));
    }
    (out.instance, took, log)
}

/// Device states of node `node`, counted by state name.
pub fn states(inst: &InstanceState, node: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for rec in inst.devices.get(node).into_iter().flat_map(|d| d.values()) {
        *out.entry(rec.state.clone()).or_insert(0) += 1;
    }
    out
}
