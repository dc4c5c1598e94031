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
}

/// A running Mosquitto on 127.0.0.1.
#[derive(Debug)]
pub struct Mosquitto {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
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
                let _ = tx.send(Self::start_tethered(&settings, Tether::Process));
                // The kernel's parent-death signal follows this thread: it must not end.
                loop {
                    std::thread::park();
                }
            })?;
        rx.recv()
            .map_err(|_| MosquittoError::Io(std::io::Error::other("broker thread ended")))?
    }

    fn start_tethered(settings: &str, tether: Tether) -> Result<Self, MosquittoError> {
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
            dir,
            program,
            tether,
        };
        broker.wait_ready()?;
        Ok(broker)
    }

    /// Kill the broker and start it again on the same port (sessions are lost: no persistence).
    /// The new process is tied to the calling thread, not to a broker thread of the process.
    pub fn restart(&mut self) -> Result<(), MosquittoError> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(
            &self.program,
            &self.dir.path().join("mosquitto.conf"),
            self.tether,
        )?;
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), MosquittoError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline || matches!(self.child.try_wait(), Ok(Some(_))) {
                return Err(MosquittoError::NotReady {
                    port: self.port,
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
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

    /// What the broker logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
