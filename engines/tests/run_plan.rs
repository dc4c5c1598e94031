//! The engine running the thesis plan through drivers: events in order, instance state saved,
//! a failing driver fails its step and skips only what depends on it.

use futures::FutureExt;
use provisio_engines::engine::driver::{Driver, DriverContext, DriverRegistry, driver_key};
use provisio_engines::engine::executor::{Outputs, StepStatus};
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::engine::run::{PreparedStep, RunOptions, run_plan};
use provisio_engines::events::{DeployEvent, DeviceState, EventSink};
use provisio_model::QName;
use provisio_model::plan::{Step, build_deploy_plan};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

struct Fake {
    fail: bool,
}

impl Driver for Fake {
    fn run(
        &self,
        step: Step,
        ctx: DriverContext,
    ) -> futures::future::BoxFuture<'static, Result<Outputs, String>> {
        let fail = self.fail;
        async move {
            ctx.events.device(&step.node, "dev1", DeviceState::Running);
            if fail {
                Err(format!("{} refused", step.id))
            } else {
                Ok(Outputs::from([("count".to_string(), "1".to_string())]))
            }
        }
        .boxed()
    }
}

fn setup(
    fail_raspberry: bool,
) -> (
    provisio_model::plan::Plan,
    Vec<PreparedStep>,
    DriverRegistry,
) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../model/tests/fixtures/thesis.tosca");
    let lib = provisio_model::load_path(&path).unwrap().library;
    let st = lib
        .service_template(&QName::new(
            "http://provisio.dev/tosca/servicetemplates",
            "ThesisScenario",
        ))
        .unwrap();
    let plan = build_deploy_plan(
        &lib,
        st,
        &BTreeMap::from([("raspberryPassword".into(), "x".into())]),
    )
    .unwrap();
    let prepared = plan
        .steps
        .iter()
        .map(|s| PreparedStep {
            driver: driver_key(&lib, &s.node_type).map(str::to_string),
            artifacts: vec![],
        })
        .collect();
    let mut reg = DriverRegistry::new();
    reg.insert("nodemcu", Arc::new(Fake { fail: false }));
    reg.insert("mica", Arc::new(Fake { fail: false }));
    reg.insert(
        "raspberry",
        Arc::new(Fake {
            fail: fail_raspberry,
        }),
    );
    (plan, prepared, reg)
}

fn instance() -> InstanceState {
    InstanceState {
        id: InstanceState::new_id("ThesisScenario"),
        source: "thesis.tosca".into(),
        service_template: "{x}ThesisScenario".into(),
        created: 1,
        simulated: true,
        inputs: BTreeMap::new(),
        steps: vec![],
        devices: BTreeMap::new(),
        phase: "new".into(),
    }
}

#[tokio::test]
async fn thesis_plan_runs_to_deployed_and_state_is_saved() {
    let (plan, prepared, reg) = setup(false);
    let dir = tempfile::tempdir().unwrap();
    let (sink, mut rx) = EventSink::new();
    let opts = RunOptions {
        max_parallel: 4,
        state_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let inst = run_plan(
        &plan,
        prepared,
        &reg,
        instance(),
        opts,
        sink,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(inst.phase, "deployed");
    assert!(inst.steps.iter().all(|s| s.status == StepStatus::Done));
    assert_eq!(inst.steps[0].outputs["count"], "1");
    assert_eq!(inst.devices["SensorPublisher"]["dev1"].state, "running");
    let saved = InstanceState::load(dir.path(), &inst.id).unwrap();
    assert_eq!(saved, inst);
    let mut finished = None;
    while let Ok(e) = rx.try_recv() {
        if let DeployEvent::DeploymentFinished { ok, .. } = e {
            finished = Some(ok);
        }
    }
    assert_eq!(finished, Some(true));
}

#[tokio::test]
async fn failing_driver_fails_its_step_and_skips_dependants_only() {
    let (plan, prepared, reg) = setup(true);
    let (sink, _rx) = EventSink::new();
    let inst = run_plan(
        &plan,
        prepared,
        &reg,
        instance(),
        RunOptions::default(),
        sink,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(inst.phase, "failed");
    let status = |id: &str| {
        inst.steps
            .iter()
            .find(|s| s.id == id)
            .unwrap()
            .status
            .clone()
    };
    assert!(
        matches!(status("RaspbianStretchLXC.install"), StepStatus::Failed(ref r) if r.contains("refused"))
    );
    assert!(matches!(status("NodeRED.install"), StepStatus::Skipped(_)));
    assert!(matches!(
        status("SensorPublisher.start"),
        StepStatus::Skipped(_)
    ));
    assert_eq!(status("InfluxDB.start"), StepStatus::Done);
}

#[tokio::test]
async fn missing_driver_is_a_clear_failure() {
    let (plan, mut prepared, reg) = setup(false);
    prepared[0].driver = None;
    let (sink, _rx) = EventSink::new();
    let inst = run_plan(
        &plan,
        prepared,
        &reg,
        instance(),
        RunOptions::default(),
        sink,
        CancellationToken::new(),
    )
    .await;
    assert!(matches!(&inst.steps[0].status, StepStatus::Failed(r) if r.contains("no driver")));
}
