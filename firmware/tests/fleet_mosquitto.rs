//! The simulated fleet against a real Mosquitto (started by each test on a free loopback port)
//! and a real hyper artifact server: the whole lifecycle, every injected fault with its
//! documented outcome, the old app surviving a corrupt download, and state surviving restarts.

mod support;

use std::time::Duration;

use provisio_firmware::fleet::{Fleet, FleetConfig, FleetHandle};
use provisio_firmware::mosquitto::Mosquitto;
use provisio_firmware::{DeviceFaults, FaultSpec};
use provisio_model::protocol::{Command, STATUS_OFFLINE, STATUS_ONLINE};
use support::{ArtifactServer, Observer, WAIT, image, md5_hex};

const THESIS_IDS: [&str; 3] = ["1345963", "1361877", "8797990"];

fn broker() -> Mosquitto {
    Mosquitto::start().unwrap_or_else(|e| panic!("these tests need a real Mosquitto: {e}"))
}

fn config(broker: &Mosquitto, ids: &[&str], dir: &std::path::Path) -> FleetConfig {
    let mut cfg = FleetConfig::new(
        ids.iter().map(|s| s.to_string()).collect(),
        broker.addr(),
        "controlTopic",
        "responseTopic",
        dir,
    );
    cfg.reboot_delay = Duration::from_millis(50);
    cfg.agent.retry_delay = Duration::from_millis(50);
    // Every progress step is reported, however fast the download.
    cfg.agent.progress_interval = Duration::ZERO;
    cfg
}

async fn start(cfg: FleetConfig, obs: &mut Observer) -> FleetHandle {
    let ids = cfg.ids.clone();
    let fleet = Fleet::spawn(cfg).unwrap();
    for id in &ids {
        if !fleet.faults(id).offline {
            assert!(
                obs.wait_status(id, STATUS_ONLINE, WAIT).await,
                "{id} never came online"
            );
        }
    }
    fleet
}

fn install(server: &ArtifactServer, file: &str, body: &[u8]) -> Command {
    Command::Install {
        install_url: server.url(file),
        binary_size: body.len() as u64,
        hash: md5_hex(body),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thesis_lifecycle_over_real_mosquitto() {
    let mq = broker();
    let app = image(50_000, 1);
    let server = ArtifactServer::start(vec![("app.bin", app.clone())]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut obs = Observer::connect(&mq.addr(), "controlTopic", "responseTopic").await;
    let fleet = start(config(&mq, &THESIS_IDS, dir.path()), &mut obs).await;

    let steps = [
        install(&server, "app.bin", &app),
        Command::Configure {
            app_config: r#"{ "interval" : 3000 }"#.into(),
        },
        Command::Start,
        Command::Stop,
    ];
    for cmd in &steps {
        obs.send(cmd).await;
        let got = obs.responses(&THESIS_IDS, WAIT).await;
        for id in THESIS_IDS {
            assert_eq!(
                got.get(id).map(String::as_str),
                Some("success"),
                "{} on {id}: {got:?}",
                cmd.operation()
            );
        }
    }
    for id in THESIS_IDS {
        let st = fleet.device_state(id).unwrap();
        assert_eq!(st.installed().unwrap().md5, md5_hex(&app));
        assert_eq!(st.app_config.as_deref(), Some(r#"{ "interval" : 3000 }"#));
        assert!(!st.running);
        // The image really is in the active slot.
        let written = std::fs::read(fleet.device_dir(id).join(st.active_slot.file_name())).unwrap();
        assert_eq!(written, app);
        // Progress went up to the full size.
        let p = &obs.progress[id];
        assert_eq!(p.last(), Some(&(50_000, 50_000)), "{p:?}");
        assert!(p.windows(2).all(|w| w[0].0 < w[1].0));
    }
    obs.send(&Command::Uninstall).await;
    let got = obs.responses(&THESIS_IDS, WAIT).await;
    assert!(THESIS_IDS.iter().all(|id| got[*id] == "success"), "{got:?}");
    // A second uninstall has nothing to remove: reported as a failure, not as done.
    obs.send(&Command::Uninstall).await;
    let got = obs.responses(&THESIS_IDS, WAIT).await;
    assert!(
        THESIS_IDS
            .iter()
            .all(|id| got[*id] == "error: no app installed"),
        "{got:?}"
    );
    // Malformed JSON is ignored: the next real command is still answered normally.
    obs.send_raw(b"{not json".to_vec()).await;
    obs.send(&Command::Start).await;
    let got = obs.responses(&THESIS_IDS, WAIT).await;
    assert!(
        THESIS_IDS
            .iter()
            .all(|id| got[*id] == "error: no app installed"),
        "{got:?}"
    );

    assert!(fleet.shutdown().await.is_empty());
    for id in THESIS_IDS {
        assert!(
            obs.wait_status(id, STATUS_OFFLINE, WAIT).await,
            "{id} not offline after shutdown"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_gives_its_documented_outcome() {
    let mq = broker();
    let app = image(20_000, 2);
    let server = ArtifactServer::start(vec![("app.bin", app.clone())]).await;
    let dir = tempfile::tempdir().unwrap();
    let ids = [
        "ok", "slow", "drop", "corrupt", "crash", "refuse", "offline",
    ];
    let mut cfg = config(&mq, &ids, dir.path());
    cfg.agent.progress_interval = Duration::from_millis(100);
    for f in [
        "slow=20000@slow",
        "drop@drop",
        "corrupt@corrupt",
        "crash-flash@crash",
        "refuse-start@refuse",
        "offline@offline",
    ] {
        cfg.faults.push(f.parse::<FaultSpec>().unwrap());
    }
    let mut obs = Observer::connect(&mq.addr(), "controlTopic", "responseTopic").await;
    let fleet = start(cfg, &mut obs).await;
    assert_eq!(fleet.online(), 6);

    obs.send(&install(&server, "app.bin", &app)).await;
    let online = ["ok", "slow", "drop", "corrupt", "crash", "refuse"];
    let got = obs.responses(&online, WAIT).await;
    assert_eq!(got.get("ok").map(String::as_str), Some("success"));
    assert_eq!(got.get("slow").map(String::as_str), Some("success"));
    assert_eq!(
        got.get("drop").map(String::as_str),
        Some("success"),
        "a dropped download resumes"
    );
    assert_eq!(
        got.get("corrupt").map(String::as_str),
        Some("error: md5 mismatch")
    );
    assert_eq!(
        got.get("crash").map(String::as_str),
        Some("error: flash interrupted")
    );
    assert_eq!(got.get("refuse").map(String::as_str), Some("success"));
    assert!(!got.contains_key("offline"));
    // Progress at most every 100 ms: the slow link (1 s) reports several steps, the fast
    // download none.
    assert!(
        obs.progress["slow"].len() >= 5,
        "{:?}",
        obs.progress["slow"]
    );
    assert!(
        !obs.progress.contains_key("ok"),
        "{:?}",
        obs.progress.get("ok")
    );
    // The drop was resumed with a Range request from the middle of the image.
    assert!(
        server.ranges().contains(&"bytes=10000-".to_string()),
        "{:?}",
        server.ranges()
    );
    assert_eq!(
        fleet.device_state("drop").unwrap().installed().unwrap().md5,
        md5_hex(&app)
    );
    for id in ["corrupt", "crash"] {
        let st = fleet.device_state(id).unwrap();
        assert!(
            st.installed().is_none() && st.flashing.is_none(),
            "{id}: {st:?}"
        );
    }

    obs.send(&Command::Start).await;
    let got = obs.responses(&online, WAIT).await;
    assert_eq!(
        got["refuse"],
        "app refused to start".replace("app", "error: app")
    );
    assert_eq!(got["ok"], "success");
    assert_eq!(got["corrupt"], "error: no app installed");
    assert!(!fleet.device_state("refuse").unwrap().running);

    assert!(!got.contains_key("offline"));
    assert_ne!(
        obs.status.get("offline").map(String::as_str),
        Some(STATUS_ONLINE)
    );

    // A device that drops off (last will: offline) keeps its session (clean_session = false):
    // a command sent meanwhile is delivered when it is back.
    fleet.set_faults(
        "ok",
        DeviceFaults {
            offline: true,
            ..Default::default()
        },
    );
    assert!(
        obs.wait_status("ok", STATUS_OFFLINE, WAIT).await,
        "last will not published"
    );
    obs.send(&Command::Stop).await;
    assert!(
        !obs.drain(Duration::from_millis(300))
            .await
            .contains_key("ok")
    );
    fleet.set_faults("ok", DeviceFaults::default());
    assert!(obs.wait_status("ok", STATUS_ONLINE, WAIT).await);
    let got = obs.responses(&["ok"], WAIT).await;
    assert_eq!(
        got.get("ok").map(String::as_str),
        Some("success"),
        "{got:?}"
    );
    assert!(!fleet.device_state("ok").unwrap().running);
    // The never-connected device comes online when its fault is cleared.
    fleet.set_faults("offline", DeviceFaults::default());
    assert!(obs.wait_status("offline", STATUS_ONLINE, WAIT).await);
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_download_keeps_old_app_running_after_reboot() {
    let mq = broker();
    let v1 = image(8_000, 3);
    let v2 = image(9_000, 4);
    let server = ArtifactServer::start(vec![("v1.bin", v1.clone()), ("v2.bin", v2.clone())]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut obs = Observer::connect(&mq.addr(), "controlTopic", "responseTopic").await;
    let fleet = start(config(&mq, &["dev1"], dir.path()), &mut obs).await;
    for cmd in [install(&server, "v1.bin", &v1), Command::Start] {
        obs.send(&cmd).await;
        assert_eq!(obs.responses(&["dev1"], WAIT).await["dev1"], "success");
    }
    fleet.set_faults(
        "dev1",
        DeviceFaults {
            corrupt_download: true,
            ..Default::default()
        },
    );
    obs.send(&install(&server, "v2.bin", &v2)).await;
    assert_eq!(
        obs.responses(&["dev1"], WAIT).await["dev1"],
        "error: md5 mismatch"
    );
    fleet.shutdown().await;

    // Power cycle: a new fleet on the same state directory.
    let fleet = start(config(&mq, &["dev1"], dir.path()), &mut obs).await;
    let st = fleet.device_state("dev1").unwrap();
    assert_eq!(st.installed().unwrap().md5, md5_hex(&v1));
    assert!(st.running, "the old app runs again after the reboot");
    let active = std::fs::read(fleet.device_dir("dev1").join(st.active_slot.file_name())).unwrap();
    assert_eq!(active, v1);
    // Without the fault the new version installs and the device boots from the other slot.
    obs.send(&install(&server, "v2.bin", &v2)).await;
    assert_eq!(obs.responses(&["dev1"], WAIT).await["dev1"], "success");
    let st2 = fleet.device_state("dev1").unwrap();
    assert_eq!(st2.installed().unwrap().md5, md5_hex(&v2));
    assert_ne!(st2.active_slot, st.active_slot);
    fleet.shutdown().await;
}

/// The install's answer comes before the reboot (thesis order), so the engine may send the next
/// command while the device is on its way down: the device reads it then and runs it after the
/// boot, answering once; nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_sent_right_after_the_install_answer_runs_after_the_reboot() {
    let mq = broker();
    let app = image(8_000, 5);
    let server = ArtifactServer::start(vec![("app.bin", app.clone())]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut obs = Observer::connect(&mq.addr(), "controlTopic", "responseTopic").await;
    let fleet = start(config(&mq, &["dev1"], dir.path()), &mut obs).await;
    fleet.set_faults(
        "dev1",
        DeviceFaults {
            slow_reboot: true,
            ..Default::default()
        },
    );
    obs.send(&install(&server, "app.bin", &app)).await;
    assert_eq!(obs.responses(&["dev1"], WAIT).await["dev1"], "success");
    // Saved before it answered: the answer names what a power loss cannot take back.
    let st = fleet.device_state("dev1").unwrap();
    assert_eq!(st.installed().unwrap().md5, md5_hex(&app));
    // The device still lingers before its reboot when this arrives.
    obs.send(&Command::Configure {
        app_config: r#"{"interval":500}"#.into(),
    })
    .await;
    assert_eq!(obs.responses(&["dev1"], WAIT).await["dev1"], "success");
    assert_eq!(
        fleet.device_state("dev1").unwrap().app_config.as_deref(),
        Some(r#"{"interval":500}"#)
    );
    // Answered once: nothing more comes.
    assert!(obs.drain(Duration::from_millis(500)).await.is_empty());
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_fleet_restart() {
    let mq = broker();
    let app = image(4_000, 5);
    let server = ArtifactServer::start(vec![("app.bin", app.clone())]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut obs = Observer::connect(&mq.addr(), "controlTopic", "responseTopic").await;
    let fleet = start(config(&mq, &["a", "b"], dir.path()), &mut obs).await;
    for cmd in [
        install(&server, "app.bin", &app),
        Command::Configure {
            app_config: "{\"interval\":1000}".into(),
        },
    ] {
        obs.send(&cmd).await;
        let got = obs.responses(&["a", "b"], WAIT).await;
        assert!(
            got.len() == 2 && got.values().all(|r| r == "success"),
            "{got:?}"
        );
    }
    obs.send(&Command::Start).await;
    assert_eq!(
        obs.responses(&["a", "b"], WAIT)
            .await
            .get("b")
            .map(String::as_str),
        Some("success")
    );
    fleet.shutdown().await;

    let before = provisio_firmware::agent::state::load(&dir.path().join("b")).unwrap();
    assert!(before.running);
    let fleet = start(config(&mq, &["a", "b"], dir.path()), &mut obs).await;
    let after = fleet.device_state("b").unwrap();
    assert_eq!(after, before);
    obs.send(&Command::Stop).await;
    let got = obs.responses(&["a", "b"], WAIT).await;
    assert_eq!(got["b"], "success");
    assert!(!fleet.device_state("b").unwrap().running);
    fleet.shutdown().await;
}

/// How often Mosquitto logged a SUBSCRIBE from `id`.
fn subscribes(mq: &Mosquitto, id: &str) -> usize {
    mq.log()
        .lines()
        .filter(|l| l.ends_with(&format!(": {id} 1 controlTopic")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reboot_keeps_the_session_and_a_lost_session_subscribes_again() {
    let mut mq = Mosquitto::start_with("allow_anonymous true\nlog_type subscribe\n").unwrap();
    let app = image(20_000, 3);
    let server = ArtifactServer::start(vec![("app.bin", app.clone())]).await;
    let dir = tempfile::tempdir().unwrap();
    let id = "1345963";
    let mut obs = Observer::connect(&mq.addr(), "controlTopic", "responseTopic").await;
    let fleet = start(config(&mq, &[id], dir.path()), &mut obs).await;
    assert_eq!(subscribes(&mq, id), 1, "{}", mq.log());

    // The install reboots the device: it reconnects to the session the broker kept, which
    // still holds its subscription, and the next command reaches it without a new SUBSCRIBE.
    let configure = Command::Configure {
        app_config: r#"{"interval":1000}"#.into(),
    };
    for cmd in [install(&server, "app.bin", &app), configure.clone()] {
        obs.send(&cmd).await;
        let got = obs.responses(&[id], WAIT).await;
        assert_eq!(got.get(id).map(String::as_str), Some("success"), "{got:?}");
    }
    assert_eq!(subscribes(&mq, id), 1, "{}", mq.log());

    // The broker loses every session (no persistence): the device subscribes anew and stays
    // reachable.
    mq.restart().unwrap();
    drop(obs);
    let mut obs = Observer::connect(&mq.addr(), "controlTopic", "responseTopic").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while subscribes(&mq, id) < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(subscribes(&mq, id), 2, "{}", mq.log());
    obs.send(&Command::Start).await;
    let got = obs.responses(&[id], WAIT).await;
    assert_eq!(got.get(id).map(String::as_str), Some("success"), "{got:?}");
    assert!(fleet.shutdown().await.is_empty());
}

/// Mosquitto 2.0 grants every MQTT 3.1.1 SUBSCRIBE (its ACL applies at delivery), so no real
/// broker here refuses one: a loopback peer speaks just enough MQTT to answer CONNECT with a
/// CONNACK and the SUBSCRIBE with a SUBACK whose return code is 0x80 (failure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_subscription_does_not_count_the_device_online() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (suback_tx, suback_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        let mut suback_tx = Some(suback_tx);
        loop {
            let n = s.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            got.extend_from_slice(&buf[..n]);
            // Whole packets only: type byte, one-byte remaining length (these are short).
            while got.len() >= 2 && got.len() >= 2 + got[1] as usize {
                let packet: Vec<u8> = got.drain(..2 + got[1] as usize).collect();
                match packet[0] >> 4 {
                    1 => s.write_all(&[0x20, 2, 0, 0]).await.unwrap(),
                    8 => {
                        s.write_all(&[0x90, 3, packet[2], packet[3], 0x80])
                            .await
                            .unwrap();
                        if let Some(tx) = suback_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    3 if packet[0] & 0x06 != 0 => {
                        // A QoS 1 PUBLISH (the status): PUBACK its packet id.
                        let topic_len = u16::from_be_bytes([packet[2], packet[3]]) as usize;
                        let id = &packet[4 + topic_len..6 + topic_len];
                        s.write_all(&[0x40, 2, id[0], id[1]]).await.unwrap();
                    }
                    _ => {}
                }
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let id = "1345963";
    let mut cfg = FleetConfig::new(
        vec![id.to_string()],
        provisio_firmware::BrokerAddr {
            host: "127.0.0.1".into(),
            port,
        },
        "controlTopic",
        "responseTopic",
        dir.path(),
    );
    cfg.reboot_delay = Duration::from_millis(50);
    let fleet = Fleet::spawn(cfg).unwrap();
    tokio::time::timeout(WAIT, suback_rx)
        .await
        .expect("no SUBSCRIBE reached the peer")
        .unwrap();
    // The device has read the refusal by now; it will never get a command, so a deploy must
    // not count it online.
    assert!(
        !fleet.wait_online(1, Duration::from_secs(1)).await,
        "counted online although its subscription was refused"
    );
    assert!(fleet.shutdown().await.is_empty());
}
