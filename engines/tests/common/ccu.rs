//! The Python CCU emulator (tests/fixtures/ccu/ccu_emulator.py) as a subprocess on loopback,
//! killed on drop; optionally with XML-RPC authentication on (user and password given to it in
//! its environment, never on its command line).
#![allow(dead_code)]

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

pub struct Ccu {
    child: Child,
    pub port: u16,
}

impl Ccu {
    pub fn start() -> Ccu {
        Ccu::spawn(None)
    }

    /// A CCU that answers only requests with HTTP basic authentication `user:password`.
    pub fn start_with_auth(user: &str, password: &str) -> Ccu {
        Ccu::spawn(Some(format!("{user}:{password}")))
    }

    fn spawn(auth: Option<String>) -> Ccu {
        // From the engines crate or from another crate's tests (which include this file).
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let script = ["tests/fixtures/ccu", "../engines/tests/fixtures/ccu"]
            .iter()
            .map(|d| here.join(d).join("ccu_emulator.py"))
            .find(|p| p.exists())
            .expect("ccu_emulator.py not found");
        let mut cmd = Command::new("python3");
        cmd.arg(script).env_remove("CCU_AUTH");
        if let Some(a) = auth {
            cmd.env("CCU_AUTH", a);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is needed for the CCU emulator");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("emulator printed {line:?}"));
        Ccu { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Ccu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
