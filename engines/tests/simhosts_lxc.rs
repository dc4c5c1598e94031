//! Simulated hosts running real containers (root + iproute2 + LXC + sshd + busybox; skipped
//! with a clear message otherwise): a container deployed by the Raspberry Pi driver to an sshd
//! stand-in in its own network namespace gets its configuration files and serves at the
//! namespace's address; the MICA emulator runs its containers with real LXC in its namespace,
//! and a second emulator over the same storage (another process, in real use) takes over; the
//! emulator answers for other containers while one container's start is held in LXC; two Pis
//! of one network run a container of the same name on the same port side by side.

use provisio_engines::drivers::raspberry::{RaspberryConfig, container_name};
use provisio_engines::drivers::ssh::HostKeys;
use provisio_engines::engine::driver::{DriverContext, ServedArtifact};
use provisio_engines::simnet::{SimHost, SimNet};
use provisio_engines::standin::{SshdStandIn, standin_lxc_config};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "common/driver_steps.rs"]
mod driver_steps;
#[path = "common/simhosts.rs"]
mod simhosts;
use driver_steps::{ctx, inputs as own, root_dirs, served, step, tar_gz};
use simhosts::{LxcGuard, NetGuard, can_simulate_hosts, http_get, wait_get};

/// A root file system with the host's static busybox and a `/sbin/provisio-init` that serves
/// `/etc/provisio` over HTTP on `$port` (from inputs.env), as the real images' inits read it.
fn image_with_service(dir: &Path) -> ServedArtifact {
    let root = root_dirs(
        &dir.join("image"),
        &["bin", "sbin", "etc", "proc", "sys", "dev", "tmp"],
    );
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap();
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    let init = root.join("sbin/provisio-init");
    std::fs::write(
        &init,
        // PID 1 ignores SIGTERM without a handler: the trap makes lxc-stop quick.
        "#!/bin/sh\n. /etc/provisio/inputs.env\n/bin/busybox httpd -f -p \"${port:-8080}\" -h /etc/provisio &\ntrap 'kill $!; exit 0' TERM\nwait\n",
    )
    .unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(&init)
        .status()
        .unwrap();
    let bytes = tar_gz(&root, &dir.join("image.tar.gz"));
    served("Image_DA", "image.tar.gz", bytes)
}

fn lxc_state_in(host: &SimHost, lxc_path: &str, name: &str) -> String {
    let o = host
        .exec("lxc-info")
        .args(["-P", lxc_path, "-n", name, "-sH"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pi_container_in_a_namespace_gets_its_files_and_serves_at_the_namespace_address() {
    if !can_simulate_hosts() || !Path::new("/usr/sbin/sshd").exists() {
        eprintln!("SKIPPED: needs root, iproute2, lxc, busybox and openssh-server");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let net = SimNet::ensure(&format!("test-pi-{}", std::process::id())).unwrap();
    let _net = NetGuard(net.clone());
    let host = net.add_host("Pi").unwrap();
    let sshd = SshdStandIn::start_in(&dir.path().join("sshd"), &host).unwrap();
    assert!(
        sshd.address().starts_with(&format!("{}:", host.ip)),
        "{}",
        sshd.address()
    );
    let lxc_path = dir.path().join("lxc");
    std::fs::create_dir_all(&lxc_path).unwrap();
    let lxc = lxc_path.display().to_string();
    let node = "NodeRED";
    let name = container_name(node);
    let _ct = LxcGuard {
        netns: Some(host.netns.clone()),
        lxc_path: lxc.clone(),
        name: name.clone(),
    };
    let config = RaspberryConfig {
        host_keys: HostKeys::Pinned(vec![sshd.host_fingerprint.clone()]),
        key: Some(sshd.client_key.clone()),
        lxc_path: lxc.clone(),
        default_config: standin_lxc_config(dir.path()).unwrap(),
        timeout: Duration::from_secs(60),
    };
    // Larger than one command-line argument may be (128 KiB): the files travel over SFTP.
    let connections = format!(
        r#"{{"node":"NodeRED","targets":[{{"node":"InfluxDB","types":["LXContainer"],"artifacts":["InfluxDBContainer"],"host":"{}","properties":{{"port":"8086"}}}}],"sources":[{{"node":"Fleet","host":null,"properties":{{"hardwareIds":"{}"}}}}]}}"#,
        net.gateway,
        "1345963,".repeat(25_000)
    );
    let inputs = [
        ("userName", "root".to_string()),
        ("userPassword", "pi-Secret7".to_string()),
        (
            "addresses",
            serde_json::to_string(&[sshd.address()]).unwrap(),
        ),
        ("lxcConfiguration", String::new()),
        ("port", "8081".to_string()),
        ("title", "it's a flow".to_string()),
        ("connections", connections.clone()),
    ];
    let run = |op: &str, c: DriverContext| {
        let s = step(node, "LXContainerRaspberryPi", op, own(&inputs));
        let config = config.clone();
        async move { provisio_engines::drivers::raspberry::run_operation(&config, &s, &c).await }
    };
    let image = image_with_service(dir.path());
    run("install", ctx(Some(image))).await.unwrap();
    let cfg = std::fs::read_to_string(lxc_path.join(&name).join("config")).unwrap();
    assert!(cfg.contains("lxc.net.0.type = none"), "{cfg}");
    assert!(cfg.contains("lxc.init.cmd = /sbin/provisio-init"), "{cfg}");
    assert!(!cfg.contains("busybox"), "no placeholder lines: {cfg}");
    run("configure", ctx(None)).await.unwrap();
    let t = Instant::now();
    let started = run("start", ctx(None)).await;
    let start_time = t.elapsed();
    started.unwrap();
    eprintln!("Pi container started (over SSH, in its namespace) in {start_time:?}");
    assert_eq!(lxc_state_in(&host, &lxc, &name), "RUNNING");

    // The container shares the namespace: its service answers at the host's address.
    let addr = format!("{}:8081", host.ip);
    let env = wait_get(&addr, "/inputs.env");
    assert!(env.contains("port='8081'\n"), "{env}");
    assert!(env.contains("title='it'\\''s a flow'\n"), "{env}");
    assert!(!env.contains("pi-Secret7"), "secrets stay out: {env}");
    assert_eq!(wait_get(&addr, "/connections.json"), connections);
    // Not on the root namespace's loopback.
    assert!(http_get("127.0.0.1:8081", "/inputs.env").is_err());

    run("stop", ctx(None)).await.unwrap();
    assert_eq!(lxc_state_in(&host, &lxc, &name), "STOPPED");
    run("uninstall", ctx(None)).await.unwrap();
    assert!(!lxc_path.join(&name).exists());
}

/// Two simulated Pis of one network (as `--simulate` makes for two Pi templates), each with
/// its own sshd and LXC path, run a container of the same name on the same port: both run,
/// each serves its own inputs at its own host's address, and each stops and goes on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pis_run_a_container_of_the_same_name_on_the_same_port() {
    if !can_simulate_hosts() || !Path::new("/usr/sbin/sshd").exists() {
        eprintln!("SKIPPED: needs root, iproute2, lxc, busybox and openssh-server");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let net = SimNet::ensure(&format!("test-2pi-{}", std::process::id())).unwrap();
    let _net = NetGuard(net.clone());
    let name = container_name("Broker");
    let mut pis = Vec::new();
    for label in ["pi-a", "pi-b"] {
        let host = net.add_host(label).unwrap();
        let sshd = SshdStandIn::start_in(&dir.path().join(label).join("sshd"), &host).unwrap();
        let lxc_path = dir.path().join(label).join("lxc");
        std::fs::create_dir_all(&lxc_path).unwrap();
        let lxc = lxc_path.display().to_string();
        let guard = LxcGuard {
            netns: Some(host.netns.clone()),
            lxc_path: lxc.clone(),
            name: name.clone(),
        };
        let config = RaspberryConfig {
            host_keys: HostKeys::Pinned(vec![sshd.host_fingerprint.clone()]),
            key: Some(sshd.client_key.clone()),
            lxc_path: lxc,
            default_config: standin_lxc_config(&dir.path().join(label)).unwrap(),
            timeout: Duration::from_secs(60),
        };
        pis.push((label, host, sshd, config, guard));
    }
    assert_ne!(pis[0].1.ip, pis[1].1.ip);
    let run = |pi: &(&str, SimHost, SshdStandIn, RaspberryConfig, LxcGuard), op: &str| {
        let inputs = [
            ("userName", "root".to_string()),
            (
                "addresses",
                serde_json::to_string(&[pi.2.address()]).unwrap(),
            ),
            ("lxcConfiguration", String::new()),
            ("port", "8081".to_string()),
            ("title", pi.0.to_string()),
        ];
        let s = step("Broker", "LXContainerRaspberryPi", op, own(&inputs));
        let config = pi.3.clone();
        let c = ctx((op == "install").then(|| image_with_service(&dir.path().join(pi.0))));
        async move { provisio_engines::drivers::raspberry::run_operation(&config, &s, &c).await }
    };
    for pi in &pis {
        std::fs::create_dir_all(dir.path().join(pi.0)).unwrap();
        for op in ["install", "configure", "start"] {
            run(pi, op)
                .await
                .unwrap_or_else(|e| panic!("{} {op}: {e}", pi.0));
        }
    }
    for pi in &pis {
        assert_eq!(
            lxc_state_in(&pi.1, &pi.3.lxc_path, &name),
            "RUNNING",
            "{}",
            pi.0
        );
        let env = wait_get(&format!("{}:8081", pi.1.ip), "/inputs.env");
        assert!(
            env.contains(&format!("title='{}'\n", pi.0)),
            "{}: {env}",
            pi.0
        );
    }
    // The first goes; the second runs on.
    run(&pis[0], "stop").await.unwrap();
    run(&pis[0], "uninstall").await.unwrap();
    assert!(!Path::new(&pis[0].3.lxc_path).join(&name).exists());
    assert_eq!(
        lxc_state_in(&pis[1].1, &pis[1].3.lxc_path, &name),
        "RUNNING"
    );
    let env = wait_get(&format!("{}:8081", pis[1].1.ip), "/inputs.env");
    assert!(env.contains("title='pi-b'\n"), "{env}");
    run(&pis[1], "stop").await.unwrap();
    run(&pis[1], "uninstall").await.unwrap();
    assert!(!Path::new(&pis[1].3.lxc_path).join(&name).exists());
}

/// A placeholder root file system (no `/sbin/provisio-init`): the emulator binds busybox in.
fn placeholder_image(dir: &Path) -> ServedArtifact {
    let root = root_dirs(
        &dir.join("placeholder"),
        &["bin", "etc", "proc", "sys", "dev", "tmp"],
    );
    let bytes = tar_gz(&root, &dir.join("placeholder.tar.gz"));
    served("Placeholder_DA", "placeholder.tar.gz", bytes)
}

/// A simulated MICA host of its own network (`tag` and this process's id), the emulator's
/// storage in a temporary directory, and the containers `names` stopped and destroyed on drop
/// (before the network goes).
struct MicaHost {
    _guards: Vec<LxcGuard>,
    _net: NetGuard,
    host: SimHost,
    storage: std::path::PathBuf,
    lxc: String,
    dir: tempfile::TempDir,
}

impl MicaHost {
    fn new(tag: &str, names: &[&str]) -> MicaHost {
        let dir = tempfile::tempdir().unwrap();
        let net = SimNet::ensure(&format!("{tag}-{}", std::process::id())).unwrap();
        let _net = NetGuard(net);
        let host = _net.0.add_host("MICA").unwrap();
        let storage = dir.path().join("mica");
        let lxc = storage.join("lxc").display().to_string();
        let _guards = names
            .iter()
            .map(|n| LxcGuard {
                netns: Some(host.netns.clone()),
                lxc_path: lxc.clone(),
                name: n.to_string(),
            })
            .collect();
        MicaHost {
            _guards,
            _net,
            host,
            storage,
            lxc,
            dir,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mica_emulator_runs_real_containers_in_its_namespace_and_a_second_emulator_takes_over() {
    use provisio_engines::drivers::mica::{MicaClient, MicaDriver, run_operation};
    use provisio_engines::drivers::mica_api as api;
    use provisio_engines::mica_emulator::{MicaEmulator, MicaOptions};
    if !can_simulate_hosts() {
        return;
    }
    let mica = MicaHost::new("test-mica", &["InfluxDB", "Placeholder"]);
    let (dir, host) = (&mica.dir, &mica.host);
    let (storage, lxc) = (mica.storage.clone(), mica.lxc.clone());
    let options = MicaOptions {
        lxc: true,
        host: Some(host.clone()),
        // Inside the namespace, on the MICA's own address, as a real MICA would be.
        listen: Some((host.ip, 443).into()),
    };
    let emu =
        MicaEmulator::start_with("admin", "secret", storage.clone(), 1 << 30, options.clone())
            .await
            .unwrap();
    let connections = r#"{"node":"InfluxDB","targets":[],"sources":[{"node":"NodeRED","types":["LXContainer"],"artifacts":["NodeREDContainer"],"host":"10.1.2.3","properties":{}}]}"#;
    let inputs = |emu: &MicaEmulator| {
        vec![
            ("userName", "admin".to_string()),
            ("userPassword", "secret".to_string()),
            ("addresses", serde_json::to_string(&[emu.url()]).unwrap()),
            (
                "certificates",
                serde_json::to_string(std::slice::from_ref(&emu.cert_pem)).unwrap(),
            ),
            ("port", "8082".to_string()),
            ("connections", connections.to_string()),
        ]
    };
    let d = MicaDriver::default();
    let op = |node: &str, op: &str, emu: &MicaEmulator, a: Option<ServedArtifact>| {
        let s = step(node, "LXContainerMICA", op, own(&inputs(emu)));
        let d = d.clone();
        async move { run_operation(&d, &s, &ctx(a)).await }
    };
    op(
        "InfluxDB",
        "install",
        &emu,
        Some(image_with_service(dir.path())),
    )
    .await
    .unwrap();
    assert_eq!(
        emu.container_state("InfluxDB").as_deref(),
        Some("installed")
    );
    op("InfluxDB", "configure", &emu, None).await.unwrap();
    let t = Instant::now();
    op("InfluxDB", "start", &emu, None).await.unwrap();
    eprintln!(
        "MICA container started (JSON-RPC + lxc-start in its namespace) in {:?}",
        t.elapsed()
    );
    assert_eq!(lxc_state_in(host, &lxc, "InfluxDB"), "RUNNING");
    assert_eq!(emu.container_state("InfluxDB").as_deref(), Some("running"));
    let addr = format!("{}:8082", host.ip);
    assert_eq!(wait_get(&addr, "/connections.json"), connections);
    assert!(wait_get(&addr, "/inputs.env").contains("port='8082'\n"));

    // A placeholder image runs too (busybox and an init bound in).
    op(
        "Placeholder",
        "install",
        &emu,
        Some(placeholder_image(dir.path())),
    )
    .await
    .unwrap();
    op("Placeholder", "start", &emu, None).await.unwrap();
    assert_eq!(lxc_state_in(host, &lxc, "Placeholder"), "RUNNING");

    // The deploy's process ends; the undeploy's emulator over the same storage takes over.
    assert_eq!(emu.url(), format!("https://{}:443", host.ip));
    drop(emu);
    // (Its listener closes as its task ends: the port is free a moment later.)
    let deadline = Instant::now() + Duration::from_secs(5);
    let emu2 = loop {
        match MicaEmulator::start_with("admin", "secret", storage.clone(), 1 << 30, options.clone())
            .await
        {
            Ok(e) => break e,
            Err(e) if Instant::now() > deadline => panic!("{e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let mut c = MicaClient::connect(
        &emu2.url(),
        &serde_json::to_string(std::slice::from_ref(&emu2.cert_pem)).unwrap(),
    )
    .await
    .unwrap();
    c.login("admin", "secret").await.unwrap();
    let st = c
        .call(api::STATE, serde_json::json!({"name": "InfluxDB"}))
        .await
        .unwrap();
    assert_eq!(st["state"], "running");
    for node in ["InfluxDB", "Placeholder"] {
        op(node, "stop", &emu2, None).await.unwrap();
        assert_eq!(lxc_state_in(host, &lxc, node), "STOPPED");
        assert_eq!(emu2.container_state(node).as_deref(), Some("stopped"));
        let out = op(node, "uninstall", &emu2, None).await.unwrap();
        assert_eq!(out["uninstalledDeviceCount"], "1");
        assert_eq!(emu2.container_state(node), None);
        assert!(!storage.join("lxc").join(node).exists());
    }
    assert!(
        http_get(&addr, "/inputs.env").is_err(),
        "the service is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mica_emulator_answers_for_other_containers_while_one_is_starting() {
    use provisio_engines::drivers::mica::{MicaClient, MicaDriver, run_operation};
    use provisio_engines::drivers::mica_api as api;
    use provisio_engines::mica_emulator::{MicaEmulator, MicaOptions};
    use serde_json::json;
    if !can_simulate_hosts() {
        return;
    }
    let mica = MicaHost::new("test-mica-turns", &["Slow", "Quick"]);
    let (dir, host) = (&mica.dir, &mica.host);
    let (storage, lxc) = (mica.storage.clone(), mica.lxc.clone());
    let options = MicaOptions {
        lxc: true,
        host: Some(host.clone()),
        listen: None,
    };
    let emu = MicaEmulator::start_with("admin", "secret", storage.clone(), 1 << 30, options)
        .await
        .unwrap();
    let certs = serde_json::to_string(std::slice::from_ref(&emu.cert_pem)).unwrap();
    let inputs = vec![
        ("userName", "admin".to_string()),
        ("userPassword", "secret".to_string()),
        ("addresses", serde_json::to_string(&[emu.url()]).unwrap()),
        ("certificates", certs.clone()),
    ];
    let d = MicaDriver::default();
    for node in ["Slow", "Quick"] {
        let s = step(node, "LXContainerMICA", "install", own(&inputs));
        run_operation(&d, &s, &ctx(Some(placeholder_image(dir.path()))))
            .await
            .unwrap();
    }
    // Slow's start is held in an LXC pre-start hook until the test releases it (the hook
    // gives up by itself after 20 s, before lxc-wait's 30 s).
    let gate = dir.path().join("gate");
    std::fs::create_dir_all(&gate).unwrap();
    let hook = dir.path().join("hold.sh");
    let g = gate.display();
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ntouch {g}/entered\ni=0\nwhile [ ! -e {g}/release ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done\ntouch {g}/left\n"
        ),
    )
    .unwrap();
    assert!(
        Command::new("chmod")
            .arg("755")
            .arg(&hook)
            .status()
            .unwrap()
            .success()
    );
    let config = storage.join("lxc/Slow/config");
    let mut cfg = std::fs::read_to_string(&config).unwrap();
    cfg.push_str(&format!("lxc.hook.pre-start = {}\n", hook.display()));
    std::fs::write(&config, cfg).unwrap();

    let client = || async {
        let mut c = MicaClient::connect(&emu.url(), &certs).await.unwrap();
        c.login("admin", "secret").await.unwrap();
        c
    };
    let mut slow_client = client().await;
    let mut c = client().await;
    let slow =
        tokio::spawn(async move { slow_client.call(api::START, json!({"name": "Slow"})).await });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !gate.join("entered").exists() {
        assert!(Instant::now() < deadline, "the pre-start hook never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // While Slow's start is held: the device and the other container answer, and the other
    // container starts. (Slow's own state would wait: lxc-info asks Slow's monitor, which is
    // busy running the hook.)
    let info = c.call(api::DEVICE_INFO, json!({})).await.unwrap();
    assert_eq!(info["firmware"], "emulator");
    let quick = c.call(api::STATE, json!({"name": "Quick"})).await.unwrap();
    assert_eq!(quick["state"], "installed");
    let quick = c.call(api::START, json!({"name": "Quick"})).await.unwrap();
    assert_eq!(quick["state"], "running");
    let hook_left_before = gate.join("left").exists();
    let slow_done_before = slow.is_finished();
    std::fs::write(gate.join("release"), "").unwrap();
    let started = slow.await.unwrap().unwrap();
    assert_eq!(started["state"], "running");
    assert!(gate.join("left").exists());
    assert!(
        !hook_left_before && !slow_done_before,
        "the other calls were answered only after Slow's start went on"
    );
    assert_eq!(lxc_state_in(host, &lxc, "Slow"), "RUNNING");
    assert_eq!(lxc_state_in(host, &lxc, "Quick"), "RUNNING");
    for name in ["Slow", "Quick"] {
        let r = c.call(api::DELETE, json!({"name": name})).await.unwrap();
        assert_eq!(r["state"], "absent");
    }
}
