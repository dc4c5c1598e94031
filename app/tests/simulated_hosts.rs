//! Each Raspberry Pi of a topology is a simulated host of its own under `--simulate`: two Pis
//! (different addresses) each with a Mosquitto container on port 1883 deploy, both brokers
//! answer at their own stand-in's address, a third template naming the first Pi's address
//! shares that Pi (its Mosquitto on 1884 answers there), and the undeploy leaves no namespace
//! (`ip netns list`), no container and no process of the instance. Real LXC containers of the
//! built-in Mosquitto image (from the image cache; a deploy builds a missing one). Needs root.

mod common;

use common::{instance_id, provisio};
use provisio_engines::simnet::SimNet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/two_pis.tosca")
        .display()
        .to_string()
}

/// An MQTT 3.1.1 CONNECT to `addr`: true when a broker accepts it (CONNACK, return code 0).
fn mqtt_accepts(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    // Protocol "MQTT" level 4, clean session, keep-alive 60 s, client id "t".
    let connect = [
        0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b't',
    ];
    let mut ack = [0u8; 4];
    s.write_all(&connect).is_ok() && s.read_exact(&mut ack).is_ok() && ack == [0x20, 2, 0, 0]
}

/// Waits up to 60 s for a broker at `addr`.
fn broker_answers(addr: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if mqtt_accepts(addr) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    false
}

/// The names of `ip netns list`.
fn netns_list() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Processes whose command line names `dir` (LXC monitors and inits of its containers).
fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.display().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(&needle) {
            out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
        }
    }
    out
}

#[test]
fn two_pis_with_a_broker_on_the_same_port_each_get_their_own_host() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let (code, out) = provisio(data.path(), &["deploy", &fixture(), "--simulate"]);
    assert_eq!(code, 0, "{out}");
    let id = instance_id(&out, "deployed");
    let net = SimNet::find(&id).expect("the instance's network");
    let (a, b) = (
        common::pi_label("192.168.0.19"),
        common::pi_label("192.168.0.21"),
    );
    let ip_of = |label: &str| -> Ipv4Addr {
        net.hosts()
            .into_iter()
            .find(|h| h.netns.ends_with(&format!("-{label}")))
            .unwrap_or_else(|| panic!("no simulated host {label}: {:?}", net.hosts()))
            .ip
    };
    let (ip_a, ip_b) = (ip_of(&a), ip_of(&b));
    assert_ne!(ip_a, ip_b);
    // One namespace per Pi, named after the instance's network; no MICA, nothing else.
    let tag = net.bridge.trim_start_matches("pvb").to_string();
    let mut mine: Vec<String> = netns_list()
        .into_iter()
        .filter(|n| n.starts_with(&format!("pvn{tag}-")))
        .collect();
    mine.sort();
    assert_eq!(mine, [format!("pvn{tag}-{a}"), format!("pvn{tag}-{b}")]);
    for (ip, port) in [(ip_a, 1883), (ip_b, 1883), (ip_a, 1884)] {
        let addr = SocketAddr::from((ip, port));
        assert!(broker_answers(addr), "no broker at {addr}:\n{out}");
    }
    // Nothing listens on 1884 at the other Pi: the third template shares the first Pi only.
    assert!(!mqtt_accepts(SocketAddr::from((ip_b, 1884))));
    // Each Pi's containers in its own LXC path.
    assert_eq!(
        common::containers_left(data.path(), &id),
        [
            format!("{a}/BrokerA"),
            format!("{a}/BrokerA2"),
            format!("{b}/BrokerB")
        ]
    );
    // Devices are named as in the template, each by its own Pi's address.
    for (node, device) in [
        ("BrokerA", "192.168.0.19"),
        ("BrokerA2", "192.168.0.19"),
        ("BrokerB", "192.168.0.21"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().take(2).eq([node, device])),
            "{node} on {device}:\n{out}"
        );
    }

    // The deploy recorded the container image it sent, so `images prune` keeps it while the
    // instance stands (`tests/tests/image_prune.rs` deploys NodeMCUs only, which send none).
    let record_path =
        provisio_app::deploy::image_use::images_path(&data.path().join("instances"), &id);
    let record = std::fs::read_to_string(&record_path)
        .unwrap_or_else(|e| panic!("{}: {e}", record_path.display()));
    let sent: Vec<&str> = record
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert!(
        sent.iter().any(|l| l.contains("mosquitto")),
        "no Mosquitto image recorded:\n{record}"
    );

    let (code, out) = provisio(data.path(), &["undeploy", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(SimNet::find(&id).is_none(), "network left");
    let left: Vec<String> = netns_list()
        .into_iter()
        .filter(|n| n.starts_with(&format!("pvn{tag}-")))
        .collect();
    assert!(left.is_empty(), "namespaces left: {left:?}");
    assert!(common::containers_left(data.path(), &id).is_empty());
    let state = data.path().join("simulated").join(&id);
    assert!(!state.exists(), "left: {}", state.display());
    let procs = processes_under(&state);
    assert!(procs.is_empty(), "processes left: {procs:?}");
    for (ip, port) in [(ip_a, 1883), (ip_b, 1883)] {
        assert!(!mqtt_accepts(SocketAddr::from((ip, port))), "{ip}:{port}");
    }
}

/// A Pi whose stand-in cannot start (its state directory is taken by a file) fails its own
/// steps, and only those: the other Pi's steps go to its sshd; what names the failed Pi reaches
/// its namespace's address, never the topology's.
#[test]
fn a_pi_that_cannot_start_fails_only_its_own_steps() {
    use provisio_app::deploy::sim_hosts::{host_dir, start};
    use provisio_engines::engine::driver::{Driver, DriverContext};
    let path = fixture();
    let loaded = provisio_app::library::open_with_builtin(Path::new(&path)).unwrap();
    let st = loaded.library.service_templates()[0].1.clone();
    let mut inputs = Default::default();
    provisio_app::deploy::simulate::fill_missing_inputs(&loaded.library, &st, &mut inputs, false);
    let mut plan = provisio_model::plan::build_deploy_plan(&loaded.library, &st, &inputs).unwrap();
    let keys = provisio_engines::engine::driver::driver_keys(&loaded.library, &plan);
    let root = tempfile::tempdir().unwrap();
    let b = common::pi_label("192.168.0.21");
    let taken = host_dir(root.path(), &b);
    std::fs::create_dir_all(taken.parent().unwrap()).unwrap();
    std::fs::write(&taken, "not a directory").unwrap();
    let net = SimNet::ensure(&format!("test-pi-fails-{}", std::process::id())).unwrap();
    struct Remove(SimNet);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = self.0.remove();
        }
    }
    let _net = Remove(net.clone());
    let rt = common::runtime();
    let (sink, mut rx) = provisio_engines::events::EventSink::new();
    let started = rt.block_on(start::start(&mut plan, &keys, &net, root.path(), &sink));
    let said = common::events(&mut rx);
    assert!(
        said.contains("no simulated Raspberry Pi 192.168.0.21"),
        "{said}"
    );
    assert_eq!(
        started.stand_ins.len(),
        1,
        "the other Pi's sshd runs: {said}"
    );
    let ip_of = |label: &str| {
        net.hosts()
            .into_iter()
            .find(|h| h.netns.ends_with(&format!("-{label}")))
            .unwrap()
            .ip
            .to_string()
    };
    let a = common::pi_label("192.168.0.19");
    assert_eq!(started.hosts["192.168.0.19"], ip_of(&a));
    assert_eq!(started.hosts["192.168.0.21"], ip_of(&b));
    let (key, driver) = &started.drivers[0];
    assert_eq!(*key, "raspberry");
    assert_eq!(started.drivers.len(), 1);
    for step in &plan.steps {
        let on_b = step.node.ends_with('B');
        let addresses = step.input("addresses").unwrap();
        assert!(
            !addresses.contains("192.168.0."),
            "{}: {addresses}",
            step.id
        );
        if !on_b {
            assert!(addresses.contains(&ip_of(&a)), "{}: {addresses}", step.id);
            continue;
        }
        let ctx = DriverContext {
            events: provisio_engines::events::EventSink::new().0,
            cancel: tokio_util::sync::CancellationToken::new(),
            artifacts: Vec::new(),
        };
        let err = rt
            .block_on(driver.run(step.clone(), ctx))
            .expect_err(&step.id);
        assert!(
            err.contains("no simulated Raspberry Pi 192.168.0.21") && err.contains(&b),
            "{}: {err}",
            step.id
        );
    }
}
