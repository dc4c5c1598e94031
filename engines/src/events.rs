//! The one event type between the engine and its front ends: the CLI renders it as progress
//! bars and tables, the GUI as overlays on the canvas. Secrets never appear in events.

use std::collections::BTreeMap;

/// A device's state as the front ends show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeviceState {
    Offline,
    Online,
    Downloading { written: u64, total: u64 },
    Installed,
    Configured,
    Running,
    Stopped,
    Uninstalled,
    Failed { reason: String },
    TimedOut,
}

impl DeviceState {
    /// A short lowercase name (`running`, `failed`, …).
    pub fn name(&self) -> &'static str {
        match self {
            DeviceState::Offline => "offline",
            DeviceState::Online => "online",
            DeviceState::Downloading { .. } => "downloading",
            DeviceState::Installed => "installed",
            DeviceState::Configured => "configured",
            DeviceState::Running => "running",
            DeviceState::Stopped => "stopped",
            DeviceState::Uninstalled => "uninstalled",
            DeviceState::Failed { .. } => "failed",
            DeviceState::TimedOut => "timed_out",
        }
    }
}

/// Log severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// What happens during a deployment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DeployEvent {
    /// The plan is about to run: every step id in order.
    PlanStarted {
        instance: String,
        steps: Vec<String>,
        stages: usize,
    },
    StepStarted {
        step: String,
        node: String,
        operation: String,
    },
    /// Coarse progress of a step (e.g. devices answered / listed).
    StepProgress {
        step: String,
        done: u64,
        total: u64,
    },
    StepFinished {
        step: String,
        outputs: BTreeMap<String, String>,
    },
    StepFailed {
        step: String,
        reason: String,
    },
    StepSkipped {
        step: String,
        reason: String,
    },
    StepCancelled {
        step: String,
    },
    DeviceState {
        node: String,
        device: String,
        state: DeviceState,
    },
    Log {
        level: Level,
        node: Option<String>,
        message: String,
    },
    /// A device published telemetry (e.g. SensorPublisher readings).
    Telemetry {
        node: String,
        device: String,
        values: BTreeMap<String, f64>,
    },
    DeploymentFinished {
        instance: String,
        ok: bool,
        summary: String,
    },
}

/// Where drivers and the engine send events. Cloneable; sending never blocks or fails (a
/// front end that went away just stops receiving).
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: tokio::sync::mpsc::UnboundedSender<DeployEvent>,
}

impl EventSink {
    pub fn new() -> (EventSink, tokio::sync::mpsc::UnboundedReceiver<DeployEvent>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (EventSink { tx }, rx)
    }

    pub fn send(&self, e: DeployEvent) {
        let _ = self.tx.send(e);
    }

    pub fn device(&self, node: &str, device: &str, state: DeviceState) {
        self.send(DeployEvent::DeviceState {
            node: node.into(),
            device: device.into(),
            state,
        });
    }

    pub fn log(&self, level: Level, node: Option<&str>, message: impl Into<String>) {
        self.send(DeployEvent::Log {
            level,
            node: node.map(str::to_string),
            message: message.into(),
        });
    }
}
