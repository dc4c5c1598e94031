//! Engine + real device agents + a real Mosquitto that restarts in the middle of an install:
//! the devices reconnect and finish, the engine listens again, and every device's outcome is
//! reported (no silent success, no hang).

use provisio_engines::artifact_server::{ArtifactServer, new_token};
use provisio_engines::drivers::nodemcu::{NodeMcuConfig, run_operation};
use provisio_engines::engine::driver::DriverContext;
use provisio_engines::events::EventSink;
use provisio_firmware::mosquitto::Mosquitto;
use provisio_firmware::{Fleet, FleetConfig};
use provisio_model::QName;
use provisio_model::plan::{InputSource, ResolvedInput, Step};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn step(op: &str, broker: &str, ids: &[&str]) -> Step {
    let input = |n: &str, v: String| ResolvedInput {
        name: n.into(),
        value: v,
        source: InputSource::Own,
        secret: false,
    };
    Step {
        id: format!("App.{op}"),
        node: "App".into(),
        node_type: QName::new("http://provisio.dev/tosca/nodetypes", "NodeMCU_App"),
        interface: "http://opentosca.org/interfaces/lifecycle".into(),
        operation: op.into(),
        inputs: vec![
            input("hardwareIds", serde_json::to_string(ids).unwrap()),
            input("pubSubServer", broker.to_string()),
            input("controlTopic", "control".into()),
            input("responseTopic", "response".into()),
        ],
        outputs: vec![],
        artifacts: vec![],
        deps: vec![],
        stage: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_survives_a_broker_restart() {
    let mut broker = Mosquitto::start().expect("mosquitto (apt-get install mosquitto)");
    let dir = tempfile::tempdir().unwrap();
    let ids = ["1345963", "1361877", "8797990"];
    let mut cfg = FleetConfig::new(
        ids.iter().map(|s| s.to_string()).collect(),
        broker.addr(),
        "control",
        "response",
        dir.path(),
    );
    // A slow link so the download is still running when the broker goes away.
    cfg.faults = vec!["slow=16384".parse().unwrap()];
    let fleet = Fleet::spawn(cfg).unwrap();
    assert!(fleet.wait_online(3, Duration::from_secs(20)).await);
    let server = ArtifactServer::start("127.0.0.1:0".parse().unwrap(), None, 16)
        .await
        .unwrap();
    let mut image = vec![0xE9u8];
    image.extend((1..48 * 1024).map(|i| (i % 251) as u8));
    let served = server.register(&new_token(), "fw", "fw.bin", Arc::new(image));
    let (events, _rx) = EventSink::new();
    let ctx = DriverContext {
        events,
        cancel: CancellationToken::new(),
        artifacts: vec![served],
    };
    let config = NodeMcuConfig {
        install_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let url = broker.url();
    let op =
        tokio::spawn(
            async move { run_operation(&config, &step("install", &url, &ids), &ctx).await },
        );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    broker.restart().unwrap();
    let result = tokio::time::timeout(Duration::from_secs(90), op)
        .await
        .expect("the operation ends")
        .unwrap();
    let out = result.unwrap_or_else(|e| panic!("per-device outcome after the restart: {e}"));
    assert_eq!(out["installedDevicesCount"], "3");
    fleet.shutdown().await;
}
