//! Network simulation in user space for tests and benchmarks: a delaying TCP relay (like
//! toxiproxy's latency toxic) that puts a fixed one-way delay on each direction of every
//! connection, because this kernel has no netem qdisc. The relay listens on loopback and
//! forwards to one target; bytes keep their order and content, a half-close (EOF) travels with
//! the same delay, and dropping the relay closes its listener and connections.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Delay of each direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Client → target.
    pub up: Duration,
    /// Target → client.
    pub down: Duration,
}

impl Latency {
    /// Half of `rtt` each way.
    pub fn rtt(rtt: Duration) -> Latency {
        Latency {
            up: rtt / 2,
            down: rtt - rtt / 2,
        }
    }
}

/// A running relay; stops (listener and open connections) when dropped.
pub struct DelayRelay {
    addr: SocketAddr,
    cancel: CancellationToken,
}

/// Chunks in flight per direction before the reader waits (bounds memory, not the delay).
const IN_FLIGHT: usize = 256;
const CHUNK: usize = 16 * 1024;

impl DelayRelay {
    /// Listens on 127.0.0.1 (a free port) and relays every connection to `target` with
    /// `latency`. Runs on the current tokio runtime.
    pub async fn start(target: SocketAddr, latency: Latency) -> io::Result<DelayRelay> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), target, latency).await
    }

    /// Like [`DelayRelay::start`], listening on `listen` (port 0: a free one).
    pub async fn start_on(
        listen: SocketAddr,
        target: SocketAddr,
        latency: Latency,
    ) -> io::Result<DelayRelay> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((client, _)) = accepted else {
                    continue;
                };
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = relay(client, target, latency) => {}
                    }
                });
            }
        });
        Ok(DelayRelay { addr, cancel })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DelayRelay {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// One connection. The client's bytes are read (and their delay starts) at once; the target
/// is dialled after the up delay, as a SYN would arrive. Then each direction runs on its own.
async fn relay(client: TcpStream, target: SocketAddr, latency: Latency) {
    let _ = client.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let rest = async move {
        tokio::time::sleep(latency.up).await;
        // Unreachable target: dropping `cw` and `rx` closes the client's connection.
        let Ok(server) = TcpStream::connect(target).await else {
            return;
        };
        let _ = server.set_nodelay(true);
        let (sr, sw) = server.into_split();
        tokio::join!(deliver(rx, sw), pipe(sr, cw, latency.down));
    };
    tokio::join!(collect(cr, tx, latency.up), rest);
}

/// A chunk and when it is due at the other end; `None` is the end of the stream.
type Timed = (Instant, Option<Vec<u8>>);

/// Reads `from` and queues each chunk, due `delay` after it was read; then EOF.
async fn collect(mut from: OwnedReadHalf, tx: mpsc::Sender<Timed>, delay: Duration) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        // A read error (reset) ends the stream like EOF.
        let n = from.read(&mut buf).await.unwrap_or(0);
        let chunk = (n > 0).then(|| buf[..n].to_vec());
        if tx.send((Instant::now() + delay, chunk)).await.is_err() || n == 0 {
            return;
        }
    }
}

/// Writes each queued chunk to `to` when it is due; EOF becomes a half-close. A write error
/// ends the direction (and, by dropping the queue, its reader).
async fn deliver(mut rx: mpsc::Receiver<Timed>, mut to: OwnedWriteHalf) {
    while let Some((due, chunk)) = rx.recv().await {
        tokio::time::sleep_until(due).await;
        match chunk {
            Some(bytes) => {
                if to.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            None => {
                let _ = to.shutdown().await;
                return;
            }
        }
    }
}

/// Copies `from` to `to` with `delay`.
async fn pipe(from: OwnedReadHalf, to: OwnedWriteHalf, delay: Duration) {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    tokio::join!(collect(from, tx, delay), deliver(rx, to));
}
