//! The HomeMatic CCU adapter (D3.5 §5.1: the F4A gateway pulls meter data in intervals over the
//! CCU's XML-RPC API, as eQ-3's HM XML-RPC document describes): `listDevices` gives the devices
//! and their channels; every channel with a `VALUES` paramset is read with
//! `getParamset(channel, "VALUES")`. One reading per device (its serial address), holding the
//! numeric and boolean values of all its channels.
//!
//! Field names: the parameter name (`ENERGY_COUNTER`, `POWER`, `LOWBAT`, …); when two channels of
//! a device have a parameter of the same name, later channels get `_<channel>` appended
//! (`STATE`, `STATE_2`). The device list is re-read every 60 polls and after a failed poll.
//!
//! A CCU with XML-RPC authentication on wants HTTP basic authentication
//! ([`HomeMatic::with_login`]); a 401 is an error naming the CCU URL and the user, never the
//! password.

use super::http::HttpUrl;
use super::xmlrpc::{XmlRpcError, call};
use super::{Reading, Source};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);
const RELIST_EVERY: u32 = 60;

/// A channel with a VALUES paramset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub address: String,
    pub device: String,
    pub index: u32,
}

/// The adapter.
pub struct HomeMatic {
    url: HttpUrl,
    only: Vec<String>,
    channels: Vec<Channel>,
    polls_since_list: u32,
    /// The user name and the `Authorization` header value, when a user is given.
    login: Option<(String, String)>,
}

impl HomeMatic {
    /// `ccu` is the XML-RPC interface URL (e.g. `http://ccu3:2001` for BidCos-RF); `only`
    /// limits polling to these device addresses (empty: every device).
    pub fn new(ccu: &str, only: Vec<String>) -> Result<HomeMatic, String> {
        Ok(HomeMatic {
            url: HttpUrl::parse(ccu).map_err(|e| format!("--ccu {e}"))?,
            only,
            channels: Vec::new(),
            polls_since_list: 0,
            login: None,
        })
    }

    /// Sends HTTP basic authentication as `user` with `password` (for a CCU with XML-RPC
    /// authentication on); `None` sends none.
    pub fn with_login(mut self, login: Option<(String, String)>) -> HomeMatic {
        self.login = login.map(|(user, password)| {
            let raw = format!("{user}:{password}");
            let header = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            );
            (user, header)
        });
        self
    }

    fn authorization(&self) -> Option<&str> {
        self.login.as_ref().map(|(_, h)| h.as_str())
    }

    /// `e` as a message; a refusal names the CCU URL and the user (never the password).
    fn explain(&self, e: XmlRpcError) -> String {
        let XmlRpcError::Unauthorized { status } = e else {
            return e.to_string();
        };
        match &self.login {
            None => format!(
                "HTTP status {status}: the CCU at {} has XML-RPC authentication on; give its \
                 user (ccuUser, --ccu-user) and password (ccuPassword, HOMEMATIC_PASSWORD)",
                self.url.display()
            ),
            Some((user, _)) => format!(
                "HTTP status {status}: the CCU at {} refused user {user:?} (check \
                 ccuUser/ccuPassword)",
                self.url.display()
            ),
        }
    }

    /// For `https://` CCUs: trust the CA certificates in this PEM file instead of the system's.
    pub fn with_ca_file(mut self, ca_file: Option<std::path::PathBuf>) -> HomeMatic {
        self.url = self.url.with_ca_file(ca_file);
        self
    }

    /// Reads the channel list with `listDevices`.
    pub async fn list(&self) -> Result<Vec<Channel>, XmlRpcError> {
        let v = call(&self.url, "listDevices", &[], TIMEOUT, self.authorization()).await?;
        let Value::Array(devices) = v else {
            return Err(XmlRpcError::Malformed(
                "listDevices: expected an array".into(),
            ));
        };
        let mut out = Vec::new();
        for d in devices {
            let address = d["ADDRESS"].as_str().unwrap_or_default();
            let parent = d["PARENT"].as_str().unwrap_or_default();
            let has_values = d["PARAMSETS"]
                .as_array()
                .is_some_and(|p| p.iter().any(|s| s == "VALUES"));
            if parent.is_empty() || !has_values {
                continue;
            }
            if !self.only.is_empty() && !self.only.iter().any(|o| o == parent) {
                continue;
            }
            let index = address
                .rsplit_once(':')
                .and_then(|(_, i)| i.parse().ok())
                .unwrap_or(0);
            out.push(Channel {
                address: address.to_string(),
                device: parent.to_string(),
                index,
            });
        }
        out.sort_by(|a, b| (&a.device, a.index).cmp(&(&b.device, b.index)));
        Ok(out)
    }
}

/// Merges one channel's VALUES into a device's fields (see the module doc for names).
pub fn merge_values(fields: &mut Map<String, Value>, index: u32, values: &Map<String, Value>) {
    for (k, v) in values {
        if !(v.is_number() || v.is_boolean()) {
            continue;
        }
        let key = if fields.contains_key(k) {
            format!("{k}_{index}")
        } else {
            k.clone()
        };
        fields.insert(key, v.clone());
    }
}

impl Source for HomeMatic {
    fn name(&self) -> String {
        match &self.login {
            Some((user, _)) => format!("HomeMatic CCU {} (user {user:?})", self.url.display()),
            None => format!("HomeMatic CCU {}", self.url.display()),
        }
    }

    async fn poll(&mut self) -> Result<Vec<Reading>, String> {
        if self.channels.is_empty() || self.polls_since_list >= RELIST_EVERY {
            self.channels = self
                .list()
                .await
                .map_err(|e| format!("listDevices: {}", self.explain(e)))?;
            self.polls_since_list = 0;
        }
        self.polls_since_list += 1;
        let mut by_device: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        let channels = self.channels.clone();
        for ch in &channels {
            match call(
                &self.url,
                "getParamset",
                &[json!(ch.address), json!("VALUES")],
                TIMEOUT,
                self.authorization(),
            )
            .await
            {
                Ok(Value::Object(values)) => {
                    merge_values(
                        by_device.entry(ch.device.clone()).or_default(),
                        ch.index,
                        &values,
                    );
                }
                // A channel the CCU cannot read now (e.g. unreachable device): skip it.
                Ok(_) | Err(XmlRpcError::Fault { .. }) => {}
                Err(e) => {
                    // Transport or protocol trouble: re-list next time.
                    self.channels.clear();
                    return Err(format!("getParamset {}: {}", ch.address, self.explain(e)));
                }
            }
        }
        Ok(by_device
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(device, values)| Reading { device, values })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_values_merge_with_channel_suffix_on_clash() {
        let mut f = Map::new();
        let ch0 = json!({"UNREACH": false, "RSSI_DEVICE": -65, "CONFIG_PENDING": false});
        let ch1 = json!({"ENERGY_COUNTER": 1234.5, "POWER": 56.7, "UNREACH": true, "BOOT": "x"});
        merge_values(&mut f, 0, ch0.as_object().unwrap());
        merge_values(&mut f, 1, ch1.as_object().unwrap());
        assert_eq!(
            Value::Object(f),
            json!({"UNREACH": false, "RSSI_DEVICE": -65, "CONFIG_PENDING": false,
                   "ENERGY_COUNTER": 1234.5, "POWER": 56.7, "UNREACH_1": true})
        );
    }
}
