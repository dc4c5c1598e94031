//! The `provisio-fleet` binary as a user runs it: a fleet from `--ids` with a fault, against a
//! real Mosquitto, answering the engine's commands; SIGINT shuts it down cleanly (`offline`).

mod support;

use std::process::{Command as Process, Stdio};

use provisio_firmware::mosquitto::Mosquitto;
use provisio_model::protocol::{Command, STATUS_OFFLINE, STATUS_ONLINE};
use support::{ArtifactServer, Observer, WAIT, image, md5_hex};

/// Kills the child if the test fails half-way.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_binary_runs_devices_with_faults_and_stops_on_sigint() {
    let mq = Mosquitto::start().unwrap_or_else(|e| panic!("this test needs a real Mosquitto: {e}"));
    let app = image(5_000, 7);
    let server = ArtifactServer::start(vec![("app.bin", app.clone())]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut obs = Observer::connect(&mq.addr(), "controlTopic", "responseTopic").await;
    let child = Process::new(env!("CARGO_BIN_EXE_provisio-fleet"))
        .args(["--ids", "1345963,1361877", "--broker"])
        .arg(format!("mqtt://127.0.0.1:{}", mq.port()))
        .args([
            "--control-topic",
            "controlTopic",
            "--response-topic",
            "responseTopic",
            "--state-dir",
        ])
        .arg(dir.path())
        .args(["--fault", "refuse-start@1361877", "--seed", "3"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = Child(child);
    for id in ["1345963", "1361877"] {
        assert!(
            obs.wait_status(id, STATUS_ONLINE, WAIT).await,
            "{id} not online"
        );
    }
    obs.send(&Command::Install {
        install_url: server.url("app.bin"),
        binary_size: 5_000,
        hash: md5_hex(&app),
    })
    .await;
    let got = obs.responses(&["1345963", "1361877"], WAIT).await;
    assert!(
        got.values().all(|r| r == "success") && got.len() == 2,
        "{got:?}"
    );
    obs.send(&Command::Start).await;
    let got = obs.responses(&["1345963", "1361877"], WAIT).await;
    assert_eq!(got["1345963"], "success");
    assert_eq!(got["1361877"], "error: app refused to start");

    let status = Process::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for id in ["1345963", "1361877"] {
        assert!(
            obs.wait_status(id, STATUS_OFFLINE, WAIT).await,
            "{id} not offline after SIGINT"
        );
    }
    // The newest of the device's two state copies.
    let state = provisio_firmware::agent::state::load(&dir.path().join("1345963")).unwrap();
    assert!(state.running, "{state:?}");
}
