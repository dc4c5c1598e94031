//! How a device reaches a production broker: MQTT over TLS (server certificate verified against
//! a CA given in PEM, optional client certificate) and a user name / password. Built once per
//! fleet and shared by every device; the password never shows in `Debug` output.

use std::sync::Arc;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// TLS and credentials for the broker connection (plain TCP, anonymous by default).
#[derive(Clone, Default)]
pub struct BrokerSecurity {
    /// The TLS client configuration; `None` is plain TCP.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for BrokerSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerSecurity")
            .field("tls", &self.tls.is_some())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// A TLS setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("broker TLS: {0}")]
pub struct SecurityError(pub String);

/// Parses every certificate of a PEM text; `what` names it in errors.
pub fn pem_certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what} is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what} holds no PEM certificate"));
    }
    Ok(certs)
}

/// A rustls client config (ring provider) trusting the certificates of `ca_pem`, presenting
/// `client` (certificate chain PEM, private key PEM) when given.
pub fn client_config(
    ca_pem: &str,
    client: Option<(&str, &str)>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in pem_certificates(ca_pem, "the broker CA certificate")? {
        roots
            .add(cert)
            .map_err(|e| format!("the broker CA certificate cannot be used: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert_pem, key_pem)) => {
            let chain = pem_certificates(cert_pem, "the client certificate")?;
            let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
                .map_err(|_| "the client private key is not a PEM private key".to_string())?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the client certificate and key do not fit: {e}"))?
        }
    };
    Ok(Arc::new(config))
}

impl BrokerSecurity {
    /// TLS with `ca_pem` as trust anchor (and an optional client certificate and key).
    pub fn tls(ca_pem: &str, client: Option<(&str, &str)>) -> Result<Self, SecurityError> {
        Ok(BrokerSecurity {
            tls: Some(client_config(ca_pem, client).map_err(SecurityError)?),
            ..Default::default()
        })
    }

    /// The same with a user name and password.
    pub fn with_credentials(mut self, username: &str, password: &str) -> Self {
        self.username = Some(username.to_owned());
        self.password = Some(password.to_owned());
        self
    }

    /// Puts transport and credentials into `opts`.
    pub fn apply(&self, opts: &mut MqttOptions) {
        if let Some(tls) = &self.tls {
            opts.set_transport(Transport::Tls(TlsConfiguration::Rustls(tls.clone())));
        }
        if let Some(user) = &self.username {
            opts.set_credentials(user.clone(), self.password.clone().unwrap_or_default());
        }
    }
}
