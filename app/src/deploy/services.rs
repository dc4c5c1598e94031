//! Process-wide services a deployment needs: the artifact server, and the embedded MQTT broker
//! when devices are simulated. Started on first use and kept for the life of the process.

use provisio_engines::artifact_server::ArtifactServer;
use provisio_engines::broker::EmbeddedBroker;
use tokio::sync::OnceCell;

/// The shared services.
pub struct Services {
    pub artifacts: ArtifactServer,
    pub broker: Option<EmbeddedBroker>,
}

static SIMULATED: OnceCell<Services> = OnceCell::const_new();
static REAL: OnceCell<Services> = OnceCell::const_new();

/// The services for simulated (loopback broker + server) or real devices (server on all
/// interfaces, bound to `PROVISIO_ARTIFACT_BIND` if set).
pub async fn get(simulate: bool) -> Result<&'static Services, String> {
    let cell = if simulate { &SIMULATED } else { &REAL };
    cell.get_or_try_init(|| async move {
        if simulate {
            let broker =
                EmbeddedBroker::start("127.0.0.1".parse().map_err(|e| format!("{e}"))?, 20_000)
                    .map_err(|e| e.to_string())?;
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
