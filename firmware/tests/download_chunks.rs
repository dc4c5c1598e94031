//! The image download streams from the socket into the slot file in one task: the slot holds
//! the image (also when resuming mid-image), the image check comes back having seen every
//! byte, and a fast download reports no progress while a slow one does.

mod support;

use std::time::Duration;

use provisio_firmware::agent::download::{DownloadJob, Event, LinkFaults, download};
use provisio_firmware::agent::{ImageCheck, Input, Slot, reasons};
use support::{ArtifactServer, image, md5_hex};

/// What one download sent, in order, with the slot file's content after it.
struct Ran {
    progress: Vec<u64>,
    check: Option<ImageCheck>,
    end: Option<Input>,
    slot: Vec<u8>,
}

async fn run(url: String, check: ImageCheck, offset: u64, faults: LinkFaults) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let job = DownloadJob {
        url,
        offset,
        check,
        dir: dir.path().to_owned(),
        slot: Slot::B,
        faults,
        crash_during_flash: false,
        progress_interval: Duration::from_millis(300),
    };
    if offset > 0 {
        // A resumed download continues a slot that holds the first `offset` bytes.
        std::fs::write(
            dir.path().join(Slot::B.file_name()),
            vec![0u8; offset as usize],
        )
        .unwrap();
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let task = tokio::spawn(download(job, 7, tx, None));
    let mut ran = Ran {
        progress: Vec::new(),
        check: None,
        end: None,
        slot: Vec::new(),
    };
    while let Some((tag, ev)) = rx.recv().await {
        assert_eq!(tag, 7);
        match ev {
            Event::Agent(Input::DownloadProgress { written }) => ran.progress.push(written),
            Event::Agent(Input::ImageCheckBack(c)) => ran.check = Some(c),
            Event::Agent(other) => ran.end = Some(other),
            Event::SlotWritten(_) => {}
            Event::PowerLoss => panic!("no power loss was asked for"),
        }
    }
    task.await.unwrap();
    ran.slot = std::fs::read(dir.path().join(Slot::B.file_name())).unwrap_or_default();
    ran
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_image_lands_in_the_slot_and_resumes_mid_image() {
    let img = image(3 << 20, 5);
    let server = ArtifactServer::start(vec![("big.bin", img.clone())]).await;
    let check = ImageCheck::new(img.len() as u64, &md5_hex(&img), 10);
    let ran = run(server.url("big.bin"), check, 0, LinkFaults::default()).await;
    assert!(matches!(ran.end, Some(Input::DownloadFinished)));
    let back = ran.check.expect("the check came back");
    assert_eq!(back.verify().unwrap(), md5_hex(&img));
    assert_eq!(ran.slot, img);

    // Resume from the middle: the check has seen the first part already.
    let at = 1_000_001;
    let mut half = ImageCheck::new(img.len() as u64, &md5_hex(&img), 10);
    half.accept(&img[..at]).unwrap();
    let ran = run(
        server.url("big.bin"),
        half,
        at as u64,
        LinkFaults::default(),
    )
    .await;
    assert!(matches!(ran.end, Some(Input::DownloadFinished)));
    assert_eq!(ran.check.unwrap().verify().unwrap(), md5_hex(&img));
    assert_eq!(&ran.slot[at..], &img[at..]);
    assert!(
        server.ranges().contains(&format!("bytes={at}-")),
        "{:?}",
        server.ranges()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_reported_at_most_once_per_interval() {
    let img = image(40_000, 9);
    let server = ArtifactServer::start(vec![("app.bin", img.clone())]).await;
    let fast = run(
        server.url("app.bin"),
        ImageCheck::new(40_000, &md5_hex(&img), 10),
        0,
        LinkFaults::default(),
    )
    .await;
    assert!(fast.progress.is_empty(), "{:?}", fast.progress);
    // 40 KB at 40 KB/s: about a second, so two to four reports 300 ms apart.
    let slow = run(
        server.url("app.bin"),
        ImageCheck::new(40_000, &md5_hex(&img), 10),
        0,
        LinkFaults {
            rate: Some(40_000),
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(slow.end, Some(Input::DownloadFinished)));
    assert!(
        (2..=4).contains(&slow.progress.len()),
        "{:?}",
        slow.progress
    );
    assert!(slow.progress.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_size_or_first_byte_is_refused_before_anything_is_written() {
    let img = image(5_000, 1);
    let mut bad = img.clone();
    bad[0] = 0;
    let server =
        ArtifactServer::start(vec![("app.bin", img.clone()), ("bad.bin", bad.clone())]).await;
    let short = run(
        server.url("app.bin"),
        ImageCheck::new(4_000, &md5_hex(&img), 10),
        0,
        LinkFaults::default(),
    )
    .await;
    assert!(matches!(
        short.end,
        Some(Input::ImageRejected(r)) if r == reasons::SIZE_MISMATCH
    ));
    assert!(short.slot.is_empty());
    let magic = run(
        server.url("bad.bin"),
        ImageCheck::new(5_000, &md5_hex(&bad), 10),
        0,
        LinkFaults::default(),
    )
    .await;
    assert!(matches!(
        magic.end,
        Some(Input::ImageRejected(r)) if r == reasons::BAD_MAGIC_BYTE
    ));
    assert!(magic.slot.is_empty());
    assert_eq!(magic.check.unwrap().written(), 0);
}
