//! HTTP/1.1 download of a firmware image straight into its slot file, as the ESP8266 HTTP
//! updater does: one GET (with `Range: bytes=N-` to resume), a response that must give its
//! Content-Length, and each piece read off the socket checked ([`ImageCheck`]: magic byte,
//! size, MD5), written to the slot and forgotten, all in one task through one buffer of
//! [`CHUNK`] bytes. The agent hears about the start and end, a progress step at most every
//! `progress_interval`, and gets its image check back before the last event. Simulated link
//! faults (slow link, dropped connection, corrupted byte) and a power cut while flashing are
//! applied here, on the bytes as they arrive.

use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::Uri;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};

use super::core::{Input, reasons};
use super::image::ImageCheck;
use super::state::Slot;

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

/// The download's one buffer, and so the most it reads or writes at once: the image is
/// streamed to the slot, never held whole.
pub const CHUNK: usize = 32 * 1024;

/// One download of (the rest of) an image into a slot.
#[derive(Debug)]
pub struct DownloadJob {
    pub url: String,
    /// Where in the image the download starts (`check.written()` when resuming).
    pub offset: u64,
    /// The install's checks, lent by the agent.
    pub check: ImageCheck,
    /// The slot file: `dir/<slot file name>`.
    pub dir: PathBuf,
    pub slot: Slot,
    pub faults: LinkFaults,
    /// Simulate a power cut in the middle of the first write to the slot.
    pub crash_during_flash: bool,
    /// Report a progress step only when this long passed since the last report (or start).
    pub progress_interval: Duration,
}

/// What a download tells its device.
#[derive(Debug)]
pub enum Event {
    /// An input for the agent.
    Agent(Input),
    /// The slot file, written up to the image's end and still open (to be synced before the
    /// state that names it); sent before `ImageCheckBack` and `DownloadFinished`.
    SlotWritten(std::fs::File),
    /// The power was cut while flashing: the device ends this boot at once.
    PowerLoss,
}

/// Run `job`, sending its events to `tx` tagged with `tag` (so the receiver can drop what an
/// aborted download still sent). With a `gate`, holds one of its permits for the whole
/// transfer. Unless the power was cut, the last two events are
/// [`Input::ImageCheckBack`] and the outcome (finished, failed, rejected, write failed).
pub async fn download(
    mut job: DownloadJob,
    tag: u32,
    tx: mpsc::Sender<(u32, Event)>,
    gate: Option<Arc<Semaphore>>,
) {
    // Wait for a download slot: an artifact server (and the open-files limit) bounds how many
    // images can be in flight at once.
    let _permit = match gate {
        Some(g) => g.acquire_owned().await.ok(),
        None => None,
    };
    let send = |e: Event| {
        let tx = tx.clone();
        async move { tx.send((tag, e)).await.is_ok() }
    };
    let outcome = fetch(&mut job, &send).await;
    let end = match outcome {
        Ok(file) => {
            if !send(Event::SlotWritten(file)).await {
                return;
            }
            Input::DownloadFinished
        }
        Err(Failure::PowerLoss) => {
            let _ = send(Event::PowerLoss).await;
            return;
        }
        Err(Failure::Gone) => return,
        Err(Failure::Net { reason, retry }) => Input::DownloadFailed { reason, retry },
        Err(Failure::Rejected(reason)) => Input::ImageRejected(reason),
        Err(Failure::Write(cause)) => Input::WriteFailed(cause),
    };
    if send(Event::Agent(Input::ImageCheckBack(job.check))).await {
        let _ = send(Event::Agent(end)).await;
    }
}

enum Failure {
    /// The network or server failed; `retry` says whether resuming can help.
    Net {
        reason: String,
        retry: bool,
    },
    /// The image check refused the bytes.
    Rejected(&'static str),
    /// The slot could not be written.
    Write(String),
    PowerLoss,
    /// The device stopped listening.
    Gone,
}

fn retryable(reason: impl Into<String>) -> Failure {
    Failure::Net {
        reason: reason.into(),
        retry: true,
    }
}

fn fatal(reason: impl Into<String>) -> Failure {
    Failure::Net {
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

/// The parts of a response head the download needs.
struct Head {
    status: u16,
    length: Option<u64>,
    range: Option<String>,
    chunked: bool,
    /// Bytes of `buf` the head took; the body starts after them.
    len: usize,
}

fn parse_head(buf: &[u8]) -> Result<Option<Head>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(fatal(format!("bad HTTP response: {e}"))),
    };
    let value = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    Ok(Some(Head {
        status: resp.code.unwrap_or(0),
        length: value("content-length").and_then(|v| v.parse().ok()),
        range: value("content-range").map(str::to_owned),
        chunked: value("transfer-encoding").is_some_and(|v| !v.eq_ignore_ascii_case("identity")),
        len,
    }))
}

async fn read_some(stream: &mut TcpStream, buf: &mut [u8]) -> Result<usize, Failure> {
    match tokio::time::timeout(IO_TIMEOUT, stream.read(buf)).await {
        Err(_) => Err(retryable("read timed out")),
        Ok(Err(e)) => Err(retryable(format!("read: {e}"))),
        Ok(Ok(n)) => Ok(n),
    }
}

/// Open `slot`'s file in `dir` at `offset` (at 0: emptied first), as the download and the
/// runner's chunk writes both start a slot.
pub(crate) fn open_slot(
    dir: &std::path::Path,
    slot: Slot,
    offset: u64,
) -> std::io::Result<std::fs::File> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(offset == 0)
        .open(dir.join(slot.file_name()))?;
    f.seek(SeekFrom::Start(offset))?;
    Ok(f)
}

async fn fetch<F, Fut>(job: &mut DownloadJob, send: &F) -> Result<std::fs::File, Failure>
where
    F: Fn(Event) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let url = job.url.clone();
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
    let mut stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| retryable("connect timed out"))?
        .map_err(|e| retryable(format!("connect: {e}")))?;
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    let range = match job.offset {
        0 => String::new(),
        n => format!("Range: bytes={n}-\r\n"),
    };
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n{range}\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| retryable(format!("http: {e}")))?;

    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    let head = loop {
        let n = read_some(&mut stream, &mut buf[filled..]).await?;
        if n == 0 {
            return Err(retryable("connection closed before the response"));
        }
        filled += n;
        if let Some(head) = parse_head(&buf[..filled])? {
            break head;
        }
        if filled == buf.len() {
            return Err(fatal("HTTP response head too long"));
        }
    };
    // `skip`: bytes of the body before `offset` (a server that ignored the Range header).
    let (total, mut skip) = match head.status {
        200 => (head.length, job.offset),
        206 => match head.range.as_deref().and_then(content_range) {
            Some((start, total)) if start == job.offset => (total, 0),
            _ => return Err(retryable("bad Content-Range")),
        },
        s if (500..600).contains(&s) => return Err(retryable(format!("http {s}"))),
        s => return Err(fatal(format!("http {s}"))),
    };
    // The ESP8266 updater needs the size up front (HTTP_UE_SERVER_NOT_REPORT_SIZE).
    let (Some(body_len), false) = (head.length, head.chunked) else {
        return Err(fatal("the server did not report the image size"));
    };
    if total.is_some_and(|t| t != job.check.size()) {
        return Err(Failure::Rejected(reasons::SIZE_MISMATCH));
    }
    let image_len = job.check.size();
    let drop_at =
        (job.faults.drop_mid && job.offset == 0 && image_len >= 2).then_some(image_len / 2);
    let corrupt_at = (job.faults.corrupt && image_len > 0).then_some(image_len / 2);
    let mut file = open_slot(&job.dir, job.slot, job.offset).map_err(|e| {
        Failure::Write(format!(
            "{}: {e}",
            job.dir.join(job.slot.file_name()).display()
        ))
    })?;
    let mut pos = job.offset;
    let mut body_left = body_len;
    let mut last_report = Instant::now();
    // The body bytes that came with the head first, then one read at a time.
    let mut start = head.len;
    let mut end = filled;
    loop {
        let take = ((end - start) as u64).min(body_left) as usize;
        body_left -= take as u64;
        let mut data = start..start + take;
        if skip > 0 {
            let n = skip.min(take as u64) as usize;
            data.start += n;
            skip -= n as u64;
        }
        while !data.is_empty() {
            // Under a slow link, deliver at most a tenth of a second's worth at a time.
            let max = job
                .faults
                .rate
                .map(|r| (r / 10).max(1) as usize)
                .unwrap_or(usize::MAX);
            let mut piece = data.start..data.start + max.min(data.len());
            data.start = piece.end;
            let mut cut = false;
            if let Some(drop_at) = drop_at
                && pos + piece.len() as u64 > drop_at
            {
                piece.end = piece.start + drop_at.saturating_sub(pos) as usize;
                cut = true;
            }
            if let Some(at) = corrupt_at
                && at >= pos
                && at < pos + piece.len() as u64
            {
                buf[piece.start + (at - pos) as usize] ^= 0xFF;
            }
            if let Some(rate) = job.faults.rate {
                let secs = piece.len() as f64 / rate.max(1) as f64;
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            }
            let bytes = &buf[piece.clone()];
            let step = job.check.accept(bytes).map_err(Failure::Rejected)?;
            if job.crash_during_flash {
                // Power loss in the middle of the write: half of this piece reaches flash.
                let _ = file.write_all(&bytes[..bytes.len() / 2]);
                return Err(Failure::PowerLoss);
            }
            file.write_all(bytes).map_err(|e| {
                Failure::Write(format!(
                    "{}: {e}",
                    job.dir.join(job.slot.file_name()).display()
                ))
            })?;
            pos += bytes.len() as u64;
            if step && last_report.elapsed() >= job.progress_interval {
                last_report = Instant::now();
                let written = job.check.written();
                if !send(Event::Agent(Input::DownloadProgress { written })).await {
                    return Err(Failure::Gone);
                }
            }
            if cut {
                return Err(retryable("connection reset (injected)"));
            }
        }
        if body_left == 0 {
            return Ok(file);
        }
        start = 0;
        end = read_some(&mut stream, &mut buf).await?;
        if end == 0 {
            return Err(retryable(format!(
                "connection closed after {} of {body_len} bytes",
                body_len - body_left
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{content_range, parse_head};

    #[test]
    fn parses_content_range() {
        assert_eq!(content_range("bytes 100-199/200"), Some((100, Some(200))));
        assert_eq!(content_range("bytes 0-9/*"), Some((0, None)));
        assert_eq!(content_range("items 0-9/10"), None);
    }

    #[test]
    fn parses_a_response_head_in_pieces() {
        let head = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\ncontent-range: bytes 5-9/10\r\n\r\nabcde";
        assert!(parse_head(&head[..20]).ok().unwrap().is_none());
        let h = parse_head(head).ok().unwrap().unwrap();
        assert_eq!((h.status, h.length, h.chunked), (206, Some(5), false));
        assert_eq!(h.range.as_deref(), Some("bytes 5-9/10"));
        assert_eq!(&head[h.len..], b"abcde");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(parse_head(chunked).ok().unwrap().unwrap().chunked);
    }
}
