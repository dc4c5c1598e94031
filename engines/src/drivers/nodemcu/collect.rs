//! The pure part of a NodeMCU operation: which devices answered what, when the operation is
//! complete, and its outcome (outputs or a per-device failure table). No I/O: tests feed it
//! messages directly.

use crate::events::DeviceState;
use provisio_model::protocol::{DeviceMessage, Outcome, STATUS_OFFLINE, STATUS_ONLINE};
use std::collections::BTreeMap;

/// What an operation ended with: outputs or the failure reason, warnings, and every device's
/// outcome.
pub type Finished = (
    Result<BTreeMap<String, String>, String>,
    Vec<String>,
    Vec<(String, DeviceOutcome)>,
);

/// The outcome of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceOutcome {
    Ok,
    Failed(String),
    TimedOut,
}

/// Collects answers for one operation.
#[derive(Debug)]
pub struct Collector {
    operation: String,
    listed: Vec<String>,
    answers: BTreeMap<String, DeviceOutcome>,
    unlisted: BTreeMap<String, DeviceOutcome>,
    offline: BTreeMap<String, bool>,
    /// Whether any device uses the status extension (retained online/offline).
    seen_status: bool,
}

/// What a message meant, for events.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub device: String,
    pub state: DeviceState,
}

impl Collector {
    pub fn new(operation: &str, listed: Vec<String>) -> Self {
        Collector {
            operation: operation.to_string(),
            listed,
            answers: BTreeMap::new(),
            unlisted: BTreeMap::new(),
            offline: BTreeMap::new(),
            seen_status: false,
        }
    }

    fn success_state(&self) -> DeviceState {
        match self.operation.as_str() {
            "install" => DeviceState::Installed,
            "configure" => DeviceState::Configured,
            "start" => DeviceState::Running,
            "stop" => DeviceState::Stopped,
            "uninstall" => DeviceState::Uninstalled,
            _ => DeviceState::Online,
        }
    }

    /// A message on the response topic. Malformed messages are ignored (`None`).
    pub fn on_response(&mut self, payload: &[u8]) -> Option<Update> {
        let msg: DeviceMessage = serde_json::from_slice(payload).ok()?;
        match msg {
            DeviceMessage::Response {
                response,
                hardware_id,
            } => {
                let outcome = match Outcome::parse(&response) {
                    Outcome::Success => DeviceOutcome::Ok,
                    // Stopping or removing an app that is not there reached the goal: the
                    // device is already absent (undeploy converges).
                    Outcome::Failed(reason)
                        if reason.starts_with("no app installed")
                            && matches!(self.operation.as_str(), "stop" | "uninstall") =>
                    {
                        DeviceOutcome::Ok
                    }
                    Outcome::Failed(reason) => DeviceOutcome::Failed(reason),
                };
                let state = match &outcome {
                    DeviceOutcome::Ok => self.success_state(),
                    DeviceOutcome::Failed(r) => DeviceState::Failed { reason: r.clone() },
                    DeviceOutcome::TimedOut => DeviceState::TimedOut,
                };
                // The first answer of a device counts (QoS 1 may deliver duplicates).
                let target = if self.listed.contains(&hardware_id) {
                    &mut self.answers
                } else {
                    &mut self.unlisted
                };
                target.entry(hardware_id.clone()).or_insert(outcome);
                Some(Update {
                    device: hardware_id,
                    state,
                })
            }
            DeviceMessage::Progress {
                hardware_id,
                written,
                total,
            } => Some(Update {
                device: hardware_id,
                state: DeviceState::Downloading { written, total },
            }),
        }
    }

    /// A retained status message on `<responseTopic>/status/<id>`.
    pub fn on_status(&mut self, device: &str, payload: &[u8]) -> Option<Update> {
        let text = std::str::from_utf8(payload).ok()?.trim();
        let state = match text {
            STATUS_ONLINE => DeviceState::Online,
            STATUS_OFFLINE => DeviceState::Offline,
            _ => return None,
        };
        self.offline
            .insert(device.to_string(), state == DeviceState::Offline);
        self.seen_status = true;
        // Only interesting for devices that have not answered yet.
        (!self.answers.contains_key(device)).then(|| Update {
            device: device.to_string(),
            state,
        })
    }

    /// Every listed device answered.
    pub fn complete(&self) -> bool {
        self.answers.len() == self.listed.len()
    }

    /// Complete, and no other device can still answer: devices announce themselves with the
    /// retained status extension, and every device that is online has answered. Then the grace
    /// period for unlisted devices is not needed. Devices without the extension keep the grace.
    pub fn settled(&self) -> bool {
        self.complete()
            && self.seen_status
            && self
                .offline
                .iter()
                .filter(|(_, off)| !**off)
                .all(|(d, _)| self.answers.contains_key(d) || self.unlisted.contains_key(d))
    }

    pub fn answered(&self) -> usize {
        self.answers.len()
    }

    pub fn listed(&self) -> &[String] {
        &self.listed
    }

    /// Listed devices that have not answered.
    pub fn missing(&self) -> Vec<String> {
        self.listed
            .iter()
            .filter(|d| !self.answers.contains_key(*d))
            .cloned()
            .collect()
    }

    /// The output parameter name of the operation (`installedDevicesCount`, …).
    pub fn count_name(&self) -> String {
        let past = match self.operation.as_str() {
            "install" => "installed",
            "configure" => "configured",
            "start" => "started",
            "stop" => "stopped",
            "uninstall" => "uninstalled",
            other => other,
        };
        format!("{past}DevicesCount")
    }

    /// Final result: outputs when every listed device succeeded, else a per-device table.
    /// Unlisted answers count in the outputs (as in the thesis) and are listed as warnings.
    pub fn finish(mut self) -> Finished {
        for d in self.missing() {
            self.answers.insert(d, DeviceOutcome::TimedOut);
        }
        let ok_listed = self
            .answers
            .values()
            .filter(|o| **o == DeviceOutcome::Ok)
            .count();
        let ok_unlisted = self
            .unlisted
            .values()
            .filter(|o| **o == DeviceOutcome::Ok)
            .count();
        let warnings: Vec<String> = self
            .unlisted
            .iter()
            .map(|(id, o)| {
                format!(
                    "device {id} answered {} but is not in hardwareIds",
                    describe(o)
                )
            })
            .collect();
        let mut table: Vec<(String, DeviceOutcome)> = self.answers.clone().into_iter().collect();
        table.extend(self.unlisted.clone());
        let outputs = BTreeMap::from([(self.count_name(), (ok_listed + ok_unlisted).to_string())]);
        if ok_listed == self.listed.len() {
            return (Ok(outputs), warnings, table);
        }
        let failures: Vec<String> = self
            .answers
            .iter()
            .filter(|(_, o)| **o != DeviceOutcome::Ok)
            .map(|(id, o)| format!("{id}: {}", describe(o)))
            .collect();
        let offline_note = |id: &str| self.offline.get(id).copied().unwrap_or(false);
        let failures: Vec<String> = failures
            .into_iter()
            .map(|f| {
                let id = f.split(':').next().unwrap_or("");
                if offline_note(id) {
                    format!("{f} (device offline)")
                } else {
                    f
                }
            })
            .collect();
        (
            Err(format!(
                "{} of {} devices succeeded; {}",
                ok_listed,
                self.listed.len(),
                failures.join("; ")
            )),
            warnings,
            table,
        )
    }
}

fn describe(o: &DeviceOutcome) -> String {
    match o {
        DeviceOutcome::Ok => "success".into(),
        DeviceOutcome::Failed(r) => format!("failed: {r}"),
        DeviceOutcome::TimedOut => "no answer (timed out)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(id: &str, r: &str) -> Vec<u8> {
        format!(r#"{{"messageType":"response","response":"{r}","hardwareId":"{id}"}}"#).into_bytes()
    }

    #[test]
    fn all_listed_success_gives_the_count() {
        let mut c = Collector::new("install", vec!["a".into(), "b".into()]);
        assert_eq!(
            c.on_response(&resp("a", "success")).unwrap().state,
            DeviceState::Installed
        );
        assert!(!c.complete());
        c.on_response(&resp("b", "success"));
        c.on_response(&resp("b", "error: late duplicate")); // first answer counts
        assert!(c.complete());
        let (r, w, _) = c.finish();
        assert_eq!(r.unwrap()["installedDevicesCount"], "2");
        assert!(w.is_empty());
    }

    #[test]
    fn no_app_is_already_absent_for_stop_and_uninstall_only() {
        for op in ["stop", "uninstall"] {
            let mut c = Collector::new(op, vec!["a".into()]);
            c.on_response(&resp("a", "error: no app installed"));
            let (r, _, _) = c.finish();
            assert!(r.is_ok(), "{op}: {r:?}");
        }
        let mut c = Collector::new("start", vec!["a".into()]);
        c.on_response(&resp("a", "error: no app installed"));
        assert!(c.finish().0.is_err());
    }

    #[test]
    fn partial_result_is_a_failure_with_the_table() {
        let mut c = Collector::new("install", vec!["a".into(), "b".into(), "c".into()]);
        c.on_response(&resp("a", "success"));
        c.on_response(&resp("b", "error: md5 mismatch"));
        c.on_status("c", b"offline");
        c.on_response(&resp("x", "success"));
        c.on_response(b"garbage");
        let (r, w, table) = c.finish();
        let e = r.unwrap_err();
        assert!(e.contains("1 of 3 devices succeeded"), "{e}");
        assert!(e.contains("b: failed: md5 mismatch"), "{e}");
        assert!(
            e.contains("c: no answer (timed out) (device offline)"),
            "{e}"
        );
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("x answered success but is not in hardwareIds"));
        assert_eq!(table.len(), 4);
    }

    #[test]
    fn settled_only_when_every_online_device_answered() {
        let mut c = Collector::new("start", vec!["a".into()]);
        c.on_response(&resp("a", "success"));
        assert!(
            c.complete() && !c.settled(),
            "no status seen: keep the grace period"
        );
        c.on_status("a", b"online");
        c.on_status("z", b"online");
        assert!(!c.settled(), "z is online and may still answer");
        c.on_response(&resp("z", "success"));
        assert!(c.settled());
        c.on_status("y", b"offline");
        assert!(c.settled(), "offline devices cannot answer");
    }

    #[test]
    fn progress_becomes_downloading() {
        let mut c = Collector::new("install", vec!["a".into()]);
        let u = c
            .on_response(br#"{"messageType":"progress","hardwareId":"a","written":10,"total":100}"#)
            .unwrap();
        assert_eq!(
            u.state,
            DeviceState::Downloading {
                written: 10,
                total: 100
            }
        );
        assert!(!c.complete());
    }
}
