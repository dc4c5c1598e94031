//! What the driver tests against real stand-ins (sshd Pis, LXC, the MICA emulator) build their
//! calls from: a plan step with its inputs, a driver context, a served artifact, a gzipped
//! root file system, and the Raspberry Pi driver's configuration for one sshd stand-in.
#![allow(dead_code)]

use provisio_engines::drivers::raspberry::RaspberryConfig;
use provisio_engines::drivers::ssh::HostKeys;
use provisio_engines::engine::driver::{DriverContext, ServedArtifact};
use provisio_engines::events::{DeployEvent, EventSink};
use provisio_engines::standin::SshdStandIn;
use provisio_model::QName;
use provisio_model::plan::{InputSource, ResolvedInput, Step};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

/// An input of the step's own; secret when its name says password.
pub fn input(name: &str, value: impl Into<String>) -> ResolvedInput {
    ResolvedInput {
        name: name.into(),
        value: value.into(),
        source: InputSource::Own,
        secret: name.contains("assword"),
    }
}

/// `inputs` as the step's own (see [`input`]).
pub fn inputs(inputs: &[(&str, String)]) -> Vec<ResolvedInput> {
    inputs.iter().map(|(n, v)| input(n, v.clone())).collect()
}

/// The lifecycle operation `op` of `node` (a Provisio node type) with `inputs`.
pub fn step(node: &str, node_type: &str, op: &str, inputs: Vec<ResolvedInput>) -> Step {
    Step {
        id: format!("{node}.{op}"),
        node: node.into(),
        node_type: QName::new("http://provisio.dev/tosca/nodetypes", node_type),
        interface: "http://opentosca.org/interfaces/lifecycle".into(),
        operation: op.into(),
        inputs,
        outputs: vec![],
        artifacts: vec![],
        deps: vec![],
        stage: 0,
    }
}

/// A driver context serving `artifacts`, and the receiver of its events.
pub fn ctx_with_events(
    artifacts: impl IntoIterator<Item = ServedArtifact>,
) -> (DriverContext, UnboundedReceiver<DeployEvent>) {
    let (events, rx) = EventSink::new();
    let ctx = DriverContext {
        events,
        cancel: CancellationToken::new(),
        artifacts: artifacts.into_iter().collect(),
    };
    (ctx, rx)
}

/// A driver context serving `artifacts` (its events go nowhere).
pub fn ctx(artifacts: impl IntoIterator<Item = ServedArtifact>) -> DriverContext {
    ctx_with_events(artifacts).0
}

/// `bytes` served as the file `file_name` of the deployment artifact `name`.
pub fn served(name: &str, file_name: &str, bytes: Vec<u8>) -> ServedArtifact {
    ServedArtifact {
        name: name.into(),
        file_name: file_name.into(),
        url: String::new(),
        size: bytes.len() as u64,
        md5: provisio_engines::artifact_server::md5_hex(&bytes),
        bytes: Arc::new(bytes),
    }
}

/// Creates the folder `root` with the subfolders `dirs`; returns `root`.
pub fn root_dirs(root: &Path, dirs: &[&str]) -> std::path::PathBuf {
    for d in dirs {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    root.to_path_buf()
}

/// `root` packed as the gzipped tarball `out` (numeric owners); its bytes.
pub fn tar_gz(root: &Path, out: &Path) -> Vec<u8> {
    assert!(
        Command::new("tar")
            .arg("--numeric-owner")
            .arg("-czf")
            .arg(out)
            .arg("-C")
            .arg(root)
            .arg(".")
            .status()
            .unwrap()
            .success(),
        "tar {}",
        root.display()
    );
    std::fs::read(out).unwrap()
}

/// The Raspberry Pi driver's configuration for `pi` (its host key pinned, its client key),
/// with containers under `lxc_path`.
pub fn pi_config(pi: &SshdStandIn, lxc_path: &Path, default_config: String) -> RaspberryConfig {
    RaspberryConfig {
        host_keys: HostKeys::Pinned(vec![pi.host_fingerprint.clone()]),
        key: Some(pi.client_key.clone()),
        lxc_path: lxc_path.display().to_string(),
        default_config,
        timeout: Duration::from_secs(60),
    }
}
