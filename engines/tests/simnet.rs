//! Simulated hosts on a real bridge (root + iproute2 + busybox; skipped with a clear message
//! otherwise): two namespaces reach each other and the root namespace over the bridge, a
//! second `ensure`/`add_host` reuses what exists, and `remove` leaves nothing behind. Two ids
//! whose names would collide get separate networks, and neither removes the other's.

use provisio_engines::simnet::{SimHost, SimNet, forward, tag_of};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

#[path = "common/simhosts.rs"]
mod simhosts;
use simhosts::{NetGuard, can_simulate_hosts, wait_get};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
    // Nothing outside the bridge's network is routed (a topology address, a cloud API): with
    // IP forwarding on, a default route via the bridge would let it leave this machine.
    let routes = ip_text(&["-n", &b.netns, "-4", "route"]);
    assert!(routes.contains("unreachable default"), "{routes}");
    assert!(!routes.contains("via"), "{routes}");
    let out = b
        .exec("busybox")
        .args(["nc", "-w", "2", "192.0.2.1", "80"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    // The address kept free for hosts that could not start is on the bridge, never a host's.
    assert_eq!(net.nowhere().octets()[..3], net.gateway.octets()[..3]);
    assert!(![a.ip, b.ip].contains(&net.nowhere()));

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

/// Two ids starting with `prefix` whose preferred tags are the same (20 bits: a birthday search
/// takes about a thousand tries).
fn colliding_ids(prefix: &str) -> (String, String) {
    let mut seen: HashMap<String, String> = HashMap::new();
    for n in 0.. {
        let id = format!("{prefix}-{n}");
        if let Some(other) = seen.insert(tag_of(&id), id.clone()) {
            return (other, id);
        }
    }
    unreachable!()
}

fn ip_text(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ids_with_the_same_tag_get_separate_networks_and_remove_only_their_own() {
    if !can_simulate_hosts() {
        return;
    }
    let (a, b) = colliding_ids(&format!("test-collide-{}", std::process::id()));
    assert_eq!(tag_of(&a), tag_of(&b));
    let net_a = SimNet::ensure(&a).unwrap();
    let _ga = NetGuard(net_a.clone());
    let net_b = SimNet::ensure(&b).unwrap();
    let _gb = NetGuard(net_b.clone());
    // The first comes first; the second gets a network of its own.
    assert_eq!(net_a.bridge, format!("pvb{}", tag_of(&a)));
    assert_ne!(net_a.bridge, net_b.bridge);
    assert_ne!(net_a.gateway, net_b.gateway);
    let ha = net_a.add_host("pi").unwrap();
    let hb = net_b.add_host("pi").unwrap();
    assert_ne!(ha.netns, hb.netns);
    assert_eq!(SimNet::find(&a).as_ref(), Some(&net_a));
    assert_eq!(SimNet::find(&b).as_ref(), Some(&net_b));
    assert_eq!(
        SimNet::ensure(&b).unwrap(),
        net_b,
        "found again, not a third"
    );
    assert_eq!(net_a.hosts(), vec![ha.clone()]);
    assert_eq!(net_b.hosts(), vec![hb.clone()]);

    // B goes; A stays whole.
    net_b.remove().unwrap();
    assert!(SimNet::find(&b).is_none());
    assert_eq!(SimNet::find(&a).as_ref(), Some(&net_a));
    assert_eq!(net_a.hosts(), vec![ha.clone()]);
    assert!(ip_text(&["netns", "list"]).contains(&ha.netns));

    // A goes; B comes back and now gets the tag A had. A's old handle and A's id remove nothing.
    net_a.remove().unwrap();
    let net_b2 = SimNet::ensure(&b).unwrap();
    let _gb2 = NetGuard(net_b2.clone());
    assert_eq!(net_b2.bridge, net_a.bridge);
    let hb2 = net_b2.add_host("pi").unwrap();
    let err = net_a.remove().unwrap_err();
    assert!(err.contains(&b), "{err}");
    SimNet::remove_of(&a).unwrap();
    assert_eq!(SimNet::find(&b).as_ref(), Some(&net_b2));
    assert_eq!(net_b2.hosts(), vec![hb2.clone()]);
    assert!(ip_text(&["-o", "link"]).contains(&net_b2.bridge));
    SimNet::remove_of(&b).unwrap();
    assert!(SimNet::find(&b).is_none());
    assert!(!ip_text(&["-o", "link"]).contains(&net_b2.bridge));
    assert!(!ip_text(&["netns", "list"]).contains(&hb2.netns));
}

/// Removes a hand-made interface on drop.
struct LinkGuard(String);
impl Drop for LinkGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

#[test]
fn a_name_in_use_without_an_owner_is_neither_taken_nor_removed() {
    if !can_simulate_hosts() {
        return;
    }
    let id = format!("test-unowned-{}", std::process::id());
    // A bridge of that name that no owner file claims (left over, or an older version's).
    let foreign = format!("pvb{}", tag_of(&id));
    let ok = Command::new("ip")
        .args(["link", "add", &foreign, "type", "bridge"])
        .status()
        .unwrap()
        .success();
    assert!(ok, "cannot create {foreign}");
    let _foreign = LinkGuard(foreign.clone());
    let net = SimNet::ensure(&id).unwrap();
    let _g = NetGuard(net.clone());
    assert_ne!(net.bridge, foreign);
    net.remove().unwrap();
    assert!(SimNet::find(&id).is_none());
    let links = ip_text(&["-o", "link"]);
    assert!(links.contains(&foreign), "{links}");
    assert!(!links.contains(&net.bridge), "{links}");
}
