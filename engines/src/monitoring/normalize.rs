//! What the connector makes of a broker message (D3.5 §5.4 "connector code normalizes data from
//! the message broker"): The Things Network uplinks (v3 `end_device_ids`/`uplink_message`, and
//! the v2 `dev_id`/`payload_fields` format D3.5 links to) become one point with the device and
//! application as tags, the decoded payload fields, and the best gateway's RSSI/SNR; every other
//! JSON message is flat device data on one topic per device (tag `device` from a topic segment).
//!
//! Field names: decoded payload keys as they are (nested keys joined with `_`); receive metadata
//! as `rssi`, `snr` (of the gateway with the strongest RSSI), `gateways` (how many received it),
//! `f_cnt`, `f_port`, `spreading_factor`. A decoded field of the same name wins over metadata.

use serde_json::Value;

/// A normalised message: tags and fields of one point, and its time when the message has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// Sorted by key (InfluxDB's preferred order); always holds `device`.
    pub tags: Vec<(String, String)>,
    /// Line-protocol field values (`21.5`, `true`), sorted by key.
    pub fields: Vec<(String, String)>,
    /// Nanoseconds since 1970 from the message (TTN's `received_at`), if it carries one.
    pub time_ns: Option<u128>,
}

fn number_text(n: &serde_json::Number) -> String {
    let text = n.to_string();
    // Integers are written as floats so a field keeps one type whatever the device sends.
    if text.contains('.') || text.contains('e') || text.contains('E') {
        text
    } else {
        format!("{text}.0")
    }
}

/// Numbers and booleans of `v` as fields; nested object keys are joined with `_`.
pub fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Number(n) => out.push((prefix.to_string(), number_text(n))),
        Value::Bool(b) => out.push((prefix.to_string(), b.to_string())),
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}_{k}")
                };
                flatten(&key, v, out);
            }
        }
        _ => {}
    }
}

fn finish(
    mut tags: Vec<(String, String)>,
    mut fields: Vec<(String, String)>,
    time_ns: Option<u128>,
) -> Option<Normalized> {
    if fields.is_empty() {
        return None;
    }
    tags.retain(|(_, v)| !v.is_empty());
    tags.sort();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    fields.dedup_by(|b, a| a.0 == b.0);
    Some(Normalized {
        tags,
        fields,
        time_ns,
    })
}

/// Normalises one message; `None` when it is not JSON, not an uplink, or holds no numeric field.
pub fn normalize(topic: &str, payload: &[u8], device_segment: usize) -> Option<Normalized> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    if v.get("end_device_ids").is_some() {
        return ttn_v3(&v);
    }
    if v.get("dev_id").is_some_and(Value::is_string)
        && (v.get("payload_fields").is_some() || v.get("payload_raw").is_some())
    {
        return ttn_v2(&v);
    }
    let mut fields = Vec::new();
    match &v {
        Value::Number(_) | Value::Bool(_) => flatten("value", &v, &mut fields),
        _ => flatten("", &v, &mut fields),
    }
    let device = topic.split('/').nth(device_segment).unwrap_or(topic);
    finish(vec![("device".into(), device.to_string())], fields, None)
}

/// Adds receive metadata fields unless the decoded payload already has a field of that name.
fn add_meta(fields: &mut Vec<(String, String)>, meta: Vec<(&str, Option<&Value>)>) {
    for (name, value) in meta {
        let Some(Value::Number(n)) = value else {
            continue;
        };
        if !fields.iter().any(|(k, _)| k == name) {
            fields.push((name.to_string(), number_text(n)));
        }
    }
}

/// The gateway entry with the strongest RSSI.
fn best_gateway<'a>(gateways: &'a [Value], rssi_key: &str) -> Option<&'a Value> {
    gateways
        .iter()
        .filter(|g| g.get(rssi_key).and_then(Value::as_f64).is_some())
        .max_by(|a, b| {
            let (x, y) = (a[rssi_key].as_f64(), b[rssi_key].as_f64());
            x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
        })
}

fn ttn_v3(v: &Value) -> Option<Normalized> {
    let ids = &v["end_device_ids"];
    let device = ids["device_id"].as_str()?;
    let application = ids["application_ids"]["application_id"]
        .as_str()
        .unwrap_or_default();
    // Join accepts, downlink events, … carry no reading.
    let up = v.get("uplink_message")?;
    let mut fields = Vec::new();
    if let Some(d) = up.get("decoded_payload") {
        flatten("", d, &mut fields);
    }
    let gateways = up["rx_metadata"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let best = best_gateway(gateways, "rssi");
    let count = serde_json::Number::from(gateways.len());
    let count = Value::Number(count);
    add_meta(
        &mut fields,
        vec![
            ("rssi", best.and_then(|g| g.get("rssi"))),
            ("snr", best.and_then(|g| g.get("snr"))),
            ("gateways", (!gateways.is_empty()).then_some(&count)),
            ("f_cnt", up.get("f_cnt")),
            ("f_port", up.get("f_port")),
            (
                "spreading_factor",
                up.pointer("/settings/data_rate/lora/spreading_factor"),
            ),
        ],
    );
    let time = v["received_at"]
        .as_str()
        .or_else(|| up["received_at"].as_str())
        .and_then(parse_rfc3339_ns);
    finish(
        vec![
            ("device".into(), device.to_string()),
            ("application".into(), application.to_string()),
        ],
        fields,
        time,
    )
}

fn ttn_v2(v: &Value) -> Option<Normalized> {
    let device = v["dev_id"].as_str()?;
    let application = v["app_id"].as_str().unwrap_or_default();
    let mut fields = Vec::new();
    if let Some(d) = v.get("payload_fields") {
        flatten("", d, &mut fields);
    }
    let gateways = v["metadata"]["gateways"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let best = best_gateway(gateways, "rssi");
    let count = Value::Number(serde_json::Number::from(gateways.len()));
    add_meta(
        &mut fields,
        vec![
            ("rssi", best.and_then(|g| g.get("rssi"))),
            ("snr", best.and_then(|g| g.get("snr"))),
            ("gateways", (!gateways.is_empty()).then_some(&count)),
            ("f_cnt", v.get("counter")),
            ("f_port", v.get("port")),
        ],
    );
    let time = v["metadata"]["time"].as_str().and_then(parse_rfc3339_ns);
    finish(
        vec![
            ("device".into(), device.to_string()),
            ("application".into(), application.to_string()),
        ],
        fields,
        time,
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2020-02-12T15:15:45.123456789Z` (or with `+hh:mm`) → nanoseconds since 1970; `None` when
/// malformed or before 1970.
pub fn parse_rfc3339_ns(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: i64 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let kept = &frac[..digits.min(9)];
        nanos = kept.parse::<i64>().ok()? * 10i64.pow(9 - kept.len() as u32);
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6
            && o.is_ascii()
            && (o.starts_with('+') || o.starts_with('-'))
            && &o[3..4] == ":" =>
        {
            let oh: i64 = o[1..3].parse().ok()?;
            let om: i64 = o[4..6].parse().ok()?;
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    if secs < 0 {
        return None;
    }
    Some(secs as u128 * 1_000_000_000 + nanos as u128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ns("2019-04-29T09:30:00Z"),
            Some(1_556_530_200_000_000_000)
        );
        assert_eq!(
            parse_rfc3339_ns("2019-04-29T11:30:00.5+02:00"),
            Some(1_556_530_200_500_000_000)
        );
        assert_eq!(
            parse_rfc3339_ns("2020-02-29T00:00:00.123456789123Z"),
            Some(1_582_934_400_123_456_789)
        );
        for bad in [
            "",
            "2020-13-01T00:00:00Z",
            "2020-01-01T00:00:00",
            "x020-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_ns(bad), None, "{bad}");
        }
    }

    #[test]
    fn flat_json_keeps_the_topic_device() {
        let n = normalize("sensors/1345963", br#"{"t":21,"ok":true,"s":"x"}"#, 1).unwrap();
        assert_eq!(n.tags, vec![("device".into(), "1345963".into())]);
        assert_eq!(
            n.fields,
            vec![("ok".into(), "true".into()), ("t".into(), "21.0".into())]
        );
        assert_eq!(n.time_ns, None);
    }

    #[test]
    fn ttn_non_uplinks_and_empty_uplinks_are_skipped() {
        let join =
            br#"{"end_device_ids":{"device_id":"dev1"},"join_accept":{"session_key_id":"A"}}"#;
        assert!(normalize("v3/app1@ttn/devices/dev1/join", join, 3).is_none());
        let no_fields = br#"{"end_device_ids":{"device_id":"dev1"},"uplink_message":{}}"#;
        assert!(normalize("v3/app1@ttn/devices/dev1/up", no_fields, 3).is_none());
        let no_id = br#"{"end_device_ids":{},"uplink_message":{"decoded_payload":{"a":1}}}"#;
        assert!(normalize("v3/x/devices/y/up", no_id, 3).is_none());
    }
}
