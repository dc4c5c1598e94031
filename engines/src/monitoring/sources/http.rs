//! A small HTTP/1.1 client for the gateway adapters (hyper): `http://` and `https://` URLs (rustls;
//! server certificates checked against the system's CA bundle, or a given CA file), one request
//! per connection, a timeout for the whole exchange and a cap on the response body.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Where the trusted CA certificates come from when no CA file is given (Debian's bundle).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Largest response body accepted (bytes).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// A parsed `http://host[:port][/path]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `host:port` to connect to (IPv6 in brackets).
    pub authority: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// `https://`: TLS with the server name `host`.
    pub tls: bool,
    /// PEM file of the CA certificates to trust for https (default: [`SYSTEM_CA_BUNDLE`]).
    pub ca_file: Option<PathBuf>,
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<HttpUrl, String> {
        let (rest, tls, default_port) = if let Some(r) = url.strip_prefix("http://") {
            (r, false, 80)
        } else if let Some(r) = url.strip_prefix("https://") {
            (r, true, 443)
        } else {
            return Err(format!("{url}: expected an http:// or https:// URL"));
        };
        let (auth, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if auth.is_empty() || auth.contains('@') {
            return Err(format!(
                "{url}: expected http(s)://host[:port]/… (no credentials in the URL)"
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
            format!("{auth}:{default_port}")
        };
        Ok(HttpUrl {
            authority,
            path: path.to_string(),
            tls,
            ca_file: None,
        })
    }

    /// Trusts the CA certificates of this PEM file (instead of the system bundle) for https.
    pub fn with_ca_file(mut self, ca_file: Option<PathBuf>) -> HttpUrl {
        self.ca_file = ca_file;
        self
    }

    /// The host name (for TLS), without port and brackets.
    pub fn host(&self) -> &str {
        let h = match self.authority.rfind(':') {
            Some(i) if !self.authority[i..].contains(']') => &self.authority[..i],
            _ => &self.authority,
        };
        h.trim_start_matches('[').trim_end_matches(']')
    }

    /// `scheme://authority/path` for messages.
    pub fn display(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path)
    }

    /// This URL with `suffix` appended to its path (one `/` between them).
    pub fn join(&self, suffix: &str) -> HttpUrl {
        HttpUrl {
            path: format!(
                "{}/{}",
                self.path.trim_end_matches('/'),
                suffix.trim_start_matches('/')
            ),
            ..self.clone()
        }
    }
}

/// A TLS client configuration trusting the CA certificates of `ca_file` (PEM).
fn tls_config(ca_file: &std::path::Path) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| format!("CA file {}: {e}", ca_file.display()))?;
    for c in certs {
        let c = c.map_err(|e| format!("CA file {}: {e}", ca_file.display()))?;
        // Certificates the verifier cannot use are skipped, as every TLS client does.
        let _ = roots.add(c);
    }
    if roots.is_empty() {
        return Err(format!(
            "CA file {}: no usable certificate",
            ca_file.display()
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn exchange<IO>(
    io: IO,
    url: &HttpUrl,
    method: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>), String>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
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
    Ok((status, bytes.to_vec()))
}

/// Sends one request; returns status and body.
pub async fn request(
    url: &HttpUrl,
    method: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let go = async {
        let tcp = tokio::net::TcpStream::connect(&url.authority)
            .await
            .map_err(|e| format!("{}: {e}", url.authority))?;
        if !url.tls {
            return exchange(tcp, url, method, headers, body).await;
        }
        let ca = url
            .ca_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(SYSTEM_CA_BUNDLE));
        let connector = tokio_rustls::TlsConnector::from(tls_config(&ca)?);
        let name = rustls::pki_types::ServerName::try_from(url.host().to_string())
            .map_err(|e| format!("{}: {e}", url.host()))?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("{}: TLS: {e}", url.authority))?;
        exchange(tls, url, method, headers, body).await
    };
    tokio::time::timeout(timeout, go)
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
        let u = HttpUrl::parse("https://backend.powerfox.energy/api/2.0").unwrap();
        assert!(u.tls);
        assert_eq!(u.authority, "backend.powerfox.energy:443");
        assert_eq!(u.host(), "backend.powerfox.energy");
        assert_eq!(HttpUrl::parse("http://[::1]:8/").unwrap().host(), "::1");
        assert!(HttpUrl::parse("ftp://x").is_err());
        assert!(HttpUrl::parse("http://u:p@x/").is_err());
        assert!(HttpUrl::parse("http://x:99999/").is_err());
    }
}
