//! The Python CCU emulator (tests/fixtures/ccu/ccu_emulator.py) as a subprocess on loopback,
//! killed on drop.
#![allow(dead_code)]

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

pub struct Ccu {
    child: Child,
    pub port: u16,
}

impl Ccu {
    pub fn start() -> Ccu {
        // From the engines crate or from another crate's tests (which include this file).
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let script = ["tests/fixtures/ccu", "../engines/tests/fixtures/ccu"]
            .iter()
            .map(|d| here.join(d).join("ccu_emulator.py"))
            .find(|p| p.exists())
            .expect("ccu_emulator.py not found");
        let mut child = Command::new("python3")
            .arg(script)
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
