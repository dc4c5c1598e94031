//! `provisio bench deploy [--devices N] [--size-kib K]`: deploys a generated NodeMCU fleet
//! topology with simulated devices and prints figures: time per step, total, memory, and the
//! install time against plain parallel HTTP downloads of the same bytes from the same server.

use crate::deploy::{DeployOptions, deploy, services};
use provisio_engines::events::{DeployEvent, EventSink};
use provisio_firmware::agent::download::CHUNK;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const TYPES: &str = include_str!("../../tests/fixtures/constrained.tosca");

/// The constrained fixture with `n` generated hardware ids.
fn topology(n: usize) -> String {
    let ids: Vec<String> = (0..n).map(|i| format!("\"bench{i:06}\"")).collect();
    TYPES.replace(
        r#"["1345963","1361877","8797990"]"#,
        &format!("[{}]", ids.join(",")),
    )
}

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time this process used so far (user + system, from /proc/self/stat in 1/100 s ticks).
fn cpu_secs() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the `(comm)`: state is the first, utime the 12th, stime the 13th.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

/// Samples VmRSS every 10 ms on its own thread and keeps the peak since the last reset.
struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl RssSampler {
    fn start() -> Self {
        let peak = Arc::new(AtomicU64::new(rss_kib().unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib().unwrap_or(0), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        RssSampler { peak, stop }
    }

    fn reset(&self) {
        self.peak.store(rss_kib().unwrap_or(0), Ordering::Relaxed);
    }

    fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One baseline device: an HTTP GET of `path` from `host`, streamed through one buffer of
/// [`CHUNK`] bytes (as the simulated devices do) into MD5 and the slot file, then an fsync.
/// Checks the size and the MD5 like a device.
async fn plain_download(
    host: &str,
    path: &str,
    slot: &std::path::Path,
    size: usize,
    md5_hex: &str,
) -> Result<(), String> {
    use md5::Digest;
    use std::io::Write;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let err = |e: std::io::Error| e.to_string();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut s = tokio::net::TcpStream::connect(host).await.map_err(err)?;
        s.write_all(
            format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .map_err(err)?;
        let mut filled = 0;
        let body_at = loop {
            let n = s.read(&mut buf[filled..]).await.map_err(err)?;
            if n == 0 {
                return Err("connection closed before the HTTP body".into());
            }
            filled += n;
            if let Some(p) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if filled == buf.len() {
                return Err("HTTP header too long".into());
            }
        };
        if buf.starts_with(b"HTTP/1.1 503") {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue; // over the transfer cap: retry like a device would
        }
        if !buf.starts_with(b"HTTP/1.1 200") {
            return Err(String::from_utf8_lossy(&buf[..filled.min(40)]).into_owned());
        }
        let mut sum = md5::Md5::new();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(slot)
            .map_err(err)?;
        let mut written = filled - body_at;
        sum.update(&buf[body_at..filled]);
        f.write_all(&buf[body_at..filled]).map_err(err)?;
        loop {
            let n = s.read(&mut buf).await.map_err(err)?;
            if n == 0 {
                break;
            }
            sum.update(&buf[..n]);
            f.write_all(&buf[..n]).map_err(err)?;
            written += n;
        }
        tokio::task::spawn_blocking(move || f.sync_all())
            .await
            .map_err(|e| e.to_string())?
            .map_err(err)?;
        if written != size || format!("{:x}", sum.finalize()) != md5_hex {
            return Err(format!(
                "baseline download: {written} of {size} bytes or bad MD5"
            ));
        }
        return Ok(());
    }
}

/// The baseline: what each device does without Provisio, in the same process layout: an HTTP
/// GET of the same artifact from the same server, streamed in the same bounded chunks into
/// MD5 and a slot file, then an fsync (as the simulated devices flash), `parallel` at a time.
async fn plain_downloads(
    url: &str,
    n: usize,
    parallel: usize,
    slots: &std::path::Path,
    size: usize,
    md5_hex: &str,
) -> Result<Duration, String> {
    let rest = url.strip_prefix("http://").ok_or("bad url")?;
    let (host, path) = rest.split_once('/').ok_or("bad url")?;
    // The slots exist before the download, as a device's flash partitions (and the simulated
    // devices' slot files) do: the timed work writes into them, it does not create files.
    for i in 0..n {
        std::fs::File::create(slots.join(format!("slot-{i}.bin"))).map_err(|e| e.to_string())?;
    }
    let sem = Arc::new(tokio::sync::Semaphore::new(parallel));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let slot = slots.join(format!("slot-{i}.bin"));
        let (host, path, md5_hex) = (host.to_string(), path.to_string(), md5_hex.to_string());
        let sem = sem.clone();
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await.map_err(|e| e.to_string())?;
            plain_download(&host, &path, &slot, size, &md5_hex).await
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(t.elapsed())
}

/// Which MQTT broker the simulated devices and the engine use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerChoice {
    /// The embedded rumqttd, in this process (what `deploy --simulate` uses).
    Embedded,
    /// A Mosquitto started for the run, in its own process.
    Mosquitto,
    /// Embedded unless the fleet's sockets and the broker's would not fit in this process's
    /// open-files limit (two per device), then Mosquitto.
    Auto,
}

impl std::str::FromStr for BrokerChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "embedded" => Ok(BrokerChoice::Embedded),
            "mosquitto" => Ok(BrokerChoice::Mosquitto),
            "auto" => Ok(BrokerChoice::Auto),
            _ => Err(format!(
                "unknown broker '{s}' (expected embedded, mosquitto or auto)"
            )),
        }
    }
}

pub fn run(devices: usize, size_kib: usize, broker: BrokerChoice) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    rt.block_on(async move {
        match bench(devices, size_kib, broker).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        }
    })
}

/// What the event watcher saw of the install step.
#[derive(Default)]
struct InstallFigures {
    /// RSS when the install started (fleet online, idle), KiB.
    rss_idle: u64,
    /// Peak RSS while it ran, KiB.
    rss_peak: u64,
    /// Process CPU seconds it took.
    cpu: f64,
}

async fn bench(devices: usize, size_kib: usize, broker: BrokerChoice) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let topo = dir.path().join("bench.tosca");
    std::fs::write(&topo, topology(devices)).map_err(|e| e.to_string())?;
    let mut image = vec![0u8; size_kib * 1024];
    image[0] = 0xE9;
    for (i, b) in image.iter_mut().enumerate().skip(1) {
        *b = (i * 31 % 251) as u8;
    }
    std::fs::write(dir.path().join("sensor.bin"), &image).map_err(|e| e.to_string())?;
    let loaded = crate::library::open_with_builtin(&topo).map_err(|e| e.to_string())?;
    let st = crate::cli::select::select_service_template(&loaded, None)?;
    let mut opts = DeployOptions::new(dir.path().join("data"), true);
    opts.nodemcu.install_timeout = Duration::from_secs(900);
    opts.nodemcu.other_timeout = Duration::from_secs(300);
    opts.nodemcu.grace = Duration::from_millis(200);
    // Each device holds one socket to the broker and an embedded broker one more per device.
    let fds = provisio_firmware::fleet::raise_fd_limit().unwrap_or(1024);
    let broker = match broker {
        BrokerChoice::Auto if 2 * devices as u64 + 2048 > fds => BrokerChoice::Mosquitto,
        BrokerChoice::Auto => BrokerChoice::Embedded,
        b => b,
    };
    let mosquitto = match broker {
        BrokerChoice::Mosquitto => {
            let m = provisio_firmware::mosquitto::Mosquitto::start().map_err(|e| e.to_string())?;
            opts.simulated_broker = Some(m.addr());
            Some(m)
        }
        _ => None,
    };
    let sampler = Arc::new(RssSampler::start());
    let rss0 = rss_kib().unwrap_or(0);
    let (sink, mut rx) = EventSink::new();
    let watch = sampler.clone();
    let times = tokio::spawn(async move {
        let mut started: HashMap<String, Instant> = HashMap::new();
        let mut took: Vec<(String, Duration)> = Vec::new();
        let mut fig = InstallFigures::default();
        let mut cpu0 = 0.0;
        while let Some(e) = rx.recv().await {
            match e {
                DeployEvent::StepStarted { step, .. } => {
                    if step.ends_with(".install") {
                        fig.rss_idle = rss_kib().unwrap_or(0);
                        watch.reset();
                        cpu0 = cpu_secs();
                    }
                    started.insert(step, Instant::now());
                }
                DeployEvent::StepFinished { step, .. } | DeployEvent::StepFailed { step, .. } => {
                    if step.ends_with(".install") {
                        fig.rss_peak = watch.peak();
                        fig.cpu = cpu_secs() - cpu0;
                    }
                    if let Some(t) = started.get(&step) {
                        took.push((step, t.elapsed()));
                    }
                }
                _ => {}
            }
        }
        (took, fig)
    });
    let t = Instant::now();
    let outcome = deploy(
        &loaded,
        &st,
        &Default::default(),
        &opts,
        sink,
        CancellationToken::new(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let total = t.elapsed();
    let rss1 = rss_kib().unwrap_or(0);
    let (took, fig) = times.await.map_err(|e| e.to_string())?;
    let per_device = |kib: u64| kib as f64 / devices.max(1) as f64;
    println!(
        "devices: {devices}, artifact: {size_kib} KiB, broker: {}, phase: {}",
        match broker {
            BrokerChoice::Mosquitto => "Mosquitto (own process)",
            _ => "embedded rumqttd (this process)",
        },
        outcome.instance.phase
    );
    for (step, d) in &took {
        println!("  {step:<28} {:>9.3} s", d.as_secs_f64());
    }
    println!(
        "  total (incl. fleet start)    {:>9.3} s",
        total.as_secs_f64()
    );
    println!(
        "  RSS growth: {} KiB ({:.1} KiB per device; after the deploy, against before it)",
        rss1.saturating_sub(rss0),
        per_device(rss1.saturating_sub(rss0))
    );
    println!(
        "  RSS per device: idle {:.1} KiB (fleet online, before install), installing {:.1} KiB (peak during install); peak {} MiB",
        per_device(fig.rss_idle.saturating_sub(rss0)),
        per_device(fig.rss_peak.saturating_sub(rss0)),
        fig.rss_peak / 1024
    );
    let install = took
        .iter()
        .find(|(s, _)| s.ends_with(".install"))
        .map(|(_, d)| *d)
        .ok_or("no install step")?;
    // Baseline: the same bytes, same server, as plain parallel HTTP downloads.
    let services = services::get(true).await?;
    let token = provisio_engines::artifact_server::new_token();
    let md5 = provisio_engines::artifact_server::md5_hex(&image);
    let size = image.len();
    let served =
        services
            .artifacts
            .register(&token, "bench", "bench.bin", std::sync::Arc::new(image));
    let slots = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cpu0 = cpu_secs();
    let baseline = plain_downloads(&served.url, devices, 256, slots.path(), size, &md5).await?;
    let baseline_cpu = cpu_secs() - cpu0;
    services.artifacts.remove(&token);
    println!(
        "  baseline                      {:>9.3} s   (the same device work without Provisio: parallel HTTP GET of the same artifact from the same server, streamed in {} KiB chunks into MD5 and an existing slot file, fsync; 256 at a time like the fleet)",
        baseline.as_secs_f64(),
        CHUNK / 1024
    );
    println!(
        "  ratio (baseline / install)    {:>9.2}   (goal ≥ 0.8)",
        baseline.as_secs_f64() / install.as_secs_f64()
    );
    println!(
        "  CPU of this process: install {:.2} s, baseline {:.2} s{}",
        fig.cpu,
        baseline_cpu,
        if mosquitto.is_some() {
            " (Mosquitto's own CPU not included)"
        } else {
            ""
        }
    );
    for f in outcome.fleets {
        f.shutdown().await;
    }
    drop(mosquitto);
    Ok(())
}
