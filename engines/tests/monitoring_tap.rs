//! The MQTT tap in front of a real Mosquitto, with records arriving at a real TCP receiver:
//! connect/subscribe/publish/disconnect produce the documented records; with the receiver down
//! MQTT traffic is unaffected and records flow again once it is back.

mod common;
use common::Mosquitto;
use provisio_engines::monitoring::sink::{LineReceiver, RecordSink};
use provisio_engines::monitoring::tap::Tap;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use std::time::{Duration, Instant};

async fn wait_for(rx: &LineReceiver, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = rx.snapshot();
        if lines.len() >= n || Instant::now() > deadline {
            return lines
                .iter()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn client(port: u16, id: &str) -> (AsyncClient, rumqttc::EventLoop) {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    let (c, mut ev) = AsyncClient::new(o, 16);
    loop {
        if let Ok(Event::Incoming(Packet::ConnAck(_))) = ev.poll().await {
            break;
        }
    }
    (c, ev)
}

#[tokio::test]
async fn records_for_connect_subscribe_publish_disconnect() {
    let m = Mosquitto::start();
    let rx = LineReceiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let sink = RecordSink::start(rx.addr.to_string(), 1000);
    let tap = Tap::start(
        "127.0.0.1:0".parse().unwrap(),
        format!("127.0.0.1:{}", m.port).parse().unwrap(),
        sink.clone(),
    )
    .await
    .unwrap();
    let (c, mut ev) = client(tap.addr.port(), "dev1").await;
    c.subscribe("a/#", QoS::AtLeastOnce).await.unwrap();
    c.publish("a/b", QoS::AtLeastOnce, false, "msg")
        .await
        .unwrap();
    // The publish comes back through the subscription: MQTT works through the tap.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no message through the tap");
        if let Ok(Event::Incoming(Packet::Publish(p))) = ev.poll().await {
            assert_eq!(&p.payload[..], b"msg");
            break;
        }
    }
    c.disconnect().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while ev.poll().await.is_ok() {}
    })
    .await;
    let recs = wait_for(&rx, 5).await;
    let m_ = |i: usize| recs[i]["mqtt"].clone();
    let actions: Vec<&str> = recs
        .iter()
        .map(|r| r["mqtt"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["STARTUP", "CONNECT", "SUBSCRIBE", "PUBLISH", "DISCONNECT"],
        "{recs:#?}"
    );
    assert_eq!(m_(1)["clientID"], "dev1");
    assert_eq!(m_(1)["success"], true);
    assert_eq!(m_(1)["state"], "ACCEPTED");
    assert_eq!(m_(1)["clientIP"], "127.0.0.1");
    assert_eq!(m_(1)["port"], tap.addr.port());
    assert_eq!(m_(2)["topic"], "a/#");
    assert_eq!(m_(3)["topic"], "a/b");
    assert_eq!(m_(3)["payload"], "bXNn");
    assert!(m_(3)["tsUTC"].as_str().unwrap().ends_with("Z (GMT)"));
    // Key order is the broker's.
    let line = rx.snapshot()[3].clone();
    let order = [
        "\"action\"",
        "\"topic\"",
        "\"clientIP\"",
        "\"port\"",
        "\"clientID\"",
        "\"tsUTC\"",
        "\"tsLocal\"",
        "\"payload\"",
    ];
    let pos: Vec<usize> = order.iter().map(|k| line.find(k).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{line}");
}

#[tokio::test]
async fn receiver_down_does_not_block_mqtt_and_records_resume() {
    let m = Mosquitto::start();
    // A receiver port that nobody listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sink = RecordSink::start(format!("127.0.0.1:{port}"), 4);
    let tap = Tap::start(
        "127.0.0.1:0".parse().unwrap(),
        format!("127.0.0.1:{}", m.port).parse().unwrap(),
        sink.clone(),
    )
    .await
    .unwrap();
    let (c, mut ev) = client(tap.addr.port(), "dev2").await;
    // The event loop runs in the background, as in any MQTT client.
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    let t = Instant::now();
    for i in 0..50 {
        c.publish("x", QoS::AtMostOnce, false, format!("{i}"))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "MQTT was slowed down: {:?}",
        t.elapsed()
    );
    assert!(
        sink.stats
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "records beyond the queue are counted as dropped"
    );
    // The receiver comes up: the sink reconnects and new records arrive.
    let rx = LineReceiver::start(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if rx
            .snapshot()
            .iter()
            .any(|l| l.contains("\"topic\":\"after\""))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "records did not resume: {:?}",
            rx.snapshot()
        );
        c.publish("after", QoS::AtMostOnce, false, "x")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_refused_connect_is_recorded_with_its_code() {
    // Mosquitto with a password file and no anonymous access.
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwd");
    let st = std::process::Command::new("mosquitto_passwd")
        .arg("-c")
        .arg("-b")
        .arg(&pw)
        .args(["dev", "right-pass"])
        .status()
        .expect("mosquitto_passwd");
    assert!(st.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.path().join("m.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence false\n", pw.display())).unwrap();
    let mut child = std::process::Command::new("/usr/sbin/mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let rx = LineReceiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let sink = RecordSink::start(rx.addr.to_string(), 100);
    let tap = Tap::start(
        "127.0.0.1:0".parse().unwrap(),
        format!("127.0.0.1:{port}").parse().unwrap(),
        sink,
    )
    .await
    .unwrap();
    let mut o = MqttOptions::new("intruder", "127.0.0.1", tap.addr.port());
    o.set_credentials("dev", "wrong-pass");
    let (_c, mut ev) = AsyncClient::new(o, 4);
    let _ = tokio::time::timeout(Duration::from_secs(2), ev.poll()).await;
    let recs = wait_for(&rx, 2).await;
    let _ = child.kill();
    let _ = child.wait();
    let connect = recs
        .iter()
        .find(|r| r["mqtt"]["action"] == "CONNECT")
        .unwrap_or_else(|| panic!("{recs:#?}"));
    assert_eq!(connect["mqtt"]["clientID"], "intruder");
    assert_eq!(connect["mqtt"]["success"], false);
    assert_eq!(connect["mqtt"]["state"], "REFUSED");
    let code = connect["mqtt"]["errCode"].as_u64().unwrap();
    assert!(code == 4 || code == 5, "{connect}");
    assert!(
        connect["mqtt"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("CONNACK_REFUSED_")
    );
    assert!(
        !recs.iter().any(|r| r.to_string().contains("wrong-pass")),
        "credentials are not recorded"
    );
}
