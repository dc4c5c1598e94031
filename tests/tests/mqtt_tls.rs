//! A broker as production runs it: a real Mosquitto with only a TLS listener (certificates made
//! here with rcgen), a password file and an ACL that lets each device see only its own topics.
//! The engine's NodeMCU driver and real device agents deploy through it; a wrong password and an
//! untrusted server certificate each fail with a clear reason; the password appears in no event,
//! log line or instance file.

use provisio_engines::artifact_server::{ArtifactServer, new_token};
use provisio_engines::drivers::nodemcu::{NodeMcuConfig, NodeMcuDriver, run_operation};
use provisio_engines::engine::driver::{DriverContext, DriverRegistry, ServedArtifact};
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::engine::run::{PreparedStep, RunOptions, run_plan};
use provisio_engines::events::{DeployEvent, EventSink};
use provisio_firmware::agent::security::BrokerSecurity;
use provisio_firmware::mosquitto::Mosquitto;
use provisio_firmware::{Fleet, FleetConfig};
use provisio_model::QName;
use provisio_model::plan::{InputSource, Plan, PlanKind, ResolvedInput, Step, is_secret_name};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[path = "../../engines/tests/common/driver_steps.rs"]
mod driver_steps;

const ENGINE_PASSWORD: &str = "engine-S3cr3t-pw-7f1d";
const DEVICE_PASSWORD: &str = "device-S3cr3t-pw-91ab";
const IDS: [&str; 3] = ["1345963", "1361877", "8797990"];

struct Pki {
    ca_pem: String,
    server_pem: String,
    /// A CA that did not sign the broker's certificate.
    rogue_ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let pem = params.self_signed(&key).unwrap().pem();
    (params, key, pem)
}

/// Writes CA, server certificate and key into `dir`.
fn make_pki(dir: &Path) -> Pki {
    let (ca_params, ca_key, ca_pem) = ca("Provisio test CA");
    let (_, _, rogue_ca_pem) = ca("Someone else's CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let server_pem = params.signed_by(&server_key, &issuer).unwrap().pem();
    std::fs::write(dir.join("ca.pem"), &ca_pem).unwrap();
    std::fs::write(dir.join("server.pem"), &server_pem).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    Pki {
        ca_pem,
        server_pem,
        rogue_ca_pem,
        issuer,
    }
}

/// Password file (mosquitto_passwd -b) and ACL: the engine writes control and reads responses;
/// a device reads control, writes the shared response topic and only its own status topic.
fn write_auth(dir: &Path) {
    let passwd = dir.join("passwd");
    for (i, (user, pw)) in [("engine", ENGINE_PASSWORD), ("device", DEVICE_PASSWORD)]
        .iter()
        .enumerate()
    {
        let mut cmd = std::process::Command::new("mosquitto_passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        let st = cmd
            .arg("-b")
            .arg(&passwd)
            .arg(user)
            .arg(pw)
            .status()
            .expect("mosquitto_passwd (Debian package mosquitto)");
        assert!(st.success());
    }
    std::fs::write(
        dir.join("acl"),
        "user engine\ntopic write control\ntopic read response\ntopic read response/status/+\n\n\
         pattern read control\npattern write response\npattern write response/status/%c\n\
         pattern write sensors/%c\n",
    )
    .unwrap();
}

fn start_broker(dir: &Path) -> Mosquitto {
    let d = dir.display();
    Mosquitto::start_with(&format!(
        "allow_anonymous false\npassword_file {d}/passwd\nacl_file {d}/acl\n\
         cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n"
    ))
    .expect("mosquitto with a TLS listener")
}

fn step(op: &str, url: &str, extra: &[(&str, &str)]) -> Step {
    let input = |n: &str, v: &str| ResolvedInput {
        name: n.into(),
        value: v.into(),
        source: InputSource::DeployInput(n.into()),
        secret: is_secret_name(n),
    };
    let ids = serde_json::to_string(&IDS).unwrap();
    let mut inputs = vec![
        input("hardwareIds", &ids),
        input("pubSubServer", url),
        input("controlTopic", "control"),
        input("responseTopic", "response"),
    ];
    inputs.extend(extra.iter().map(|(n, v)| input(n, v)));
    driver_steps::step("App", "NodeMCU_App", op, inputs)
}

async fn serve_image() -> (ArtifactServer, ServedArtifact) {
    let server = ArtifactServer::start("127.0.0.1:0".parse().unwrap(), None, 16)
        .await
        .unwrap();
    let mut image = vec![0xE9u8];
    image.extend((1..32 * 1024).map(|i| (i % 251) as u8));
    let served = server.register(&new_token(), "fw", "fw.bin", Arc::new(image));
    (server, served)
}

fn config() -> NodeMcuConfig {
    NodeMcuConfig {
        install_timeout: Duration::from_secs(60),
        other_timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

/// A client that connects as an extra device (own client id, the group's credentials) and
/// records every topic it receives on `control` and `response/#`.
async fn spy(port: u16, ca_pem: &str) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new("5550001", "127.0.0.1", port);
    BrokerSecurity::tls(ca_pem, None)
        .unwrap()
        .with_credentials("device", DEVICE_PASSWORD)
        .apply(&mut opts);
    let (client, mut eventloop) = AsyncClient::new(opts, 16);
    client.subscribe("control", QoS::AtLeastOnce).await.unwrap();
    client
        .subscribe("response/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut subacks = 0;
    while subacks < 2 {
        if let Event::Incoming(Packet::SubAck(_)) = eventloop.poll().await.expect("spy connects") {
            subacks += 1;
        }
    }
    tokio::spawn(async move {
        let _client = client;
        while let Ok(ev) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let _ = tx.send(p.topic);
            }
        }
    });
    rx
}

/// Every log line of this test binary (all levels), for grepping.
fn captured_logs() -> Arc<std::sync::Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_ansi(false)
            .with_writer(move || Writer(sink.clone()))
            .try_init();
        buf
    })
    .clone()
}

struct Writer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<DeployEvent>) -> String {
    let mut all = String::new();
    while let Ok(e) = rx.try_recv() {
        all.push_str(&format!("{e:?}\n"));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_over_tls_with_passwords_and_acl() {
    // The secret inputs are masked in plans and left out of instance files by their names.
    assert!(is_secret_name("brokerPassword") && is_secret_name("brokerClientPrivateKey"));
    assert!(!is_secret_name("brokerCaCertificate"));
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    write_auth(dir.path());
    let broker = start_broker(dir.path());
    let url = format!("mqtts://127.0.0.1:{}", broker.port());

    // Three real device agents over TLS with the group's credentials.
    let mut cfg = FleetConfig::for_template(
        &serde_json::to_string(&IDS).unwrap(),
        &url,
        "control",
        "response",
        dir.path().join("devices"),
        BrokerSecurity::tls(&pki.ca_pem, None)
            .unwrap()
            .with_credentials("device", DEVICE_PASSWORD),
    )
    .unwrap();
    cfg.keep_alive = Duration::from_secs(30);
    let fleet = Fleet::spawn(cfg).unwrap();
    assert!(
        fleet.wait_online(3, Duration::from_secs(20)).await,
        "devices connect over TLS; broker log:\n{}",
        broker.log()
    );
    let mut spied = spy(broker.port(), &pki.ca_pem).await;

    let (_server, served) = serve_image().await;
    let creds = [
        ("brokerUsername", "engine"),
        ("brokerPassword", ENGINE_PASSWORD),
        ("brokerCaCertificate", pki.ca_pem.as_str()),
    ];
    let (events, mut rx) = EventSink::new();
    let ctx = DriverContext {
        events,
        cancel: CancellationToken::new(),
        artifacts: vec![served.clone()],
    };
    let out = run_operation(&config(), &step("install", &url, &creds), &ctx)
        .await
        .unwrap_or_else(|e| panic!("install over mqtts: {e}\nbroker log:\n{}", broker.log()));
    assert_eq!(out["installedDevicesCount"], "3");

    // Pinned like MICA's certificates instead of a CA.
    let pins = serde_json::to_string(&[&pki.server_pem]).unwrap();
    let pinned = [
        ("brokerUsername", "engine"),
        ("brokerPassword", ENGINE_PASSWORD),
        ("brokerPinnedCertificates", pins.as_str()),
    ];
    let out = run_operation(&config(), &step("start", &url, &pinned), &ctx)
        .await
        .unwrap_or_else(|e| panic!("start with a pinned certificate: {e}"));
    assert_eq!(out["startedDevicesCount"], "3");

    // The extra device saw the shared control topic but nothing of the other devices.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut topics = Vec::new();
    while let Ok(t) = spied.try_recv() {
        topics.push(t);
    }
    assert!(topics.iter().any(|t| t == "control"), "{topics:?}");
    assert!(
        topics.iter().all(|t| t == "control"),
        "the ACL lets a device see only control and its own topics: {topics:?}"
    );

    // A wrong password fails at once with the reason.
    let wrong = [
        ("brokerUsername", "engine"),
        ("brokerPassword", "not-the-password"),
        ("brokerCaCertificate", pki.ca_pem.as_str()),
    ];
    let t0 = std::time::Instant::now();
    let err = run_operation(&config(), &step("stop", &url, &wrong), &ctx)
        .await
        .unwrap_err();
    assert!(err.contains("user name or password"), "{err}");
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "fails without waiting for the timeout"
    );

    // A server certificate the given CA did not sign fails with the reason.
    let untrusted = [
        ("brokerUsername", "engine"),
        ("brokerPassword", ENGINE_PASSWORD),
        ("brokerCaCertificate", pki.rogue_ca_pem.as_str()),
    ];
    let err = run_operation(&config(), &step("stop", &url, &untrusted), &ctx)
        .await
        .unwrap_err();
    assert!(err.contains("TLS handshake failed"), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // No CA at all for an mqtts:// broker: refused before connecting.
    let err = run_operation(&config(), &step("stop", &url, &creds[..2]), &ctx)
        .await
        .unwrap_err();
    assert!(err.contains("brokerCaCertificate"), "{err}");

    let log = drain(&mut rx);
    assert!(!log.contains(ENGINE_PASSWORD) && !log.contains(DEVICE_PASSWORD));
    assert!(!broker.log().contains(ENGINE_PASSWORD));
    fleet.shutdown().await;

    // Devices with a wrong password or an untrusted server certificate stay offline.
    for (i, security) in [
        BrokerSecurity::tls(&pki.ca_pem, None)
            .unwrap()
            .with_credentials("device", "wrong"),
        BrokerSecurity::tls(&pki.rogue_ca_pem, None)
            .unwrap()
            .with_credentials("device", DEVICE_PASSWORD),
    ]
    .into_iter()
    .enumerate()
    {
        let mut cfg = FleetConfig::new(
            vec![format!("777000{i}")],
            broker.addr(),
            "control",
            "response",
            dir.path().join(format!("bad{i}")),
        );
        cfg.security = security;
        let bad = Fleet::spawn(cfg).unwrap();
        assert!(!bad.wait_online(1, Duration::from_millis(1500)).await);
        bad.shutdown().await;
    }
}

/// The whole run through the engine (plan, driver, instance file): the password is nowhere in
/// the events or the saved instance state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_stay_out_of_events_and_instance_files() {
    let logs = captured_logs();
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    write_auth(dir.path());
    let broker = start_broker(dir.path());
    let url = format!("mqtts://127.0.0.1:{}", broker.port());
    let mut cfg = FleetConfig::new(
        IDS.iter().map(|s| s.to_string()).collect(),
        broker.addr(),
        "control",
        "response",
        dir.path().join("devices"),
    );
    cfg.security = BrokerSecurity::tls(&pki.ca_pem, None)
        .unwrap()
        .with_credentials("device", DEVICE_PASSWORD);
    let fleet = Fleet::spawn(cfg).unwrap();
    assert!(fleet.wait_online(3, Duration::from_secs(20)).await);
    let shown = format!(
        "{:?}",
        BrokerSecurity::default().with_credentials("device", DEVICE_PASSWORD)
    );
    assert!(shown.contains("device") && !shown.contains(DEVICE_PASSWORD));

    let (_server, served) = serve_image().await;
    let creds = [
        ("brokerUsername", "engine"),
        ("brokerPassword", ENGINE_PASSWORD),
        ("brokerCaCertificate", pki.ca_pem.as_str()),
    ];
    let mut install = step("install", &url, &creds);
    let mut start = step("start", &url, &creds);
    start.deps = vec![0];
    start.stage = 1;
    install.stage = 0;
    let plan = Plan {
        kind: PlanKind::Deploy,
        service_template: QName::new("http://provisio.dev/tosca/servicetemplates", "Tls"),
        steps: vec![install, start],
        stages: vec![vec![0], vec![1]],
        node_order: vec!["App".into()],
    };
    let prepared = vec![
        PreparedStep {
            driver: Some("nodemcu".into()),
            artifacts: vec![served],
        },
        PreparedStep {
            driver: Some("nodemcu".into()),
            artifacts: vec![],
        },
    ];
    let mut registry = DriverRegistry::new();
    registry.insert("nodemcu", Arc::new(NodeMcuDriver { config: config() }));
    let state_dir = dir.path().join("instances");
    let instance = InstanceState {
        id: "tls-1".into(),
        source: "tls.tosca".into(),
        service_template: "{http://provisio.dev/tosca/servicetemplates}Tls".into(),
        created: 0,
        simulated: false,
        inputs: Default::default(),
        steps: vec![],
        devices: Default::default(),
        phase: "running".into(),
    };
    let (events, mut rx) = EventSink::new();
    let done = run_plan(
        &plan,
        prepared,
        &registry,
        instance,
        RunOptions {
            state_dir: Some(state_dir.clone()),
            ..Default::default()
        },
        events,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(done.phase, "deployed", "{}", drain(&mut rx));
    let log = drain(&mut rx);
    assert!(log.contains("DeviceState"), "{log}");
    assert!(!log.contains(ENGINE_PASSWORD), "events hold the password");
    let mut files = 0;
    for entry in walk(&state_dir) {
        files += 1;
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(
            !text.contains(ENGINE_PASSWORD),
            "{} holds the password",
            entry.display()
        );
    }
    assert!(files > 0, "an instance file was saved");
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(!logs.is_empty(), "the engine and devices logged");
    assert!(!logs.contains(ENGINE_PASSWORD) && !logs.contains(DEVICE_PASSWORD));
    fleet.shutdown().await;
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A client certificate signed by the test CA (PEM certificate, PEM key).
fn client_cert(issuer: &Issuer<'static, KeyPair>, name: &str) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.signed_by(&key, issuer).unwrap().pem();
    (cert, key.serialize_pem())
}

/// A broker that requires client certificates: the engine and a device present theirs; without
/// one the handshake fails with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    write_auth(dir.path());
    let d = dir.path().display();
    let broker = Mosquitto::start_with(&format!(
        "allow_anonymous false\npassword_file {d}/passwd\nacl_file {d}/acl\n\
         cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n\
         require_certificate true\n"
    ))
    .unwrap();
    let url = format!("mqtts://127.0.0.1:{}", broker.port());
    let (dev_cert, dev_key) = client_cert(&pki.issuer, "device");
    let mut cfg = FleetConfig::new(
        vec![IDS[0].to_string()],
        broker.addr(),
        "control",
        "response",
        dir.path().join("devices"),
    );
    cfg.security = BrokerSecurity::tls(&pki.ca_pem, Some((&dev_cert, &dev_key)))
        .unwrap()
        .with_credentials("device", DEVICE_PASSWORD);
    let fleet = Fleet::spawn(cfg).unwrap();
    assert!(
        fleet.wait_online(1, Duration::from_secs(20)).await,
        "a device with a client certificate connects; broker log:\n{}",
        broker.log()
    );
    let (engine_cert, engine_key) = client_cert(&pki.issuer, "engine");
    let (_server, served) = serve_image().await;
    let (events, mut rx) = EventSink::new();
    let ctx = DriverContext {
        events,
        cancel: CancellationToken::new(),
        artifacts: vec![served],
    };
    let ids = serde_json::to_string(&[IDS[0]]).unwrap();
    let mut with_cert = step(
        "install",
        &url,
        &[
            ("brokerUsername", "engine"),
            ("brokerPassword", ENGINE_PASSWORD),
            ("brokerCaCertificate", pki.ca_pem.as_str()),
            ("brokerClientCertificate", engine_cert.as_str()),
            ("brokerClientPrivateKey", engine_key.as_str()),
        ],
    );
    with_cert.inputs[0].value = ids.clone();
    let out = run_operation(&config(), &with_cert, &ctx)
        .await
        .unwrap_or_else(|e| panic!("install with a client certificate: {e}"));
    assert_eq!(out["installedDevicesCount"], "1");

    let mut without = step(
        "stop",
        &url,
        &[
            ("brokerUsername", "engine"),
            ("brokerPassword", ENGINE_PASSWORD),
            ("brokerCaCertificate", pki.ca_pem.as_str()),
        ],
    );
    without.inputs[0].value = ids;
    let err = run_operation(&config(), &without, &ctx).await.unwrap_err();
    assert!(
        err.contains("CertificateRequired") && err.contains("client"),
        "{err}"
    );
    let log = drain(&mut rx);
    assert!(!log.contains(&engine_key) && !log.contains(ENGINE_PASSWORD));
    fleet.shutdown().await;
}
