//! A real Mosquitto broker for tests and benchmarks: started on a free loopback port with a
//! temporary config, killed when dropped. Needs the `mosquitto` program (Debian package).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
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
}

fn spawn(program: &std::path::Path, conf: &std::path::Path) -> std::io::Result<Child> {
    Command::new(program)
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
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
        let child = spawn(&program, &conf)?;
        let mut broker = Mosquitto {
            child,
            port,
            dir,
            program,
        };
        broker.wait_ready()?;
        Ok(broker)
    }

    /// Kill the broker and start it again on the same port (sessions are lost: no persistence).
    pub fn restart(&mut self) -> Result<(), MosquittoError> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.program, &self.dir.path().join("mosquitto.conf"))?;
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
