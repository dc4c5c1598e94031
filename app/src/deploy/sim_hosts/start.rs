//! Starting the simulated hosts a plan uses: one per kind (Pi, MICA) and topology host (the
//! first host of a template's `addresses`; templates naming the same host share it), each in
//! a namespace of its own on the instance's network with its own sshd stand-in or MICA
//! emulator and its own LXC path. Only hosts with steps in the plan start. The steps are
//! pointed at their host's stand-in, and the address map records each topology host's
//! stand-in; a host that cannot start fails its own steps (and only those).

use super::{ByStep, Kind, Unavailable, host_dir, host_label, host_lxc_path};
use crate::deploy::sim_connections::{HostMap, map_template};
use provisio_engines::drivers::mica::MicaDriver;
use provisio_engines::drivers::raspberry::{RaspberryConfig, RaspberryDriver};
use provisio_engines::drivers::ssh::HostKeys;
use provisio_engines::engine::driver::Driver;
use provisio_engines::events::{EventSink, Level};
use provisio_engines::mica_emulator::{MicaEmulator, MicaOptions};
use provisio_engines::simnet::{SimHost, SimNet};
use provisio_engines::standin::SshdStandIn;
use provisio_model::plan::{Plan, first_host};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One simulated host a plan uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPlan {
    pub kind: Kind,
    /// The topology host it stands in for (`None`: its steps name none).
    pub host: Option<String>,
    /// Its steps (indices into the plan).
    pub steps: Vec<usize>,
    /// The `addresses` values of its steps, as the topology wrote them.
    pub addresses: Vec<String>,
    /// The one shared host of its kind of an instance deployed before each Pi and MICA had
    /// its own (its state where that version kept it), until the instance is undeployed.
    pub legacy: bool,
}

impl HostPlan {
    /// Its label ([`host_label`]).
    pub fn label(&self) -> String {
        if self.legacy {
            // The namespace that version made (`pvn<tag>-pi`, `-mica`).
            return host_label(self.kind, None);
        }
        host_label(self.kind, self.host.as_deref())
    }

    /// Its state directory: a Pi's sshd keys and config, a MICA's emulator storage.
    pub fn state(&self, root: &Path) -> PathBuf {
        match (self.legacy, self.kind) {
            (true, Kind::Pi) => root.join("pi-sshd"),
            (true, Kind::Mica) => root.join("mica"),
            (false, Kind::Pi) => host_dir(root, &self.label()).join("sshd"),
            (false, Kind::Mica) => host_dir(root, &self.label()),
        }
    }

    /// Where its containers live.
    pub fn lxc_path(&self, root: &Path) -> PathBuf {
        match (self.legacy, self.kind) {
            (true, Kind::Pi) => root.join("lxc"),
            (true, Kind::Mica) => root.join("mica").join("lxc"),
            (false, _) => host_lxc_path(root, &self.label()),
        }
    }

    /// How it is named in messages.
    pub fn describe(&self) -> String {
        let what = match self.kind {
            Kind::Pi => "Raspberry Pi",
            Kind::Mica => "MICA",
        };
        match &self.host {
            Some(h) => format!("simulated {what} {h}"),
            None => format!("simulated {what}"),
        }
    }
}

/// The simulated hosts the steps of `plan` run on (`keys` = each step's driver key), in a
/// fixed order (by kind, then host).
pub fn plan_hosts(plan: &Plan, keys: &[Option<&'static str>]) -> Vec<HostPlan> {
    let mut out: BTreeMap<(Kind, Option<String>), HostPlan> = BTreeMap::new();
    for (i, (step, key)) in plan.steps.iter().zip(keys).enumerate() {
        let Some(kind) = Kind::of(*key) else {
            continue;
        };
        let addresses = step.input("addresses");
        let host = addresses.and_then(first_host);
        let p = out.entry((kind, host.clone())).or_insert_with(|| HostPlan {
            kind,
            host,
            steps: Vec::new(),
            addresses: Vec::new(),
            legacy: false,
        });
        p.steps.push(i);
        if let Some(a) = addresses
            && !p.addresses.iter().any(|x| x == a)
        {
            p.addresses.push(a.to_string());
        }
    }
    out.into_values().collect()
}

/// [`plan_hosts`] for the instance whose state is under `root`: a kind whose state is where a
/// version before per-host stand-ins kept it (`root/pi-sshd`, `root/mica/lxc`) has
/// its containers on one shared host, so all its templates share that host again.
pub fn plan_hosts_in(plan: &Plan, keys: &[Option<&'static str>], root: &Path) -> Vec<HostPlan> {
    let legacy = |kind| match kind {
        // Files only that version's stand-ins wrote (not a device group's folder of that name).
        Kind::Pi => root.join("pi-sshd").join("sshd_config").is_file(),
        Kind::Mica => root.join("mica").join("lxc").is_dir(),
    };
    let mut out: Vec<HostPlan> = Vec::new();
    for h in plan_hosts(plan, keys) {
        if !legacy(h.kind) {
            out.push(h);
            continue;
        }
        match out.iter_mut().find(|o| o.legacy && o.kind == h.kind) {
            Some(shared) => {
                shared.steps.extend(h.steps);
                for a in h.addresses {
                    if !shared.addresses.contains(&a) {
                        shared.addresses.push(a);
                    }
                }
            }
            None => out.push(HostPlan {
                host: None,
                legacy: true,
                ..h
            }),
        }
    }
    out
}

/// Where a started host is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    /// Its address on the simulated network (what topology hosts map to).
    pub ip: String,
    /// The address its driver uses (`ip:port` of the sshd, the emulator's URL).
    pub address: String,
}

/// Points the steps of `host` at `at`: their `addresses`, and every input `value` names
/// (credentials, pins). Records its topology hosts in `hosts` and the device alias (stand-in
/// address → the first address the topology wrote) in `aliases`.
pub fn point(
    plan: &mut Plan,
    host: &HostPlan,
    at: &Reached,
    hosts: &mut HostMap,
    aliases: &mut BTreeMap<String, String>,
    value: impl Fn(&str) -> Option<String>,
) {
    let addresses = serde_json::to_string(&[&at.address]).unwrap_or_default();
    for &i in &host.steps {
        for input in &mut plan.steps[i].inputs {
            if input.name == "addresses" {
                input.value = addresses.clone();
            } else if let Some(v) = value(&input.name) {
                input.value = v;
            }
        }
    }
    for a in &host.addresses {
        map_template(hosts, a, &at.ip);
    }
    if let Some(a) = host.addresses.first() {
        let first = serde_json::from_str::<Vec<String>>(a)
            .ok()
            .and_then(|l| l.into_iter().next())
            .unwrap_or_else(|| a.clone());
        aliases.insert(at.address.clone(), first);
    }
}

/// What the simulated hosts give the run.
#[derive(Default)]
pub struct Started {
    /// The driver of each kind with steps (`raspberry`, `mica`): per step, its host's.
    pub drivers: Vec<(&'static str, ByStep)>,
    /// Their sshds and emulators: they stop when dropped.
    pub stand_ins: Vec<Box<dyn std::any::Any + Send>>,
    /// Topology host → its stand-in's address.
    pub hosts: HostMap,
    /// Stand-in address → the topology's device address.
    pub aliases: BTreeMap<String, String>,
}

/// How a host's steps' other inputs change (name → new value).
type Values = Box<dyn Fn(&str) -> Option<String> + Send>;

/// A host that started: where it is reached, its driver, what keeps it running, and how its
/// steps' other inputs change.
struct Up {
    reached: Reached,
    driver: Arc<dyn Driver>,
    keep: Box<dyn std::any::Any + Send>,
    values: Values,
    said: String,
}

/// Starts the hosts `plan` uses on `net`, their state under `root` (the instance's
/// `data_dir/simulated/<id>`), and points the steps at them. Pis start side by side.
pub async fn start(
    plan: &mut Plan,
    keys: &[Option<&'static str>],
    net: &SimNet,
    root: &Path,
    events: &EventSink,
) -> Started {
    let wanted = plan_hosts_in(plan, keys, root);
    let mut pending = Vec::new();
    for h in &wanted {
        let (net, label) = (net.clone(), h.label());
        let (state, lxc) = (h.state(root), h.lxc_path(root));
        pending.push(match h.kind {
            Kind::Pi => tokio::task::spawn_blocking(move || start_pi(&net, &label, &state, &lxc)),
            Kind::Mica => tokio::task::spawn_blocking(move || {
                let host = net.add_host(&label).map_err(|e| (e, None))?;
                Ok(Pending::Mica(host))
            }),
        });
    }
    let mut out = Started::default();
    let mut drivers: BTreeMap<&'static str, ByStep> = BTreeMap::new();
    for (h, task) in wanted.iter().zip(pending) {
        let got = match task.await {
            Ok(Ok(Pending::Pi(up))) => Ok(up),
            Ok(Ok(Pending::Mica(host))) => start_mica(&host, &h.state(root))
                .await
                .map_err(|e| (e, Some(host.ip.to_string()))),
            Ok(Err(e)) => Err(e),
            Err(e) => Err((format!("{e}"), None)),
        };
        let by_step = drivers.entry(h.kind.key()).or_default();
        match got {
            Ok(up) => {
                events.log(Level::Info, None, format!("{}: {}", h.describe(), up.said));
                point(
                    plan,
                    h,
                    &up.reached,
                    &mut out.hosts,
                    &mut out.aliases,
                    up.values,
                );
                for &i in &h.steps {
                    by_step
                        .drivers
                        .insert(plan.steps[i].id.clone(), up.driver.clone());
                }
                out.stand_ins.push(up.keep);
            }
            Err((e, ip)) => {
                let why = format!("no {}: {e}", h.describe());
                events.log(Level::Error, None, why.clone());
                // Its steps and what names this host point at its namespace (where nothing
                // answers) or, without one, the bridge's unused address: never at the
                // topology's address, nor at loopback (where a local service may answer).
                let ip = ip.unwrap_or_else(|| net.nowhere().to_string());
                let at = Reached {
                    address: ip.clone(),
                    ip,
                };
                point(plan, h, &at, &mut out.hosts, &mut out.aliases, |_| None);
                let failed: Arc<dyn Driver> = Arc::new(Unavailable(why));
                for &i in &h.steps {
                    by_step
                        .drivers
                        .insert(plan.steps[i].id.clone(), failed.clone());
                }
            }
        }
    }
    out.drivers = drivers.into_iter().collect();
    out
}

/// A host half started off the runtime: a Pi fully, a MICA up to its namespace.
enum Pending {
    Pi(Up),
    Mica(SimHost),
}

/// The Pi stand-in `label`: sshd in its namespace (keys and config in `state`), containers in
/// `lxc_path`, a driver that trusts exactly its host key and logs in as root.
fn start_pi(
    net: &SimNet,
    label: &str,
    state: &Path,
    lxc_path: &Path,
) -> Result<Pending, (String, Option<String>)> {
    let host = net.add_host(label).map_err(|e| (e, None))?;
    let fail = |e: String| (e, Some(host.ip.to_string()));
    let sshd = SshdStandIn::start_in(state, &host).map_err(fail)?;
    std::fs::create_dir_all(lxc_path).map_err(|e| fail(format!("{}: {e}", lxc_path.display())))?;
    let config = RaspberryConfig {
        host_keys: HostKeys::Pinned(vec![sshd.host_fingerprint.clone()]),
        key: Some(sshd.client_key.clone()),
        lxc_path: lxc_path.display().to_string(),
        default_config: provisio_engines::standin::standin_lxc_config(state).map_err(fail)?,
        timeout: Duration::from_secs(120),
    };
    Ok(Pending::Pi(Up {
        reached: Reached {
            ip: host.ip.to_string(),
            address: sshd.address(),
        },
        driver: Arc::new(RaspberryDriver { config }),
        said: format!(
            "sshd on {} (host key {})",
            sshd.address(),
            sshd.host_fingerprint
        ),
        keep: Box::new(sshd),
        values: Box::new(|name| (name == "userName").then(|| "root".to_string())),
    }))
}

/// The MICA emulator of `host`: listening at its address (a free port, so a second emulator,
/// an undeploy while a watching deploy runs, fits), its containers under `<dir>/lxc` run with
/// LXC in its namespace.
async fn start_mica(host: &SimHost, dir: &Path) -> Result<Up, String> {
    let options = MicaOptions {
        lxc: true,
        host: Some(host.clone()),
        listen: Some((host.ip, 0).into()),
    };
    let emu =
        MicaEmulator::start_with("admin", "simulated", dir.to_path_buf(), 8 << 30, options).await?;
    let certs = serde_json::to_string(std::slice::from_ref(&emu.cert_pem)).unwrap_or_default();
    Ok(Up {
        reached: Reached {
            ip: host.ip.to_string(),
            address: emu.url(),
        },
        driver: Arc::new(MicaDriver::default()),
        said: format!("emulator on {}", emu.url()),
        keep: Box::new(emu),
        values: Box::new(move |name| match name {
            "certificates" => Some(certs.clone()),
            "userName" => Some("admin".into()),
            "userPassword" => Some("simulated".into()),
            _ => None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use provisio_model::plan::CONNECTIONS_INPUT;

    /// Two Pis of the fixture (three templates, two addresses): two hosts; each container's
    /// addresses, connections document and the address map point at its own host's stand-in.
    #[test]
    fn each_pi_of_a_plan_gets_its_own_host() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/two_pis.tosca");
        let loaded = crate::library::open_with_builtin(&path).unwrap();
        let st = loaded.library.service_templates()[0].1.clone();
        let mut inputs = BTreeMap::new();
        crate::deploy::simulate::fill_missing_inputs(&loaded.library, &st, &mut inputs, false);
        let mut plan =
            provisio_model::plan::build_deploy_plan(&loaded.library, &st, &inputs).unwrap();
        let keys = provisio_engines::engine::driver::driver_keys(&loaded.library, &plan);
        let wanted = plan_hosts(&plan, &keys);
        let described: Vec<_> = wanted.iter().map(|h| (h.label(), h.describe())).collect();
        assert_eq!(
            described,
            [
                (
                    "pi-192_168_0_19".to_string(),
                    "simulated Raspberry Pi 192.168.0.19".to_string()
                ),
                (
                    "pi-192_168_0_21".to_string(),
                    "simulated Raspberry Pi 192.168.0.21".to_string()
                ),
            ]
        );
        let nodes = |h: &HostPlan| {
            let mut n: Vec<_> = h
                .steps
                .iter()
                .map(|&i| plan.steps[i].node.clone())
                .collect();
            n.dedup();
            n.sort();
            n.dedup();
            n
        };
        assert_eq!(
            nodes(&wanted[0]),
            ["BrokerA", "BrokerA2", "PiOsA", "PiOsA2"]
        );
        assert_eq!(nodes(&wanted[1]), ["BrokerB", "PiOsB"]);
        let (mut hosts, mut aliases) = (HostMap::new(), BTreeMap::new());
        for (h, n) in wanted.iter().zip([2, 3]) {
            let at = Reached {
                ip: format!("10.1.2.{n}"),
                address: format!("10.1.2.{n}:2222"),
            };
            point(&mut plan, h, &at, &mut hosts, &mut aliases, |name| {
                (name == "userName").then(|| "root".to_string())
            });
        }
        assert_eq!(
            hosts,
            BTreeMap::from([
                ("192.168.0.19".to_string(), "10.1.2.2".to_string()),
                ("192.168.0.21".to_string(), "10.1.2.3".to_string()),
            ])
        );
        assert_eq!(
            aliases,
            BTreeMap::from([
                ("10.1.2.2:2222".to_string(), "192.168.0.19".to_string()),
                ("10.1.2.3:2222".to_string(), "192.168.0.21".to_string()),
            ])
        );
        crate::deploy::sim_connections::rewrite(&mut plan, &keys, &hosts, None).unwrap();
        let mut seen = BTreeMap::new();
        for s in &plan.steps {
            let (ip, port) = match s.node.as_str() {
                "BrokerA" | "BrokerA2" | "PiOsA" | "PiOsA2" => ("10.1.2.2", "10.1.2.2:2222"),
                "BrokerB" | "PiOsB" => ("10.1.2.3", "10.1.2.3:2222"),
                _ => continue,
            };
            assert_eq!(
                s.input("addresses"),
                Some(&*format!("[\"{port}\"]")),
                "{}",
                s.id
            );
            assert_eq!(s.input("userName"), Some("root"), "{}", s.id);
            if let Some(c) = s.input(CONNECTIONS_INPUT) {
                let v: serde_json::Value = serde_json::from_str(c).unwrap();
                assert_eq!(v["host"], ip, "{}: {c}", s.id);
                let own = format!("[\"{ip}\"]");
                assert_eq!(v["properties"]["addresses"], own.as_str(), "{}: {c}", s.id);
                seen.insert(s.node.clone(), ip);
            }
        }
        assert_eq!(
            seen.len(),
            3,
            "every container has a connections document: {seen:?}"
        );
    }
}

#[cfg(test)]
mod mixed_tests {
    use super::*;

    /// The thesis scenario: one Pi and one MICA, each a host of its own, labelled by address.
    #[test]
    fn a_pi_and_a_mica_are_two_hosts() {
        let loaded = crate::library::builtin_loaded();
        let q = provisio_model::QName::new(provisio_assets::SERVICE_TEMPLATES_NS, "ThesisScenario");
        let st = loaded.library.service_template(&q).cloned().unwrap();
        let mut inputs = BTreeMap::new();
        crate::deploy::simulate::fill_missing_inputs(&loaded.library, &st, &mut inputs, false);
        let plan = provisio_model::plan::build_deploy_plan(&loaded.library, &st, &inputs).unwrap();
        let keys = provisio_engines::engine::driver::driver_keys(&loaded.library, &plan);
        let labels: Vec<_> = plan_hosts(&plan, &keys)
            .iter()
            .map(|h| (h.kind, h.label()))
            .collect();
        assert_eq!(
            labels,
            [
                (Kind::Pi, "pi-192_168_0_19".to_string()),
                (Kind::Mica, "mica-192_168_0_20".to_string())
            ]
        );
    }

    /// An instance deployed when all Pis shared one stand-in (its containers in `root/lxc`)
    /// keeps that one host and its state; a kind without old state gets a host per address.
    #[test]
    fn an_instance_of_the_shared_layout_keeps_its_one_host() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/two_pis.tosca");
        let loaded = crate::library::open_with_builtin(&path).unwrap();
        let st = loaded.library.service_templates()[0].1.clone();
        let mut inputs = BTreeMap::new();
        crate::deploy::simulate::fill_missing_inputs(&loaded.library, &st, &mut inputs, true);
        let plan =
            provisio_model::plan::build_undeploy_plan(&loaded.library, &st, &inputs).unwrap();
        let keys = provisio_engines::engine::driver::driver_keys(&loaded.library, &plan);
        let root = tempfile::tempdir().unwrap();
        assert_eq!(plan_hosts_in(&plan, &keys, root.path()).len(), 2);
        // A device group named `lxc` or `pi-sshd` is not the old layout.
        std::fs::create_dir_all(root.path().join("lxc/100001")).unwrap();
        std::fs::create_dir_all(root.path().join("pi-sshd/100001")).unwrap();
        assert_eq!(plan_hosts_in(&plan, &keys, root.path()).len(), 2);
        std::fs::write(root.path().join("pi-sshd/sshd_config"), "Port 22\n").unwrap();
        let shared = plan_hosts_in(&plan, &keys, root.path());
        assert_eq!(shared.len(), 1, "{shared:?}");
        let h = &shared[0];
        assert!(h.legacy && h.host.is_none());
        assert_eq!(h.label(), "pi");
        let pi_steps = keys.iter().filter(|k| **k == Some("raspberry")).count();
        assert_eq!(h.steps.len(), pi_steps);
        assert_eq!(
            h.addresses.len(),
            2,
            "both addresses map to it: {:?}",
            h.addresses
        );
        assert_eq!(h.lxc_path(root.path()), root.path().join("lxc"));
        assert_eq!(h.state(root.path()), root.path().join("pi-sshd"));
        let fresh = &plan_hosts(&plan, &keys)[0];
        assert_eq!(
            fresh.lxc_path(root.path()),
            root.path().join("hosts/pi-192_168_0_19/lxc")
        );
        assert_eq!(
            fresh.state(root.path()),
            root.path().join("hosts/pi-192_168_0_19/sshd")
        );
    }

    /// An undeploy (in another process) finds each host by the same label as the deploy: its
    /// plan, built from the recorded inputs, names the same hosts with the same steps' nodes.
    /// Were they to differ, the undeploy would start empty stand-ins, its stop and uninstall
    /// would find nothing there and count as done, and the containers would only die with
    /// the network.
    #[test]
    fn the_undeploy_plan_finds_the_deploys_hosts() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/two_pis.tosca");
        let loaded = crate::library::open_with_builtin(&path).unwrap();
        let st = loaded.library.service_templates()[0].1.clone();
        let mut inputs = BTreeMap::new();
        crate::deploy::simulate::fill_missing_inputs(&loaded.library, &st, &mut inputs, false);
        let hosts = |plan: &Plan| {
            let keys = provisio_engines::engine::driver::driver_keys(&loaded.library, plan);
            let mut out: Vec<(String, Vec<String>)> = plan_hosts(plan, &keys)
                .iter()
                .map(|h| {
                    let mut nodes: Vec<String> = h
                        .steps
                        .iter()
                        .map(|&i| plan.steps[i].node.clone())
                        .collect();
                    nodes.sort();
                    nodes.dedup();
                    (h.label(), nodes)
                })
                .collect();
            out.sort();
            out
        };
        let deploy =
            provisio_model::plan::build_deploy_plan(&loaded.library, &st, &inputs).unwrap();
        let undeploy =
            provisio_model::plan::build_undeploy_plan(&loaded.library, &st, &inputs).unwrap();
        let (d, u) = (hosts(&deploy), hosts(&undeploy));
        assert_eq!(d.len(), 2, "{d:?}");
        // The same hosts; the undeploy's steps (the containers': an OS has none) on the host
        // their deploy steps ran on.
        assert_eq!(
            d.iter().map(|h| &h.0).collect::<Vec<_>>(),
            u.iter().map(|h| &h.0).collect::<Vec<_>>()
        );
        for ((_, dn), (label, un)) in d.iter().zip(&u) {
            assert!(!un.is_empty(), "{label}: no undeploy steps");
            assert!(
                un.iter().all(|n| dn.contains(n)),
                "{label}: {un:?} vs {dn:?}"
            );
        }
    }

    #[test]
    fn labels_are_unique_and_fit() {
        assert_eq!(host_label(Kind::Pi, None), "pi");
        assert_eq!(host_label(Kind::Mica, Some("")), "mica");
        assert_eq!(
            host_label(Kind::Pi, Some("raspi-4.local")),
            "pi-raspi-4_local"
        );
        // `_` would read like a `.`: hashed, so the two differ.
        let a = host_label(Kind::Pi, Some("a_b"));
        assert!(
            a.starts_with("pi-a_b-") && a.len() == "pi-a_b-".len() + 8,
            "{a}"
        );
        assert_ne!(a, host_label(Kind::Pi, Some("a.b")));
        let long = "a-very-long-host-name.example.org";
        let l1 = host_label(Kind::Mica, Some(long));
        let l2 = host_label(Kind::Mica, Some(&format!("{long}x")));
        assert_ne!(l1, l2);
        assert!(l1.len() <= 40 && l2.len() <= 40, "{l1} {l2}");
        assert_eq!(l1, host_label(Kind::Mica, Some(long)), "stable");
    }
}
