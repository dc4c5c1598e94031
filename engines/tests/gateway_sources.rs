//! Gateway adapters against real peers: the HomeMatic adapter reads a CCU emulator (Python's
//! xmlrpc.server speaking the CCU's XML-RPC methods, a subprocess on loopback) and the poller
//! publishes one topic per device to a real Mosquitto; the powerfox adapter reads a small local
//! HTTP server with basic authentication through the same `Source` interface.

#[path = "common/ccu.rs"]
mod ccu;
mod common;
use ccu::Ccu;
use common::Mosquitto;
use provisio_engines::monitoring::sources::homematic::HomeMatic;
use provisio_engines::monitoring::sources::powerfox::Powerfox;
use provisio_engines::monitoring::sources::{Poller, PollerConfig, Source};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn subscriber(
    port: u16,
    filter: &str,
) -> tokio::sync::mpsc::UnboundedReceiver<(String, Value)> {
    let mut o = MqttOptions::new(format!("sub-{}", rand_id()), "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    let (c, mut ev) = AsyncClient::new(o, 64);
    loop {
        if let Ok(Event::Incoming(Packet::ConnAck(_))) = ev.poll().await {
            break;
        }
    }
    c.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    loop {
        if let Ok(Event::Incoming(Packet::SubAck(_))) = ev.poll().await {
            break;
        }
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _keep = c;
        while let Ok(e) = ev.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = e {
                let v = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                let _ = tx.send((p.topic, v));
            }
        }
    });
    rx
}

fn rand_id() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn homematic_meters_are_published_one_topic_per_device() {
    let m = Mosquitto::start();
    let ccu = Ccu::start();
    let mut rx = subscriber(m.port, "homematic/#").await;
    let poller = Poller::start(
        HomeMatic::new(&ccu.url(), vec![]).unwrap(),
        PollerConfig {
            broker_host: "127.0.0.1".into(),
            broker_port: m.port,
            topic_prefix: "homematic".into(),
            interval: Duration::from_millis(200),
            login: None,
        },
    );
    let mut got: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.values().filter(|v| v.len() >= 2).count() < 2 {
        assert!(Instant::now() < deadline, "{got:#?}");
        if let Ok(Some((t, v))) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await
        {
            got.entry(t).or_default().push(v);
        }
    }
    // The unreachable device (all channels fault) publishes nothing; the others one topic each.
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        ["homematic/MEQ0123456", "homematic/NEQ0765432"]
    );
    let meq = &got["homematic/MEQ0123456"];
    assert_eq!(meq[0]["POWER"], 350.25);
    assert_eq!(meq[0]["GAS_ENERGY_COUNTER"], 12.5);
    assert_eq!(meq[0]["UNREACH"], false);
    assert_eq!(meq[0]["RSSI_DEVICE"], -65);
    assert_eq!(meq[0]["BOOT"], false);
    // Meter counters advance from poll to poll.
    let e0 = meq[0]["ENERGY_COUNTER"].as_f64().unwrap();
    let e1 = meq[1]["ENERGY_COUNTER"].as_f64().unwrap();
    assert!(e1 > e0 && e0 > 1000.0, "{e0} {e1}");
    let neq = &got["homematic/NEQ0765432"];
    assert_eq!(neq[0]["STATE"], true);
    assert_eq!(neq[0]["VOLTAGE"], 230.1);
    assert_eq!(neq[0]["RSSI_DEVICE"], -48);
    assert!(neq[0]["ENERGY_COUNTER"].as_f64().unwrap() > 2000.0);
    let stats = &poller.stats;
    assert_eq!(stats.failed.load(std::sync::atomic::Ordering::Relaxed), 0);
    poller.stop().await;
}

#[tokio::test]
async fn homematic_device_filter_and_a_vanished_ccu() {
    let ccu = Ccu::start();
    let mut hm = HomeMatic::new(&ccu.url(), vec!["NEQ0765432".into()]).unwrap();
    let channels = hm.list().await.unwrap();
    assert_eq!(
        channels
            .iter()
            .map(|c| c.address.as_str())
            .collect::<Vec<_>>(),
        ["NEQ0765432:0", "NEQ0765432:1", "NEQ0765432:2"]
    );
    let r = hm.poll().await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].device, "NEQ0765432");
    assert_eq!(r[0].values["FREQUENCY"], 50.01);
    drop(ccu);
    let e = hm.poll().await.unwrap_err();
    assert!(
        e.contains("getParamset NEQ0765432:0") || e.contains("listDevices"),
        "{e}"
    );
    // The next poll re-lists: still a clear error, no panic.
    let e = hm.poll().await.unwrap_err();
    assert!(e.starts_with("listDevices: "), "{e}");
}

/// A CCU with XML-RPC authentication on: with the right login the poller publishes its meters;
/// without one, or with a wrong password, each poll fails with a clear 401 error naming the
/// CCU's URL, and no error or name holds a password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn homematic_with_authentication_publishes_and_refusals_are_clear() {
    let m = Mosquitto::start();
    let ccu = Ccu::start_with_auth("admin", "ccu-Pa55:w0rd ü");
    let mut rx = subscriber(m.port, "homematic/#").await;
    let source = HomeMatic::new(&ccu.url(), vec!["NEQ0765432".into()])
        .unwrap()
        .with_login(Some(("admin".into(), "ccu-Pa55:w0rd ü".into())));
    assert!(!source.name().contains("Pa55"), "{}", source.name());
    let poller = Poller::start(
        source,
        PollerConfig {
            broker_host: "127.0.0.1".into(),
            broker_port: m.port,
            topic_prefix: "homematic".into(),
            interval: Duration::from_millis(200),
            login: None,
        },
    );
    let (topic, v) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no reading; last error {:?}", poller.last_error()))
        .unwrap();
    assert_eq!(topic, "homematic/NEQ0765432");
    assert_eq!(v["VOLTAGE"], 230.1);
    assert_eq!(
        poller
            .stats
            .failed
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    poller.stop().await;

    // No login: the CCU's answer is explained, naming the URL.
    let mut none = HomeMatic::new(&ccu.url(), vec![]).unwrap();
    let e = none.poll().await.unwrap_err();
    assert!(
        e.starts_with("listDevices: HTTP status 401")
            && e.contains(&ccu.url())
            && e.contains("authentication"),
        "{e}"
    );
    // A wrong password: 401 naming the URL and the user, never the password.
    let mut wrong = HomeMatic::new(&ccu.url(), vec![])
        .unwrap()
        .with_login(Some(("admin".into(), "Wr0ng-secret".into())));
    for _ in 0..2 {
        let e = wrong.poll().await.unwrap_err();
        assert!(
            e.contains("HTTP status 401") && e.contains(&ccu.url()) && e.contains("\"admin\""),
            "{e}"
        );
        assert!(!e.contains("Wr0ng") && !e.contains("Pa55"), "{e}");
        assert!(!wrong.name().contains("Wr0ng"), "{}", wrong.name());
    }
    // The right password on the same CCU still reads (the refusals changed nothing).
    let mut right = HomeMatic::new(&ccu.url(), vec!["MEQ0123456".into()])
        .unwrap()
        .with_login(Some(("admin".into(), "ccu-Pa55:w0rd ü".into())));
    let r = right.poll().await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].values["POWER"], 350.25);
}

/// Answers one powerfox-style request: `GET /api/2.0/my/<id>/current` with basic auth `u:secret`.
async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S) {
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf[n..]).await {
            Ok(0) | Err(_) => return,
            Ok(k) => n += k,
        }
    }
    let req = String::from_utf8_lossy(&buf[..n]).to_lowercase();
    let path = req
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    // base64("u:secret")
    let authed = req.contains("authorization: basic dtpzzwnyzxq=");
    let (status, body) = if !authed {
        ("401 Unauthorized", String::new())
    } else if path == "/api/2.0/my/main/current" {
        (
            "200 OK",
            r#"{"Outdated":false,"Watt":350,"Timestamp":1588346453,"A_Plus":1234.5,"A_Minus":0.0}"#
                .to_string(),
        )
    } else if path == "/api/2.0/my/old/current" {
        (
            "200 OK",
            r#"{"Outdated":true,"Watt":0,"Timestamp":1}"#.to_string(),
        )
    } else {
        ("404 Not Found", String::new())
    };
    let _ = s
        .write_all(
            format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await;
    let _ = s.shutdown().await;
}

/// A powerfox-style REST server on loopback (plain HTTP).
async fn powerfox_server() -> (u16, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve(s));
        }
    });
    (port, task)
}

/// The same over TLS with a self-signed certificate for `localhost`; returns its PEM too.
async fn powerfox_tls_server() -> (u16, String, tokio::task::JoinHandle<()>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = ck.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let a = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = a.accept(s).await {
                    serve(tls).await;
                }
            });
        }
    });
    (port, pem, task)
}

#[tokio::test]
async fn powerfox_over_https_checks_the_server_certificate() {
    let (port, pem, server) = powerfox_tls_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let api = format!("https://localhost:{port}/api/2.0");
    let login = || (Some("u".to_string()), Some("secret".to_string()));
    let (u, p) = login();
    let mut trusted = Powerfox::new(&api, vec![], u, p)
        .unwrap()
        .with_ca_file(Some(ca.clone()));
    let r = trusted.poll().await.unwrap();
    assert_eq!(r[0].values["Watt"], 350);
    // The system bundle does not know this self-signed certificate: refused, clearly.
    let (u, p) = login();
    let mut untrusted = Powerfox::new(&api, vec![], u, p).unwrap();
    let e = untrusted.poll().await.unwrap_err();
    assert!(
        e.contains("TLS") && e.to_lowercase().contains("certificate"),
        "{e}"
    );
    // A name the certificate does not carry is refused too.
    let (u, p) = login();
    let mut wrong_name = Powerfox::new(&format!("https://127.0.0.1:{port}/api/2.0"), vec![], u, p)
        .unwrap()
        .with_ca_file(Some(ca));
    let e = wrong_name.poll().await.unwrap_err();
    assert!(e.contains("TLS"), "{e}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn powerfox_readings_through_the_same_interface() {
    let (port, server) = powerfox_server().await;
    let api = format!("http://127.0.0.1:{port}/api/2.0");
    let mut pf = Powerfox::new(
        &api,
        vec!["main".into(), "old".into()],
        Some("u".into()),
        Some("secret".into()),
    )
    .unwrap();
    let r = pf.poll().await.unwrap();
    assert_eq!(r.len(), 1, "the outdated device is skipped: {r:?}");
    assert_eq!(r[0].device, "main");
    assert_eq!(r[0].values["Watt"], 350);
    assert_eq!(r[0].values["A_Plus"], 1234.5);
    assert!(!r[0].values.contains_key("Timestamp"));
    let mut wrong = Powerfox::new(&api, vec![], Some("u".into()), Some("guess".into())).unwrap();
    let e = wrong.poll().await.unwrap_err();
    assert!(e.contains("401") && !e.contains("guess"), "{e}");
    // Through the poller onto the broker.
    let m = Mosquitto::start();
    let mut rx = subscriber(m.port, "energy/#").await;
    let poller = Poller::start(
        pf,
        PollerConfig {
            broker_host: "127.0.0.1".into(),
            broker_port: m.port,
            topic_prefix: "energy".into(),
            interval: Duration::from_millis(200),
            login: None,
        },
    );
    let (topic, v) = tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(topic, "energy/main");
    assert_eq!(v["Watt"], 350);
    poller.stop().await;
    server.abort();
}
