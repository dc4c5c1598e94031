//! An MQTT-aware TCP tap in front of any broker: bytes are forwarded unchanged both ways while
//! copies are decoded into activity records (CONNECT with the broker's CONNACK result, PUBLISH,
//! SUBSCRIBE per filter, DISCONNECT on the packet or on connection loss, STARTUP/SHUTDOWN of
//! the tap). Decoding never slows forwarding: records go to a non-blocking sink.

use super::mqtt_codec::{Framer, Packet};
use super::record::{Listener, Record, now};
use super::sink::RecordSink;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// A running tap.
pub struct Tap {
    pub addr: SocketAddr,
    stop: CancellationToken,
    sink: RecordSink,
}

impl Tap {
    /// Listens on `listen` and forwards to `upstream`.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        sink: RecordSink,
    ) -> std::io::Result<Tap> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        sink.send(&Record::Startup {
            listeners: vec![Listener {
                bind: addr.ip().to_string(),
                port: addr.port(),
            }],
        });
        let (s, sk) = (stop.clone(), sink.clone());
        tokio::spawn(async move {
            loop {
                let (client, peer) = tokio::select! {
                    _ = s.cancelled() => return,
                    r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                };
                let sink = sk.clone();
                let s = s.clone();
                tokio::spawn(async move {
                    let Ok(broker) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    relay(client, broker, peer, addr.port(), sink, s).await;
                });
            }
        });
        Ok(Tap { addr, stop, sink })
    }

    pub fn shutdown(&self) {
        self.sink.send(&Record::Shutdown {
            listeners: vec![Listener {
                bind: self.addr.ip().to_string(),
                port: self.addr.port(),
            }],
        });
        self.stop.cancel();
    }
}

#[derive(Default)]
struct Conn {
    client_id: String,
    disconnected: bool,
}

async fn relay(
    client: tokio::net::TcpStream,
    broker: tokio::net::TcpStream,
    peer: SocketAddr,
    port: u16,
    sink: RecordSink,
    stop: CancellationToken,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut br, mut bw) = broker.into_split();
    let conn = Arc::new(Mutex::new(Conn::default()));
    let ip = peer.ip().to_string();
    let up = {
        let (conn, sink, ip) = (conn.clone(), sink.clone(), ip.clone());
        async move {
            let mut framer = Framer::default();
            let mut ok = true;
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match cr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                // Decode before forwarding, so the client id is known when the CONNACK returns.
                let decoded = if ok {
                    framer.push(&buf[..n])
                } else {
                    Ok(Vec::new())
                };
                if bw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                match decoded {
                    Ok(packets) => {
                        for p in packets {
                            let Ok(mut c) = conn.lock() else { continue };
                            let ts = now();
                            match p {
                                Packet::Connect { client_id, .. } => c.client_id = client_id,
                                Packet::Publish { topic, payload } => {
                                    sink.send(&Record::Publish {
                                        client_ip: ip.clone(),
                                        port: Some(port),
                                        client_id: c.client_id.clone(),
                                        topic,
                                        payload,
                                        ts,
                                    });
                                }
                                Packet::Subscribe { filters } => {
                                    for topic in filters {
                                        sink.send(&Record::Subscribe {
                                            client_ip: ip.clone(),
                                            port: Some(port),
                                            client_id: c.client_id.clone(),
                                            topic,
                                            ts,
                                        });
                                    }
                                }
                                Packet::Disconnect => {
                                    c.disconnected = true;
                                    sink.send(&Record::Disconnect {
                                        client_ip: ip.clone(),
                                        port: Some(port),
                                        client_id: c.client_id.clone(),
                                        ts,
                                    });
                                }
                                _ => {}
                            }
                        }
                    }
                    // Not MQTT (or corrupt): keep forwarding, stop decoding this stream.
                    Err(_) => ok = false,
                }
            }
            let _ = bw.shutdown().await;
        }
    };
    let down = {
        let (conn, sink, ip) = (conn.clone(), sink.clone(), ip.clone());
        async move {
            let mut framer = Framer::default();
            let mut ok = true;
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match br.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if cw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                if !ok {
                    continue;
                }
                match framer.push(&buf[..n]) {
                    Ok(packets) => {
                        for p in packets {
                            if let Packet::ConnAck { return_code } = p {
                                let id =
                                    conn.lock().map(|c| c.client_id.clone()).unwrap_or_default();
                                sink.send(&Record::Connect {
                                    client_ip: ip.clone(),
                                    port: Some(port),
                                    client_id: id,
                                    return_code,
                                    ts: now(),
                                });
                            }
                        }
                    }
                    Err(_) => ok = false,
                }
            }
            let _ = cw.shutdown().await;
        }
    };
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = async { tokio::join!(up, down) } => {}
    }
    if let Ok(c) = conn.lock()
        && !c.disconnected
        && !c.client_id.is_empty()
    {
        sink.send(&Record::Disconnect {
            client_ip: ip,
            port: Some(port),
            client_id: c.client_id.clone(),
            ts: now(),
        });
    }
}
