//! `provisio bench deploy [--devices N] [--size-kib K]`: deploys a generated NodeMCU fleet
//! topology with simulated devices and prints figures: time per step, total, memory, and the
//! install time against plain parallel HTTP downloads of the same bytes from the same server.

use crate::deploy::{DeployOptions, deploy, services};
use provisio_engines::events::{DeployEvent, EventSink};
use std::collections::HashMap;
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

/// The baseline: what each device does without Provisio, in the same process layout: an HTTP
/// GET of the same artifact from the same server, MD5 over the bytes, a write to a slot file
/// and an fsync (as the simulated devices flash).
async fn plain_downloads(
    url: &str,
    n: usize,
    parallel: usize,
    slots: &std::path::Path,
) -> Result<Duration, String> {
    use md5::Digest;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").ok_or("bad url")?;
    let (host, path) = rest.split_once('/').ok_or("bad url")?;
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(parallel));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let slot = slots.join(format!("slot-{i}.bin"));
        let host = host.to_string();
        let path = path.to_string();
        let sem = sem.clone();
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await.map_err(|e| e.to_string())?;
            loop {
                let mut s = tokio::net::TcpStream::connect(&host)
                    .await
                    .map_err(|e| e.to_string())?;
                s.write_all(
                    format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await
                .map_err(|e| e.to_string())?;
                let mut buf = Vec::new();
                s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
                if buf.starts_with(b"HTTP/1.1 503") {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue; // over the transfer cap: retry like a device would
                }
                let body_at = buf
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map(|p| p + 4)
                    .ok_or("no HTTP body")?;
                let body = &buf[body_at..];
                let _sum = md5::Md5::digest(body);
                let mut f = tokio::fs::File::create(&slot)
                    .await
                    .map_err(|e| e.to_string())?;
                f.write_all(body).await.map_err(|e| e.to_string())?;
                f.sync_all().await.map_err(|e| e.to_string())?;
                return Ok::<usize, String>(body.len());
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(t.elapsed())
}

pub fn run(devices: usize, size_kib: usize) -> i32 {
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
        match bench(devices, size_kib).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        }
    })
}

async fn bench(devices: usize, size_kib: usize) -> Result<(), String> {
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
    let rss0 = rss_kib().unwrap_or(0);
    let (sink, mut rx) = EventSink::new();
    let times = tokio::spawn(async move {
        let mut started: HashMap<String, Instant> = HashMap::new();
        let mut took: Vec<(String, Duration)> = Vec::new();
        while let Some(e) = rx.recv().await {
            match e {
                DeployEvent::StepStarted { step, .. } => {
                    started.insert(step, Instant::now());
                }
                DeployEvent::StepFinished { step, .. } | DeployEvent::StepFailed { step, .. } => {
                    if let Some(t) = started.get(&step) {
                        took.push((step, t.elapsed()));
                    }
                }
                _ => {}
            }
        }
        took
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
    let took = times.await.map_err(|e| e.to_string())?;
    println!(
        "devices: {devices}, artifact: {size_kib} KiB, phase: {}",
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
        "  RSS growth: {} KiB ({:.1} KiB per device)",
        rss1.saturating_sub(rss0),
        rss1.saturating_sub(rss0) as f64 / devices.max(1) as f64
    );
    let install = took
        .iter()
        .find(|(s, _)| s.ends_with(".install"))
        .map(|(_, d)| *d)
        .ok_or("no install step")?;
    // Baseline: the same bytes, same server, as plain parallel HTTP downloads.
    let services = services::get(true).await?;
    let token = provisio_engines::artifact_server::new_token();
    let served =
        services
            .artifacts
            .register(&token, "bench", "bench.bin", std::sync::Arc::new(image));
    let slots = tempfile::tempdir().map_err(|e| e.to_string())?;
    let baseline = plain_downloads(&served.url, devices, 256, slots.path()).await?;
    services.artifacts.remove(&token);
    println!(
        "  baseline                      {:>9.3} s   (the same device work without Provisio: parallel HTTP GET of the same artifact from the same server, MD5, slot file write, fsync)",
        baseline.as_secs_f64()
    );
    println!(
        "  ratio (baseline / install)    {:>9.2}   (goal ≥ 0.8)",
        baseline.as_secs_f64() / install.as_secs_f64()
    );
    for f in outcome.fleets {
        f.shutdown().await;
    }
    Ok(())
}
