//! The Raspberry Pi driver (thesis §4.2, table 4.1): RaspbianStretchLXC installs LXC when it is
//! missing; LXContainerRaspberryPi uploads the container root file system by SFTP, creates the
//! container, writes its LXC configuration (and at configure the container's `/etc/provisio`
//! files, see [`super::container_files`]), starts, stops and destroys it. Every address of the
//! `addresses` list is handled in parallel; each gets its own outcome, and the outputs count the
//! devices where it worked. Re-running an operation is not an error.

use super::container_files::ContainerFile;
use super::ssh::{HostKeys, Session, SshAuth, SshTarget, parse_addresses};
use crate::engine::driver::{Driver, DriverContext};
use crate::engine::executor::Outputs;
use crate::events::{DeviceState, Level};
use futures::FutureExt;
use futures::future::BoxFuture;
use provisio_model::plan::Step;
use std::sync::Arc;
use std::time::Duration;

/// How the driver reaches and uses the devices.
#[derive(Debug, Clone)]
pub struct RaspberryConfig {
    pub host_keys: HostKeys,
    /// A private key to log in with (password from `userPassword` otherwise).
    pub key: Option<Arc<russh::keys::PrivateKey>>,
    /// LXC path on the devices (`/var/lib/lxc` on a Pi).
    pub lxc_path: String,
    /// Used when `lxcConfiguration` is empty (extra lines appended to the generated config).
    pub default_config: String,
    pub timeout: Duration,
}

impl Default for RaspberryConfig {
    fn default() -> Self {
        RaspberryConfig {
            host_keys: HostKeys::KnownHosts {
                path: default_known_hosts(),
                accept_new: false,
            },
            key: None,
            lxc_path: "/var/lib/lxc".into(),
            default_config: String::new(),
            timeout: Duration::from_secs(120),
        }
    }
}

/// `~/.ssh/known_hosts`.
pub fn default_known_hosts() -> std::path::PathBuf {
    std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_default()
        .join(".ssh/known_hosts")
}

/// The driver.
#[derive(Debug, Clone, Default)]
pub struct RaspberryDriver {
    pub config: RaspberryConfig,
}

impl Driver for RaspberryDriver {
    fn run(&self, step: Step, ctx: DriverContext) -> BoxFuture<'static, Result<Outputs, String>> {
        let config = self.config.clone();
        async move { run_operation(&config, &step, &ctx).await }.boxed()
    }
}

/// Shell-quotes a string.
pub fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A container name from a node template id (LXC allows letters, digits, `-`, `_`, `.`).
pub fn container_name(node: &str) -> String {
    node.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A container's LXC config. `lxc.net.0.type = none`: the container shares its host's network
/// namespace, so its services are reached at the host's address. With `provisio_init` (the
/// image has `/sbin/provisio-init`) that is the init and the lines of `extra` marked as
/// placeholder-only ([`crate::standin::PLACEHOLDER_BEGIN`]) are left out.
pub fn lxc_config(name: &str, lxc_path: &str, extra: &str, provisio_init: bool) -> String {
    let (init, extra) = if provisio_init {
        (
            "lxc.init.cmd = /sbin/provisio-init\n",
            crate::standin::without_placeholder_lines(extra),
        )
    } else {
        ("", extra.to_string())
    };
    format!(
        "# Written by Provisio\nlxc.uts.name = {name}\nlxc.rootfs.path = dir:{lxc_path}/{name}/rootfs\nlxc.net.0.type = none\nlxc.signal.halt = SIGTERM\nlxc.apparmor.profile = unconfined\n{init}{extra}\n"
    )
}

/// Shell: writes the container's config in `dir`, choosing by whether its root file system has
/// `/sbin/provisio-init`.
fn write_config_sh(dir: &str, name: &str, lxc_path: &str, extra: &str, sudo: &str) -> String {
    format!(
        "if [ -e {init} ] || [ -L {init} ]; then printf %s {with}; else printf %s {without}; fi | {sudo}tee {cfg} >/dev/null",
        init = sh(&format!("{dir}/rootfs/sbin/provisio-init")),
        with = sh(&lxc_config(name, lxc_path, extra, true)),
        without = sh(&lxc_config(name, lxc_path, extra, false)),
        cfg = sh(&format!("{dir}/config")),
    )
}

/// Shell: makes `dir`'s `/etc/provisio` ready for files, refusing to write through a symbolic
/// link of the image.
fn config_dir_sh(dir: &str, sudo: &str) -> String {
    let r = format!("{dir}/rootfs");
    let mut s = String::new();
    for d in ["/etc", super::container_files::CONFIG_DIR] {
        s.push_str(&format!(
            "if [ -L {x} ]; then echo {msg} >&2; exit 1; fi; ",
            x = sh(&format!("{r}{d}")),
            msg = sh(&format!(
                "{d} is a symbolic link in the image: not writing through it"
            ))
        ));
    }
    s.push_str(&format!(
        "{sudo}mkdir -p {}",
        sh(&format!("{r}{}", super::container_files::CONFIG_DIR))
    ));
    s
}

/// Writes `files` into `dir`'s root file system, each uploaded over SFTP (no size limit of a
/// command line) into a private staging directory (`mktemp -d`, mode 700) and moved into place
/// atomically with its mode (0600 for secrets) and owner root; a file without content is
/// removed. Contents never appear on a command line.
async fn write_files(
    s: &Session,
    dir: &str,
    name: &str,
    files: &[ContainerFile],
    sudo: &str,
    timeout: Duration,
) -> Result<(), String> {
    // Root stages beside the targets (same file system: `mv` renames); a user without root
    // cannot write there, so it stages in /tmp and root copies each file next to its target
    // (`install`: created 0600, then given its mode and owner) before renaming it.
    let config_dir = format!("{dir}/rootfs{}", super::container_files::CONFIG_DIR);
    let private = if sudo.is_empty() {
        s.run(
            &format!(
                "mktemp -d {}",
                sh(&format!("{config_dir}/.provisio-XXXXXX"))
            ),
            timeout,
        )
        .await?
    } else {
        s.run(&format!("mktemp -d /tmp/.provisio-{name}-XXXXXX"), timeout)
            .await?
    }
    .trim()
    .to_string();
    let r = async {
        for f in files {
            let target = format!("{dir}/rootfs{}", f.path);
            let Some(content) = &f.content else {
                s.run(&format!("{sudo}rm -f {}", sh(&target)), timeout)
                    .await?;
                continue;
            };
            let file = f.path.rsplit('/').next().unwrap_or("file");
            let staging = format!("{private}/{file}");
            s.upload(&staging, content.as_bytes()).await?;
            let mode = format!("{:o}", f.mode());
            let cmd = if sudo.is_empty() {
                format!(
                    "chmod {mode} {t} && mv -fT {t} {f}",
                    t = sh(&staging),
                    f = sh(&target)
                )
            } else {
                let next = format!("{target}.provisio-tmp");
                format!(
                    "{sudo}rm -f {n} && {sudo}install -m {mode} -o 0 -g 0 {t} {n} && {sudo}mv -fT {n} {f} || {{ {sudo}rm -f {n}; exit 1; }}",
                    t = sh(&staging),
                    n = sh(&next),
                    f = sh(&target)
                )
            };
            s.run(&cmd, timeout).await?;
        }
        Ok::<(), String>(())
    }
    .await;
    // The staging directory goes whatever happened (it may hold a secret).
    let cleaned = s
        .run(&format!("{sudo}rm -rf {}", sh(&private)), timeout)
        .await;
    r.and(cleaned.map(|_| ()))
}

async fn per_device<F, Fut>(
    targets: &[SshTarget],
    ctx: &DriverContext,
    node: &str,
    f: F,
) -> Vec<(SshTarget, Result<String, String>)>
where
    F: Fn(SshTarget) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let futs = targets.iter().map(|t| {
        let fut = f(t.clone());
        let t = t.clone();
        async move { (t.clone(), fut.await) }
    });
    let results = futures::future::join_all(futs).await;
    for (t, r) in &results {
        match r {
            Ok(_) => ctx.events.log(Level::Info, Some(node), format!("{t}: ok")),
            Err(e) => {
                ctx.events.device(
                    node,
                    &t.to_string(),
                    DeviceState::Failed { reason: e.clone() },
                );
                ctx.events.log(Level::Error, Some(node), e.clone());
            }
        }
    }
    results
}

/// Runs one operation on every address.
pub async fn run_operation(
    config: &RaspberryConfig,
    step: &Step,
    ctx: &DriverContext,
) -> Result<Outputs, String> {
    let addresses = step
        .input("addresses")
        .ok_or("input 'addresses' is missing")?;
    let targets = parse_addresses(addresses)?;
    let user = step.input("userName").unwrap_or("root").to_string();
    let auth = SshAuth {
        user: user.clone(),
        password: step
            .input("userPassword")
            .filter(|p| !p.is_empty())
            .map(str::to_string),
        key: config.key.clone(),
    };
    let sudo = if user == "root" { "" } else { "sudo -n " };
    let node = step.node.clone();
    let op = step.operation.clone();
    // The OS node (RaspbianStretchLXC and types named like it) only installs LXC.
    let is_os = step.node_type.local.contains("Raspbian");
    let name = container_name(&step.node);
    let p = config.lxc_path.clone();
    let lxcconf = step.input("lxcConfiguration").unwrap_or("").to_string();
    let artifact = ctx.artifacts.first().cloned();
    let files = if step.operation == "configure" && !is_os {
        super::container_files::files(step)?
    } else {
        Vec::new()
    };
    if ctx.cancel.is_cancelled() {
        return Err("cancelled".into());
    }
    let results = per_device(&targets, ctx, &node, |t| {
        let auth = auth.clone();
        let config = config.clone();
        let op = op.clone();
        let name = name.clone();
        let p = p.clone();
        let lxcconf = lxcconf.clone();
        let artifact = artifact.clone();
        let files = files.clone();
        let node = node.clone();
        let ctx = ctx.clone();
        async move {
            let s = Session::connect(&t, &auth, &config.host_keys, Duration::from_secs(15)).await?;
            let to = config.timeout;
            let q = |x: &str| sh(x);
            let r = async {
                if is_os {
                    s.run(&format!("command -v lxc-create >/dev/null 2>&1 || {sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y lxc"), Duration::from_secs(900)).await?;
                    let v = s.run("lxc-create --version", to).await?;
                    return Ok(v.trim().to_string());
                }
                let dir = format!("{p}/{name}");
                match op.as_str() {
                    "install" => {
                        let a = artifact.as_ref().ok_or("install needs the container deployment artifact (a rootfs tarball)")?;
                        ctx.events.device(&node, &t.to_string(), DeviceState::Downloading { written: 0, total: a.size });
                        // Uploaded next to the containers: a full container disk fails here, clearly.
                        // (A non-root user cannot write there: /tmp then.)
                        let upload_dir = if sudo.is_empty() { p.as_str() } else { "/tmp" };
                        let tmp = format!("{upload_dir}/.provisio-upload-{name}-{}.tar.gz", &a.md5[..8.min(a.md5.len())]);
                        s.upload(&tmp, &a.bytes).await?;
                        ctx.events.device(&node, &t.to_string(), DeviceState::Downloading { written: a.size, total: a.size });
                        let sum = s.run(&format!("md5sum {}", q(&tmp)), to).await?;
                        if !sum.starts_with(&a.md5) {
                            return Err(format!("{t}: upload corrupted (md5 {} expected {})", sum.split_whitespace().next().unwrap_or(""), a.md5));
                        }
                        // Idempotent: an existing container is replaced only when absent.
                        let cfg = write_config_sh(&dir, &name, &p, &config.default_config, sudo);
                        s.run(
                            &format!(
                                "trap 'rm -f {tmp}' EXIT; if [ ! -f {d}/config ]; then {sudo}mkdir -p {d}/rootfs || exit 1; {sudo}tar --numeric-owner -xzf {tmp} -C {d}/rootfs || {{ {sudo}rm -rf {d}; exit 1; }}; {cfg} || exit 1; fi",
                                d = q(&dir),
                                tmp = q(&tmp),
                            ),
                            to,
                        )
                        .await?;
                        ctx.events.device(&node, &t.to_string(), DeviceState::Installed);
                        let avail = s.run(&format!("df -Pk {} | tail -1 | awk '{{print $4}}'", q(&p)), to).await?;
                        Ok(avail.trim().to_string())
                    }
                    "configure" => {
                        let extra = if lxcconf.trim().is_empty() { config.default_config.clone() } else { lxcconf.clone() };
                        let cfg = write_config_sh(&dir, &name, &p, &extra, sudo);
                        let prep = config_dir_sh(&dir, sudo);
                        s.run(&format!("test -d {d} || {{ echo 'container {name} is not installed' >&2; exit 1; }}; {cfg} || exit 1; {prep}", d = q(&dir)), to).await?;
                        write_files(&s, &dir, &name, &files, sudo, to).await?;
                        ctx.events.device(&node, &t.to_string(), DeviceState::Configured);
                        Ok(String::new())
                    }
                    "start" => {
                        s.run(
                            &format!(
                                "if [ \"$(lxc-info -P {p} -n {n} -sH 2>/dev/null)\" != RUNNING ]; then {sudo}lxc-start -P {p} -n {n} -d && {sudo}lxc-wait -P {p} -n {n} -s RUNNING -t 30; fi; lxc-info -P {p} -n {n} -sH",
                                p = q(&p),
                                n = q(&name)
                            ),
                            to,
                        )
                        .await?;
                        ctx.events.device(&node, &t.to_string(), DeviceState::Running);
                        Ok(String::new())
                    }
                    "stop" => {
                        s.run(&format!("if lxc-info -P {p} -n {n} >/dev/null 2>&1 && [ \"$(lxc-info -P {p} -n {n} -sH)\" = RUNNING ]; then {sudo}lxc-stop -P {p} -n {n} -t 30; fi", p = q(&p), n = q(&name)), to).await?;
                        ctx.events.device(&node, &t.to_string(), DeviceState::Stopped);
                        Ok(String::new())
                    }
                    "uninstall" => {
                        s.run(&format!("if lxc-info -P {p} -n {n} >/dev/null 2>&1; then {sudo}lxc-stop -P {p} -n {n} -k >/dev/null 2>&1 || true; {sudo}lxc-destroy -P {p} -n {n}; fi; {sudo}rm -rf {d}", p = q(&p), n = q(&name), d = q(&dir)), to).await?;
                        ctx.events.device(&node, &t.to_string(), DeviceState::Uninstalled);
                        let avail = s.run(&format!("df -Pk {} | tail -1 | awk '{{print $4}}'", q(&p)), to).await?;
                        Ok(avail.trim().to_string())
                    }
                    other => Err(format!("Raspberry Pi containers have no operation '{other}'")),
                }
            }
            .await;
            s.close().await;
            r
        }
    })
    .await;
    let ok: Vec<&(SshTarget, Result<String, String>)> =
        results.iter().filter(|(_, r)| r.is_ok()).collect();
    let past = match step.operation.as_str() {
        "install" => "installed",
        "configure" => "configured",
        "start" => "started",
        "stop" => "stopped",
        "uninstall" => "uninstalled",
        o => o,
    };
    let mut outputs = Outputs::from([(format!("{past}DeviceCount"), ok.len().to_string())]);
    if matches!(step.operation.as_str(), "install" | "uninstall")
        && !is_os
        && let Some((_, Ok(space))) = ok.first()
    {
        outputs.insert("availableSpace".into(), format!("{space} KiB"));
    }
    if ok.len() == results.len() {
        Ok(outputs)
    } else {
        let failures: Vec<String> = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().err().cloned())
            .collect();
        Err(format!(
            "{} of {} devices succeeded; {}",
            ok.len(),
            results.len(),
            failures.join("; ")
        ))
    }
}
