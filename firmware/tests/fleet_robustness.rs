//! The fleet under harder conditions, against a real Mosquitto: seeded fractional faults over
//! hundreds of devices, failing downloads, a server without Range support, a broker restart.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use provisio_firmware::FaultSpec;
use provisio_firmware::fleet::{self, Fleet, FleetConfig};
use provisio_firmware::mosquitto::Mosquitto;
use provisio_model::protocol::{Command, STATUS_ONLINE};
use support::{ArtifactServer, Observer, WAIT, image, md5_hex};

fn broker() -> Mosquitto {
    Mosquitto::start().unwrap_or_else(|e| panic!("these tests need a real Mosquitto: {e}"))
}

fn config(mq: &Mosquitto, ids: Vec<String>, dir: &std::path::Path) -> FleetConfig {
    let mut cfg = FleetConfig::new(ids, mq.addr(), "ctl", "rsp", dir);
    cfg.reboot_delay = Duration::from_millis(50);
    cfg.agent.retry_delay = Duration::from_millis(50);
    cfg
}

/// Run a 200-device fleet with `refuse-start:0.25` and `seed`; returns who refused.
async fn refusers(mq: &Mosquitto, obs: &mut Observer, seed: u64) -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let ids = fleet::generated_ids(200);
    fleet::seed_installed_app(dir.path(), &ids, "00112233445566778899aabbccddeeff", 1000).unwrap();
    let mut cfg = config(mq, ids.clone(), dir.path());
    cfg.faults
        .push("refuse-start:0.25".parse::<FaultSpec>().unwrap());
    cfg.seed = seed;
    let fleet = Fleet::spawn(cfg).unwrap();
    assert!(
        fleet.wait_online(200, WAIT).await,
        "only {} online",
        fleet.online()
    );
    obs.send(&Command::Start).await;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let got = obs.responses(&refs, WAIT).await;
    assert_eq!(got.len(), 200, "every device answers");
    fleet.shutdown().await;
    let refused: BTreeSet<String> = got
        .iter()
        .filter(|(_, r)| *r == "error: app refused to start")
        .map(|(id, _)| id.clone())
        .collect();
    assert!(
        got.values()
            .all(|r| r == "success" || r == "error: app refused to start"),
        "{got:?}"
    );
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fractional_faults_hit_the_same_devices_for_the_same_seed() {
    let mq = broker();
    let mut obs = Observer::connect(&mq.addr(), "ctl", "rsp").await;
    let a = refusers(&mq, &mut obs, 42).await;
    let b = refusers(&mq, &mut obs, 42).await;
    let c = refusers(&mq, &mut obs, 43).await;
    assert_eq!(a.len(), 50);
    assert_eq!(a, b, "same seed, same devices");
    assert_ne!(a, c, "another seed, other devices");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_downloads_are_reported_with_their_cause_and_keep_the_old_app() {
    let mq = broker();
    let app = image(3_000, 9);
    let server = ArtifactServer::start(vec![("app.bin", app.clone())]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut obs = Observer::connect(&mq.addr(), "ctl", "rsp").await;
    let fleet = Fleet::spawn(config(&mq, vec!["d1".into()], dir.path())).unwrap();
    assert!(obs.wait_status("d1", STATUS_ONLINE, WAIT).await);
    let good = Command::Install {
        install_url: server.url("app.bin"),
        binary_size: 3_000,
        hash: md5_hex(&app),
    };
    obs.send(&good).await;
    assert_eq!(obs.responses(&["d1"], WAIT).await["d1"], "success");

    let missing = Command::Install {
        install_url: server.url("nope.bin"),
        binary_size: 3_000,
        hash: md5_hex(&app),
    };
    obs.send(&missing).await;
    assert_eq!(
        obs.responses(&["d1"], WAIT).await["d1"],
        "error: download failed: http 404"
    );

    // Nothing listens on this port: the agent retries, then gives up naming the cause.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = Command::Install {
        install_url: format!("http://127.0.0.1:{port}/x.bin"),
        binary_size: 3_000,
        hash: md5_hex(&app),
    };
    obs.send(&unreachable).await;
    let r = obs.responses(&["d1"], WAIT).await.remove("d1").unwrap();
    assert!(r.starts_with("error: download failed: connect"), "{r}");

    let wrong_size = Command::Install {
        install_url: server.url("app.bin"),
        binary_size: 2_999,
        hash: md5_hex(&app),
    };
    obs.send(&wrong_size).await;
    assert_eq!(
        obs.responses(&["d1"], WAIT).await["d1"],
        "error: size mismatch"
    );
    assert_eq!(
        fleet.device_state("d1").unwrap().installed().unwrap().md5,
        md5_hex(&app)
    );
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_download_resumes_even_when_the_server_ignores_range() {
    let mq = broker();
    let app = image(30_000, 6);
    let server = ArtifactServer::start_with(vec![("app.bin", app.clone())], false).await;
    let dir = tempfile::tempdir().unwrap();
    let mut obs = Observer::connect(&mq.addr(), "ctl", "rsp").await;
    let mut cfg = config(&mq, vec!["d1".into()], dir.path());
    cfg.faults.push("drop".parse().unwrap());
    let fleet = Fleet::spawn(cfg).unwrap();
    assert!(obs.wait_status("d1", STATUS_ONLINE, WAIT).await);
    obs.send(&Command::Install {
        install_url: server.url("app.bin"),
        binary_size: 30_000,
        hash: md5_hex(&app),
    })
    .await;
    assert_eq!(obs.responses(&["d1"], WAIT).await["d1"], "success");
    assert_eq!(
        server.ranges(),
        vec!["bytes=15000-".to_string()],
        "the agent asked to resume"
    );
    let st = fleet.device_state("d1").unwrap();
    assert_eq!(
        std::fs::read(fleet.device_dir("d1").join(st.active_slot.file_name())).unwrap(),
        app
    );
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_reconnect_and_resubscribe_after_a_broker_restart() {
    let mut mq = broker();
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..20).map(|i| format!("r{i}")).collect();
    fleet::seed_installed_app(dir.path(), &ids, "00112233445566778899aabbccddeeff", 1000).unwrap();
    let fleet = Fleet::spawn(config(&mq, ids.clone(), dir.path())).unwrap();
    assert!(fleet.wait_online(20, WAIT).await);
    mq.restart().unwrap();
    // The broker lost every session (no persistence): the devices must subscribe again.
    let mut obs = Observer::connect(&mq.addr(), "ctl", "rsp").await;
    for id in &ids {
        assert!(
            obs.wait_status(id, STATUS_ONLINE, WAIT).await,
            "{id} did not come back"
        );
    }
    // Each device subscribes before it publishes `online` on the same connection, so the
    // status proves the subscription is in place.
    obs.send(&Command::Start).await;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let got = obs.responses(&refs, WAIT).await;
    assert_eq!(got.len(), 20, "{got:?}");
    assert!(got.values().all(|r| r == "success"));
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_state_file_stops_only_that_device_and_names_the_file() {
    let mq = broker();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bad")).unwrap();
    std::fs::write(dir.path().join("bad/state.json"), b"{\"activeSlot\": 7").unwrap();
    let fleet = Fleet::spawn(config(&mq, vec!["good".into(), "bad".into()], dir.path())).unwrap();
    assert!(fleet.wait_online(1, WAIT).await);
    let errors = fleet.shutdown().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    let text = errors[0].to_string();
    assert!(
        text.contains("bad") && text.contains("state.json"),
        "{text}"
    );
    // The file is left as it was for a human to look at.
    assert_eq!(
        std::fs::read(dir.path().join("bad/state.json")).unwrap(),
        b"{\"activeSlot\": 7"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_topics_and_path_like_ids_are_refused() {
    let mq = broker();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&mq, vec!["a".into()], dir.path());
    cfg.response_topic = "rsp/#".into();
    assert!(Fleet::spawn(cfg).unwrap_err().to_string().contains("rsp/#"));
    let cfg = config(&mq, vec!["../escape".into()], dir.path());
    assert!(
        Fleet::spawn(cfg)
            .unwrap_err()
            .to_string()
            .contains("../escape")
    );
}
