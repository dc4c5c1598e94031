//! Drives the sans-IO agent core through every shared protocol fixture
//! (`firmware/fixtures/protocol/*.json`, also read by the Arduino library's host tests):
//! command in, exact response, app callbacks and resulting state out.

use std::path::PathBuf;

use bytes::Bytes;
use provisio_firmware::agent::{Action, Agent, AgentConfig, App, DeviceState, Input, SlotImage};
use provisio_model::protocol::DeviceMessage;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    description: String,
    #[serde(rename = "hardwareId")]
    hardware_id: String,
    given: Given,
    command: String,
    download: Option<Download>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Given {
    installed: Option<Image>,
    running: bool,
    app_config: Option<String>,
    app_refuses_start: bool,
}

#[derive(Deserialize, Debug, PartialEq, Clone)]
struct Image {
    md5: String,
    size: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Download {
    body_hex: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Expect {
    response: Option<String>,
    callbacks: Vec<String>,
    installed: Option<Image>,
    running: bool,
    app_config: Option<String>,
    reboot: bool,
}

/// An app that records its callbacks.
struct Recorder {
    refuse_start: bool,
    calls: Vec<String>,
}

impl App for Recorder {
    fn install(&mut self) {
        self.calls.push("install".into());
    }
    fn configure(&mut self, _: &str) {
        self.calls.push("configure".into());
    }
    fn start(&mut self) -> bool {
        self.calls.push("start".into());
        !self.refuse_start
    }
    fn stop(&mut self) {
        self.calls.push("stop".into());
    }
    fn uninstall(&mut self) {
        self.calls.push("uninstall".into());
    }
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/protocol")
}

/// Run one fixture; returns a description of the first mismatch.
fn run(fx: &Fixture) -> Result<(), String> {
    let state = DeviceState {
        slot_a: fx.given.installed.as_ref().map(|i| SlotImage {
            md5: i.md5.clone(),
            size: i.size,
        }),
        running: fx.given.running,
        app_config: fx.given.app_config.clone(),
        ..Default::default()
    };
    let mut agent = Agent::new(
        fx.hardware_id.clone(),
        state.clone(),
        AgentConfig::default(),
    );
    // The app resumes at boot when it was running; that is not part of the fixture's callbacks.
    let mut app = Recorder {
        refuse_start: false,
        calls: Vec::new(),
    };
    let _ = agent.handle(Input::Boot, &mut app);
    app = Recorder {
        refuse_start: fx.given.app_refuses_start,
        calls: Vec::new(),
    };

    let mut actions = agent.handle(
        Input::Message(Bytes::from(fx.command.clone().into_bytes())),
        &mut app,
    );
    let mut all = actions.clone();
    if actions
        .iter()
        .any(|a| matches!(a, Action::StartDownload { .. }))
    {
        let body = hex::decode(
            &fx.download
                .as_ref()
                .ok_or("install without download")?
                .body_hex,
        )
        .map_err(|e| e.to_string())?;
        let mut inputs = vec![Input::DownloadStarted {
            total: Some(body.len() as u64),
        }];
        inputs.extend(
            body.chunks(16)
                .map(|c| Input::DownloadChunk(Bytes::copy_from_slice(c))),
        );
        inputs.push(Input::DownloadFinished);
        for input in inputs {
            actions = agent.handle(input, &mut app);
            let stop = actions
                .iter()
                .any(|a| matches!(a, Action::AbortDownload | Action::Reboot));
            all.extend(actions.clone());
            if stop || !agent.is_installing() {
                break;
            }
        }
    }
    let rebooted = all.iter().any(|a| matches!(a, Action::Reboot));
    if rebooted {
        let persisted = all
            .iter()
            .rev()
            .find_map(|a| {
                if let Action::Persist(s) = a {
                    Some(s.clone())
                } else {
                    None
                }
            })
            .ok_or("reboot without persisted state")?;
        agent = Agent::new(fx.hardware_id.clone(), persisted, AgentConfig::default());
        all.extend(agent.handle(Input::Boot, &mut app));
    }
    let responses: Vec<String> = all
        .iter()
        .filter_map(|a| match a {
            Action::Publish(DeviceMessage::Response {
                response,
                hardware_id,
            }) => {
                assert_eq!(hardware_id, &fx.hardware_id);
                Some(response.clone())
            }
            _ => None,
        })
        .collect();
    let expected: Vec<String> = fx.expect.response.iter().cloned().collect();
    let st = agent.state();
    let installed = st.installed().map(|i| Image {
        md5: i.md5.clone(),
        size: i.size,
    });
    let checks = [
        (
            "responses",
            format!("{responses:?}"),
            format!("{expected:?}"),
        ),
        (
            "callbacks",
            format!("{:?}", app.calls),
            format!("{:?}", fx.expect.callbacks),
        ),
        (
            "installed",
            format!("{installed:?}"),
            format!("{:?}", fx.expect.installed),
        ),
        (
            "running",
            st.running.to_string(),
            fx.expect.running.to_string(),
        ),
        (
            "appConfig",
            format!("{:?}", st.app_config),
            format!("{:?}", fx.expect.app_config),
        ),
        ("reboot", rebooted.to_string(), fx.expect.reboot.to_string()),
    ];
    for (what, got, want) in checks {
        if got != want {
            return Err(format!("{what}: got {got}, want {want}"));
        }
    }
    if st.flashing.is_some() {
        return Err(format!("leftover install markers: {st:?}"));
    }
    Ok(())
}

#[test]
fn every_protocol_fixture_passes() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 20,
        "fixtures missing in {}",
        fixtures_dir().display()
    );
    let mut failures = Vec::new();
    for p in &paths {
        let fx: Fixture = serde_json::from_str(&std::fs::read_to_string(p).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if let Err(e) = run(&fx) {
            failures.push(format!(
                "{} ({}): {e}",
                p.file_name().unwrap().to_string_lossy(),
                fx.description
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
