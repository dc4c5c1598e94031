//! The artifact server: serves deployment artifacts to devices over HTTP under an unguessable
//! per-deployment token (`/<token>/<file>`), with Content-Length, single Range requests, an
//! `x-MD5` header (what the ESP8266 HTTP updater checks) and a cap on concurrent transfers.
//! For fleets past one machine, URLs can point at an external server or CDN instead.

use crate::engine::driver::ServedArtifact;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

type Files = Arc<RwLock<HashMap<String, HashMap<String, Arc<Stored>>>>>;

struct Stored {
    bytes: Bytes,
    md5: String,
}

/// A running artifact server.
#[derive(Clone)]
pub struct ArtifactServer {
    addr: SocketAddr,
    base_url: String,
    files: Files,
    shutdown: CancellationToken,
    max_concurrent: usize,
}

impl std::fmt::Debug for ArtifactServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Lowercase hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// A fresh unguessable token (128 random bits, hex).
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

impl ArtifactServer {
    /// Binds `bind` (port 0 = any) and serves until [`ArtifactServer::shutdown`].
    /// `public_host` is the host name or IP devices use to reach it (default: the bind IP).
    pub async fn start(
        bind: SocketAddr,
        public_host: Option<&str>,
        max_concurrent: usize,
    ) -> std::io::Result<Self> {
        let listener = listen(bind)?;
        let addr = listener.local_addr()?;
        let host = public_host
            .map(str::to_string)
            .unwrap_or_else(|| match addr.ip() {
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            });
        let server = ArtifactServer {
            addr,
            base_url: format!("http://{host}:{}", addr.port()),
            files: Arc::new(RwLock::new(HashMap::new())),
            shutdown: CancellationToken::new(),
            max_concurrent: max_concurrent.max(1),
        };
        let files = server.files.clone();
        let shutdown = server.shutdown.clone();
        let permits = Arc::new(Semaphore::new(server.max_concurrent));
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    r = listener.accept() => match r {
                        Ok(s) => s,
                        Err(_) => continue,
                    },
                };
                let files = files.clone();
                let permits = permits.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let files = files.clone();
                        let permits = permits.clone();
                        async move { Ok::<_, std::convert::Infallible>(respond(&files, &permits, req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Serves `bytes` as `/<token>/<file_name>`.
    pub fn register(
        &self,
        token: &str,
        name: &str,
        file_name: &str,
        bytes: Arc<Vec<u8>>,
    ) -> ServedArtifact {
        let md5 = md5_hex(&bytes);
        let stored = Arc::new(Stored {
            bytes: Bytes::from(bytes.as_ref().clone()),
            md5: md5.clone(),
        });
        if let Ok(mut f) = self.files.write() {
            f.entry(token.to_string())
                .or_default()
                .insert(file_name.to_string(), stored);
        }
        ServedArtifact {
            name: name.to_string(),
            file_name: file_name.to_string(),
            url: format!("{}/{token}/{}", self.base_url, encode_segment(file_name)),
            size: bytes.len() as u64,
            md5,
            bytes,
        }
    }

    /// Stops serving a deployment's files.
    pub fn remove(&self, token: &str) {
        if let Ok(mut f) = self.files.write() {
            f.remove(token);
        }
    }

    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }
}

/// An artifact at an external base URL (CDN, caching proxy): nothing is served locally.
pub fn external(
    base_url: &str,
    token: &str,
    name: &str,
    file_name: &str,
    bytes: Arc<Vec<u8>>,
) -> ServedArtifact {
    ServedArtifact {
        name: name.to_string(),
        file_name: file_name.to_string(),
        url: format!(
            "{}/{token}/{}",
            base_url.trim_end_matches('/'),
            encode_segment(file_name)
        ),
        size: bytes.len() as u64,
        md5: md5_hex(&bytes),
        bytes,
    }
}

fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn decode_segment(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// How many connections may wait to be accepted. A fleet's devices connect at once after a
/// command (256 downloads at a time by default); with tokio's default backlog of 128 the
/// kernel drops the surplus SYNs and those devices wait for the 1 s SYN retransmit. The kernel
/// caps it at `net.core.somaxconn`.
const ACCEPT_BACKLOG: u32 = 4096;

/// A listener on `bind` with [`ACCEPT_BACKLOG`] (address reuse as tokio's `bind` sets it).
fn listen(bind: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match bind {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(bind)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// A response body sent in 64 KiB frames that holds a transfer permit until the last frame was
/// taken by the connection (so the cap bounds transfers, not just request handling).
struct PermitBody {
    data: Bytes,
    _permit: Option<OwnedSemaphorePermit>,
}

const FRAME: usize = 64 * 1024;

impl Body for PermitBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.data.is_empty() {
            self._permit = None;
            return Poll::Ready(None);
        }
        let n = self.data.len().min(FRAME);
        let chunk = self.data.split_to(n);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.len() as u64)
    }
}

fn plain(status: StatusCode, text: &str) -> Response<PermitBody> {
    let mut r = Response::new(PermitBody {
        data: Bytes::from(text.to_string()),
        _permit: None,
    });
    *r.status_mut() = status;
    r
}

/// Parses a single `bytes=` range against `len`; `Err` for unsatisfiable, `Ok(None)` for none.
fn parse_range(header: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(h) = header else { return Ok(None) };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: serve the whole file
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = if a.is_empty() {
        let n: u64 = b.trim().parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (len.saturating_sub(n), len.checked_sub(1).ok_or(())?)
    } else {
        let start: u64 = a.trim().parse().map_err(|_| ())?;
        let end = if b.trim().is_empty() {
            len.saturating_sub(1)
        } else {
            b.trim()
                .parse::<u64>()
                .map_err(|_| ())?
                .min(len.saturating_sub(1))
        };
        (start, end)
    };
    if start >= len || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

fn respond(
    files: &Files,
    permits: &Arc<Semaphore>,
    req: Request<hyper::body::Incoming>,
) -> Response<PermitBody> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD");
    }
    let path = req.uri().path().trim_start_matches('/');
    let Some((token, name)) = path.split_once('/') else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let Some(name) = decode_segment(name) else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let stored = files
        .read()
        .ok()
        .and_then(|f| f.get(token).and_then(|d| d.get(&name)).cloned());
    let Some(stored) = stored else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let Ok(permit) = permits.clone().try_acquire_owned() else {
        let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, "too many transfers; retry");
        r.headers_mut()
            .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
        return r;
    };
    let len = stored.bytes.len() as u64;
    let range = req
        .headers()
        .get(hyper::header::RANGE)
        .and_then(|v| v.to_str().ok());
    let (status, body, content_range) = match parse_range(range, len) {
        Err(()) => {
            let mut r = plain(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            if let Ok(v) = format!("bytes */{len}").parse() {
                r.headers_mut().insert(hyper::header::CONTENT_RANGE, v);
            }
            return r;
        }
        Ok(None) => (StatusCode::OK, stored.bytes.clone(), None),
        Ok(Some((s, e))) => (
            StatusCode::PARTIAL_CONTENT,
            stored.bytes.slice(s as usize..=e as usize),
            Some(format!("bytes {s}-{e}/{len}")),
        ),
    };
    let body_len = body.len();
    let is_head = req.method() == Method::HEAD;
    let mut r = Response::new(PermitBody {
        data: if is_head { Bytes::new() } else { body },
        _permit: Some(permit),
    });
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        hyper::header::ACCEPT_RANGES,
        hyper::header::HeaderValue::from_static("bytes"),
    );
    if let Ok(v) = body_len.to_string().parse() {
        h.insert(hyper::header::CONTENT_LENGTH, v);
    }
    if let Ok(v) = stored.md5.parse() {
        h.insert("x-md5", v);
    }
    if let Some(cr) = content_range.and_then(|c| c.parse().ok()) {
        h.insert(hyper::header::CONTENT_RANGE, cr);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::{ArtifactServer, parse_range};

    /// A fleet's devices connect at once: while the server is busy (here: its runtime is not
    /// driven, nothing is accepted), the kernel queues their connections instead of dropping
    /// SYNs past tokio's default backlog of 128 (each dropped one waits 1 s to retry).
    #[test]
    fn a_burst_of_connections_waits_in_the_accept_queue() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = rt
            .block_on(ArtifactServer::start(
                "127.0.0.1:0".parse().unwrap(),
                None,
                4,
            ))
            .unwrap();
        let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(4096);
        let n = 600.min(somaxconn);
        let conns: Vec<std::net::TcpStream> = (0..n)
            .map(|i| {
                std::net::TcpStream::connect_timeout(
                    &server.addr(),
                    std::time::Duration::from_millis(500),
                )
                .unwrap_or_else(|e| panic!("connection {} of {n} was not queued: {e}", i + 1))
            })
            .collect();
        assert_eq!(conns.len(), n);
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-4"), 10), Ok(Some((0, 4))));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Ok(Some((5, 9))));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Ok(Some((8, 9))));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=x-"), 10), Err(()));
    }
}
