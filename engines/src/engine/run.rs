//! Running a plan: each step goes to the driver for its node type; events flow to the front
//! end; instance state (steps, outputs, device states) is saved atomically after every change.

use super::driver::{DriverContext, DriverRegistry, ServedArtifact};
use super::executor::{self, Outputs, StepStatus};
use super::instance::{DeviceRecord, InstanceState, StepRecord};
use crate::events::{DeployEvent, EventSink, Level};
use provisio_model::plan::{Plan, PlanKind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// A step with what the engine needs to run it.
#[derive(Clone)]
pub struct PreparedStep {
    /// Driver key (`None`: the node type has no driver; the step fails with a clear reason).
    pub driver: Option<String>,
    pub artifacts: Vec<ServedArtifact>,
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Most steps running at once.
    pub max_parallel: usize,
    /// Where instance state is saved (`None`: not saved, e.g. in tests).
    pub state_dir: Option<PathBuf>,
    /// Device names to report instead of the ones drivers use (stand-in address → template
    /// address when simulating).
    pub device_aliases: std::collections::BTreeMap<String, String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            max_parallel: 8,
            state_dir: None,
            device_aliases: Default::default(),
        }
    }
}

fn save(instance: &InstanceState, opts: &RunOptions, events: &EventSink) {
    if let Some(dir) = &opts.state_dir
        && let Err(e) = instance.save(dir)
    {
        events.log(
            Level::Error,
            None,
            format!("cannot save instance state: {e}"),
        );
    }
}

/// Runs `plan`. `prepared[i]` belongs to `plan.steps[i]`. Returns the final instance state
/// (phase `deployed`/`undeployed` only when every step is done).
pub async fn run_plan(
    plan: &Plan,
    prepared: Vec<PreparedStep>,
    registry: &DriverRegistry,
    mut instance: InstanceState,
    opts: RunOptions,
    events: EventSink,
    cancel: CancellationToken,
) -> InstanceState {
    instance.steps = plan
        .steps
        .iter()
        .map(|s| StepRecord {
            id: s.id.clone(),
            node: s.node.clone(),
            operation: s.operation.clone(),
            status: StepStatus::Pending,
            outputs: Outputs::new(),
        })
        .collect();
    instance.phase = "running".into();
    // Device states of the nodes this plan acts on start afresh (addresses may have changed).
    for s in &plan.steps {
        instance.devices.remove(&s.node);
    }
    save(&instance, &opts, &events);
    events.send(DeployEvent::PlanStarted {
        instance: instance.id.clone(),
        steps: plan.steps.iter().map(|s| s.id.clone()).collect(),
        stages: plan.stages.len(),
    });

    let shared = Arc::new(Mutex::new(instance));
    // Drivers report into `inner`; a forwarder keeps device states in the instance.
    let (inner, mut inner_rx) = EventSink::new();
    let forward = {
        let shared = shared.clone();
        let outer = events.clone();
        let aliases = opts.device_aliases.clone();
        tokio::spawn(async move {
            while let Some(mut e) = inner_rx.recv().await {
                if let DeployEvent::DeviceState { device, .. } = &mut e
                    && let Some(a) = aliases.get(device.as_str())
                {
                    *device = a.clone();
                }
                if let DeployEvent::DeviceState {
                    node,
                    device,
                    state,
                } = &e
                    && let Ok(mut inst) = shared.lock()
                {
                    let detail = match state {
                        crate::events::DeviceState::Failed { reason } => Some(reason.clone()),
                        _ => None,
                    };
                    inst.devices.entry(node.clone()).or_default().insert(
                        device.clone(),
                        DeviceRecord {
                            state: state.name().to_string(),
                            detail,
                        },
                    );
                }
                outer.send(e);
            }
        })
    };

    let deps = plan.deps();
    let steps = plan.steps.clone();
    let prepared = Arc::new(prepared);
    let run_one = {
        let inner = inner.clone();
        let registry = registry.clone();
        let cancel = cancel.clone();
        let steps = steps.clone();
        let prepared = prepared.clone();
        move |i: usize| {
            let step = steps[i].clone();
            let prep = prepared.get(i).cloned();
            let key = prep.as_ref().and_then(|p| p.driver.clone());
            let driver = key.as_deref().and_then(|k| registry.get(k));
            let ctx = DriverContext {
                events: inner.clone(),
                cancel: cancel.child_token(),
                artifacts: prep.map(|p| p.artifacts).unwrap_or_default(),
            };
            async move {
                match driver {
                    Some(d) => d.run(step, ctx).await,
                    None => Err(match key {
                        Some(k) => format!(
                            "no '{k}' driver is available in this build to run {} of {}",
                            step.operation, step.node_type.local
                        ),
                        None => format!(
                            "no driver for node type {} (drivers exist for NodeMCU_App, LXContainerRaspberryPi, RaspbianStretchLXC, LXContainerMICA and types derived from them)",
                            step.node_type
                        ),
                    }),
                }
            }
        }
    };
    let on_change = {
        let shared = shared.clone();
        let events = events.clone();
        let opts = opts.clone();
        let steps = steps.clone();
        move |i: usize, status: &StepStatus, outputs: Option<&Outputs>| {
            let s = &steps[i];
            match status {
                StepStatus::Running => events.send(DeployEvent::StepStarted {
                    step: s.id.clone(),
                    node: s.node.clone(),
                    operation: s.operation.clone(),
                }),
                StepStatus::Done => events.send(DeployEvent::StepFinished {
                    step: s.id.clone(),
                    outputs: outputs.cloned().unwrap_or_default(),
                }),
                StepStatus::Failed(r) => events.send(DeployEvent::StepFailed {
                    step: s.id.clone(),
                    reason: r.clone(),
                }),
                StepStatus::Skipped(r) => events.send(DeployEvent::StepSkipped {
                    step: s.id.clone(),
                    reason: r.clone(),
                }),
                StepStatus::Cancelled => {
                    events.send(DeployEvent::StepCancelled { step: s.id.clone() })
                }
                StepStatus::Pending => {}
            }
            if let Ok(mut inst) = shared.lock() {
                if let Some(rec) = inst.steps.get_mut(i) {
                    rec.status = status.clone();
                    if let Some(o) = outputs {
                        rec.outputs = o.clone();
                    }
                }
                save(&inst, &opts, &events);
            }
        }
    };
    let names: Vec<String> = steps.iter().map(|s| s.id.clone()).collect();
    let policy = match plan.kind {
        PlanKind::Deploy => executor::FailurePolicy::SkipDependants,
        PlanKind::Undeploy => executor::FailurePolicy::RunDependants,
    };
    let result = executor::execute_with(
        policy,
        &deps,
        &names,
        opts.max_parallel,
        cancel.clone(),
        run_one,
        on_change,
    )
    .await;
    drop(inner);
    let _ = forward.await;

    let mut instance = match Arc::try_unwrap(shared) {
        Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()),
        Err(arc) => arc
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone()),
    };
    let (ok, summary) = match result {
        Err(e) => (false, format!("invalid plan: {e}")),
        Ok(statuses) => {
            let done = statuses.iter().filter(|s| **s == StepStatus::Done).count();
            let failed = statuses
                .iter()
                .filter(|s| matches!(s, StepStatus::Failed(_)))
                .count();
            let skipped = statuses
                .iter()
                .filter(|s| matches!(s, StepStatus::Skipped(_)))
                .count();
            let cancelled = statuses
                .iter()
                .filter(|s| **s == StepStatus::Cancelled)
                .count();
            let mut summary = format!(
                "{done} of {} steps done, {failed} failed, {skipped} skipped, {cancelled} cancelled",
                statuses.len()
            );
            // An undeploy that did not converge says what is left standing and why.
            if plan.kind == PlanKind::Undeploy && failed > 0 {
                let left: Vec<String> = statuses
                    .iter()
                    .zip(&plan.steps)
                    .filter_map(|(st, s)| match st {
                        StepStatus::Failed(r) => Some(format!("{} ({}: {r})", s.node, s.operation)),
                        _ => None,
                    })
                    .collect();
                summary.push_str(&format!("; left: {}", left.join("; ")));
            }
            (done == statuses.len(), summary)
        }
    };
    instance.phase = if ok {
        match plan.kind {
            PlanKind::Deploy => "deployed",
            PlanKind::Undeploy => "undeployed",
        }
    } else if cancel.is_cancelled() {
        "cancelled"
    } else {
        "failed"
    }
    .into();
    save(&instance, &opts, &events);
    events.send(DeployEvent::DeploymentFinished {
        instance: instance.id.clone(),
        ok,
        summary,
    });
    instance
}
