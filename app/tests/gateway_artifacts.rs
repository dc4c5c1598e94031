//! Device groups behind a gateway fetch artifacts from a base URL (a caching proxy) instead of
//! the engine's artifact server, which stays the origin for the same paths: a relay in front of
//! the origin makes the install succeed, a base URL where nothing listens makes every device
//! fail its download (so the devices really used it).

mod common;

use common::{run, runtime, summary};
use provisio_app::deploy::DeployOptions;
use provisio_engines::netsim::{DelayRelay, Latency};
use std::path::Path;
use std::time::Duration;

#[test]
fn devices_fetch_artifacts_from_the_gateway_base_url() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/constrained.tosca");
    let loaded = provisio_app::library::open_with_builtin(&fixture).unwrap();
    let st = loaded.library.service_templates()[0].1.clone();
    let rt = runtime();
    let origin = rt
        .block_on(provisio_app::deploy::services::get(true))
        .unwrap()
        .artifacts
        .addr();
    // A "cache" in front of the origin (here a relay with a little latency).
    let cache = rt
        .block_on(DelayRelay::start(
            origin,
            Latency::rtt(Duration::from_millis(4)),
        ))
        .unwrap();
    let mut opts = DeployOptions::new(data.path().to_path_buf(), true);
    opts.artifact_base_url = Some(format!("http://{}", cache.addr()));
    let (out, mut rx) = run(&loaded, &st, None, &opts);
    assert_eq!(out.instance.phase, "deployed", "{}", summary(&mut rx));
    let (out, _) = run(&loaded, &st, Some(&out.instance.id), &opts);
    assert_eq!(out.instance.phase, "undeployed");

    // Nothing listens at this base URL: every device's download fails there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    opts.artifact_base_url = Some(format!("http://{dead}"));
    let (out, mut rx) = run(&loaded, &st, None, &opts);
    let said = common::events(&mut rx);
    assert_eq!(out.instance.phase, "failed");
    assert!(said.matches("download failed").count() >= 3, "{said}");
}
