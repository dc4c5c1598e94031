//! The MQTT → InfluxDB connector against a real InfluxDB 1.x (Debian's influxd, started by the
//! test) and a real Mosquitto: points are written and read back with a query, and stopping
//! InfluxDB mid-stream loses nothing (the spool is written after the restart).

mod common;
use common::Mosquitto;
use provisio_engines::monitoring::influx::{Connector, ConnectorConfig, create_database};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Influx {
    child: Option<Child>,
    conf: std::path::PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Influx {
    fn start() -> Influx {
        assert!(
            std::path::Path::new("/usr/bin/influxd").exists(),
            "influxd is not installed (apt-get install influxdb)"
        );
        let dir = tempfile::tempdir().unwrap();
        let (port, rpc) = (free_port(), free_port());
        let d = dir.path().display();
        let conf = dir.path().join("influxdb.conf");
        std::fs::write(
            &conf,
            format!("reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n[http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n[monitor]\n  store-enabled = false\n"),
        )
        .unwrap();
        let mut i = Influx {
            child: None,
            conf,
            port,
            _dir: dir,
        };
        i.up();
        i
    }

    fn up(&mut self) {
        let child = Command::new("/usr/bin/influxd")
            .arg("-config")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "influxd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Influx {
    fn drop(&mut self) {
        self.down();
    }
}

async fn count(influx: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(influx).await else {
        return 0;
    };
    let q = "/query?db=flex4apps&q=SELECT%20count(temperature)%20FROM%20environment";
    let _ = s
        .write_all(
            format!("GET {q} HTTP/1.1\r\nHost: {influx}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    let Some(body) = text.split("\r\n\r\n").nth(1) else {
        return 0;
    };
    let json = body.lines().find(|l| l.starts_with('{')).unwrap_or(body);
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    v["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_are_written_and_survive_an_influxdb_restart() {
    let m = Mosquitto::start();
    let mut influx = Influx::start();
    create_database(&influx.addr(), "flex4apps").await.unwrap();
    let connector = Connector::start(ConnectorConfig {
        broker_host: "127.0.0.1".into(),
        broker_port: m.port,
        topics: vec!["sensors/+".into()],
        measurement: "environment".into(),
        device_segment: 1,
        influx: influx.addr(),
        database: "flex4apps".into(),
        batch_size: 100,
        flush_interval: Duration::from_millis(100),
        spool_limit: 10_000,
    });
    let mut o = MqttOptions::new("sensor-publisher", "127.0.0.1", m.port);
    o.set_keep_alive(Duration::from_secs(30));
    let (client, mut ev) = AsyncClient::new(o, 64);
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    tokio::time::sleep(Duration::from_millis(500)).await; // connector subscribed
    let publish = |from: usize, to: usize| {
        let c = client.clone();
        async move {
            for i in from..to {
                let payload = format!(
                    r#"{{"temperature":{}.5,"humidity":{}}}"#,
                    20 + i % 5,
                    40 + i % 3
                );
                c.publish(
                    format!("sensors/dev{}", i % 3),
                    QoS::AtLeastOnce,
                    false,
                    payload,
                )
                .await
                .unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    publish(0, 30).await;
    let wait = |n: u64, addr: String| async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let c = count(&addr).await;
            if c >= n || Instant::now() > deadline {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    assert_eq!(wait(30, influx.addr()).await, 30);
    // InfluxDB goes away; readings keep coming; nothing is lost after it is back.
    influx.down();
    publish(30, 60).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        connector
            .stats
            .failed_writes
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    influx.up();
    assert_eq!(wait(60, influx.addr()).await, 60);
    assert_eq!(
        connector
            .stats
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    connector.stop();
}
