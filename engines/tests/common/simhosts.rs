//! Helpers for tests of simulated hosts: whether this machine can run them (root, iproute2,
//! LXC, busybox; prints why it skips otherwise), and guards that clean up even when a test fails.
#![allow(dead_code)]

use provisio_engines::simnet::SimNet;
use std::path::Path;

/// True when root with `ip`, `lxc-start` and a static busybox; else prints why the test skips.
pub fn can_simulate_hosts() -> bool {
    let uid0 = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let missing: Vec<&str> = [
        ("root", uid0),
        (
            "iproute2 (ip)",
            Path::new("/usr/sbin/ip").exists()
                || Path::new("/sbin/ip").exists()
                || Path::new("/usr/bin/ip").exists(),
        ),
        ("lxc", Path::new("/usr/bin/lxc-start").exists()),
        (
            "busybox-static",
            Path::new("/bin/busybox").exists() || Path::new("/usr/bin/busybox").exists(),
        ),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(n, _)| n)
    .collect();
    if missing.is_empty() {
        true
    } else {
        eprintln!("SKIPPED: simulated hosts need {}", missing.join(", "));
        false
    }
}

/// Removes a SimNet on drop.
pub struct NetGuard(pub SimNet);

impl Drop for NetGuard {
    fn drop(&mut self) {
        let _ = self.0.remove();
    }
}

/// Stops and destroys an LXC container on drop (inside `netns` when given).
pub struct LxcGuard {
    pub netns: Option<String>,
    pub lxc_path: String,
    pub name: String,
}

impl Drop for LxcGuard {
    fn drop(&mut self) {
        for args in [
            vec!["lxc-stop", "-k", "-P", &self.lxc_path, "-n", &self.name],
            vec!["lxc-destroy", "-P", &self.lxc_path, "-n", &self.name],
        ] {
            let mut c = match &self.netns {
                Some(ns) => {
                    let mut c = std::process::Command::new("ip");
                    c.args(["netns", "exec", ns]);
                    c.args(&args);
                    c
                }
                None => {
                    let mut c = std::process::Command::new(args[0]);
                    c.args(&args[1..]);
                    c
                }
            };
            let _ = c.output();
        }
    }
}
