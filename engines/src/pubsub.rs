//! The `pubSubServer` property: `tcp://host[:port]` (1883 by default; `mqtt://` accepted) or
//! `ssl://` / `mqtts://` (8883). Parsed into what an MQTT client needs.

/// A broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

/// A `pubSubServer` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pubSubServer '{value}': {reason}")]
pub struct PubSubError {
    pub value: String,
    pub reason: String,
}

/// Parses a `pubSubServer` value.
pub fn parse_pubsub(value: &str) -> Result<BrokerAddr, PubSubError> {
    let err = |reason: &str| PubSubError {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let v = value.trim();
    let (scheme, rest) = v
        .split_once("://")
        .ok_or_else(|| err("expected tcp://host:port (or mqtts://host:port)"))?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "tcp" | "mqtt" => false,
        "ssl" | "mqtts" | "tls" => true,
        _ => {
            return Err(err(
                "unknown scheme; use tcp://, mqtt://, ssl:// or mqtts://",
            ));
        }
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains('@') || rest.contains('/') {
        return Err(err(
            "credentials and paths do not belong in pubSubServer; give them as deploy inputs",
        ));
    }
    let (host, port) = if let Some(h) = rest.strip_prefix('[') {
        let (h, after) = h
            .split_once(']')
            .ok_or_else(|| err("unclosed '[' in IPv6 address"))?;
        (h.to_string(), after.strip_prefix(':').map(str::to_string))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (rest.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(err("no host"));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| err("port is not a number between 1 and 65535"))?,
        None => {
            if tls {
                8883
            } else {
                1883
            }
        }
    };
    if port == 0 {
        return Err(err("port 0"));
    }
    Ok(BrokerAddr { host, port, tls })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_of_the_thesis_and_decisions() {
        assert_eq!(
            parse_pubsub("tcp://192.168.0.27:1883").unwrap(),
            BrokerAddr {
                host: "192.168.0.27".into(),
                port: 1883,
                tls: false
            }
        );
        assert_eq!(parse_pubsub("tcp://broker").unwrap().port, 1883);
        assert_eq!(
            parse_pubsub("mqtts://broker").unwrap(),
            BrokerAddr {
                host: "broker".into(),
                port: 8883,
                tls: true
            }
        );
        assert_eq!(parse_pubsub("ssl://[::1]:9000").unwrap().host, "::1");
        for bad in [
            "192.168.0.27:1883",
            "http://x",
            "tcp://:1883",
            "tcp://x:99999",
            "tcp://u:p@x",
        ] {
            let e = parse_pubsub(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
