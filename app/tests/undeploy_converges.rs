//! Undeploy always converges: a device that lost its app counts as already absent, and a failed
//! teardown step never keeps independent nodes (containers on the Raspberry Pi and the MICA)
//! standing. Simulated devices, a real sshd + LXC stand-in, the MICA emulator. A simulated
//! instance leaves nothing on this machine once its undeploy converged or it was forgotten
//! (`undeploy --force`), nor does a deploy that fails before its plan runs.

mod common;

use common::{events, run, summary};
use provisio_app::deploy::DeployOptions;
use provisio_engines::simnet::SimNet;
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
    common::containers_left(data, id)
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
    // The failed undeploy keeps what its retry needs: the network and the devices' state.
    let state = data.path().join("simulated").join(&id);
    assert!(state.join("NodeMCU").is_dir(), "{}", state.display());
    assert!(SimNet::find(&id).is_some(), "network kept for the retry");
    // The device is back: the retry converges, and nothing of the instance stays.
    opts.faults.clear();
    let (out, mut rx) = run(&loaded, &st, Some(&id), &opts);
    assert_eq!(
        out.instance.phase,
        "undeployed",
        "{}",
        common::summary(&mut rx)
    );
    assert!(!state.exists(), "left: {}", state.display());
    assert!(SimNet::find(&id).is_none(), "network left");
}

#[test]
fn undeploy_force_removes_the_simulated_hosts_and_their_state() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let (loaded, st) = thesis();
    let opts = DeployOptions::new(data.path().to_path_buf(), true);
    let (out, mut rx) = run(&loaded, &st, None, &opts);
    let id = out.instance.id.clone();
    assert_eq!(out.instance.phase, "deployed", "{}", events(&mut rx));
    drop(out);
    let state = data.path().join("simulated").join(&id);
    assert!(!lxc_left(data.path(), &id).is_empty(), "containers run");
    let net = SimNet::find(&id).expect("the instance's network");
    let (code, text) = common::provisio(data.path(), &["undeploy", &id, "--force"]);
    assert_eq!(code, 0, "{text}");
    assert!(!state.exists(), "left: {}", state.display());
    assert!(SimNet::find(&id).is_none(), "network left");
    let links = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(!links.contains(&net.bridge), "{links}");
}

/// A deploy that fails after its simulated network was made (here: a device group whose topic
/// no device may use, so its fleet cannot start) returns the error and leaves nothing: no
/// network, no instance snapshot, no simulated state.
#[test]
fn a_deploy_that_fails_before_its_plan_runs_leaves_nothing_behind() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../assets/library/servicetemplates/http%3A%2F%2Fprovisio.dev%2Ftosca%2Fservicetemplates/ThesisScenario/ServiceTemplate.tosca",
    );
    let xml = std::fs::read_to_string(&source).unwrap();
    assert!(
        xml.contains("controlTopic>controlTopic<"),
        "fixture changed"
    );
    let bad = data.path().join("BadTopic.tosca");
    let xml = xml
        .replace("controlTopic>controlTopic<", "controlTopic>control/#<")
        .replace("\"ThesisScenario\"", "\"BadTopicScenario\"");
    std::fs::write(&bad, xml).unwrap();
    let loaded = provisio_app::library::open_with_builtin(&bad).unwrap();
    let q = provisio_model::QName::new(provisio_assets::SERVICE_TEMPLATES_NS, "BadTopicScenario");
    let st = loaded.library.service_template(&q).cloned().unwrap();
    let mut opts = DeployOptions::new(data.path().to_path_buf(), true);
    opts.skip_checks = true;
    let rt = common::runtime();
    let (sink, mut rx) = provisio_engines::events::EventSink::new();
    let none = Default::default();
    let result = rt.block_on(provisio_app::deploy::deploy(
        &loaded,
        &st,
        &none,
        &opts,
        sink,
        tokio_util::sync::CancellationToken::new(),
    ));
    let log = events(&mut rx);
    let err = match result {
        Ok(o) => panic!("deployed ({}): {log}", o.instance.phase),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("control/#"), "{err}");
    // The Pi stand-in ran on the network: its address names the bridge's subnet.
    let pi = log
        .split("simulated Raspberry Pi 192.168.0.19: sshd on ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .unwrap_or_else(|| panic!("no Pi stand-in: {log}"));
    let gateway = format!("{}.1/24", pi.rsplit_once('.').unwrap().0);
    let addrs = std::process::Command::new("ip")
        .args(["-4", "-o", "addr"])
        .output()
        .unwrap();
    let addrs = String::from_utf8_lossy(&addrs.stdout);
    assert!(
        !addrs.contains(&format!("inet {gateway} ")),
        "network left: {addrs}"
    );
    let left: Vec<_> = ["instances", "simulated"]
        .iter()
        .flat_map(|d| std::fs::read_dir(data.path().join(d)).into_iter().flatten())
        .flatten()
        .map(|e| e.path().display().to_string())
        .collect();
    assert!(left.is_empty(), "left: {left:?}");
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
