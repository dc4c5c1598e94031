//! The real programs of the gateway test, each a child process run in the root namespace or
//! with `ip netns exec` in a gateway's (which execs, so the child is the program itself and
//! killing it by its pid stops it): Mosquitto (central, or a gateway bridged to the central
//! one), nginx (the counting origin front, or a gateway's caching proxy) and the fleet
//! simulator. Dropping a [`Proc`] kills it.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A program run from `path` or found on PATH / in /usr/sbin.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// A running child process.
#[derive(Debug)]
pub struct Proc {
    name: String,
    ns: Option<String>,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    /// Starts `program ARGS` (in namespace `ns` if given), stdout and stderr to `log`.
    pub fn start(
        name: &str,
        ns: Option<&str>,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<Proc, String> {
        let mut p = Proc {
            name: name.to_string(),
            ns: ns.map(str::to_string),
            program: program.to_path_buf(),
            args: args.to_vec(),
            log: log.to_path_buf(),
            child: None,
        };
        p.respawn()?;
        Ok(p)
    }

    /// Starts the same command again (after [`Proc::kill`]).
    pub fn respawn(&mut self) -> Result<(), String> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = match &self.ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.program);
                c
            }
            None => Command::new(&self.program),
        };
        let child = cmd
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("{}: {e}", self.name))?;
        self.child = Some(child);
        Ok(())
    }

    /// Kills the process (SIGKILL: a gateway losing power) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits until `addr` accepts TCP connections; the error carries the log.
    pub fn wait_listening(&mut self, addr: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            let exited = self
                .child
                .as_mut()
                .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited || Instant::now() > deadline {
                return Err(format!(
                    "{} does not listen on {addr}; log:\n{}",
                    self.name,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// What the process wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Mosquitto configuration: a listener on `ip:port`, and with `bridge` = (central address,
/// bridge client id, control topic, response topic) a bridge to the central broker as
/// ARCHITECTURE.md describes (control in, responses and status out, QoS 1, persistent session),
/// reporting its connection as `1`/`0` (retained; `0` also as its will) on `<id>/bridge`.
pub fn mosquitto_conf(
    dir: &Path,
    ip: &str,
    port: u16,
    bridge: Option<(&str, &str, &str, &str)>,
) -> String {
    let mut conf = format!(
        "listener {port} {ip}\nallow_anonymous true\npersistence false\nuser root\n\
         max_queued_messages 100000\nmax_inflight_messages 0\n\
         log_dest file {}\nlog_type error\nlog_type warning\nlog_type notice\n",
        dir.join("mosquitto.log").display()
    );
    if let Some((central, id, control, response)) = bridge {
        conf.push_str(&format!(
            "connection {id}\naddress {central}\nclientid {id}\ncleansession false\n\
             bridge_protocol_version mqttv311\nrestart_timeout 1\n\
             notifications true\nnotification_topic {id}/bridge\n\
             topic {control} in 1\ntopic {response}/# out 1\n"
        ));
    }
    conf
}

/// An nginx configuration in `dir` (single process, so killing it stops it): a listener on
/// `listen` that proxies to `upstream`, logging `$remote_addr $request_uri $status` to
/// `dir/access.log`. With `cache` it is a gateway's caching proxy: every artifact is fetched
/// once (`proxy_cache_lock`: concurrent misses wait for the first fill) and served to devices
/// at `limit_rate` bytes/s per connection (a constrained radio link).
pub fn nginx_conf(dir: &Path, listen: &str, upstream: &str, cache: Option<u32>) -> String {
    let d = dir.display();
    let cache_lines = match cache {
        Some(rate) => format!(
            "proxy_cache artifacts; proxy_cache_valid 200 10m; proxy_cache_lock on;\n\
             proxy_cache_lock_timeout 60s; proxy_cache_lock_age 60s; limit_rate {rate};\n"
        ),
        None => String::new(),
    };
    format!(
        "daemon off;\nmaster_process off;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         worker_rlimit_nofile 16384;\nevents {{ worker_connections 8192; }}\n\
         http {{\n log_format counted '$remote_addr $request_uri $status';\n\
         access_log {d}/access.log counted;\n\
         client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         proxy_cache_path {d}/cache levels=1:2 keys_zone=artifacts:1m max_size=256m inactive=10m use_temp_path=off;\n\
         server {{\n  listen {listen} backlog=4096;\n  location / {{\n   proxy_pass http://{upstream};\n\
         proxy_http_version 1.1;\n   {cache_lines}  }}\n }}\n}}\n"
    )
}

/// Starts nginx with `conf` written to `dir/nginx.conf`.
pub fn start_nginx(name: &str, ns: Option<&str>, dir: &Path, conf: &str) -> Result<Proc, String> {
    let program = find_program("nginx").ok_or("nginx not found (Debian package nginx)")?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).map_err(|e| e.to_string())?;
    let args = vec![
        "-e".into(),
        dir.join("error.log").display().to_string(),
        "-c".into(),
        path.display().to_string(),
    ];
    Proc::start(name, ns, &program, &args, &dir.join("stderr.log"))
}

/// Starts Mosquitto with `conf` written to `dir/mosquitto.conf`.
pub fn start_mosquitto(
    name: &str,
    ns: Option<&str>,
    dir: &Path,
    conf: &str,
) -> Result<Proc, String> {
    let program = find_program("mosquitto").ok_or("mosquitto not found (Debian package)")?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join("mosquitto.conf");
    std::fs::write(&path, conf).map_err(|e| e.to_string())?;
    let args = vec!["-c".into(), path.display().to_string()];
    Proc::start(name, ns, &program, &args, &dir.join("stderr.log"))
}

/// Requests in an access log of [`nginx_conf`]: (client address, path) of each line.
pub fn access_lines(dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join("access.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}

/// A fleet simulator process and the last online count it printed.
#[derive(Debug)]
pub struct FleetProc {
    pub proc: Proc,
    log: PathBuf,
    devices: PathBuf,
}

impl FleetProc {
    /// `netns-fleet` in namespace `ns` with `ids` on `broker` and the group's topics.
    pub fn start(
        ns: &str,
        ids: &[String],
        broker: &str,
        topics: (&str, &str),
        dir: &Path,
    ) -> Result<FleetProc, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let args: Vec<String> = [
            "--ids",
            &ids.join(","),
            "--broker",
            broker,
            "--control-topic",
            topics.0,
            "--response-topic",
            topics.1,
            "--state-dir",
            &dir.join("devices").display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let log = dir.join("fleet.log");
        let program = PathBuf::from(env!("CARGO_BIN_EXE_netns-fleet"));
        let proc = Proc::start("netns-fleet", Some(ns), &program, &args, &log)?;
        Ok(FleetProc {
            proc,
            log,
            devices: dir.join("devices"),
        })
    }

    /// The last `online: N/M` count in the fleet's log.
    pub fn online(&self) -> usize {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .rev()
            .find_map(|l| l.strip_prefix("online: "))
            .and_then(|r| r.split('/').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Devices of `ids` whose flash says an install is under way (`flashing` in the device state
    /// the simulator keeps, read as the device reads it).
    pub fn installing(&self, ids: &[String]) -> Vec<String> {
        ids.iter()
            .filter(|id| {
                provisio_firmware::agent::state::load(&self.devices.join(id))
                    .is_ok_and(|st| st.flashing.is_some())
            })
            .cloned()
            .collect()
    }

    /// Waits until no device of `ids` has been installing for a second.
    pub fn wait_idle(&self, ids: &[String], timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut idle_since: Option<Instant> = None;
        loop {
            let busy = self.installing(ids);
            if !busy.is_empty() {
                idle_since = None;
            } else if idle_since.get_or_insert_with(Instant::now).elapsed()
                >= Duration::from_secs(1)
            {
                return Ok(());
            }
            if Instant::now() > deadline && !busy.is_empty() {
                return Err(format!(
                    "{} device(s) still installing after {timeout:?}: {:?}",
                    busy.len(),
                    &busy[..busy.len().min(5)]
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `n` devices are online.
    pub fn wait_online(&self, n: usize, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while self.online() < n {
            if Instant::now() > deadline {
                return Err(format!(
                    "{}/{n} devices online after {timeout:?}; fleet log:\n{}",
                    self.online(),
                    self.proc.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}
