//! A container's own secrets reach it as `/etc/provisio/secrets.env` (mode 0600, owner root)
//! through the real drivers: the Raspberry Pi driver over SSH/SFTP to an sshd stand-in (root)
//! and the MICA driver over HTTPS to the emulator. The secret is in no event, no other file and
//! no output; the host's login password is never written; a reconfigure without secrets removes
//! the file.

use provisio_engines::drivers::container_files::SECRETS_ENV;
use provisio_engines::drivers::raspberry::{RaspberryConfig, container_name};
use provisio_engines::engine::driver::ServedArtifact;
use provisio_engines::events::DeployEvent;
use provisio_engines::mica_emulator::MicaEmulator;
use provisio_engines::standin::SshdStandIn;
use provisio_model::plan::{ResolvedInput, Step};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use tokio::sync::mpsc::UnboundedReceiver;

const SECRET: &str = "pf-S3cret'$(id)";
const LOGIN: &str = "ssh-Login-Pw9";

#[path = "common/driver_steps.rs"]
mod driver_steps;
use driver_steps::{ctx_with_events as ctx, input, pi_config, root_dirs, served, tar_gz};

/// The operation `op` of `node` with `inputs` (name, value, whether secret).
fn step(node: &str, ty: &str, op: &str, inputs: &[(&str, String, bool)]) -> Step {
    let inputs = inputs
        .iter()
        .map(|(n, v, secret)| ResolvedInput {
            secret: *secret,
            ..input(n, v.clone())
        })
        .collect();
    driver_steps::step(node, ty, op, inputs)
}

/// Every event sent so far, as text (all fields).
fn events_text(rx: &mut UnboundedReceiver<DeployEvent>) -> String {
    let mut out = String::new();
    while let Ok(e) = rx.try_recv() {
        out.push_str(&format!("{e:?}\n"));
    }
    out
}

fn artifact(bytes: Vec<u8>) -> ServedArtifact {
    served("DA", "rootfs.tar.gz", bytes)
}

fn rootfs_tarball(dir: &Path) -> Vec<u8> {
    let root = root_dirs(&dir.join("rootfs"), &["bin", "etc", "tmp"]);
    tar_gz(&root, &dir.join("rootfs.tar.gz"))
}

/// What the secrets file holds, its mode and owner; asserts the other files hold no secret.
fn check_files(etc: &Path) -> Option<(String, u32, u32)> {
    for f in ["inputs.env", "connections.json"] {
        let s = std::fs::read_to_string(etc.join(f)).unwrap();
        assert!(!s.contains("S3cret") && !s.contains(LOGIN), "{f}: {s}");
    }
    // Nothing left over from staging.
    for e in std::fs::read_dir(etc).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            ["inputs.env", "connections.json", "secrets.env"].contains(&n.as_str()),
            "left over in /etc/provisio: {n}"
        );
    }
    let p = etc.join("secrets.env");
    let m = std::fs::symlink_metadata(&p).ok()?;
    Some((
        std::fs::read_to_string(&p).unwrap(),
        m.mode() & 0o7777,
        m.uid(),
    ))
}

fn pi_inputs(
    address: &str,
    user: &str,
    login: &str,
    with_secret: bool,
) -> Vec<(&'static str, String, bool)> {
    let mut v = vec![
        ("userName", user.to_string(), false),
        ("userPassword", login.to_string(), true),
        (
            "addresses",
            serde_json::to_string(&[address]).unwrap(),
            false,
        ),
        ("lxcConfiguration", String::new(), false),
        ("apiUrl", "http://127.0.0.1:1/api".to_string(), false),
    ];
    if with_secret {
        v.push(("powerfoxPassword", SECRET.to_string(), true));
    }
    v
}

/// install, configure with the secret, configure without it, configure a removed container,
/// as `user` (root, or a user with sudo) on the stand-in at `address`.
async fn pi_case(dir: &Path, config: RaspberryConfig, address: &str, user: &str, login: &str) {
    let lxc_path = Path::new(&config.lxc_path).to_path_buf();
    let node = "Powerfox";
    let run = |op: &str, with_secret: bool, a: Option<ServedArtifact>| {
        let s = step(
            node,
            "PowerfoxPoller",
            op,
            &pi_inputs(address, user, login, with_secret),
        );
        let config = config.clone();
        async move {
            let (c, mut rx) = ctx(a);
            let r = provisio_engines::drivers::raspberry::run_operation(&config, &s, &c).await;
            (r, events_text(&mut rx))
        }
    };
    let (r, _) = run("install", false, Some(artifact(rootfs_tarball(dir)))).await;
    r.unwrap();
    let (r, events) = run("configure", true, None).await;
    let out = r.unwrap();
    assert_eq!(out["configuredDeviceCount"], "1");
    assert!(events.contains("Configured"), "{events}");
    assert!(
        !events.contains("S3cret") && !events.contains(login),
        "{events}"
    );
    assert!(!format!("{out:?}").contains("S3cret"));
    let etc = lxc_path
        .join(container_name(node))
        .join("rootfs/etc/provisio");
    let (content, mode, uid) = check_files(&etc).expect("secrets.env written");
    assert_eq!((mode, uid), (0o600, 0), "mode 0600, owner root");
    for f in ["inputs.env", "connections.json"] {
        let m = std::fs::metadata(etc.join(f)).unwrap();
        assert_eq!((m.mode() & 0o777, m.uid()), (0o644, 0), "{f}");
    }
    // Only the container's own secret, as sh reads it back (quotes and `$(…)` stay literal).
    assert!(
        !content.contains(login),
        "never the host's login: {content}"
    );
    let read = Command::new("sh")
        .arg("-c")
        .arg(format!(
            ". '{}'; printf %s \"$powerfoxPassword\"",
            etc.join("secrets.env").display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&read.stdout), SECRET);
    // Reconfigured without secrets: the stale file goes.
    let (r, _) = run("configure", false, None).await;
    r.unwrap();
    assert_eq!(check_files(&etc), None);
    // A failing configure (the container is gone) says why without the secret.
    std::fs::remove_dir_all(lxc_path.join(container_name(node))).unwrap();
    let (r, events) = run("configure", true, None).await;
    let err = r.unwrap_err();
    assert!(err.contains("is not installed"), "{err}");
    assert!(
        !err.contains("S3cret") && !events.contains("S3cret"),
        "{err}\n{events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pi_driver_writes_the_containers_own_secrets_0600_and_removes_them() {
    let dir = tempfile::tempdir().unwrap();
    let pi = SshdStandIn::start(&dir.path().join("pi"))
        .expect("sshd stand-in (needs root and openssh-server)");
    let lxc_path = dir.path().join("lxc");
    std::fs::create_dir_all(&lxc_path).unwrap();
    let config = pi_config(&pi, &lxc_path, String::new());
    pi_case(dir.path(), config, &pi.address(), "root", LOGIN).await;
}

/// Removes a sudoers drop-in on drop.
struct Sudoers(std::path::PathBuf);

impl Drop for Sudoers {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A login without root: files staged in the user's private `/tmp` directory, installed by
/// sudo with mode and owner root, renamed into place; the staging directory is gone after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pi_driver_as_a_sudo_user_writes_the_secrets_0600_owned_by_root() {
    use std::os::unix::fs::PermissionsExt;
    if Command::new("sudo").arg("-V").output().is_err() {
        eprintln!("SKIPPED: needs sudo (apt-get install sudo)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The user must reach the containers' directory (tempdir is 0700).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let user = format!("pvs{}", std::process::id() % 100_000);
    let pi = SshdStandIn::start_with_password_user(&dir.path().join("pi"), &user, LOGIN)
        .expect("sshd stand-in with a password user (root, useradd)");
    let sudoers = Sudoers(format!("/etc/sudoers.d/provisio-test-{user}").into());
    std::fs::write(&sudoers.0, format!("{user} ALL=(root) NOPASSWD: ALL\n")).unwrap();
    std::fs::set_permissions(&sudoers.0, std::fs::Permissions::from_mode(0o440)).unwrap();
    let lxc_path = dir.path().join("lxc");
    std::fs::create_dir_all(&lxc_path).unwrap();
    let config = RaspberryConfig {
        key: None,
        ..pi_config(&pi, &lxc_path, String::new())
    };
    let staging = || -> Vec<String> {
        std::fs::read_dir("/tmp")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".provisio-Powerfox-"))
            .collect()
    };
    let before = staging();
    pi_case(dir.path(), config, &pi.address(), &user, LOGIN).await;
    assert_eq!(staging(), before, "staging directories are removed");
}

#[tokio::test]
async fn mica_configure_writes_the_secrets_0600_and_removes_them() {
    let dir = tempfile::tempdir().unwrap();
    let m = MicaEmulator::start("admin", "mica-Login-Pw", dir.path().join("m"), 1 << 20)
        .await
        .unwrap();
    let d = provisio_engines::drivers::mica::MicaDriver::default();
    let certs = serde_json::to_string(&[&m.cert_pem]).unwrap();
    let inputs = |with_secret: bool| {
        let mut v = vec![
            ("userName", "admin".to_string(), false),
            ("userPassword", "mica-Login-Pw".to_string(), true),
            (
                "addresses",
                serde_json::to_string(&[m.url()]).unwrap(),
                false,
            ),
            ("certificates", certs.clone(), false),
        ];
        if with_secret {
            v.push(("adminPassword", SECRET.to_string(), true));
        }
        v
    };
    let run = |op: &str, with_secret: bool, a: Option<ServedArtifact>| {
        let s = step("Db", "LXContainerMICA", op, &inputs(with_secret));
        let d = d.clone();
        async move {
            let (c, mut rx) = ctx(a);
            let r = provisio_engines::drivers::mica::run_operation(&d, &s, &c).await;
            (r, events_text(&mut rx))
        }
    };
    run("install", false, Some(artifact(vec![1, 2, 3])))
        .await
        .0
        .unwrap();
    let (r, events) = run("configure", true, None).await;
    r.unwrap();
    assert!(
        !events.contains("S3cret") && !events.contains("mica-Login"),
        "{events}"
    );
    let etc = dir.path().join("m/Db.files/etc/provisio");
    let (content, mode, _) = check_files(&etc).expect("secrets.env written");
    assert_eq!(mode, 0o600);
    assert!(
        content.contains("adminPassword='pf-S3cret'\\''$(id)'\n"),
        "{content}"
    );
    assert!(!content.contains("mica-Login"), "{content}");
    run("configure", false, None).await.0.unwrap();
    assert_eq!(check_files(&etc), None);
    // A bad file value is refused naming the path only.
    let mut c = provisio_engines::drivers::mica::MicaClient::connect(&m.url(), &certs)
        .await
        .unwrap();
    c.login("admin", "mica-Login-Pw").await.unwrap();
    let err = c
        .call(
            provisio_engines::drivers::mica_api::CONFIGURE,
            serde_json::json!({"name": "Db", "files": {SECRETS_ENV: ["pf-S3cret"]}}),
        )
        .await
        .unwrap_err();
    assert!(
        err.contains("secrets.env: content must be a string or null"),
        "{err}"
    );
    assert!(!err.contains("S3cret"), "{err}");
}
