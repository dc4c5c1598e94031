//! The tokio runner of one simulated device: connects to the broker with rumqttc (client id =
//! hardware id, clean session off, last will `offline` on the retained status topic), feeds
//! control messages and download events into the sans-IO [`Agent`], and performs its actions
//! (publish, HTTP download, slot writes, atomic persistence, reboot).

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use provisio_model::protocol::{STATUS_OFFLINE, STATUS_ONLINE, status_topic};
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::core::{Action, Agent, AgentConfig, App, Input};
use super::download::{self as dl, DownloadJob, LinkFaults, download};
use super::security::BrokerSecurity;
use super::state::{self, DeviceState, Slot, StateError};
use crate::faults::{DeviceFaults, FaultTable};

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    pub host: String,
    pub port: u16,
}

/// A broker URL that could not be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "bad broker url '{0}' (expected tcp://HOST[:PORT] or mqtt://HOST[:PORT]; mqtts://HOST[:PORT] \
     where TLS settings can be given)"
)]
pub struct BrokerUrlError(pub String);

/// Parses a broker URL; `true` when it asks for TLS (`mqtts://`, `ssl://`, port 8883 by
/// default), `false` for `tcp://`, `mqtt://` or a bare `host:port` (port 1883 by default).
pub fn parse_broker_url(url: &str) -> Result<(BrokerAddr, bool), BrokerUrlError> {
    let bad = || BrokerUrlError(url.to_owned());
    let (rest, tls) = match url.split_once("://") {
        Some(("tcp" | "mqtt", rest)) => (rest, false),
        Some(("mqtts" | "ssl" | "tls", rest)) => (rest, true),
        Some(_) => return Err(bad()),
        None => (url, false),
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
        None => (rest, if tls { 8883 } else { 1883 }),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', '@']) {
        return Err(bad());
    }
    Ok((
        BrokerAddr {
            host: host.to_owned(),
            port,
        },
        tls,
    ))
}

impl std::str::FromStr for BrokerAddr {
    type Err = BrokerUrlError;

    /// `tcp://host:port` or `mqtt://host:port` (port 1883 when absent); a bare `host:port` too.
    /// TLS URLs are refused here: they need a [`BrokerSecurity`] (see [`parse_broker_url`]).
    fn from_str(url: &str) -> Result<Self, Self::Err> {
        match parse_broker_url(url)? {
            (addr, false) => Ok(addr),
            (_, true) => Err(BrokerUrlError(url.to_owned())),
        }
    }
}

/// Everything one device runner needs.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    pub hardware_id: String,
    pub broker: BrokerAddr,
    /// TLS and credentials for the broker.
    pub security: BrokerSecurity,
    pub control_topic: String,
    pub response_topic: String,
    /// The device's own directory (state file and slot images).
    pub dir: PathBuf,
    pub agent: AgentConfig,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
    /// How long a simulated reboot takes.
    pub reboot_delay: Duration,
}

/// Shared by all runners of a fleet.
#[derive(Debug)]
pub struct Shared {
    pub faults: Arc<FaultTable>,
    /// Limits how many devices connect at the same moment (a broker's listen backlog is finite).
    pub connect_gate: Arc<Semaphore>,
    /// Limits how many devices download at the same moment (sockets, server capacity).
    pub download_gate: Arc<Semaphore>,
    /// Devices connected right now whose control-topic subscription the broker confirmed.
    pub online: AtomicUsize,
    /// Responses published so far.
    pub responses: AtomicUsize,
}

impl Shared {
    /// Shared state for a fleet with these faults, letting `concurrent_connects` connect at once.
    pub fn new(
        faults: Arc<FaultTable>,
        concurrent_connects: usize,
        concurrent_downloads: usize,
    ) -> Self {
        Shared {
            faults,
            connect_gate: Arc::new(Semaphore::new(concurrent_connects.max(1))),
            download_gate: Arc::new(Semaphore::new(concurrent_downloads.max(1))),
            online: AtomicUsize::new(0),
            responses: AtomicUsize::new(0),
        }
    }
}

/// Why a device runner stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("device {id}: {source}")]
    State { id: String, source: StateError },
}

/// The simulated app: accepts everything unless its device has the refuse-start fault.
struct SimApp {
    refuse_start: bool,
}

impl App for SimApp {
    fn start(&mut self) -> bool {
        !self.refuse_start
    }
}

/// What a planned reboot carries from one boot to the next outside the flash, as the ESP8266's
/// RTC memory survives a soft reset (a power loss clears it): the answer sent just before the
/// reboot when the goodbye could not get it out, and control messages that came in while the
/// device said goodbye (the broker had them from the device's session; they run after the boot).
#[derive(Debug, Default)]
struct Carried {
    answer: Option<Vec<u8>>,
    commands: Vec<Bytes>,
}

/// Why one boot of the device ended.
enum BootEnd {
    Shutdown,
    /// A planned restart: queued messages are flushed, status goes `offline`.
    Reboot,
    /// Power loss: the connection just drops (the broker sends the last will).
    Crash,
    Offline,
}

/// Run one device until `shutdown` fires. Reboots (after an install, a crash) and offline
/// periods happen inside; only a broken state directory ends it early.
pub async fn run_device(
    spec: DeviceSpec,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) -> Result<(), RunnerError> {
    let id = spec.hardware_id.clone();
    let state_err = |source| RunnerError::State {
        id: id.clone(),
        source,
    };
    let mut fault_rx = shared.faults.subscribe();
    let mut first_boot = true;
    // Whether the broker's session for this device holds the control topic's subscription:
    // set by a SubAck, cleared by a ConnAck that starts a new session. Kept across reboots.
    let mut session_subscribed = false;
    // What a planned reboot leaves in the simulated flash: exactly what the last boot saved
    // (a failed save ends the device), so it is not read back from disk.
    let mut flash: Option<(DeviceState, state::Copies)> = None;
    let mut carried = Carried::default();
    loop {
        while shared.faults.get(&spec.hardware_id).offline {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                r = fault_rx.changed() => if r.is_err() { return Ok(()) },
            }
        }
        let dir = spec.dir.clone();
        let loaded = if std::mem::take(&mut first_boot) {
            tokio::task::spawn_blocking(move || {
                // The device's flash: its directory, slot and state files exist from the start.
                state::provision(&dir)?;
                state::load_copies(&dir)
            })
            .await
            .unwrap_or_else(|e| {
                Err(StateError::Io {
                    path: spec.dir.clone(),
                    source: std::io::Error::other(e),
                })
            })
        } else if let Some(saved) = flash.take() {
            Ok(saved)
        } else {
            // Two small files the last boot wrote: read here, not through the blocking pool.
            state::load_copies(&dir)
        }
        .map_err(state_err)?;
        let (loaded, copies) = loaded;
        let mut boot = Boot::new(&spec, shared.clone(), loaded, copies);
        boot.session_subscribed = session_subscribed;
        boot.carried = std::mem::take(&mut carried);
        let end = boot.run(&shutdown, &mut fault_rx).await;
        session_subscribed = boot.session_subscribed;
        let end = end.map_err(state_err)?;
        if let BootEnd::Reboot = end {
            flash = Some((boot.saved.clone(), boot.copies.clone()));
            carried = std::mem::take(&mut boot.leftover);
        }
        match end {
            BootEnd::Shutdown => return Ok(()),
            BootEnd::Offline => {}
            BootEnd::Reboot | BootEnd::Crash => {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(spec.reboot_delay) => {}
                }
            }
        }
    }
}

/// What performing one action leads to.
enum Step {
    Continue,
    End(BootEnd),
    /// Feed this input to the agent next (e.g. a failed slot write).
    Then(Input),
}

/// One power-on period of a device: from boot to reboot, power loss or shutdown.
struct Boot<'a> {
    spec: &'a DeviceSpec,
    shared: Arc<Shared>,
    agent: Agent,
    client: AsyncClient,
    eventloop: rumqttc::EventLoop,
    status: String,
    tx: mpsc::Sender<(u32, dl::Event)>,
    rx: mpsc::Receiver<(u32, dl::Event)>,
    download: Option<JoinHandle<()>>,
    download_tag: u32,
    /// The slot the running download writes.
    download_slot: Option<Slot>,
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    connected: bool,
    /// The control topic's subscription is confirmed (and counted in `Shared::online`).
    subscribed: bool,
    /// The broker's session holds that subscription (a SubAck came since the session began).
    session_subscribed: bool,
    gate: Option<tokio::sync::OwnedSemaphorePermit>,
    /// The slot written since the last persist (fsynced before the state that names it).
    dirty_slot: Option<Slot>,
    /// The slot file being written, open across chunks, with the offset its next chunk has.
    slot_file: Option<SlotFile>,
    /// Where the state copies stand, and the state last saved.
    copies: state::Copies,
    saved: DeviceState,
    /// The last answer handed to MQTT (carried over a reboot when it certainly was not sent).
    last_answer: Option<Vec<u8>>,
    /// A publish was written since the last answer was handed (it may have been the answer).
    wrote: bool,
    /// What the previous boot carried over its planned reboot.
    carried: Carried,
    /// What this boot's planned reboot carries over.
    leftover: Carried,
}

/// The slot file last written, still open, so a persist syncs it through its handle.
struct SlotFile {
    slot: Slot,
    file: std::fs::File,
}

impl<'a> Boot<'a> {
    fn new(
        spec: &'a DeviceSpec,
        shared: Arc<Shared>,
        state: DeviceState,
        copies: state::Copies,
    ) -> Self {
        let status = status_topic(&spec.response_topic, &spec.hardware_id);
        let mut opts = MqttOptions::new(
            spec.hardware_id.clone(),
            spec.broker.host.clone(),
            spec.broker.port,
        );
        opts.set_clean_session(false)
            .set_keep_alive(spec.keep_alive)
            .set_inflight(8)
            .set_max_packet_size(64 * 1024, 64 * 1024)
            .set_last_will(LastWill::new(
                status.clone(),
                STATUS_OFFLINE,
                QoS::AtLeastOnce,
                true,
            ));
        spec.security.apply(&mut opts);
        let (client, eventloop) = AsyncClient::new(opts, 32);
        // Download events: start, progress (about once a second), end. The image itself goes
        // from the socket to the slot inside the download task.
        let (tx, rx) = mpsc::channel(2);
        Boot {
            saved: state.clone(),
            copies,
            agent: Agent::new(spec.hardware_id.clone(), state, spec.agent.clone()),
            spec,
            shared,
            client,
            eventloop,
            status,
            tx,
            rx,
            download: None,
            download_tag: 0,
            download_slot: None,
            timer: None,
            connected: false,
            subscribed: false,
            session_subscribed: false,
            gate: None,
            dirty_slot: None,
            slot_file: None,
            last_answer: None,
            wrote: false,
            carried: Carried::default(),
            leftover: Carried::default(),
        }
    }

    fn faults(&self) -> DeviceFaults {
        self.shared.faults.get(&self.spec.hardware_id)
    }

    /// The simulated app behaves like the thesis' SensorPublisher: while running it publishes a
    /// reading every `appConfig.interval` ms (3000 by default) on `sensors/<hardware id>`.
    fn telemetry_interval(&self) -> Duration {
        let ms = self
            .agent
            .state()
            .app_config
            .as_deref()
            .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
            .and_then(|v| v.get("interval").and_then(serde_json::Value::as_u64))
            .unwrap_or(3000)
            .max(100);
        Duration::from_millis(ms)
    }

    fn publish_reading(&mut self) {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let h = self
            .spec
            .hardware_id
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        // Mixed, so ids that agree modulo 100 (the thesis' 1361877 and 8797990) still differ;
        // each device gets its own offset and phase.
        let mixed = (h ^ (h >> 15)).wrapping_mul(0x2c1b_3c6d);
        let seed = f64::from(mixed % 100);
        let phase = f64::from(mixed % 628) / 100.0;
        let temperature = 21.0 + seed / 25.0 + (t / 20.0 + phase).sin() * 1.5;
        let humidity = 45.0 + seed / 10.0 + (t / 33.0 + phase).cos() * 4.0;
        let payload = format!(r#"{{"temperature":{temperature:.2},"humidity":{humidity:.1}}}"#);
        let _ = self.client.try_publish(
            format!("sensors/{}", self.spec.hardware_id),
            QoS::AtMostOnce,
            false,
            payload,
        );
    }

    /// The control topic's subscription stands (confirmed, or kept with the session): the
    /// device counts as online.
    fn now_subscribed(&mut self) {
        if self.connected && !self.subscribed {
            self.subscribed = true;
            self.shared.online.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The connection ended: no longer counted online.
    fn went_offline(&mut self) {
        self.connected = false;
        if std::mem::take(&mut self.subscribed) {
            self.shared.online.fetch_sub(1, Ordering::Relaxed);
        }
    }

    async fn run(
        &mut self,
        shutdown: &CancellationToken,
        fault_rx: &mut tokio::sync::watch::Receiver<u64>,
    ) -> Result<BootEnd, StateError> {
        let end = self.run_inner(shutdown, fault_rx).await;
        if let Some(d) = self.download.take() {
            d.abort();
        }
        self.went_offline();
        match end {
            Ok(BootEnd::Shutdown) => {
                self.goodbye().await;
            }
            Ok(BootEnd::Reboot) => {
                if self.faults().slow_reboot {
                    self.linger(Duration::from_millis(500)).await;
                }
                let flushed = self.goodbye().await;
                // The answer given just before the reboot is sent again after the boot only when
                // it certainly did not leave: nothing was written after it was handed over. A
                // second `success` would count for the engine's next operation.
                self.leftover.answer = if flushed || self.wrote {
                    None
                } else {
                    self.last_answer.take()
                };
            }
            _ => {}
        }
        end
    }

    async fn run_inner(
        &mut self,
        shutdown: &CancellationToken,
        fault_rx: &mut tokio::sync::watch::Receiver<u64>,
    ) -> Result<BootEnd, StateError> {
        if let Some(end) = self.feed(Input::Boot).await? {
            return Ok(end);
        }
        if let Some(answer) = self.carried.answer.take() {
            self.send_answer(answer);
        }
        for command in std::mem::take(&mut self.carried.commands) {
            if let Some(end) = self.feed(Input::Message(command)).await? {
                return Ok(end);
            }
        }
        loop {
            if !self.connected && self.gate.is_none() {
                let gate = self.shared.connect_gate.clone();
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(BootEnd::Shutdown),
                    p = gate.acquire_owned() => self.gate = p.ok(),
                }
            }
            let telemetry = self.telemetry_interval();
            let sending = self.connected && self.agent.state().running;
            let input = tokio::select! {
                _ = shutdown.cancelled() => return Ok(BootEnd::Shutdown),
                r = fault_rx.changed() => {
                    if r.is_err() || self.faults().offline { return Ok(BootEnd::Offline) }
                    continue;
                }
                ev = self.eventloop.poll() => match ev {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        self.gate = None;
                        self.connected = true;
                        // A session the broker kept (after a reboot: the session is not clean)
                        // that got its SubAck still holds the control topic's subscription, so
                        // the device is reachable at once and sends no SUBSCRIBE.
                        if ack.session_present && self.session_subscribed {
                            self.now_subscribed();
                        } else {
                            self.session_subscribed = false;
                            let _ = self.client.try_subscribe(self.spec.control_topic.clone(), QoS::AtLeastOnce);
                        }
                        let _ = self.client.try_publish(self.status.clone(), QoS::AtLeastOnce, true, STATUS_ONLINE);
                        continue;
                    }
                    // Online (for the fleet's count, which a deploy waits for before it sends the
                    // first command) once the broker confirmed the subscription: counted at
                    // ConnAck, a command sent before the broker took the SUBSCRIBE was lost.
                    Ok(Event::Incoming(Packet::SubAck(ack))) => {
                        // A refused subscription (e.g. by an ACL) leaves the device
                        // unreachable: not counted online, asked for again at the next
                        // connection.
                        self.session_subscribed = ack
                            .return_codes
                            .iter()
                            .all(|c| matches!(c, rumqttc::SubscribeReasonCode::Success(_)));
                        if self.session_subscribed {
                            self.now_subscribed();
                        } else {
                            tracing::warn!(device = %self.spec.hardware_id, "the broker refused the subscription to {}", self.spec.control_topic);
                        }
                        continue;
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == self.spec.control_topic => Input::Message(p.payload),
                    Ok(_) => continue,
                    Err(e) => {
                        // Refused credentials or certificates do not fix themselves: retry slowly.
                        let refused = matches!(e, rumqttc::ConnectionError::ConnectionRefused(_) | rumqttc::ConnectionError::Tls(_));
                        if refused {
                            tracing::warn!(device = %self.spec.hardware_id, "broker refused the connection: {e}");
                        } else {
                            tracing::debug!(device = %self.spec.hardware_id, "mqtt: {e}");
                        }
                        self.gate = None;
                        // rumqttc keeps packets it read before the connection failed and hands
                        // them out after the next ConnAck: a command the engine already counted
                        // as unanswered (its gateway died) would then run late, and a redeploy
                        // would meet "busy installing". They are dropped: the engine sends anew.
                        self.eventloop.state.events.clear();
                        self.went_offline();
                        tokio::select! {
                            _ = shutdown.cancelled() => return Ok(BootEnd::Shutdown),
                            _ = tokio::time::sleep(Duration::from_millis(if refused { 5000 } else { 500 })) => {}
                        }
                        continue;
                    }
                },
                Some((tag, event)) = self.rx.recv() => {
                    if tag != self.download_tag { continue }
                    match event {
                        dl::Event::Agent(input) => input,
                        dl::Event::SlotWritten(file) => {
                            if let Some(slot) = self.download_slot {
                                self.slot_file = Some(SlotFile { slot, file });
                                self.dirty_slot = Some(slot);
                            }
                            continue;
                        }
                        dl::Event::PowerLoss => {
                            tracing::info!(device = %self.spec.hardware_id, "simulated crash during flash");
                            return Ok(BootEnd::Crash);
                        }
                    }
                }
                _ = async { if let Some(t) = self.timer.as_mut() { t.await } }, if self.timer.is_some() => {
                    self.timer = None;
                    Input::Timer
                }
                _ = tokio::time::sleep(telemetry), if sending => {
                    self.publish_reading();
                    continue;
                }
            };
            if let Some(end) = self.feed(input).await? {
                return Ok(end);
            }
        }
    }

    /// Publish `offline` and disconnect cleanly (a clean disconnect suppresses the last will),
    /// after everything queued before (responses, progress) went out; `true` when it did.
    async fn goodbye(&mut self) -> bool {
        if self
            .client
            .try_publish(self.status.clone(), QoS::AtLeastOnce, true, STATUS_OFFLINE)
            .is_err()
            || self.client.try_disconnect().is_err()
        {
            return false;
        }
        self.drive(Duration::from_secs(5), true).await
    }

    /// Keep the connection going for `d` before the goodbye.
    async fn linger(&mut self, d: Duration) {
        self.drive(d, false).await;
    }

    /// Poll the connection on the way down, for at most `limit`; with `goodbye`, until the
    /// DISCONNECT went out (`true`). Control messages read meanwhile are kept for the next boot
    /// ([`Carried`]); a publish written sets `wrote`; a session the broker started anew (it
    /// lost the old one) is noted, so the next boot subscribes again.
    async fn drive(&mut self, limit: Duration, goodbye: bool) -> bool {
        let control = &self.spec.control_topic;
        let commands = &mut self.leftover.commands;
        let wrote = &mut self.wrote;
        let session_subscribed = &mut self.session_subscribed;
        let eventloop = &mut self.eventloop;
        tokio::time::timeout(limit, async {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) if goodbye => return true,
                    Ok(Event::Outgoing(rumqttc::Outgoing::Publish(_))) => *wrote = true,
                    Ok(Event::Incoming(Packet::ConnAck(ack))) if !ack.session_present => {
                        *session_subscribed = false;
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == *control => {
                        commands.push(p.payload);
                    }
                    Ok(_) => {}
                    Err(_) => return false,
                }
            }
        })
        .await
        .unwrap_or(false)
    }

    /// Hand an answer (a serialized response) to MQTT.
    fn send_answer(&mut self, payload: Vec<u8>) {
        if let Err(e) = self.client.try_publish(
            self.spec.response_topic.clone(),
            QoS::AtLeastOnce,
            false,
            payload.clone(),
        ) {
            tracing::warn!(device = %self.spec.hardware_id, "publish dropped: {e}");
        }
        self.last_answer = Some(payload);
        self.wrote = false;
    }

    /// Feed one input to the agent and perform its actions; `Some` ends this boot.
    async fn feed(&mut self, input: Input) -> Result<Option<BootEnd>, StateError> {
        let mut next = Some(input);
        while let Some(input) = next.take() {
            let mut app = SimApp {
                refuse_start: self.faults().refuse_start,
            };
            let actions = self.agent.handle(input, &mut app);
            for action in actions {
                match self.perform(action).await? {
                    Step::Continue => {}
                    Step::End(end) => return Ok(Some(end)),
                    // The rest of this batch is moot: the agent decides anew.
                    Step::Then(input) => {
                        next = Some(input);
                        break;
                    }
                }
            }
        }
        Ok(None)
    }

    /// Save `st`, after syncing the slot written since the last save. A `marker` need not
    /// survive a power loss: it is written in place on this thread, without fsync.
    async fn persist(&mut self, st: DeviceState, marker: bool) -> Result<(), StateError> {
        let dirty = self.dirty_slot.take();
        // The open slot file is synced through its handle and then closed: a persist ends the
        // writing of a slot (install finished or failed).
        let open = self.slot_file.take().filter(|f| Some(f.slot) == dirty);
        let mut open = open.map(|f| f.file);
        let durable = !marker;
        if !durable && dirty.is_none() {
            let mut copies = self.copies.clone();
            if state::save_to(&self.spec.dir, &st, &mut copies, false).is_ok() {
                self.copies = copies;
                self.saved = st;
                return Ok(());
            }
            // A failed write is retried below like any other save.
        }
        // A transient failure (e.g. too many open files) gets two more chances.
        let mut attempt = 0;
        loop {
            let dir = self.spec.dir.clone();
            let snapshot = st.clone();
            let file = open.take();
            let mut copies = self.copies.clone();
            let saved = tokio::task::spawn_blocking(move || {
                if let Some(slot) = dirty {
                    sync_slot(&dir, slot, file)?;
                }
                state::save_to(&dir, &snapshot, &mut copies, durable).map(|()| copies)
            })
            .await
            .unwrap_or_else(|e| {
                Err(StateError::Io {
                    path: self.spec.dir.clone(),
                    source: std::io::Error::other(e),
                })
            });
            match saved {
                Ok(copies) => {
                    self.copies = copies;
                    self.saved = st;
                    return Ok(());
                }
                Err(e) if attempt < 2 => {
                    tracing::warn!(device = %self.spec.hardware_id, "{e}; retrying");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn perform(&mut self, action: Action) -> Result<Step, StateError> {
        match action {
            Action::Publish(msg) => {
                let answer = matches!(
                    msg,
                    provisio_model::protocol::DeviceMessage::Response { .. }
                );
                match serde_json::to_vec(&msg) {
                    Ok(payload) if answer => {
                        self.shared.responses.fetch_add(1, Ordering::Relaxed);
                        self.send_answer(payload);
                    }
                    Ok(payload) => {
                        if let Err(e) = self.client.try_publish(
                            self.spec.response_topic.clone(),
                            QoS::AtLeastOnce,
                            false,
                            payload,
                        ) {
                            tracing::warn!(device = %self.spec.hardware_id, "publish dropped: {e}");
                        }
                    }
                    Err(e) => tracing::warn!("serialize: {e}"),
                }
            }
            Action::StartDownload { url, offset } => {
                if let Some(d) = self.download.take() {
                    d.abort();
                }
                self.download_tag = self.download_tag.wrapping_add(1);
                let Some((check, slot)) = self.agent.lend_image_check() else {
                    // Never silence: an install whose check is out cannot be verified, so it
                    // ends with an answer instead of leaving the engine waiting.
                    tracing::warn!(device = %self.spec.hardware_id, "download asked for while its image check is out");
                    return Ok(Step::Then(Input::DownloadFailed {
                        reason: "image check unavailable".into(),
                        retry: false,
                    }));
                };
                let f = self.faults();
                let job = DownloadJob {
                    url,
                    offset,
                    check,
                    dir: self.spec.dir.clone(),
                    slot,
                    faults: LinkFaults {
                        rate: f.slow_link,
                        drop_mid: f.drop_mid_download,
                        corrupt: f.corrupt_download,
                    },
                    crash_during_flash: f.crash_during_flash,
                    progress_interval: self.spec.agent.progress_interval,
                };
                // The slot file is reopened by the download.
                self.slot_file = None;
                self.download_slot = Some(slot);
                self.download = Some(tokio::spawn(download(
                    job,
                    self.download_tag,
                    self.tx.clone(),
                    Some(self.shared.download_gate.clone()),
                )));
            }
            Action::AbortDownload => {
                if let Some(d) = self.download.take() {
                    d.abort();
                }
                self.download_tag = self.download_tag.wrapping_add(1);
            }
            Action::WriteSlot { slot, offset, data } => {
                if self.faults().crash_during_flash {
                    // Power loss in the middle of the write: half of this chunk reaches flash.
                    let half = data.slice(..data.len() / 2);
                    let _ = write_slot(&self.spec.dir, &mut self.slot_file, slot, offset, &half);
                    self.slot_file = None;
                    tracing::info!(device = %self.spec.hardware_id, "simulated crash during flash");
                    return Ok(Step::End(BootEnd::Crash));
                }
                if let Err(e) = write_slot(&self.spec.dir, &mut self.slot_file, slot, offset, &data)
                {
                    self.slot_file = None;
                    tracing::warn!(device = %self.spec.hardware_id, "{e}");
                    return Ok(Step::Then(Input::WriteFailed(e.to_string())));
                }
                self.dirty_slot = Some(slot);
            }
            Action::Persist(st) => self.persist(st, false).await?,
            Action::PersistMarker(st) => self.persist(st, true).await?,
            Action::SetTimer(d) => self.timer = Some(Box::pin(tokio::time::sleep(d))),
            Action::Reboot => return Ok(Step::End(BootEnd::Reboot)),
            Action::Log(line) => tracing::debug!(device = %self.spec.hardware_id, "{line}"),
        }
        Ok(Step::Continue)
    }
}

/// Write `data` at `offset` of `slot` (the agent's chunk path; the runner's own downloads
/// write the slot themselves): appends through the open file of that slot where the chunk
/// continues it, else opens it at
/// `offset` ([`super::download::open_slot`]).
fn write_slot(
    dir: &Path,
    open: &mut Option<SlotFile>,
    slot: Slot,
    offset: u64,
    data: &Bytes,
) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: dir.join(slot.file_name()),
        source,
    };
    let f = match open {
        Some(f)
            if f.slot == slot && offset > 0 && (&f.file).stream_position().ok() == Some(offset) =>
        {
            f
        }
        _ => open.insert(SlotFile {
            slot,
            file: super::download::open_slot(dir, slot, offset).map_err(io)?,
        }),
    };
    f.file.write_all(data).map_err(io)
}

/// Flush `slot` to disk, through its still open handle when there is one.
fn sync_slot(dir: &Path, slot: Slot, open: Option<std::fs::File>) -> Result<(), StateError> {
    let path = dir.join(slot.file_name());
    let f = match open {
        Some(f) => f,
        None => std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|source| StateError::Io {
                path: path.clone(),
                source,
            })?,
    };
    f.sync_all()
        .map_err(|source| StateError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::BrokerAddr;

    #[test]
    fn broker_urls() {
        let b: BrokerAddr = "tcp://192.168.0.27:1883".parse().unwrap();
        assert_eq!(
            b,
            BrokerAddr {
                host: "192.168.0.27".into(),
                port: 1883
            }
        );
        let b: BrokerAddr = "mqtt://localhost".parse().unwrap();
        assert_eq!(b.port, 1883);
        assert!("ssl://x:8883".parse::<BrokerAddr>().is_err());
        assert!("tcp://:1883".parse::<BrokerAddr>().is_err());
        assert!("tcp://h:port".parse::<BrokerAddr>().is_err());
    }
}
