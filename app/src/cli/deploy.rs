//! `provisio deploy PATH [--service-template …] [--input K=V …] [--simulate] [--fault …]` and
//! `provisio undeploy INSTANCE`: progress per step and per device group, a final per-device
//! table, exit status non-zero on any failure.

use super::select::parse_inputs;
use crate::deploy::{DeployOptions, default_data_dir, deploy, undeploy};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::events::{DeployEvent, EventSink, Level};
use provisio_firmware::FaultSpec;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Options shared by deploy and undeploy.
pub struct Args<'a> {
    pub inputs: &'a [String],
    pub simulate: bool,
    pub faults: &'a [String],
    pub seed: u64,
    pub accept_new_host_keys: bool,
    /// Keep the simulated system running and print what it does until Ctrl-C (or SIGTERM,
    /// SIGHUP).
    pub watch: bool,
    /// Devices fetch artifacts from this base URL (a CDN or caching proxy) instead.
    pub artifact_base_url: Option<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            errln!("error: cannot start the async runtime: {e}");
            2
        })
}

fn options(args: &Args<'_>) -> Result<DeployOptions, String> {
    let mut opts = DeployOptions::new(default_data_dir(), args.simulate);
    opts.faults = args
        .faults
        .iter()
        .map(|f| {
            f.parse::<FaultSpec>()
                .map_err(|e| format!("--fault {f}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    opts.seed = args.seed;
    opts.accept_new_host_keys = args.accept_new_host_keys;
    opts.artifact_base_url = args.artifact_base_url.clone();
    Ok(opts)
}

pub fn run_deploy(path: &Path, service_template: Option<&str>, args: Args<'_>) -> i32 {
    let (loaded, st) = match super::select::open_and_select(path, service_template) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let Some((inputs, opts)) = inputs_and_options(&args) else {
        return 2;
    };
    outln!(
        "deploying {} ({}){}",
        st.qname(),
        path.display(),
        if opts.simulate {
            " with simulated devices"
        } else {
            ""
        }
    );
    let watch = args.watch;
    drive(watch, |sink, cancel| async move {
        deploy(&loaded, &st, &inputs, &opts, sink, cancel).await
    })
}

/// `undeploy --force` (see [`crate::deploy::listing::forget`]).
pub fn forget(instance: &str) -> i32 {
    match crate::deploy::listing::forget(&default_data_dir(), instance) {
        Ok(done) => {
            if let Some(w) = &done.warning {
                errln!("warning: {w}");
            }
            outln!("{}", done.message);
            0
        }
        Err(e) => {
            errln!("error: {e}");
            1
        }
    }
}

pub fn run_undeploy(instance: &str, args: Args<'_>) -> i32 {
    let Some((inputs, opts)) = inputs_and_options(&args) else {
        return 2;
    };
    drive(false, |sink, cancel| async move {
        undeploy(instance, &inputs, &opts, sink, cancel).await
    })
}

fn inputs_and_options(
    args: &Args<'_>,
) -> Option<(std::collections::BTreeMap<String, String>, DeployOptions)> {
    match parse_inputs(args.inputs).and_then(|i| Ok((i, options(args)?))) {
        Ok(x) => Some(x),
        Err(e) => {
            errln!("error: {e}");
            None
        }
    }
}

/// Runs a deploy or undeploy on a fresh runtime, rendering its events; returns the exit code.
fn drive<F, Fut>(watch: bool, run: F) -> i32
where
    F: FnOnce(EventSink, CancellationToken) -> Fut,
    Fut: std::future::Future<
            Output = Result<crate::deploy::DeployOutcome, crate::deploy::DeployError>,
        >,
{
    let rt = match runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    rt.block_on(async {
        let (sink, rx) = EventSink::new();
        let render = tokio::spawn(render(rx));
        // Ctrl-C, SIGTERM or SIGHUP: the deploy is cancelled and cleans up (see `signals`).
        let stop = super::signals::cancel_on_stop(if watch { "stopping" } else { "cancelling" });
        let result = run(sink, stop.clone()).await;
        match result {
            Ok(o) if watch && o.instance.phase == "deployed" => {
                let _ = render.await;
                print_devices(&o.instance);
                outln!("instance {} is {}", o.instance.id, o.instance.phase);
                let _keep = o.stand_ins;
                if let Err(e) = super::watch::watch(&o.device_brokers, stop).await {
                    errln!("error: {e}");
                }
                for f in o.fleets {
                    f.shutdown().await;
                }
                outln!(
                    "stopped watching; instance {} stays deployed",
                    o.instance.id
                );
                0
            }
            other => finish(other.map(|o| (o.instance, o.fleets)), render).await,
        }
    })
}

async fn finish(
    result: Result<
        (InstanceState, Vec<provisio_firmware::FleetHandle>),
        crate::deploy::DeployError,
    >,
    render: tokio::task::JoinHandle<()>,
) -> i32 {
    match result {
        Err(crate::deploy::DeployError::AlreadyUndeployed(i)) => {
            let _ = render.await;
            outln!("instance {} is already undeployed; nothing to do", i.id);
            0
        }
        Err(e) => {
            let _ = render.await;
            errln!("error: {e}");
            1
        }
        Ok((instance, fleets)) => {
            let _ = render.await;
            for f in fleets {
                f.shutdown().await;
            }
            print_devices(&instance);
            outln!("instance {} is {}", instance.id, instance.phase);
            if instance.phase == "deployed" || instance.phase == "undeployed" {
                0
            } else {
                1
            }
        }
    }
}

fn print_devices(instance: &InstanceState) {
    if instance.devices.is_empty() {
        return;
    }
    outln!("{:<20} {:<14} {:<12} detail", "node", "device", "state");
    for (node, devices) in &instance.devices {
        for (id, d) in devices {
            outln!(
                "{:<20} {:<14} {:<12} {}",
                node,
                id,
                d.state,
                d.detail.as_deref().unwrap_or("")
            );
        }
    }
}

/// Renders events as progress bars (one per running step) and lines.
async fn render(mut rx: tokio::sync::mpsc::UnboundedReceiver<DeployEvent>) {
    use std::io::IsTerminal;
    let multi = MultiProgress::new();
    let plain =
        std::env::var_os("PROVISIO_NO_PROGRESS").is_some() || !std::io::stdout().is_terminal();
    if plain {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    // Without a terminal, progress bars are hidden: print lines instead.
    let println = |m: &MultiProgress, line: String| {
        if plain {
            outln!("{line}");
        } else {
            let _ = m.println(line);
        }
    };
    let style = ProgressStyle::with_template("{spinner} {prefix:<32} {wide_msg} [{elapsed}]")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    while let Some(e) = rx.recv().await {
        match e {
            DeployEvent::PlanStarted { steps, stages, .. } => {
                println(
                    &multi,
                    format!("plan: {} steps in {stages} stages", steps.len()),
                );
            }
            DeployEvent::StepStarted { step, .. } => {
                let pb = multi.add(ProgressBar::new_spinner());
                pb.set_style(style.clone());
                pb.set_prefix(step.clone());
                pb.enable_steady_tick(Duration::from_millis(120));
                bars.insert(step, pb);
            }
            DeployEvent::StepProgress { step, done, total } => {
                if let Some(pb) = bars.get(&step) {
                    pb.set_message(format!("{done}/{total} devices answered"));
                }
            }
            DeployEvent::StepFinished { step, outputs } => {
                let out: Vec<String> = outputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if let Some(pb) = bars.remove(&step) {
                    pb.finish_with_message(format!("done {}", out.join(" ")));
                }
                if plain {
                    outln!("✓ {step} {}", out.join(" "));
                }
            }
            DeployEvent::StepFailed { step, reason } => {
                if let Some(pb) = bars.remove(&step) {
                    pb.abandon_with_message(format!("FAILED: {reason}"));
                }
                if plain {
                    outln!("✗ {step}: {reason}");
                }
            }
            DeployEvent::StepSkipped { step, reason } => {
                println(&multi, format!("- {step} skipped ({reason})"));
            }
            DeployEvent::StepCancelled { step } => {
                if let Some(pb) = bars.remove(&step) {
                    pb.abandon_with_message("cancelled");
                }
            }
            DeployEvent::Log {
                level,
                node,
                message,
            } => {
                if level != Level::Info || std::env::var_os("PROVISIO_VERBOSE").is_some() {
                    println(
                        &multi,
                        format!("{:?} {}: {message}", level, node.unwrap_or_default())
                            .to_lowercase(),
                    );
                }
            }
            DeployEvent::DeploymentFinished { ok, summary, .. } => {
                println(
                    &multi,
                    format!(
                        "{} {summary}",
                        if ok {
                            "deployment finished:"
                        } else {
                            "deployment FAILED:"
                        }
                    ),
                );
            }
            DeployEvent::DeviceState { .. } | DeployEvent::Telemetry { .. } => {}
        }
    }
}
