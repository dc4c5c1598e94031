//! A real Mosquitto broker on a free loopback port with a temporary config, killed when dropped:
//! for tests and benchmarks, and as the local broker of simulated deploys
//! ([`Mosquitto::start_for_process`], which also dies with the process). Needs the `mosquitto`
//! program (Debian package).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::agent::runner::BrokerAddr;

/// A broker that could not be started.
#[derive(Debug, thiserror::Error)]
pub enum MosquittoError {
    #[error(
        "mosquitto not found (looked at $MOSQUITTO, /usr/sbin/mosquitto and PATH): install the Debian package 'mosquitto'"
    )]
    NotInstalled,
    #[error("mosquitto: {0}")]
    Io(#[from] std::io::Error),
    #[error("mosquitto did not accept connections on 127.0.0.1:{port} within 10 s; log:\n{log}")]
    NotReady { port: u16, log: String },
    #[error("mosquitto for 127.0.0.1:{port} ended at start ({status}); log:\n{log}")]
    Exited {
        port: u16,
        status: String,
        log: String,
    },
}

/// A running Mosquitto on 127.0.0.1.
#[derive(Debug)]
pub struct Mosquitto {
    child: Child,
    port: u16,
    /// Its config and log; `None` once a broker tied to the process is running.
    dir: Option<tempfile::TempDir>,
    program: PathBuf,
    tether: Tether,
}

/// How the broker process is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tether {
    /// Killed when dropped.
    Drop,
    /// Also killed by the kernel when the thread that started it ends (`setpriv --pdeathsig`):
    /// started from a thread that lives as long as the process, so a killed process leaves no
    /// broker behind.
    Process,
}

fn spawn(program: &Path, conf: &Path, tether: Tether) -> std::io::Result<Child> {
    let setpriv = Path::new("/usr/bin/setpriv");
    let mut cmd = if tether == Tether::Process && setpriv.exists() {
        let mut c = Command::new(setpriv);
        c.args(["--pdeathsig", "KILL", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    if tether == Tether::Process {
        // Its own process group: a Ctrl-C at the terminal stops provisio, which then still
        // needs the broker to clean up; the broker ends with the process anyway.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    }
    cmd.arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// Whether the `mosquitto` program can be found.
pub fn installed() -> bool {
    program().is_some()
}

fn program() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MOSQUITTO") {
        return Some(PathBuf::from(p));
    }
    let sbin = PathBuf::from("/usr/sbin/mosquitto");
    if sbin.exists() {
        return Some(sbin);
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join("mosquitto"))
        .find(|p| p.exists())
}

impl Mosquitto {
    /// Start a broker on a free loopback port and wait until it accepts connections.
    pub fn start() -> Result<Self, MosquittoError> {
        Self::start_with("allow_anonymous true\n")
    }

    /// Start a broker whose listener takes `settings` (Mosquitto config lines: TLS files,
    /// `allow_anonymous`, `password_file`, `acl_file`, ...) instead of anonymous plain TCP.
    pub fn start_with(settings: &str) -> Result<Self, MosquittoError> {
        Self::start_tethered(settings, Tether::Drop)
    }

    /// Start a broker with `settings` that lives until dropped or until this process ends,
    /// however it ends (a `kill -9` included): the broker is started from a thread of its own
    /// that stays parked for the life of the process, through `setpriv --pdeathsig KILL` (from
    /// util-linux; without it the broker is only killed when dropped).
    pub fn start_for_process(settings: &str) -> Result<Self, MosquittoError> {
        let settings = settings.to_owned();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("provisio-mosquitto".into())
            .spawn(move || {
                let started = Self::start_tethered(&settings, Tether::Process);
                let running = started.is_ok();
                let _ = tx.send(started);
                // The kernel's parent-death signal follows this thread: while the broker runs
                // it must not end.
                if running {
                    loop {
                        std::thread::park();
                    }
                }
            })?;
        rx.recv()
            .map_err(|_| MosquittoError::Io(std::io::Error::other("broker thread ended")))?
    }

    /// Starts the broker; a port another process took before Mosquitto bound it is given up
    /// for a new one (twice at most).
    fn start_tethered(settings: &str, tether: Tether) -> Result<Self, MosquittoError> {
        let mut attempt = 0;
        loop {
            match Self::start_once(settings, tether) {
                Err(MosquittoError::Exited { .. }) if attempt < 2 => attempt += 1,
                r => return r,
            }
        }
    }

    fn start_once(settings: &str, tether: Tether) -> Result<Self, MosquittoError> {
        let program = program().ok_or(MosquittoError::NotInstalled)?;
        let dir = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = dir.path().join("mosquitto.log");
        let conf = dir.path().join("mosquitto.conf");
        // A queue limit given in `settings` wins over the default one.
        let queue = if settings.contains("max_queued_messages") {
            ""
        } else {
            "max_queued_messages 10000\n"
        };
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\n{settings}persistence false\nuser root\n\
                 {queue}log_dest file {}\nlog_type error\nlog_type warning\n",
                log.display()
            ),
        )?;
        let child = spawn(&program, &conf, tether)?;
        let mut broker = Mosquitto {
            child,
            port,
            dir: Some(dir),
            program,
            tether,
        };
        broker.wait_ready()?;
        if tether == Tether::Process {
            // Mosquitto has read its config and keeps its log open: a broker that lives as
            // long as the process leaves no folder behind (statics are never dropped).
            broker.dir = None;
        }
        Ok(broker)
    }

    /// Kill the broker and start it again on the same port (sessions are lost: no persistence).
    /// Only for a broker that lives until dropped (tests).
    pub fn restart(&mut self) -> Result<(), MosquittoError> {
        let conf = match (&self.dir, self.tether) {
            (Some(dir), Tether::Drop) => dir.path().join("mosquitto.conf"),
            _ => {
                return Err(MosquittoError::Io(std::io::Error::other(
                    "a broker started for the life of the process is not restarted",
                )));
            }
        };
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.program, &conf, self.tether)?;
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), MosquittoError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let up = TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            // Whoever answers, our broker must still run (another process may have taken the
            // port between its choice and Mosquitto's bind).
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(MosquittoError::Exited {
                    port: self.port,
                    status: status.to_string(),
                    log: self.log(),
                });
            }
            if up {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(MosquittoError::NotReady {
                    port: self.port,
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The broker's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's address.
    pub fn addr(&self) -> BrokerAddr {
        BrokerAddr {
            host: "127.0.0.1".into(),
            port: self.port,
        }
    }

    /// The broker as a `tcp://` URL.
    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// The process id (for memory/CPU figures).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the broker logged so far (nothing for a broker tied to the process, whose log
    /// folder is gone once it runs).
    pub fn log(&self) -> String {
        self.dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.path().join("mosquitto.log")).ok())
            .unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
