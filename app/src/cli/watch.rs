//! `provisio deploy … --simulate --watch`: after the deploy, the simulated devices, stand-ins and
//! the embedded broker keep running until Ctrl-C; every sensor reading and device status change
//! is printed as one line. Ctrl-C then asks nothing and leaves the instance deployed.

use std::time::Duration;

/// Prints readings (`sensors/<id>`) and status changes (`…/status/<id>`) from the embedded
/// broker until Ctrl-C (or `stop` for tests).
pub async fn watch(stop: tokio_util::sync::CancellationToken) -> Result<(), String> {
    let services = crate::deploy::services::get(true).await?;
    let broker = services
        .broker
        .as_ref()
        .ok_or("no embedded broker is running")?;
    let mut o = rumqttc::MqttOptions::new(
        format!("provisio-watch-{}", std::process::id()),
        broker.addr().ip().to_string(),
        broker.addr().port(),
    );
    o.set_keep_alive(Duration::from_secs(30));
    let (client, mut ev) = rumqttc::AsyncClient::new(o, 256);
    for filter in ["sensors/+", "+/status/+"] {
        client
            .subscribe(filter, rumqttc::QoS::AtMostOnce)
            .await
            .map_err(|e| e.to_string())?;
    }
    println!(
        "watching the simulated system on {} (Ctrl-C stops watching; the instance stays deployed)",
        broker.url()
    );
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = stop.cancelled() => break,
            e = ev.poll() => match e {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    if let Some(line) = describe(&p.topic, &p.payload) {
                        println!("{line}");
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            },
        }
    }
    let _ = client.disconnect().await;
    Ok(())
}

/// One line for a message, or `None` for what is not a reading or a status.
pub fn describe(topic: &str, payload: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(payload);
    if let Some(device) = topic.strip_prefix("sensors/") {
        return Some(format!("reading {device} {}", text.trim()));
    }
    let (_, device) = topic.split_once("/status/")?;
    Some(format!("device {device} {}", text.trim()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_for_readings_and_status() {
        assert_eq!(
            super::describe("sensors/42", br#"{"temperature":21.5}"#).as_deref(),
            Some(r#"reading 42 {"temperature":21.5}"#)
        );
        assert_eq!(
            super::describe("response/status/42", b"online").as_deref(),
            Some("device 42 online")
        );
        assert_eq!(super::describe("control", b"{}"), None);
    }
}
