//! The NodeMCU driver against real brokers (a real Mosquitto and the embedded rumqttd) with
//! simulated devices: completion as soon as every listed device answered, per-device outcomes,
//! timeouts, unlisted devices, and install through the artifact server.

mod common;
use common::{Answer, Mosquitto, device};
use provisio_engines::artifact_server::{ArtifactServer, new_token};
use provisio_engines::broker::EmbeddedBroker;
use provisio_engines::drivers::nodemcu::{NodeMcuConfig, run_operation};
use provisio_engines::engine::driver::DriverContext;
use provisio_engines::events::{DeployEvent, DeviceState, EventSink};
use provisio_model::QName;
use provisio_model::plan::{InputSource, ResolvedInput, Step};
use std::sync::Arc;
use std::time::{Duration, Instant};
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
            input("appConfig", r#"{"interval":3000}"#.into()),
        ],
        outputs: vec![],
        artifacts: vec![],
        deps: vec![],
        stage: 0,
    }
}

fn config() -> NodeMcuConfig {
    NodeMcuConfig {
        install_timeout: Duration::from_secs(3),
        other_timeout: Duration::from_secs(3),
        grace: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(10),
    }
}

fn ctx() -> (
    DriverContext,
    tokio::sync::mpsc::UnboundedReceiver<DeployEvent>,
) {
    let (events, rx) = EventSink::new();
    (
        DriverContext {
            events,
            cancel: CancellationToken::new(),
            artifacts: vec![],
        },
        rx,
    )
}

#[tokio::test]
async fn start_ends_as_soon_as_all_listed_devices_answer_on_mosquitto() {
    let m = Mosquitto::start();
    for id in ["a", "b", "c"] {
        device(m.port, id, "control", "response", Answer::Success).await;
    }
    let (ctx, mut rx) = ctx();
    let t = Instant::now();
    let out = run_operation(&config(), &step("start", &m.url(), &["a", "b", "c"]), &ctx)
        .await
        .unwrap();
    assert_eq!(out["startedDevicesCount"], "3");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "did not wait for the timeout: {:?}",
        t.elapsed()
    );
    let mut running = 0;
    while let Ok(e) = rx.try_recv() {
        if let DeployEvent::DeviceState {
            state: DeviceState::Running,
            ..
        } = e
        {
            running += 1;
        }
    }
    assert_eq!(running, 3);
}

#[tokio::test]
async fn failures_timeouts_and_unlisted_devices_are_reported_per_device() {
    let m = Mosquitto::start();
    device(m.port, "ok1", "control", "response", Answer::Success).await;
    device(
        m.port,
        "bad",
        "control",
        "response",
        Answer::Error("app refused to start"),
    )
    .await;
    device(m.port, "mute", "control", "response", Answer::Silent).await;
    device(m.port, "stranger", "control", "response", Answer::Success).await;
    let (ctx, mut rx) = ctx();
    let err = run_operation(
        &config(),
        &step("start", &m.url(), &["ok1", "bad", "mute"]),
        &ctx,
    )
    .await
    .unwrap_err();
    assert!(err.contains("1 of 3 devices succeeded"), "{err}");
    assert!(err.contains("bad: failed: app refused to start"), "{err}");
    assert!(err.contains("mute: no answer (timed out)"), "{err}");
    let mut warned = false;
    let mut timed_out = false;
    while let Ok(e) = rx.try_recv() {
        match e {
            DeployEvent::Log { message, .. } if message.contains("stranger") => warned = true,
            DeployEvent::DeviceState {
                device,
                state: DeviceState::TimedOut,
                ..
            } if device == "mute" => timed_out = true,
            _ => {}
        }
    }
    assert!(warned && timed_out);
}

#[tokio::test]
async fn install_through_the_embedded_broker_and_artifact_server() {
    let broker = EmbeddedBroker::start("127.0.0.1".parse().unwrap(), 100).unwrap();
    let server = ArtifactServer::start("127.0.0.1:0".parse().unwrap(), None, 8)
        .await
        .unwrap();
    let mut image = vec![0xE9u8];
    image.extend(std::iter::repeat_n(7u8, 4095));
    let token = new_token();
    let served = server.register(
        &token,
        "SensorPublisher_DA",
        "sensor.bin",
        Arc::new(image.clone()),
    );
    assert_eq!(served.size, 4096);
    for id in ["d1", "d2"] {
        device(
            broker.addr().port(),
            id,
            "control",
            "response",
            Answer::ProgressThenSuccess,
        )
        .await;
    }
    let (mut ctx, mut rx) = ctx();
    ctx.artifacts = vec![served.clone()];
    let out = run_operation(
        &config(),
        &step("install", &broker.url(), &["d1", "d2"]),
        &ctx,
    )
    .await
    .unwrap();
    assert_eq!(out["installedDevicesCount"], "2");
    let mut downloading = false;
    while let Ok(e) = rx.try_recv() {
        if let DeployEvent::DeviceState {
            state: DeviceState::Downloading { total: 100, .. },
            ..
        } = e
        {
            downloading = true;
        }
    }
    assert!(downloading);
    // The URL really serves the artifact with its MD5.
    let (status, headers, body) = http_get(&served.url, None).await;
    assert_eq!(status, 200);
    assert_eq!(body, image);
    assert!(
        headers.contains(&format!("x-md5: {}", served.md5)),
        "{headers}"
    );
}

#[tokio::test]
async fn install_without_artifact_fails_clearly() {
    let m = Mosquitto::start();
    let (ctx, _rx) = ctx();
    let err = run_operation(&config(), &step("install", &m.url(), &["a"]), &ctx)
        .await
        .unwrap_err();
    assert!(err.contains("deployment artifact"), "{err}");
}

#[tokio::test]
async fn unreachable_broker_fails_within_the_connect_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (ctx, _rx) = ctx();
    let mut c = config();
    c.connect_timeout = Duration::from_secs(1);
    let err = run_operation(
        &c,
        &step("start", &format!("tcp://127.0.0.1:{port}"), &["a"]),
        &ctx,
    )
    .await
    .unwrap_err();
    assert!(err.contains("cannot reach the MQTT broker"), "{err}");
}

/// A minimal HTTP/1.1 GET over a raw TCP stream (returns status, raw headers, body).
async fn http_get(url: &str, range: Option<&str>) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    s.write_all(
        format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\n{range}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).to_lowercase();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, buf[split + 4..].to_vec())
}

#[tokio::test]
async fn artifact_server_ranges_tokens_and_cap() {
    let server = ArtifactServer::start("127.0.0.1:0".parse().unwrap(), None, 1)
        .await
        .unwrap();
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let a = server.register("tok", "da", "app.bin", Arc::new(data.clone()));
    let (st, h, b) = http_get(&a.url, Some("bytes=10-19")).await;
    assert_eq!(st, 206);
    assert_eq!(b, data[10..20]);
    assert!(h.contains("content-range: bytes 10-19/1000"), "{h}");
    let (st, h, _) = http_get(&a.url, Some("bytes=2000-")).await;
    assert_eq!(st, 416);
    assert!(h.contains("content-range: bytes */1000"), "{h}");
    let (st, _, _) = http_get(&a.url.replace("/tok/", "/other/"), None).await;
    assert_eq!(st, 404);
    let (st, _, b) = http_get(&a.url, Some("bytes=-5")).await;
    assert_eq!((st, b), (206, data[995..].to_vec()));
    server.remove("tok");
    let (st, _, _) = http_get(&a.url, None).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn artifact_server_caps_concurrent_transfers() {
    use tokio::io::AsyncWriteExt;
    let server = ArtifactServer::start("127.0.0.1:0".parse().unwrap(), None, 1)
        .await
        .unwrap();
    let big = server.register("tok", "da", "big.bin", Arc::new(vec![7u8; 64 << 20]));
    // A client that asks and never reads keeps the only transfer slot busy.
    let host = big
        .url
        .strip_prefix("http://")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut slow = tokio::net::TcpStream::connect(&host).await.unwrap();
    slow.write_all(format!("GET /tok/big.bin HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (st, h, _) = http_get(&big.url, Some("bytes=0-9")).await;
    assert_eq!(st, 503, "{h}");
    assert!(h.contains("retry-after"), "{h}");
    drop(slow);
}

/// Publishes `payload` retained on `topic` of the broker on `port` (as a gateway bridge's
/// connection notification).
async fn publish_retained(port: u16, topic: &str, payload: &str) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let (client, mut ev) = AsyncClient::new(
        MqttOptions::new(format!("bridge-{}", rand_id()), "127.0.0.1", port),
        8,
    );
    client
        .publish(topic, QoS::AtLeastOnce, true, payload.as_bytes())
        .await
        .unwrap();
    loop {
        if let Ok(Event::Incoming(Packet::PubAck(_))) = ev.poll().await {
            break;
        }
    }
}

fn rand_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn offline_devices(rx: &mut tokio::sync::mpsc::UnboundedReceiver<DeployEvent>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let DeployEvent::DeviceState {
            device,
            state: DeviceState::Offline,
            ..
        } = e
        {
            out.push(device);
        }
    }
    out
}

/// Behind a gateway (`gatewayStatusTopic`): a `0` from its bridge ends the operation at once
/// with the devices that did not answer offline; a gateway already down gets no command.
#[tokio::test]
async fn a_gateway_reported_down_ends_the_operation_with_its_devices_offline() {
    let m = Mosquitto::start();
    device(m.port, "ok1", "control", "response", Answer::Success).await;
    device(m.port, "mute", "control", "response", Answer::Silent).await;
    publish_retained(m.port, "gw/bridge", "1").await;
    let mut s = step("start", &m.url(), &["ok1", "mute"]);
    s.inputs.push(ResolvedInput {
        name: "gatewayStatusTopic".into(),
        value: "gw/bridge".into(),
        source: InputSource::Own,
        secret: false,
    });
    let slow = NodeMcuConfig {
        other_timeout: Duration::from_secs(60),
        ..config()
    };
    let (first, mut rx) = ctx();
    let t = Instant::now();
    let op = {
        let (slow, s) = (slow.clone(), s.clone());
        tokio::spawn(async move { run_operation(&slow, &s, &first).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    publish_retained(m.port, "gw/bridge", "0").await;
    let err = op.await.unwrap().unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert!(
        err.contains("gateway is down (gw/bridge says 0): 1 of 2 devices did not answer (mute)"),
        "{err}"
    );
    assert_eq!(offline_devices(&mut rx), vec!["mute".to_string()]);

    // Still down when the next operation begins: nothing is sent, nobody answers.
    let (second, mut rx) = ctx();
    let err = run_operation(&slow, &s, &second).await.unwrap_err();
    assert!(err.contains("nothing was sent"), "{err}");
    assert_eq!(offline_devices(&mut rx), vec!["ok1", "mute"]);
}
