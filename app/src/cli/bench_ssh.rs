//! `provisio bench ssh [--hosts 8,32] [--rtt-ms 40] [--runs 5]`: one Raspberry Pi operation
//! fanned out to N hosts vs one. Each host is an sshd stand-in behind its own delaying TCP relay
//! (`provisio_engines::netsim`, default 40 ms round trip), and the operation is cheap on the
//! server (RaspbianStretchLXC.install with LXC present: log in, `command -v lxc-create`,
//! `lxc-create --version`), so the ratio shows what the client adds when the hosts are separate
//! machines on a real network. Needs root and openssh-server.

use provisio_engines::drivers::raspberry::{RaspberryConfig, run_operation};
use provisio_engines::drivers::ssh::HostKeys;
use provisio_engines::engine::driver::DriverContext;
use provisio_engines::netsim::{DelayRelay, Latency};
use provisio_engines::standin::SshdStandIn;
use provisio_model::plan::{InputSource, ResolvedInput, Step};
use std::time::{Duration, Instant};

fn step(addrs: &[String]) -> Step {
    let input = |name: &str, value: String| ResolvedInput {
        name: name.into(),
        value,
        source: InputSource::Own,
        secret: false,
    };
    Step {
        id: "Raspbian.install".into(),
        node: "Raspbian".into(),
        node_type: provisio_model::QName::new(
            "http://provisio.dev/tosca/nodetypes",
            "RaspbianStretchLXC",
        ),
        interface: provisio_model::tosca::LIFECYCLE_INTERFACE.into(),
        operation: "install".into(),
        inputs: vec![
            input("userName", "root".into()),
            input(
                "addresses",
                serde_json::to_string(addrs).unwrap_or_default(),
            ),
        ],
        outputs: vec![],
        artifacts: vec![],
        deps: vec![],
        stage: 0,
    }
}

/// CPU time (user + system) of this process's threads, split into the relay threads (named
/// `netsim`) and all others (the client).
fn cpu_split() -> (Duration, Duration) {
    let tick = 100.0; // USER_HZ on Linux
    let (mut relay, mut rest) = (0u64, 0u64);
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
                continue;
            };
            // Fields after the parenthesised name: utime and stime are the 12th and 13th.
            let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let f: Vec<u64> = after
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|x| x.parse().ok())
                .collect();
            let ticks = f.iter().sum::<u64>();
            if comm.starts_with("netsim") {
                relay += ticks;
            } else {
                rest += ticks;
            }
        }
    }
    let d = |t: u64| Duration::from_secs_f64(t as f64 / tick);
    (d(rest), d(relay))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn run(hosts: &[usize], rtt_ms: u64, runs: usize) -> i32 {
    match bench(hosts, rtt_ms, runs.max(1)) {
        Ok(()) => 0,
        Err(e) => {
            errln!("error: {e}");
            1
        }
    }
}

fn bench(hosts: &[usize], rtt_ms: u64, runs: usize) -> Result<(), String> {
    let mut counts = vec![1];
    counts.extend(hosts.iter().copied().filter(|&n| n > 1));
    counts.sort_unstable();
    counts.dedup();
    let max = *counts.last().unwrap_or(&1);
    let rtt = Duration::from_millis(rtt_ms);
    let client = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // The "network" runs on its own thread so the client's runtime only does client work.
    let net = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("netsim")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut standins = Vec::new();
    for i in 0..max {
        standins.push(SshdStandIn::start(&dir.path().join(format!("pi{i}")))?);
    }
    // Every stand-in trusts the first one's client key.
    for s in standins.iter().skip(1) {
        std::fs::copy(
            standins[0].dir.join("authorized_keys"),
            s.dir.join("authorized_keys"),
        )
        .map_err(|e| e.to_string())?;
    }
    let mut relays = Vec::new();
    let mut addrs = Vec::new();
    for s in &standins {
        if rtt.is_zero() {
            addrs.push(s.address());
            continue;
        }
        let target = s
            .address()
            .parse::<std::net::SocketAddr>()
            .map_err(|e| e.to_string())?;
        let relay = net
            .block_on(DelayRelay::start(target, Latency::rtt(rtt)))
            .map_err(|e| format!("relay: {e}"))?;
        addrs.push(relay.addr().to_string());
        relays.push(relay);
    }
    let config = RaspberryConfig {
        host_keys: HostKeys::Pinned(
            standins
                .iter()
                .map(|s| s.host_fingerprint.clone())
                .collect(),
        ),
        key: Some(standins[0].client_key.clone()),
        ..Default::default()
    };
    let (events, _rx) = provisio_engines::events::EventSink::new();
    let ctx = DriverContext {
        events,
        cancel: tokio_util::sync::CancellationToken::new(),
        artifacts: vec![],
    };
    let network = if rtt.is_zero() {
        "no added latency".to_string()
    } else {
        format!("each behind its own relay adding {rtt_ms} ms round trip")
    };
    outln!(
        "RaspbianStretchLXC.install over SSH (connect, key exchange, key login, 2 short commands) to N sshd stand-ins on this machine, {network}; median of {runs} runs (best); CPU from /proc in 10 ms ticks:"
    );
    let mut one = Duration::ZERO;
    for &n in &counts {
        let s = step(&addrs[..n]);
        // One warm-up run (first connections to fresh sshds).
        client.block_on(run_operation(&config, &s, &ctx))?;
        let server_cpu = || standins[..n].iter().map(|s| s.cpu_time()).sum::<Duration>();
        let (cpu0, relay0, srv0) = {
            let (c, r) = cpu_split();
            (c, r, server_cpu())
        };
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            client.block_on(run_operation(&config, &s, &ctx))?;
            times.push(t.elapsed());
        }
        let (cpu1, relay1) = cpu_split();
        let srv1 = server_cpu();
        times.sort_unstable();
        let median = times[times.len() / 2];
        if n == 1 {
            one = median;
        }
        let per_host = |d: Duration| ms(d) / (runs * n) as f64;
        let ratio = if n == 1 {
            "baseline  ".to_string()
        } else {
            format!("ratio {:.2}", median.as_secs_f64() / one.as_secs_f64())
        };
        outln!(
            "  {n:>3} host{} {:>7.0} ms ({:>4.0})  {ratio}  CPU per host: client {:.1} ms, relay {:.1} ms, sshd {:.1} ms",
            if n == 1 { " " } else { "s" },
            ms(median),
            ms(times[0]),
            per_host(cpu1.saturating_sub(cpu0)),
            per_host(relay1.saturating_sub(relay0)),
            per_host(srv1.saturating_sub(srv0)),
        );
    }
    if !rtt.is_zero() {
        outln!(
            "  baseline: 1 host through the same relay, same process; {:.1} round trips of {rtt_ms} ms. Goal: 8 hosts ≤ 1.3× 1 host.",
            one.as_secs_f64() / rtt.as_secs_f64()
        );
    }
    drop(relays);
    Ok(())
}
