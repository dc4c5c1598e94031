//! Flex4Apps data sources behind one small adapter interface (D3.5 §5.1/§5.2): a [`Source`]
//! returns the current readings of its devices when polled; the [`Poller`] polls it at an
//! interval and publishes each reading as flat JSON on one topic per device
//! (`<prefix>/<device>`), where the connector picks it up. Adapters: `homematic` (a CCU over
//! XML-RPC) and `powerfox` (an online REST source).

pub mod homematic;
pub mod http;
pub mod powerfox;
pub mod xmlrpc;

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, QoS};
use serde_json::{Map, Value};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The values of one device at one poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub device: String,
    /// Numbers and booleans, keyed by field name.
    pub values: Map<String, Value>,
}

/// A data source the poller can ask for readings.
pub trait Source: Send {
    /// Short description for status lines, e.g. `HomeMatic CCU http://ccu:2001/`.
    fn name(&self) -> String;
    /// The current readings; an error fails this poll only (the next one retries).
    fn poll(&mut self) -> impl Future<Output = Result<Vec<Reading>, String>> + Send;
}

/// The device part of a topic: MQTT wildcards, separators and spaces become `_`.
pub fn topic_segment(device: &str) -> String {
    device
        .chars()
        .map(|c| {
            if matches!(c, '/' | '+' | '#') || c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Where and how often to publish.
#[derive(Debug, Clone)]
pub struct PollerConfig {
    pub broker_host: String,
    pub broker_port: u16,
    /// Readings go to `<topic_prefix>/<device>`.
    pub topic_prefix: String,
    pub interval: Duration,
    /// Broker login (user name, password), if the broker wants one.
    pub login: Option<(String, String)>,
}

/// Counters of a poller.
#[derive(Debug, Default)]
pub struct PollerStats {
    pub polls: AtomicU64,
    pub failed: AtomicU64,
    /// Readings handed to the MQTT client.
    pub published: AtomicU64,
    /// Readings dropped because the client's queue was full (broker away for long).
    pub dropped: AtomicU64,
}

/// A running poller.
pub struct Poller {
    pub stats: Arc<PollerStats>,
    last_error: Arc<Mutex<Option<String>>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Poller {
    pub fn start<S: Source + 'static>(mut source: S, cfg: PollerConfig) -> Poller {
        let stats = Arc::new(PollerStats::default());
        let last_error = Arc::new(Mutex::new(None));
        let stop = CancellationToken::new();
        let mut o = MqttOptions::new(
            format!("provisio-poller-{}", rand::random::<u32>()),
            cfg.broker_host.clone(),
            cfg.broker_port,
        );
        o.set_keep_alive(Duration::from_secs(30));
        if let Some((user, password)) = cfg.login.clone() {
            o.set_credentials(user, password);
        }
        let (client, mut ev) = AsyncClient::new(o, 1000);
        let events_stop = stop.clone();
        let events = tokio::spawn(async move {
            loop {
                match ev.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
                    Ok(_) => {}
                    Err(_) if events_stop.is_cancelled() => return,
                    Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
                }
            }
        });
        let (st, le, s) = (stats.clone(), last_error.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(cfg.interval);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = s.cancelled() => break,
                    _ = interval.tick() => {}
                }
                let result = tokio::select! {
                    _ = s.cancelled() => break,
                    r = source.poll() => r,
                };
                st.polls.fetch_add(1, Ordering::Relaxed);
                match result {
                    Ok(readings) => {
                        if let Ok(mut e) = le.lock() {
                            *e = None;
                        }
                        for r in readings {
                            let topic =
                                format!("{}/{}", cfg.topic_prefix, topic_segment(&r.device));
                            let payload = Value::Object(r.values).to_string();
                            match client.try_publish(topic, QoS::AtLeastOnce, false, payload) {
                                Ok(()) => st.published.fetch_add(1, Ordering::Relaxed),
                                Err(_) => st.dropped.fetch_add(1, Ordering::Relaxed),
                            };
                        }
                    }
                    Err(e) => {
                        st.failed.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut l) = le.lock() {
                            *l = Some(e);
                        }
                    }
                }
            }
            // Queued publishes go out before the DISCONNECT.
            let _ = client.try_disconnect();
            let _ = tokio::time::timeout(Duration::from_secs(3), events).await;
        });
        Poller {
            stats,
            last_error,
            stop,
            task,
        }
    }

    /// The error of the last poll, if it failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Stops polling and waits (≤ 3 s) until queued readings are sent.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}
