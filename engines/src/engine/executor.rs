//! Runs a DAG of steps: every step whose dependencies are done starts (bounded parallelism);
//! a failed step skips everything that depends on it while independent branches go on; cancel
//! stops running steps and reports them cancelled. Nothing is reported done that did not finish.

use std::collections::BTreeMap;
use std::future::Future;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Output parameters of a step (name → value).
pub type Outputs = BTreeMap<String, String>;

/// Where a step is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "lowercase")]
pub enum StepStatus {
    Pending,
    Running,
    Done,
    Failed(String),
    /// Not run because a step it depends on failed or was skipped.
    Skipped(String),
    Cancelled,
}

impl StepStatus {
    pub fn is_final(&self) -> bool {
        !matches!(self, StepStatus::Pending | StepStatus::Running)
    }
}

/// The dependency graph is not a DAG over valid indices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("step {step} depends on step {dep}, which does not exist")]
    UnknownDependency { step: usize, dep: usize },
    #[error("steps depend on each other in a cycle (involving step {0})")]
    Cycle(usize),
}

/// Checks that `deps` describes a DAG.
pub fn check_graph(deps: &[Vec<usize>]) -> Result<(), GraphError> {
    for (step, ds) in deps.iter().enumerate() {
        if let Some(&dep) = ds.iter().find(|&&d| d >= deps.len()) {
            return Err(GraphError::UnknownDependency { step, dep });
        }
    }
    // Kahn's algorithm.
    let mut indegree: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependants = vec![Vec::new(); deps.len()];
    for (s, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependants[d].push(s);
        }
    }
    let mut ready: Vec<usize> = (0..deps.len()).filter(|&s| indegree[s] == 0).collect();
    let mut seen = 0;
    while let Some(s) = ready.pop() {
        seen += 1;
        for &t in &dependants[s] {
            indegree[t] -= 1;
            if indegree[t] == 0 {
                ready.push(t);
            }
        }
    }
    match (0..deps.len()).find(|&s| indegree[s] > 0) {
        Some(s) if seen < deps.len() => Err(GraphError::Cycle(s)),
        _ => Ok(()),
    }
}

/// What a failed step means for the steps that wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Deploy: dependants are skipped (nothing is built on a failed foundation).
    SkipDependants,
    /// Undeploy: dependants still run once everything they wait for has ended, so one failed
    /// teardown step never leaves the rest of the system standing. Dependencies only order.
    RunDependants,
}

/// Executes steps `0..deps.len()`; `deps[i]` lists the steps `i` waits for. `run(i)` performs
/// step `i`; `on_change(i, status, outputs)` is called on every status change (for events and
/// for persisting state). Returns the final status of every step.
pub async fn execute<F, Fut, G>(
    deps: &[Vec<usize>],
    names: &[String],
    max_parallel: usize,
    cancel: CancellationToken,
    run: F,
    on_change: G,
) -> Result<Vec<StepStatus>, GraphError>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<Outputs, String>> + Send + 'static,
    G: FnMut(usize, &StepStatus, Option<&Outputs>),
{
    execute_with(
        FailurePolicy::SkipDependants,
        deps,
        names,
        max_parallel,
        cancel,
        run,
        on_change,
    )
    .await
}

/// [`execute`] with an explicit [`FailurePolicy`].
pub async fn execute_with<F, Fut, G>(
    policy: FailurePolicy,
    deps: &[Vec<usize>],
    names: &[String],
    max_parallel: usize,
    cancel: CancellationToken,
    run: F,
    mut on_change: G,
) -> Result<Vec<StepStatus>, GraphError>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<Outputs, String>> + Send + 'static,
    G: FnMut(usize, &StepStatus, Option<&Outputs>),
{
    check_graph(deps)?;
    let n = deps.len();
    let max_parallel = max_parallel.max(1);
    let mut status = vec![StepStatus::Pending; n];
    let mut dependants = vec![Vec::new(); n];
    for (s, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependants[d].push(s);
        }
    }
    let mut running: JoinSet<(usize, Result<Outputs, String>)> = JoinSet::new();
    let mut task_step = std::collections::HashMap::new();
    loop {
        if !cancel.is_cancelled() {
            for i in 0..n {
                if running.len() >= max_parallel {
                    break;
                }
                let ready = status[i] == StepStatus::Pending
                    && deps[i].iter().all(|&d| match policy {
                        FailurePolicy::SkipDependants => status[d] == StepStatus::Done,
                        FailurePolicy::RunDependants => {
                            matches!(status[d], StepStatus::Done | StepStatus::Failed(_))
                        }
                    });
                if ready {
                    status[i] = StepStatus::Running;
                    on_change(i, &status[i], None);
                    let fut = run(i);
                    let handle = running.spawn(async move { (i, fut.await) });
                    task_step.insert(handle.id(), i);
                }
            }
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                running.abort_all();
                while running.join_next().await.is_some() {}
                for (i, s) in status.iter_mut().enumerate() {
                    if !s.is_final() {
                        *s = StepStatus::Cancelled;
                        on_change(i, s, None);
                    }
                }
                break;
            }
            joined = running.join_next_with_id() => {
                let Some(joined) = joined else { continue };
                let (i, result) = match joined {
                    Ok((_, (i, r))) => (i, r),
                    Err(e) => {
                        let i = task_step.get(&e.id()).copied().unwrap_or(0);
                        (i, Err(if e.is_panic() { "internal error: the step panicked".to_string() } else { "aborted".to_string() }))
                    }
                };
                match result {
                    Ok(outputs) => {
                        status[i] = StepStatus::Done;
                        on_change(i, &status[i], Some(&outputs));
                    }
                    Err(reason) => {
                        status[i] = StepStatus::Failed(reason);
                        on_change(i, &status[i], None);
                        if policy == FailurePolicy::SkipDependants {
                            let name = names.get(i).cloned().unwrap_or_else(|| format!("step {i}"));
                            skip_dependants(i, &name, &dependants, &mut status, &mut on_change);
                        }
                    }
                }
            }
        }
    }
    // Steps that can never run (their dependencies were skipped) are already Skipped; anything
    // still pending here was blocked by cancellation.
    for (i, s) in status.iter_mut().enumerate() {
        if !s.is_final() {
            *s = StepStatus::Cancelled;
            on_change(i, s, None);
        }
    }
    Ok(status)
}

fn skip_dependants<G>(
    failed: usize,
    failed_name: &str,
    dependants: &[Vec<usize>],
    status: &mut [StepStatus],
    on_change: &mut G,
) where
    G: FnMut(usize, &StepStatus, Option<&Outputs>),
{
    let mut stack = vec![failed];
    while let Some(s) = stack.pop() {
        for &d in &dependants[s] {
            if status[d] == StepStatus::Pending {
                status[d] = StepStatus::Skipped(format!("{failed_name} failed"));
                on_change(d, &status[d], None);
                stack.push(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    fn ok() -> Result<Outputs, String> {
        Ok(Outputs::new())
    }

    #[tokio::test]
    async fn runs_in_dependency_order_and_in_parallel() {
        // 0 → {1, 2} → 3
        let deps = vec![vec![], vec![0], vec![0], vec![1, 2]];
        let log = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(Mutex::new((0usize, 0usize)));
        let l = log.clone();
        let f = in_flight.clone();
        let status = execute(
            &deps,
            &[],
            4,
            CancellationToken::new(),
            move |i| {
                let l = l.clone();
                let f = f.clone();
                async move {
                    {
                        let mut g = f.lock().unwrap();
                        g.0 += 1;
                        g.1 = g.1.max(g.0);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    f.lock().unwrap().0 -= 1;
                    l.lock().unwrap().push(i);
                    ok()
                }
            },
            |_, _, _| {},
        )
        .await
        .unwrap();
        assert!(status.iter().all(|s| *s == StepStatus::Done));
        let log = log.lock().unwrap().clone();
        assert_eq!(log[0], 0);
        assert_eq!(log[3], 3);
        assert_eq!(in_flight.lock().unwrap().1, 2, "steps 1 and 2 ran together");
    }

    #[tokio::test]
    async fn run_dependants_policy_runs_everything_after_a_failure() {
        // 0 fails; 1 waits for 0, 3 for 1; 2 independent: all run, in order.
        let deps = vec![vec![], vec![0], vec![], vec![1]];
        let names: Vec<String> = (0..4).map(|i| format!("s{i}")).collect();
        let order = Arc::new(Mutex::new(Vec::new()));
        let o = order.clone();
        let status = execute_with(
            FailurePolicy::RunDependants,
            &deps,
            &names,
            4,
            CancellationToken::new(),
            move |i| {
                let o = o.clone();
                async move {
                    o.lock().unwrap().push(i);
                    if i == 0 {
                        Err("gone wrong".to_string())
                    } else {
                        ok()
                    }
                }
            },
            |_, _, _| {},
        )
        .await
        .unwrap();
        assert_eq!(status[0], StepStatus::Failed("gone wrong".into()));
        assert_eq!(
            &status[1..],
            &[StepStatus::Done, StepStatus::Done, StepStatus::Done]
        );
        let order = order.lock().unwrap().clone();
        let pos = |s: usize| order.iter().position(|&x| x == s).unwrap();
        assert!(pos(0) < pos(1) && pos(1) < pos(3), "{order:?}");
    }

    #[tokio::test]
    async fn failure_skips_dependants_only() {
        // 0 fails → 1 skipped → 3 skipped; 2 independent runs.
        let deps = vec![vec![], vec![0], vec![], vec![1]];
        let status = execute(
            &deps,
            &[],
            2,
            CancellationToken::new(),
            |i| async move {
                if i == 0 {
                    Err("boom".to_string())
                } else {
                    ok()
                }
            },
            |_, _, _| {},
        )
        .await
        .unwrap();
        assert_eq!(status[0], StepStatus::Failed("boom".into()));
        assert!(matches!(status[1], StepStatus::Skipped(_)));
        assert_eq!(status[2], StepStatus::Done);
        assert!(matches!(status[3], StepStatus::Skipped(_)));
    }

    #[tokio::test]
    async fn cancel_stops_running_steps_and_reports_them() {
        let deps = vec![vec![], vec![0]];
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        let changes = Arc::new(Mutex::new(Vec::new()));
        let ch = changes.clone();
        let status = execute(
            &deps,
            &[],
            1,
            cancel,
            move |_| {
                let c = c.clone();
                async move {
                    c.cancel();
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    ok()
                }
            },
            move |i, s, _| ch.lock().unwrap().push((i, s.clone())),
        )
        .await
        .unwrap();
        assert_eq!(status, vec![StepStatus::Cancelled, StepStatus::Cancelled]);
        assert!(
            !changes
                .lock()
                .unwrap()
                .iter()
                .any(|(_, s)| *s == StepStatus::Done)
        );
    }

    #[tokio::test]
    async fn panicking_step_is_a_failure() {
        let deps = vec![vec![]];
        let status = execute(
            &deps,
            &[],
            1,
            CancellationToken::new(),
            |_| async move {
                let v: Vec<u8> = Vec::new();
                if v.is_empty() {
                    panic!("driver bug");
                }
                ok()
            },
            |_, _, _| {},
        )
        .await
        .unwrap();
        assert!(matches!(&status[0], StepStatus::Failed(r) if r.contains("panicked")));
    }

    #[test]
    fn cycles_and_bad_indices_are_refused() {
        assert_eq!(check_graph(&[vec![1], vec![0]]), Err(GraphError::Cycle(0)));
        assert_eq!(
            check_graph(&[vec![5]]),
            Err(GraphError::UnknownDependency { step: 0, dep: 5 })
        );
        assert!(check_graph(&[vec![], vec![0]]).is_ok());
    }
}
