//! Which of Provisio's drivers runs a node type's lifecycle operations, and what each driver
//! needs from the model (inputs, a deployment artifact). Pure knowledge shared by validation
//! (which predicts deploy failures) and the engine (which picks the driver).

use crate::QName;
use crate::library::Library;
use crate::tosca::TypeKind;

/// A driver of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    /// NodeMCU (ESP8266) apps over MQTT with the thesis' management protocol.
    NodeMcu,
    /// Raspberry Pi over SSH: the OS node (installs LXC) and LXC containers.
    Raspberry,
    /// MICA gateways over JSON-RPC/HTTPS: containers.
    Mica,
}

impl DriverKind {
    /// The registry key the engine uses.
    pub fn key(self) -> &'static str {
        match self {
            DriverKind::NodeMcu => "nodemcu",
            DriverKind::Raspberry => "raspberry",
            DriverKind::Mica => "mica",
        }
    }

    /// Inputs the driver refuses to run without (per operation).
    pub fn required_inputs(self, _operation: &str, os_node: bool) -> &'static [&'static str] {
        match self {
            DriverKind::NodeMcu => &[
                "pubSubServer",
                "controlTopic",
                "responseTopic",
                "hardwareIds",
            ],
            DriverKind::Raspberry if os_node => &["addresses"],
            DriverKind::Raspberry => &["addresses"],
            DriverKind::Mica => &["addresses", "certificates"],
        }
    }

    /// Whether `install` needs a deployment artifact (firmware image or container root file
    /// system). The Raspbian OS node installs LXC itself and needs none.
    pub fn install_needs_artifact(self, os_node: bool) -> bool {
        !(self == DriverKind::Raspberry && os_node)
    }

    /// What the artifact is, for messages.
    pub fn artifact_noun(self) -> &'static str {
        match self {
            DriverKind::NodeMcu => "a firmware image (.bin)",
            DriverKind::Raspberry | DriverKind::Mica => "a container root file system (.tar.gz)",
        }
    }

    /// Lifecycle operations the driver implements.
    pub fn supports(self, operation: &str) -> bool {
        // Every driver: MICA's configure writes the container's /etc/provisio files only.
        let _ = self;
        matches!(
            operation,
            "install" | "configure" | "start" | "stop" | "uninstall"
        )
    }
}

/// The driver for a node type, from its DerivedFrom chain's local names.
pub fn driver_kind(lib: &Library, node_type: &QName) -> Option<DriverKind> {
    for q in lib.ancestry(TypeKind::NodeType, node_type) {
        match q.local.as_str() {
            "NodeMCU_App" => return Some(DriverKind::NodeMcu),
            "LXContainerRaspberryPi" | "RaspbianStretchLXC" => return Some(DriverKind::Raspberry),
            "LXContainerMICA" => return Some(DriverKind::Mica),
            _ => {}
        }
    }
    None
}

/// Whether the node type is the Raspberry Pi's OS node (installs LXC, runs no container).
pub fn is_os_node(node_type: &QName) -> bool {
    node_type.local.contains("Raspbian")
}
