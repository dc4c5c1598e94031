//! The Raspberry Pi driver against real peers: OpenSSH servers on loopback stand for Pis, real
//! LXC runs the containers (as root; CI runs as root with openssh-server and lxc installed).
//! A container really exists and runs after start and is gone after uninstall; a wrong host key
//! or an unreachable address fails that address only; over delaying relays (40 ms-class links)
//! an operation still completes on every host.

use provisio_engines::drivers::raspberry::{RaspberryConfig, container_name, run_operation};
use provisio_engines::drivers::ssh::HostKeys;
use provisio_engines::standin::{SshdStandIn, standin_lxc_config};
use provisio_model::plan::Step;
use std::process::Command;
use std::time::Duration;

#[path = "common/driver_steps.rs"]
mod driver_steps;
use driver_steps::{ctx, input, pi_config, root_dirs, served, tar_gz};

/// The operation `op` of `node` on the Pis at `addresses`, logging in as root.
fn step(node: &str, node_type: &str, op: &str, addresses: &[String]) -> Step {
    driver_steps::step(
        node,
        node_type,
        op,
        vec![
            input("userName", "root"),
            input("userPassword", "unused"),
            input("addresses", serde_json::to_string(addresses).unwrap()),
            input("lxcConfiguration", ""),
        ],
    )
}

fn rootfs_tarball(dir: &std::path::Path) -> Vec<u8> {
    let root = root_dirs(
        &dir.join("rootfs"),
        &["bin", "etc", "proc", "sys", "dev", "tmp"],
    );
    std::fs::write(root.join("etc/provisio-image"), "test image\n").unwrap();
    tar_gz(&root, &dir.join("rootfs.tar.gz"))
}

fn lxc_state(lxc_path: &str, name: &str) -> String {
    let o = Command::new("lxc-info")
        .args(["-P", lxc_path, "-n", name, "-sH"])
        .output()
        .expect("lxc-info (apt-get install lxc)");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_lifecycle_on_two_pis_with_one_bad_host_key_and_one_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let pi1 = SshdStandIn::start(&dir.path().join("pi1"))
        .expect("sshd stand-in (needs root and openssh-server)");
    let pi2 = SshdStandIn::start(&dir.path().join("pi2")).unwrap();
    let lxc_path = dir.path().join("lxc");
    std::fs::create_dir_all(&lxc_path).unwrap();
    let lxc = lxc_path.display().to_string();
    let node = format!("NodeRED_{}", std::process::id());
    let name = container_name(&node);
    let config = RaspberryConfig {
        host_keys: HostKeys::Pinned(vec![
            pi1.host_fingerprint.clone(),
            pi2.host_fingerprint.clone(),
        ]),
        key: Some(pi1.client_key.clone()),
        lxc_path: lxc.clone(),
        default_config: standin_lxc_config(dir.path()).unwrap(),
        timeout: Duration::from_secs(60),
    };
    // pi2 only trusts its own client key: give it pi1's key too.
    std::fs::copy(
        pi1.dir.join("authorized_keys"),
        pi2.dir.join("authorized_keys"),
    )
    .unwrap();
    let bytes = rootfs_tarball(dir.path());
    let ctx = ctx([served("NodeRED_DA", "rootfs.tar.gz", bytes)]);
    // Two Pis share this machine's LXC: address one of them for the container lifecycle.
    let one = vec![pi1.address()];
    let os = run_operation(
        &config,
        &step(
            "Raspbian",
            "RaspbianStretchLXC",
            "install",
            &[pi1.address(), pi2.address()],
        ),
        &ctx,
    )
    .await
    .unwrap();
    assert_eq!(os["installedDeviceCount"], "2");
    let out = run_operation(
        &config,
        &step(&node, "LXContainerRaspberryPi", "install", &one),
        &ctx,
    )
    .await
    .unwrap();
    assert_eq!(out["installedDeviceCount"], "1");
    assert!(out["availableSpace"].ends_with("KiB"));
    assert!(lxc_path.join(&name).join("config").exists());
    // Installing twice is not an error.
    run_operation(
        &config,
        &step(&node, "LXContainerRaspberryPi", "install", &one),
        &ctx,
    )
    .await
    .unwrap();
    run_operation(
        &config,
        &step(&node, "LXContainerRaspberryPi", "configure", &one),
        &ctx,
    )
    .await
    .unwrap();
    let started = run_operation(
        &config,
        &step(&node, "LXContainerRaspberryPi", "start", &one),
        &ctx,
    )
    .await;
    let state = lxc_state(&lxc, &name);
    let stopped = run_operation(
        &config,
        &step(&node, "LXContainerRaspberryPi", "stop", &one),
        &ctx,
    )
    .await;
    let uninstalled = run_operation(
        &config,
        &step(&node, "LXContainerRaspberryPi", "uninstall", &one),
        &ctx,
    )
    .await;
    assert_eq!(started.unwrap()["startedDeviceCount"], "1");
    assert_eq!(state, "RUNNING");
    stopped.unwrap();
    assert_eq!(uninstalled.unwrap()["uninstalledDeviceCount"], "1");
    assert!(
        !lxc_path.join(&name).exists(),
        "container gone after uninstall"
    );

    // A host key that is not pinned, and an unreachable address, fail per address.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut bad = config.clone();
    bad.host_keys = HostKeys::Pinned(vec![pi1.host_fingerprint.clone()]);
    let err = run_operation(
        &bad,
        &step(
            "Raspbian",
            "RaspbianStretchLXC",
            "install",
            &[pi1.address(), pi2.address(), format!("127.0.0.1:{dead}")],
        ),
        &ctx,
    )
    .await
    .unwrap_err();
    assert!(err.starts_with("1 of 3 devices succeeded"), "{err}");
    assert!(
        err.contains(&format!("host key {} is not trusted", pi2.host_fingerprint)),
        "{err}"
    );
    assert!(err.contains(&format!("127.0.0.1:{dead}")), "{err}");
}

#[tokio::test]
async fn wrong_key_is_a_login_error() {
    let dir = tempfile::tempdir().unwrap();
    let pi = SshdStandIn::start(&dir.path().join("pi"))
        .expect("sshd stand-in (needs root and openssh-server)");
    let other = SshdStandIn::start(&dir.path().join("other")).unwrap();
    let config = RaspberryConfig {
        host_keys: HostKeys::Pinned(vec![pi.host_fingerprint.clone()]),
        key: Some(other.client_key.clone()),
        ..Default::default()
    };
    let ctx = ctx([]);
    let err = run_operation(
        &config,
        &step("Raspbian", "RaspbianStretchLXC", "install", &[pi.address()]),
        &ctx,
    )
    .await
    .unwrap_err();
    assert!(err.contains("login as 'root' refused"), "{err}");
}

#[tokio::test]
async fn password_login_works_and_a_wrong_password_is_refused_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    let user = format!("pvt{}", std::process::id() % 100_000);
    let pi = SshdStandIn::start_with_password_user(&dir.path().join("pi"), &user, "raspberry-Pw1")
        .expect("sshd stand-in with a password user (root, useradd)");
    let mut s = step("Raspbian", "RaspbianStretchLXC", "install", &[pi.address()]);
    let set = |s: &mut Step, name: &str, v: &str| {
        s.inputs.iter_mut().find(|i| i.name == name).unwrap().value = v.into()
    };
    set(&mut s, "userName", &user);
    set(&mut s, "userPassword", "raspberry-Pw1");
    let config = RaspberryConfig {
        host_keys: HostKeys::Pinned(vec![pi.host_fingerprint.clone()]),
        ..Default::default()
    };
    let ctx = ctx([]);
    // Logged in with the password (lxc-create exists here, so nothing is installed).
    let out = run_operation(&config, &s, &ctx).await.unwrap();
    assert_eq!(out["installedDeviceCount"], "1");
    set(&mut s, "userPassword", "wrong-Secret9");
    let err = run_operation(&config, &s, &ctx).await.unwrap_err();
    assert!(err.contains(&format!("login as '{user}' refused")), "{err}");
    assert!(
        !err.contains("wrong-Secret9"),
        "the password must never appear: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_and_a_broken_image_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let pi = SshdStandIn::start(&dir.path().join("pi"))
        .expect("sshd stand-in (needs root and openssh-server)");
    // A 256 KiB tmpfs as the devices' container storage.
    let small = dir.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount tmpfs (needs root)");
    let config = pi_config(&pi, &small, String::new());
    let big: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let artifact = |bytes: Vec<u8>| served("DA", "rootfs.tar.gz", bytes);
    let ctx = ctx([artifact(big)]);
    let err = run_operation(
        &config,
        &step("Full", "LXContainerRaspberryPi", "install", &[pi.address()]),
        &ctx,
    )
    .await
    .unwrap_err();
    let _ = Command::new("umount").arg(&small).status();
    assert!(err.starts_with("0 of 1 devices succeeded"), "{err}");
    assert!(
        err.to_lowercase().contains("writing")
            || err.to_lowercase().contains("space")
            || err.contains("failed"),
        "{err}"
    );
    // A tarball that is not one: the unpack fails with tar's message.
    let mut ok = config.clone();
    let lxc = dir.path().join("lxc");
    std::fs::create_dir_all(&lxc).unwrap();
    ok.lxc_path = lxc.display().to_string();
    let ctx = driver_steps::ctx([artifact(b"this is not a tarball".to_vec())]);
    let err = run_operation(
        &ok,
        &step(
            "Broken",
            "LXContainerRaspberryPi",
            "install",
            &[pi.address()],
        ),
        &ctx,
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("command failed") && err.contains("gzip"),
        "{err}"
    );
}

#[tokio::test]
async fn operation_over_slow_links_through_delaying_relays() {
    use provisio_engines::netsim::{DelayRelay, Latency};
    let rtt = Duration::from_millis(30);
    let dir = tempfile::tempdir().unwrap();
    let pi1 = SshdStandIn::start(&dir.path().join("pi1"))
        .expect("sshd stand-in (needs root and openssh-server)");
    let pi2 = SshdStandIn::start(&dir.path().join("pi2")).unwrap();
    std::fs::copy(
        pi1.dir.join("authorized_keys"),
        pi2.dir.join("authorized_keys"),
    )
    .unwrap();
    let mut relays = Vec::new();
    for pi in [&pi1, &pi2] {
        let target = pi.address().parse::<std::net::SocketAddr>().unwrap();
        relays.push(DelayRelay::start(target, Latency::rtt(rtt)).await.unwrap());
    }
    let addrs: Vec<String> = relays.iter().map(|r| r.addr().to_string()).collect();
    let config = RaspberryConfig {
        host_keys: HostKeys::Pinned(vec![
            pi1.host_fingerprint.clone(),
            pi2.host_fingerprint.clone(),
        ]),
        key: Some(pi1.client_key.clone()),
        ..Default::default()
    };
    let ctx = ctx([]);
    let t = std::time::Instant::now();
    let out = run_operation(
        &config,
        &step("Raspbian", "RaspbianStretchLXC", "install", &addrs),
        &ctx,
    )
    .await
    .unwrap();
    // Banner, key exchange, login, channel and command each need a round trip at least.
    assert!(t.elapsed() >= rtt * 5, "took {:?}", t.elapsed());
    assert_eq!(
        out.get("installedDeviceCount").map(String::as_str),
        Some("2")
    );
}
