//! `provisio monitor receiver` as the LogstashReceiver container runs it: the real binary on
//! loopback keeps each JSON record (one per line) in its file, counts what it refuses, and
//! stops cleanly on SIGINT with its last status line.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::free_port;

#[test]
fn receiver_appends_json_records_and_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sub/records.jsonl");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, "{\"earlier\":true}\n").unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args([
            "monitor",
            "receiver",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut conn = loop {
        if let Ok(c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            break c;
        }
        assert!(Instant::now() < deadline, "the receiver does not listen");
        std::thread::sleep(Duration::from_millis(20));
    };
    conn.write_all(
        b"{\"type\":\"CONNECT\",\"clientId\":\"a\"}\r\nnot json\n[1,2]\n\n{\"type\":\"PUBLISH\"}\n",
    )
    .unwrap();
    drop(conn);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&out).unwrap().contains("PUBLISH") {
        assert!(Instant::now() < deadline, "records not written");
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the receiver ignores SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(status.success(), "{stdout}");
    assert!(
        stdout.contains("stopped: connections 1, records 2, rejected 2"),
        "{stdout}"
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["earlier"], true);
    assert_eq!(lines[1]["clientId"], "a");
    assert_eq!(lines[2]["type"], "PUBLISH");
}

#[test]
fn receiver_names_a_bad_listen_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args([
            "monitor",
            "receiver",
            "--listen",
            "127.0.0.1:notaport",
            "--out",
        ])
        .arg(dir.path().join("r.jsonl"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen") && err.contains("notaport"), "{err}");
}

/// SIGHUP (the terminal closed) stops the receiver as Ctrl-C does: exit 0 with its last
/// status line, saying which signal stopped it.
#[test]
fn receiver_stops_on_sighup_like_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(["monitor", "receiver", "--listen"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--out")
        .arg(dir.path().join("r.jsonl"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The first status line comes from the loop that listens for the signals.
    let status = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("connections "));
    assert!(status.is_some(), "no status line");
    let ok = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{rest:?}\n{stderr}");
    assert!(
        rest.last()
            .is_some_and(|l| l.starts_with("stopped: connections 0")),
        "{rest:?}"
    );
    assert!(stderr.contains("SIGHUP: stopping"), "{stderr}");
}
