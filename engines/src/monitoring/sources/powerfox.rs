//! The powerfox adapter (D3.5 §5.2: an online REST source, no gateway): for each device id
//! (`main` is the account's main poweropti) `GET <api>/my/<id>/current` with HTTP basic
//! authentication, answering e.g. `{"Outdated":false,"Watt":350,"Timestamp":1588346453,
//! "A_Plus":1234.5,"A_Minus":0.0}`. The numeric values become the reading (without `Timestamp`);
//! an `Outdated` answer is skipped. Credentials are never printed.

use super::http::{HttpUrl, request};
use super::{Reading, Source};
use base64::Engine as _;
use serde_json::{Map, Value};
use std::time::Duration;

/// The adapter.
pub struct Powerfox {
    api: HttpUrl,
    devices: Vec<String>,
    auth: Option<String>,
}

impl Powerfox {
    /// `api` is the API root, e.g. `https://backend.powerfox.energy/api/2.0`; `devices` empty means `main`.
    pub fn new(
        api: &str,
        devices: Vec<String>,
        user: Option<String>,
        password: Option<String>,
    ) -> Result<Powerfox, String> {
        let api = HttpUrl::parse(api).map_err(|e| format!("--api {e}"))?;
        let devices = if devices.is_empty() {
            vec!["main".to_string()]
        } else {
            devices
        };
        if let Some(bad) = devices.iter().find(|d| {
            d.is_empty()
                || !d
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }) {
            return Err(format!("device id {bad:?}: letters, digits, - and _ only"));
        }
        let auth = user.map(|u| {
            let raw = format!("{u}:{}", password.unwrap_or_default());
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        });
        Ok(Powerfox { api, devices, auth })
    }
}

impl Powerfox {
    /// Trust the CA certificates in this PEM file instead of the system's (for https).
    pub fn with_ca_file(mut self, ca_file: Option<std::path::PathBuf>) -> Powerfox {
        self.api = self.api.with_ca_file(ca_file);
        self
    }
}

/// The reading in one `current` answer, or `None` when it is outdated or holds no number.
pub fn reading_from(device: &str, answer: &Value) -> Option<Reading> {
    let m = answer.as_object()?;
    if m.get("Outdated").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let values: Map<String, Value> = m
        .iter()
        .filter(|(k, v)| v.is_number() && k.as_str() != "Timestamp")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!values.is_empty()).then(|| Reading {
        device: device.to_string(),
        values,
    })
}

impl Source for Powerfox {
    fn name(&self) -> String {
        format!("powerfox {}", self.api.display())
    }

    async fn poll(&mut self) -> Result<Vec<Reading>, String> {
        let mut out = Vec::new();
        for d in &self.devices {
            let url = self.api.join(&format!("my/{d}/current"));
            let mut headers = vec![("accept", "application/json".to_string())];
            if let Some(a) = &self.auth {
                headers.push(("authorization", a.clone()));
            }
            let (status, body) =
                request(&url, "GET", &headers, Vec::new(), Duration::from_secs(10)).await?;
            match status {
                200 => {}
                401 | 403 => {
                    return Err(format!(
                        "{d}: HTTP {status} (check POWERFOX_USER / POWERFOX_PASSWORD)"
                    ));
                }
                s => return Err(format!("{d}: HTTP status {s}")),
            }
            let v: Value = serde_json::from_slice(&body)
                .map_err(|e| format!("{d}: answer is not JSON: {e}"))?;
            out.extend(reading_from(d, &v));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn current_answers() {
        let r = reading_from(
            "main",
            &json!({"Outdated":false,"Watt":350,"Timestamp":1588346453,"A_Plus":1234.5,"A_Minus":0.0}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(r.values),
            json!({"Watt":350,"A_Plus":1234.5,"A_Minus":0.0})
        );
        assert!(reading_from("main", &json!({"Outdated":true,"Watt":1})).is_none());
        assert!(reading_from("main", &json!([1])).is_none());
    }
}
