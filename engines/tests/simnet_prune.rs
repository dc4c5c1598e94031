//! `simnet::prune` on real network namespaces and bridges (root + iproute2 + LXC + busybox;
//! skipped with a clear message otherwise): a provisio-named network without an owner record
//! (as an earlier version left them) is removed, one with processes in it only when asked, and
//! one with an owner record never. Every prune here names this test's own networks only.

use provisio_engines::simnet::{self, SimNet, tag_of};
use std::process::{Child, Command, Stdio};

#[path = "common/simhosts.rs"]
mod simhosts;
use simhosts::{NetGuard, can_simulate_hosts};

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn ip_text(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network as an earlier version made it, with no owner record: bridge, one namespace
/// joined by a veth. Removed on drop (whatever is left of it).
struct Unowned {
    tag: String,
    netns: String,
}

impl Unowned {
    fn make(id: &str) -> Unowned {
        let tag = tag_of(id);
        let (bridge, veth, netns) = (
            format!("pvb{tag}"),
            format!("pvh{tag}beef"),
            format!("pvn{tag}-pi"),
        );
        assert!(ip(&["link", "add", &bridge, "type", "bridge"]), "{bridge}");
        assert!(ip(&["netns", "add", &netns]), "{netns}");
        assert!(ip(&[
            "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &netns
        ]));
        assert!(ip(&["link", "set", &veth, "master", &bridge, "up"]));
        Unowned { tag, netns }
    }
}

impl Drop for Unowned {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &format!("pvb{}", self.tag)])
            .output();
    }
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prune_removes_unowned_networks_and_leaves_owned_and_busy_ones() {
    if !can_simulate_hosts() {
        return;
    }
    let pid = std::process::id();
    let orphan = Unowned::make(&format!("test-prune-orphan-{pid}"));
    let busy = Unowned::make(&format!("test-prune-busy-{pid}"));
    let sleeper = Kill(
        Command::new("ip")
            .args(["netns", "exec", &busy.netns, "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let owned_id = format!("test-prune-owned-{pid}");
    let owned = SimNet::ensure(&owned_id).unwrap();
    let _owned = NetGuard(owned.clone());
    let owned_host = owned.add_host("pi").unwrap();
    let owned_tag = owned.bridge.trim_start_matches("pvb").to_string();
    assert_ne!(orphan.tag, busy.tag);
    // `ip netns exec` runs sleep in the namespace once it has entered it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while ip_text(&["netns", "pids", &busy.netns]).trim().is_empty() {
        assert!(std::time::Instant::now() < deadline, "sleep never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let found = simnet::leftovers();
    let of = |tag: &str| found.iter().find(|l| l.tag == tag).cloned();
    let o = of(&orphan.tag).expect("the orphan is listed");
    assert!(o.names.contains(&orphan.netns), "{o:?}");
    assert!(o.names.contains(&format!("pvh{}beef", orphan.tag)), "{o:?}");
    assert!(o.busy.is_empty(), "{o:?}");
    let b = of(&busy.tag).expect("the busy one is listed");
    assert!(b.busy.iter().any(|(_, c)| c == "sleep"), "{b:?}");
    assert!(of(&owned_tag).is_none(), "an owned network is no leftover");

    // Naming all three: only the orphan goes.
    let only = [
        orphan.tag.clone(),
        format!("pvb{}", busy.tag),
        owned.bridge.clone(),
    ];
    let pruned = simnet::prune(&only, false).unwrap();
    let removed: Vec<&str> = pruned.removed.iter().map(|l| l.tag.as_str()).collect();
    assert_eq!(removed, [orphan.tag.as_str()]);
    assert_eq!(pruned.kept.len(), 1, "{:?}", pruned.kept);
    assert_eq!(pruned.kept[0].0.tag, busy.tag);
    assert!(
        pruned.kept[0].1.contains("in use by process"),
        "{:?}",
        pruned.kept
    );
    let links = ip_text(&["-o", "link"]);
    let netns = ip_text(&["netns", "list"]);
    assert!(!links.contains(&format!("pvb{}", orphan.tag)), "{links}");
    assert!(!links.contains(&format!("pvh{}", orphan.tag)), "{links}");
    assert!(!netns.contains(&orphan.netns), "{netns}");
    assert!(links.contains(&format!("pvb{}", busy.tag)), "{links}");
    assert!(netns.contains(&busy.netns), "{netns}");
    assert!(links.contains(&owned.bridge), "{links}");
    assert!(netns.contains(&owned_host.netns), "{netns}");
    assert_eq!(SimNet::find(&owned_id).as_ref(), Some(&owned));
    assert!(
        !std::path::Path::new("/run/provisio/simnet")
            .join(format!("pvb{}", orphan.tag))
            .exists(),
        "the removal's claim is gone"
    );

    // Asked to end what runs there, the busy one goes too, its process ended.
    let pruned = simnet::prune(std::slice::from_ref(&busy.tag), true).unwrap();
    assert_eq!(pruned.removed.len(), 1, "{pruned:?}");
    assert!(!ip_text(&["-o", "link"]).contains(&format!("pvb{}", busy.tag)));
    assert!(!ip_text(&["netns", "list"]).contains(&busy.netns));
    let mut sleeper = sleeper;
    let status = sleeper.0.wait().unwrap();
    assert!(!status.success(), "sleep was ended: {status:?}");
    assert_eq!(SimNet::find(&owned_id).as_ref(), Some(&owned));
    assert_eq!(owned.hosts(), vec![owned_host]);
}

/// A network with a host per Pi and MICA (as `--simulate` makes them), whose owner record is
/// gone: prune finds every namespace and veth of it and removes them all.
#[test]
fn prune_removes_every_host_of_a_network_without_owner() {
    if !can_simulate_hosts() {
        return;
    }
    let net = SimNet::ensure(&format!("test-prune-hosts-{}", std::process::id())).unwrap();
    let _net = NetGuard(net.clone());
    let tag = net.bridge.trim_start_matches("pvb").to_string();
    let hosts: Vec<_> = ["pi-192_168_0_19", "pi-192_168_0_21", "mica-192_168_0_20"]
        .iter()
        .map(|l| net.add_host(l).unwrap())
        .collect();
    let veths: Vec<String> = ip_text(&["-o", "link"])
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .filter(|n| n.starts_with(&format!("pvh{tag}")))
        .collect();
    assert_eq!(veths.len(), 3, "{veths:?}");
    assert!(veths.iter().all(|v| v.len() == 15), "{veths:?}");
    std::fs::remove_file(format!("/run/provisio/simnet/{}", net.bridge)).unwrap();

    let found = simnet::leftovers();
    let l = found
        .iter()
        .find(|l| l.tag == tag)
        .expect("the network is listed");
    for name in hosts.iter().map(|h| &h.netns).chain(&veths) {
        assert!(l.names.contains(name), "{name}: {l:?}");
    }
    let pruned = simnet::prune(std::slice::from_ref(&tag), false).unwrap();
    assert_eq!(pruned.removed.len(), 1, "{pruned:?}");
    let links = ip_text(&["-o", "link"]);
    let netns = ip_text(&["netns", "list"]);
    assert!(!links.contains(&format!("pvb{tag}")), "{links}");
    assert!(!links.contains(&format!("pvh{tag}")), "{links}");
    assert!(!netns.contains(&format!("pvn{tag}-")), "{netns}");
}
