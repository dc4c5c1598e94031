//! MQTT probes of the gateway test: a gateway's bridge carries its control topic down from the
//! central broker and its response topics up to it.

use super::Gateway;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::time::{Duration, Instant};

/// An MQTT client on `host:port` that forwards every message it receives.
pub async fn client(
    id: &str,
    addr: &str,
    topic: &str,
) -> (AsyncClient, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let opts = MqttOptions::new(id, host, port.parse().unwrap());
    let (c, mut eventloop) = AsyncClient::new(opts, 16);
    c.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = tx.send(String::new());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p.topic).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    (c, rx)
}

/// Sends `topic` through `from` until `rx` sees it (the bridge is up), at most 15 s.
async fn carried(
    from: &AsyncClient,
    topic: &str,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let _ = from
            .publish(topic, QoS::AtLeastOnce, false, "probe".as_bytes())
            .await;
        let until = tokio::time::Instant::now() + Duration::from_millis(300);
        while let Ok(Some(t)) = tokio::time::timeout_at(until, rx.recv()).await {
            if t == topic {
                return true;
            }
        }
    }
    false
}

/// The bridge of gateway `g` carries its control topic down and its response topics up.
pub async fn probe_bridge(central: &str, g: &Gateway) -> Result<(), String> {
    let local = format!("{}:{}", g.ip, super::GATEWAY_MQTT_PORT);
    let tag = rand_tag();
    let (down_pub, _) = client(&format!("probe-c-{tag}"), central, "probe/none").await;
    let (_down_sub, mut down_rx) =
        client(&format!("probe-g-{tag}"), &local, &g.control_topic()).await;
    if !carried(&down_pub, &g.control_topic(), &mut down_rx).await {
        return Err(format!(
            "gateway {}: {} never came down",
            g.index,
            g.control_topic()
        ));
    }
    let up_topic = format!("{}/probe", g.response_topic());
    let (up_pub, _) = client(&format!("probe-u-{tag}"), &local, "probe/none").await;
    let (_up_sub, mut up_rx) = client(
        &format!("probe-s-{tag}"),
        central,
        &format!("{}/#", g.response_topic()),
    )
    .await;
    if !carried(&up_pub, &up_topic, &mut up_rx).await {
        return Err(format!("gateway {}: {up_topic} never went up", g.index));
    }
    Ok(())
}

fn rand_tag() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}
