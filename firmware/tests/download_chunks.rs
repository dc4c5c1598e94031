//! The image download streams in bounded chunks: no chunk is larger than the read buffer
//! (`download::CHUNK`), and the chunks, in order, are the image (also when resuming mid-image).

mod support;

use provisio_firmware::agent::Input;
use provisio_firmware::agent::download::{CHUNK, LinkFaults, download};
use support::{ArtifactServer, image};

/// Runs one download from `offset` and returns the chunks it delivered, in order.
async fn chunks(url: String, offset: u64) -> Vec<bytes::Bytes> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let task = tokio::spawn(download(url, offset, LinkFaults::default(), 7, tx, None));
    let mut got = Vec::new();
    let mut finished = false;
    while let Some((tag, input)) = rx.recv().await {
        assert_eq!(tag, 7);
        match input {
            Input::DownloadStarted { .. } => {}
            Input::DownloadChunk(b) => got.push(b),
            Input::DownloadFinished => finished = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    task.await.unwrap();
    assert!(finished, "the download did not finish");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_image_arrives_in_bounded_chunks() {
    let img = image(3 << 20, 5);
    let server = ArtifactServer::start(vec![("big.bin", img.clone())]).await;
    let got = chunks(server.url("big.bin"), 0).await;
    let largest = got.iter().map(|c| c.len()).max().unwrap_or(0);
    assert!(
        largest <= CHUNK,
        "a chunk of {largest} bytes (limit {CHUNK})"
    );
    assert!(got.len() >= img.len() / CHUNK, "{} chunks", got.len());
    assert_eq!(got.concat(), img);

    let resumed = chunks(server.url("big.bin"), 1_000_001).await;
    assert!(resumed.iter().all(|c| c.len() <= CHUNK));
    assert_eq!(resumed.concat(), img[1_000_001..]);
}
