//! Process-wide services a deployment needs: the artifact server, and the local MQTT broker
//! when devices are simulated (Mosquitto in a process of its own when it is installed, else
//! rumqttd in this process). Started on first use and kept for the life of the process.

use std::net::SocketAddr;

use provisio_engines::artifact_server::ArtifactServer;
use provisio_engines::broker::EmbeddedBroker;
use provisio_firmware::mosquitto::Mosquitto;
use tokio::sync::OnceCell;

/// The shared services.
pub struct Services {
    pub artifacts: ArtifactServer,
    pub broker: Option<LocalBroker>,
    /// Why the local broker is not the one asked for (Mosquitto would not start), for the
    /// deploy's log.
    pub broker_note: Option<String>,
}

/// The broker simulated devices and the engine meet at, on 127.0.0.1.
#[derive(Debug)]
pub enum LocalBroker {
    /// rumqttd on threads of this process: needs nothing installed.
    Embedded(EmbeddedBroker),
    /// Mosquitto in its own process, ended with this one: the broker of the thesis, and about
    /// half the CPU per message of rumqttd's router and link threads.
    Mosquitto(Mosquitto),
}

/// Which local broker to start: `PROVISIO_LOCAL_BROKER` = `embedded`, `mosquitto` or `auto`
/// (the default: Mosquitto when the program is installed, else embedded).
pub const CHOICE_VAR: &str = "PROVISIO_LOCAL_BROKER";

/// The local broker asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerPreference {
    /// Mosquitto when installed (and it starts), else embedded.
    Auto,
    Embedded,
    Mosquitto,
}

impl BrokerPreference {
    /// What `PROVISIO_LOCAL_BROKER` asks for (`auto` when unset).
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(CHOICE_VAR).unwrap_or_default().as_str() {
            "" | "auto" => Ok(BrokerPreference::Auto),
            "embedded" => Ok(BrokerPreference::Embedded),
            "mosquitto" => Ok(BrokerPreference::Mosquitto),
            other => Err(format!(
                "{CHOICE_VAR}={other}: expected embedded, mosquitto or auto"
            )),
        }
    }
}

/// Mosquitto's settings as the local broker. The engine's one client receives every device's
/// answers, statuses and progress at once: Mosquitto's default queue (1,000 QoS 1 messages
/// per client) would drop some of them with thousands of devices.
pub const MOSQUITTO_SETTINGS: &str =
    "allow_anonymous true\nmax_queued_messages 1000000\nmax_inflight_messages 1000\n";

impl LocalBroker {
    /// Starts the broker `pref` asks for; with `Auto`, a Mosquitto that does not start gives
    /// way to the embedded broker, and the note says why.
    pub fn start(pref: BrokerPreference) -> Result<(Self, Option<String>), String> {
        let mosquitto = match pref {
            BrokerPreference::Embedded => false,
            BrokerPreference::Mosquitto => true,
            BrokerPreference::Auto => provisio_firmware::mosquitto::installed(),
        };
        let mut note = None;
        if mosquitto {
            // Each device holds a socket to the broker, which inherits this process's limit.
            let _ = provisio_firmware::fleet::raise_fd_limit();
            match Mosquitto::start_for_process(MOSQUITTO_SETTINGS) {
                Ok(m) => return Ok((LocalBroker::Mosquitto(m), None)),
                Err(e) if pref == BrokerPreference::Mosquitto => {
                    return Err(format!("local broker: {e}"));
                }
                Err(e) => {
                    note = Some(format!(
                        "Mosquitto did not start ({e}); the embedded broker stands in"
                    ))
                }
            }
        }
        let broker = EmbeddedBroker::start([127, 0, 0, 1].into(), 20_000)
            .map(LocalBroker::Embedded)
            .map_err(|e| e.to_string())?;
        Ok((broker, note))
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            LocalBroker::Embedded(b) => b.addr(),
            LocalBroker::Mosquitto(m) => ([127, 0, 0, 1], m.port()).into(),
        }
    }

    /// The broker as a `pubSubServer` value (`tcp://host:port`).
    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr())
    }

    /// What it is, for messages: `Mosquitto (own process)` or `embedded rumqttd`.
    pub fn describe(&self) -> &'static str {
        match self {
            LocalBroker::Embedded(_) => "embedded rumqttd (this process)",
            LocalBroker::Mosquitto(_) => "Mosquitto (own process)",
        }
    }

    /// Mosquitto's process id (for CPU and memory figures).
    pub fn pid(&self) -> Option<u32> {
        match self {
            LocalBroker::Embedded(_) => None,
            LocalBroker::Mosquitto(m) => Some(m.pid()),
        }
    }
}

static SIMULATED: OnceCell<Services> = OnceCell::const_new();
static REAL: OnceCell<Services> = OnceCell::const_new();

/// The services for simulated (loopback broker + server) or real devices (server on all
/// interfaces, bound to `PROVISIO_ARTIFACT_BIND` if set); the local broker is the one
/// `PROVISIO_LOCAL_BROKER` asks for.
pub async fn get(simulate: bool) -> Result<&'static Services, String> {
    let pref = if simulate {
        BrokerPreference::from_env()?
    } else {
        BrokerPreference::Auto
    };
    get_with(simulate, pref).await
}

/// The same with the local broker `pref` asks for, when this call starts the services (they
/// live as long as the process: a later call gets the broker the first one started).
pub async fn get_with(simulate: bool, pref: BrokerPreference) -> Result<&'static Services, String> {
    let cell = if simulate { &SIMULATED } else { &REAL };
    if let Some(services) = cell.get() {
        // Mosquitto runs in a process of its own: one that ended (killed, out of memory) would
        // leave every later simulated deploy of this process to time out.
        if let Some(broker @ LocalBroker::Mosquitto(m)) = &services.broker
            && std::net::TcpStream::connect_timeout(
                &broker.addr(),
                std::time::Duration::from_secs(2),
            )
            .is_err()
        {
            return Err(format!(
                "the local broker (Mosquitto, process {}) no longer accepts connections on {}: \
                 restart Provisio",
                m.pid(),
                broker.addr()
            ));
        }
        return Ok(services);
    }
    cell.get_or_try_init(|| async move {
        if simulate {
            let (broker, broker_note) = LocalBroker::start(pref)?;
            let artifacts = ArtifactServer::start(
                "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
                None,
                256,
            )
            .await
            .map_err(|e| format!("artifact server: {e}"))?;
            Ok(Services {
                artifacts,
                broker: Some(broker),
                broker_note,
            })
        } else {
            let bind =
                std::env::var("PROVISIO_ARTIFACT_BIND").unwrap_or_else(|_| "0.0.0.0:0".into());
            // Devices need an address they can reach, not 0.0.0.0: the one this machine would
            // use towards the network (a UDP "connect" only picks a route; nothing is sent).
            let host = std::env::var("PROVISIO_ARTIFACT_HOST")
                .ok()
                .or_else(local_ip);
            let addr = bind
                .parse()
                .map_err(|e| format!("PROVISIO_ARTIFACT_BIND '{bind}': {e}"))?;
            let artifacts = ArtifactServer::start(addr, host.as_deref(), 256)
                .await
                .map_err(|e| format!("artifact server on {bind}: {e}"))?;
            Ok(Services {
                artifacts,
                broker: None,
                broker_note: None,
            })
        }
    })
    .await
}

/// This machine's address on its default route, if it has one.
fn local_ip() -> Option<String> {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect("192.0.2.1:9").ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then(|| ip.to_string())
}
