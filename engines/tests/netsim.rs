//! The delaying TCP relay against real sockets: each direction is delayed at least as
//! configured, bytes arrive intact and in order both ways, half-closes pass through, and the
//! relay closes connections it cannot complete or that it is dropped with.

use provisio_engines::netsim::{DelayRelay, Latency};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[tokio::test]
async fn delays_each_direction_and_keeps_bytes() {
    let up = Duration::from_millis(30);
    let down = Duration::from_millis(50);
    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = server.local_addr().unwrap();
    // The server answers a one-byte ping at once, then reads the upload to EOF and sends back
    // its own bytes followed by a reversed copy of what it got, then closes.
    let reply = pattern(300_000, 7);
    let sent_back = reply.clone();
    let srv = tokio::spawn(async move {
        let (mut s, _) = server.accept().await.unwrap();
        let mut ping = [0u8; 1];
        s.read_exact(&mut ping).await.unwrap();
        let got_ping = Instant::now();
        s.write_all(&ping).await.unwrap();
        let mut upload = Vec::new();
        s.read_to_end(&mut upload).await.unwrap();
        s.write_all(&sent_back).await.unwrap();
        upload.reverse();
        s.write_all(&upload).await.unwrap();
        s.shutdown().await.unwrap();
        got_ping
    });

    let relay = DelayRelay::start(target, Latency { up, down })
        .await
        .unwrap();
    let mut c = TcpStream::connect(relay.addr()).await.unwrap();
    let t0 = Instant::now();
    c.write_all(b"p").await.unwrap();
    let mut pong = [0u8; 1];
    c.read_exact(&mut pong).await.unwrap();
    let rtt = t0.elapsed();
    assert_eq!(&pong, b"p");
    assert!(
        rtt >= up + down,
        "round trip {rtt:?} is shorter than {:?}",
        up + down
    );
    assert!(
        rtt < up + down + Duration::from_millis(500),
        "round trip {rtt:?}"
    );

    let upload = pattern(1 << 20, 3);
    c.write_all(&upload).await.unwrap();
    c.shutdown().await.unwrap(); // the half-close reaches the server after the delay
    let mut back = Vec::new();
    c.read_to_end(&mut back).await.unwrap(); // ends with EOF, not a reset
    let got_ping = srv.await.unwrap();
    assert!(
        got_ping - t0 >= up,
        "the ping reached the server after {:?}",
        got_ping - t0
    );
    assert_eq!(back.len(), reply.len() + upload.len());
    assert!(
        back[..reply.len()] == reply[..],
        "server → client bytes changed"
    );
    let mut reversed = upload.clone();
    reversed.reverse();
    assert!(
        back[reply.len()..] == reversed[..],
        "client → server bytes changed"
    );
}

#[tokio::test]
async fn server_first_bytes_are_delayed_down() {
    let down = Duration::from_millis(40);
    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = server.local_addr().unwrap();
    let srv = tokio::spawn(async move {
        let (mut s, _) = server.accept().await.unwrap();
        let sent = Instant::now();
        s.write_all(b"SSH-2.0-banner\r\n").await.unwrap();
        sent
    });
    let relay = DelayRelay::start(
        target,
        Latency {
            up: Duration::ZERO,
            down,
        },
    )
    .await
    .unwrap();
    let mut c = TcpStream::connect(relay.addr()).await.unwrap();
    let mut banner = vec![0u8; 16];
    c.read_exact(&mut banner).await.unwrap();
    let arrived = Instant::now();
    let sent = srv.await.unwrap();
    assert_eq!(banner, b"SSH-2.0-banner\r\n");
    assert!(
        arrived - sent >= down,
        "delivered after {:?}",
        arrived - sent
    );
    // The server's socket is gone: the client sees EOF.
    let mut rest = Vec::new();
    assert_eq!(c.read_to_end(&mut rest).await.unwrap(), 0);
}

#[tokio::test]
async fn closes_when_target_refuses_or_relay_is_dropped() {
    // Nothing listens on the target: the relayed connection is closed, not left hanging.
    let free = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = free.local_addr().unwrap();
    drop(free);
    let relay = DelayRelay::start(dead, Latency::rtt(Duration::from_millis(10)))
        .await
        .unwrap();
    let mut c = TcpStream::connect(relay.addr()).await.unwrap();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut buf)).await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");

    // Dropping the relay closes an open connection and the listener.
    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = DelayRelay::start(server.local_addr().unwrap(), Latency::rtt(Duration::ZERO))
        .await
        .unwrap();
    let addr = relay.addr();
    let mut c = TcpStream::connect(addr).await.unwrap();
    let (_s, _) = server.accept().await.unwrap();
    drop(relay);
    let r = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut buf)).await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "listener still open"
    );
}
