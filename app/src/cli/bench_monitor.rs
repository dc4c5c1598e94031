//! `provisio bench monitor [--messages N]`: figures for the Flex4Apps monitoring pieces on this
//! machine: normalising The Things Network uplinks, MQTT throughput through the activity tap
//! against the same broker without it (with every PUBLISH record counted at the receiver), and
//! connector points per second into a real InfluxDB when `influxd` is installed.

use provisio_engines::broker::EmbeddedBroker;
use provisio_engines::monitoring::influx::{Connector, ConnectorConfig, create_database, to_line};
use provisio_engines::monitoring::sink::{LineReceiver, RecordSink};
use provisio_engines::monitoring::tap::Tap;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const UPLINK: &str = include_str!("../../../engines/tests/fixtures/ttn/v3-uplink-dev1.json");

fn config(measurement: &str) -> ConnectorConfig {
    ConnectorConfig {
        broker_host: "127.0.0.1".into(),
        broker_port: 0,
        topics: vec!["bench/+".into()],
        measurement: measurement.into(),
        device_segment: 1,
        influx: String::new(),
        database: "bench".into(),
        batch_size: 5000,
        flush_interval: Duration::from_millis(100),
        spool_limit: 1_000_000,
    }
}

async fn client(addr: SocketAddr, id: &str) -> Result<(AsyncClient, rumqttc::EventLoop), String> {
    let mut o = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    o.set_keep_alive(Duration::from_secs(30));
    o.set_inflight(200);
    let (c, mut ev) = AsyncClient::new(o, 1000);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if Instant::now() > deadline {
            return Err(format!("no CONNACK from {addr}"));
        }
        match ev.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok((c, ev)),
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Publishes `n` readings to `via` (QoS 1) and returns the time until a subscriber on
/// `broker` has all of them.
async fn publish_n(
    via: SocketAddr,
    broker: SocketAddr,
    n: usize,
    tag: &str,
) -> Result<Duration, String> {
    let (sub, mut sev) = client(broker, &format!("bench-sub-{tag}")).await?;
    sub.subscribe("bench/+", QoS::AtLeastOnce)
        .await
        .map_err(|e| e.to_string())?;
    loop {
        if let Ok(Event::Incoming(Packet::SubAck(_))) = sev.poll().await {
            break;
        }
    }
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    let counter = tokio::spawn(async move {
        let _keep = sub;
        while let Ok(e) = sev.poll().await {
            if let Event::Incoming(Packet::Publish(_)) = e {
                g.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let (publ, mut pev) = client(via, &format!("bench-pub-{tag}")).await?;
    let pump = tokio::spawn(async move { while pev.poll().await.is_ok() {} });
    let t = Instant::now();
    for i in 0..n {
        publ.publish(
            format!("bench/dev{}", i % 10),
            QoS::AtLeastOnce,
            false,
            format!(
                r#"{{"temperature":{}.5,"humidity":{}}}"#,
                20 + i % 5,
                40 + i % 7
            ),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while got.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {n} arrived",
                got.load(Ordering::Relaxed)
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = t.elapsed();
    counter.abort();
    pump.abort();
    Ok(took)
}

fn rate(n: usize, d: Duration) -> String {
    format!(
        "{:.0}/s ({:.1} ms for {n})",
        n as f64 / d.as_secs_f64(),
        d.as_secs_f64() * 1000.0
    )
}

async fn bench(n: usize) -> Result<(), String> {
    // 1. Normalisation alone.
    let cfg = config("ttn");
    let t = Instant::now();
    let mut bytes = 0;
    for i in 0..n {
        bytes += to_line(
            &cfg,
            "v3/app1@ttn/devices/dev1/up",
            UPLINK.as_bytes(),
            i as u128,
        )
        .map_or(0, |l| l.len());
    }
    let d = t.elapsed();
    outln!(
        "normalise TTN v3 uplinks ({} B each) to line protocol: {} ({bytes} B of lines)",
        UPLINK.len(),
        rate(n, d)
    );
    // 2. The tap: same broker, with and without it.
    let broker = EmbeddedBroker::start("127.0.0.1".parse().map_err(|_| "ip")?, 64)
        .map_err(|e| e.to_string())?
        .addr();
    let direct = publish_n(broker, broker, n, "direct").await?;
    let rx = LineReceiver::start("127.0.0.1:0".parse().map_err(|_| "ip")?)
        .await
        .map_err(|e| e.to_string())?;
    let sink = RecordSink::start(rx.addr.to_string(), n + 100);
    let tap = Tap::start(
        "127.0.0.1:0".parse().map_err(|_| "ip")?,
        broker,
        sink.clone(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let tapped = publish_n(tap.addr, broker, n, "tap").await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let publishes = || {
        rx.snapshot()
            .iter()
            .filter(|l| l.contains("\"action\":\"PUBLISH\""))
            .count()
    };
    while publishes() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    outln!(
        "MQTT QoS 1 publish → subscriber, embedded broker, direct: {}",
        rate(n, direct)
    );
    outln!(
        "                                         through the tap: {} ({:.2}× direct)",
        rate(n, tapped),
        tapped.as_secs_f64() / direct.as_secs_f64()
    );
    outln!(
        "PUBLISH records at the receiver: {} of {n}, dropped {}",
        publishes(),
        sink.stats.dropped.load(Ordering::Relaxed)
    );
    tap.shutdown();
    // 3. The connector into a real InfluxDB, if installed.
    let Some(influx) = Influxd::start() else {
        outln!("connector → InfluxDB: skipped (no /usr/bin/influxd)");
        return Ok(());
    };
    create_database(&influx.addr, "bench").await?;
    let mut cfg = config("environment");
    cfg.broker_port = broker.port();
    cfg.influx = influx.addr.clone();
    let connector = Connector::start(cfg);
    tokio::time::sleep(Duration::from_millis(500)).await; // subscribed
    let t = Instant::now();
    let (publ, mut pev) = client(broker, "bench-connector-pub").await?;
    let pump = tokio::spawn(async move { while pev.poll().await.is_ok() {} });
    for i in 0..n {
        publ.publish(
            format!("bench/dev{}", i % 10),
            QoS::AtLeastOnce,
            false,
            format!(r#"{{"temperature":{}.5}}"#, i % 30),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while (connector.stats.written.load(Ordering::Relaxed) as usize) < n {
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let d = t.elapsed();
    outln!(
        "connector publish → InfluxDB /write acknowledged: {} (written {}, dropped {})",
        rate(n, d),
        connector.stats.written.load(Ordering::Relaxed),
        connector.stats.dropped.load(Ordering::Relaxed)
    );
    connector.stop();
    pump.abort();
    Ok(())
}

/// A throwaway influxd on free loopback ports.
struct Influxd {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Influxd {
    fn start() -> Option<Influxd> {
        let bin = std::path::Path::new("/usr/bin/influxd");
        if !bin.exists() {
            return None;
        }
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .ok()
        };
        let (port, rpc) = (free()?, free()?);
        let dir = tempfile::tempdir().ok()?;
        let d = dir.path().display();
        let conf = dir.path().join("influxdb.conf");
        std::fs::write(
            &conf,
            format!("reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n[http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n[monitor]\n  store-enabled = false\n"),
        )
        .ok()?;
        let child = std::process::Command::new(bin)
            .arg("-config")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let i = Influxd {
            child,
            addr: format!("127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(i)
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(messages: usize) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: {e}");
            return 2;
        }
    };
    match rt.block_on(bench(messages.max(1))) {
        Ok(()) => 0,
        Err(e) => {
            errln!("error: {e}");
            1
        }
    }
}
