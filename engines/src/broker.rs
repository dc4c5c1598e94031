//! The embedded MQTT broker (rumqttd, in-process): with no external broker configured the
//! engine starts one on a free port, so deploy works on a fresh machine with nothing else
//! installed. rumqttd runs on its own threads and lives as long as the process; start it once.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A running embedded broker.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

/// The broker could not be started.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot find a free port on {0}: {1}")]
    Port(std::net::IpAddr, std::io::Error),
    #[error("the embedded broker did not start listening on {0} within 10 s")]
    NotListening(SocketAddr),
}

impl EmbeddedBroker {
    /// Starts a broker on `ip` (port chosen by the OS) and waits until it accepts connections.
    /// `max_connections` bounds concurrent clients (devices + engine).
    pub fn start(ip: std::net::IpAddr, max_connections: usize) -> Result<Self, BrokerError> {
        // Reserve a free port, release it, and hand it to rumqttd (which binds by address).
        let port = TcpListener::bind(SocketAddr::new(ip, 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| BrokerError::Port(ip, e))?
            .port();
        let addr = SocketAddr::new(ip, port);
        let connections = rumqttd::ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 1024 * 1024,
            max_inflight_count: 200,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        };
        let server = rumqttd::ServerSettings {
            name: "provisio-v4".into(),
            listen: addr,
            tls: None,
            next_connection_delay_ms: 0,
            connections,
        };
        let config = rumqttd::Config {
            id: 0,
            router: rumqttd::RouterConfig {
                max_connections: max_connections.max(16),
                max_outgoing_packet_count: 1000,
                max_segment_size: 16 * 1024 * 1024,
                max_segment_count: 10,
                ..Default::default()
            },
            v4: Some(HashMap::from([("v4".to_string(), server)])),
            ..Default::default()
        };
        std::thread::Builder::new()
            .name("provisio-broker".into())
            .spawn(move || {
                let mut broker = rumqttd::Broker::new(config);
                if let Err(e) = broker.start() {
                    tracing::error!("embedded broker stopped: {e}");
                }
            })
            .map_err(|e| BrokerError::Port(ip, e))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(EmbeddedBroker { addr });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(BrokerError::NotListening(addr))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The broker as a `pubSubServer` value (`tcp://host:port`).
    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }
}
