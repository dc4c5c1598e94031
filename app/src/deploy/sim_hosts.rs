//! Simulated unconstrained hosts for `--simulate`: one private network per instance (a bridge
//! and a network namespace per simulated host, `provisio_engines::simnet`), a Raspberry Pi
//! stand-in (a real sshd in its namespace, this machine's LXC) and a MICA emulator whose real
//! LXC containers share its namespace. Containers listen on their usual ports at their host's
//! stand-in address; the embedded broker is forwarded to the bridge so they reach it.

use super::DeployOptions;
use super::sim_connections::HostMap;
use provisio_engines::drivers::raspberry::RaspberryConfig;
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::mica_emulator::{MicaEmulator, MicaOptions};
use provisio_engines::simnet::SimNet;
use provisio_engines::standin::SshdStandIn;
use provisio_model::plan::{Plan, first_host};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

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

/// Records `original` (a template's address list) → `standin` in `hosts` and the device alias
/// (stand-in address → the template's first address) in `aliases`.
fn map_host(
    hosts: &mut HostMap,
    aliases: &mut BTreeMap<String, String>,
    original: &str,
    standin_host: &str,
    standin_address: &str,
) {
    let first = serde_json::from_str::<Vec<String>>(original)
        .ok()
        .and_then(|l| l.into_iter().next())
        .unwrap_or_else(|| original.to_string());
    if let Some(h) = first_host(original) {
        hosts.insert(h, standin_host.to_string());
    }
    aliases.insert(standin_address.to_string(), first);
}

/// A stand-in host: its address on the simulated network and the address its driver uses.
struct StandIn {
    host: String,
    address: String,
}

/// Points the steps of driver `key` at `standin`: `addresses` (recorded in `hosts` and
/// `aliases`), and every input `value` names (credentials, pins).
fn point_steps(
    plan: &mut Plan,
    keys: &[Option<&'static str>],
    key: &str,
    standin: &StandIn,
    hosts: &mut HostMap,
    aliases: &mut BTreeMap<String, String>,
    value: impl Fn(&str) -> Option<String>,
) {
    let addresses = serde_json::to_string(&[&standin.address]).unwrap_or_default();
    for (step, k) in plan.steps.iter_mut().zip(keys) {
        if *k != Some(key) {
            continue;
        }
        for i in &mut step.inputs {
            if i.name == "addresses" {
                map_host(hosts, aliases, &i.value, &standin.host, &standin.address);
                i.value = addresses.clone();
            } else if let Some(v) = value(&i.name) {
                i.value = v;
            }
        }
    }
}

/// The Raspberry Pi stand-in: sshd in the namespace `pi`, the steps' addresses and user
/// pointed at it, and a driver that trusts exactly its host key.
pub fn start_pi(
    plan: &mut Plan,
    keys: &[Option<&'static str>],
    net: &SimNet,
    root: &std::path::Path,
    hosts: &mut HostMap,
    aliases: &mut BTreeMap<String, String>,
) -> Result<Option<(SshdStandIn, RaspberryConfig)>, String> {
    if !keys.contains(&Some("raspberry")) {
        return Ok(None);
    }
    let host = net.add_host("pi")?;
    let sshd = SshdStandIn::start_in(&root.join("pi-sshd"), &host)?;
    let lxc_path = root.join("lxc");
    std::fs::create_dir_all(&lxc_path).map_err(|e| format!("{}: {e}", lxc_path.display()))?;
    let standin = StandIn {
        host: host.ip.to_string(),
        address: sshd.address(),
    };
    point_steps(plan, keys, "raspberry", &standin, hosts, aliases, |name| {
        (name == "userName").then(|| "root".to_string())
    });
    let config = RaspberryConfig {
        host_keys: provisio_engines::drivers::ssh::HostKeys::Pinned(vec![
            sshd.host_fingerprint.clone(),
        ]),
        key: Some(sshd.client_key.clone()),
        lxc_path: lxc_path.display().to_string(),
        default_config: provisio_engines::standin::standin_lxc_config(&root.join("pi-sshd"))?,
        timeout: Duration::from_secs(120),
    };
    Ok(Some((sshd, config)))
}

/// The MICA stand-in: the emulator listening at the namespace `mica`'s address,
/// running its containers with LXC in that namespace; the steps' addresses, credentials and
/// pinned certificates pointed at it.
pub async fn start_mica(
    plan: &mut Plan,
    keys: &[Option<&'static str>],
    net: &SimNet,
    root: &std::path::Path,
    hosts: &mut HostMap,
    aliases: &mut BTreeMap<String, String>,
) -> Result<Option<MicaEmulator>, String> {
    if !keys.contains(&Some("mica")) {
        return Ok(None);
    }
    let host = net.add_host("mica")?;
    let options = MicaOptions {
        lxc: true,
        host: Some(host.clone()),
        // A free port, so a second emulator (an undeploy while a watching deploy runs) fits.
        listen: Some((host.ip, 0).into()),
    };
    let emu =
        MicaEmulator::start_with("admin", "simulated", root.join("mica"), 8 << 30, options).await?;
    let certs = serde_json::to_string(std::slice::from_ref(&emu.cert_pem)).unwrap_or_default();
    let standin = StandIn {
        host: host.ip.to_string(),
        address: emu.url(),
    };
    point_steps(
        plan,
        keys,
        "mica",
        &standin,
        hosts,
        aliases,
        |name| match name {
            "certificates" => Some(certs.clone()),
            "userName" => Some("admin".into()),
            "userPassword" => Some("simulated".into()),
            _ => None,
        },
    );
    Ok(Some(emu))
}

/// The driver for a simulated host that could not start: every step fails with the reason,
/// so a simulated deploy never falls back to the addresses written in the topology.
pub struct Unavailable(pub String);

impl provisio_engines::engine::driver::Driver for Unavailable {
    fn run(
        &self,
        _step: provisio_model::plan::Step,
        _ctx: provisio_engines::engine::driver::DriverContext,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<provisio_engines::engine::executor::Outputs, String>,
                > + Send,
        >,
    > {
        let why = self.0.clone();
        Box::pin(async move { Err(why) })
    }
}
