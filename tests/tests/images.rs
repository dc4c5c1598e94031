//! The built-in library's container images, for real: each recipe is built once (debootstrap +
//! npm through `provisio_engines::images`, cached in the default cache so a CI run builds once),
//! started in real LXC on this machine (`lxc.net.0.type = none`, `/sbin/provisio-init` as init)
//! with `/etc/provisio/inputs.env` and `connections.json` written into its rootfs, and probed:
//! Mosquitto relays a publish, InfluxDB answers and has its database, Node-RED carries a
//! reading from Mosquitto to InfluxDB, the receiver keeps records, the MonitoringBroker's tap
//! reports a CONNECT to the receiver, the connector writes a publish to InfluxDB, the pollers
//! publish what they read (the powerfox one authenticating with its `secrets.env`).
//!
//! Needs root, lxc, debootstrap and network access to the Debian mirror (npm's registry for
//! Node-RED) for a cold cache; skipped with a message otherwise, unless PROVISIO_REQUIRE_IMAGES=1
//! (scripts/test.sh sets it after building the images) makes a missing piece a failure.

#[path = "../../engines/tests/common/ccu.rs"]
mod ccu;

use provisio_engines::images;
use serde_json::json;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

fn library_recipe(name: &str) -> Vec<u8> {
    let (_, bytes) = provisio_assets::library_files()
        .iter()
        .find(|(p, _)| p.ends_with(&format!("/files/{name}.recipe")))
        .unwrap_or_else(|| panic!("no {name}.recipe in the library"));
    bytes.to_vec()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Why these tests cannot run here, if they cannot.
fn missing() -> Option<String> {
    if !is_root() {
        return Some("needs root (debootstrap, chroot, lxc-start)".into());
    }
    for (tool, pkg) in [("lxc-start", "lxc"), ("debootstrap", "debootstrap")] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            return Some(format!("{tool} is missing (apt-get install {pkg})"));
        }
    }
    None
}

/// `true` when the test may run; else prints why it is skipped (or fails when required).
fn can_run(what: &str) -> bool {
    match missing() {
        None => true,
        Some(why) if std::env::var("PROVISIO_REQUIRE_IMAGES").as_deref() == Ok("1") => {
            panic!("{what}: {why}")
        }
        Some(why) => {
            eprintln!("skipped {what}: {why}");
            false
        }
    }
}

/// target/<profile>/provisio next to this test binary (scripts/test.sh builds it first).
fn provisio_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("provisio");
    assert!(
        bin.is_file(),
        "{} is missing: cargo build -p provisio-app --bin provisio",
        bin.display()
    );
    bin
}

/// The image of the library recipe `name`, built at most once per test run.
fn image(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, Result<PathBuf, String>>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    let r = built.entry(name.to_string()).or_insert_with(|| {
        let recipe = library_recipe(name);
        let bin = (images::recipe_field(&recipe, "bundle").as_deref() == Some("provisio"))
            .then(provisio_bin);
        let started = Instant::now();
        let r = images::build_image(&recipe, images::host_arch(), bin.as_deref(), &|l| {
            eprintln!("[{name}] {l}")
        });
        eprintln!("image {name}: {:?} in {:?}", r, started.elapsed());
        r
    });
    r.clone().unwrap_or_else(|e| panic!("building {name}: {e}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn lxc(args: &[&str]) -> (bool, String) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A container of an image in its own LXC path; stopped and destroyed on drop.
struct Container {
    dir: tempfile::TempDir,
    name: String,
}

impl Container {
    fn start(
        image_name: &str,
        name: &str,
        inputs: &[(&str, String)],
        connections: serde_json::Value,
    ) -> Container {
        Container::start_with_secrets(image_name, name, inputs, &[], connections)
    }

    /// As [`Container::start`], with `secrets` in `/etc/provisio/secrets.env` (written as the
    /// drivers write it: mode 0600).
    fn start_with_secrets(
        image_name: &str,
        name: &str,
        inputs: &[(&str, String)],
        secrets: &[(&str, String)],
        connections: serde_json::Value,
    ) -> Container {
        let (c, rootfs) = Container::unpack(image_name, name);
        let etc = rootfs.join("etc/provisio");
        std::fs::create_dir_all(&etc).unwrap();
        let env: String = inputs
            .iter()
            .map(|(k, v)| format!("{k}='{}'\n", v.replace('\'', r"'\''")))
            .collect();
        std::fs::write(etc.join("inputs.env"), env).unwrap();
        std::fs::write(etc.join("connections.json"), connections.to_string()).unwrap();
        if !secrets.is_empty() {
            let env: String = secrets
                .iter()
                .map(|(k, v)| format!("{k}={}\n", provisio_engines::drivers::raspberry::sh(v)))
                .collect();
            provisio_engines::drivers::container_files::write_into_rootfs(
                &rootfs,
                provisio_engines::drivers::container_files::SECRETS_ENV,
                &env,
            )
            .unwrap();
        }
        c.launch()
    }

    /// A container of `image_name` with the files the drivers' `configure` writes for a plan's
    /// step (`container_files::files`: inputs.env, connections.json, secrets.env 0600).
    fn start_with_step(
        image_name: &str,
        name: &str,
        step: &provisio_model::plan::Step,
    ) -> Container {
        use provisio_engines::drivers::container_files;
        let (c, rootfs) = Container::unpack(image_name, name);
        for f in container_files::files(step).unwrap() {
            match &f.content {
                Some(content) => container_files::write_into_rootfs(&rootfs, f.path, content),
                None => container_files::remove_from_rootfs(&rootfs, f.path),
            }
            .unwrap();
        }
        c.launch()
    }

    /// The image unpacked into a fresh LXC path: the container (not started) and its rootfs.
    fn unpack(image_name: &str, name: &str) -> (Container, PathBuf) {
        let dir = tempfile::Builder::new()
            .prefix("provisio-images-")
            .tempdir()
            .unwrap();
        let c = Container {
            dir,
            name: name.to_string(),
        };
        let rootfs = c.dir.path().join(name).join("rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        let tar = Command::new("tar")
            .arg("-xzf")
            .arg(image(image_name))
            .arg("-C")
            .arg(&rootfs)
            .status()
            .unwrap();
        assert!(tar.success(), "unpacking {image_name}");
        (c, rootfs)
    }

    /// Writes the LXC config and starts the container, waiting until it runs.
    fn launch(self) -> Container {
        let c = self;
        let name = c.name.as_str();
        let rootfs = c.dir.path().join(name).join("rootfs");
        let config = format!(
            "lxc.uts.name = {name}\nlxc.rootfs.path = dir:{}\nlxc.net.0.type = none\nlxc.init.cmd = /sbin/provisio-init\nlxc.apparmor.profile = unconfined\nlxc.signal.halt = SIGTERM\nlxc.console.logfile = {}\n",
            rootfs.display(),
            c.console().display()
        );
        std::fs::write(c.dir.path().join(name).join("config"), config).unwrap();
        let p = c.lxcpath();
        let (ok, out) = lxc(&["lxc-start", "-P", &p, "-n", name, "-d"]);
        assert!(ok, "lxc-start {name}: {out}");
        let (ok, out) = lxc(&[
            "lxc-wait", "-P", &p, "-n", name, "-s", "RUNNING", "-t", "30",
        ]);
        assert!(ok, "{name} did not run: {out}\n{}", c.log());
        c
    }

    fn lxcpath(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn console(&self) -> PathBuf {
        self.dir.path().join(&self.name).join("console.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.console()).unwrap_or_default()
    }

    fn file(&self, path: &str) -> PathBuf {
        self.dir
            .path()
            .join(&self.name)
            .join("rootfs")
            .join(path.trim_start_matches('/'))
    }

    fn state(&self) -> String {
        lxc(&["lxc-info", "-P", &self.lxcpath(), "-n", &self.name, "-sH"])
            .1
            .trim()
            .to_string()
    }

    /// [`Container::stop`] stops it (its init ends on SIGTERM within 20 s).
    fn assert_stops_on_sigterm(&self) {
        assert!(self.stop(), "SIGTERM stops the container: {}", self.log());
    }

    /// Stops the container with SIGTERM to its init; true when it stopped within 20 s.
    fn stop(&self) -> bool {
        lxc(&[
            "lxc-stop",
            "-P",
            &self.lxcpath(),
            "-n",
            &self.name,
            "-t",
            "20",
        ])
        .0
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let p = self.lxcpath();
        let _ = lxc(&["lxc-stop", "-P", &p, "-n", &self.name, "-k"]);
        let _ = lxc(&["lxc-destroy", "-P", &p, "-n", &self.name]);
    }
}

/// Waits until `f` gives a value, or panics with `what` and the containers' logs.
fn eventually<T>(
    secs: u64,
    what: &str,
    logs: &[&Container],
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = logs
                .iter()
                .map(|c| format!("--- {} ({}):\n{}", c.name, c.state(), c.log()))
                .collect();
            panic!("{what} within {secs} s\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A plain HTTP/1.0 request to 127.0.0.1:`port`: (status code, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, buf.split("\r\n\r\n").nth(1).unwrap_or("").to_string()))
}

fn influx_query(port: u16, db: &str, q: &str) -> String {
    let enc: String = q
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    http(port, "GET", &format!("/query?db={db}&q={enc}"), "")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

/// Publishes `payload` on `topic` at 127.0.0.1:`port` (QoS 1, waits for PUBACK).
fn publish(port: u16, client_id: &str, topic: &str, payload: &str) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut o = rumqttc::MqttOptions::new(client_id, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(5));
        let (client, mut ev) = rumqttc::AsyncClient::new(o, 10);
        let done = async {
            loop {
                match ev.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                        client
                            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
                            .await
                            .ok()?;
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => return Some(()),
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
        };
        let r = tokio::time::timeout(Duration::from_secs(5), done).await;
        let _ = client.disconnect().await;
        matches!(r, Ok(Some(())))
    })
}

/// Subscribes to `topic`, publishes `payload` to it from the same client and waits for it.
fn roundtrip(port: u16, topic: &str, payload: &str) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let o = rumqttc::MqttOptions::new("images-roundtrip", "127.0.0.1", port);
        let (client, mut ev) = rumqttc::AsyncClient::new(o, 10);
        let done = async {
            loop {
                match ev.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                        client
                            .subscribe(topic, rumqttc::QoS::AtLeastOnce)
                            .await
                            .ok()?;
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                        client
                            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
                            .await
                            .ok()?;
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        return Some(p.payload == payload.as_bytes());
                    }
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
        };
        let r = tokio::time::timeout(Duration::from_secs(5), done).await;
        let _ = client.disconnect().await;
        matches!(r, Ok(Some(true)))
    })
}

fn target(
    node: &str,
    types: &[&str],
    artifact: &str,
    props: serde_json::Value,
) -> serde_json::Value {
    json!({"node": node, "types": types, "artifacts": [artifact], "host": "127.0.0.1",
           "properties": props})
}

/// The connection of a client to the Mosquitto container listening on `mqtt_port`.
fn broker_target(mqtt_port: u16) -> serde_json::Value {
    target(
        "Broker",
        &["Mosquitto", "LXContainerRaspberryPi"],
        "MosquittoContainer",
        json!({"port": mqtt_port.to_string()}),
    )
}

/// The connections of `node`, which publishes to the Mosquitto container on `mqtt_port`.
fn publishing_to(node: &str, mqtt_port: u16) -> serde_json::Value {
    json!({"node": node, "targets": [broker_target(mqtt_port)], "sources": []})
}

fn influxdb(database: &str) -> (Container, u16) {
    let port = free_port();
    let c = Container::start(
        "influxdb",
        &format!("influx{port}"),
        &[
            ("httpPort", port.to_string()),
            ("database", database.into()),
        ],
        json!({"node": "InfluxDB", "targets": [], "sources": []}),
    );
    eventually(60, "InfluxDB has its database", &[&c], || {
        influx_query(port, database, "SHOW DATABASES")
            .contains(&format!("\"{database}\""))
            .then_some(())
    });
    (c, port)
}

/// `image` started as `node` on a free `port`, once it accepts TCP connections there.
fn listening(image: &str, node: &str) -> (Container, u16) {
    let port = free_port();
    let c = Container::start(
        image,
        &format!("{}{port}", node.to_lowercase()),
        &[("port", port.to_string())],
        json!({"node": node, "targets": [], "sources": []}),
    );
    eventually(30, &format!("{node} accepts connections"), &[&c], || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    (c, port)
}

fn mosquitto() -> (Container, u16) {
    listening("mosquitto", "Mosquitto")
}

fn receiver() -> (Container, u16) {
    listening("logstashreceiver", "LogReceiver")
}

fn records(c: &Container) -> String {
    std::fs::read_to_string(c.file("/var/lib/provisio/records.jsonl")).unwrap_or_default()
}

#[test]
fn mosquitto_image_relays_messages_and_stops_on_sigterm() {
    if !can_run("mosquitto image") {
        return;
    }
    let (c, port) = mosquitto();
    eventually(20, "a publish comes back to the subscriber", &[&c], || {
        roundtrip(port, "probe/t", "hello").then_some(())
    });
    c.assert_stops_on_sigterm();
    assert_eq!(c.state(), "STOPPED");
}

#[test]
fn influxdb_image_answers_and_creates_its_database() {
    if !can_run("influxdb image") {
        return;
    }
    let (c, port) = influxdb("probe_db");
    assert_eq!(http(port, "GET", "/ping", "").map(|r| r.0), Some(204));
    let (code, _) = http(port, "POST", "/write?db=probe_db", "m,device=x v=1").unwrap();
    assert_eq!(code, 204);
    let rows = influx_query(port, "probe_db", "SELECT v FROM m WHERE device='x'");
    assert!(rows.contains(",1]]"), "{rows}");
    c.assert_stops_on_sigterm();
}

#[test]
fn base_image_runs_until_stopped() {
    if !can_run("base image") {
        return;
    }
    let c = Container::start("base", "base", &[], json!({}));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(c.state(), "RUNNING", "{}", c.log());
    c.assert_stops_on_sigterm();
}

#[test]
fn nodered_image_writes_readings_from_mosquitto_to_influxdb() {
    if !can_run("nodered image") {
        return;
    }
    let (broker, mqtt_port) = mosquitto();
    let (db, influx_port) = influxdb("sensors");
    let port = free_port();
    let connections = json!({
        "node": "NodeRED",
        "targets": [target("InfluxDB", &["LXContainerMICA", "LXContainer"], "InfluxDBContainer",
                           json!({"port": influx_port.to_string()}))],
        "sources": [{"node": "SensorPublisher", "types": ["NodeMCU_App"],
                     "artifacts": ["SensorPublisherFirmware"], "host": null,
                     "properties": {"appConfig": "{\"interval\":3000}",
                                    "pubSubServer": format!("tcp://127.0.0.1:{mqtt_port}"),
                                    "hardwareIds": "[\"1345963\"]"}}]
    });
    let red = Container::start(
        "nodered",
        &format!("nodered{port}"),
        &[("port", port.to_string())],
        connections,
    );
    // Node-RED's editor answers once the flow is deployed.
    eventually(180, "Node-RED answers on its port", &[&red], || {
        http(port, "GET", "/flows", "").filter(|(c, _)| *c == 200)
    });
    let rows = eventually(
        120,
        "the reading is in InfluxDB",
        &[&red, &broker, &db],
        || {
            publish(
                mqtt_port,
                "sensor-1345963",
                "sensors/1345963",
                r#"{"temperature":21.5,"humidity":40}"#,
            );
            let r = influx_query(
                influx_port,
                "sensors",
                "SELECT temperature, humidity FROM sensors WHERE device='1345963'",
            );
            r.contains("21.5").then_some(r)
        },
    );
    assert!(rows.contains("40"), "{rows}");
}

#[test]
fn receiver_image_keeps_json_records() {
    if !can_run("logstashreceiver image") {
        return;
    }
    let (c, port) = receiver();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"{\"type\":\"PROBE\",\"n\":1}\nnot json\n")
        .unwrap();
    drop(s);
    let r = eventually(20, "the record is in records.jsonl", &[&c], || {
        Some(records(&c)).filter(|r| r.contains("PROBE"))
    });
    assert!(!r.contains("not json"), "{r}");
    c.assert_stops_on_sigterm();
}

#[test]
fn monitoring_broker_image_reports_a_connect_to_the_receiver() {
    if !can_run("monitoringbroker image") {
        return;
    }
    let (rc, rport) = receiver();
    let port = free_port();
    let c = Container::start(
        "monitoringbroker",
        &format!("mbroker{port}"),
        &[("port", port.to_string())],
        json!({"node": "Broker",
               "targets": [target("LogReceiver", &["LogstashReceiver", "LXContainerRaspberryPi"],
                                  "LogstashReceiverContainer", json!({"port": rport.to_string()}))],
               "sources": []}),
    );
    eventually(60, "a publish passes the tap", &[&c, &rc], || {
        publish(port, "probe-client-42", "sensors/42", "{\"v\":1}").then_some(())
    });
    let r = eventually(30, "the receiver has the CONNECT", &[&c, &rc], || {
        Some(records(&rc)).filter(|r| r.contains("probe-client-42") && r.contains("PUBLISH"))
    });
    assert!(r.contains("CONNECT"), "{r}");
}

#[test]
fn connector_image_writes_publishes_to_influxdb() {
    if !can_run("mqttinfluxconnector image") {
        return;
    }
    let (broker, mqtt_port) = mosquitto();
    let (db, influx_port) = influxdb("flex4apps");
    let port = free_port();
    let c = Container::start(
        "mqttinfluxconnector",
        &format!("connector{port}"),
        &[
            ("database", "flex4apps".into()),
            ("topics", "sensors/+".into()),
        ],
        json!({"node": "Connector",
               "targets": [
                   broker_target(mqtt_port),
                   target("Database", &["InfluxDB", "LXContainerMICA"], "InfluxDBContainer",
                          json!({"httpPort": influx_port.to_string(), "database": "flex4apps"}))],
               "sources": []}),
    );
    eventually(
        90,
        "the reading is in InfluxDB",
        &[&c, &broker, &db],
        || {
            publish(
                mqtt_port,
                "sensor-7",
                "sensors/7",
                r#"{"temperature":19.25}"#,
            );
            influx_query(
                influx_port,
                "flex4apps",
                "SELECT temperature FROM sensors WHERE device='7'",
            )
            .contains("19.25")
            .then_some(())
        },
    );
}

/// The first message on `filter` at the broker on `port`, within `secs`.
fn first_message(port: u16, filter: &str, secs: u64) -> Option<(String, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let o = rumqttc::MqttOptions::new("images-listener", "127.0.0.1", port);
        let (client, mut ev) = rumqttc::AsyncClient::new(o, 10);
        client
            .subscribe(filter, rumqttc::QoS::AtMostOnce)
            .await
            .ok()?;
        let wait = async {
            loop {
                match ev.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        return Some((p.topic, String::from_utf8_lossy(&p.payload).into_owned()));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(secs), wait)
            .await
            .ok()
            .flatten()
    })
}

/// The first message on `filter` at the broker on `mqtt_port` within 60 s, or a panic saying
/// there was no reading from the poller, and `why`.
fn first_reading(mqtt_port: u16, filter: &str, why: impl FnOnce() -> String) -> (String, String) {
    first_message(mqtt_port, filter, 60)
        .unwrap_or_else(|| panic!("no reading from the poller{}", why()))
}

/// A HomeMatic poller's first reading reached the broker on `mqtt_port`: one topic per device,
/// a JSON object.
fn homematic_reading(mqtt_port: u16, poller: &Container, broker: &Container) {
    let (topic, payload) = first_reading(mqtt_port, "homematic/+", || {
        format!(":\n{}\n{}", poller.log(), broker.log())
    });
    assert!(topic.starts_with("homematic/"), "{topic}");
    assert!(payload.starts_with('{'), "{payload}");
}

/// `secret` is on no process's command line on this host (the container's processes
/// included) and not in the container's log.
fn assert_secret_hidden(secret: &str, c: &Container) {
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains(secret),
            "password on the command line of {}",
            e.path().display()
        );
    }
    assert!(!c.log().contains(secret), "{}", c.log());
}

/// The HomeMatic poller image reads a CCU (the Python XML-RPC emulator on this host) and
/// publishes one topic per device to the broker container it ConnectsTo.
#[test]
fn homematic_poller_image_publishes_the_ccus_devices() {
    if !can_run("homematicpoller image") {
        return;
    }
    let ccu = ccu::Ccu::start();
    let (broker, mqtt_port) = mosquitto();
    let port = free_port();
    let c = Container::start(
        "homematicpoller",
        &format!("poller{port}"),
        &[("ccuUrl", ccu.url()), ("interval", "1".into())],
        publishing_to("Poller", mqtt_port),
    );
    homematic_reading(mqtt_port, &c, &broker);
}

/// The HomeMatic poller image against a CCU with XML-RPC authentication on: the user comes from
/// its inputs, the password from `/etc/provisio/secrets.env` (given to the poller as
/// HOMEMATIC_PASSWORD only); the password is on no command line and not in the container's log.
#[test]
fn homematic_poller_image_authenticates_with_its_secret() {
    if !can_run("homematicpoller image (auth)") {
        return;
    }
    let password = "ccu-Pa55 'w0rd' $HOME";
    let ccu = ccu::Ccu::start_with_auth("admin", password);
    let (broker, mqtt_port) = mosquitto();
    let port = free_port();
    let c = Container::start_with_secrets(
        "homematicpoller",
        &format!("hmauth{port}"),
        &[
            ("ccuUrl", ccu.url()),
            ("interval", "1".into()),
            ("ccuUser", "admin".into()),
        ],
        &[("ccuPassword", password.into())],
        publishing_to("Poller", mqtt_port),
    );
    homematic_reading(mqtt_port, &c, &broker);
    assert_secret_hidden("Pa55", &c);
}

/// The HomeMatic poller image deployed from a plan, with the login on the HomeMaticCCU (its
/// password a deploy input) and none on the poller: the planner gives the poller's configure
/// step the CCU's user and (masked) password, and the files the drivers write from that step
/// let the poller log in to a CCU with authentication on. The password is only in the
/// container's secrets.env (0600): not in the shown plan, inputs.env, connections.json, any
/// command line or the log.
#[test]
fn homematic_poller_image_logs_in_with_the_login_of_its_ccu() {
    if !can_run("homematicpoller image (login of its CCU)") {
        return;
    }
    use provisio_model::QName;
    use provisio_model::tosca::{NodeTemplate, Properties, RelationshipTemplate};
    let password = "ccu-Pa55 'w0rd' $HOME";
    let ccu = ccu::Ccu::start_with_auth("admin", password);
    let (broker, mqtt_port) = mosquitto();
    let lib = provisio_model::load_path(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/library"),
    )
    .unwrap()
    .library;
    let nt = "http://provisio.dev/tosca/nodetypes";
    let mut st = provisio_model::tosca::ServiceTemplate::new("urn:test", "HomeMaticLogin");
    let port = mqtt_port.to_string();
    let url = ccu.url();
    type Props<'a> = Vec<(&'a str, &'a str)>;
    let nodes: [(&str, &str, Props); 4] = [
        (
            "Pi",
            "RaspbianStretchLXC",
            vec![
                ("userName", "pi"),
                ("userPassword", "get_input: raspberryPassword"),
                ("addresses", r#"["127.0.0.1"]"#),
            ],
        ),
        ("Broker", "Mosquitto", vec![("port", &port)]),
        (
            "CCU",
            "HomeMaticCCU",
            vec![
                ("xmlRpcUrl", &url),
                ("ccuUser", "admin"),
                ("ccuPassword", "get_input: ccuPw"),
            ],
        ),
        (
            "Poller",
            "HomeMaticPoller",
            vec![("ccuUrl", &url), ("interval", "1")],
        ),
    ];
    for (id, ty, props) in nodes {
        let mut n = NodeTemplate::new(id, QName::new(nt, ty), 0.0, 0.0);
        let kv: Vec<(String, String)> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        n.properties = Some(Properties::new_kv("urn:test:props", "Properties", &kv));
        st.topology.node_templates.push(n);
    }
    let base = "http://docs.oasis-open.org/tosca/ns/2011/12/ToscaBaseTypes";
    for (kind, s, t) in [
        ("HostedOn", "Broker", "Pi"),
        ("HostedOn", "Poller", "Pi"),
        ("ConnectsTo", "Poller", "Broker"),
        ("ConnectsTo", "Poller", "CCU"),
    ] {
        st.topology
            .relationship_templates
            .push(RelationshipTemplate::new(
                &format!("{s}_{t}"),
                QName::new(base, kind),
                s,
                t,
            ));
    }
    let inputs = std::collections::BTreeMap::from([
        ("raspberryPassword".to_string(), "r".to_string()),
        ("ccuPw".to_string(), password.to_string()),
    ]);
    let plan = provisio_model::plan::build_deploy_plan(&lib, &st, &inputs).unwrap();
    assert!(!plan.to_string().contains("Pa55"), "{plan}");
    let step = plan
        .steps
        .iter()
        .find(|s| s.id == "Poller.configure")
        .unwrap();
    let c = Container::start_with_step("homematicpoller", &format!("hmccu{}", free_port()), step);
    homematic_reading(mqtt_port, &c, &broker);
    let read = |p: &str| std::fs::read_to_string(c.file(p)).unwrap_or_default();
    assert!(read("/etc/provisio/inputs.env").contains("ccuUser='admin'"));
    for p in ["/etc/provisio/inputs.env", "/etc/provisio/connections.json"] {
        assert!(!read(p).contains("Pa55"), "{p}: {}", read(p));
    }
    assert!(read("/etc/provisio/secrets.env").contains("ccuPassword="));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(c.file("/etc/provisio/secrets.env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_secret_hidden("Pa55", &c);
}

/// A powerfox-style API on 127.0.0.1 (the container shares the host's network) that answers
/// `GET /api/2.0/my/main/current` only with HTTP basic authentication `authorization`;
/// counts (authorized, refused) requests.
fn powerfox_api(authorization: String) -> (u16, Arc<(AtomicUsize, AtomicUsize)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let c = counts.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let authorized = head.starts_with("GET /api/2.0/my/main/current ")
                && head.lines().any(|l| {
                    l.split_once(':').is_some_and(|(k, v)| {
                        k.eq_ignore_ascii_case("authorization") && v.trim() == authorization
                    })
                });
            let (status, body) = if authorized {
                c.0.fetch_add(1, Ordering::SeqCst);
                (
                    "200 OK",
                    r#"{"Outdated":false,"Watt":350,"Timestamp":1588346453,"A_Plus":1234.5,"A_Minus":0.0}"#,
                )
            } else {
                c.1.fetch_add(1, Ordering::SeqCst);
                ("401 Unauthorized", "{}")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, counts)
}

/// The powerfox poller image reads its password from `/etc/provisio/secrets.env` (the
/// container's own secrets), polls an API that requires it and publishes the readings; the
/// password is on no process's command line and not in the container's log.
#[test]
fn powerfox_poller_image_authenticates_with_its_secret_and_publishes() {
    if !can_run("powerfoxpoller image") {
        return;
    }
    let password = "pf-Pass'w0rd $HOME";
    // base64("meter@example.org:pf-Pass'w0rd $HOME")
    let (api_port, counts) =
        powerfox_api("Basic bWV0ZXJAZXhhbXBsZS5vcmc6cGYtUGFzcyd3MHJkICRIT01F".into());
    let (broker, mqtt_port) = mosquitto();
    let port = free_port();
    let c = Container::start_with_secrets(
        "powerfoxpoller",
        &format!("powerfox{port}"),
        &[
            ("apiUrl", format!("http://127.0.0.1:{api_port}/api/2.0")),
            ("interval", "1".into()),
            ("powerfoxUser", "meter@example.org".into()),
        ],
        &[("powerfoxPassword", password.into())],
        publishing_to("Powerfox", mqtt_port),
    );
    let (topic, payload) = first_reading(mqtt_port, "powerfox/+", || {
        format!(
            " (authorized {}, refused {}):\n{}\n{}",
            counts.0.load(Ordering::SeqCst),
            counts.1.load(Ordering::SeqCst),
            c.log(),
            broker.log()
        )
    });
    assert_eq!(topic, "powerfox/main");
    let v: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(v["Watt"], 350, "{payload}");
    assert!(counts.0.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        counts.1.load(Ordering::SeqCst),
        0,
        "never without the password"
    );
    assert_secret_hidden("pf-Pass", &c);
}

#[test]
fn a_second_build_is_a_cache_hit() {
    if !can_run("image cache") {
        return;
    }
    let first = image("mosquitto");
    let recipe = library_recipe("mosquitto");
    assert_eq!(
        images::cached_image(&recipe, images::host_arch(), None),
        Some(first.clone())
    );
    let again = images::build_image(&recipe, images::host_arch(), None, &|l| {
        panic!("a cached image runs no build: {l}")
    })
    .unwrap();
    assert_eq!(again, first);
    // The tarball is deterministic in form: sorted names, numeric owners, fixed mtime.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("tar -tvzf {} | head -5", first.display()))
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("1970-01-01"), "{listing}");
    assert!(listing.contains(" 0/0 "), "{listing}");
}
