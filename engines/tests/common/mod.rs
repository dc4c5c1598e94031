//! Test peers: a real Mosquitto on a free loopback port, and simulated devices that answer the
//! management protocol (the real device agent lives in the firmware crate; cross-crate tests in
//! tests/ use it).
#![allow(dead_code)]

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Mosquitto process, killed on drop.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect(
                "mosquitto is not installed (apt-get install mosquitto; scripts/test.sh does it)",
            );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("m.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start mosquitto");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Mosquitto {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a simulated device answers.
#[derive(Clone, Debug)]
pub enum Answer {
    Success,
    Error(&'static str),
    Silent,
    /// Sends progress messages, then success.
    ProgressThenSuccess,
}

/// Starts a device that subscribes to `control` and answers on `response` as `answer` says.
/// Returns once it is subscribed.
pub async fn device(
    port: u16,
    id: &str,
    control: &str,
    response: &str,
    answer: Answer,
) -> tokio::task::JoinHandle<()> {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut ev) = AsyncClient::new(opts, 16);
    client.subscribe(control, QoS::AtLeastOnce).await.unwrap();
    loop {
        if let Ok(Event::Incoming(Packet::SubAck(_))) = ev.poll().await {
            break;
        }
    }
    let id = id.to_string();
    let response = response.to_string();
    tokio::spawn(async move {
        loop {
            let Ok(e) = ev.poll().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            if let Event::Incoming(Packet::Publish(_)) = e {
                let send = |text: String| {
                    let c = client.clone();
                    let r = response.clone();
                    async move {
                        c.publish(r, QoS::AtLeastOnce, false, text).await.unwrap();
                    }
                };
                let resp = |r: &str| {
                    format!(r#"{{"messageType":"response","response":"{r}","hardwareId":"{id}"}}"#)
                };
                match &answer {
                    Answer::Success => send(resp("success")).await,
                    Answer::Error(e) => send(resp(&format!("error: {e}"))).await,
                    Answer::Silent => {}
                    Answer::ProgressThenSuccess => {
                        for w in [50, 100] {
                            send(format!(r#"{{"messageType":"progress","hardwareId":"{id}","written":{w},"total":100}}"#)).await;
                        }
                        send(resp("success")).await;
                    }
                }
            }
        }
    })
}
