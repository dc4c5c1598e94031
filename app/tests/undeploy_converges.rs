//! Undeploy always converges: a device that lost its app counts as already absent, and a failed
//! teardown step never keeps independent nodes (containers on the Raspberry Pi and the MICA)
//! standing. Simulated devices, a real sshd + LXC stand-in, the MICA emulator.

mod common;

use common::{events, run, summary};
use provisio_app::deploy::DeployOptions;
use provisio_firmware::FaultSpec;
use std::path::Path;
use std::time::Duration;

/// Both tests use the process-wide embedded broker with the same hardware ids: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn thesis() -> (
    provisio_model::Loaded,
    provisio_model::tosca::ServiceTemplate,
) {
    let loaded = provisio_app::library::builtin_loaded();
    let q = provisio_model::QName::new(provisio_assets::SERVICE_TEMPLATES_NS, "ThesisScenario");
    let st = loaded.library.service_template(&q).cloned().unwrap();
    (loaded, st)
}

fn lxc_left(data: &Path, id: &str) -> Vec<String> {
    std::fs::read_dir(data.join("simulated").join(id).join("lxc"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_failed_teardown_step_does_not_keep_independent_nodes_standing() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let (loaded, st) = thesis();
    let mut opts = DeployOptions::new(data.path().to_path_buf(), true);
    let (out, mut rx) = run(&loaded, &st, None, &opts);
    let id = out.instance.id.clone();
    assert_eq!(out.instance.phase, "deployed", "{}", events(&mut rx));
    assert!(
        !lxc_left(data.path(), &id).is_empty(),
        "containers were created"
    );
    // One NodeMCU is unreachable during undeploy: its stop fails (timed out).
    opts.faults = vec!["offline@1345963".parse::<FaultSpec>().unwrap()];
    opts.nodemcu.other_timeout = Duration::from_secs(2);
    let (out, mut rx) = run(&loaded, &st, Some(&id), &opts);
    let summary = summary(&mut rx);
    assert_eq!(out.instance.phase, "failed", "{summary}");
    assert!(summary.contains("left: SensorPublisher"), "{summary}");
    // Everything that does not depend on that device was torn down anyway.
    assert!(
        lxc_left(data.path(), &id).is_empty(),
        "containers left: {:?} ({summary})",
        lxc_left(data.path(), &id)
    );
    let skipped: Vec<_> = out
        .instance
        .steps
        .iter()
        .filter(|s| {
            matches!(
                s.status,
                provisio_engines::engine::executor::StepStatus::Skipped(_)
            )
        })
        .map(|s| s.id.clone())
        .collect();
    assert!(skipped.is_empty(), "no teardown step skipped: {skipped:?}");
}

#[test]
fn a_device_that_lost_its_app_is_already_absent() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/constrained.tosca");
    let loaded = provisio_app::library::open_with_builtin(&fixture).unwrap();
    let st = loaded.library.service_templates()[0].1.clone();
    let opts = DeployOptions::new(data.path().to_path_buf(), true);
    let (out, mut rx) = run(&loaded, &st, None, &opts);
    assert_eq!(out.instance.phase, "deployed", "{}", events(&mut rx));
    let id = out.instance.id;
    // The board was re-flashed by hand: it comes back with no app at all.
    let device = data
        .path()
        .join("simulated")
        .join(&id)
        .join("NodeMCU")
        .join("1361877");
    assert!(device.is_dir(), "{}", device.display());
    std::fs::remove_dir_all(&device).unwrap();
    let (out, mut rx) = run(&loaded, &st, Some(&id), &opts);
    let summary = summary(&mut rx);
    assert_eq!(out.instance.phase, "undeployed", "{summary}");
}
