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
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/ccu/ccu_emulator.py");
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
