//! Simulated unconstrained hosts for `--simulate`: one private network per instance (a bridge
//! and a network namespace per simulated host, `provisio_engines::simnet`). Every Pi and every
//! MICA the topology names (by address) gets its own host there ([`start`]): a Pi stand-in (a
//! real sshd in its namespace, this machine's LXC with its own LXC path) or a MICA emulator
//! whose real LXC containers share its namespace. Containers listen on their usual ports at
//! their host's stand-in address; the embedded broker is forwarded to the bridge so they reach
//! it.

pub mod start;

use super::DeployOptions;
use provisio_engines::engine::driver::{Driver, DriverContext, DriverFuture};
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::simnet::SimNet;
use provisio_model::plan::Step;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Where a simulated instance keeps its stand-ins' and devices' state.
pub fn sim_root(opts: &DeployOptions, instance: &InstanceState) -> PathBuf {
    state_dir(&opts.data_dir, &instance.id)
}

/// `data_dir/simulated/<id>`.
pub fn state_dir(data_dir: &Path, instance_id: &str) -> PathBuf {
    data_dir.join("simulated").join(instance_id)
}

/// The instance's network, when its plan has Pi or MICA steps.
pub fn network(
    keys: &[Option<&'static str>],
    instance: &InstanceState,
) -> Option<Result<SimNet, String>> {
    keys.iter()
        .any(|k| matches!(k, Some("raspberry" | "mica")))
        .then(|| SimNet::ensure(&instance.id))
}

/// Removes the network of a simulated instance (after its undeploy); what still runs in its
/// namespaces ends. Only the network recorded as the instance's own is touched.
pub fn remove_network(instance_id: &str) -> Result<(), String> {
    SimNet::remove_of(instance_id)
}

/// Removes everything this machine holds for the simulated instance `instance_id`: its
/// network (ending what runs there) and its state directory (devices, stand-ins,
/// containers). For a converged undeploy or `undeploy --force` only: a retry needs both.
/// Stop the instance's fleets first (they write into the directory).
pub fn remove_simulated(data_dir: &Path, instance_id: &str) -> Result<(), String> {
    let plain = Path::new(instance_id).components().count() == 1
        && matches!(
            Path::new(instance_id).components().next(),
            Some(Component::Normal(_))
        );
    if !plain {
        return Err(format!("'{instance_id}' is not an instance id"));
    }
    let mut errors = Vec::new();
    if let Err(e) = remove_network(instance_id) {
        errors.push(format!("simulated network: {e}"));
    }
    let dir = state_dir(data_dir, instance_id);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => errors.push(format!("{}: {e}", dir.display())),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// The two kinds of simulated host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A Raspberry Pi: sshd in its namespace, this machine's LXC.
    Pi,
    /// A MICA: the emulator listening in its namespace, real LXC containers.
    Mica,
}

impl Kind {
    /// The kind whose driver key is `key`.
    pub fn of(key: Option<&str>) -> Option<Kind> {
        match key {
            Some("raspberry") => Some(Kind::Pi),
            Some("mica") => Some(Kind::Mica),
            _ => None,
        }
    }

    /// The driver key its steps have.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Pi => "raspberry",
            Kind::Mica => "mica",
        }
    }

    /// How its labels start.
    fn prefix(self) -> &'static str {
        match self {
            Kind::Pi => "pi",
            Kind::Mica => "mica",
        }
    }
}

/// The label of the simulated host of `kind` that stands in for the topology host `host`
/// (`None`: the templates name none): its namespace is `pvn<tag>-<label>`, its state
/// `<root>/hosts/<label>`. Readable (`pi-192_168_0_19`); a host with other characters than
/// letters, digits, `.` and `-`, or a long one, gets a hash of it too, so two hosts never share
/// a label.
pub fn host_label(kind: Kind, host: Option<&str>) -> String {
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return kind.prefix().to_string();
    };
    let clean = provisio_engines::drivers::raspberry::container_name(host);
    let plain = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if plain && clean.len() <= 24 {
        format!("{}-{clean}", kind.prefix())
    } else {
        // FNV-1a: stable across versions (the undeploy of a later version finds the host).
        let hash = host.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let short: String = clean.chars().take(16).collect();
        format!("{}-{short}-{:08x}", kind.prefix(), hash as u32)
    }
}

/// Where the simulated host `label` of an instance keeps its state (`root` = [`sim_root`]): its
/// containers under `lxc/` (both kinds), the Pi's sshd keys and config under `sshd/`.
pub fn host_dir(root: &Path, label: &str) -> PathBuf {
    root.join("hosts").join(label)
}

/// The LXC path of the simulated host `label`: where its containers live.
pub fn host_lxc_path(root: &Path, label: &str) -> PathBuf {
    host_dir(root, label).join("lxc")
}

/// The driver for a simulated host that could not start: every step fails with the reason,
/// so a simulated deploy never falls back to the addresses written in the topology.
pub struct Unavailable(pub String);

/// The driver of one kind of simulated host: each step goes to the driver of the host it runs
/// on (by step id), so containers of two Pis go to two stand-ins.
#[derive(Default)]
pub struct ByStep {
    pub drivers: HashMap<String, Arc<dyn Driver>>,
}

impl Driver for ByStep {
    fn run(&self, step: Step, ctx: DriverContext) -> DriverFuture {
        match self.drivers.get(&step.id) {
            Some(d) => d.run(step, ctx),
            None => Unavailable(format!("no simulated host runs {}", step.id)).run(step, ctx),
        }
    }
}

impl Driver for Unavailable {
    fn run(&self, _step: Step, _ctx: DriverContext) -> DriverFuture {
        let why = self.0.clone();
        Box::pin(async move { Err(why) })
    }
}
