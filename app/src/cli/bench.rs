//! `provisio bench deploy [--devices N] [--size-kib K] [--broker embedded|mosquitto|auto]
//! [--runs R]`: deploys a generated NodeMCU fleet topology with simulated devices and prints
//! figures: time per step, total, memory per device (idle and installing), CPU, and the install
//! time against the same device work as plain parallel HTTP downloads from the same server (run
//! before and after the deploy; the faster run counts). With several runs, the ratio's median
//! and range close the output. Each run also prints when its install and baselines ran in
//! CLOCK_REALTIME, to cut a `perf record -k realtime` profile to them (`perf report --time`).

use super::bench_baseline::{RssSampler, cpu_secs, cpu_secs_of, plain_downloads, rss_kib};
use crate::deploy::services::{self, BrokerPreference};
use crate::deploy::{DeployOptions, deploy};
use provisio_engines::events::{DeployEvent, EventSink};
use provisio_firmware::agent::download::CHUNK;
use std::collections::HashMap;
use std::sync::Arc;
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

/// Which MQTT broker the simulated devices and the engine use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerChoice {
    /// The embedded rumqttd, in this process (what `deploy --simulate` uses without Mosquitto).
    Embedded,
    /// A Mosquitto started for the run, in its own process.
    Mosquitto,
    /// What `deploy --simulate` uses: Mosquitto when it is installed, else embedded (and
    /// Mosquitto anyway when the fleet's sockets and the embedded broker's would not fit in
    /// this process's open-files limit: two per device).
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

pub fn run(devices: usize, size_kib: usize, broker: BrokerChoice, runs: usize) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {e}");
            return 2;
        }
    };
    rt.block_on(async move {
        let mut ratios = Vec::new();
        for run in 1..=runs.max(1) {
            if runs > 1 {
                outln!("run {run} of {runs}");
            }
            match bench(devices, size_kib, broker, run == 1).await {
                Ok(ratio) => ratios.push(ratio),
                Err(e) => {
                    errln!("error: {e}");
                    return 1;
                }
            }
        }
        if ratios.len() > 1 {
            outln!("{}", summary(&mut ratios));
        }
        0
    })
}

/// The closing line of several runs: the ratios' median and range, and how many met the goal.
fn summary(ratios: &mut [f64]) -> String {
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    let median = if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    };
    let met = ratios.iter().filter(|r| **r >= GOAL).count();
    format!(
        "ratio over {n} runs: median {median:.2}, range {:.2}–{:.2}; {met} of {n} at or above {GOAL}",
        ratios[0],
        ratios[n - 1]
    )
}

/// The install should take at most 1/0.8 of the baseline's time.
const GOAL: f64 = 0.8;

/// Seconds since the epoch, as `perf record -k realtime` stamps its samples.
fn realtime() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
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
    /// The Mosquitto process's CPU seconds meanwhile (when the bench runs one).
    broker_cpu: f64,
    /// When it started and ended, CLOCK_REALTIME seconds.
    window: (f64, f64),
    /// When each device reported its app installed, from the step's start, sorted.
    installed: Vec<Duration>,
    /// When the engine had sent the install command, from the step's start.
    sent: Option<Duration>,
}

/// When the first, 10 %, half, 90 % and all of `done` (sorted) had finished, in seconds.
fn timeline(done: &[Duration]) -> String {
    let at = |q: f64| {
        let i = ((done.len() as f64 * q).ceil() as usize).clamp(1, done.len().max(1)) - 1;
        done.get(i).map_or(0.0, Duration::as_secs_f64)
    };
    format!(
        "first {:.2}, 10% {:.2}, 50% {:.2}, 90% {:.2}, all {:.2} s",
        at(0.0),
        at(0.1),
        at(0.5),
        at(0.9),
        at(1.0)
    )
}

/// One run; returns its ratio (baseline / install).
/// Memory per device is printed for the first run only: later runs start with a heap that
/// keeps what the earlier ones freed, so their growth says nothing.
async fn bench(
    devices: usize,
    size_kib: usize,
    broker: BrokerChoice,
    first_run: bool,
) -> Result<f64, String> {
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
        BrokerChoice::Auto
            if provisio_firmware::mosquitto::installed() || 2 * devices as u64 + 2048 > fds =>
        {
            BrokerChoice::Mosquitto
        }
        BrokerChoice::Auto => BrokerChoice::Embedded,
        b => b,
    };
    let mosquitto = match broker {
        BrokerChoice::Mosquitto => {
            // Set up as `deploy --simulate`'s local broker is.
            let m = provisio_firmware::mosquitto::Mosquitto::start_for_process(
                crate::deploy::services::MOSQUITTO_SETTINGS,
            )
            .map_err(|e| e.to_string())?;
            opts.simulated_broker = Some(m.addr());
            Some(m)
        }
        _ => None,
    };
    // The process-wide services (artifact server, local broker) start here: with the embedded
    // broker asked for, the devices meet at rumqttd also where Mosquitto is installed.
    let services = services::get_with(
        true,
        // rumqttd: it serves the devices with `--broker embedded`; otherwise the run's own
        // Mosquitto does (a fresh one per run) and the services' broker stays idle.
        BrokerPreference::Embedded,
    )
    .await?;
    let broker_name = match (&mosquitto, &services.broker) {
        (Some(_), _) => "Mosquitto (own process, one per run)",
        (None, Some(local)) => local.describe(),
        (None, None) => "none",
    };
    // The baseline runs before the deploy and again after it; the ratio takes the faster run,
    // so neither the order nor what the other run left in the page cache flatters Provisio.
    // Memory figures count from before it (whatever it leaves in the heap counts against us).
    let rss0 = rss_kib().unwrap_or(0);
    let first = baseline(&image, devices).await?;
    let sampler = Arc::new(RssSampler::start());
    let (sink, mut rx) = EventSink::new();
    let watch = sampler.clone();
    let broker_pid = mosquitto.as_ref().map(|m| m.pid().to_string());
    let times = tokio::spawn(async move {
        let broker_cpu = || broker_pid.as_deref().map_or(0.0, cpu_secs_of);
        let mut broker0 = 0.0;
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
                        broker0 = broker_cpu();
                        fig.window.0 = realtime();
                    }
                    started.insert(step, Instant::now());
                }
                DeployEvent::DeviceState {
                    state: provisio_engines::events::DeviceState::Installed,
                    ..
                } => {
                    if let Some((_, t)) = started.iter().find(|(s, _)| s.ends_with(".install")) {
                        fig.installed.push(t.elapsed());
                    }
                }
                DeployEvent::Log { message, .. } if message.starts_with("install sent to ") => {
                    if let Some((_, t)) = started.iter().find(|(s, _)| s.ends_with(".install")) {
                        fig.sent.get_or_insert(t.elapsed());
                    }
                }
                DeployEvent::StepFinished { step, .. } | DeployEvent::StepFailed { step, .. } => {
                    if step.ends_with(".install") {
                        fig.window.1 = realtime();
                        fig.rss_peak = watch.peak();
                        fig.cpu = cpu_secs() - cpu0;
                        fig.broker_cpu = broker_cpu() - broker0;
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
    outln!(
        "devices: {devices}, artifact: {size_kib} KiB, broker: {}, phase: {}",
        broker_name,
        outcome.instance.phase
    );
    for (step, d) in &took {
        outln!("  {step:<28} {:>9.3} s", d.as_secs_f64());
    }
    outln!(
        "  total (incl. fleet start)    {:>9.3} s",
        total.as_secs_f64()
    );
    if first_run {
        outln!(
            "  RSS growth: {} KiB ({:.1} KiB per device; after the deploy, against before it)",
            rss1.saturating_sub(rss0),
            per_device(rss1.saturating_sub(rss0))
        );
        outln!(
            "  RSS per device: idle {:.1} KiB (fleet online, before install), installing {:.1} KiB (peak during install); peak {} MiB",
            per_device(fig.rss_idle.saturating_sub(rss0)),
            per_device(fig.rss_peak.saturating_sub(rss0)),
            fig.rss_peak / 1024
        );
    } else {
        outln!(
            "  RSS per device: see the first run (the heap keeps what earlier runs freed); peak {} MiB",
            fig.rss_peak / 1024
        );
    }
    let install = took
        .iter()
        .find(|(s, _)| s.ends_with(".install"))
        .map(|(_, d)| *d)
        .ok_or("no install step")?;
    let second = baseline(&image, devices).await?;
    let baseline_windows = (first.2, second.2);
    let (before, after) = (first.0, second.0);
    let (best, cpu, _, done) = if first.0 <= second.0 { first } else { second };
    outln!(
        "  baseline                      {:>9.3} s   (the faster of {:.3} s before and {:.3} s after the deploy; the same device work without Provisio: parallel HTTP GET of the same artifact from the same server, streamed in {} KiB chunks into MD5 and an existing slot file, fsync; 256 downloads at a time like the fleet, each giving its place back before the fsync as a device does)",
        best.as_secs_f64(),
        before.as_secs_f64(),
        after.as_secs_f64(),
        CHUNK / 1024
    );
    let baseline = best;
    let baseline_cpu = cpu;
    let ratio = baseline.as_secs_f64() / install.as_secs_f64();
    outln!("  ratio (baseline / install)    {ratio:>9.2}   (goal ≥ {GOAL})");
    let mut installed = fig.installed.clone();
    installed.sort();
    outln!("  devices done, install:  {}", timeline(&installed));
    outln!(
        "  install: command sent {} (a device answers once its slot is saved, then reboots)",
        fig.sent.map_or("(not seen)".to_string(), |d| format!(
            "at {:.2} s",
            d.as_secs_f64()
        )),
    );
    outln!("  devices done, baseline: {}", timeline(&done));
    outln!(
        "  CPU of this process: install {:.2} s, baseline {:.2} s{}",
        fig.cpu,
        baseline_cpu,
        if mosquitto.is_some() {
            format!(
                " (Mosquitto's own CPU not included: {:.2} s during the install)",
                fig.broker_cpu
            )
        } else {
            String::new()
        }
    );
    if let Some(m) = &mosquitto {
        let rss = std::fs::read_to_string(format!("/proc/{}/status", m.pid()))
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .unwrap_or(0);
        outln!(
            "  Mosquitto RSS: {} MiB ({:.1} KiB per device)",
            rss / 1024,
            rss as f64 / devices.max(1) as f64
        );
    }
    outln!(
        "  windows (CLOCK_REALTIME, for perf report --time): install {:.3},{:.3}; baselines {:.3},{:.3} and {:.3},{:.3}",
        fig.window.0,
        fig.window.1,
        baseline_windows.0.0,
        baseline_windows.0.1,
        baseline_windows.1.0,
        baseline_windows.1.1
    );
    for f in outcome.fleets {
        f.shutdown().await;
    }
    drop(mosquitto);
    Ok(ratio)
}

/// One baseline run over `image` for `devices` devices: its time, this process's CPU and when
/// it ran (CLOCK_REALTIME seconds) and when each device finished.
async fn baseline(
    image: &[u8],
    devices: usize,
) -> Result<(Duration, f64, (f64, f64), Vec<Duration>), String> {
    let services = services::get(true).await?;
    let token = provisio_engines::artifact_server::new_token();
    let md5 = provisio_engines::artifact_server::md5_hex(image);
    let served = services.artifacts.register(
        &token,
        "bench",
        "bench.bin",
        std::sync::Arc::new(image.to_vec()),
    );
    let slots = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cpu0 = cpu_secs();
    let start = realtime();
    let took = plain_downloads(&served.url, devices, 256, slots.path(), image.len(), &md5).await;
    let window = (start, realtime());
    let cpu = cpu_secs() - cpu0;
    services.artifacts.remove(&token);
    let (took, done) = took?;
    Ok((took, cpu, window, done))
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn summary_takes_the_median_and_counts_runs_at_the_goal() {
        assert_eq!(
            summary(&mut [0.9, 0.7, 0.85]),
            "ratio over 3 runs: median 0.85, range 0.70–0.90; 2 of 3 at or above 0.8"
        );
        assert_eq!(
            summary(&mut [0.9, 0.7, 0.8, 0.6]),
            "ratio over 4 runs: median 0.75, range 0.60–0.90; 2 of 4 at or above 0.8"
        );
    }
}
