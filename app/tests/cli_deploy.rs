//! `provisio deploy --simulate` and `provisio undeploy` end to end: the real binary, the
//! embedded broker, the artifact server and a simulated NodeMCU fleet in one process.

mod common;
use common::provisio;

use std::path::Path;
use std::process::Command;

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/constrained.tosca")
        .display()
        .to_string()
}

#[test]
fn deploy_then_undeploy_simulated_fleet() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let (code, out) = provisio(data.path(), &["deploy", &fixture(), "--simulate"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("✓ SensorPublisher.install installedDevicesCount=3"),
        "{out}"
    );
    assert_eq!(out.matches(" running ").count(), 3, "{out}");
    let id = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("instance ")
                .and_then(|r| r.strip_suffix(" is deployed"))
        })
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let (code, list) = provisio(data.path(), &["instances"]);
    assert_eq!(code, 0);
    assert!(list.contains(&id) && list.contains("deployed"), "{list}");
    // A new process finds the instance and the simulated devices' state on disk.
    let (code, out) = provisio(data.path(), &["undeploy", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("✓ SensorPublisher.stop stoppedDevicesCount=3"),
        "{out}"
    );
    assert_eq!(out.matches(" uninstalled ").count(), 3, "{out}");
}

#[test]
fn a_corrupt_download_fails_that_device_only() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let (code, out) = provisio(
        data.path(),
        &[
            "deploy",
            &fixture(),
            "--simulate",
            "--fault",
            "corrupt@1361877",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("2 of 3 devices succeeded; 1361877: failed: md5 mismatch"),
        "{out}"
    );
    assert!(out.contains("- SensorPublisher.configure skipped"), "{out}");
}

/// Deploying from a CSAR reads the artifact out of the archive only then; a CSAR whose
/// artifact is a zip bomb (1 GiB of zeros) is refused at that step, naming the entry.
#[test]
fn deploy_from_a_csar_reads_artifacts_lazily_and_refuses_a_bomb() {
    use std::io::{Read, Write};
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let csar = data.path().join("fleet.csar");
    let out = csar.display().to_string();
    let (code, text) = provisio(data.path(), &["export-csar", &fixture(), "-o", &out]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = provisio(data.path(), &["deploy", &out, "--simulate"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("✓ SensorPublisher.install installedDevicesCount=3"),
        "{text}"
    );

    // The same archive with sensor.bin inflating to 1 GiB.
    let bomb = data.path().join("bomb.csar");
    let mut src = zip::ZipArchive::new(std::fs::File::open(&csar).unwrap()).unwrap();
    let mut z = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    for i in 0..src.len() {
        let mut f = src.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        z.start_file(name.as_str(), opts).unwrap();
        if name == "sensor.bin" {
            let chunk = vec![0u8; 1024 * 1024];
            for _ in 0..1024 {
                z.write_all(&chunk).unwrap();
            }
        } else {
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            z.write_all(&b).unwrap();
        }
    }
    z.finish().unwrap();
    let (code, text) = provisio(
        data.path(),
        &["deploy", &bomb.display().to_string(), "--simulate"],
    );
    assert_ne!(code, 0, "{text}");
    assert!(
        text.contains("entry 'sensor.bin' inflates to more than 536870912 bytes"),
        "{text}"
    );
    assert!(!text.contains("installedDevicesCount=3"), "{text}");
}

#[test]
fn unknown_instance_and_bad_input_are_clear_errors() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let (code, out) = provisio(data.path(), &["undeploy", "nope"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no instance 'nope'"), "{out}");
    let (code, out) = provisio(data.path(), &["deploy", "/nonexistent.tosca", "--simulate"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("/nonexistent.tosca"), "{out}");
}

/// The whole thesis scenario with every kind of simulated device: a NodeMCU fleet, a Raspberry
/// Pi (a real sshd and real LXC on this machine: needs root, openssh-server, lxc, busybox) and a
/// MICA (the emulator over HTTPS with a pinned certificate). Then undeploy.
#[test]
fn thesis_scenario_deploys_and_undeploys_with_every_stand_in() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let lib = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/library")
        .display()
        .to_string();
    let (code, out) = provisio(
        data.path(),
        &[
            "deploy",
            &lib,
            "--service-template",
            "ThesisScenario",
            "--simulate",
        ],
    );
    assert_eq!(code, 0, "{out}");
    for step in ["InfluxDB.start", "NodeRED.start", "SensorPublisher.start"] {
        assert!(out.contains(&format!("✓ {step}")), "{step}: {out}");
    }
    // Devices are named as in the template, not by their stand-ins.
    assert!(
        out.contains("NodeRED              192.168.0.19   running"),
        "{out}"
    );
    assert!(
        out.contains("InfluxDB             https://192.168.0.20 running"),
        "{out}"
    );
    let id = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("instance ")
                .and_then(|r| r.strip_suffix(" is deployed"))
        })
        .unwrap()
        .to_string();
    let pi = common::pi_label("192.168.0.19");
    let lxc = common::lxc_path(data.path(), &id, &pi);
    let running = common::in_simulated_host(&id, &pi, "lxc-info")
        .args(["-P", &lxc.display().to_string(), "-n", "NodeRED", "-sH"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&running.stdout).trim(), "RUNNING");
    let (code, out) = provisio(data.path(), &["undeploy", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(!lxc.join("NodeRED").exists(), "container destroyed");
    // The simulated hosts' network and state went with the last undeploy.
    assert!(provisio_engines::simnet::SimNet::find(&id).is_none());
    assert!(!data.path().join("simulated").join(&id).exists());
}

/// `deploy --simulate --watch` keeps the simulated devices running and prints their readings
/// until Ctrl-C (SIGINT), then exits 0 with the instance still deployed.
#[test]
fn watch_prints_readings_until_ctrl_c_and_leaves_the_instance_deployed() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let mut child = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(["deploy", &fixture(), "--simulate", "--watch"])
        .env("PROVISIO_DATA_DIR", data.path())
        .env("PROVISIO_NO_PROGRESS", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let rx = common::stdout_lines(&mut child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = std::collections::BTreeSet::new();
    let mut all = String::new();
    while seen.len() < 3 && std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(500)) {
            if let Some(rest) = line.strip_prefix("reading ") {
                seen.insert(rest.split_whitespace().next().unwrap_or("").to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
    }
    assert_eq!(seen.len(), 3, "readings of all three devices:\n{all}");
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
        all.push_str(&line);
        all.push('\n');
    }
    assert_eq!(status.code(), Some(0), "{all}");
    assert!(all.contains("stays deployed"), "{all}");
    let (_, list) = provisio(data.path(), &["instances"]);
    assert!(list.contains(" deployed "), "{list}");
}

/// `nohup provisio deploy --simulate --watch &` outlives the terminal: started with SIGHUP
/// ignored, a hangup does not cancel it (Ctrl-C still does).
#[test]
fn a_nohup_deploy_keeps_running_through_a_hangup() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let mut child = Command::new("nohup")
        .arg(env!("CARGO_BIN_EXE_provisio"))
        .args(["deploy", &fixture(), "--simulate", "--watch"])
        .env("PROVISIO_DATA_DIR", data.path())
        .env("PROVISIO_NO_PROGRESS", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let rx = common::stdout_lines(&mut child);
    let wait_for = |what: &str, all: &mut String| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
                all.push_str(&line);
                all.push('\n');
                if line.contains(what) {
                    return true;
                }
            }
        }
        false
    };
    let mut all = String::new();
    assert!(wait_for("reading ", &mut all), "no readings:\n{all}");
    let pid = child.id().to_string();
    let signal = |sig: &str| {
        let st = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(st.success());
    };
    signal("-HUP");
    // Still deploying and publishing after the hangup.
    std::thread::sleep(std::time::Duration::from_millis(500));
    while rx.try_recv().is_ok() {}
    assert!(
        wait_for("reading ", &mut all),
        "readings stopped after SIGHUP:\n{all}"
    );
    assert!(child.try_wait().unwrap().is_none(), "{all}");
    signal("-INT");
    let status = child.wait().unwrap();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
        all.push_str(&line);
        all.push('\n');
    }
    assert_eq!(status.code(), Some(0), "{all}");
    assert!(!all.contains("SIGHUP"), "{all}");
}
