//! Property tests of the sans-IO agent: any bytes on the control topic and any order of
//! download events never panic, never report `success` for an install whose bytes do not match,
//! and never leave the running app changed by a failed install.

use bytes::Bytes;
use md5::{Digest, Md5};
use proptest::prelude::*;
use provisio_firmware::agent::{
    Action, Agent, AgentConfig, DeviceState, Input, NullApp, SlotImage,
};
use provisio_model::protocol::{Command, DeviceMessage};

fn responses(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Publish(DeviceMessage::Response { response, .. }) => Some(response.clone()),
            _ => None,
        })
        .collect()
}

fn arb_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        Just(Input::Boot),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|v| Input::Message(Bytes::from(v))),
        proptest::option::of(0u64..200).prop_map(|total| Input::DownloadStarted { total }),
        proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|v| Input::DownloadChunk(Bytes::from(v))),
        Just(Input::DownloadFinished),
        any::<bool>().prop_map(|retry| Input::DownloadFailed {
            reason: "x".into(),
            retry
        }),
        Just(Input::Timer),
        Just(Input::WriteFailed("x".into())),
    ]
}

proptest! {
    #[test]
    fn arbitrary_inputs_never_panic(inputs in proptest::collection::vec(arb_input(), 0..40)) {
        let mut agent = Agent::new("d", DeviceState::default(), AgentConfig::default());
        for input in inputs {
            let _ = agent.handle(input, &mut NullApp);
        }
    }

    /// An install fed arbitrary bytes answers success only when they are exactly the image.
    #[test]
    fn install_success_only_for_the_right_bytes(
        image in proptest::collection::vec(any::<u8>(), 1..300),
        served in proptest::collection::vec(any::<u8>(), 0..300),
        chunk in 1usize..64,
    ) {
        let mut image = image;
        image[0] = 0xE9;
        let cmd = Command::Install {
            install_url: "http://h/a.bin".into(),
            binary_size: image.len() as u64,
            hash: hex::encode(Md5::digest(&image)),
        };
        let old = SlotImage { md5: "old".into(), size: 1 };
        let st = DeviceState { slot_a: Some(old.clone()), running: true, ..Default::default() };
        let mut agent = Agent::new("d", st, AgentConfig::default());
        let mut all = agent.handle(Input::Message(Bytes::from(serde_json::to_vec(&cmd).unwrap())), &mut NullApp);
        all.extend(agent.handle(Input::DownloadStarted { total: None }, &mut NullApp));
        for c in served.chunks(chunk) {
            if !agent.is_installing() { break; }
            all.extend(agent.handle(Input::DownloadChunk(Bytes::copy_from_slice(c)), &mut NullApp));
        }
        all.extend(agent.handle(Input::DownloadFinished, &mut NullApp));
        let rebooted = all.contains(&Action::Reboot);
        prop_assert_eq!(rebooted, served == image);
        if !rebooted {
            let r = responses(&all);
            prop_assert_eq!(r.len(), 1);
            prop_assert!(r[0].starts_with("error: "));
            prop_assert_eq!(agent.state().installed(), Some(&old));
            prop_assert!(agent.state().running);
        }
        prop_assert!(!agent.is_installing());
    }
}
