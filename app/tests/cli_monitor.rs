//! `provisio monitor tap|influx|homematic` as a user runs them: the real binary against a real
//! Mosquitto, a TCP record receiver, a real InfluxDB 1.x and the Python CCU emulator, all on
//! loopback; each command is stopped with SIGINT and must exit cleanly with its last status.

#[path = "../../engines/tests/common/ccu.rs"]
mod ccu;
mod common;
#[path = "../../engines/tests/common/influxd.rs"]
mod influxd;

use provisio_firmware::mosquitto::Mosquitto;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, wait_port};

/// A real Mosquitto on a free loopback port (killed on drop).
fn mosquitto() -> Mosquitto {
    Mosquitto::start().expect("mosquitto")
}

/// A Mosquitto that refuses anonymous clients and lets only `user` in (its password file in
/// the directory returned with it).
fn mosquitto_with_login(user: &str, password: &str) -> (Mosquitto, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwd");
    let st = Command::new("mosquitto_passwd")
        .arg("-c")
        .arg("-b")
        .arg(&pw)
        .args([user, password])
        .status()
        .expect("mosquitto_passwd");
    assert!(st.success());
    let m = Mosquitto::start_with(&format!(
        "allow_anonymous false\npassword_file {}\n",
        pw.display()
    ))
    .expect("mosquitto");
    (m, dir)
}

/// A running `provisio monitor …` with its stdout lines collected.
struct Provisio {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
}

impl Provisio {
    fn start(args: &[&str], env: &[(&str, String)]) -> Provisio {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_provisio"));
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env("PROVISIO_NO_PROGRESS", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let (o, stdout) = (out.clone(), child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                o.lock().unwrap().push(line);
            }
        });
        Provisio { child, out }
    }

    fn lines(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    /// SIGINT, then the exit code and the last stdout line.
    fn interrupt(self) -> (Option<i32>, String) {
        self.signal("INT")
    }

    /// Sends `sig` (INT, TERM), then the exit code and the last stdout line.
    fn signal(mut self, sig: &str) -> (Option<i32>, String) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        let code = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s.code();
            }
            assert!(Instant::now() < deadline, "did not stop after SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(100));
        let last = self.lines().last().cloned().unwrap_or_default();
        (code, last)
    }
}

impl Drop for Provisio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn number_after(line: &str, label: &str) -> u64 {
    let rest = &line[line
        .find(label)
        .unwrap_or_else(|| panic!("{label}: {line}"))
        + label.len()..];
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn mqtt(port: u16, id: &str) -> (AsyncClient, rumqttc::EventLoop) {
    mqtt_login(port, id, None).await
}

async fn mqtt_login(
    port: u16,
    id: &str,
    login: Option<(&str, &str)>,
) -> (AsyncClient, rumqttc::EventLoop) {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    if let Some((u, p)) = login {
        o.set_credentials(u, p);
    }
    o.set_keep_alive(Duration::from_secs(30));
    let (c, mut ev) = AsyncClient::new(o, 16);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no CONNACK from {port}");
        match ev.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => return (c, ev),
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_records_reach_the_receiver_and_ctrl_c_stops_cleanly() {
    let m = mosquitto();
    // The Logstash-style receiver: newline-delimited JSON over TCP.
    let receiver = TcpListener::bind("127.0.0.1:0").unwrap();
    let rport = receiver.local_addr().unwrap().port();
    let records = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let r = records.clone();
    std::thread::spawn(move || {
        for s in receiver.incoming().map_while(Result::ok) {
            for line in BufReader::new(s).lines().map_while(Result::ok) {
                r.lock().unwrap().push(serde_json::from_str(&line).unwrap());
            }
        }
    });
    let listen = free_port();
    // The receiver comes from HICAP_HOST / HICAP_PORT, as in Flex4Apps' broker.
    let p = Provisio::start(
        &[
            "monitor",
            "tap",
            "--listen",
            &format!("127.0.0.1:{listen}"),
            "--broker",
            &format!("tcp://127.0.0.1:{}", m.port()),
        ],
        &[
            ("HICAP_HOST", "127.0.0.1".into()),
            ("HICAP_PORT", rport.to_string()),
        ],
    );
    wait_port(listen);
    let (c, mut ev) = mqtt(listen, "sensor-1345963").await;
    c.publish(
        "sensors/1345963",
        QoS::AtLeastOnce,
        false,
        r#"{"temperature":21.5}"#,
    )
    .await
    .unwrap();
    c.disconnect().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while ev.poll().await.is_ok() {}
    })
    .await;
    let actions = || -> Vec<String> {
        records
            .lock()
            .unwrap()
            .iter()
            .map(|r| r["mqtt"]["action"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while actions().len() < 4 {
        assert!(Instant::now() < deadline, "{:?}", actions());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(actions(), ["STARTUP", "CONNECT", "PUBLISH", "DISCONNECT"]);
    let publish = records.lock().unwrap()[2].clone();
    assert_eq!(publish["mqtt"]["clientID"], "sensor-1345963");
    assert_eq!(publish["mqtt"]["topic"], "sensors/1345963");
    assert_eq!(publish["mqtt"]["port"], listen);
    assert!(
        p.lines()[0].contains(&format!("records to 127.0.0.1:{rport}")),
        "{:?}",
        p.lines()
    );
    let (code, last) = p.interrupt();
    assert_eq!(code, Some(0), "{last}");
    assert!(last.starts_with("stopped: records sent"), "{last}");
    assert_eq!(number_after(&last, "records sent"), 5, "{last}");
    assert_eq!(number_after(&last, "dropped"), 0, "{last}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while actions().len() < 5 {
        assert!(Instant::now() < deadline, "{:?}", actions());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(actions()[4], "SHUTDOWN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influx_connector_writes_flat_and_ttn_readings() {
    let m = mosquitto();
    let influx = influxd::Influxd::start();
    let p = Provisio::start(
        &[
            "monitor",
            "influx",
            "--broker",
            &format!("127.0.0.1:{}", m.port()),
            "--topic",
            "sensors/+",
            "--topic",
            "v3/+/devices/+/up",
            "--influx",
            &format!("http://{}", influx.addr()),
            "--database",
            "flex4apps",
            "--measurement",
            "environment",
        ],
        &[],
    );
    // Retained, so they reach the connector whenever it subscribes.
    let (c, mut ev) = mqtt(m.port(), "publisher").await;
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    let ttn = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../engines/tests/fixtures/ttn/v3-uplink-dev1.json"),
    )
    .unwrap();
    c.publish("v3/app1@ttn/devices/dev1/up", QoS::AtLeastOnce, true, ttn)
        .await
        .unwrap();
    c.publish(
        "sensors/1345963",
        QoS::AtLeastOnce,
        true,
        r#"{"temperature":21.5,"humidity":40}"#,
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let rows = loop {
        let rows = influx.rows(
            "flex4apps",
            "SELECT temperature, rssi FROM environment GROUP BY device",
        );
        if rows.len() >= 2 {
            break rows;
        }
        assert!(Instant::now() < deadline, "{rows:?} {:?}", p.lines());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let by = |d: &str| rows.iter().find(|r| r["device"] == d).unwrap().clone();
    assert_eq!(by("1345963")["temperature"], 21.5);
    assert_eq!(by("dev1")["temperature"], 22.3);
    assert_eq!(by("dev1")["rssi"], -61.0);
    let (code, last) = p.interrupt();
    assert_eq!(code, Some(0), "{last}");
    assert!(last.starts_with("stopped: messages 2"), "{last}");
    assert_eq!(number_after(&last, "points written"), 2, "{last}");
    assert_eq!(number_after(&last, "spooled"), 0, "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_logs_in_like_at_the_things_network() {
    // TTN's MQTT server wants the application id as user name and an API key as password.
    let (user, key) = ("app1@ttn", "NNSXS.TESTKEY");
    let (m, _passwd) = mosquitto_with_login(user, key);
    let influx = influxd::Influxd::start();
    let args = |u: &str| -> Vec<String> {
        [
            "monitor",
            "influx",
            "--broker",
            &format!("127.0.0.1:{}", m.port()),
            "--topic",
            "v3/+/devices/+/up",
            "--influx",
            &format!("http://{}", influx.addr()),
            "--database",
            "ttn",
            "--username",
            u,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    // Without MQTT_PASSWORD: a clear error, no connection attempt.
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(args(user))
        .env_remove("MQTT_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MQTT_PASSWORD"));
    let a = args(user);
    let p = Provisio::start(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &[("MQTT_PASSWORD", key.to_string())],
    );
    let (c, mut ev) = mqtt_login(m.port(), "ttn-server", Some((user, key))).await;
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    let uplink = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../engines/tests/fixtures/ttn/v3-uplink-eui.json"),
    )
    .unwrap();
    c.publish(
        "v3/app1@ttn/devices/eui-70b3d57ed0000001/up",
        QoS::AtLeastOnce,
        true,
        uplink,
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let rows = loop {
        let rows = influx.rows("ttn", "SELECT * FROM readings GROUP BY device");
        if !rows.is_empty() {
            break rows;
        }
        assert!(Instant::now() < deadline, "{:?}", p.lines());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(rows[0]["device"], "eui-70b3d57ed0000001");
    assert_eq!(rows[0]["temperature_0"], 23.4);
    let out = p.out.clone();
    let (code, last) = p.interrupt();
    assert_eq!(code, Some(0), "{last}");
    let out = out.lock().unwrap().join("\n");
    assert!(out.contains("points written 1"), "{out}");
    assert!(!out.contains(key), "the password is never printed: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn homematic_poller_publishes_per_device_until_sigterm() {
    let m = mosquitto();
    let ccu = ccu::Ccu::start();
    let (c, mut ev) = mqtt(m.port(), "watcher").await;
    c.subscribe("homematic/#", QoS::AtLeastOnce).await.unwrap();
    let p = Provisio::start(
        &[
            "monitor",
            "homematic",
            "--ccu",
            &ccu.url(),
            "--interval",
            "0.2",
            "--broker",
            &format!("127.0.0.1:{}", m.port()),
        ],
        &[],
    );
    let mut topics = std::collections::BTreeMap::<String, usize>::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while topics.values().filter(|n| **n >= 2).count() < 2 {
        assert!(Instant::now() < deadline, "{topics:?} {:?}", p.lines());
        if let Ok(Ok(Event::Incoming(Packet::Publish(pb)))) =
            tokio::time::timeout(Duration::from_millis(500), ev.poll()).await
        {
            let v: serde_json::Value = serde_json::from_slice(&pb.payload).unwrap();
            if pb.topic == "homematic/MEQ0123456" {
                assert_eq!(v["POWER"], 350.25);
            }
            *topics.entry(pb.topic.clone()).or_default() += 1;
        }
    }
    assert_eq!(
        topics.keys().collect::<Vec<_>>(),
        ["homematic/MEQ0123456", "homematic/NEQ0765432"]
    );
    // SIGTERM, as when its container is stopped, ends it as cleanly as Ctrl-C.
    let (code, last) = p.signal("TERM");
    assert_eq!(code, Some(0), "{last}");
    assert!(number_after(&last, "readings published") >= 4, "{last}");
    assert_eq!(number_after(&last, "failed polls"), 0, "{last}");
}

/// A CCU with XML-RPC authentication on: `--ccu-user` with HOMEMATIC_PASSWORD in the
/// environment publishes; a wrong password shows a 401 naming the CCU URL in the status line,
/// and the password is never printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn homematic_poller_logs_in_to_a_ccu_with_authentication() {
    let m = mosquitto();
    let ccu = ccu::Ccu::start_with_auth("admin", "Ccu-Secret-1");
    let (c, mut ev) = mqtt(m.port(), "hm-auth-watcher").await;
    c.subscribe("homematic/#", QoS::AtLeastOnce).await.unwrap();
    let broker = format!("127.0.0.1:{}", m.port());
    let url = ccu.url();
    let args = [
        "monitor",
        "homematic",
        "--ccu",
        &url,
        "--interval",
        "0.2",
        "--broker",
        &broker,
        "--ccu-user",
        "admin",
    ];
    let p = Provisio::start(&args, &[("HOMEMATIC_PASSWORD", "Ccu-Secret-1".into())]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "{:?}", p.lines());
        if let Ok(Ok(Event::Incoming(Packet::Publish(pb)))) =
            tokio::time::timeout(Duration::from_millis(500), ev.poll()).await
            && pb.topic == "homematic/NEQ0765432"
        {
            break;
        }
    }
    let (code, last) = p.signal("TERM");
    assert_eq!(code, Some(0), "{last}");
    assert_eq!(number_after(&last, "failed polls"), 0, "{last}");

    let p = Provisio::start(&args, &[("HOMEMATIC_PASSWORD", "Wrong-Secret-2".into())]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.lines().iter().any(|l| l.contains("HTTP status 401")) {
        assert!(Instant::now() < deadline, "{:?}", p.lines());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (code, last) = p.interrupt();
    assert_eq!(code, Some(0), "{last}");
    assert!(
        last.contains(&format!("the CCU at {url} refused user \"admin\"")),
        "{last}"
    );
    assert!(number_after(&last, "failed polls") >= 1, "{last}");
    assert!(!last.contains("Secret"), "{last}");
}

#[test]
fn bad_arguments_are_clear_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args([
            "monitor",
            "influx",
            "--broker",
            "ssl://h:8883",
            "--topic",
            "a/+",
            "--influx",
            "http://127.0.0.1:8086",
            "--database",
            "d",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only tcp:// and mqtt://"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args([
            "monitor",
            "homematic",
            "--ccu",
            "ftp://ccu:2001",
            "--broker",
            "127.0.0.1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--ccu ftp://ccu:2001: expected an http"),
        "{err}"
    );
}

/// The home automation fixture (pollers, a CCU, powerfox).
fn home_automation() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/home_automation.tosca")
}

#[test]
fn source_node_types_validate_and_plan() {
    let fixture = home_automation().display().to_string();
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| common::provisio(data.path(), args);
    let (code, out) = run(&["validate", &fixture]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("8 node templates") && out.contains("0 error(s)"),
        "{out}"
    );
    let (code, out) = run(&[
        "plan",
        &fixture,
        "--input",
        "raspberryPassword=r",
        "--input",
        "powerfoxPassword=secret-pf",
        "--input",
        "ttnApiKey=k",
    ]);
    assert_eq!(code, 0, "{out}");
    let pos = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s}: {out}"));
    // Pollers start after the broker they publish to.
    assert!(pos("Broker.start") < pos("Poller.install"), "{out}");
    assert!(pos("Broker.start") < pos("Powerfox.install"), "{out}");
    // The powerfox account does not shadow the host's SSH login.
    let pf = &out[pos("Powerfox.install")..];
    assert!(
        pf.lines()
            .nth(1)
            .unwrap()
            .contains("userName = pi  [from RaspbianStretchLXC]"),
        "{pf}"
    );
    assert!(!out.contains("secret-pf"), "{out}");
    // The password reaches the poller's configure step only (its secrets.env), masked.
    let section = |step: &str| common::plan_section(&out, step);
    let cfg = section("Powerfox.configure");
    assert!(
        cfg.contains("powerfoxPassword = ***  [input powerfoxPassword]"),
        "{cfg}"
    );
    let install = section("Powerfox.install");
    assert!(!install.contains("powerfoxPassword"), "{install}");
}

/// The HomeMaticPoller's CCU login: ccuUser is an ordinary property, ccuPassword a secret that
/// reaches the poller's configure step only (its secrets.env), masked.
#[test]
fn homematic_ccu_password_is_a_secret_of_the_poller_only() {
    let text = std::fs::read_to_string(home_automation()).unwrap();
    let devices = "<devices>[]</devices>";
    assert_eq!(text.matches(devices).count(), 1);
    let text = text.replace(
        devices,
        "<devices>[]</devices><ccuUser>admin</ccuUser>\
         <ccuPassword>get_input: ccuPassword</ccuPassword>",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("home_automation.tosca");
    std::fs::write(&path, text).unwrap();
    let path = path.display().to_string();
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| common::provisio(data.path(), args);
    let (code, out) = run(&["validate", &path]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 error(s)"), "{out}");
    let (code, out) = run(&[
        "plan",
        &path,
        "--input",
        "raspberryPassword=r",
        "--input",
        "powerfoxPassword=p",
        "--input",
        "ttnApiKey=k",
        "--input",
        "ccuPassword=secret-ccu",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("secret-ccu"), "{out}");
    let section = |step: &str| common::plan_section(&out, step);
    let cfg = section("Poller.configure");
    assert!(
        cfg.contains("ccuPassword = ***  [input ccuPassword]"),
        "{cfg}"
    );
    let install = section("Poller.install");
    assert!(!install.contains("ccuPassword"), "{install}");
    // The SSH login of the host is not shadowed by the CCU login.
    assert!(
        install.contains("userName = pi  [from RaspbianStretchLXC]"),
        "{install}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn powerfox_poller_reads_a_rest_source_with_basic_auth() {
    use std::io::{Read, Write};
    // A powerfox-style REST server: answers `GET …/my/main/current` for the user u:secret.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let sport = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in server.incoming().map_while(Result::ok) {
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_lowercase();
            let ok = req.starts_with("get /api/2.0/my/main/current ")
                && req.contains("authorization: basic dtpzzwnyzxq=");
            let (status, body) = if ok {
                (
                    "200 OK",
                    r#"{"Outdated":false,"Watt":412,"Timestamp":1588346453,"A_Plus":99.5}"#,
                )
            } else {
                ("401 Unauthorized", "")
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let m = mosquitto();
    let (c, mut ev) = mqtt(m.port(), "watcher").await;
    c.subscribe("energy/#", QoS::AtLeastOnce).await.unwrap();
    let p = Provisio::start(
        &[
            "monitor",
            "powerfox",
            "--api",
            &format!("http://127.0.0.1:{sport}/api/2.0"),
            "--interval",
            "0.2",
            "--broker",
            &format!("127.0.0.1:{}", m.port()),
            "--topic-prefix",
            "energy",
        ],
        &[
            ("POWERFOX_USER", "u".into()),
            ("POWERFOX_PASSWORD", "secret".into()),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let (topic, v) = loop {
        assert!(Instant::now() < deadline, "{:?}", p.lines());
        if let Ok(Ok(Event::Incoming(Packet::Publish(pb)))) =
            tokio::time::timeout(Duration::from_millis(500), ev.poll()).await
        {
            break (
                pb.topic.clone(),
                serde_json::from_slice::<serde_json::Value>(&pb.payload).unwrap(),
            );
        }
    };
    assert_eq!(topic, "energy/main");
    assert_eq!(v, serde_json::json!({"Watt": 412, "A_Plus": 99.5}));
    let out = p.out.clone();
    let (code, last) = p.interrupt();
    assert_eq!(code, Some(0), "{last}");
    assert_eq!(number_after(&last, "failed polls"), 0, "{last}");
    assert!(!out.lock().unwrap().join("\n").contains("secret"));
}
