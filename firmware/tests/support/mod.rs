//! Real peers for the firmware tests: a small hyper artifact server with Range support that
//! records the requests it saw, and an MQTT observer (rumqttc) that plays the engine: it sends
//! commands on the control topic and collects responses, progress and status messages.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use provisio_firmware::BrokerAddr;
use provisio_model::protocol::{Command, DeviceMessage};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

/// Generous limit for anything to happen on a loaded 2-core CI machine.
pub const WAIT: Duration = Duration::from_secs(60);

/// An ESP8266-like image of `len` bytes: magic byte 0xE9, then a pattern seeded by `seed`.
pub fn image(len: usize, seed: u8) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    v[0] = 0xE9;
    v
}

pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// One request the artifact server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
}

/// A hyper HTTP server on 127.0.0.1 serving fixed files with Content-Length and Range.
pub struct ArtifactServer {
    pub base: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ArtifactServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn serve(
    files: &HashMap<String, Bytes>,
    req: &Request<hyper::body::Incoming>,
    honour_range: bool,
) -> Response<Full<Bytes>> {
    let Some(body) = files.get(req.uri().path()) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::new()))
            .unwrap();
    };
    let start = req
        .headers()
        .get(hyper::header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|_| honour_range);
    match start {
        Some(s) if s < body.len() => Response::builder()
            .status(StatusCode::PARTIAL_CONTENT)
            .header(
                hyper::header::CONTENT_RANGE,
                format!("bytes {s}-{}/{}", body.len() - 1, body.len()),
            )
            .header(hyper::header::CONTENT_LENGTH, body.len() - s)
            .body(Full::new(body.slice(s..)))
            .unwrap(),
        Some(_) => Response::builder()
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .body(Full::new(Bytes::new()))
            .unwrap(),
        None => Response::builder()
            .header(hyper::header::CONTENT_LENGTH, body.len())
            .header("x-MD5", md5_hex(body))
            .body(Full::new(body.clone()))
            .unwrap(),
    }
}

impl ArtifactServer {
    pub async fn start(files: Vec<(&str, Vec<u8>)>) -> Self {
        Self::start_with(files, true).await
    }

    /// Like `start`; with `honour_range` false the server answers every request with the whole
    /// file (200), as servers without Range support do.
    pub async fn start_with(files: Vec<(&str, Vec<u8>)>, honour_range: bool) -> Self {
        let files: Arc<HashMap<String, Bytes>> = Arc::new(
            files
                .into_iter()
                .map(|(p, b)| (format!("/tok/{p}"), Bytes::from(b)))
                .collect(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/tok", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let files = files.clone();
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let range = req
                                .headers()
                                .get(hyper::header::RANGE)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            seen.lock().unwrap().push(Seen {
                                path: req.uri().path().to_owned(),
                                range,
                            });
                            let resp = serve(&files, &req, honour_range);
                            async move { Ok::<_, Infallible>(resp) }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        ArtifactServer { base, seen, task }
    }

    pub fn url(&self, file: &str) -> String {
        format!("{}/{file}", self.base)
    }

    pub fn ranges(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|s| s.range.clone())
            .collect()
    }
}

/// The engine's side of the protocol, on a real broker.
pub struct Observer {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<(String, Bytes)>,
    pub control: String,
    pub response: String,
    /// Progress messages seen: hardware id → (written, total) in order.
    pub progress: HashMap<String, Vec<(u64, u64)>>,
    /// Latest status per hardware id.
    pub status: HashMap<String, String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Observer {
    pub async fn connect(broker: &BrokerAddr, control: &str, response: &str) -> Self {
        let mut opts = MqttOptions::new(
            format!("engine-{}", std::process::id()),
            broker.host.clone(),
            broker.port,
        );
        opts.set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(opts, 1000);
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let mut ready = Some(ready_tx);
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((p.topic.clone(), p.payload.clone()));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        // `response/#` also matches `response` itself (MQTT 3.1.1 §4.7.1.2); a second, overlapping
        // subscription would make some brokers (rumqttd) deliver every message twice.
        client
            .subscribe(format!("{response}/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        tokio::time::timeout(WAIT, ready_rx)
            .await
            .expect("observer subscribed")
            .unwrap();
        Observer {
            client,
            rx,
            control: control.into(),
            response: response.into(),
            progress: HashMap::new(),
            status: HashMap::new(),
            task,
        }
    }

    pub async fn send(&self, cmd: &Command) {
        self.send_raw(serde_json::to_vec(cmd).unwrap()).await;
    }

    pub async fn send_raw(&self, payload: Vec<u8>) {
        self.client
            .publish(self.control.clone(), QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }

    /// Handle one message; returns a response as (hardware id, text).
    fn take(&mut self, topic: &str, payload: &[u8]) -> Option<(String, String)> {
        let status_prefix = format!("{}/status/", self.response);
        if let Some(id) = topic.strip_prefix(&status_prefix) {
            self.status
                .insert(id.to_owned(), String::from_utf8_lossy(payload).into_owned());
            return None;
        }
        if topic != self.response {
            return None;
        }
        match serde_json::from_slice::<DeviceMessage>(payload).ok()? {
            DeviceMessage::Response {
                response,
                hardware_id,
            } => Some((hardware_id, response)),
            DeviceMessage::Progress {
                hardware_id,
                written,
                total,
            } => {
                self.progress
                    .entry(hardware_id)
                    .or_default()
                    .push((written, total));
                None
            }
        }
    }

    /// Collect responses until every id in `ids` answered, or `timeout` passed.
    pub async fn responses(&mut self, ids: &[&str], timeout: Duration) -> HashMap<String, String> {
        let deadline = Instant::now() + timeout;
        let mut got = HashMap::new();
        while !ids.iter().all(|id| got.contains_key(*id)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some((topic, payload))) => {
                    if let Some((id, r)) = self.take(&topic, &payload) {
                        got.insert(id, r);
                    }
                }
                _ => break,
            }
        }
        got
    }

    /// Read whatever arrives within `d` (responses included) and return the responses.
    pub async fn drain(&mut self, d: Duration) -> HashMap<String, String> {
        self.responses(&["\u{0}never"], d).await
    }

    /// Wait until `id`'s retained status is `value`.
    pub async fn wait_status(&mut self, id: &str, value: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.status.get(id).map(String::as_str) != Some(value) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some((topic, payload))) => {
                    self.take(&topic, &payload);
                }
                _ => return false,
            }
        }
        true
    }
}
