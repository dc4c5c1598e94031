//! The Flex4Apps MQTT → InfluxDB connector: subscribes to device topics and writes points to
//! InfluxDB 1.x through its HTTP `/write` line protocol. Measurement from the configuration,
//! tag `device` from a topic segment, fields from the JSON numbers and booleans of the payload
//! (nested keys joined with `_`). Points are batched; while InfluxDB is down they stay in a
//! bounded spool and are retried with backoff, so a restart loses nothing.

use super::normalize::normalize;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to map messages to points.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub broker_host: String,
    pub broker_port: u16,
    /// Topic filters, e.g. `sensors/+`.
    pub topics: Vec<String>,
    pub measurement: String,
    /// Which topic segment (0-based) is the device id.
    pub device_segment: usize,
    /// `host:port` of InfluxDB's HTTP API.
    pub influx: String,
    pub database: String,
    pub batch_size: usize,
    pub flush_interval: Duration,
    /// Most points kept while InfluxDB is unreachable (oldest dropped beyond, counted).
    pub spool_limit: usize,
}

/// Counters.
#[derive(Debug, Default)]
pub struct ConnectorStats {
    pub received: AtomicU64,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub failed_writes: AtomicU64,
}

fn escape_key(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('=', "\\=")
        .replace(' ', "\\ ")
}

/// The line-protocol line of one message (normalised by [`normalize`]), or `None` when it holds
/// no numeric field. The message's own time (TTN's `received_at`) wins over `ts_ns`.
pub fn to_line(cfg: &ConnectorConfig, topic: &str, payload: &[u8], ts_ns: u128) -> Option<String> {
    let n = normalize(topic, payload, cfg.device_segment)?;
    let tags: String = n
        .tags
        .iter()
        .map(|(k, v)| format!(",{}={}", escape_key(k), escape_key(v)))
        .collect();
    let f: Vec<String> = n
        .fields
        .iter()
        .map(|(k, v)| format!("{}={v}", escape_key(k)))
        .collect();
    Some(format!(
        "{}{tags} {} {}",
        escape_key(&cfg.measurement),
        f.join(","),
        n.time_ns.unwrap_or(ts_ns)
    ))
}

async fn post(influx: &str, path_query: &str, body: String) -> Result<u16, String> {
    let tcp = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(influx),
    )
    .await
    .map_err(|_| "connect timeout".to_string())?
    .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::post(path_query)
        .header("host", influx)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

/// Creates the database (idempotent).
pub async fn create_database(influx: &str, db: &str) -> Result<(), String> {
    let q = format!("/query?q=CREATE%20DATABASE%20%22{db}%22");
    match post(influx, &q, String::new()).await? {
        200..=299 => Ok(()),
        s => Err(format!("CREATE DATABASE answered {s}")),
    }
}

/// A running connector.
pub struct Connector {
    pub stats: Arc<ConnectorStats>,
    stop: tokio_util::sync::CancellationToken,
    spool: Arc<Mutex<VecDeque<String>>>,
}

impl Connector {
    pub fn start(cfg: ConnectorConfig) -> Connector {
        Connector::start_with_login(cfg, None)
    }

    /// Like [`Connector::start`], logging in to the broker with (user name, password), as The
    /// Things Network's MQTT server requires (application id, API key).
    pub fn start_with_login(cfg: ConnectorConfig, login: Option<(String, String)>) -> Connector {
        let stats = Arc::new(ConnectorStats::default());
        let stop = tokio_util::sync::CancellationToken::new();
        let spool: Arc<Mutex<VecDeque<String>>> = Arc::new(Mutex::new(VecDeque::new()));
        // Subscriber.
        {
            let (cfg, stats, spool, stop) =
                (cfg.clone(), stats.clone(), spool.clone(), stop.clone());
            tokio::spawn(async move {
                let mut o = MqttOptions::new(
                    format!("provisio-connector-{}", rand::random::<u32>()),
                    cfg.broker_host.clone(),
                    cfg.broker_port,
                );
                o.set_keep_alive(Duration::from_secs(30));
                if let Some((user, password)) = login {
                    o.set_credentials(user, password);
                }
                let (client, mut ev) = AsyncClient::new(o, 64);
                // Subscribed on every CONNACK (also after reconnects) and only there: a second
                // SUBSCRIBE would deliver retained messages twice.
                loop {
                    let e = tokio::select! {
                        _ = stop.cancelled() => return,
                        e = ev.poll() => e,
                    };
                    match e {
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            stats.received.fetch_add(1, Ordering::Relaxed);
                            let ts = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map(|d| d.as_nanos())
                                .unwrap_or(0);
                            if let Some(line) = to_line(&cfg, &p.topic, &p.payload, ts)
                                && let Ok(mut s) = spool.lock()
                            {
                                s.push_back(line);
                                while s.len() > cfg.spool_limit {
                                    s.pop_front();
                                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            for t in &cfg.topics {
                                let _ = client.subscribe(t.clone(), QoS::AtLeastOnce).await;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
                    }
                }
            });
        }
        // Writer.
        {
            let (stats, spool, stop) = (stats.clone(), spool.clone(), stop.clone());
            tokio::spawn(async move {
                let mut backoff = cfg.flush_interval;
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    let batch: Vec<String> = match spool.lock() {
                        Ok(s) => s.iter().take(cfg.batch_size).cloned().collect(),
                        Err(_) => continue,
                    };
                    if batch.is_empty() {
                        backoff = cfg.flush_interval;
                        continue;
                    }
                    let q = format!("/write?db={}&precision=ns", cfg.database);
                    match post(&cfg.influx, &q, batch.join("\n")).await {
                        Ok(204 | 200) => {
                            if let Ok(mut s) = spool.lock() {
                                for _ in 0..batch.len().min(s.len()) {
                                    s.pop_front();
                                }
                            }
                            stats
                                .written
                                .fetch_add(batch.len() as u64, Ordering::Relaxed);
                            backoff = cfg.flush_interval;
                        }
                        _ => {
                            stats.failed_writes.fetch_add(1, Ordering::Relaxed);
                            backoff = (backoff * 2).min(Duration::from_secs(5));
                        }
                    }
                }
            });
        }
        Connector { stats, stop, spool }
    }

    /// Points waiting in the spool (not yet written to InfluxDB).
    pub fn spooled(&self) -> usize {
        self.spool.lock().map(|s| s.len()).unwrap_or(0)
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_becomes_line_protocol() {
        let cfg = ConnectorConfig {
            broker_host: String::new(),
            broker_port: 0,
            topics: vec![],
            measurement: "environment".into(),
            device_segment: 1,
            influx: String::new(),
            database: "d".into(),
            batch_size: 10,
            flush_interval: Duration::from_millis(100),
            spool_limit: 10,
        };
        let l = to_line(
            &cfg,
            "sensors/1345963",
            br#"{"temperature":21.5,"humidity":40,"ok":true,"meta":{"rssi":-60},"name":"x"}"#,
            7,
        )
        .unwrap();
        assert_eq!(
            l,
            "environment,device=1345963 humidity=40.0,meta_rssi=-60.0,ok=true,temperature=21.5 7"
        );
        assert_eq!(
            to_line(&cfg, "sensors/a b", b"3", 1).unwrap(),
            "environment,device=a\\ b value=3.0 1"
        );
        assert!(to_line(&cfg, "sensors/x", br#"{"name":"only text"}"#, 1).is_none());
        assert!(to_line(&cfg, "sensors/x", b"not json", 1).is_none());
    }
}
