//! A small HTTP/1.1 client for the gateway adapters (hyper): `http://` URLs only, one request per
//! connection, a timeout for the whole exchange and a cap on the response body.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// Largest response body accepted (bytes).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// A parsed `http://host[:port][/path]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `host:port` to connect to (IPv6 in brackets).
    pub authority: String,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<HttpUrl, String> {
        if url.starts_with("https://") {
            return Err(format!(
                "{url}: https is not supported by this adapter; use http:// (a local gateway, or a TLS-terminating proxy)"
            ));
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: expected an http:// URL"))?;
        let (auth, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if auth.is_empty() || auth.contains('@') {
            return Err(format!(
                "{url}: expected http://host[:port]/… (no credentials in the URL)"
            ));
        }
        let has_port = match auth.rfind(':') {
            Some(i) => !auth[i..].contains(']'),
            None => false,
        };
        let authority = if has_port {
            let port = &auth[auth.rfind(':').unwrap_or(0) + 1..];
            port.parse::<u16>()
                .map_err(|_| format!("{url}: bad port {port:?}"))?;
            auth.to_string()
        } else {
            format!("{auth}:80")
        };
        Ok(HttpUrl {
            authority,
            path: path.to_string(),
        })
    }

    /// This URL with `suffix` appended to its path (one `/` between them).
    pub fn join(&self, suffix: &str) -> HttpUrl {
        HttpUrl {
            authority: self.authority.clone(),
            path: format!(
                "{}/{}",
                self.path.trim_end_matches('/'),
                suffix.trim_start_matches('/')
            ),
        }
    }
}

/// Sends one request; returns status and body.
pub async fn request(
    url: &HttpUrl,
    method: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(&url.authority)
            .await
            .map_err(|e| format!("{}: {e}", url.authority))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(&url.path)
            .header("host", &url.authority);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let bytes = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("response body: {e}"))?
            .to_bytes();
        Ok::<_, String>((status, bytes.to_vec()))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("{}: no answer within {timeout:?}", url.authority))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = HttpUrl::parse("http://ccu:2001").unwrap();
        assert_eq!((u.authority.as_str(), u.path.as_str()), ("ccu:2001", "/"));
        let u = HttpUrl::parse("http://[::1]/api/2.0/").unwrap();
        assert_eq!(u.authority, "[::1]:80");
        assert_eq!(u.join("/my/main/current").path, "/api/2.0/my/main/current");
        assert!(HttpUrl::parse("https://x").is_err());
        assert!(HttpUrl::parse("ftp://x").is_err());
        assert!(HttpUrl::parse("http://u:p@x/").is_err());
        assert!(HttpUrl::parse("http://x:99999/").is_err());
    }
}
