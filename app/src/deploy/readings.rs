//! What the simulated devices publish, from every broker they publish to: the embedded broker
//! or a broker container of the deployment (the Flex4Apps MonitoringBroker). Used by
//! `deploy --watch` and the GUI's live plot.

use provisio_firmware::agent::runner::parse_broker_url;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Calls `on(topic, payload)` for every message on `filters` at any of `brokers` (URLs as the
/// devices use them) until `stop`; reconnects while a broker is away.
pub async fn listen(
    brokers: &[String],
    filters: &[&str],
    stop: CancellationToken,
    mut on: impl FnMut(&str, &[u8]),
) -> Result<(), String> {
    static LISTENS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let listen = LISTENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (n, url) in brokers.iter().enumerate() {
        let (addr, _) = parse_broker_url(url).map_err(|e| e.to_string())?;
        let mut o = rumqttc::MqttOptions::new(
            format!("provisio-watch-{}-{listen}-{n}", std::process::id()),
            addr.host,
            addr.port,
        );
        o.set_keep_alive(Duration::from_secs(30));
        let (client, mut ev) = rumqttc::AsyncClient::new(o, 256);
        for f in filters {
            client
                .subscribe(*f, rumqttc::QoS::AtMostOnce)
                .await
                .map_err(|e| e.to_string())?;
        }
        let tx = tx.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let _client = client; // the event loop ends with its client
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    e = ev.poll() => match e {
                        Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                            if tx.send((p.topic.clone(), p.payload.to_vec())).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
                    },
                }
            }
        });
    }
    drop(tx);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            m = rx.recv() => match m {
                Some((topic, payload)) => on(&topic, &payload),
                None => return Ok(()),
            },
        }
    }
}
