//! Sending activity records to a Logstash-style TCP input (newline-delimited JSON). Never
//! blocks the caller: a bounded queue; records that do not fit, or arrive while the receiver is
//! down and the queue is full, are dropped and counted; the connection is re-established with
//! backoff. Plus a small line receiver (tests, and a monitor view).

use super::record::Record;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// The record target from `HICAP_HOST` (127.0.0.1) and `HICAP_PORT` (12345).
pub fn target_from_env() -> String {
    let host = std::env::var("HICAP_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("HICAP_PORT").unwrap_or_else(|_| "12345".into());
    format!("{host}:{port}")
}

/// Counters of a sink.
#[derive(Debug, Default)]
pub struct SinkStats {
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    pub reconnects: AtomicU64,
}

/// A record sender.
#[derive(Clone)]
pub struct RecordSink {
    tx: tokio::sync::mpsc::Sender<String>,
    pub stats: Arc<SinkStats>,
}

impl RecordSink {
    /// Starts sending to `target` (`host:port`) with a queue of `capacity` records.
    pub fn start(target: String, capacity: usize) -> RecordSink {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(capacity.max(1));
        let stats = Arc::new(SinkStats::default());
        let st = stats.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            let mut pending: Option<String> = None;
            loop {
                let mut conn = match tokio::net::TcpStream::connect(&target).await {
                    Ok(c) => {
                        backoff = Duration::from_millis(100);
                        c
                    }
                    Err(_) => {
                        // While the receiver is down, keep the newest records in the queue;
                        // what does not fit is dropped by `send`.
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        if rx.is_closed() && rx.is_empty() {
                            return;
                        }
                        continue;
                    }
                };
                st.reconnects.fetch_add(1, Ordering::Relaxed);
                loop {
                    let line = match pending.take() {
                        Some(l) => l,
                        None => match rx.recv().await {
                            Some(l) => l,
                            None => return,
                        },
                    };
                    if conn.write_all(line.as_bytes()).await.is_err() {
                        pending = Some(line);
                        break;
                    }
                    st.sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        RecordSink { tx, stats }
    }

    /// Records queued and not yet taken by the sender.
    pub fn pending(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Queues a record; never waits. Returns false when it was dropped.
    pub fn send(&self, r: &Record) -> bool {
        match self.tx.try_send(r.to_line()) {
            Ok(()) => true,
            Err(_) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// Collects newline-delimited lines on a TCP port.
pub struct LineReceiver {
    pub addr: SocketAddr,
    pub lines: Arc<Mutex<Vec<String>>>,
    stop: tokio_util::sync::CancellationToken,
}

impl LineReceiver {
    pub async fn start(bind: SocketAddr) -> std::io::Result<LineReceiver> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = tokio_util::sync::CancellationToken::new();
        let (l, s) = (lines.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let (sock, _) = tokio::select! {
                    _ = s.cancelled() => return,
                    r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                };
                let l = l.clone();
                let s = s.clone();
                tokio::spawn(async move {
                    let mut reader = tokio::io::BufReader::new(sock).lines();
                    loop {
                        tokio::select! {
                            _ = s.cancelled() => return,
                            line = reader.next_line() => match line {
                                Ok(Some(line)) => { if let Ok(mut g) = l.lock() { g.push(line); } }
                                _ => return,
                            },
                        }
                    }
                });
            }
        });
        Ok(LineReceiver { addr, lines, stop })
    }

    pub fn snapshot(&self) -> Vec<String> {
        self.lines.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Stops accepting and closes every connection.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for LineReceiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
