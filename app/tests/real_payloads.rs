//! The built-in content runs real software (issue #15, acceptance): the thesis scenario and the
//! Flex4Apps example deployed with `--simulate` start real Mosquitto, Node-RED, InfluxDB,
//! receiver, tap and connector images in real LXC containers on the simulated Pi and MICA;
//! readings of the simulated NodeMCUs arrive in InfluxDB, activity records at the receiver, and
//! undeploy removes every container and the simulated network. Needs root, LXC and the images
//! (`scripts/build-images.sh`; a deploy builds a missing one, which takes minutes).

mod common;

use provisio_app::deploy::{DeployOptions, deploy, undeploy};
use provisio_engines::events::EventSink;
use provisio_engines::simnet::SimNet;
use provisio_model::QName;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const ST_NS: &str = "http://provisio.dev/tosca/servicetemplates";
const IDS: [&str; 3] = ["1345963", "1361877", "8797990"];

/// A plain HTTP/1.0 GET; the body, or `None` when nothing answers.
fn http_get(host: &str, port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect_timeout(
        &format!("{host}:{port}").parse().ok()?,
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// The values of tag `device` in `measurement` of InfluxDB database `db` at `host:8086`.
fn devices_in_influx(host: &str, db: &str, measurement: &str) -> BTreeSet<String> {
    let q = format!("SHOW TAG VALUES FROM \"{measurement}\" WITH KEY = \"device\"")
        .replace(' ', "%20")
        .replace('"', "%22")
        .replace('=', "%3D");
    let body = http_get(host, 8086, &format!("/query?db={db}&q={q}")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let mut out = BTreeSet::new();
    for series in v["results"][0]["series"].as_array().into_iter().flatten() {
        for row in series["values"].as_array().into_iter().flatten() {
            if let Some(d) = row.get(1).and_then(|d| d.as_str()) {
                out.insert(d.to_string());
            }
        }
    }
    out
}

/// The simulated host `label` of instance `id`.
fn host_ip(id: &str, label: &str) -> String {
    SimNet::find(id)
        .and_then(|n| {
            n.hosts()
                .into_iter()
                .find(|h| h.netns.ends_with(&format!("-{label}")))
        })
        .map(|h| h.ip.to_string())
        .unwrap_or_else(|| panic!("no simulated {label} for {id}"))
}

/// Polls `f` until it returns true or `secs` pass.
fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

/// Deploys `st_id` from the built-in library with simulated devices (fleets kept running),
/// runs `check` on the instance id, shuts the fleets down, undeploys and checks that every
/// container and the simulated network are gone.
fn deploy_check_undeploy(st_id: &str, check: impl FnOnce(&str, &Path)) {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let loaded = provisio_app::library::builtin_loaded();
    let st = loaded
        .library
        .service_template(&QName::new(ST_NS, st_id))
        .unwrap()
        .clone();
    let opts = DeployOptions::new(data.path().to_path_buf(), true);
    let rt = common::runtime();
    let (sink, mut rx) = EventSink::new();
    let none = Default::default();
    let out = rt
        .block_on(deploy(
            &loaded,
            &st,
            &none,
            &opts,
            sink,
            CancellationToken::new(),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let said = common::events(&mut rx);
    assert_eq!(out.instance.phase, "deployed", "{said}");
    let id = out.instance.id.clone();
    let root = data.path().join("simulated").join(&id);
    check(&id, &root);
    for f in out.fleets {
        rt.block_on(f.shutdown());
    }
    drop(out.stand_ins);
    let (sink, mut rx) = EventSink::new();
    let back = rt
        .block_on(undeploy(&id, &none, &opts, sink, CancellationToken::new()))
        .unwrap_or_else(|e| panic!("{e}"));
    let said = common::events(&mut rx);
    assert_eq!(back.instance.phase, "undeployed", "{said}");
    let left = common::containers_left(data.path(), &id);
    assert!(left.is_empty(), "containers left: {left:?}");
    assert!(SimNet::find(&id).is_none(), "simulated network left");
}

/// Thesis §4.4: SensorPublisher on three NodeMCUs → Node-RED in a container on the Pi →
/// InfluxDB in a container on the MICA. Node-RED is the only path from the broker to InfluxDB.
#[test]
fn thesis_readings_pass_node_red_into_influxdb_on_the_mica() {
    deploy_check_undeploy("ThesisScenario", |id, _| {
        let mica = host_ip(id, &common::mica_label("192.168.0.20"));
        let want: BTreeSet<String> = IDS.iter().map(|s| s.to_string()).collect();
        let mut seen = BTreeSet::new();
        let ok = eventually(90, || {
            seen = devices_in_influx(&mica, "sensors", "sensors");
            seen == want
        });
        assert!(
            ok,
            "readings in InfluxDB at {mica}:8086 from {seen:?}, want {want:?}"
        );
    });
}

/// Flex4Apps (D3.5): devices publish through the MonitoringBroker's tap; the receiver holds
/// CONNECT and PUBLISH records of the simulated devices; the connector writes their readings
/// to InfluxDB on the MICA.
#[test]
fn flex4apps_records_reach_the_receiver_and_readings_reach_influxdb() {
    deploy_check_undeploy("Flex4AppsMonitoring", |id, root| {
        let records =
            provisio_app::deploy::sim_hosts::host_lxc_path(root, &common::pi_label("192.168.0.19"))
                .join("LogReceiver")
                .join("rootfs/var/lib/provisio/records.jsonl");
        let mut text = String::new();
        let ok = eventually(90, || {
            text = std::fs::read_to_string(&records).unwrap_or_default();
            IDS.iter().all(|d| {
                text.lines().any(|l| l.contains("CONNECT") && l.contains(d))
                    && text.lines().any(|l| l.contains("PUBLISH") && l.contains(d))
            })
        });
        assert!(ok, "records at {}:\n{text}", records.display());
        let mica = host_ip(id, &common::mica_label("192.168.0.20"));
        let mut seen = BTreeSet::new();
        let ok = eventually(90, || {
            seen = devices_in_influx(&mica, "flex4apps", "environment");
            IDS.iter().all(|d| seen.contains(*d))
        });
        assert!(ok, "readings in InfluxDB at {mica}:8086: {seen:?}");
    });
}
