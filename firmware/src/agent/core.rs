//! The transport-free device agent (sans-IO, like `quinn-proto`): inputs (control messages,
//! download events, boot, timer) go in, [`Action`]s (publish, download, write slot, persist,
//! reboot) come out. The tokio runner only moves bytes; tests drive this directly.
//!
//! Image bytes reach the agent in one of two ways: as [`Input::DownloadChunk`]s (the agent
//! checks them and asks for [`Action::WriteSlot`]), or, as the runner does, through the
//! install's [`ImageCheck`], which the runner borrows for the length of one download
//! ([`Agent::lend_image_check`]) and gives back with [`Input::ImageCheckBack`] before the
//! download's last event. Both apply the same checks.
//!
//! Malformed control messages (bad JSON, unknown `messageType`) are ignored with a log line and
//! no response: every device shares the control topic, and an answer could not name the command.

use std::time::Duration;

use bytes::Bytes;
use provisio_model::protocol::{Command, DeviceMessage};

use super::image::ImageCheck;
use super::state::{DeviceState, Slot, SlotImage};

/// The exact failure reasons a device sends as `error: <reason>`.
pub mod reasons {
    pub const MD5_MISMATCH: &str = "md5 mismatch";
    pub const SIZE_MISMATCH: &str = "size mismatch";
    pub const BAD_MAGIC_BYTE: &str = "bad magic byte";
    pub const NOT_ENOUGH_SPACE: &str = "not enough space";
    /// Prefix: `download failed: <detail>`.
    pub const DOWNLOAD_FAILED: &str = "download failed";
    pub const NO_APP_INSTALLED: &str = "no app installed";
    pub const APP_REFUSED_TO_START: &str = "app refused to start";
    /// The device rebooted while it wrote the new image; the old app is kept.
    pub const FLASH_INTERRUPTED: &str = "flash interrupted";
    /// Prefix: `flash write failed: <cause>` (the slot could not be written).
    pub const FLASH_WRITE_FAILED: &str = "flash write failed";
    /// A command arrived while an install was still downloading.
    pub const BUSY: &str = "busy installing";
}

/// The app's callbacks (thesis listing 4.1: setCallbackInstall/Configure/Start/Stop/Uninstall).
/// The app must bring itself into a safe state on stop and uninstall.
pub trait App {
    /// An install is about to replace the app.
    fn install(&mut self) {}
    /// New configuration text, unchanged from the command.
    fn configure(&mut self, _app_config: &str) {}
    /// Start the app; `false` means it refused.
    fn start(&mut self) -> bool {
        true
    }
    /// Stop the app (safe state).
    fn stop(&mut self) {}
    /// The app is being removed (safe state).
    fn uninstall(&mut self) {}
}

/// An app that accepts everything.
#[derive(Debug, Default)]
pub struct NullApp;
impl App for NullApp {}

/// Tunables of one agent.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Bytes one slot can hold (ESP8266 4 MB flash: about 1 MB per OTA slot).
    pub slot_capacity: u64,
    /// How often a broken download is resumed before the install fails.
    pub max_download_attempts: u32,
    /// Wait before resuming a broken download.
    pub retry_delay: Duration,
    /// Progress messages per install (every 1/steps of the image; 0 = none).
    pub progress_steps: u64,
    /// Least time between two progress messages of one download (the runner's download keeps
    /// it): a fast download reports none, a slow one about once a second.
    pub progress_interval: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            slot_capacity: 1 << 20,
            max_download_attempts: 5,
            retry_delay: Duration::from_millis(200),
            progress_steps: 10,
            progress_interval: Duration::from_secs(1),
        }
    }
}

/// What happens to the agent.
#[derive(Debug, Clone)]
pub enum Input {
    /// The device (re)started from its persisted state.
    Boot,
    /// A payload arrived on the control topic.
    Message(Bytes),
    /// The HTTP response started; `total` is the full image size the server announced
    /// (Content-Length of a 200, the total of Content-Range of a 206) when known.
    DownloadStarted { total: Option<u64> },
    /// The next bytes of the image, continuing where the previous chunk ended.
    DownloadChunk(Bytes),
    /// The image check lent for a download comes back (before that download's last event).
    ImageCheckBack(ImageCheck),
    /// The download that holds the image check has written this many bytes of the image
    /// (a progress step; the runner sends these at most about once a second).
    DownloadProgress { written: u64 },
    /// The download that holds the image check refused the bytes (`reason` from
    /// [`reasons`]: bad magic byte, size mismatch); it has stopped.
    ImageRejected(&'static str),
    /// The server ended the body.
    DownloadFinished,
    /// The download broke; `retry` says whether resuming can help (not after a 404).
    DownloadFailed { reason: String, retry: bool },
    /// The timer set by [`Action::SetTimer`] fired.
    Timer,
    /// Writing to the slot failed (the install fails with `flash write failed: <cause>`).
    WriteFailed(String),
}

/// What the runner must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Publish on the response topic (QoS 1).
    Publish(DeviceMessage),
    /// GET `url`, with `Range: bytes=<offset>-` when offset > 0.
    StartDownload { url: String, offset: u64 },
    /// Stop the running download, ignore what it still delivers.
    AbortDownload,
    /// Write `data` at `offset` of `slot` (offset 0 truncates the slot first).
    WriteSlot {
        slot: Slot,
        offset: u64,
        data: Bytes,
    },
    /// Persist this state atomically before doing anything that follows.
    Persist(DeviceState),
    /// Persist this state (written before what follows, but not fsynced: losing it in a power
    /// cut must cost nothing but a diagnosis).
    PersistMarker(DeviceState),
    /// Fire [`Input::Timer`] after this delay.
    SetTimer(Duration),
    /// Restart the device from its persisted state (then feed [`Input::Boot`]).
    Reboot,
    /// A line for the device log.
    Log(String),
}

/// An install in progress.
#[derive(Debug, Clone)]
struct Install {
    url: String,
    slot: Slot,
    attempts: u32,
    /// `None` while a download holds it.
    check: Option<ImageCheck>,
}

/// One device's agent.
#[derive(Debug)]
pub struct Agent {
    hardware_id: String,
    config: AgentConfig,
    state: DeviceState,
    install: Option<Install>,
}

impl Agent {
    /// An agent for `hardware_id` starting from `state` (feed [`Input::Boot`] next).
    pub fn new(hardware_id: impl Into<String>, state: DeviceState, config: AgentConfig) -> Self {
        Agent {
            hardware_id: hardware_id.into(),
            config,
            state,
            install: None,
        }
    }

    /// The device's hardware id.
    pub fn hardware_id(&self) -> &str {
        &self.hardware_id
    }

    /// The current state (what would be persisted).
    pub fn state(&self) -> &DeviceState {
        &self.state
    }

    /// Whether an install is downloading.
    pub fn is_installing(&self) -> bool {
        self.install.is_some()
    }

    /// Lend the running install's image check and the slot its bytes go to, for the download
    /// just started: that download checks and writes the bytes itself and sends
    /// [`Input::ImageCheckBack`] before its last event. `None` when no install runs or the
    /// check is already lent.
    pub fn lend_image_check(&mut self) -> Option<(ImageCheck, Slot)> {
        let job = self.install.as_mut()?;
        Some((job.check.take()?, job.slot))
    }

    /// Feed one input; returns the actions to perform in order.
    pub fn handle(&mut self, input: Input, app: &mut dyn App) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Boot => self.boot(app, &mut out),
            Input::Message(payload) => self.message(&payload, app, &mut out),
            Input::DownloadStarted { total } => self.download_started(total, &mut out),
            Input::DownloadChunk(data) => self.chunk(data, &mut out),
            Input::ImageCheckBack(check) => {
                if let Some(job) = &mut self.install {
                    job.check = Some(check);
                }
            }
            Input::DownloadProgress { written } => self.progress(written, &mut out),
            Input::ImageRejected(reason) => self.fail_install(reason, false, &mut out),
            Input::DownloadFinished => self.finished(&mut out),
            Input::DownloadFailed { reason, retry } => self.failed(reason, retry, &mut out),
            Input::WriteFailed(cause) => {
                let reason = format!("{}: {cause}", reasons::FLASH_WRITE_FAILED);
                self.fail_install(&reason, true, &mut out);
            }
            Input::Timer => {
                if let Some(job) = &self.install
                    && let Some(check) = &job.check
                {
                    out.push(Action::StartDownload {
                        url: job.url.clone(),
                        offset: check.written(),
                    });
                }
            }
        }
        out
    }

    fn respond_ok(&self, out: &mut Vec<Action>) {
        out.push(Action::Publish(DeviceMessage::success(&self.hardware_id)));
    }

    fn respond_err(&self, reason: &str, out: &mut Vec<Action>) {
        out.push(Action::Publish(DeviceMessage::error(
            &self.hardware_id,
            reason,
        )));
    }

    fn persist(&self, out: &mut Vec<Action>) {
        out.push(Action::Persist(self.state.clone()));
    }

    fn boot(&mut self, app: &mut dyn App, out: &mut Vec<Action>) {
        self.install = None;
        let mut dirty = false;
        if let Some(slot) = self.state.flashing.take() {
            // The reboot cut an install: the half-written slot is not bootable.
            self.state.set_slot(slot, None);
            out.push(Action::Log(format!(
                "boot: install into slot {slot:?} was interrupted"
            )));
            self.respond_err(reasons::FLASH_INTERRUPTED, out);
            dirty = true;
        }
        if self.state.running {
            if self.state.installed().is_some() && app.start() {
                out.push(Action::Log("boot: app resumed".into()));
            } else {
                self.state.running = false;
                dirty = true;
                out.push(Action::Log("boot: app could not be resumed".into()));
            }
        }
        if dirty {
            self.persist(out);
        }
    }

    fn message(&mut self, payload: &[u8], app: &mut dyn App, out: &mut Vec<Action>) {
        let cmd: Command = match serde_json::from_slice(payload) {
            Ok(c) => c,
            Err(e) => {
                out.push(Action::Log(format!("ignored control message: {e}")));
                return;
            }
        };
        if self.install.is_some() {
            self.respond_err(reasons::BUSY, out);
            return;
        }
        match cmd {
            Command::Install {
                install_url,
                binary_size,
                hash,
            } => self.begin_install(install_url, binary_size, hash, app, out),
            Command::Configure { app_config } => {
                if self.state.installed().is_none() {
                    return self.respond_err(reasons::NO_APP_INSTALLED, out);
                }
                app.configure(&app_config);
                self.state.app_config = Some(app_config);
                self.persist(out);
                self.respond_ok(out);
            }
            Command::Start => {
                if self.state.installed().is_none() {
                    return self.respond_err(reasons::NO_APP_INSTALLED, out);
                }
                if !self.state.running {
                    if !app.start() {
                        return self.respond_err(reasons::APP_REFUSED_TO_START, out);
                    }
                    self.state.running = true;
                    self.persist(out);
                }
                self.respond_ok(out);
            }
            Command::Stop => {
                if self.state.installed().is_none() {
                    return self.respond_err(reasons::NO_APP_INSTALLED, out);
                }
                if self.state.running {
                    app.stop();
                    self.state.running = false;
                    self.persist(out);
                }
                self.respond_ok(out);
            }
            Command::Uninstall => {
                if self.state.installed().is_none() {
                    return self.respond_err(reasons::NO_APP_INSTALLED, out);
                }
                if self.state.running {
                    app.stop();
                }
                app.uninstall();
                let active = self.state.active_slot;
                self.state.set_slot(active, None);
                self.state.running = false;
                self.state.app_config = None;
                self.persist(out);
                self.respond_ok(out);
            }
        }
    }

    fn begin_install(
        &mut self,
        url: String,
        size: u64,
        hash: String,
        app: &mut dyn App,
        out: &mut Vec<Action>,
    ) {
        if size == 0 {
            return self.respond_err(reasons::SIZE_MISMATCH, out);
        }
        if size > self.config.slot_capacity {
            return self.respond_err(reasons::NOT_ENOUGH_SPACE, out);
        }
        app.install();
        let slot = self.state.active_slot.other();
        self.install = Some(Install {
            url: url.clone(),
            slot,
            attempts: 1,
            check: Some(ImageCheck::new(size, &hash, self.config.progress_steps)),
        });
        self.state.flashing = Some(slot);
        // Not fsynced: this marker only lets the next boot say `flash interrupted`. Its loss in
        // a power cut costs that message (the engine reports a timeout), never the old app,
        // which stays active until the verified image's state is saved durably.
        out.push(Action::PersistMarker(self.state.clone()));
        out.push(Action::StartDownload { url, offset: 0 });
    }

    fn progress(&self, written: u64, out: &mut Vec<Action>) {
        if let Some(job) = &self.install {
            let total = job.check.as_ref().map_or(written, ImageCheck::size);
            out.push(Action::Publish(DeviceMessage::Progress {
                hardware_id: self.hardware_id.clone(),
                written,
                total,
            }));
        }
    }

    /// End the install with a failure: the running app stays untouched.
    fn fail_install(&mut self, reason: &str, abort: bool, out: &mut Vec<Action>) {
        if let Some(job) = self.install.take() {
            if abort {
                out.push(Action::AbortDownload);
            }
            self.state.flashing = None;
            self.state.set_slot(job.slot, None);
            self.persist(out);
            self.respond_err(reason, out);
        }
    }

    fn download_started(&mut self, total: Option<u64>, out: &mut Vec<Action>) {
        let Some(job) = &self.install else { return };
        let size = job.check.as_ref().map(ImageCheck::size);
        if let (Some(total), Some(size)) = (total, size)
            && total != size
        {
            self.fail_install(reasons::SIZE_MISMATCH, true, out);
        }
    }

    fn chunk(&mut self, data: Bytes, out: &mut Vec<Action>) {
        let Some(job) = &mut self.install else { return };
        let Some(check) = &mut job.check else { return };
        let offset = check.written();
        match check.accept(&data) {
            Err(reason) => self.fail_install(reason, true, out),
            Ok(_) if data.is_empty() => {}
            Ok(step) => {
                let written = check.written();
                out.push(Action::WriteSlot {
                    slot: job.slot,
                    offset,
                    data,
                });
                if step {
                    self.progress(written, out);
                }
            }
        }
    }

    fn finished(&mut self, out: &mut Vec<Action>) {
        let Some(job) = &self.install else { return };
        let Some(check) = &job.check else {
            // The download ended without giving the check back: nothing can be verified.
            return self.fail_install(reasons::SIZE_MISMATCH, false, out);
        };
        let digest = match check.verify() {
            Ok(d) => d,
            Err(reason) => return self.fail_install(reason, false, out),
        };
        let Some(job) = self.install.take() else {
            return;
        };
        // Switch slots: the new app boots, stopped and unconfigured. The answer goes out before
        // the reboot, as in the thesis ("answers with a response, then reboots"): the runner sends
        // it before it disconnects, and a command that comes in the meantime is handled after
        // the boot. Whether the new app came up shows at the next command.
        let size = job.check.as_ref().map_or(0, ImageCheck::size);
        self.state
            .set_slot(job.slot, Some(SlotImage { md5: digest, size }));
        self.state.active_slot = job.slot;
        self.state.flashing = None;
        self.state.running = false;
        self.state.app_config = None;
        self.persist(out);
        self.respond_ok(out);
        out.push(Action::Reboot);
    }

    fn failed(&mut self, reason: String, retry: bool, out: &mut Vec<Action>) {
        let Some(job) = &mut self.install else { return };
        if retry && job.attempts < self.config.max_download_attempts {
            job.attempts += 1;
            out.push(Action::Log(format!(
                "download broke at {} bytes ({reason}), resuming",
                job.check.as_ref().map_or(0, ImageCheck::written)
            )));
            out.push(Action::SetTimer(self.config.retry_delay));
        } else {
            let text = format!("{}: {reason}", reasons::DOWNLOAD_FAILED);
            self.fail_install(&text, false, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};
    use provisio_model::protocol::ESP8266_MAGIC_BYTE;

    fn image() -> Vec<u8> {
        let mut v: Vec<u8> = (0..100u8).collect();
        v[0] = ESP8266_MAGIC_BYTE;
        v
    }

    fn install_cmd(body: &[u8]) -> Bytes {
        let cmd = Command::Install {
            install_url: "http://h/x.bin".into(),
            binary_size: body.len() as u64,
            hash: hex::encode(Md5::digest(body)),
        };
        Bytes::from(serde_json::to_vec(&cmd).unwrap())
    }

    fn responses(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Publish(DeviceMessage::Response { response, .. }) => Some(response.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn broken_download_resumes_from_written_offset() {
        let body = image();
        let mut agent = Agent::new("d", DeviceState::default(), AgentConfig::default());
        let acts = agent.handle(Input::Message(install_cmd(&body)), &mut NullApp);
        assert!(acts.contains(&Action::StartDownload {
            url: "http://h/x.bin".into(),
            offset: 0
        }));
        agent.handle(Input::DownloadStarted { total: Some(100) }, &mut NullApp);
        agent.handle(
            Input::DownloadChunk(Bytes::copy_from_slice(&body[..40])),
            &mut NullApp,
        );
        let acts = agent.handle(
            Input::DownloadFailed {
                reason: "reset".into(),
                retry: true,
            },
            &mut NullApp,
        );
        assert!(matches!(acts.last(), Some(Action::SetTimer(_))));
        let acts = agent.handle(Input::Timer, &mut NullApp);
        assert_eq!(
            acts,
            vec![Action::StartDownload {
                url: "http://h/x.bin".into(),
                offset: 40
            }]
        );
        agent.handle(Input::DownloadStarted { total: Some(100) }, &mut NullApp);
        agent.handle(
            Input::DownloadChunk(Bytes::copy_from_slice(&body[40..])),
            &mut NullApp,
        );
        let acts = agent.handle(Input::DownloadFinished, &mut NullApp);
        // Saved, then answered, then rebooted: the answer never names a slot that a power loss
        // could take back.
        let order: Vec<&str> = acts
            .iter()
            .filter_map(|a| match a {
                Action::Persist(_) => Some("persist"),
                Action::Publish(_) => Some("publish"),
                Action::Reboot => Some("reboot"),
                _ => None,
            })
            .collect();
        assert_eq!(order, ["persist", "publish", "reboot"]);
        assert_eq!(responses(&acts), vec!["success"]);
        let Some(Action::Persist(st)) = acts.iter().find(|a| matches!(a, Action::Persist(_)))
        else {
            panic!()
        };
        let mut rebooted = Agent::new("d", st.clone(), AgentConfig::default());
        assert!(responses(&rebooted.handle(Input::Boot, &mut NullApp)).is_empty());
        assert_eq!(rebooted.state().active_slot, Slot::B);
    }

    #[test]
    fn download_gives_up_after_max_attempts_and_names_the_cause() {
        let body = image();
        let cfg = AgentConfig {
            max_download_attempts: 2,
            ..Default::default()
        };
        let mut agent = Agent::new("d", DeviceState::default(), cfg);
        agent.handle(Input::Message(install_cmd(&body)), &mut NullApp);
        agent.handle(
            Input::DownloadFailed {
                reason: "connect: refused".into(),
                retry: true,
            },
            &mut NullApp,
        );
        agent.handle(Input::Timer, &mut NullApp);
        let acts = agent.handle(
            Input::DownloadFailed {
                reason: "connect: refused".into(),
                retry: true,
            },
            &mut NullApp,
        );
        assert_eq!(
            responses(&acts),
            vec!["error: download failed: connect: refused"]
        );
        assert!(!agent.is_installing());
        let mut agent = Agent::new("d", DeviceState::default(), AgentConfig::default());
        agent.handle(Input::Message(install_cmd(&body)), &mut NullApp);
        let acts = agent.handle(
            Input::DownloadFailed {
                reason: "http 404".into(),
                retry: false,
            },
            &mut NullApp,
        );
        assert_eq!(responses(&acts), vec!["error: download failed: http 404"]);
    }

    #[test]
    fn boot_after_cut_flash_reports_it_and_keeps_old_app() {
        let old = SlotImage {
            md5: "old".into(),
            size: 8,
        };
        let st = DeviceState {
            slot_a: Some(old.clone()),
            running: true,
            flashing: Some(Slot::B),
            ..Default::default()
        };
        let mut agent = Agent::new("d", st, AgentConfig::default());
        let acts = agent.handle(Input::Boot, &mut NullApp);
        assert_eq!(responses(&acts), vec!["error: flash interrupted"]);
        assert_eq!(agent.state().installed(), Some(&old));
        assert!(agent.state().running && agent.state().flashing.is_none());
    }

    #[test]
    fn a_lent_image_check_verifies_the_download_that_held_it() {
        let body = image();
        let mut agent = Agent::new("d", DeviceState::default(), AgentConfig::default());
        let acts = agent.handle(Input::Message(install_cmd(&body)), &mut NullApp);
        // The marker that lets the next boot say `flash interrupted` is not fsynced.
        assert!(matches!(&acts[0], Action::PersistMarker(st) if st.flashing.is_some()));
        let (mut check, slot) = agent.lend_image_check().expect("lent");
        assert_eq!(slot, Slot::B);
        assert!(agent.lend_image_check().is_none(), "lent once");
        // What a download does with it: the bytes through the check, progress in between.
        assert!(check.accept(&body).unwrap());
        let acts = agent.handle(Input::DownloadProgress { written: 100 }, &mut NullApp);
        assert!(matches!(
            acts.as_slice(),
            [Action::Publish(DeviceMessage::Progress {
                written: 100,
                total: 100,
                ..
            })]
        ));
        agent.handle(Input::ImageCheckBack(check), &mut NullApp);
        let acts = agent.handle(Input::DownloadFinished, &mut NullApp);
        assert_eq!(acts.last(), Some(&Action::Reboot));

        // A refused image ends the install with its reason; the old app stays.
        let mut agent = Agent::new("d", DeviceState::default(), AgentConfig::default());
        agent.handle(Input::Message(install_cmd(&body)), &mut NullApp);
        let (check, _) = agent.lend_image_check().unwrap();
        agent.handle(Input::ImageCheckBack(check), &mut NullApp);
        let acts = agent.handle(Input::ImageRejected(reasons::BAD_MAGIC_BYTE), &mut NullApp);
        assert_eq!(responses(&acts), vec!["error: bad magic byte"]);
        assert!(!agent.is_installing());
        assert_eq!(agent.state().slot(Slot::B), None);
    }

    #[test]
    fn commands_during_an_install_are_answered_busy() {
        let body = image();
        let mut agent = Agent::new("d", DeviceState::default(), AgentConfig::default());
        agent.handle(Input::Message(install_cmd(&body)), &mut NullApp);
        let acts = agent.handle(
            Input::Message(Bytes::from_static(b"{\"messageType\":\"start\"}")),
            &mut NullApp,
        );
        assert_eq!(responses(&acts), vec!["error: busy installing"]);
        assert!(agent.is_installing());
    }

    #[test]
    fn a_failed_slot_write_ends_the_install_and_keeps_the_old_app() {
        let body = image();
        let old = SlotImage {
            md5: "old".into(),
            size: 8,
        };
        let st = DeviceState {
            slot_a: Some(old.clone()),
            running: true,
            ..Default::default()
        };
        let mut agent = Agent::new("d", st, AgentConfig::default());
        agent.handle(Input::Message(install_cmd(&body)), &mut NullApp);
        agent.handle(
            Input::DownloadChunk(Bytes::copy_from_slice(&body[..10])),
            &mut NullApp,
        );
        let acts = agent.handle(Input::WriteFailed("disk full".into()), &mut NullApp);
        assert_eq!(acts.first(), Some(&Action::AbortDownload));
        assert_eq!(
            responses(&acts),
            vec!["error: flash write failed: disk full"]
        );
        assert_eq!(agent.state().installed(), Some(&old));
        assert!(
            agent.state().running && agent.state().flashing.is_none() && !agent.is_installing()
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut agent = Agent::new("d", DeviceState::default(), AgentConfig::default());
        for junk in [
            &b""[..],
            b"\xff\xfe",
            b"[]",
            b"null",
            b"{\"messageType\":42}",
            b"{\"messageType\":\"install\",\"installUrl\":\"x\",\"binarySize\":-1,\"hash\":\"\"}",
        ] {
            let acts = agent.handle(Input::Message(Bytes::copy_from_slice(junk)), &mut NullApp);
            assert!(responses(&acts).is_empty());
        }
        // Download events without an install are ignored.
        assert!(
            agent
                .handle(Input::DownloadChunk(Bytes::from_static(b"x")), &mut NullApp)
                .is_empty()
        );
        assert!(
            agent
                .handle(Input::DownloadFinished, &mut NullApp)
                .is_empty()
        );
        assert!(agent.handle(Input::Timer, &mut NullApp).is_empty());
    }
}
