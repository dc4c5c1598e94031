//! The constrained-device driver (NodeMCU_App on NodeMCU, thesis §4.1): publish the command on
//! the control topic with QoS 1, collect responses by hardwareId, end as soon as every listed
//! device answered (plus a short grace period for unlisted ones) or the operation times out.
//! A partial result is a failure with the per-device table, never a silent success. Behind a
//! gateway (`gatewayStatusTopic`), a `0` from its bridge ends the operation at once with the
//! devices that did not answer offline.

pub mod collect;
pub mod security;

use crate::engine::driver::{Driver, DriverContext, ServedArtifact};
use crate::engine::executor::Outputs;
use crate::events::{DeployEvent, DeviceState, Level};
use crate::pubsub::parse_pubsub;
use collect::Collector;
use futures::FutureExt;
use futures::future::BoxFuture;
use provisio_model::plan::Step;
use provisio_model::protocol::{Command, ESP8266_MAGIC_BYTE};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::time::Duration;
use tokio::time::Instant;

/// Timeouts (decisions.md: install 120 s, others 30 s, grace 2 s).
#[derive(Debug, Clone)]
pub struct NodeMcuConfig {
    pub install_timeout: Duration,
    pub other_timeout: Duration,
    pub grace: Duration,
    /// Time to wait for the broker connection and subscription.
    pub connect_timeout: Duration,
}

impl Default for NodeMcuConfig {
    fn default() -> Self {
        NodeMcuConfig {
            install_timeout: Duration::from_secs(120),
            other_timeout: Duration::from_secs(30),
            grace: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(15),
        }
    }
}

/// The driver.
#[derive(Debug, Clone, Default)]
pub struct NodeMcuDriver {
    pub config: NodeMcuConfig,
}

impl Driver for NodeMcuDriver {
    fn run(&self, step: Step, ctx: DriverContext) -> BoxFuture<'static, Result<Outputs, String>> {
        let config = self.config.clone();
        async move { run_operation(&config, &step, &ctx).await }.boxed()
    }
}

fn required<'a>(step: &'a Step, name: &str) -> Result<&'a str, String> {
    step.input(name)
        .ok_or_else(|| format!("input '{name}' is missing"))
}

/// Parses `hardwareIds` (a JSON list of strings, may be empty).
pub fn parse_hardware_ids(value: &str) -> Result<Vec<String>, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str::<Vec<String>>(v)
        .map_err(|e| format!("hardwareIds is not a JSON list of strings ({e}): {v}"))
}

fn command_for(
    step: &Step,
    artifacts: &[ServedArtifact],
    ctx: &DriverContext,
) -> Result<Command, String> {
    Ok(match step.operation.as_str() {
        "install" => {
            let a = artifacts
                .iter()
                .find(|a| a.bytes.first() == Some(&ESP8266_MAGIC_BYTE))
                .or_else(|| artifacts.first())
                .ok_or_else(|| {
                    "install needs a deployment artifact (the firmware .bin) and the node has none"
                        .to_string()
                })?;
            if a.bytes.first() != Some(&ESP8266_MAGIC_BYTE) {
                ctx.events.log(
                    Level::Warn,
                    Some(&step.node),
                    format!("artifact {} does not start with the ESP8266 magic byte 0xE9; devices will refuse it", a.file_name),
                );
            }
            Command::Install {
                install_url: a.url.clone(),
                binary_size: a.size,
                hash: a.md5.clone(),
            }
        }
        "configure" => Command::Configure {
            app_config: step.input("appConfig").unwrap_or("").to_string(),
        },
        "start" => Command::Start,
        "stop" => Command::Stop,
        "uninstall" => Command::Uninstall,
        other => return Err(format!("NodeMCU devices have no operation '{other}'")),
    })
}

/// Runs one operation against the devices of `step`.
pub async fn run_operation(
    config: &NodeMcuConfig,
    step: &Step,
    ctx: &DriverContext,
) -> Result<Outputs, String> {
    let broker = parse_pubsub(required(step, "pubSubServer")?).map_err(|e| e.to_string())?;
    let control = required(step, "controlTopic")?.to_string();
    let response = required(step, "responseTopic")?.to_string();
    let listed = parse_hardware_ids(required(step, "hardwareIds")?)?;
    let command = command_for(step, &ctx.artifacts, ctx)?;
    let payload = serde_json::to_vec(&command).map_err(|e| e.to_string())?;
    let timeout = if step.operation == "install" {
        config.install_timeout
    } else {
        config.other_timeout
    };

    let client_id = format!("provisio-engine-{}", rand::random::<u32>());
    let mut opts = MqttOptions::new(client_id, broker.host.clone(), broker.port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_clean_session(true);
    opts.set_max_packet_size(1024 * 1024, 1024 * 1024);
    security::apply(step, &broker, &mut opts)?;
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    let status_filter = format!("{response}/status/+");
    let status_prefix = format!("{response}/status/");
    // Behind a gateway: where its bridge reports its connection to this broker (1 up, 0 down).
    let gateway = step
        .input("gatewayStatusTopic")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let mut gateway_down = false;

    let mut collector = Collector::new(&step.operation, listed);
    let total = collector.listed().len() as u64;
    let node = step.node.clone();
    // Connect and subscribe before publishing, so no answer is missed. The gateway's status
    // first: its retained value arrives before the other subscriptions are acknowledged.
    if let Some(t) = &gateway {
        client
            .subscribe(t.clone(), QoS::AtLeastOnce)
            .await
            .map_err(|e| format!("MQTT: {e}"))?;
    }
    client
        .subscribe(response.clone(), QoS::AtLeastOnce)
        .await
        .map_err(|e| format!("MQTT: {e}"))?;
    // Statuses at QoS 0: the broker replays every device's retained status at this
    // subscription, and at QoS 1 that replay goes out at most max_inflight_messages
    // unacknowledged messages at a time (20 by default, 1,000 for the local broker), the rest
    // queued ahead of the answers on the same connection: with 10,000 devices the first answer
    // waited about 2 s behind some 9,000 statuses. A status is an optional hint; a reconnect
    // subscribes again and gets the retained ones anew.
    client
        .subscribe(status_filter, QoS::AtMostOnce)
        .await
        .map_err(|e| format!("MQTT: {e}"))?;
    let connect_deadline = Instant::now() + config.connect_timeout;
    let mut subacks = 0;
    while subacks < 2 + usize::from(gateway.is_some()) {
        let ev = tokio::select! {
            _ = ctx.cancel.cancelled() => return Err("cancelled".into()),
            _ = tokio::time::sleep_until(connect_deadline) => {
                return Err(format!("cannot reach the MQTT broker {}:{} (pubSubServer) within {:?}", broker.host, broker.port, config.connect_timeout));
            }
            ev = eventloop.poll() => ev,
        };
        match ev {
            Ok(Event::Incoming(Packet::SubAck(_))) => subacks += 1,
            Ok(Event::Incoming(Packet::Publish(p))) if gateway.as_deref() == Some(&p.topic) => {
                gateway_down = is_down(&p.payload);
            }
            Ok(Event::Incoming(Packet::Publish(p))) => handle(
                &mut collector,
                &p.topic,
                &p.payload,
                &response,
                &status_prefix,
                ctx,
                &node,
            ),
            Ok(_) => {}
            Err(e) => {
                if let Some(reason) = security::fatal_reason(&e) {
                    return Err(format!(
                        "cannot connect to the MQTT broker {}:{} (pubSubServer): {reason}",
                        broker.host, broker.port
                    ));
                }
                // Retry until the deadline: the broker may be starting.
                tracing::debug!("MQTT connect: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    if gateway_down {
        // The central broker would keep the command for the bridge and hand it over whenever
        // the gateway is back, long after this operation ended: not sent at all.
        let _ = client.disconnect().await;
        return Err(gateway_failure(
            &collector,
            gateway.as_deref(),
            ctx,
            &node,
            false,
        ));
    }
    client
        .publish(control.clone(), QoS::AtLeastOnce, false, payload)
        .await
        .map_err(|e| format!("MQTT: {e}"))?;
    ctx.events.log(
        Level::Info,
        Some(&node),
        format!(
            "{} sent to {} device(s) on '{control}'",
            step.operation, total
        ),
    );

    let deadline = Instant::now() + timeout;
    let mut grace_until: Option<Instant> = None;
    let mut last_progress = u64::MAX;
    loop {
        if collector.settled() {
            break;
        }
        if collector.complete() && grace_until.is_none() && total > 0 {
            grace_until = Some(Instant::now() + config.grace);
        }
        let until = grace_until.map_or(deadline, |g| g.min(deadline));
        let ev = tokio::select! {
            _ = ctx.cancel.cancelled() => {
                let _ = client.disconnect().await;
                return Err("cancelled".into());
            }
            _ = tokio::time::sleep_until(until) => break,
            ev = eventloop.poll() => ev,
        };
        match ev {
            Ok(Event::Incoming(Packet::Publish(p))) if gateway.as_deref() == Some(&p.topic) => {
                if is_down(&p.payload) {
                    gateway_down = true;
                    break;
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => handle(
                &mut collector,
                &p.topic,
                &p.payload,
                &response,
                &status_prefix,
                ctx,
                &node,
            ),
            // Reconnected after a broker restart: the clean session lost its subscriptions.
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                let _ = client.subscribe(response.clone(), QoS::AtLeastOnce).await;
                let _ = client
                    .subscribe(format!("{response}/status/+"), QoS::AtMostOnce)
                    .await;
                ctx.events.log(
                    Level::Warn,
                    Some(&node),
                    "reconnected to the MQTT broker; listening again",
                );
            }
            Ok(_) => {}
            Err(e) => {
                // rumqttc reconnects on the next poll (broker restart); devices re-send
                // unacknowledged answers (QoS 1, persistent sessions).
                ctx.events.log(
                    Level::Warn,
                    Some(&node),
                    format!("MQTT connection: {e}; reconnecting"),
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        let answered = collector.answered() as u64;
        if answered != last_progress {
            last_progress = answered;
            ctx.events.send(DeployEvent::StepProgress {
                step: step.id.clone(),
                done: answered,
                total,
            });
        }
    }
    let _ = client.disconnect().await;
    if gateway_down {
        return Err(gateway_failure(
            &collector,
            gateway.as_deref(),
            ctx,
            &node,
            true,
        ));
    }
    for d in collector.missing() {
        ctx.events.device(&node, &d, DeviceState::TimedOut);
    }
    let (result, warnings, _table) = collector.finish();
    for w in warnings {
        ctx.events.log(Level::Warn, Some(&node), w);
    }
    result
}

/// A gateway status message saying its bridge is down (`0`, Mosquitto's notification).
fn is_down(payload: &[u8]) -> bool {
    std::str::from_utf8(payload).is_ok_and(|p| p.trim() == "0")
}

/// The operation's failure when the devices' gateway is down: every device that has not
/// answered is reported offline at once (no waiting for the timeout).
fn gateway_failure(
    collector: &Collector,
    topic: Option<&str>,
    ctx: &DriverContext,
    node: &str,
    sent: bool,
) -> String {
    let missing = collector.missing();
    for d in &missing {
        ctx.events.device(node, d, DeviceState::Offline);
    }
    let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
    format!(
        "the devices' gateway is down ({} says 0){}: {} of {} devices did not answer ({}{})",
        topic.unwrap_or_default(),
        if sent { "" } else { "; nothing was sent" },
        missing.len(),
        collector.listed().len(),
        shown.join(", "),
        if missing.len() > shown.len() {
            ", …"
        } else {
            ""
        }
    )
}

fn handle(
    c: &mut Collector,
    topic: &str,
    payload: &[u8],
    response: &str,
    status_prefix: &str,
    ctx: &DriverContext,
    node: &str,
) {
    let update = if topic == response {
        c.on_response(payload)
    } else if let Some(device) = topic.strip_prefix(status_prefix) {
        c.on_status(device, payload)
    } else {
        None
    };
    if let Some(u) = update {
        ctx.events.device(node, &u.device, u.state);
    }
}
