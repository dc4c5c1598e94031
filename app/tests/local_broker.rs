//! The local broker of `deploy --simulate`: Mosquitto in a process of its own when it is
//! installed (and gone with the provisio process, even after `kill -9`), the embedded rumqttd
//! when asked for with `PROVISIO_LOCAL_BROKER=embedded`.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/constrained.tosca")
        .display()
        .to_string()
}

fn provisio(data: &Path, broker: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_provisio"));
    c.env("PROVISIO_DATA_DIR", data)
        .env("PROVISIO_NO_PROGRESS", "1")
        .env("PROVISIO_VERBOSE", "1")
        .env("PROVISIO_LOCAL_BROKER", broker);
    c
}

/// `provisio deploy --simulate` of the fixture with `PROVISIO_LOCAL_BROKER=broker`: its exit
/// code and everything it printed.
fn deploy(data: &Path, broker: &str) -> (Option<i32>, String) {
    let out = provisio(data, broker)
        .args(["deploy", &fixture(), "--simulate"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// The broker address from the deploy's `local broker: WHAT at tcp://ADDR` line.
fn broker_addr(out: &str) -> Option<SocketAddr> {
    out.lines()
        .find_map(|l| l.split_once("local broker: "))
        .and_then(|(_, rest)| rest.rsplit_once(" at tcp://"))
        .and_then(|(_, addr)| addr.trim().parse().ok())
}

/// Whether something accepts connections at `addr` within `wait` (or, with `gone`, stops
/// accepting them within it).
fn listening_changes(addr: SocketAddr, gone: bool, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        let up = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
        if up != gone {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The process listening at `addr` (from `ss -ltnp`).
fn listener_pid(addr: SocketAddr) -> Option<u32> {
    let out = Command::new("ss")
        .args(["-ltnpH", &format!("sport = :{}", addr.port())])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rest = &text[text.find("pid=")? + 4..];
    rest[..rest.find(',')?].parse().ok()
}

/// The process group of `pid` (field 5 of `/proc/PID/stat`).
fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..]
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

#[test]
fn mosquitto_serves_a_simulated_deploy_and_ends_with_the_process() {
    let data = tempfile::tempdir().unwrap();
    let (code, text) = deploy(data.path(), "mosquitto");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("local broker: mosquitto (own process)"),
        "{text}"
    );
    assert_eq!(text.matches(" running ").count(), 3, "{text}");
    let addr = broker_addr(&text).unwrap_or_else(|| panic!("no broker address in:\n{text}"));
    // The broker is never dropped (it serves the whole process): the kernel ends it.
    assert!(
        listening_changes(addr, true, Duration::from_secs(5)),
        "Mosquitto at {addr} outlived the deploy"
    );
}

#[test]
fn a_killed_deploy_takes_its_mosquitto_with_it() {
    let data = tempfile::tempdir().unwrap();
    let mut child = provisio(data.path(), "mosquitto")
        .args(["deploy", &fixture(), "--simulate", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = common::stdout_lines(&mut child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut all = String::new();
    let mut addr = None;
    // Killed once the devices are deployed and publishing, with the broker in full use.
    while Instant::now() < deadline && !(addr.is_some() && all.contains("reading ")) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            all.push_str(&line);
            all.push('\n');
            addr = addr.or_else(|| broker_addr(&all));
        }
    }
    let addr = addr.unwrap_or_else(|| panic!("no broker address in:\n{all}"));
    assert!(all.contains("reading "), "{all}");
    assert!(
        listening_changes(addr, false, Duration::from_secs(1)),
        "the broker at {addr} does not listen while the deploy runs"
    );
    // A Ctrl-C at the terminal reaches provisio's process group, not the broker, which
    // provisio still needs while it cleans up.
    let broker_pid = listener_pid(addr).unwrap_or_else(|| panic!("no process listens at {addr}"));
    assert_ne!(
        process_group(broker_pid),
        process_group(child.id()),
        "Mosquitto ({broker_pid}) shares provisio's process group"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        listening_changes(addr, true, Duration::from_secs(5)),
        "Mosquitto at {addr} outlived the killed deploy"
    );
}

#[test]
fn the_embedded_broker_serves_when_asked_for() {
    let data = tempfile::tempdir().unwrap();
    let (code, text) = deploy(data.path(), "embedded");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("local broker: embedded rumqttd"), "{text}");
    assert_eq!(text.matches(" running ").count(), 3, "{text}");
}

#[test]
fn an_unknown_local_broker_is_named() {
    let data = tempfile::tempdir().unwrap();
    let (code, text) = deploy(data.path(), "nats");
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("PROVISIO_LOCAL_BROKER=nats: expected embedded, mosquitto or auto"),
        "{text}"
    );
}

/// A local Mosquitto that ended (killed, out of memory) is named at the next simulated
/// deploy of the process, instead of every device timing out.
#[test]
fn a_deploy_after_the_local_mosquitto_ended_says_so() {
    // In a process of its own: the services are the process's, and this one kills its broker.
    if common::in_own_data_dir("a_deploy_after_the_local_mosquitto_ended_says_so") {
        return;
    }
    use provisio_app::deploy::services::{self, BrokerPreference, LocalBroker};
    let rt = common::runtime();
    let first = rt
        .block_on(services::get_with(true, BrokerPreference::Mosquitto))
        .unwrap();
    let Some(LocalBroker::Mosquitto(m)) = &first.broker else {
        panic!("Mosquitto was asked for");
    };
    let addr: SocketAddr = ([127, 0, 0, 1], m.port()).into();
    assert!(rt.block_on(services::get(true)).is_ok());
    let st = Command::new("kill")
        .args(["-9", &m.pid().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(listening_changes(addr, true, Duration::from_secs(5)));
    let err = rt.block_on(services::get(true)).err().unwrap_or_else(|| {
        panic!("a deploy's services were handed out with the broker at {addr} gone")
    });
    assert!(
        err.contains(&format!(
            "the local broker (Mosquitto, process {}) no longer accepts connections on {addr}",
            m.pid()
        )),
        "{err}"
    );
}
