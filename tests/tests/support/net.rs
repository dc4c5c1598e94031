//! Network namespaces of our own: a Linux bridge in the root namespace on a private /24 no
//! route uses yet, and one namespace per gateway joined to it by a veth pair. The root
//! namespace is `<prefix>.1`, gateway `i` is `<prefix>.(10 + i)`. Dropping removes it all.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Runs `ip ARGS`; the error names the command and what `ip` said.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip (iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ip_output(args: &[&str]) -> String {
    Command::new("ip")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The bridge, its gateways' namespaces and their addresses.
#[derive(Debug)]
pub struct Net {
    /// First three octets of the /24, e.g. `10.231.7`.
    pub prefix: String,
    bridge: String,
    tag: String,
    namespaces: Vec<String>,
}

/// A /24 under 10.231.0.0/16 that no address or route of this machine uses yet.
fn free_prefix(seed: u32) -> Option<String> {
    let used = ip_output(&["-4", "route", "show", "table", "all"]) + &ip_output(&["-4", "addr"]);
    (0..250)
        .map(|i| format!("10.231.{}", (seed + i) % 250 + 1))
        .find(|p| !used.contains(&format!("{p}.")))
}

impl Net {
    /// A bridge and `gateways` namespaces, each with its uplink up.
    pub fn create(gateways: usize) -> Result<Net, String> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let pid = std::process::id();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        // Interface names have at most 15 characters: "pg" + 5 hex digits + "g" + index.
        let tag = format!("{:05x}", (pid.wrapping_mul(8) + seq) & 0xfffff);
        let prefix = free_prefix(pid + seq * 17).ok_or("no free 10.231.x.0/24")?;
        let mut net = Net {
            prefix,
            bridge: format!("pg{tag}br"),
            tag,
            namespaces: Vec::new(),
        };
        ip(&["link", "add", &net.bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{}.1/24", net.prefix),
            "dev",
            &net.bridge,
        ])?;
        ip(&["link", "set", &net.bridge, "up"])?;
        for i in 0..gateways {
            net.add_gateway(i)?;
        }
        Ok(net)
    }

    fn add_gateway(&mut self, i: usize) -> Result<(), String> {
        let ns = format!("provisio-{}-gw{i}", self.tag);
        let _ = ip(&["netns", "del", &ns]);
        ip(&["netns", "add", &ns])?;
        self.namespaces.push(ns.clone());
        let outer = self.uplink(i);
        let inner = format!("pg{}p{i}", self.tag);
        ip(&[
            "link", "add", &outer, "type", "veth", "peer", "name", &inner,
        ])?;
        ip(&["link", "set", &inner, "netns", &ns])?;
        ip(&["link", "set", &outer, "master", &self.bridge])?;
        ip(&["link", "set", &outer, "up"])?;
        let addr = format!("{}/24", self.gateway_ip(i));
        let host = self.host_ip();
        for args in [
            vec!["link", "set", "lo", "up"],
            vec!["link", "set", &inner, "name", "eth0"],
            vec!["addr", "add", &addr, "dev", "eth0"],
            vec!["link", "set", "eth0", "up"],
            vec!["route", "add", "default", "via", &host],
        ] {
            let mut full = vec!["-n", &ns];
            full.extend(args);
            ip(&full)?;
        }
        Ok(())
    }

    /// The root namespace's address on the bridge.
    pub fn host_ip(&self) -> String {
        format!("{}.1", self.prefix)
    }

    /// Gateway `i`'s address.
    pub fn gateway_ip(&self, i: usize) -> String {
        format!("{}.{}", self.prefix, 10 + i)
    }

    /// Gateway `i`'s namespace name (for `ip netns exec`).
    pub fn namespace(&self, i: usize) -> &str {
        &self.namespaces[i]
    }

    /// The root side of gateway `i`'s veth pair (its uplink).
    pub fn uplink(&self, i: usize) -> String {
        format!("pg{}g{i}", self.tag)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth end, and with it the pair.
        for ns in &self.namespaces {
            let _ = ip(&["netns", "del", ns]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}
