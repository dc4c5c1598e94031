//! A deploy interrupted during setup converges: dropped (the GUI closing, a dropped future),
//! it removes its simulated network, state and snapshot at once; killed (a real `provisio
//! deploy --simulate` process, SIGKILL), the next command recognises it by its lease (a pid
//! that is gone) and removes them, while a deploy a live process runs is left alone and shown
//! as such. Stopped with SIGTERM, the process cancels like Ctrl-C and cleans up itself: during
//! setup nothing is left when it exits; while its plan runs the record says `cancelled`; a
//! second signal only says the cleanup goes on, a third aborts it and says so. An
//! instance whose process ended while its plan ran is shown as interrupted.
//! `provisio simnet prune` removes a network without owner record and prints it. Real network
//! namespaces, sshd and LXC (root; skipped with a message otherwise).

mod common;

use provisio_app::deploy::DeployOptions;
use provisio_app::deploy::lease::{self, Holder};
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::simnet::SimNet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::task::Poll;
use std::time::{Duration, Instant};

fn can_simulate() -> bool {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    });
    let ok =
        root && Path::new("/usr/bin/lxc-start").exists() && Path::new("/usr/sbin/sshd").exists();
    if !ok {
        eprintln!("SKIPPED: simulated hosts need root, lxc and sshd");
    }
    ok
}

fn thesis_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../assets/library/servicetemplates/http%3A%2F%2Fprovisio.dev%2Ftosca%2Fservicetemplates/ThesisScenario/ServiceTemplate.tosca",
    )
}

/// The id of the one deploy under `data` (its snapshot), once it wrote it.
fn deploy_id(data: &Path) -> Option<String> {
    std::fs::read_dir(data.join("instances"))
        .ok()?
        .flatten()
        .find_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".csar").map(str::to_string)
        })
}

/// The deploy `id` is in setup: its network and simulated state exist, its record does not.
fn mid_setup(data: &Path, id: &str) -> bool {
    SimNet::find(id).is_some()
        && data.join("simulated").join(id).is_dir()
        && !InstanceState::path_in(&data.join("instances"), id).exists()
}

/// What `ip ARGS` prints.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Everything of `id` on this machine is gone: network (bridge, namespaces), simulated state,
/// snapshot, record, lease.
fn assert_nothing_left(data: &Path, id: &str, bridge: &str) {
    let instances = data.join("instances");
    assert!(SimNet::find(id).is_none(), "network of {id} left");
    let links = ip(&["-o", "link"]);
    assert!(!links.contains(bridge), "{links}");
    let tag = bridge.trim_start_matches("pvb");
    let netns = ip(&["netns", "list"]);
    assert!(!netns.contains(&format!("pvn{tag}-")), "{netns}");
    for p in [
        data.join("simulated").join(id),
        InstanceState::snapshot_in(&instances, id),
        InstanceState::path_in(&instances, id),
        lease::lease_path(&instances, id),
    ] {
        assert!(!p.exists(), "left: {}", p.display());
    }
}

/// A real `provisio deploy --simulate` of the thesis scenario (output piped).
fn spawn_deploy(data: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_provisio"))
        .arg("deploy")
        .arg(thesis_file())
        .arg("--simulate")
        .env("PROVISIO_DATA_DIR", data)
        .env("PROVISIO_NO_PROGRESS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends `kill -SIG` to `child`.
fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig}");
}

/// Stops (SIGSTOP) `child` as soon as `caught` holds of its deploy (by id), so its state is
/// checked exactly, or `past` tells it went beyond; the id when caught (still stopped).
fn stop_when(
    child: &mut Child,
    data: &Path,
    caught: impl Fn(&str) -> bool,
    past: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            panic!("deploy ended before it was caught: {s}");
        }
        assert!(Instant::now() < deadline, "deploy never got there");
        if let Some(id) = deploy_id(data)
            && SimNet::find(&id).is_some()
        {
            signal(child, "STOP");
            if caught(&id) {
                return Ok(id);
            }
            if past(&id) {
                return Err(id);
            }
            signal(child, "CONT");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The plan of deploy `id` runs (its record says so).
fn plan_runs(data: &Path, id: &str) -> bool {
    InstanceState::load(&data.join("instances"), id).is_ok_and(|i| i.phase == "running")
}

/// Kills a real `provisio deploy --simulate` while it sets up (stopped first, so its state is
/// checked exactly); `None` when it got past setup before it was caught.
fn kill_during_setup(data: &Path) -> Option<(String, String)> {
    let mut child = spawn_deploy(data);
    let caught = stop_when(
        &mut child,
        data,
        |id| mid_setup(data, id),
        |id| InstanceState::path_in(&data.join("instances"), id).exists(),
    )
    .ok()
    .map(|id| (id.clone(), SimNet::find(&id).unwrap().bridge));
    let _ = child.kill();
    let _ = child.wait();
    caught
}

/// Waits for `child` to end by itself: its exit code and stdout+stderr.
fn exit_of(mut child: Child) -> (Option<i32>, String) {
    use std::io::Read;
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("deploy did not end after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut text);
    let _ = child.stderr.take().unwrap().read_to_string(&mut text);
    (status.code(), text)
}

/// A deploy that got past the point a test wanted: forgotten with its network.
fn forget_late(data: &Path, mut child: Child, tries: u32) {
    let _ = child.kill();
    let _ = child.wait();
    let late = deploy_id(data).unwrap();
    let (code, text) = common::provisio(data, &["undeploy", &late, "--force"]);
    assert_eq!(code, 0, "{text}");
    assert!(tries < 5, "never caught the deploy where wanted");
}

/// Removes the network of an instance on drop (when the test fails before it is cleaned).
struct NetworkOf(String);
impl Drop for NetworkOf {
    fn drop(&mut self) {
        let _ = SimNet::remove_of(&self.0);
    }
}

#[test]
fn a_killed_deploy_is_cleaned_by_the_next_command() {
    if !can_simulate() {
        return;
    }
    let mut tries = 0;
    let (data, id, bridge) = loop {
        tries += 1;
        let data = tempfile::tempdir().unwrap();
        match kill_during_setup(data.path()) {
            Some((id, bridge)) => break (data, id, bridge),
            None => {
                // Too late (the plan ran): forget it and try again.
                let late = deploy_id(data.path()).unwrap();
                let (code, text) = common::provisio(data.path(), &["undeploy", &late, "--force"]);
                assert_eq!(code, 0, "{text}");
                assert!(tries < 5, "never caught a deploy during setup");
            }
        }
    };
    let _net = NetworkOf(id.clone());
    let instances = data.path().join("instances");
    // What the old code left for good.
    assert!(SimNet::find(&id).is_some());
    assert!(data.path().join("simulated").join(&id).is_dir());
    assert!(InstanceState::snapshot_in(&instances, &id).is_file());
    let h = lease::holder(&instances, &id).expect("its lease");
    assert!(!h.is_live(), "{h:?}");
    // The next command (here `instances`) recognises and removes it, and says so.
    let (code, text) = common::provisio(data.path(), &["instances"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "removed the leftovers of deploy {id} (interrupted during setup"
        )),
        "{text}"
    );
    assert_nothing_left(data.path(), &id, &bridge);
    let (_, text) = common::provisio(data.path(), &["instances"]);
    assert!(!text.contains(&id), "{text}");
}

/// A real deploy caught during setup, sent `signals` (while stopped, so all are pending) and
/// then SIGCONT, once it ended by itself.
struct Signalled {
    _net: NetworkOf,
    id: String,
    bridge: String,
    code: Option<i32>,
    /// stdout and stderr.
    text: String,
    data: tempfile::TempDir,
}

/// Sends `signals` to a deploy during setup (see [`Signalled`]); tries again when its plan
/// started before they were handled.
fn signalled_during_setup(signals: &[&str]) -> Signalled {
    let mut tries = 0;
    loop {
        tries += 1;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let mut child = spawn_deploy(data);
        let id = match stop_when(
            &mut child,
            data,
            |id| mid_setup(data, id),
            |id| InstanceState::path_in(&data.join("instances"), id).exists(),
        ) {
            Ok(id) => id,
            Err(_) => {
                forget_late(data, child, tries);
                continue;
            }
        };
        let net = NetworkOf(id.clone());
        let bridge = SimNet::find(&id).unwrap().bridge;
        for sig in signals.iter().chain(&["CONT"]) {
            signal(&child, sig);
        }
        let (code, text) = exit_of(child);
        if InstanceState::path_in(&data.join("instances"), &id).exists() {
            // Its plan started between the check and the signals: not this case; again.
            let (c, t) = common::provisio(data, &["undeploy", &id, "--force"]);
            assert_eq!(c, 0, "{t}");
            assert!(tries < 5, "never caught the deploy during setup");
            continue;
        }
        return Signalled {
            _net: net,
            id,
            bridge,
            code,
            text,
            data: dir,
        };
    }
}

/// SIGTERM (how systemd, containers and `kill` stop a process) during setup cancels the
/// deploy as Ctrl-C does: the process itself removes its network, simulated state, snapshot
/// and lease before it exits non-zero; nothing waits for the next command.
#[test]
fn a_deploy_stopped_with_sigterm_during_setup_removes_its_setup_itself() {
    if !can_simulate() {
        return;
    }
    let s = signalled_during_setup(&["TERM"]);
    let text = &s.text;
    assert!(s.code.is_some_and(|c| c != 0), "{:?}\n{text}", s.code);
    assert!(text.contains("SIGTERM: cancelling"), "{text}");
    assert!(
        text.contains("cancelled before the plan ran; nothing was deployed"),
        "{text}"
    );
    // Right after it ended, before any other command.
    assert_nothing_left(s.data.path(), &s.id, &s.bridge);
}

/// Signals while a cancelled deploy cleans up: the second (here SIGHUP or SIGINT with the
/// SIGTERM, as systemd and a closing terminal send them together) only says the cleanup goes
/// on; the third aborts it, saying so, with exit 128 + its number. What it left is removed by
/// the next command.
#[test]
fn a_third_stop_signal_aborts_the_cleanup_and_says_so() {
    if !can_simulate() {
        return;
    }
    // All three pending when it goes on (the same signal twice would be one).
    let s = signalled_during_setup(&["TERM", "HUP", "INT"]);
    let text = &s.text;
    assert!(
        [129, 130, 143].contains(&s.code.unwrap_or(0)),
        "{:?}\n{text}",
        s.code
    );
    assert!(text.contains(": cancelling…"), "{text}");
    assert!(
        text.contains(": still cleaning up; signal again to abort"),
        "{text}"
    );
    assert!(text.contains(": cleanup aborted;"), "{text}");
    let (c, t) = common::provisio(s.data.path(), &["instances"]);
    assert_eq!(c, 0, "{t}");
    assert_nothing_left(s.data.path(), &s.id, &s.bridge);
}

/// SIGTERM while the plan runs cancels it as Ctrl-C does: the running steps stop, the steps
/// done are reported, the record says `cancelled` (kept for its undeploy), the lease is gone,
/// and the exit code is non-zero.
#[test]
fn a_deploy_stopped_with_sigterm_while_its_plan_runs_is_recorded_cancelled() {
    if !can_simulate() {
        return;
    }
    let mut tries = 0;
    loop {
        tries += 1;
        let data = tempfile::tempdir().unwrap();
        let data = data.path();
        let _cleanup = common::SimCleanup(data.to_path_buf());
        let mut child = spawn_deploy(data);
        let instances = data.join("instances");
        let finished =
            |id: &str| InstanceState::load(&instances, id).is_ok_and(|i| i.phase != "running");
        let id = match stop_when(&mut child, data, |id| plan_runs(data, id), finished) {
            Ok(id) => id,
            Err(_) => {
                forget_late(data, child, tries);
                continue;
            }
        };
        signal(&child, "TERM");
        signal(&child, "CONT");
        let (code, text) = exit_of(child);
        let record = InstanceState::load(&instances, &id).unwrap();
        if record.phase == "deployed" {
            // Its last step ended before the signal was handled: again.
            let (c, t) = common::provisio(data, &["undeploy", &id, "--force"]);
            assert_eq!(c, 0, "{t}");
            assert!(tries < 5, "never caught the plan while it ran");
            continue;
        }
        assert_eq!(record.phase, "cancelled", "{text}");
        assert!(code.is_some_and(|c| c != 0), "{code:?}\n{text}");
        assert!(text.contains("SIGTERM: cancelling"), "{text}");
        assert!(text.contains(" steps done, "), "{text}");
        assert!(
            text.contains(&format!("instance {id} is cancelled")),
            "{text}"
        );
        assert!(!lease::lease_path(&instances, &id).exists());
        let (c, t) = common::provisio(data, &["instances"]);
        assert_eq!(c, 0, "{t}");
        assert!(t.contains(&format!("{id}  cancelled")), "{t}");
        // Recorded: its undeploy removes what it set up.
        let (c, t) = common::provisio(data, &["undeploy", &id, "--force"]);
        assert_eq!(c, 0, "{t}");
        assert!(SimNet::find(&id).is_none(), "{t}");
        return;
    }
}

#[test]
fn a_dropped_deploy_removes_its_setup_and_a_live_one_is_left_alone() {
    if !can_simulate() {
        return;
    }
    let loaded = provisio_app::library::open_with_builtin(&thesis_file()).unwrap();
    let st = loaded.library.service_templates()[0].1.clone();
    let rt = common::runtime();
    let none = Default::default();
    let mut tries = 0;
    let (data, fut, id, bridge) = loop {
        tries += 1;
        let data = tempfile::tempdir().unwrap();
        let opts: &'static DeployOptions = Box::leak(Box::new(DeployOptions::new(
            data.path().to_path_buf(),
            true,
        )));
        let (sink, _) = provisio_engines::events::EventSink::new();
        let cancel = tokio_util::sync::CancellationToken::new();
        let mut fut = Box::pin(provisio_app::deploy::deploy(
            &loaded, &st, &none, opts, sink, cancel,
        ));
        // Polled step by step: between polls the deploy stands still, so "in setup" is exact.
        let caught = rt.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(180);
            loop {
                let step = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
                if let Poll::Ready(r) = step {
                    panic!(
                        "deploy ended before it was caught: {:?}",
                        r.map(|o| o.instance.phase).err()
                    );
                }
                if let Some(id) = deploy_id(data.path()) {
                    if mid_setup(data.path(), &id) {
                        let bridge = SimNet::find(&id).unwrap().bridge;
                        return Some((id, bridge));
                    }
                    if InstanceState::path_in(&data.path().join("instances"), &id).exists() {
                        return None;
                    }
                }
                assert!(Instant::now() < deadline, "deploy never set up");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        match caught {
            Some((id, bridge)) => break (data, fut, id, bridge),
            None => {
                // One poll went from before the network into the plan: forget it, try again.
                let _rt = rt.enter();
                drop(fut);
                let late = deploy_id(data.path()).unwrap();
                let (code, text) = common::provisio(data.path(), &["undeploy", &late, "--force"]);
                assert_eq!(code, 0, "{text}");
                assert!(tries < 5, "never caught a deploy during setup");
            }
        }
    };
    let _net = NetworkOf(id.clone());
    // Another command meanwhile: a live process holds it, nothing of it is touched.
    let (code, text) = common::provisio(data.path(), &["instances"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "{id}  setting up (process {})",
            std::process::id()
        )),
        "{text}"
    );
    assert!(mid_setup(data.path(), &id), "a live deploy was touched");
    let (code, text) = common::provisio(data.path(), &["undeploy", &id, "--force"]);
    assert_ne!(code, 0, "{text}");
    assert!(
        text.contains("being deployed or undeployed by process"),
        "{text}"
    );
    assert!(mid_setup(data.path(), &id), "a live deploy was touched");
    // Dropped: nothing of it stays.
    let _rt = rt.enter();
    drop(fut);
    assert_nothing_left(data.path(), &id, &bridge);
}

#[test]
fn an_instance_whose_process_ended_while_its_plan_ran_is_shown_interrupted() {
    let data = tempfile::tempdir().unwrap();
    let instances = data.path().join("instances");
    let mut i = common::instance_record("Gone-1-000", "{ns}X", "running");
    i.save(&instances).unwrap();
    let dead = Holder {
        pid: u32::MAX,
        ..Holder::current()
    };
    std::fs::write(
        lease::lease_path(&instances, &i.id),
        serde_json::to_vec(&dead).unwrap(),
    )
    .unwrap();
    // One that runs now (this process holds its lease).
    i.id = "Live-2-000".into();
    i.created = 2;
    i.save(&instances).unwrap();
    let _live = lease::Lease::acquire(&instances, &i.id).unwrap();
    let (code, text) = common::provisio(data.path(), &["instances"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Gone-1-000  interrupted  {ns}X"), "{text}");
    assert!(
        text.contains("`provisio undeploy Gone-1-000` removes what it deployed"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Live-2-000  running (process {})",
            std::process::id()
        )),
        "{text}"
    );
    // Recorded: kept for its undeploy, not swept.
    assert!(InstanceState::path_in(&instances, "Gone-1-000").exists());
    let (code, text) = common::provisio(data.path(), &["undeploy", "Gone-1-000", "--force"]);
    assert_eq!(code, 0, "{text}");
    assert!(!lease::lease_path(&instances, "Gone-1-000").exists());
}

#[test]
fn simnet_prune_removes_a_network_without_owner_and_says_so() {
    if !can_simulate() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let id = format!("test-cli-prune-{}", std::process::id());
    let bridge = format!("pvb{}", provisio_engines::simnet::tag_of(&id));
    let ok = Command::new("ip")
        .args(["link", "add", &bridge, "type", "bridge"])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).output();
        }
    }
    let _del = Del(bridge.clone());
    // With a simulated instance listed, `instances` points at it.
    let i = InstanceState {
        simulated: true,
        ..common::instance_record("Sim-1-000", "{ns}X", "deployed")
    };
    i.save(&data.path().join("instances")).unwrap();
    let (code, text) = common::provisio(data.path(), &["instances"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("without an owner") && text.contains(&bridge),
        "{text}"
    );
    let (code, text) = common::provisio(data.path(), &["simnet", "prune", "--dry-run", &bridge]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("would remove {bridge}")), "{text}");
    let (code, text) = common::provisio(data.path(), &["simnet", "prune", &bridge]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("removed {bridge}: {bridge}")),
        "{text}"
    );
    let links = ip(&["-o", "link"]);
    assert!(!links.contains(&bridge), "{links}");
}

#[test]
fn undeploy_force_forgets_a_corrupt_record_as_a_recorded_instance() {
    let data = tempfile::tempdir().unwrap();
    let instances = data.path().join("instances");
    std::fs::create_dir_all(&instances).unwrap();
    let id = "Broken-1-000";
    let record = instances.join(format!("{id}.json"));
    std::fs::write(&record, b"{not json").unwrap();
    std::fs::write(instances.join(format!("{id}.csar")), b"csar").unwrap();
    // `instances` lists it (it used to skip it), naming the file and the way out.
    let (_, listed) = common::provisio(data.path(), &["instances"]);
    assert!(
        listed.contains(&format!("{id}  unreadable record ("))
            && listed.contains(&record.display().to_string())
            && listed.contains(&format!("provisio undeploy {id} --force")),
        "{listed}"
    );
    let (_, text) = common::provisio(data.path(), &["undeploy", id, "--force"]);
    // Its record is unreadable, not missing: it is forgotten as a recorded instance, not
    // taken for a deploy interrupted during setup (whose record never existed).
    assert!(!text.contains("interrupted deploy"), "{text}");
    assert!(!record.exists(), "{text}");
}

/// A record that is valid JSON but whose steps undeploy cannot read (`"steps": 5`) is listed
/// as an unreadable record, naming the file and what is wrong, as undeploy finds it (it used to
/// be listed as deployed, and its undeploy then failed); `undeploy --force` forgets it with
/// what its simulated devices left.
#[test]
fn a_record_with_bad_steps_is_listed_unreadable_and_forgotten_with_force() {
    let data = tempfile::tempdir().unwrap();
    let instances = data.path().join("instances");
    let id = "BadSteps-1-000";
    let mut record =
        serde_json::to_value(common::instance_record(id, "{ns}X", "deployed")).unwrap();
    record["steps"] = 5.into();
    record["simulated"] = true.into();
    // What its simulated devices left.
    let simulated = data.path().join("simulated").join(id);
    std::fs::create_dir_all(&simulated).unwrap();
    std::fs::create_dir_all(&instances).unwrap();
    let file = InstanceState::path_in(&instances, id);
    std::fs::write(&file, record.to_string()).unwrap();
    let (code, listed) = common::provisio(data.path(), &["instances"]);
    assert_eq!(code, 0, "{listed}");
    let line = listed
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or(&listed);
    assert!(
        line.starts_with(&format!("{id}  unreadable record ("))
            && line.contains(&file.display().to_string())
            && line.contains("invalid type: integer `5`")
            && line.contains(&format!("provisio undeploy {id} --force")),
        "{listed}"
    );
    // Undeploy fails for the reason the list gave.
    let (code, text) = common::provisio(data.path(), &["undeploy", id]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("invalid type: integer `5`"), "{text}");
    let (code, text) = common::provisio(data.path(), &["undeploy", id, "--force"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("instance {id} forgotten")), "{text}");
    assert!(!text.contains("warning"), "{text}");
    assert!(!file.exists());
    assert!(!simulated.exists(), "{text}");
}
