//! `provisio plan PATH [--service-template '{ns}id'] [--json] [--input K=V …] [--undeploy]
//! [--strict]`: prints the stages of the deploy (or undeploy) plan with resolved inputs, secrets
//! masked. Inputs nobody gave yet show as `<input: NAME>` and are listed after the plan;
//! `--strict` makes them an error (exit 1).

use super::select::parse_inputs;
use provisio_model::plan::{MissingInput, Plan, build_open_deploy_plan, build_open_undeploy_plan};
use std::path::Path;

pub fn run(
    path: &Path,
    service_template: Option<&str>,
    json: bool,
    inputs: &[String],
    undeploy: bool,
    strict: bool,
) -> i32 {
    let (loaded, st) = match super::select::open_and_select(path, service_template) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let inputs = match parse_inputs(inputs) {
        Ok(i) => i,
        Err(e) => {
            errln!("error: {e}");
            return 2;
        }
    };
    let result = if undeploy {
        build_open_undeploy_plan(&loaded.library, &st, &inputs)
    } else {
        build_open_deploy_plan(&loaded.library, &st, &inputs)
    };
    match result {
        Ok((plan, missing)) => {
            let needed = needed_inputs(&missing);
            if json {
                let v = serde_json::json!({"plan": masked(plan), "missingInputs": needed});
                outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                out!("{plan}");
                if !needed.is_empty() {
                    outln!("inputs still needed at deploy time ({}):", needed.len());
                    for n in &needed {
                        outln!("  {n}   (--input {n}=VALUE)");
                    }
                }
            }
            if strict && !needed.is_empty() {
                errln!(
                    "error: {} input(s) have no value: {}",
                    needed.len(),
                    needed.join(", ")
                );
                return 1;
            }
            0
        }
        Err(e) => {
            errln!("error: {e}");
            1
        }
    }
}

/// The names to give with `--input`, each once, in plan order.
fn needed_inputs(missing: &[MissingInput]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in missing {
        let n = m.deploy_input.clone().unwrap_or_else(|| m.input.clone());
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// The plan with secret values replaced, for printing.
fn masked(mut plan: Plan) -> Plan {
    for s in &mut plan.steps {
        for i in &mut s.inputs {
            if i.secret && !i.is_missing() {
                i.value = "***".into();
            }
        }
    }
    plan
}
