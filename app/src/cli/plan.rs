//! `provisio plan PATH [--service-template '{ns}id'] [--json] [--input K=V …] [--undeploy]`:
//! prints the stages of the deploy (or undeploy) plan with resolved inputs, secrets masked.

use super::select::parse_inputs;
use provisio_model::plan::{Plan, build_deploy_plan, build_undeploy_plan};
use std::path::Path;

pub fn run(
    path: &Path,
    service_template: Option<&str>,
    json: bool,
    inputs: &[String],
    undeploy: bool,
) -> i32 {
    let (loaded, st) = match super::select::open_and_select(path, service_template) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let inputs = match parse_inputs(inputs) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let result = if undeploy {
        build_undeploy_plan(&loaded.library, &st, &inputs)
    } else {
        build_deploy_plan(&loaded.library, &st, &inputs)
    };
    match result {
        Ok(plan) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&masked(plan)).unwrap_or_default()
                );
            } else {
                print!("{plan}");
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// The plan with secret values replaced, for printing.
fn masked(mut plan: Plan) -> Plan {
    for s in &mut plan.steps {
        for i in &mut s.inputs {
            if i.secret {
                i.value = "***".into();
            }
        }
    }
    plan
}
