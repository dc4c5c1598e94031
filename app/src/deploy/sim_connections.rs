//! A simulated deploy points the planner's `connections` documents at the stand-ins: a
//! neighbour's host written in the topology (a Pi's or MICA's address) becomes its stand-in's
//! address, and a device group's broker (`pubSubServer`) becomes the embedded broker as the
//! stand-ins' networks reach it. Nothing in a simulated deploy contacts a topology address.

use provisio_model::plan::{CONNECTIONS_INPUT, Plan};
use serde_json::Value;
use std::collections::BTreeMap;

/// Rewrites every step's `connections` input: hosts by `hosts` (topology host → stand-in
/// host), `pubSubServer` properties to `broker` when given.
pub fn rewrite(plan: &mut Plan, hosts: &BTreeMap<String, String>, broker: Option<&str>) {
    for step in &mut plan.steps {
        for input in &mut step.inputs {
            if input.name != CONNECTIONS_INPUT {
                continue;
            }
            if let Ok(mut doc) = serde_json::from_str::<Value>(&input.value) {
                for side in ["targets", "sources"] {
                    if let Some(list) = doc.get_mut(side).and_then(Value::as_array_mut) {
                        for n in list {
                            rewrite_neighbour(n, hosts, broker);
                        }
                    }
                }
                input.value = doc.to_string();
            }
        }
    }
}

fn rewrite_neighbour(n: &mut Value, hosts: &BTreeMap<String, String>, broker: Option<&str>) {
    let mapped = n
        .get("host")
        .and_then(Value::as_str)
        .and_then(|h| hosts.get(h))
        .cloned();
    if let Some(h) = mapped {
        n["host"] = Value::String(h);
    }
    if let (Some(url), Some(props)) = (
        broker,
        n.get_mut("properties").and_then(Value::as_object_mut),
    ) && props.contains_key("pubSubServer")
    {
        props.insert("pubSubServer".into(), Value::String(url.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provisio_model::plan::{InputSource, PlanKind, ResolvedInput, Step};

    #[test]
    fn hosts_and_brokers_point_at_stand_ins() {
        let value = r#"{"node":"NodeRED","targets":[{"node":"InfluxDB","host":"192.168.0.20","properties":{"port":"8086"}}],"sources":[{"node":"S","host":null,"properties":{"pubSubServer":"tcp://192.168.0.27:1883"}}]}"#;
        let mut plan = Plan {
            kind: PlanKind::Deploy,
            service_template: provisio_model::QName::new("ns", "st"),
            steps: vec![Step {
                id: "NodeRED.configure".into(),
                node: "NodeRED".into(),
                node_type: provisio_model::QName::new("ns", "t"),
                interface: "i".into(),
                operation: "configure".into(),
                inputs: vec![ResolvedInput {
                    name: CONNECTIONS_INPUT.into(),
                    value: value.into(),
                    source: InputSource::Own,
                    secret: false,
                }],
                outputs: vec![],
                artifacts: vec![],
                deps: vec![],
                stage: 0,
            }],
            stages: vec![vec![0]],
            node_order: vec![],
        };
        let hosts = BTreeMap::from([("192.168.0.20".to_string(), "10.1.2.3".to_string())]);
        rewrite(&mut plan, &hosts, Some("tcp://10.1.2.1:1883"));
        let v: Value = serde_json::from_str(plan.steps[0].input("connections").unwrap()).unwrap();
        assert_eq!(v["targets"][0]["host"], "10.1.2.3");
        assert_eq!(v["targets"][0]["properties"]["port"], "8086");
        assert_eq!(v["sources"][0]["host"], Value::Null);
        assert_eq!(
            v["sources"][0]["properties"]["pubSubServer"],
            "tcp://10.1.2.1:1883"
        );
    }
}
