//! The MICA emulator's real containers: unpacked under `<storage>/lxc/<name>/rootfs`, run with
//! lxc-start/-stop/-destroy/-info (`-P <storage>/lxc`), inside a simulated host's network
//! namespace when there is one (LXC's command socket is per namespace, so every call runs
//! there). State comes from lxc-info plus a marker file, never from memory.

use crate::simnet::SimHost;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub(super) struct Lxc {
    /// `<storage>/lxc`.
    path: PathBuf,
    host: Option<SimHost>,
    /// Lines for placeholder images (the host's busybox and an init script).
    placeholder: String,
}

/// What the emulator last did to a container that is not running.
const MARKER: &str = "provisio-state";

impl Lxc {
    pub(super) fn new(storage: &Path, host: Option<SimHost>) -> Result<Lxc, String> {
        if !crate::simnet::is_root() {
            return Err("a MICA emulator with real containers needs root (LXC)".into());
        }
        if !Path::new("/usr/bin/lxc-start").exists() && !Path::new("/bin/lxc-start").exists() {
            return Err(
                "a MICA emulator with real containers needs LXC (apt-get install lxc)".into(),
            );
        }
        let path = storage.join("lxc");
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let placeholder = crate::standin::standin_lxc_config(&storage.join("placeholder"))?;
        Ok(Lxc {
            path,
            host,
            placeholder,
        })
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub(super) fn rootfs(&self, name: &str) -> PathBuf {
        self.dir(name).join("rootfs")
    }

    pub(super) fn exists(&self, name: &str) -> bool {
        valid(name) && self.dir(name).join("config").exists()
    }

    /// `prog -P <path> -n <name> args…`, in the host's namespace when there is one.
    fn cmd(&self, prog: &str, name: &str, args: &[&str]) -> Command {
        let mut c = match &self.host {
            Some(h) => h.exec(prog),
            None => Command::new(prog),
        };
        c.arg("-P").arg(&self.path).args(["-n", name]).args(args);
        c
    }

    fn run(&self, prog: &str, name: &str, args: &[&str]) -> Result<String, String> {
        let out = self
            .cmd(prog, name, args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{prog}: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(format!(
                "{prog} {name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn running(&self, name: &str) -> bool {
        self.run("lxc-info", name, &["-sH"]).as_deref() == Ok("RUNNING")
    }

    /// `running`, else the marker (`installed`, `stopped`); `None` when not installed.
    pub(super) fn state(&self, name: &str) -> Option<String> {
        if !self.exists(name) {
            return None;
        }
        if self.running(name) {
            return Some("running".into());
        }
        Some(
            std::fs::read_to_string(self.dir(name).join(MARKER))
                .map(|s| s.trim().to_string())
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "stopped".into()),
        )
    }

    fn mark(&self, name: &str, state: &str) {
        let _ = std::fs::write(self.dir(name).join(MARKER), state);
    }

    /// Unpacks `tarball` as the container's root file system (replacing one that is not
    /// running) and writes its config.
    pub(super) fn install(&self, name: &str, tarball: &[u8]) -> Result<(), String> {
        if !valid(name) {
            return Err(format!("'{name}' is not a valid container name"));
        }
        if self.exists(name) && self.running(name) {
            return Err(format!("container {name} is running: stop it first"));
        }
        let dir = self.dir(name);
        let _ = std::fs::remove_dir_all(&dir);
        let rootfs = self.rootfs(name);
        std::fs::create_dir_all(&rootfs).map_err(|e| format!("{}: {e}", rootfs.display()))?;
        let mut tar = Command::new("tar")
            .arg("--numeric-owner")
            .arg("-xzf")
            .arg("-")
            .arg("-C")
            .arg(&rootfs)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("tar: {e}"))?;
        let written = tar
            .stdin
            .take()
            .map(|mut i| i.write_all(tarball))
            .unwrap_or(Ok(()));
        let out = tar.wait_with_output().map_err(|e| format!("tar: {e}"))?;
        if !out.status.success() || written.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!(
                "cannot unpack the container: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let init = rootfs.join("sbin/provisio-init");
        let has_init = std::fs::symlink_metadata(&init).is_ok();
        let cfg = crate::drivers::raspberry::lxc_config(
            name,
            &self.path.display().to_string(),
            &self.placeholder,
            has_init,
        );
        std::fs::write(dir.join("config"), cfg).map_err(|e| format!("{}: {e}", dir.display()))?;
        self.mark(name, "installed");
        Ok(())
    }

    pub(super) fn start(&self, name: &str) -> Result<(), String> {
        if self.running(name) {
            return Ok(());
        }
        let log = self.dir(name).join("lxc.log");
        let log = log.display().to_string();
        let started = self
            .run("lxc-start", name, &["-d", "-o", &log, "-l", "ERROR"])
            .and_then(|_| self.run("lxc-wait", name, &["-s", "RUNNING", "-t", "30"]));
        if let Err(e) = started {
            let detail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = detail.lines().rev().take(3).collect();
            return Err(format!(
                "{e} {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
        Ok(())
    }

    pub(super) fn stop(&self, name: &str) -> Result<(), String> {
        if self.running(name) {
            self.run("lxc-stop", name, &["-t", "30"])?;
        }
        self.mark(name, "stopped");
        Ok(())
    }

    pub(super) fn delete(&self, name: &str) -> Result<(), String> {
        if self.running(name) {
            let _ = self.run("lxc-stop", name, &["-k"]);
        }
        let _ = self.run("lxc-destroy", name, &[]);
        let dir = self.dir(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        Ok(())
    }
}

/// LXC container names the driver produces (letters, digits, `-`, `_`), nothing path-like.
fn valid(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
