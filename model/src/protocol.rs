//! The NodeMCU device management protocol (thesis figure 4.1, decisions.md): JSON messages over
//! MQTT between the engine (control topic) and the devices (response topic).
//!
//! Field names and values are exact; the Rust device agent, the engine driver and the Arduino
//! library all agree on them (shared fixtures under `firmware/fixtures/protocol/`).

use serde::{Deserialize, Serialize};

/// The exact `response` text of a successful operation.
pub const SUCCESS: &str = "success";
/// Prefix of every failure `response` text: `error: <reason>`.
pub const ERROR_PREFIX: &str = "error: ";
/// The value of the retained status topic while a device is connected.
pub const STATUS_ONLINE: &str = "online";
/// The value of the retained status topic after a device disconnected (its last will).
pub const STATUS_OFFLINE: &str = "offline";
/// The first byte of every ESP8266 firmware image.
pub const ESP8266_MAGIC_BYTE: u8 = 0xE9;

/// A command from the engine to every device listening on the control topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "messageType", rename_all = "lowercase")]
pub enum Command {
    /// Download the binary from `install_url`, check size, MD5 and magic byte, flash, reboot.
    Install {
        #[serde(rename = "installUrl")]
        install_url: String,
        #[serde(rename = "binarySize")]
        binary_size: u64,
        /// Lowercase hex MD5 of the binary.
        hash: String,
    },
    /// Hand the app its configuration text, unchanged (typically JSON).
    Configure {
        #[serde(rename = "appConfig")]
        app_config: String,
    },
    Start,
    Stop,
    Uninstall,
}

impl Command {
    /// The operation name as used on the lifecycle interface and in `messageType`.
    pub fn operation(&self) -> &'static str {
        match self {
            Command::Install { .. } => "install",
            Command::Configure { .. } => "configure",
            Command::Start => "start",
            Command::Stop => "stop",
            Command::Uninstall => "uninstall",
        }
    }
}

/// A message from a device on the response topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "messageType", rename_all = "lowercase")]
pub enum DeviceMessage {
    /// The outcome of the last command: `success` or `error: <reason>`.
    Response {
        response: String,
        #[serde(rename = "hardwareId")]
        hardware_id: String,
    },
    /// Extension (decisions.md): download progress during an install.
    Progress {
        #[serde(rename = "hardwareId")]
        hardware_id: String,
        written: u64,
        total: u64,
    },
}

impl DeviceMessage {
    /// A `success` response from `hardware_id`.
    pub fn success(hardware_id: impl Into<String>) -> Self {
        DeviceMessage::Response {
            response: SUCCESS.to_owned(),
            hardware_id: hardware_id.into(),
        }
    }

    /// An `error: <reason>` response from `hardware_id`.
    pub fn error(hardware_id: impl Into<String>, reason: impl AsRef<str>) -> Self {
        DeviceMessage::Response {
            response: format!("{ERROR_PREFIX}{}", reason.as_ref()),
            hardware_id: hardware_id.into(),
        }
    }

    pub fn hardware_id(&self) -> &str {
        match self {
            DeviceMessage::Response { hardware_id, .. }
            | DeviceMessage::Progress { hardware_id, .. } => hardware_id,
        }
    }
}

/// How the engine reads a `response` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The failure reason: the text after `error: `, or the whole text when it has another form.
    Failed(String),
}

impl Outcome {
    /// Only the exact text `success` is a success; anything else is a failure with its reason.
    pub fn parse(response: &str) -> Self {
        if response == SUCCESS {
            Outcome::Success
        } else {
            Outcome::Failed(
                response
                    .strip_prefix(ERROR_PREFIX)
                    .unwrap_or(response)
                    .to_owned(),
            )
        }
    }
}

/// The retained status topic of one device (extension): `<responseTopic>/status/<hardwareId>`.
pub fn status_topic(response_topic: &str, hardware_id: &str) -> String {
    format!("{response_topic}/status/{hardware_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_json_is_exact() {
        let cmd = Command::Install {
            install_url: "http://10.0.0.1:8080/tok/app.bin".into(),
            binary_size: 12345,
            hash: "0cc175b9c0f1b6a831c399e269772661".into(),
        };
        assert_eq!(
            serde_json::to_string(&cmd).unwrap(),
            r#"{"messageType":"install","installUrl":"http://10.0.0.1:8080/tok/app.bin","binarySize":12345,"hash":"0cc175b9c0f1b6a831c399e269772661"}"#
        );
    }

    #[test]
    fn simple_commands_are_exact() {
        assert_eq!(
            serde_json::to_string(&Command::Start).unwrap(),
            r#"{"messageType":"start"}"#
        );
        assert_eq!(
            serde_json::to_string(&Command::Stop).unwrap(),
            r#"{"messageType":"stop"}"#
        );
        assert_eq!(
            serde_json::to_string(&Command::Uninstall).unwrap(),
            r#"{"messageType":"uninstall"}"#
        );
        let cfg = Command::Configure {
            app_config: r#"{ "interval" : 3000 }"#.into(),
        };
        assert_eq!(
            serde_json::to_string(&cfg).unwrap(),
            r#"{"messageType":"configure","appConfig":"{ \"interval\" : 3000 }"}"#
        );
    }

    #[test]
    fn responses_parse_and_classify() {
        let m: DeviceMessage = serde_json::from_str(
            r#"{"messageType":"response","response":"success","hardwareId":"1345963"}"#,
        )
        .unwrap();
        assert_eq!(m, DeviceMessage::success("1345963"));
        let m: DeviceMessage = serde_json::from_str(
            r#"{"hardwareId":"8797990","response":"error: md5 mismatch","messageType":"response"}"#,
        )
        .unwrap();
        match m {
            DeviceMessage::Response { response, .. } => {
                assert_eq!(
                    Outcome::parse(&response),
                    Outcome::Failed("md5 mismatch".into())
                )
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(Outcome::parse("Success"), Outcome::Failed("Success".into()));
    }

    #[test]
    fn progress_extension() {
        let m = DeviceMessage::Progress {
            hardware_id: "1".into(),
            written: 10,
            total: 20,
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"messageType":"progress","hardwareId":"1","written":10,"total":20}"#
        );
    }

    #[test]
    fn unknown_message_type_is_an_error() {
        assert!(serde_json::from_str::<Command>(r#"{"messageType":"reboot"}"#).is_err());
        assert!(
            serde_json::from_str::<Command>(r#"{"messageType":"install","installUrl":"x"}"#)
                .is_err()
        );
    }
}
