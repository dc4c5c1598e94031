//! Broker activity records exactly as the modified Mosquitto of Flex4Apps writes them: one JSON
//! object `{"mqtt":{…}}` per line, keys in its order (`action`, `topic`, `clientIP`, `port`,
//! `clientID`, `tsUTC`, `tsLocal`, `payload` for PUBLISH; `success`, `state`, `errCode`,
//! `reason` for CONNECT; `listeners` for STARTUP/SHUTDOWN).
//!
//! `tsLocal` uses the UTC offset (`+0000 (UTC)`): the machine's zone needs libc calls this
//! project does not make (no unsafe code); brokers in containers run in UTC, as in D3.5's example.

use base64::Engine as _;
use serde::Serialize;

/// One listener of a STARTUP/SHUTDOWN record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listener {
    pub bind: String,
    pub port: u16,
}

/// An activity record (the object inside `{"mqtt": …}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Publish {
        client_ip: String,
        port: Option<u16>,
        client_id: String,
        topic: String,
        payload: Vec<u8>,
        ts: u64,
    },
    Subscribe {
        client_ip: String,
        port: Option<u16>,
        client_id: String,
        topic: String,
        ts: u64,
    },
    Connect {
        client_ip: String,
        port: Option<u16>,
        client_id: String,
        return_code: u8,
        ts: u64,
    },
    Disconnect {
        client_ip: String,
        port: Option<u16>,
        client_id: String,
        ts: u64,
    },
    Startup {
        listeners: Vec<Listener>,
    },
    Shutdown {
        listeners: Vec<Listener>,
    },
}

/// Seconds since 1970 → (year, month, day, hour, minute, second) in UTC.
pub fn civil(ts: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (ts / 86_400) as i64;
    let secs = ts % 86_400;
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 { y + 1 } else { y },
        m,
        d,
        (secs / 3600) as u32,
        (secs % 3600 / 60) as u32,
        (secs % 60) as u32,
    )
}

/// `2019-04-29T09:30:00Z (GMT)`.
pub fn ts_utc(ts: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(ts);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z (GMT)")
}

/// `2019-04-29T09:30:00+0000 (UTC)`.
pub fn ts_local(ts: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(ts);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+0000 (UTC)")
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

const REASONS: [&str; 6] = [
    "CONNACK_ACCEPTED",
    "CONNACK_REFUSED_PROTOCOL_VERSION",
    "CONNACK_REFUSED_IDENTIFIER_REJECTED",
    "CONNACK_REFUSED_SERVER_UNAVAILABLE",
    "CONNACK_REFUSED_BAD_USERNAME_PASSWORD",
    "CONNACK_REFUSED_NOT_AUTHORIZED",
];

/// Writes a JSON string literal.
fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn port(p: Option<u16>) -> String {
    p.map(|p| p.to_string()).unwrap_or_else(|| "null".into())
}

impl Record {
    /// The newline-terminated JSON line, keys in the broker's order.
    pub fn to_line(&self) -> String {
        let common = |ip: &str, p: Option<u16>, id: &str, ts: u64| {
            format!(
                "\"clientIP\":{},\"port\":{},\"clientID\":{},\"tsUTC\":{},\"tsLocal\":{}",
                js(ip),
                port(p),
                js(id),
                js(&ts_utc(ts)),
                js(&ts_local(ts))
            )
        };
        let body = match self {
            Record::Publish {
                client_ip,
                port: p,
                client_id,
                topic,
                payload,
                ts,
            } => {
                let pl = if payload.is_empty() {
                    "null".to_string()
                } else {
                    js(&base64::engine::general_purpose::STANDARD.encode(payload))
                };
                format!(
                    "\"action\":\"PUBLISH\",\"topic\":{},{},\"payload\":{pl}",
                    js(topic),
                    common(client_ip, *p, client_id, *ts)
                )
            }
            Record::Subscribe {
                client_ip,
                port: p,
                client_id,
                topic,
                ts,
            } => {
                format!(
                    "\"action\":\"SUBSCRIBE\",\"topic\":{},{}",
                    js(topic),
                    common(client_ip, *p, client_id, *ts)
                )
            }
            Record::Connect {
                client_ip,
                port: p,
                client_id,
                return_code,
                ts,
            } => {
                let ok = *return_code == 0;
                let mut s = format!(
                    "\"action\":\"CONNECT\",{},\"success\":{ok},\"state\":\"{}\"",
                    common(client_ip, *p, client_id, *ts),
                    if ok { "ACCEPTED" } else { "REFUSED" }
                );
                if !ok {
                    let reason = REASONS
                        .get(*return_code as usize)
                        .copied()
                        .unwrap_or("CONNACK_REFUSED_UNKNOWN_REASON");
                    s.push_str(&format!(
                        ",\"errCode\":{return_code},\"reason\":\"{reason}\""
                    ));
                }
                s
            }
            Record::Disconnect {
                client_ip,
                port: p,
                client_id,
                ts,
            } => {
                format!(
                    "\"action\":\"DISCONNECT\",{}",
                    common(client_ip, *p, client_id, *ts)
                )
            }
            Record::Startup { listeners } | Record::Shutdown { listeners } => {
                let action = if matches!(self, Record::Startup { .. }) {
                    "STARTUP"
                } else {
                    "SHUTDOWN"
                };
                format!(
                    "\"action\":\"{action}\",\"listeners\":{}",
                    serde_json::to_string(listeners).unwrap_or_else(|_| "[]".into())
                )
            }
        };
        format!("{{\"mqtt\":{{{body}}}}}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_matches_the_document_example() {
        // D3.5: {"mqtt":{"topic":"topic","clientIP":"192.168.23.45","port":1883,
        // "clientID":"mosqpub|5704-t550","tsUTC":"2019-04-29T09:30:00Z (GMT)",
        // "tsLocal":"2019-04-29T09:30:00+0000 (UTC)","payload":"bXNn"}} (plus the fork's action).
        let r = Record::Publish {
            client_ip: "192.168.23.45".into(),
            port: Some(1883),
            client_id: "mosqpub|5704-t550".into(),
            topic: "topic".into(),
            payload: b"msg".to_vec(),
            ts: 1_556_530_200,
        };
        assert_eq!(
            r.to_line(),
            "{\"mqtt\":{\"action\":\"PUBLISH\",\"topic\":\"topic\",\"clientIP\":\"192.168.23.45\",\"port\":1883,\"clientID\":\"mosqpub|5704-t550\",\"tsUTC\":\"2019-04-29T09:30:00Z (GMT)\",\"tsLocal\":\"2019-04-29T09:30:00+0000 (UTC)\",\"payload\":\"bXNn\"}}\n"
        );
    }

    #[test]
    fn refused_connect_carries_code_and_reason() {
        let r = Record::Connect {
            client_ip: "127.0.0.1".into(),
            port: None,
            client_id: "x".into(),
            return_code: 5,
            ts: 0,
        };
        let l = r.to_line();
        assert!(l.contains("\"port\":null"), "{l}");
        assert!(l.ends_with("\"success\":false,\"state\":\"REFUSED\",\"errCode\":5,\"reason\":\"CONNACK_REFUSED_NOT_AUTHORIZED\"}}\n"), "{l}");
        let s = Record::Startup {
            listeners: vec![Listener {
                bind: String::new(),
                port: 1883,
            }],
        }
        .to_line();
        assert_eq!(
            s,
            "{\"mqtt\":{\"action\":\"STARTUP\",\"listeners\":[{\"bind\":\"\",\"port\":1883}]}}\n"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(ts_utc(1_556_530_200), "2019-04-29T09:30:00Z (GMT)");
    }
}
