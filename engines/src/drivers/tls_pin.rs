//! TLS that trusts exactly a set of pinned certificates (the MICA template's `certificates`):
//! the server's end-entity certificate must be byte-identical to one of them, and the handshake
//! signature must verify with its key. No CA, no system roots, nothing else.

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;

/// Parses the `certificates` property: a JSON list of PEM certificates.
pub fn parse_certificates(value: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let list: Vec<String> = serde_json::from_str(value.trim())
        .map_err(|e| format!("certificates is not a JSON list of PEM strings ({e})"))?;
    let mut out = Vec::new();
    for (i, pem) in list.iter().enumerate() {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("certificate {} is not valid PEM: {e}", i + 1))?;
        if certs.is_empty() {
            return Err(format!("certificate {} holds no PEM certificate", i + 1));
        }
        out.extend(certs);
    }
    Ok(out)
}

#[derive(Debug)]
struct Pinned {
    certs: Vec<CertificateDer<'static>>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.certs.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server's certificate is not one of the pinned certificates".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// A client config trusting only `certs`.
pub fn pinned_client_config(
    certs: Vec<CertificateDer<'static>>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    pinned_client_config_with_auth(certs, None)
}

/// A client config trusting only `certs`, presenting `client` (chain, key) when given.
pub fn pinned_client_config_with_auth(
    certs: Vec<CertificateDer<'static>>,
    client: Option<(
        Vec<CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    )>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algs = provider.signature_verification_algorithms;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned { certs, algs }));
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("the client certificate and key do not fit: {e}"))?,
    };
    Ok(Arc::new(config))
}
