//! Simulated hosts on a real bridge (root + iproute2 + busybox; skipped with a clear message
//! otherwise): two namespaces reach each other and the root namespace over the bridge, a
//! second `ensure`/`add_host` reuses what exists, and `remove` leaves nothing behind.

use provisio_engines::simnet::{SimHost, SimNet, forward};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/simhosts.rs"]
mod simhosts;
use simhosts::{NetGuard, can_simulate_hosts};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    let mut s =
        std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// An HTTP GET from inside `host` (busybox nc: its static wget crashes resolving names).
fn ns_get(host: &SimHost, addr: &str, path: &str) -> String {
    let (ip, port) = addr.rsplit_once(':').unwrap();
    let mut child = host
        .exec("busybox")
        .args(["nc", "-w", "5", ip, port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    write!(
        child.stdin.take().unwrap(),
        "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).into_owned()
}

fn wait_get(addr: &str, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match http_get(addr, path) {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => panic!("GET http://{addr}{path}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_reach_each_other_and_the_root_namespace_and_remove_cleans_up() {
    if !can_simulate_hosts() {
        return;
    }
    let id = format!("test-simnet-{}", std::process::id());
    let t = Instant::now();
    let net = SimNet::ensure(&id).unwrap();
    let _guard = NetGuard(net.clone());
    let a = net.add_host("PiA").unwrap();
    let b = net.add_host("MICA b").unwrap();
    let created = t.elapsed();
    eprintln!("SimNet with 2 hosts created in {created:?}");
    assert_ne!(a.ip, b.ip);
    assert_eq!(a.ip.octets()[..3], net.gateway.octets()[..3]);
    // Idempotent: the same names give the same network and hosts.
    assert_eq!(SimNet::ensure(&id).unwrap(), net);
    assert_eq!(SimNet::find(&id).as_ref(), Some(&net));
    assert_eq!(net.add_host("PiA").unwrap(), a);
    assert_eq!(net.hosts().len(), 2);

    // A web server in host A, reached from the root namespace and from host B.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello"), "hello from A\n").unwrap();
    let _httpd = Kill(
        a.exec("busybox")
            .args(["httpd", "-f", "-p", &format!("{}:8080", a.ip), "-h"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let body = wait_get(&format!("{}:8080", a.ip), "/hello");
    assert!(body.ends_with("hello from A\n"), "{body}");
    assert!(ns_get(&b, &format!("{}:8080", a.ip), "/hello").ends_with("hello from A\n"));
    // Not reachable from B on its own loopback: they are separate namespaces.
    assert_eq!(ns_get(&b, "127.0.0.1:8080", "/hello"), "");

    // A root-namespace service on loopback, forwarded to the bridge address, reached from B.
    let root_srv = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let root_addr = root_srv.local_addr().unwrap();
    std::thread::spawn(move || {
        for c in root_srv.incoming().flatten().take(1) {
            let mut c = c;
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.0 200 OK\r\n\r\nroot says hi\n");
        }
    });
    let fwd = forward((net.gateway, 0).into(), root_addr).await.unwrap();
    let url = fwd.addr().to_string();
    let b2 = b.clone();
    let body = tokio::task::spawn_blocking(move || ns_get(&b2, &url, "/"))
        .await
        .unwrap();
    assert!(body.ends_with("root says hi\n"), "{body}");
    drop(fwd);

    // The web server still runs in A: remove ends it with the namespace.
    net.remove().unwrap();
    drop(_httpd);
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let tag = &net.bridge[3..];
    for text in [&netns.stdout, &links.stdout] {
        let text = String::from_utf8_lossy(text);
        assert!(!text.contains(tag), "left behind: {text}");
    }
    assert!(SimNet::find(&id).is_none());
}
