//! HTTP download of a firmware image with hyper (HTTP/1.1, plain TCP), resuming with
//! `Range: bytes=N-`, feeding the agent core's download inputs. Simulated link faults (slow
//! link, dropped connection, corrupted byte) are applied here, on the bytes as they arrive.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::core::Input;

/// Link faults applied to one download.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFaults {
    /// Throttle the body to this many bytes per second.
    pub rate: Option<u64>,
    /// Break the connection when half of the image has arrived.
    pub drop_mid: bool,
    /// Flip every bit of the byte in the middle of the image.
    pub corrupt: bool,
}

/// How long connecting and each read may take before the download counts as broken.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP read buffer of one download, and so the largest chunk it hands on: the body is
/// streamed to the slot in pieces of at most this size, never held whole (hyper's adaptive
/// buffer would grow to ~400 KiB per connection).
pub const CHUNK: usize = 32 * 1024;

/// Download `url` from image offset `offset`, sending `DownloadStarted`, `DownloadChunk`s and
/// finally `DownloadFinished` or `DownloadFailed` to `tx`, each tagged with `tag` (so the
/// receiver can drop what an aborted download still sent). With a `gate`, holds one of its
/// permits for the whole transfer.
pub async fn download(
    url: String,
    offset: u64,
    faults: LinkFaults,
    tag: u32,
    tx: mpsc::Sender<(u32, Input)>,
    gate: Option<std::sync::Arc<tokio::sync::Semaphore>>,
) {
    // Wait for a download slot: an artifact server (and the open-files limit) bounds how many
    // images can be in flight at once.
    let _permit = match gate {
        Some(g) => g.acquire_owned().await.ok(),
        None => None,
    };
    let wrap = |input| (tag, input);
    let end = match fetch(&url, offset, &faults, &tx, wrap).await {
        Ok(()) => Input::DownloadFinished,
        Err(e) => Input::DownloadFailed {
            reason: e.reason,
            retry: e.retry,
        },
    };
    let _ = tx.send(wrap(end)).await;
}

struct Failure {
    reason: String,
    retry: bool,
}

fn retryable(reason: impl Into<String>) -> Failure {
    Failure {
        reason: reason.into(),
        retry: true,
    }
}

fn fatal(reason: impl Into<String>) -> Failure {
    Failure {
        reason: reason.into(),
        retry: false,
    }
}

/// Parse `bytes a-b/total` into `(a, total)`.
fn content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()))
}

async fn fetch<T>(
    url: &str,
    offset: u64,
    faults: &LinkFaults,
    tx: &mpsc::Sender<T>,
    wrap: impl Fn(Input) -> T,
) -> Result<(), Failure> {
    let uri: Uri = url
        .parse()
        .map_err(|e| fatal(format!("bad url {url}: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(fatal(format!("unsupported url {url} (http only)")));
    }
    let host = uri
        .host()
        .ok_or_else(|| fatal(format!("bad url {url}: no host")))?
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| retryable("connect timed out"))?
        .map_err(|e| retryable(format!("connect: {e}")))?;
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .read_buf_exact_size(Some(CHUNK))
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| retryable(format!("http: {e}")))?;
    let conn_task = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = async {
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let mut req = Request::get(path).header(
            hyper::header::HOST,
            uri.authority().map(|a| a.as_str()).unwrap_or(""),
        );
        if offset > 0 {
            req = req.header(hyper::header::RANGE, format!("bytes={offset}-"));
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|e| fatal(format!("request: {e}")))?;
        let resp = tokio::time::timeout(IO_TIMEOUT, sender.send_request(req))
            .await
            .map_err(|_| retryable("response timed out"))?
            .map_err(|e| retryable(format!("http: {e}")))?;
        let status = resp.status();
        let length = resp
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        // `skip`: bytes of the body before `offset` (a server that ignored the Range header).
        let (total, mut skip) = match status {
            StatusCode::OK => (length, offset),
            StatusCode::PARTIAL_CONTENT => {
                let range = resp
                    .headers()
                    .get(hyper::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(content_range);
                match range {
                    Some((start, total)) if start == offset => (total, 0),
                    _ => return Err(retryable("bad Content-Range")),
                }
            }
            s if s.is_server_error() => return Err(retryable(format!("http {}", s.as_u16()))),
            s => return Err(fatal(format!("http {}", s.as_u16()))),
        };
        if tx
            .send(wrap(Input::DownloadStarted { total }))
            .await
            .is_err()
        {
            return Ok(());
        }
        let image_len = total.or(length.map(|l| l + offset)).unwrap_or(0);
        let drop_at = (faults.drop_mid && offset == 0 && image_len >= 2).then_some(image_len / 2);
        let corrupt_at = (faults.corrupt && image_len > 0).then_some(image_len / 2);
        let mut pos = offset;
        let mut body = resp.into_body();
        loop {
            let frame = match tokio::time::timeout(IO_TIMEOUT, body.frame()).await {
                Err(_) => return Err(retryable("read timed out")),
                Ok(None) => return Ok(()),
                Ok(Some(Err(e))) => return Err(retryable(format!("read: {e}"))),
                Ok(Some(Ok(f))) => f,
            };
            let Ok(mut data) = frame.into_data() else {
                continue;
            };
            if skip > 0 {
                let n = skip.min(data.len() as u64) as usize;
                data = data.slice(n..);
                skip -= n as u64;
            }
            while !data.is_empty() {
                // Under a slow link, deliver at most a tenth of a second's worth at a time.
                let max = faults
                    .rate
                    .map(|r| (r / 10).max(1) as usize)
                    .unwrap_or(usize::MAX);
                let mut piece = data.split_to(max.min(data.len()));
                if let Some(drop_at) = drop_at
                    && pos + piece.len() as u64 > drop_at
                {
                    let keep = drop_at.saturating_sub(pos) as usize;
                    if keep > 0 {
                        let _ = tx
                            .send(wrap(Input::DownloadChunk(piece.slice(..keep))))
                            .await;
                    }
                    return Err(retryable("connection reset (injected)"));
                }
                if let Some(at) = corrupt_at
                    && at >= pos
                    && at < pos + piece.len() as u64
                {
                    let mut owned = piece.to_vec();
                    owned[(at - pos) as usize] ^= 0xFF;
                    piece = Bytes::from(owned);
                }
                if let Some(rate) = faults.rate {
                    let secs = piece.len() as f64 / rate.max(1) as f64;
                    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                }
                pos += piece.len() as u64;
                if tx.send(wrap(Input::DownloadChunk(piece))).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
    .await;
    conn_task.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::content_range;

    #[test]
    fn parses_content_range() {
        assert_eq!(content_range("bytes 100-199/200"), Some((100, Some(200))));
        assert_eq!(content_range("bytes 0-9/*"), Some((0, None)));
        assert_eq!(content_range("items 0-9/10"), None);
    }
}
