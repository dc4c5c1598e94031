//! The CLI when whatever shows its output goes away: a reader that closed the pipe (`provisio
//! … | head -1`, EPIPE) or a terminal that hung up (a real pseudo-terminal whose master is
//! closed: SIGHUP to the command, EIO on its writes), for `deploy`, `undeploy`, `deploy --watch`,
//! `monitor receiver`, `instances`, `validate` and `plan`. No write panics: the command goes on,
//! cleans up and exits with the code it would have had (0 success, 1 failed or cancelled, 2
//! bad input), and the instance record says what happened.

mod common;

use provisio_engines::engine::instance::InstanceState;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/constrained.tosca")
        .display()
        .to_string()
}

/// `provisio ARGS` with its own data directory (its stdio set by the caller).
fn provisio_cmd(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_provisio"));
    c.args(args).env("PROVISIO_DATA_DIR", data);
    c
}

/// The write end of a pipe whose reader is gone: every write to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

/// The exit code of `child` once it ended (within 180 s; killed and failing otherwise).
fn exit_code(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("provisio did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The one instance recorded under `data`, if any.
fn the_instance(data: &Path) -> Option<InstanceState> {
    let dir = data.join("instances");
    let mut all = InstanceState::list(&dir);
    assert!(all.len() <= 1, "{all:?}");
    all.pop()
}

/// What `provisio instances` prints of `id`.
fn listed(data: &Path, id: &str) -> String {
    let (code, text) = common::provisio(data, &["instances"]);
    assert_eq!(code, 0, "{text}");
    text.lines()
        .filter(|l| l.starts_with(id))
        .collect::<Vec<_>>()
        .join("\n")
}

/// After the deploy ended with `code`: its record agrees (0: deployed, 1: cancelled, or no
/// record when cancelled before its plan ran), no lease is left, and the next command finds
/// nothing interrupted. The instance is then undeployed with its output into a closed pipe.
fn assert_ended_cleanly(data: &Path, code: Option<i32>) {
    let instance = the_instance(data);
    let phase = instance.as_ref().map(|i| i.phase.as_str());
    match code {
        Some(0) => assert_eq!(phase, Some("deployed")),
        Some(1) => assert!(matches!(phase, None | Some("cancelled")), "{phase:?}"),
        other => panic!("exit code {other:?} (record: {phase:?})"),
    }
    let Some(i) = instance else {
        let left: Vec<_> = std::fs::read_dir(data.join("instances"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "left: {left:?}");
        return;
    };
    let dir = data.join("instances");
    assert!(!provisio_app::deploy::lease::lease_path(&dir, &i.id).exists());
    let line = listed(data, &i.id);
    assert!(line.contains(&format!("{}  {}", i.id, i.phase)), "{line}");
    // Its undeploy, into a pipe nobody reads, runs to its end too.
    let status = provisio_cmd(data, &["undeploy", &i.id])
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let undeployed = InstanceState::load(&dir, &i.id).unwrap();
    assert_eq!(undeployed.phase, "undeployed");
}

/// `provisio instances`, `validate` and `plan` into a pipe nobody reads (`| head -1`), stderr
/// too: they end quietly with their own exit code, no panic message.
#[test]
fn short_commands_into_a_closed_pipe_exit_with_their_own_code() {
    let data = tempfile::tempdir().unwrap();
    InstanceState {
        source: "builtin".into(),
        created: 1_796_134_000,
        ..common::instance_record("Room-1796134000-000", "{ns}Room", "deployed")
    }
    .save(&data.path().join("instances"))
    .unwrap();
    let fixture = fixture();
    let cache = tempfile::tempdir().unwrap();
    let cases: [(&[&str], i32); 6] = [
        (&["instances"], 0),
        (&["images", "list"], 0),
        (&["images", "prune", "--dry-run"], 0),
        (&["validate", &fixture], 0),
        (&["plan", &fixture], 0),
        // Only an error on stderr.
        (&["validate", "/nonexistent/x.tosca"], 2),
    ];
    for (args, want) in cases {
        let out = provisio_cmd(data.path(), args)
            .env("PROVISIO_IMAGE_CACHE", cache.path())
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let status = provisio_cmd(data.path(), args)
            .env("PROVISIO_IMAGE_CACHE", cache.path())
            .stdout(closed_pipe())
            .stderr(closed_pipe())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(want), "{args:?} with stderr closed");
    }
}

/// A deploy piped into a reader that stops once the plan begins (the deploy listens to the
/// stop signals by then): stdout and stderr (one pipe) fail with EPIPE from then on.
fn deploy_into_a_reader_that_leaves(data: &Path) -> Child {
    let (reader, writer) = std::io::pipe().unwrap();
    let child = provisio_cmd(data, &["deploy", &fixture(), "--simulate"])
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    // The command (with its copies of the write end) is gone: only the deploy writes to it.
    let mut seen = String::new();
    let mut lines = BufReader::new(reader);
    while !seen.contains("plan: ") {
        let n = lines.read_line(&mut seen).unwrap();
        assert!(n > 0, "deploy ended before its plan:\n{seen}");
    }
    assert!(seen.starts_with("deploying "), "{seen}");
    child
}

/// Its reader gone, the deploy still runs to its end: exit 0, recorded deployed, nothing
/// interrupted (the old code ended at its next line, in the middle of the plan).
#[test]
fn a_deploy_whose_reader_went_away_finishes_with_its_code() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let mut child = deploy_into_a_reader_that_leaves(data.path());
    let code = exit_code(&mut child);
    assert_eq!(code, Some(0));
    assert_ended_cleanly(data.path(), code);
}

/// Its reader gone, then SIGTERM while its plan runs: the deploy cancels and cleans up as with
/// a terminal, and exits 1 with its record saying `cancelled` (the old code: 101).
#[test]
fn a_deploy_stopped_after_its_reader_went_away_cleans_up_with_its_code() {
    stopped_while_its_plan_runs(|data| {
        let mut child = deploy_into_a_reader_that_leaves(data);
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        exit_code(&mut child)
    });
}

/// Runs `deploy` (which stops a deploy while its plan runs and returns its exit code) in a
/// data directory of its own: exit 1, recorded `cancelled`, and clean (see
/// [`assert_ended_cleanly`]). A plan that finished before the stop was handled (exit 0,
/// deployed) is tried again.
fn stopped_while_its_plan_runs(deploy: impl Fn(&Path) -> Option<i32>) {
    for _ in 0..3 {
        let data = tempfile::tempdir().unwrap();
        let _net = common::SimCleanup(data.path().to_path_buf());
        let code = deploy(data.path());
        let phase = the_instance(data.path()).map(|i| i.phase);
        if code == Some(0) && phase.as_deref() == Some("deployed") {
            assert_ended_cleanly(data.path(), code);
            continue;
        }
        assert_eq!(code, Some(1), "record: {phase:?}");
        assert_eq!(phase.as_deref(), Some("cancelled"));
        assert_ended_cleanly(data.path(), code);
        return;
    }
    panic!("the plan always finished before it was stopped");
}

/// `provisio ARGS` on a new pseudo-terminal as its controlling terminal (stdin, stdout,
/// stderr), as in a terminal window; returns it with the terminal's master end, which only
/// this test holds (opened close-on-exec: no process spawned meanwhile keeps it open).
/// Progress bars are drawn (it is a terminal).
fn on_a_terminal(data: &Path, args: &[&str]) -> (Child, nix::pty::PtyMaster) {
    use nix::fcntl::OFlag;
    use std::os::unix::fs::OpenOptionsExt;
    let master =
        nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).unwrap();
    nix::pty::grantpt(&master).unwrap();
    nix::pty::unlockpt(&master).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(OFlag::O_NOCTTY.bits())
        .open(nix::pty::ptsname_r(&master).unwrap())
        .unwrap();
    let child = Command::new("setsid")
        .arg("--ctty")
        .arg(env!("CARGO_BIN_EXE_provisio"))
        .args(args)
        .env("PROVISIO_DATA_DIR", data)
        .env_remove("PROVISIO_NO_PROGRESS")
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    (child, master)
}

/// Reads the terminal until a line contains `what`; everything read.
fn read_until(master: &mut nix::pty::PtyMaster, what: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(what) {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => panic!(
                "the terminal closed before {what:?}:\n{}",
                String::from_utf8_lossy(&seen)
            ),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// The terminal window of a deploy closes while its plan runs (its master end: the kernel
/// hangs up, sending SIGHUP, and every write fails with EIO): the deploy cancels, cleans up
/// and exits 1 with its record saying `cancelled`; the old code's last lines panicked (101).
#[test]
fn a_deploy_whose_terminal_hung_up_cleans_up_and_exits_with_its_code() {
    stopped_while_its_plan_runs(|data| {
        let (mut child, mut master) = on_a_terminal(data, &["deploy", &fixture(), "--simulate"]);
        // Its plan begins: it listens to the stop signals by then.
        read_until(&mut master, "plan: ");
        drop(master);
        exit_code(&mut child)
    });
}

/// `deploy --simulate --watch` whose terminal hangs up while it watches: it stops watching
/// and exits 0, the instance stays deployed (the old code panicked on its last line: 101).
#[test]
fn a_watch_whose_terminal_hung_up_stops_and_exits_0() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let (mut child, mut master) = on_a_terminal(
        data.path(),
        &["deploy", &fixture(), "--simulate", "--watch"],
    );
    let seen = read_until(&mut master, "reading ");
    drop(master);
    let code = exit_code(&mut child);
    assert_eq!(code, Some(0), "{seen}");
    assert_ended_cleanly(data.path(), code);
}

/// `provisio monitor receiver` whose terminal hangs up stops as on Ctrl-C: exit 0.
#[test]
fn a_monitor_whose_terminal_hung_up_stops_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", common::free_port());
    let out = dir.path().join("r.jsonl").display().to_string();
    let (mut child, mut master) = on_a_terminal(
        dir.path(),
        &["monitor", "receiver", "--listen", &listen, "--out", &out],
    );
    // The status line comes from the loop that listens for the signals.
    read_until(&mut master, "connections ");
    drop(master);
    assert_eq!(exit_code(&mut child), Some(0));
}
