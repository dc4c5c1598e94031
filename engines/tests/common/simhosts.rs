//! Helpers for tests of simulated hosts: whether this machine can run them (root, iproute2,
//! LXC, busybox; prints why it skips otherwise), guards that clean up even when a test fails,
//! and a plain HTTP GET of what a simulated host serves.
#![allow(dead_code)]

use provisio_engines::simnet::SimNet;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

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

/// The body of `GET path` from `addr` (HTTP/1.0, 3 s to connect, 5 s to read).
pub fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    let mut s =
        std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(out))
}

/// [`http_get`], retried for up to 15 s until something answers at `addr`.
pub fn wait_get(addr: &str, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match http_get(addr, path) {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => panic!("GET http://{addr}{path}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
