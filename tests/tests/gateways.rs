//! A rollout behind edge gateways, end to end in network namespaces of our own: a central
//! Mosquitto, three gateway namespaces each with a Mosquitto bridged to it and an nginx caching
//! proxy in front of the origin (the engine's artifact server, behind a counting nginx), and a
//! simulated fleet per gateway. The engine deploys three NodeMCU groups (`engineBroker` = the
//! central broker, `pubSubServer` and `artifactBaseUrl` = their gateway's): every device
//! finishes and each artifact crosses each gateway's uplink once. One gateway then dies in the
//! middle of the install of a new version: its bridge's will tells the engine (the group's
//! `gatewayStatusTopic`), which reports its devices offline at once while the other two
//! gateways' devices finish; once it is back a redeploy completes them all.
//! Needs root, iproute2, mosquitto and nginx; says why and passes without them.

mod support;

use provisio_app::deploy::{DeployOptions, services};
use provisio_engines::drivers::nodemcu::NodeMcuConfig;
use provisio_engines::events::DeployEvent;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::deploy::{deploy_watching, states};
use support::probe::probe_bridge;
use support::{Gateway, World};

/// Sizes and timeouts of one run.
struct Scale {
    per_gateway: usize,
    image_len: usize,
    /// Bytes per second each device gets from its gateway's cache.
    limit_rate: u32,
    install_timeout: Duration,
    other_timeout: Duration,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Runtime::new().unwrap())
}

/// Origin requests for paths ending in `/file`, by (path, client address).
fn origin_counts(world: &World, file: &str) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for (addr, path) in world.origin_requests() {
        if path.ends_with(&format!("/{file}")) {
            *out.entry((path, addr)).or_insert(0) += 1;
        }
    }
    out
}

/// Each path in `counts` was fetched exactly once by each gateway in `from` and by no one
/// else; returns the paths.
fn once_per_gateway(
    counts: &BTreeMap<(String, String), usize>,
    from: &[(usize, String)],
    what: &str,
) -> Vec<String> {
    let paths: std::collections::BTreeSet<String> = counts.keys().map(|(p, _)| p.clone()).collect();
    assert!(!paths.is_empty(), "{what}: the origin served nothing");
    for p in &paths {
        for (i, ip) in from {
            assert_eq!(
                counts.get(&(p.clone(), ip.clone())),
                Some(&1),
                "{what}: {p} from gateway {i} ({ip}); all: {counts:?}"
            );
        }
        let total: usize = counts
            .iter()
            .filter(|((q, _), _)| q == p)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(total, from.len(), "{what}: {p}; all: {counts:?}");
    }
    paths.into_iter().collect()
}

fn cache_hits(g: &Gateway, path: &str) -> usize {
    support::procs::access_lines(&g.cache_dir)
        .iter()
        .filter(|(_, p)| p == path)
        .count()
}

fn scenario(scale: Scale) {
    if let Some(why) = support::missing_prerequisite() {
        eprintln!("SKIPPED gateways test: {why}");
        return;
    }
    let rt = runtime();
    let t_setup = Instant::now();
    // The engine's artifact server is the origin; nginx in front of it counts its requests.
    let origin_port = rt
        .block_on(services::get(false))
        .unwrap()
        .artifacts
        .addr()
        .port();
    let n = scale.per_gateway;
    let mut world = World::start(3, n, origin_port, scale.limit_rate)
        .unwrap_or_else(|e| panic!("gateway namespaces: {e}"));
    for g in &world.gateways {
        rt.block_on(probe_bridge(&world.central_addr, g)).unwrap();
    }
    world
        .start_fleets(Duration::from_secs(60 + n as u64 / 20))
        .unwrap();
    let file = support::topology::write(
        world.path(),
        &world.central_url(),
        &world.gateways,
        scale.image_len,
    );
    eprintln!(
        "setup ({} namespaces, {} devices online): {:.2} s",
        world.gateways.len(),
        3 * n,
        t_setup.elapsed().as_secs_f64()
    );
    let data = tempfile::tempdir().unwrap();
    let mut opts = DeployOptions::new(data.path().to_path_buf(), false);
    opts.nodemcu = NodeMcuConfig {
        install_timeout: scale.install_timeout,
        other_timeout: scale.other_timeout,
        grace: Duration::from_millis(500),
        connect_timeout: Duration::from_secs(5),
    };
    opts.max_parallel = 9;

    // 1. Version 1 through three gateways: every device finishes, one fetch per gateway.
    let (inst, took, log) = rt.block_on(deploy_watching(&file, "FleetV1", &opts, |_| {}));
    assert_eq!(inst.phase, "deployed", "{log}");
    for g in &world.gateways {
        assert_eq!(
            states(&inst, &format!("App{}", g.index)),
            BTreeMap::from([("running".to_string(), n)]),
            "{log}"
        );
    }
    // The engine spoke to the central broker only (engineBroker); the gateways' brokers saw
    // their bridge's traffic and their own devices.
    assert!(world.broker_log(None).contains(" as provisio-engine-"));
    for g in &world.gateways {
        let log = world.broker_log(Some(g.index));
        assert!(
            !log.contains("provisio-engine-"),
            "gateway {}: {log}",
            g.index
        );
        assert!(
            log.contains(&format!(" as {}", g.ids[0])),
            "gateway {}",
            g.index
        );
    }
    let v1 = origin_counts(&world, "app-v1.bin");
    let all: Vec<(usize, String)> = world
        .gateways
        .iter()
        .map(|g| (g.index, g.ip.clone()))
        .collect();
    let v1_paths = once_per_gateway(&v1, &all, "v1");
    for g in &world.gateways {
        assert_eq!(cache_hits(g, &v1_paths[0]), n, "gateway {} cache", g.index);
    }
    eprintln!(
        "deploy v1 to {} devices behind 3 gateways (install, configure, start): {:.2} s; origin requests for app-v1.bin: {}",
        3 * n,
        took.as_secs_f64(),
        v1.values().sum::<usize>()
    );

    // 2. Version 2; gateway 2 dies as soon as its cache fetched the image: its devices are
    // downloading it at limit_rate (nginx sends the first second's worth at once, the image is
    // at least two seconds' worth), none can have finished.
    let dead = 2;
    let dead_ip = world.gateways[dead].ip.clone();
    let mut killed: Option<Instant> = None;
    let mut detected: Option<Instant> = None;
    let world_ref = &mut world;
    let (inst, took, log) = rt.block_on(deploy_watching(&file, "FleetV2", &opts, |e| {
        if killed.is_none()
            && origin_counts(world_ref, "app-v2.bin")
                .keys()
                .any(|(_, a)| *a == dead_ip)
        {
            world_ref.gateways[dead].stop();
            killed = Some(Instant::now());
        }
        if let Some(DeployEvent::StepFailed { step, .. }) = e
            && step.starts_with(&format!("App{dead}."))
            && detected.is_none()
        {
            detected = Some(Instant::now());
        }
    }));
    let killed = killed.expect("gateway 2's cache fetched v2 before the deploy ended");
    let detected = detected.unwrap_or_else(|| panic!("no step of App{dead} failed:\n{log}"));
    assert_eq!(inst.phase, "failed", "{log}");
    // The central broker published the dead bridge's will (`gw2/bridge` = 0): the engine
    // reports the group offline at once, it does not wait for the install timeout.
    assert_eq!(
        states(&inst, &format!("App{dead}")),
        BTreeMap::from([("offline".to_string(), n)]),
        "gateway {dead}'s devices\n{log}"
    );
    assert!(log.contains("gateway is down (gw2/bridge says 0)"), "{log}");
    for g in world.gateways.iter().filter(|g| g.index != dead) {
        assert_eq!(
            states(&inst, &format!("App{}", g.index)),
            BTreeMap::from([("running".to_string(), n)]),
            "{log}"
        );
    }
    let v2 = origin_counts(&world, "app-v2.bin");
    let alive: Vec<(usize, String)> = all.iter().filter(|(i, _)| *i != dead).cloned().collect();
    let v2_first: Vec<String> = v2.keys().map(|(p, _)| p.clone()).collect();
    let without_dead: BTreeMap<_, _> = v2
        .iter()
        .filter(|((_, a), _)| *a != dead_ip)
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    once_per_gateway(&without_dead, &alive, "v2 with gateway 2 dead");
    // The dying gateway's cache had fetched the image once (the devices waited on its lock).
    assert_eq!(
        v2.iter()
            .filter(|((_, a), _)| *a == dead_ip)
            .map(|(_, c)| c)
            .sum::<usize>(),
        1,
        "{v2:?}"
    );
    eprintln!(
        "deploy v2 with gateway {dead} dying mid-install: {:.2} s; its devices reported offline {:.2} s after it died; origin requests for app-v2.bin: {}",
        took.as_secs_f64(),
        detected.duration_since(killed).as_secs_f64(),
        v2.values().sum::<usize>()
    );

    // 3. The gateway comes back; a redeploy of version 2 completes every device.
    let t_back = Instant::now();
    world.gateways[dead].restart().unwrap();
    rt.block_on(probe_bridge(&world.central_addr, &world.gateways[dead]))
        .unwrap();
    let g = &world.gateways[dead];
    let fleet = g.fleet.as_ref().unwrap();
    fleet.wait_online(n, Duration::from_secs(60)).unwrap();
    // A device whose MQTT client had read the old install command just before its broker died
    // acts on it right after it reconnects (rumqttc 0.25 keeps events read before a connection
    // error and hands them out after the next ConnAck); a redeploy while it installs gets
    // "busy installing" from it. Wait until the gateway's devices have been idle for a second.
    fleet.wait_idle(&g.ids, Duration::from_secs(60)).unwrap();
    let back = t_back.elapsed();
    let (inst, took, log) = rt.block_on(deploy_watching(&file, "FleetV2", &opts, |_| {}));
    assert_eq!(inst.phase, "deployed", "{log}");
    for g in &world.gateways {
        assert_eq!(
            states(&inst, &format!("App{}", g.index)),
            BTreeMap::from([("running".to_string(), n)]),
            "{log}"
        );
    }
    let redeploy: BTreeMap<_, _> = origin_counts(&world, "app-v2.bin")
        .into_iter()
        .filter(|((p, _), _)| !v2_first.contains(p))
        .collect();
    once_per_gateway(&redeploy, &all, "v2 redeploy");
    eprintln!(
        "gateway {dead} back, its {n} devices online and idle: {:.2} s; redeploy v2: {:.2} s; origin requests: {}",
        back.as_secs_f64(),
        took.as_secs_f64(),
        redeploy.values().sum::<usize>()
    );
}

#[test]
fn three_gateways_of_100_devices() {
    scenario(Scale {
        per_gateway: 100,
        image_len: 96 * 1024,
        limit_rate: 32 * 1024,
        install_timeout: Duration::from_secs(8),
        other_timeout: Duration::from_secs(10),
    });
}

#[test]
#[ignore = "3,000 devices: cargo test -p provisio-tests --test gateways -- --ignored"]
fn three_gateways_of_1000_devices() {
    scenario(Scale {
        per_gateway: 1000,
        image_len: 96 * 1024,
        limit_rate: 32 * 1024,
        install_timeout: Duration::from_secs(30),
        other_timeout: Duration::from_secs(20),
    });
}
