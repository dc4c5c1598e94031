//! `provisio deploy … --simulate --watch`: after the deploy, the simulated devices, stand-ins and
//! the embedded broker keep running until Ctrl-C (or SIGTERM, SIGHUP); every sensor reading and
//! device status change is printed as one line. The signal then asks nothing and leaves the
//! instance deployed.

/// Prints readings (`sensors/<id>`) and status changes (`…/status/<id>`) from the brokers the
/// simulated devices use until `stop` is cancelled (by the CLI's stop signals).
pub async fn watch(
    brokers: &[String],
    stop: tokio_util::sync::CancellationToken,
) -> Result<(), String> {
    if brokers.is_empty() {
        return Err("no simulated devices to watch".into());
    }
    outln!(
        "watching the simulated system on {} (Ctrl-C stops watching; the instance stays deployed)",
        brokers.join(", ")
    );
    crate::deploy::readings::listen(brokers, &["sensors/+", "+/status/+"], stop, |t, p| {
        if let Some(line) = describe(t, p) {
            outln!("{line}");
        }
    })
    .await
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
