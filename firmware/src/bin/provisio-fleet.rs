//! `provisio-fleet`: run a simulated NodeMCU fleet against an MQTT broker (`run`, the default),
//! or benchmark 1,000s of devices against a real Mosquitto started for the purpose (`bench`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use provisio_firmware::cli::{self, FleetArgs};
use provisio_firmware::fleet::{self, Fleet, FleetConfig};
use provisio_firmware::mosquitto::Mosquitto;
use provisio_model::protocol::{Command, DeviceMessage, SUCCESS};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

#[derive(Parser)]
#[command(
    name = "provisio-fleet",
    about = "Simulated NodeMCU fleet speaking the Provisio device protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a fleet until Ctrl-C.
    Run(Box<FleetArgs>),
    /// Connect N devices to a fresh Mosquitto, send them `start`, report time, memory and CPU.
    Bench(BenchArgs),
}

#[derive(Args)]
struct BenchArgs {
    /// Fleet sizes to measure, one run each.
    #[arg(long, num_args = 1.., default_values_t = [1000usize])]
    count: Vec<usize>,
    /// Devices allowed to connect at the same moment.
    #[arg(long, default_value_t = 64)]
    concurrent_connects: usize,
    /// Also measure an install of an image of this many KiB (served over HTTP from this
    /// process) before the start; 0 pre-installs an app record instead.
    #[arg(long, default_value_t = 0)]
    install_kib: usize,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // `run` is the default subcommand: `provisio-fleet --count 3 ...` means `provisio-fleet run ...`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let first = args.get(1).and_then(|a| a.to_str()).unwrap_or("");
    if !["run", "bench", "help", "-h", "--help", "-V", "--version"].contains(&first)
        && args.len() > 1
    {
        args.insert(1, "run".into());
    }
    let cli = Cli::parse_from(args);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Cmd::Run(args) => Ok(rt.block_on(cli::run_until_ctrl_c(*args))?),
        Cmd::Bench(args) => {
            for n in args.count {
                rt.block_on(bench(n, args.concurrent_connects, args.install_kib))?;
            }
            Ok(())
        }
    }
}

/// Resident memory of a process in KiB (VmRSS).
fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// User + system CPU time of a process in seconds (clock ticks of 1/100 s).
fn cpu_secs(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0.0;
    };
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// Serve `image` at `/app.bin` on a free loopback port; returns its URL.
async fn serve_image(image: bytes::Bytes) -> Result<String> {
    use http_body_util::Full;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/app.bin", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let image = image.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let body = Full::new(image.clone());
                    async move { Ok::<_, std::convert::Infallible>(hyper::Response::new(body)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(url)
}

/// Publish `cmd`, wait until `count` more `success` answers arrived; returns time and CPU.
async fn round(
    client: &AsyncClient,
    ok: &AtomicUsize,
    count: usize,
    cmd: &Command,
) -> Result<(Duration, f64)> {
    let me = std::process::id().to_string();
    let before = ok.load(Ordering::Relaxed);
    let t = Instant::now();
    let cpu = cpu_secs(&me);
    client
        .publish("control", QoS::AtLeastOnce, false, serde_json::to_vec(cmd)?)
        .await?;
    let deadline = Instant::now() + Duration::from_secs(900);
    while ok.load(Ordering::Relaxed) - before < count {
        if Instant::now() > deadline {
            bail!(
                "only {}/{count} devices answered {} with success",
                ok.load(Ordering::Relaxed) - before,
                cmd.operation()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok((t.elapsed(), cpu_secs(&me) - cpu))
}

async fn bench(count: usize, concurrent_connects: usize, install_kib: usize) -> Result<()> {
    let limit = fleet::raise_fd_limit();
    // The fleet and Mosquitto each hold one socket per device (plus a few files).
    if let Some(l) = limit
        && l < count as u64 + 256
    {
        bail!(
            "open files limit {l} is too low for {count} devices (raise the hard limit: ulimit -Hn)"
        );
    }
    let mq = Mosquitto::start()?;
    let mq_pid = mq.pid().to_string();
    let dir = tempfile::tempdir()?;
    let ids = fleet::generated_ids(count);
    if install_kib == 0 {
        fleet::seed_installed_app(
            dir.path(),
            &ids,
            "0123456789abcdef0123456789abcdef",
            300_000,
        )?;
    }

    // The engine side: counts success responses on the response topic.
    let mut opts = MqttOptions::new("bench-engine", "127.0.0.1", mq.port());
    opts.set_keep_alive(Duration::from_secs(60));
    let (client, mut eventloop) = AsyncClient::new(opts, 100);
    let ok = Arc::new(AtomicUsize::new(0));
    let ok2 = ok.clone();
    let (sub_tx, sub_rx) = tokio::sync::oneshot::channel();
    let mut sub_tx = Some(sub_tx);
    let engine = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(t) = sub_tx.take() {
                        let _ = t.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Ok(DeviceMessage::Response { response, .. }) =
                        serde_json::from_slice(&p.payload)
                        && response == SUCCESS
                    {
                        ok2.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    client.subscribe("response", QoS::AtLeastOnce).await?;
    tokio::time::timeout(Duration::from_secs(30), sub_rx)
        .await
        .context("bench client subscribe")??;

    let me = std::process::id().to_string();
    let rss0 = rss_kib(&me);
    let cpu0 = cpu_secs(&me);
    let mq_cpu0 = cpu_secs(&mq_pid);
    let t0 = Instant::now();
    let mut cfg = FleetConfig::new(ids, mq.addr(), "control", "response", dir.path());
    cfg.concurrent_connects = concurrent_connects;
    let fleet = Fleet::spawn(cfg)?;
    if !fleet.wait_online(count, Duration::from_secs(600)).await {
        bail!(
            "only {}/{count} devices came online in 600 s; broker log:\n{}",
            fleet.online(),
            mq.log()
        );
    }
    let t_connect = t0.elapsed();
    let cpu_connect = cpu_secs(&me) - cpu0;
    let rss1 = rss_kib(&me);

    let mut install_line = String::new();
    if install_kib > 0 {
        let mut image = vec![0u8; install_kib * 1024];
        for (i, b) in image.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        image[0] = provisio_model::protocol::ESP8266_MAGIC_BYTE;
        let hash = {
            use md5::Digest;
            hex::encode(md5::Md5::digest(&image))
        };
        let cmd = Command::Install {
            install_url: serve_image(bytes::Bytes::from(image)).await?,
            binary_size: (install_kib * 1024) as u64,
            hash,
        };
        let (t, cpu) = round(&client, &ok, count, &cmd).await?;
        install_line = format!(
            "  install {install_kib} KiB -> all answered: {:>5.2} s   fleet CPU {cpu:.2} s ({:.0} us/device), {:.0} MiB/s\n",
            t.as_secs_f64(),
            cpu * 1e6 / count as f64,
            (install_kib * count) as f64 / 1024.0 / t.as_secs_f64()
        );
    }
    let (t_start, cpu_start) = round(&client, &ok, count, &Command::Start).await?;
    let rss2 = rss_kib(&me);
    let mq_rss = rss_kib(&mq_pid);
    let mq_cpu = cpu_secs(&mq_pid) - mq_cpu0;
    let cpu2 = cpu_secs(&me);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cpu_idle = cpu_secs(&me) - cpu2;
    let errors = fleet.shutdown().await;
    engine.abort();

    println!("devices: {count} (open files limit {limit:?})");
    println!(
        "  connect all:        {:>8.2} s   fleet CPU {:.2} s ({:.0} us/device)",
        t_connect.as_secs_f64(),
        cpu_connect,
        cpu_connect * 1e6 / count as f64
    );
    print!("{install_line}");
    println!(
        "  start -> all answered: {:>5.2} s   fleet CPU {:.2} s ({:.0} us/device)",
        t_start.as_secs_f64(),
        cpu_start,
        cpu_start * 1e6 / count as f64
    );
    println!(
        "  fleet RSS: before {} KiB, connected {} KiB, after start {} KiB -> {:.1} KiB/device",
        rss0,
        rss1,
        rss2,
        (rss2.saturating_sub(rss0)) as f64 / count as f64
    );
    println!("  mosquitto: RSS {mq_rss} KiB, CPU {mq_cpu:.2} s");
    println!("  idle 5 s (all connected, keep-alive 60 s): fleet CPU {cpu_idle:.2} s");
    println!("  device errors: {}", errors.len());
    Ok(())
}
