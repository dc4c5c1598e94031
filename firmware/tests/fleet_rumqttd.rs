//! The simulated fleet against rumqttd, the embedded broker the engine uses for simulated
//! deploys (started here in-process on a free loopback port): lifecycle, retained status, and
//! a command queued for a device that dropped off (persistent session).

mod support;

use std::time::Duration;

use provisio_firmware::fleet::{Fleet, FleetConfig};
use provisio_firmware::{BrokerAddr, DeviceFaults};
use provisio_model::protocol::{Command, STATUS_OFFLINE, STATUS_ONLINE};
use support::{ArtifactServer, Observer, WAIT, image, md5_hex};

/// Start rumqttd on a free port in a background thread (it runs until the test process ends).
fn start_rumqttd() -> BrokerAddr {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config: rumqttd::Config = serde_json::from_value(serde_json::json!({
        "id": 0,
        "router": {
            "max_connections": 1000,
            "max_outgoing_packet_count": 200,
            "max_segment_size": 104857600,
            "max_segment_count": 10
        },
        "v4": { "1": {
            "name": "v4-1",
            "listen": format!("127.0.0.1:{port}"),
            "next_connection_delay_ms": 1,
            "connections": {
                "connection_timeout_ms": 60000,
                "max_payload_size": 1048576,
                "max_inflight_count": 100,
                "dynamic_filters": true
            }
        }}
    }))
    .unwrap();
    std::thread::spawn(move || {
        let mut broker = rumqttd::Broker::new(config);
        if let Err(e) = broker.start() {
            eprintln!("rumqttd: {e}");
        }
    });
    let deadline = std::time::Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "rumqttd did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    BrokerAddr {
        host: "127.0.0.1".into(),
        port,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_and_queued_commands_over_rumqttd() {
    let broker = start_rumqttd();
    let app = image(12_000, 8);
    let server = ArtifactServer::start(vec![("app.bin", app.clone())]).await;
    let dir = tempfile::tempdir().unwrap();
    let ids = ["1345963", "1361877", "8797990"];
    let mut obs = Observer::connect(&broker, "controlTopic", "responseTopic").await;
    let mut cfg = FleetConfig::new(
        ids.iter().map(|s| s.to_string()).collect(),
        broker.clone(),
        "controlTopic",
        "responseTopic",
        dir.path(),
    );
    cfg.reboot_delay = Duration::from_millis(50);
    let fleet = Fleet::spawn(cfg).unwrap();
    for id in ids {
        assert!(
            obs.wait_status(id, STATUS_ONLINE, WAIT).await,
            "{id} not online"
        );
    }
    for cmd in [
        Command::Install {
            install_url: server.url("app.bin"),
            binary_size: 12_000,
            hash: md5_hex(&app),
        },
        Command::Configure {
            app_config: r#"{ "interval" : 3000 }"#.into(),
        },
        Command::Start,
    ] {
        obs.send(&cmd).await;
        let got = obs.responses(&ids, WAIT).await;
        assert!(
            got.len() == 3 && got.values().all(|r| r == "success"),
            "{}: {got:?}",
            cmd.operation()
        );
    }
    // A device drops off; the stop sent meanwhile reaches it when it is back.
    fleet.set_faults(
        "8797990",
        DeviceFaults {
            offline: true,
            ..Default::default()
        },
    );
    // The last will shows the broker has seen the connection drop.
    assert!(
        obs.wait_status("8797990", STATUS_OFFLINE, WAIT).await,
        "no last will"
    );
    obs.send(&Command::Stop).await;
    let got = obs.responses(&["1345963", "1361877"], WAIT).await;
    assert!(got.values().all(|r| r == "success"), "{got:?}");
    fleet.set_faults("8797990", DeviceFaults::default());
    let got = obs.responses(&["8797990"], WAIT).await;
    assert_eq!(
        got.get("8797990").map(String::as_str),
        Some("success"),
        "queued stop not delivered"
    );
    assert!(
        ids.iter()
            .all(|id| !fleet.device_state(id).unwrap().running)
    );
    fleet.shutdown().await;
}
