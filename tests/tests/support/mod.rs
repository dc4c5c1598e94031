//! The world of the gateway test: a central Mosquitto and a counting nginx in front of the
//! engine's artifact server (the origin) in the root namespace, and per gateway a namespace with
//! a Mosquitto bridged to the central one, an nginx caching proxy in front of the origin and a
//! simulated fleet (`netns-fleet`) connected to the gateway's broker.
#![allow(dead_code)] // not every test uses every helper

pub mod deploy;
pub mod net;
pub mod probe;
pub mod procs;
pub mod topology;

use net::Net;
use procs::{FleetProc, Proc};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why this machine cannot run the test (not root, a program missing), if it cannot.
pub fn missing_prerequisite() -> Option<String> {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false);
    if !root {
        return Some("needs root (network namespaces, veth, bridge)".into());
    }
    for (program, package) in [
        ("ip", "iproute2"),
        ("mosquitto", "mosquitto"),
        ("nginx", "nginx"),
    ] {
        if procs::find_program(program).is_none() {
            return Some(format!(
                "{program} not found (Debian package {package}; scripts/test.sh installs it)"
            ));
        }
    }
    None
}

/// A free TCP port on `ip` (in the root namespace).
fn free_port(ip: &str) -> Result<u16, String> {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("bind {ip}: {e}"))
}

/// Port of every gateway's Mosquitto and nginx inside its namespace.
pub const GATEWAY_MQTT_PORT: u16 = 1883;
pub const GATEWAY_HTTP_PORT: u16 = 8080;

/// One gateway: its broker, its cache and the devices behind it.
#[derive(Debug)]
pub struct Gateway {
    pub index: usize,
    pub ip: String,
    pub ids: Vec<String>,
    pub broker: Proc,
    pub cache: Proc,
    pub cache_dir: PathBuf,
    pub fleet: Option<FleetProc>,
}

impl Gateway {
    /// The devices' broker (the template's `pubSubServer`).
    pub fn broker_url(&self) -> String {
        format!("tcp://{}:{GATEWAY_MQTT_PORT}", self.ip)
    }

    /// The cache devices fetch from (the template's `artifactBaseUrl`).
    pub fn cache_url(&self) -> String {
        format!("http://{}:{GATEWAY_HTTP_PORT}", self.ip)
    }

    pub fn control_topic(&self) -> String {
        format!("gw{}/control", self.index)
    }

    pub fn response_topic(&self) -> String {
        format!("gw{}/response", self.index)
    }

    /// The gateway loses power: its broker and its cache die at once (broker first, so no
    /// device answer escapes afterwards).
    pub fn stop(&mut self) {
        self.broker.kill();
        self.cache.kill();
    }

    /// The gateway boots again (same configuration, empty broker state, the cache on disk).
    pub fn restart(&mut self) -> Result<(), String> {
        self.broker.respawn()?;
        self.cache.respawn()?;
        self.broker
            .wait_listening(&format!("{}:{GATEWAY_MQTT_PORT}", self.ip))?;
        self.cache
            .wait_listening(&format!("{}:{GATEWAY_HTTP_PORT}", self.ip))
    }
}

/// Everything the test runs, torn down when dropped (fleets first, the namespaces last).
#[derive(Debug)]
pub struct World {
    pub gateways: Vec<Gateway>,
    pub central: Proc,
    pub central_addr: String,
    pub origin_front: Proc,
    pub origin_dir: PathBuf,
    pub net: Net,
    pub dir: tempfile::TempDir,
}

impl World {
    /// Namespaces, brokers and caches for `gateways` gateways of `per_gateway` devices each;
    /// `origin_port` is the engine's artifact server on 127.0.0.1; the caches send each device
    /// `limit_rate` bytes/s. Fleets are started by [`World::start_fleets`].
    pub fn start(
        gateways: usize,
        per_gateway: usize,
        origin_port: u16,
        limit_rate: u32,
    ) -> Result<World, String> {
        let net = Net::create(gateways)?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let host = net.host_ip();
        let central_port = free_port(&host)?;
        let central_addr = format!("{host}:{central_port}");
        let cdir = dir.path().join("central");
        let mut central = procs::start_mosquitto(
            "central mosquitto",
            None,
            &cdir,
            &procs::mosquitto_conf(&cdir, &host, central_port, None),
        )?;
        central.wait_listening(&central_addr)?;
        let origin_dir = dir.path().join("origin");
        let front_addr = format!("{host}:{}", free_port(&host)?);
        let mut origin_front = procs::start_nginx(
            "origin nginx",
            None,
            &origin_dir,
            &procs::nginx_conf(
                &origin_dir,
                &front_addr,
                &format!("127.0.0.1:{origin_port}"),
                None,
            ),
        )?;
        origin_front.wait_listening(&front_addr)?;
        let mut gws = Vec::new();
        for i in 0..gateways {
            let ns = net.namespace(i).to_string();
            let ip = net.gateway_ip(i);
            let gdir = dir.path().join(format!("gw{i}"));
            let (control, response) = (format!("gw{i}/control"), format!("gw{i}/response"));
            let mut broker = procs::start_mosquitto(
                &format!("gateway {i} mosquitto"),
                Some(&ns),
                &gdir.join("mosquitto"),
                &procs::mosquitto_conf(
                    &gdir.join("mosquitto"),
                    "0.0.0.0",
                    GATEWAY_MQTT_PORT,
                    Some((&central_addr, &format!("gw{i}"), &control, &response)),
                ),
            )?;
            let cache_dir = gdir.join("nginx");
            let mut cache = procs::start_nginx(
                &format!("gateway {i} nginx"),
                Some(&ns),
                &cache_dir,
                &procs::nginx_conf(
                    &cache_dir,
                    &format!("0.0.0.0:{GATEWAY_HTTP_PORT}"),
                    &front_addr,
                    Some(limit_rate),
                ),
            )?;
            broker.wait_listening(&format!("{ip}:{GATEWAY_MQTT_PORT}"))?;
            cache.wait_listening(&format!("{ip}:{GATEWAY_HTTP_PORT}"))?;
            gws.push(Gateway {
                index: i,
                ip,
                ids: (0..per_gateway).map(|d| format!("g{i}d{d:05}")).collect(),
                broker,
                cache,
                cache_dir,
                fleet: None,
            });
        }
        Ok(World {
            gateways: gws,
            central,
            central_addr,
            origin_front,
            origin_dir,
            net,
            dir,
        })
    }

    /// Starts every gateway's fleet and waits until all its devices are online.
    pub fn start_fleets(&mut self, timeout: Duration) -> Result<(), String> {
        for g in &mut self.gateways {
            let fleet = FleetProc::start(
                self.net.namespace(g.index),
                &g.ids,
                &g.broker_url(),
                (&g.control_topic(), &g.response_topic()),
                &self.dir.path().join(format!("gw{}/fleet", g.index)),
            )?;
            g.fleet = Some(fleet);
        }
        for g in &self.gateways {
            if let Some(f) = &g.fleet {
                f.wait_online(g.ids.len(), timeout)?;
            }
        }
        Ok(())
    }

    /// Requests the origin got: (client address, path).
    pub fn origin_requests(&self) -> Vec<(String, String)> {
        procs::access_lines(&self.origin_dir)
    }

    /// The central broker as a `tcp://` URL (the templates' `engineBroker`).
    pub fn central_url(&self) -> String {
        format!("tcp://{}", self.central_addr)
    }

    /// What Mosquitto logged (notices: client connections): the central broker's with `None`,
    /// gateway `i`'s with `Some(i)`.
    pub fn broker_log(&self, gateway: Option<usize>) -> String {
        let dir = match gateway {
            None => self.dir.path().join("central"),
            Some(i) => self.dir.path().join(format!("gw{i}/mosquitto")),
        };
        std::fs::read_to_string(dir.join("mosquitto.log")).unwrap_or_default()
    }

    /// Where the test writes its topology and artifacts.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // Nothing of the devices is kept: SIGKILL (a clean shutdown of 1,000 devices takes
        // seconds).
        for g in &mut self.gateways {
            if let Some(f) = &mut g.fleet {
                f.proc.kill();
            }
        }
    }
}
