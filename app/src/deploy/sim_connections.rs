//! A simulated deploy points what containers are told at the stand-ins: a host written in the
//! topology (a Pi's or MICA's address) becomes the address of ITS stand-in (each simulated host
//! has its own, [`map_template`] records which) in the planner's
//! `connections` documents and in the containers' other inputs, and a broker outside the
//! topology (`pubSubServer`) becomes the embedded broker as the stand-ins' networks reach it.
//! Nothing in a simulated deploy contacts a topology address.

use provisio_engines::drivers::container_files::rewrite_connections;
use provisio_model::plan::{CONNECTIONS_INPUT, Plan, first_host};
use std::collections::BTreeMap;

/// Topology host → stand-in host.
pub type HostMap = BTreeMap<String, String>;

/// Records that the template whose `addresses` are `addresses` (a JSON list, or one address)
/// runs on the stand-in at `standin`: its first host maps to `standin` (it is that stand-in's
/// own host), every further host of its list too unless another template named it first.
pub fn map_template(hosts: &mut HostMap, addresses: &str, standin: &str) {
    let list = serde_json::from_str::<Vec<String>>(addresses)
        .unwrap_or_else(|_| vec![addresses.to_string()]);
    for (i, entry) in list.iter().enumerate() {
        let Some(h) = first_host(entry) else { continue };
        if i == 0 {
            hosts.insert(h, standin.to_string());
        } else {
            hosts.entry(h).or_insert_with(|| standin.to_string());
        }
    }
}

/// Inputs the stand-in code sets itself (device addresses, credentials, pins).
const STAND_IN_INPUTS: &[&str] = &[
    "addresses",
    "userName",
    "userPassword",
    "certificates",
    CONNECTIONS_INPUT,
];

/// Rewrites the inputs of container steps (`keys` = each step's driver key).
pub fn rewrite(
    plan: &mut Plan,
    keys: &[Option<&'static str>],
    hosts: &HostMap,
    broker: Option<&str>,
) -> Result<(), String> {
    for (step, key) in plan.steps.iter_mut().zip(keys) {
        if !matches!(key, Some("raspberry" | "mica")) {
            continue;
        }
        for input in &mut step.inputs {
            if input.name == CONNECTIONS_INPUT {
                input.value = rewrite_connections(
                    &input.value,
                    |h| hosts.get(h).cloned(),
                    |k, v| Some(property(k, v, hosts, broker)),
                )?;
            } else if !STAND_IN_INPUTS.contains(&input.name.as_str()) {
                input.value = property(&input.name, &input.value, hosts, broker);
            }
        }
    }
    Ok(())
}

/// One value as a container on a stand-in must see it.
fn property(name: &str, value: &str, hosts: &HostMap, broker: Option<&str>) -> String {
    if name == "pubSubServer" {
        return broker_url(value, hosts, broker);
    }
    replace_hosts(value, hosts)
}

/// A device group's broker as seen from the stand-ins: a broker on a simulated host keeps its
/// port at the stand-in's address; any other broker is the embedded one.
pub fn broker_url(value: &str, hosts: &HostMap, embedded: Option<&str>) -> String {
    match first_host(value).and_then(|h| hosts.get(&h)) {
        Some(_) => replace_hosts(value, hosts),
        // Without a reachable embedded broker: a loopback port that answers nothing, never the
        // topology's address.
        None => embedded.map_or_else(|| "tcp://127.0.0.1:9".to_string(), str::to_string),
    }
}

/// Every whole occurrence of a topology host replaced by its stand-in (`192.168.0.2` does
/// not match inside `192.168.0.20`).
pub fn replace_hosts(value: &str, hosts: &HostMap) -> String {
    let mut out = value.to_string();
    for (from, to) in hosts {
        out = replace_whole(&out, from, to);
    }
    out
}

fn replace_whole(s: &str, from: &str, to: &str) -> String {
    if from.is_empty() {
        return s.to_string();
    }
    let part =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(from) {
        let before = if i > 0 {
            rest[..i].chars().last()
        } else {
            out.chars().last()
        };
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        if part(before) || part(after) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> HostMap {
        BTreeMap::from([
            ("192.168.0.2".to_string(), "10.1.2.2".to_string()),
            ("192.168.0.20".to_string(), "10.1.2.3".to_string()),
        ])
    }

    #[test]
    fn the_nodes_own_host_and_properties_point_at_stand_ins() {
        let doc = r#"{"node":"C","host":"192.168.0.2","properties":{"influxUrl":"http://192.168.0.20:8086","HICAP_HOST":"192.168.0.2"},"targets":[],"sources":[]}"#;
        let h = hosts();
        let out = rewrite_connections(
            doc,
            |x| h.get(x).cloned(),
            |k, v| Some(property(k, v, &h, None)),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["host"], "10.1.2.2");
        assert_eq!(v["properties"]["influxUrl"], "http://10.1.2.3:8086");
        assert_eq!(v["properties"]["HICAP_HOST"], "10.1.2.2");
    }

    /// Two Pis and a MICA: each template's hosts go to its own stand-in, whichever order the
    /// templates come in; a container on one Pi that names the other's broker reaches that
    /// other stand-in.
    #[test]
    fn each_template_maps_to_its_own_stand_in() {
        let mut h = HostMap::new();
        map_template(
            &mut h,
            r#"["pi@192.168.0.19:22", "192.168.0.30"]"#,
            "10.1.2.2",
        );
        map_template(&mut h, r#"["192.168.0.21"]"#, "10.1.2.3");
        map_template(&mut h, "https://192.168.0.20", "10.1.2.4");
        // A later template whose own host is the first one's second keeps it.
        map_template(&mut h, r#"["192.168.0.30"]"#, "10.1.2.5");
        map_template(&mut h, r#"["192.168.0.19", "192.168.0.21"]"#, "10.1.2.2");
        assert_eq!(
            h,
            BTreeMap::from([
                ("192.168.0.19".to_string(), "10.1.2.2".to_string()),
                ("192.168.0.20".to_string(), "10.1.2.4".to_string()),
                ("192.168.0.21".to_string(), "10.1.2.3".to_string()),
                ("192.168.0.30".to_string(), "10.1.2.5".to_string()),
            ])
        );
        let doc = r#"{"node":"Bridge","host":"192.168.0.19","properties":{"remote":"tcp://192.168.0.21:1883"},"targets":[{"node":"BrokerB","host":"192.168.0.21","properties":{}}],"sources":[{"node":"Db","host":"192.168.0.20"}]}"#;
        let out = rewrite_connections(
            doc,
            |x| h.get(x).cloned(),
            |k, v| Some(property(k, v, &h, None)),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["host"], "10.1.2.2");
        assert_eq!(v["properties"]["remote"], "tcp://10.1.2.3:1883");
        assert_eq!(v["targets"][0]["host"], "10.1.2.3");
        assert_eq!(v["sources"][0]["host"], "10.1.2.4");
        let emb = Some("tcp://10.1.2.1:41883");
        assert_eq!(
            broker_url("tcp://192.168.0.21:1883", &h, emb),
            "tcp://10.1.2.3:1883"
        );
        assert_eq!(
            broker_url("tcp://192.168.0.19:1883", &h, emb),
            "tcp://10.1.2.2:1883"
        );
    }

    #[test]
    fn whole_hosts_only() {
        let h = hosts();
        assert_eq!(
            replace_hosts("http://192.168.0.20:8086/x", &h),
            "http://10.1.2.3:8086/x"
        );
        assert_eq!(replace_hosts("192.168.0.2", &h), "10.1.2.2");
        assert_eq!(replace_hosts("192.168.0.21", &h), "192.168.0.21");
        assert_eq!(replace_hosts("a192.168.0.2", &h), "a192.168.0.2");
        assert_eq!(
            replace_hosts(r#"["192.168.0.2","192.168.0.20"]"#, &h),
            r#"["10.1.2.2","10.1.2.3"]"#
        );
    }

    #[test]
    fn brokers_on_simulated_hosts_keep_their_port_others_are_the_embedded_one() {
        let h = hosts();
        let emb = Some("tcp://10.1.2.1:41883");
        assert_eq!(
            broker_url("tcp://192.168.0.2:1883", &h, emb),
            "tcp://10.1.2.2:1883"
        );
        assert_eq!(
            broker_url("tcp://192.168.0.27:1883", &h, emb),
            "tcp://10.1.2.1:41883"
        );
    }
}
