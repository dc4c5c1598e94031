//! `provisio monitor tap|receiver|influx|homematic|powerfox`: the Flex4Apps monitoring pieces as
//! long-running commands (the same code the MonitoringBroker and MqttInfluxConnector containers
//! run). Each runs until Ctrl-C (or SIGTERM, SIGHUP) and shows a one-line status: updated in place on a terminal,
//! otherwise printed whenever it changes (at most once a second); a last line on exit.

use provisio_engines::monitoring::influx::{Connector, ConnectorConfig, create_database};
use provisio_engines::monitoring::sink::{RecordSink, target_from_env};
use provisio_engines::monitoring::sources::homematic::HomeMatic;
use provisio_engines::monitoring::sources::powerfox::Powerfox;
use provisio_engines::monitoring::sources::{Poller, PollerConfig, Source};
use provisio_engines::monitoring::tap::Tap;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// `host:port`, `tcp://host:port`, `mqtt://host:port` or `host` (port 1883) → (host, port).
pub fn parse_broker(s: &str) -> Result<(String, u16), String> {
    let rest = s
        .strip_prefix("tcp://")
        .or_else(|| s.strip_prefix("mqtt://"))
        .unwrap_or(s)
        .trim_end_matches('/');
    if rest.contains("://") {
        return Err(format!(
            "broker {s:?}: only tcp:// and mqtt:// (plain MQTT) are supported"
        ));
    }
    host_port(rest, 1883).map_err(|e| format!("broker {s:?}: {e}"))
}

fn host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    if s.is_empty() {
        return Err("no host".into());
    }
    // [v6]:port, host:port, or a bare host.
    if let Some(r) = s.strip_prefix('[') {
        let (h, p) = r.split_once(']').ok_or("unclosed [")?;
        let port = match p.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
            None if p.is_empty() => default_port,
            None => return Err(format!("unexpected {p:?} after ]")),
        };
        return Ok((h.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Ok((
            h.to_string(),
            p.parse().map_err(|_| format!("bad port {p:?}"))?,
        )),
        _ => Ok((s.to_string(), default_port)),
    }
}

/// `http://host:port[/]` (or `host:port`) → `host:port` for the InfluxDB HTTP API.
pub fn parse_influx(url: &str) -> Result<String, String> {
    if url.starts_with("https://") {
        return Err(format!(
            "influx {url:?}: https is not supported; use http:// on a trusted network"
        ));
    }
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or_default();
    if !rest.trim_end_matches('/').eq(authority) {
        return Err(format!(
            "influx {url:?}: give the server only (http://host:8086), no path"
        ));
    }
    let (h, p) = host_port(authority, 8086).map_err(|e| format!("influx {url:?}: {e}"))?;
    Ok(if h.contains(':') {
        format!("[{h}]:{p}")
    } else {
        format!("{h}:{p}")
    })
}

async fn resolve(what: &str, addr: &str) -> Result<SocketAddr, String> {
    tokio::net::lookup_host(addr)
        .await
        .map_err(|e| format!("{what} {addr:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{what} {addr:?}: no address"))
}

/// The status line: in place on a terminal, else a line per change (≤ 1/s).
struct Status {
    tty: bool,
    last: String,
}

impl Status {
    fn new() -> Status {
        Status {
            tty: std::io::stdout().is_terminal(),
            last: String::new(),
        }
    }

    fn show(&mut self, line: String) {
        if line == self.last {
            return;
        }
        if self.tty {
            out!("\r{line}\x1b[K");
        } else {
            outln!("{line}");
        }
        self.last = line;
    }

    fn finish(&mut self, line: String) {
        if self.tty {
            outln!("\r{line}\x1b[K");
        } else {
            outln!("{line}");
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn exit(r: Result<(), String>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => {
            errln!("error: {e}");
            2
        }
    }
}

/// Ticks once a second until Ctrl-C (SIGINT), SIGTERM (how containers are stopped) or SIGHUP;
/// a later signal while the command shuts down is handled as `signals` says.
async fn until_stopped(mut tick: impl FnMut()) {
    // Listening starts before the first tick, so no signal is missed.
    let stop = super::signals::cancel_on_stop("stopping");
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = interval.tick() => tick(),
        }
    }
}

/// `provisio monitor tap`.
pub fn run_tap(listen: &str, broker: &str, receiver: Option<&str>) -> i32 {
    exit(runtime().and_then(|rt| rt.block_on(tap(listen, broker, receiver))))
}

async fn tap(listen: &str, broker: &str, receiver: Option<&str>) -> Result<(), String> {
    let (bh, bp) = parse_broker(broker)?;
    let upstream = resolve("broker", &format!("{bh}:{bp}")).await?;
    let (lh, lp) = host_port(listen, 1883).map_err(|e| format!("listen {listen:?}: {e}"))?;
    let listen = resolve("listen", &format!("{lh}:{lp}")).await?;
    let target = receiver.map(str::to_string).unwrap_or_else(target_from_env);
    match host_port(&target, 0) {
        Ok((_, p)) if p != 0 => {}
        Ok(_) => return Err(format!("receiver {target:?}: give HOST:PORT")),
        Err(e) => return Err(format!("receiver {target:?}: {e}")),
    }
    let sink = RecordSink::start(target.clone(), 10_000);
    let tap = Tap::start(listen, upstream, sink.clone())
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    outln!(
        "tap on {} → broker {upstream}; records to {target} (Ctrl-C stops)",
        tap.addr
    );
    let line = |s: &RecordSink| {
        use std::sync::atomic::Ordering::Relaxed;
        format!(
            "records sent {}, dropped {}, queued {}",
            s.stats.sent.load(Relaxed),
            s.stats.dropped.load(Relaxed),
            s.pending()
        )
    };
    let mut status = Status::new();
    until_stopped(|| status.show(line(&sink))).await;
    // The SHUTDOWN record, then give the queue a moment to drain.
    tap.shutdown();
    let deadline = Instant::now() + Duration::from_secs(3);
    while sink.pending() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    status.finish(format!("stopped: {}", line(&sink)));
    Ok(())
}

/// `provisio monitor receiver`.
pub fn run_receiver(listen: &str, out: &std::path::Path) -> i32 {
    exit(runtime().and_then(|rt| rt.block_on(receiver(listen, out))))
}

/// Counters of the receiver's status line.
#[derive(Default)]
struct ReceiverStats {
    connections: std::sync::atomic::AtomicU64,
    records: std::sync::atomic::AtomicU64,
    rejected: std::sync::atomic::AtomicU64,
}

/// The longest record line accepted (a longer line is rejected, the connection kept).
const MAX_RECORD_LINE: usize = 1 << 20;

async fn receiver(listen: &str, out: &std::path::Path) -> Result<(), String> {
    use std::sync::Arc;
    use std::sync::atomic::Ordering::Relaxed;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let (lh, lp) = host_port(listen, 5000).map_err(|e| format!("listen {listen:?}: {e}"))?;
    let addr = resolve("listen", &format!("{lh}:{lp}")).await?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let file = Arc::new(std::sync::Mutex::new(file));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    outln!(
        "receiver on {} → {} (Ctrl-C stops)",
        listener.local_addr().map_err(|e| e.to_string())?,
        out.display()
    );
    let stats = Arc::new(ReceiverStats::default());
    let (st, f, path) = (stats.clone(), file.clone(), out.to_path_buf());
    let accept = tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            st.connections.fetch_add(1, Relaxed);
            let (st, f, path) = (st.clone(), f.clone(), path.clone());
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(conn);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    let n = match (&mut lines)
                        .take(MAX_RECORD_LINE as u64 + 1)
                        .read_until(b'\n', &mut buf)
                        .await
                    {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if line.iter().all(u8::is_ascii_whitespace) && n <= MAX_RECORD_LINE {
                        continue;
                    }
                    // Records are JSON objects; anything else (or too long) is counted, not kept.
                    let record = (n <= MAX_RECORD_LINE)
                        .then(|| serde_json::from_slice::<serde_json::Value>(line).ok())
                        .flatten()
                        .filter(serde_json::Value::is_object);
                    let Some(record) = record else {
                        st.rejected.fetch_add(1, Relaxed);
                        if n > MAX_RECORD_LINE {
                            return;
                        }
                        continue;
                    };
                    let mut text = record.to_string();
                    text.push('\n');
                    let written = f
                        .lock()
                        .map_err(|_| "lock".to_string())
                        .and_then(|mut file| {
                            file.write_all(text.as_bytes())
                                .map_err(|e| format!("{}: {e}", path.display()))
                        });
                    match written {
                        Ok(()) => st.records.fetch_add(1, Relaxed),
                        Err(e) => {
                            errln!("error: {e}");
                            st.rejected.fetch_add(1, Relaxed)
                        }
                    };
                }
            });
        }
    });
    let line = |s: &ReceiverStats| {
        format!(
            "connections {}, records {}, rejected {}",
            s.connections.load(Relaxed),
            s.records.load(Relaxed),
            s.rejected.load(Relaxed)
        )
    };
    let mut status = Status::new();
    until_stopped(|| status.show(line(&stats))).await;
    accept.abort();
    status.finish(format!("stopped: {}", line(&stats)));
    Ok(())
}

/// Arguments of `provisio monitor influx`.
pub struct InfluxArgs<'a> {
    pub broker: &'a str,
    pub topics: &'a [String],
    pub influx: &'a str,
    pub database: &'a str,
    pub measurement: &'a str,
    pub device_segment: usize,
    pub username: Option<&'a str>,
}

/// (user, password) when a user name is given; the password comes from `MQTT_PASSWORD` only,
/// so it never shows in the process list.
fn login(username: Option<&str>) -> Result<Option<(String, String)>, String> {
    match username {
        None => Ok(None),
        Some(u) => {
            let p = std::env::var("MQTT_PASSWORD")
                .map_err(|_| format!("--username {u}: set the broker password in MQTT_PASSWORD"))?;
            Ok(Some((u.to_string(), p)))
        }
    }
}

/// `provisio monitor influx`.
pub fn run_influx(a: InfluxArgs) -> i32 {
    exit(runtime().and_then(|rt| rt.block_on(influx(a))))
}

async fn influx(a: InfluxArgs<'_>) -> Result<(), String> {
    let (broker_host, broker_port) = parse_broker(a.broker)?;
    let influx = parse_influx(a.influx)?;
    if a.topics.is_empty() {
        return Err("give at least one --topic FILTER".into());
    }
    if a.database.is_empty()
        || !a
            .database
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "database {:?}: use letters, digits, _ and - only",
            a.database
        ));
    }
    let login = login(a.username)?;
    let connector = Connector::start_with_login(
        ConnectorConfig {
            broker_host,
            broker_port,
            topics: a.topics.to_vec(),
            measurement: a.measurement.to_string(),
            device_segment: a.device_segment,
            influx: influx.clone(),
            database: a.database.to_string(),
            batch_size: 500,
            flush_interval: Duration::from_millis(500),
            spool_limit: 100_000,
        },
        login,
    );
    outln!(
        "connector {} → http://{influx}/{} measurement {} (Ctrl-C stops)",
        a.topics.join(" "),
        a.database,
        a.measurement
    );
    // The database is created once InfluxDB answers; until then points wait in the spool.
    let (db_ok, db_task) = {
        let ok = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (o, i, d) = (ok.clone(), influx.clone(), a.database.to_string());
        let task = tokio::spawn(async move {
            while create_database(&i, &d).await.is_err() {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            o.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        (ok, task)
    };
    let line = |c: &Connector| {
        use std::sync::atomic::Ordering::Relaxed;
        format!(
            "messages {}, points written {}, spooled {}, dropped {}, failed writes {}{}",
            c.stats.received.load(Relaxed),
            c.stats.written.load(Relaxed),
            c.spooled(),
            c.stats.dropped.load(Relaxed),
            c.stats.failed_writes.load(Relaxed),
            if db_ok.load(Relaxed) {
                ""
            } else {
                " (InfluxDB not reachable yet)"
            }
        )
    };
    let mut status = Status::new();
    until_stopped(|| status.show(line(&connector))).await;
    // Write what is spooled if InfluxDB takes it within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(5);
    while connector.spooled() > 0 && db_ok.load(std::sync::atomic::Ordering::Relaxed) {
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db_task.abort();
    connector.stop();
    status.finish(format!("stopped: {}", line(&connector)));
    Ok(())
}

/// `provisio monitor homematic` (CCU password from HOMEMATIC_PASSWORD or `password_file`).
pub fn run_homematic(
    ccu: &str,
    devices: &[String],
    user: Option<&str>,
    password_file: Option<&std::path::Path>,
    cfg: PollerArgs,
) -> i32 {
    exit(runtime().and_then(|rt| {
        rt.block_on(async {
            let env = std::env::var("HOMEMATIC_PASSWORD").ok();
            let login = ccu_login(user, password_file, env)?;
            let source = HomeMatic::new(ccu, devices.to_vec())?
                .with_ca_file(cfg.ca_file.clone())
                .with_login(login);
            poll(source, cfg).await
        })
    }))
}

/// The CCU login: (user, password) when `user` is given, the password from `password_file`
/// (its first line) or else `env` (HOMEMATIC_PASSWORD). Errors never hold the password.
fn ccu_login(
    user: Option<&str>,
    password_file: Option<&std::path::Path>,
    env: Option<String>,
) -> Result<Option<(String, String)>, String> {
    let Some(user) = user else {
        if let Some(f) = password_file {
            return Err(format!(
                "--ccu-password-file {}: give the CCU user with --ccu-user",
                f.display()
            ));
        }
        if env.is_some() {
            return Err("HOMEMATIC_PASSWORD is set: give the CCU user with --ccu-user".into());
        }
        return Ok(None);
    };
    if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
        return Err(format!(
            "--ccu-user {user:?}: not empty, no ':' or control characters"
        ));
    }
    let password = match password_file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("--ccu-password-file {}: {e}", f.display()))?;
            text.lines().next().unwrap_or_default().to_string()
        }
        None => env.ok_or_else(|| {
            format!(
                "--ccu-user {user}: set the CCU password in HOMEMATIC_PASSWORD or give \
                 --ccu-password-file"
            )
        })?,
    };
    Ok(Some((user.to_string(), password)))
}

/// `provisio monitor powerfox` (credentials from POWERFOX_USER / POWERFOX_PASSWORD).
pub fn run_powerfox(api: &str, devices: &[String], cfg: PollerArgs) -> i32 {
    exit(runtime().and_then(|rt| {
        rt.block_on(async {
            let user = std::env::var("POWERFOX_USER").ok();
            let password = std::env::var("POWERFOX_PASSWORD").ok();
            let source = Powerfox::new(api, devices.to_vec(), user, password)?
                .with_ca_file(cfg.ca_file.clone());
            poll(source, cfg).await
        })
    }))
}

/// Poller options shared by the gateway commands.
pub struct PollerArgs<'a> {
    pub broker: &'a str,
    pub interval: f64,
    pub topic_prefix: &'a str,
    pub username: Option<&'a str>,
    /// PEM CA file for https sources (default: the system bundle).
    pub ca_file: Option<std::path::PathBuf>,
}

async fn poll<S: Source + 'static>(source: S, a: PollerArgs<'_>) -> Result<(), String> {
    let (broker_host, broker_port) = parse_broker(a.broker)?;
    if !(a.interval.is_finite() && a.interval >= 0.1) {
        return Err(format!(
            "interval {}: give at least 0.1 seconds",
            a.interval
        ));
    }
    if a.topic_prefix.contains(['+', '#']) {
        return Err(format!(
            "topic prefix {:?}: no MQTT wildcards",
            a.topic_prefix
        ));
    }
    let name = source.name();
    let poller = Poller::start(
        source,
        PollerConfig {
            broker_host,
            broker_port,
            topic_prefix: a.topic_prefix.trim_end_matches('/').to_string(),
            interval: Duration::from_secs_f64(a.interval),
            login: login(a.username)?,
        },
    );
    outln!(
        "{name} every {}s → broker {} topics {}/<device> (Ctrl-C stops)",
        a.interval,
        a.broker,
        a.topic_prefix.trim_end_matches('/')
    );
    let stats = poller.stats.clone();
    let line = |err: Option<String>| {
        use std::sync::atomic::Ordering::Relaxed;
        format!(
            "polls {}, readings published {}, dropped {}, failed polls {}{}",
            stats.polls.load(Relaxed),
            stats.published.load(Relaxed),
            stats.dropped.load(Relaxed),
            stats.failed.load(Relaxed),
            err.map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        )
    };
    let mut status = Status::new();
    until_stopped(|| status.show(line(poller.last_error()))).await;
    let last = poller.last_error();
    poller.stop().await;
    status.finish(format!("stopped: {}", line(last)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_broker("tcp://h:1"), Ok(("h".into(), 1)));
        assert_eq!(parse_broker("h"), Ok(("h".into(), 1883)));
        assert_eq!(parse_broker("[::1]:7"), Ok(("::1".into(), 7)));
        assert!(parse_broker("ssl://h:8883").is_err());
        assert!(parse_broker("h:x").is_err());
        assert_eq!(
            parse_influx("http://127.0.0.1:8086/"),
            Ok("127.0.0.1:8086".into())
        );
        assert_eq!(parse_influx("db"), Ok("db:8086".into()));
        assert!(parse_influx("https://x").is_err());
        assert!(parse_influx("http://x/write").is_err());
    }

    #[test]
    fn ccu_login_from_file_or_environment_never_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cr3t-file\nignored\n").unwrap();
        assert_eq!(ccu_login(None, None, None), Ok(None));
        assert_eq!(
            ccu_login(Some("admin"), Some(&f), Some("env-pw".into())),
            Ok(Some(("admin".into(), "s3cr3t-file".into())))
        );
        assert_eq!(
            ccu_login(Some("admin"), None, Some("env-pw".into())),
            Ok(Some(("admin".into(), "env-pw".into())))
        );
        let e = ccu_login(Some("admin"), None, None).unwrap_err();
        assert!(e.contains("HOMEMATIC_PASSWORD"), "{e}");
        let e = ccu_login(None, None, Some("env-pw".into())).unwrap_err();
        assert!(e.contains("--ccu-user") && !e.contains("env-pw"), "{e}");
        let e = ccu_login(None, Some(&f), None).unwrap_err();
        assert!(e.contains("--ccu-user") && !e.contains("s3cr3t"), "{e}");
        let e = ccu_login(Some("a:b"), None, Some("env-pw".into())).unwrap_err();
        assert!(!e.contains("env-pw"), "{e}");
        let missing = dir.path().join("none");
        let e = ccu_login(Some("admin"), Some(&missing), None).unwrap_err();
        assert!(e.contains("--ccu-password-file"), "{e}");
    }
}
