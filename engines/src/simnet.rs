//! Simulated hosts on their own network, for `--simulate` and tests: a Linux bridge in the root
//! namespace with a private 10.x.y.0/24, and per simulated device a named network namespace
//! joined to it by a veth pair (address .N; only the bridge's /24 is routed, every other destination
//! is unreachable, so nothing a simulated host sends leaves this machine). Everything is
//! named after a caller-given id (hashed to a 20-bit tag to fit IFNAMSIZ), so a later process
//! (an undeploy) finds and reuses what an earlier one (the deploy) created; [`SimNet::remove`]
//! deletes it all. Tags can collide: each network's owner is recorded in
//! `/run/provisio/simnet/<bridge>` (claimed atomically), an id whose tag is taken gets another
//! one, and nothing of another owner is ever reused or removed ([`prune`] removes networks
//! without an owner record, e.g. an older version's). Needs root and iproute2. [`forward`] relays a root-namespace TCP service (the embedded
//! broker on 127.0.0.1) to the bridge address, where the namespaces reach it.

mod prune;
pub use prune::{Leftover, Pruned, leftovers, prune};

use md5::{Digest, Md5};
use std::ffi::OsStr;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Serialises changes within this process (address allocation reads, then writes).
static LOCK: Mutex<()> = Mutex::new(());

/// A bridge with a private /24; hosts are namespaces attached to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimNet {
    /// The bridge's interface name (`pvb` + 5 hex of the id's hash).
    pub bridge: String,
    /// The bridge's own address (`10.x.y.1`); the hosts' gateway.
    pub gateway: Ipv4Addr,
    tag: String,
    /// The id the network belongs to (recorded in its owner file).
    owner: String,
}

/// Where each network's owner is recorded: `<OWNERS>/<bridge>` holds the id that claimed it.
const OWNERS: &str = "/run/provisio/simnet";

/// How many tags an id tries before giving up (the first is [`tag_of`]).
const MAX_TAGS: u32 = 64;

/// The tag (5 hex digits, 20 bits) `id`'s network gets unless another id holds it already; two
/// ids can share it (exposed so tests can find such a pair).
pub fn tag_of(id: &str) -> String {
    candidate_tag(id, 0)
}

/// The `n`th tag `id` tries.
fn candidate_tag(id: &str, n: u32) -> String {
    let h = if n == 0 {
        hash_hex(id)
    } else {
        hash_hex(&format!("{id}\n{n}"))
    };
    h[..5].to_string()
}

fn owner_path(tag: &str) -> PathBuf {
    Path::new(OWNERS).join(format!("pvb{tag}"))
}

/// The id recorded as the owner of `tag`, if any.
fn owner_of(tag: &str) -> Option<String> {
    std::fs::read_to_string(owner_path(tag))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The tag whose owner file names `id`.
fn owned_tag(id: &str) -> Option<String> {
    std::fs::read_dir(OWNERS)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let tag = name.strip_prefix("pvb")?.to_string();
            (tag.len() == 5 && owner_of(&tag).as_deref() == Some(id)).then_some(tag)
        })
        .next()
}

/// Network namespaces whose names start with `prefix`.
fn netns_with_prefix(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Interfaces (root namespace) whose names start with `prefix`.
fn links_with_prefix(prefix: &str) -> Vec<String> {
    ip(&["-o", "link", "show"])
        .map(|links| {
            links
                .lines()
                .filter_map(|l| {
                    let name = l.split(':').nth(1)?.trim();
                    let name = name.split('@').next()?;
                    name.starts_with(prefix).then(|| name.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Something named after `tag` exists (bridge, host-side veth, namespace).
fn tag_in_use(tag: &str) -> bool {
    link_exists(&format!("pvb{tag}"))
        || !links_with_prefix(&format!("pvh{tag}")).is_empty()
        || !netns_with_prefix(&format!("pvn{tag}-")).is_empty()
}

/// Records `id` as the owner of `tag`: false when another owner holds it, or when something of
/// the tag exists without an owner (left over, or made by a version without owner files).
fn claim(tag: &str, id: &str) -> Result<bool, String> {
    std::fs::create_dir_all(OWNERS).map_err(|e| format!("{OWNERS}: {e}"))?;
    let path = owner_path(tag);
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if tag_in_use(tag) {
        let _ = std::fs::remove_file(&path);
        return Ok(false);
    }
    f.write_all(id.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| {
            let _ = std::fs::remove_file(&path);
            format!("{}: {e}", path.display())
        })?;
    Ok(true)
}

/// One simulated host: a network namespace with one address on the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimHost {
    /// The namespace's name (`ip netns exec <netns> …`).
    pub netns: String,
    pub ip: Ipv4Addr,
}

impl SimHost {
    /// `ip netns exec <netns> <program>`: arguments go on the returned command.
    pub fn exec(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns]).arg(program);
        c
    }

    /// A TCP listener on `<ip>:port` inside this host's namespace, for a server of this process
    /// (a socket keeps the namespace it was made in; only a short-lived thread enters it).
    pub fn bind_tcp(&self, port: u16) -> std::io::Result<std::net::TcpListener> {
        let path = std::path::Path::new("/run/netns").join(&self.netns);
        let addr = SocketAddr::from((self.ip, port));
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path)?;
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(std::io::Error::from)?;
            std::net::TcpListener::bind(addr)
        })
        .join()
        .map_err(|_| std::io::Error::other("setns thread panicked"))?
    }
}

fn hash_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// Runs `ip` with `args`; stdout on success, else an error naming the command.
fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("simulated hosts need iproute2's ip ({e})"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn link_exists(name: &str) -> bool {
    ip(&["link", "show", "dev", name]).is_ok()
}

fn netns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

/// The first IPv4 address of `dev` (in namespace `ns` when given).
fn address_of(ns: Option<&str>, dev: &str) -> Option<Ipv4Addr> {
    let out = match ns {
        Some(ns) => ip(&["-n", ns, "-4", "-o", "addr", "show", "dev", dev]),
        None => ip(&["-4", "-o", "addr", "show", "dev", dev]),
    }
    .ok()?;
    out.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)?
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// Every IPv4 network (address/len) on this machine's interfaces and routes.
fn used_networks() -> Result<Vec<(u32, u32)>, String> {
    let text = ip(&["-4", "-o", "addr"])? + &ip(&["-4", "route"])?;
    Ok(text
        .split_whitespace()
        .filter_map(|w| {
            let (a, l) = w.split_once('/').unwrap_or((w, "32"));
            let a: Ipv4Addr = a.parse().ok()?;
            let l: u32 = l.parse().ok().filter(|l| *l <= 32)?;
            Some((u32::from(a), l))
        })
        .collect())
}

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    a.0 & mask == b.0 & mask
}

pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

impl SimNet {
    /// The network of `id` (e.g. a deployment instance id): created when absent (a free
    /// 10.x.y.0/24, under [`tag_of`]`(id)` unless another id owns that tag or something
    /// unowned uses it, then under the next free one), else the existing bridge with its
    /// address.
    pub fn ensure(id: &str) -> Result<SimNet, String> {
        if !is_root() {
            return Err("simulated hosts need root (network namespaces and a bridge)".into());
        }
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let (tag, fresh) = match owned_tag(id) {
            Some(t) => (t, false),
            None => {
                let mut found = None;
                for n in 0..MAX_TAGS {
                    let t = candidate_tag(id, n);
                    if claim(&t, id)? {
                        found = Some(t);
                        break;
                    }
                }
                let t = found.ok_or_else(|| {
                    format!("no free network name for {id}: {MAX_TAGS} tags are taken")
                })?;
                (t, true)
            }
        };
        let made = Self::create_bridge(&tag);
        match made {
            Ok(gateway) => Ok(SimNet {
                bridge: format!("pvb{tag}"),
                gateway,
                tag,
                owner: id.to_string(),
            }),
            Err(e) => {
                if fresh {
                    // Nothing half made stays, nor the claim.
                    let _ = remove_tag(&tag);
                }
                Err(e)
            }
        }
    }

    /// The bridge of `tag` with its address, created when absent.
    fn create_bridge(tag: &str) -> Result<Ipv4Addr, String> {
        let bridge = format!("pvb{tag}");
        if !link_exists(&bridge) {
            ip(&["link", "add", &bridge, "type", "bridge"])?;
        }
        let gateway = match address_of(None, &bridge) {
            Some(a) => a,
            None => {
                let gw = free_subnet(tag)?;
                ip(&["addr", "add", &format!("{gw}/24"), "dev", &bridge])?;
                gw
            }
        };
        ip(&["link", "set", &bridge, "up"])?;
        Ok(gateway)
    }

    /// The existing network of `id` (recorded as its owner), `None` when there is none
    /// (nothing is created).
    pub fn find(id: &str) -> Option<SimNet> {
        let tag = owned_tag(id)?;
        let bridge = format!("pvb{tag}");
        let gateway = address_of(None, &bridge)?;
        Some(SimNet {
            bridge,
            gateway,
            tag,
            owner: id.to_string(),
        })
    }

    /// Removes the network `id` owns, whether or not it is complete; nothing when it owns none.
    pub fn remove_of(id: &str) -> Result<(), String> {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        match owned_tag(id) {
            Some(tag) => remove_tag(&tag),
            None => Ok(()),
        }
    }

    /// An address on the bridge that no host ever gets (`.254`): what names a host that could
    /// not start points here, where nothing answers, so connecting fails without any packet
    /// leaving this machine (unlike loopback, where a local service might answer).
    pub fn nowhere(&self) -> Ipv4Addr {
        let [a, b, c, _] = self.gateway.octets();
        Ipv4Addr::new(a, b, c, 254)
    }

    fn netns_name(&self, label: &str) -> String {
        let clean: String = crate::drivers::raspberry::container_name(label)
            .chars()
            .take(40)
            .collect();
        format!("pvn{}-{clean}", self.tag)
    }

    /// The host `label` (e.g. a node template id): its namespace, veth and address are created
    /// when absent, else reused as they are.
    pub fn add_host(&self, label: &str) -> Result<SimHost, String> {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let ns = self.netns_name(label);
        // 7 hex of the label's hash (`pvh` + 5 + 7 = IFNAMSIZ - 1): an instance has a host per
        // Pi and MICA of its topology, whose veths must not clash.
        let veth = format!("pvh{}{}", self.tag, &hash_hex(label)[..7]);
        if !netns_exists(&ns) {
            ip(&["netns", "add", &ns])?;
        }
        if !link_exists(&veth) {
            let _ = ip(&["-n", &ns, "link", "del", "eth0"]);
            ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ])?;
        }
        ip(&["link", "set", &veth, "master", &self.bridge, "up"])?;
        let addr = match address_of(Some(&ns), "eth0") {
            Some(a) => a,
            None => {
                let used: Vec<Ipv4Addr> = self.hosts().into_iter().map(|h| h.ip).collect();
                let [a, b, c, _] = self.gateway.octets();
                // .254 is never handed out: see [`SimNet::nowhere`].
                let free = (2..=253u8)
                    .map(|n| Ipv4Addr::new(a, b, c, n))
                    .find(|x| !used.contains(x))
                    .ok_or_else(|| format!("{}: no free address left", self.bridge))?;
                ip(&[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{free}/24"),
                    "dev",
                    "eth0",
                ])?;
                free
            }
        };
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        // Only the bridge's own network is reachable from a simulated host: anything else
        // (a topology address left in a container's settings, a cloud API) fails at once with
        // "no route to host" instead of leaving this machine where IP forwarding is on.
        ip(&["-n", &ns, "route", "replace", "unreachable", "default"])?;
        Ok(SimHost {
            netns: ns,
            ip: addr,
        })
    }

    /// The hosts that exist now (namespaces of this network with an address).
    pub fn hosts(&self) -> Vec<SimHost> {
        netns_with_prefix(&format!("pvn{}-", self.tag))
            .into_iter()
            .filter_map(|ns| {
                let ip = address_of(Some(&ns), "eth0")?;
                Some(SimHost { netns: ns, ip })
            })
            .collect()
    }

    /// Deletes every namespace of this network (killing what still runs in it), their veths
    /// and the bridge, when it still belongs to this network's owner: a network another id
    /// holds now (its tag was freed and claimed again) is left alone, with an error. Stop
    /// containers before, so they shut down cleanly.
    pub fn remove(&self) -> Result<(), String> {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        match owner_of(&self.tag) {
            Some(o) if o == self.owner => remove_tag(&self.tag),
            Some(o) => Err(format!(
                "{} belongs to {o}, not {}: left as it is",
                self.bridge, self.owner
            )),
            // Removed already.
            None => Ok(()),
        }
    }
}

/// Deletes everything named after `tag`, then its owner file (kept when something could not
/// be deleted, so a retry finds it). Call with [`LOCK`] held, after checking the owner.
fn remove_tag(tag: &str) -> Result<(), String> {
    let mut errors = Vec::new();
    for ns in netns_with_prefix(&format!("pvn{tag}-")) {
        // A namespace lives on (with its veth) while a process is in it.
        if let Ok(pids) = ip(&["netns", "pids", &ns]) {
            for pid in pids.split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).output();
            }
        }
        if let Err(e) = ip(&["netns", "del", &ns]) {
            errors.push(e);
        }
    }
    for veth in links_with_prefix(&format!("pvh{tag}")) {
        let _ = ip(&["link", "del", &veth]);
    }
    let bridge = format!("pvb{tag}");
    if link_exists(&bridge)
        && let Err(e) = ip(&["link", "del", &bridge])
    {
        errors.push(e);
    }
    if errors.is_empty() {
        let _ = std::fs::remove_file(owner_path(tag));
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// A 10.x.y.1 whose /24 overlaps nothing on this machine, starting at a place given by `tag`.
fn free_subnet(tag: &str) -> Result<Ipv4Addr, String> {
    let used = used_networks()?;
    let start = u32::from_str_radix(tag, 16).unwrap_or(0) as usize;
    // 10.100.0.0 – 10.254.255.0: 155 × 256 candidates.
    let total = 155 * 256;
    (0..total)
        .map(|i| (start + i) % total)
        .map(|i| Ipv4Addr::new(10, 100 + (i / 256) as u8, (i % 256) as u8, 1))
        .find(|gw| {
            let net = (u32::from(*gw) & !0xff, 24);
            !used.iter().any(|u| overlaps(*u, net))
        })
        .ok_or_else(|| "no free 10.x.y.0/24 for simulated hosts".to_string())
}

/// Relays TCP connections from `listen` (e.g. the bridge address) to `to` (e.g. the embedded
/// broker on 127.0.0.1), without delay, until the returned relay is dropped.
pub async fn forward(
    listen: SocketAddr,
    to: SocketAddr,
) -> std::io::Result<crate::netsim::DelayRelay> {
    crate::netsim::DelayRelay::start_on(listen, to, crate::netsim::Latency::rtt(Default::default()))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_of_networks() {
        let n = |s: &str, l| (u32::from(s.parse::<Ipv4Addr>().unwrap()), l);
        assert!(overlaps(n("10.1.2.0", 24), n("10.1.2.7", 32)));
        assert!(overlaps(n("10.0.0.0", 8), n("10.1.2.0", 24)));
        assert!(overlaps(n("0.0.0.0", 0), n("10.1.2.0", 24)));
        assert!(!overlaps(n("10.1.3.0", 24), n("10.1.2.0", 24)));
    }

    #[test]
    fn names_fit_ifnamsiz() {
        let net = SimNet {
            bridge: format!("pvb{}", &hash_hex("x")[..5]),
            gateway: Ipv4Addr::new(10, 100, 0, 1),
            tag: tag_of("x"),
            owner: "x".into(),
        };
        assert!(net.bridge.len() <= 15);
        assert_eq!(net.netns_name("a b/c"), format!("pvn{}-a_b_c", net.tag));
        let veth = format!("pvh{}{}", net.tag, &hash_hex("pi-192_168_0_19")[..7]);
        assert_eq!(veth.len(), 15);
        assert_eq!(prune::tag_from(&veth), Some(net.tag.as_str()));
    }
}
