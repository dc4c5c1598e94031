//! Local stand-ins for unconstrained devices, for `--simulate` and tests: a real OpenSSH server
//! on loopback with its own host key and a generated client key (a "Raspberry Pi" whose LXC is
//! this machine's LXC). Needs root, openssh-server and lxc; says so clearly when missing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running sshd stand-in; killed on drop (and its password user removed).
pub struct SshdStandIn {
    child: Child,
    /// A local user with a password (only for [`SshdStandIn::start_with_password_user`]).
    pub password_user: Option<String>,
    pub port: u16,
    /// The address it listens on (127.0.0.1, or a simulated host's address).
    pub ip: std::net::IpAddr,
    /// The simulated host whose network namespace it runs in, if any.
    pub host: Option<crate::simnet::SimHost>,
    /// `SHA256:…` of its host key (pin it).
    pub host_fingerprint: String,
    /// The key that logs in as root.
    pub client_key: Arc<russh::keys::PrivateKey>,
    pub dir: PathBuf,
}

use crate::simnet::is_root;

fn keygen(path: &Path) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .map_err(|e| format!("ssh-keygen is not available ({e}); install openssh-client"))?;
    if !out.status.success() {
        return Err(format!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

impl SshdStandIn {
    /// Starts sshd on 127.0.0.1 with keys and config in `dir` (key login for root only).
    pub fn start(dir: &Path) -> Result<SshdStandIn, String> {
        Self::start_inner(dir, None, None)
    }

    /// Starts sshd inside `host`'s network namespace on `<host ip>:<free port>` (keys and config in
    /// `dir`, key login for root only). What it runs, LXC containers included, shares that
    /// namespace: a container with `lxc.net.0.type = none` is reached at the host's address.
    pub fn start_in(dir: &Path, host: &crate::simnet::SimHost) -> Result<SshdStandIn, String> {
        Self::start_inner(dir, None, Some(host))
    }

    /// Like [`SshdStandIn::start`], plus password login for a new local user `user` (created
    /// with useradd/chpasswd, removed on drop). For tests of password authentication.
    pub fn start_with_password_user(
        dir: &Path,
        user: &str,
        password: &str,
    ) -> Result<SshdStandIn, String> {
        let _ = Command::new("userdel").arg(user).output();
        let out = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", user])
            .output()
            .map_err(|e| format!("useradd: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "useradd failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("chpasswd: {e}"))?;
        if let Some(stdin) = chpasswd.stdin.as_mut() {
            use std::io::Write;
            let _ = writeln!(stdin, "{user}:{password}");
        }
        let _ = chpasswd.wait();
        let mut s = Self::start_inner(dir, Some(user), None)?;
        s.password_user = Some(user.to_string());
        Ok(s)
    }

    fn start_inner(
        dir: &Path,
        password_user: Option<&str>,
        host: Option<&crate::simnet::SimHost>,
    ) -> Result<SshdStandIn, String> {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or(
                "a simulated Raspberry Pi needs OpenSSH's sshd (apt-get install openssh-server)",
            )?;
        if !is_root() {
            return Err(
                "a simulated Raspberry Pi runs sshd and LXC containers locally and needs root"
                    .into(),
            );
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let _ = std::fs::create_dir_all("/run/sshd");
        let host_key = dir.join("ssh_host_ed25519_key");
        let client_key = dir.join("client_ed25519_key");
        keygen(&host_key)?;
        keygen(&client_key)?;
        let auth_keys = dir.join("authorized_keys");
        std::fs::copy(client_key.with_extension("pub"), &auth_keys).map_err(|e| e.to_string())?;
        let (ip, port) = match host {
            // A free port: a second stand-in for the same host (an undeploy while a watching
            // deploy still runs) must not collide with the first.
            Some(h) => (
                std::net::IpAddr::V4(h.ip),
                h.bind_tcp(0)
                    .and_then(|l| l.local_addr())
                    .map_err(|e| format!("{}: {e}", h.netns))?
                    .port(),
            ),
            None => (
                std::net::Ipv4Addr::LOCALHOST.into(),
                TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map_err(|e| e.to_string())?
                    .port(),
            ),
        };
        // `SetEnv SHLVL=1`: bash sources the machine's root ~/.bashrc for commands run by sshd
        // only at shell level 1; here that file runs pyenv's init (~100 processes, ~70 ms of
        // CPU per command), which a Pi's fresh root account does not have.
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress {ip}\nHostKey {hk}\nAuthorizedKeysFile {ak}\nPermitRootLogin prohibit-password\nPasswordAuthentication {pw}\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile {pid}\nSubsystem sftp internal-sftp\nSetEnv SHLVL=1\nLogLevel ERROR\n",
                pw = if password_user.is_some() { "yes" } else { "no" },
                hk = host_key.display(),
                ak = auth_keys.display(),
                pid = dir.join("sshd.pid").display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut cmd = match host {
            Some(h) => h.exec(sshd),
            None => Command::new(sshd),
        };
        let child = cmd
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start sshd: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut child = child;
        while std::net::TcpStream::connect((ip, port)).is_err() {
            if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("sshd did not listen on {ip}:{port}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let pubkey =
            std::fs::read_to_string(host_key.with_extension("pub")).map_err(|e| e.to_string())?;
        let host_fingerprint = russh::keys::PublicKey::from_openssh(pubkey.trim())
            .map_err(|e| e.to_string())?
            .fingerprint(russh::keys::HashAlg::Sha256)
            .to_string();
        let client_key =
            Arc::new(russh::keys::load_secret_key(&client_key, None).map_err(|e| e.to_string())?);
        Ok(SshdStandIn {
            child,
            password_user: None,
            port,
            ip,
            host: host.cloned(),
            host_fingerprint,
            client_key,
            dir: dir.to_path_buf(),
        })
    }

    /// `ip:port` (`127.0.0.1:PORT`, or `<host ip>:PORT` in a simulated host).
    pub fn address(&self) -> String {
        std::net::SocketAddr::new(self.ip, self.port).to_string()
    }

    /// CPU time used so far by this sshd and its finished sessions (user + system, including
    /// reaped children), from /proc; zero when it cannot be read.
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // After the parenthesised name: utime, stime, cutime, cstime are fields 12 to 15.
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let ticks: u64 = after
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|x| x.parse::<u64>().ok())
            .sum();
        Duration::from_millis(ticks * 10) // USER_HZ = 100
    }
}

impl Drop for SshdStandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(u) = &self.password_user {
            let _ = Command::new("userdel").arg(u).output();
        }
    }
}

/// Marks the start of config lines that apply only to an image without `/sbin/provisio-init`.
pub const PLACEHOLDER_BEGIN: &str = "# provisio: for images without /sbin/provisio-init";
/// Marks their end.
pub const PLACEHOLDER_END: &str = "# provisio: end";

/// `config` without the lines between [`PLACEHOLDER_BEGIN`] and [`PLACEHOLDER_END`] (for an
/// image that has its own `/sbin/provisio-init`).
pub fn without_placeholder_lines(config: &str) -> String {
    let mut out = String::new();
    let mut skip = false;
    for l in config.lines() {
        match l.trim() {
            PLACEHOLDER_BEGIN => skip = true,
            PLACEHOLDER_END => skip = false,
            _ if !skip => {
                out.push_str(l);
                out.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// LXC config lines that make a placeholder root file system runnable on the stand-in: the
/// host's static busybox and an init script (written to `dir`) are bound in; the script exits
/// cleanly on SIGTERM, so `lxc-stop` shuts the container down cleanly. The lines are marked
/// ([`PLACEHOLDER_BEGIN`]): drivers leave them out for images with `/sbin/provisio-init`.
pub fn standin_lxc_config(dir: &Path) -> Result<String, String> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("simulated containers need busybox (apt-get install busybox-static)")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let init = dir.join("provisio-init.sh");
    std::fs::write(
        &init,
        "trap 'exit 0' TERM\n/bin/busybox sleep 2147483647 &\nwait\n",
    )
    .map_err(|e| e.to_string())?;
    Ok(format!(
        "{PLACEHOLDER_BEGIN}\nlxc.mount.entry = {busybox} bin/busybox none bind,ro,create=file 0 0\nlxc.mount.entry = {init} provisio-init none bind,ro,create=file 0 0\nlxc.init.cmd = /bin/busybox sh /provisio-init\n{PLACEHOLDER_END}\n",
        init = init.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_lines_are_removable() {
        let dir = tempfile::tempdir().unwrap();
        let Ok(cfg) = standin_lxc_config(dir.path()) else {
            return; // no busybox here
        };
        let all = format!("a = 1\n{cfg}b = 2\n");
        assert!(all.contains("lxc.init.cmd = /bin/busybox"));
        assert_eq!(without_placeholder_lines(&all), "a = 1\nb = 2\n");
    }
}
