//! A real InfluxDB 1.x (Debian's influxd) on free loopback ports for tests, killed on drop, and
//! a small InfluxQL query helper.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Influxd {
    child: Option<Child>,
    conf: std::path::PathBuf,
    pub port: u16,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Influxd {
    pub fn start() -> Influxd {
        assert!(
            std::path::Path::new("/usr/bin/influxd").exists(),
            "influxd is not installed (apt-get install influxdb)"
        );
        let dir = tempfile::tempdir().unwrap();
        let (port, rpc) = (free_port(), free_port());
        let d = dir.path().display();
        let conf = dir.path().join("influxdb.conf");
        std::fs::write(
            &conf,
            format!("reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n[http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n[monitor]\n  store-enabled = false\n"),
        )
        .unwrap();
        let child = Command::new("/usr/bin/influxd")
            .arg("-config")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "influxd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Influxd {
            child: Some(child),
            conf,
            port,
            _dir: dir,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs an InfluxQL query (timestamps in ns) and returns the parsed JSON answer.
    pub fn query(&self, db: &str, q: &str) -> serde_json::Value {
        use std::io::{Read, Write};
        let enc: String = q
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "GET /query?db={db}&epoch=ns&q={enc} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        let body = buf.split("\r\n\r\n").nth(1).unwrap_or_default();
        // Chunked or not: the JSON object is on one line.
        let json = body.lines().find(|l| l.starts_with('{')).unwrap_or(body);
        serde_json::from_str(json).unwrap_or_default()
    }

    /// The rows of the first series of a query as a list of column → value maps.
    pub fn rows(&self, db: &str, q: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
        let v = self.query(db, q);
        let series = &v["results"][0]["series"];
        let mut out = Vec::new();
        for s in series.as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let cols: Vec<String> = s["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            for row in s["values"].as_array().unwrap() {
                let mut m = serde_json::Map::new();
                for (c, v) in cols.iter().zip(row.as_array().unwrap()) {
                    m.insert(c.clone(), v.clone());
                }
                for (k, v) in s["tags"].as_object().into_iter().flatten() {
                    m.insert(k.clone(), v.clone());
                }
                out.push(m);
            }
        }
        out
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
