//! Helpers shared by the app's integration tests: running the real `provisio` binary,
//! deploying/undeploying through the library with simulated devices on one shared runtime, and
//! for GUI tests a test run in a data directory of its own and a copy of a repository folder.
#![allow(dead_code)] // each test binary uses a different part

use provisio_app::deploy::{DeployOptions, DeployOutcome, deploy, undeploy};
use provisio_engines::events::{DeployEvent, EventSink};
use std::path::Path;
use std::process::Command;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

/// An instance record as a test writes it: not simulated, no inputs, steps or devices,
/// created at 1 from `x.tosca`; callers change what their case needs.
pub fn instance_record(
    id: &str,
    service_template: &str,
    phase: &str,
) -> provisio_engines::engine::instance::InstanceState {
    provisio_engines::engine::instance::InstanceState {
        id: id.into(),
        source: "x.tosca".into(),
        service_template: service_template.into(),
        created: 1,
        simulated: false,
        inputs: Default::default(),
        steps: Vec::new(),
        devices: Default::default(),
        phase: phase.into(),
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (up to 20 s) until something listens on loopback `port`.
pub fn wait_port(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The section of step `step` in a plan `provisio plan` printed: its line and the indented
/// lines of its inputs. Panics naming the step when the plan has none.
pub fn plan_section(plan: &str, step: &str) -> String {
    let at = plan.find(step).unwrap_or_else(|| panic!("{step}: {plan}"));
    plan[at..]
        .lines()
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with("      "))
        .map(|(_, l)| format!("{l}\n"))
        .collect()
}

/// Runs `provisio ARGS` with its own data directory; exit code and stdout+stderr.
pub fn provisio(data: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(args)
        .env("PROVISIO_DATA_DIR", data)
        .env("PROVISIO_NO_PROGRESS", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The instance id from the CLI's `instance ID is PHASE` line.
pub fn instance_id(out: &str, phase: &str) -> String {
    out.lines()
        .find_map(|l| {
            l.strip_prefix("instance ")
                .and_then(|r| r.strip_suffix(&format!(" is {phase}")))
        })
        .unwrap_or_else(|| panic!("no instance line in:\n{out}"))
        .to_string()
}

/// The embedded broker and artifact server live as long as the runtime that started them (one
/// per process, as in the CLI and the GUI): tests share one.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Runtime::new().unwrap())
}

/// Deploys (or with `undeploy_id`, undeploys) on the shared runtime; the simulated fleets are
/// shut down. Returns the outcome and the events it sent.
pub fn run(
    loaded: &provisio_model::Loaded,
    st: &provisio_model::tosca::ServiceTemplate,
    undeploy_id: Option<&str>,
    opts: &DeployOptions,
) -> (DeployOutcome, UnboundedReceiver<DeployEvent>) {
    let rt = runtime();
    let (sink, rx) = EventSink::new();
    let cancel = CancellationToken::new();
    let none = Default::default();
    let out = rt
        .block_on(async {
            match undeploy_id {
                Some(id) => undeploy(id, &none, opts, sink, cancel).await,
                None => deploy(loaded, st, &none, opts, sink, cancel).await,
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
    for f in out.fleets {
        rt.block_on(f.shutdown());
    }
    let out = DeployOutcome {
        fleets: Vec::new(),
        ..out
    };
    (out, rx)
}

/// Every event, one per line (for failure messages).
pub fn events(rx: &mut UnboundedReceiver<DeployEvent>) -> String {
    let mut out = String::new();
    while let Ok(e) = rx.try_recv() {
        out.push_str(&format!("{e:?}\n"));
    }
    out
}

/// The summary of the run's `DeploymentFinished` event.
pub fn summary(rx: &mut UnboundedReceiver<DeployEvent>) -> String {
    let mut out = String::new();
    while let Ok(e) = rx.try_recv() {
        if let DeployEvent::DeploymentFinished { summary, .. } = e {
            out = summary;
        }
    }
    out
}

/// The label of the simulated Pi standing in for the topology host `host` (e.g. `192.168.0.19`).
pub fn pi_label(host: &str) -> String {
    use provisio_app::deploy::sim_hosts::{Kind, host_label};
    host_label(Kind::Pi, Some(host))
}

/// The label of the simulated MICA standing in for the topology host `host`.
pub fn mica_label(host: &str) -> String {
    use provisio_app::deploy::sim_hosts::{Kind, host_label};
    host_label(Kind::Mica, Some(host))
}

/// The LXC path of the simulated host `label` of instance `id` under data directory `data`.
pub fn lxc_path(data: &Path, id: &str, label: &str) -> std::path::PathBuf {
    use provisio_app::deploy::sim_hosts::{host_lxc_path, state_dir};
    host_lxc_path(&state_dir(data, id), label)
}

/// The containers (`label/name`) in the LXC paths of every simulated host of instance `id`.
pub fn containers_left(data: &Path, id: &str) -> Vec<String> {
    let hosts = provisio_app::deploy::sim_hosts::state_dir(data, id).join("hosts");
    let mut out = Vec::new();
    for h in std::fs::read_dir(hosts).into_iter().flatten().flatten() {
        let label = h.file_name().to_string_lossy().into_owned();
        for c in std::fs::read_dir(h.path().join("lxc"))
            .into_iter()
            .flatten()
            .flatten()
        {
            out.push(format!("{label}/{}", c.file_name().to_string_lossy()));
        }
    }
    out.sort();
    out
}

/// `program` run inside the network namespace of the simulated host `label` ([`pi_label`],
/// [`mica_label`]) of instance `id`: LXC answers for a container only inside the namespace it
/// runs in.
pub fn in_simulated_host(id: &str, label: &str, program: &str) -> Command {
    let net = provisio_engines::simnet::SimNet::find(id)
        .unwrap_or_else(|| panic!("instance {id} has no simulated network"));
    let host = net
        .hosts()
        .into_iter()
        .find(|h| h.netns.ends_with(&format!("-{label}")))
        .unwrap_or_else(|| panic!("instance {id} has no simulated host {label}"));
    host.exec(program)
}

/// Removes the simulated networks (and whatever still runs in them: containers of instances a
/// test left deployed) of every instance under a data directory when dropped. Declare it after
/// the data directory so it runs first.
pub struct SimCleanup(pub std::path::PathBuf);

impl Drop for SimCleanup {
    fn drop(&mut self) {
        let dir = self.0.join("instances");
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".json") {
                let _ = provisio_app::deploy::sim_hosts::remove_network(id);
            }
        }
    }
}

/// Quitting clears the recovery copy in the data directory: such a test runs in a child
/// process of this test binary with a data directory of its own (true: it ran there and
/// passed), unless it is that child (false: run the test here). A `$PROVISIO_DATA_DIR` set
/// for the whole test run (scripts/test.sh does) is shared by tests running in parallel, so
/// it does not count as one of its own.
pub fn in_own_data_dir(test: &str) -> bool {
    if std::env::var_os("PROVISIO_TEST_OWN_DATA_DIR").is_some() {
        return false;
    }
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--test-threads=1"])
        .env("PROVISIO_TEST_OWN_DATA_DIR", "1")
        .env("PROVISIO_DATA_DIR", data.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
    true
}

/// Copies the folder `from` (recursively) to `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// The lines `child` prints on its piped stdout, as they come (read on a thread of their own).
pub fn stdout_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::{BufRead, BufReader};
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
