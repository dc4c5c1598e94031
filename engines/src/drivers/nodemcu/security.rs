//! The engine's side of a production broker: MQTT over TLS for `mqtts://` / `ssl://`
//! `pubSubServer`s (server certificate verified against `brokerCaCertificate` or pinned with
//! `brokerPinnedCertificates` like MICA's `certificates`; optional `brokerClientCertificate` +
//! `brokerClientPrivateKey`) and `brokerUsername` / `brokerPassword`. These come from optional
//! operation inputs (deploy inputs); their values never go into events or errors.

use crate::drivers::tls_pin;
use crate::pubsub::BrokerAddr;
use provisio_model::plan::Step;
use rumqttc::{ConnectReturnCode, ConnectionError, MqttOptions, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// The optional inputs this module reads.
pub const INPUTS: [&str; 6] = [
    "brokerUsername",
    "brokerPassword",
    "brokerCaCertificate",
    "brokerPinnedCertificates",
    "brokerClientCertificate",
    "brokerClientPrivateKey",
];

fn input<'a>(step: &'a Step, name: &str) -> Option<&'a str> {
    step.input(name).map(str::trim).filter(|v| !v.is_empty())
}

fn pem_certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what} is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what} holds no PEM certificate"));
    }
    Ok(certs)
}

fn ca_client_config(
    ca_pem: &str,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in pem_certs(ca_pem, "brokerCaCertificate")? {
        roots
            .add(cert)
            .map_err(|e| format!("brokerCaCertificate cannot be used: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots);
    Ok(Arc::new(match client {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
            format!("brokerClientCertificate and brokerClientPrivateKey do not fit: {e}")
        })?,
    }))
}

/// Puts the TLS transport and credentials the step's inputs ask for into `opts`.
pub fn apply(step: &Step, broker: &BrokerAddr, opts: &mut MqttOptions) -> Result<(), String> {
    let ca = input(step, "brokerCaCertificate");
    let pins = input(step, "brokerPinnedCertificates");
    if broker.tls {
        let client = match (
            input(step, "brokerClientCertificate"),
            input(step, "brokerClientPrivateKey"),
        ) {
            (Some(c), Some(k)) => Some((
                pem_certs(c, "brokerClientCertificate")?,
                PrivateKeyDer::from_pem_slice(k.as_bytes())
                    .map_err(|_| "brokerClientPrivateKey is not a PEM private key".to_string())?,
            )),
            (None, None) => None,
            _ => {
                return Err(
                    "brokerClientCertificate and brokerClientPrivateKey go together".into(),
                );
            }
        };
        let config = match (ca, pins) {
            (Some(ca), None) => ca_client_config(ca, client)?,
            (None, Some(pins)) => tls_pin::pinned_client_config_with_auth(
                tls_pin::parse_certificates(pins)
                    .map_err(|e| format!("brokerPinnedCertificates: {e}"))?,
                client,
            )?,
            (Some(_), Some(_)) => {
                return Err(
                    "give brokerCaCertificate or brokerPinnedCertificates, not both".into(),
                );
            }
            (None, None) => {
                return Err(format!(
                    "pubSubServer {}:{} is a TLS broker: give its CA as the deploy input \
                     brokerCaCertificate (PEM) or its certificate as brokerPinnedCertificates",
                    broker.host, broker.port
                ));
            }
        };
        opts.set_transport(Transport::Tls(TlsConfiguration::Rustls(config)));
    } else if ca.is_some() || pins.is_some() {
        return Err(format!(
            "a broker certificate was given but pubSubServer {}:{} is plain TCP; use mqtts://",
            broker.host, broker.port
        ));
    }
    match (input(step, "brokerUsername"), step.input("brokerPassword")) {
        (Some(user), password) => {
            opts.set_credentials(user, password.unwrap_or(""));
        }
        (None, Some(p)) if !p.is_empty() => {
            return Err("brokerPassword is given without brokerUsername".into());
        }
        _ => {}
    }
    Ok(())
}

/// A connection error that retrying will not fix (bad credentials, untrusted certificate),
/// explained; `None` for errors worth retrying (broker starting, network).
pub fn fatal_reason(e: &ConnectionError) -> Option<String> {
    match e {
        ConnectionError::ConnectionRefused(code) => Some(match code {
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized => {
                "the broker refused the user name or password \
                 (deploy inputs brokerUsername / brokerPassword)"
                    .to_string()
            }
            other => format!("the broker refused the connection ({other:?})"),
        }),
        ConnectionError::Tls(_) => {
            let r = rustls_cause(e).unwrap_or_else(|| e.to_string());
            Some(format!(
                "TLS handshake failed: {r} (check brokerCaCertificate / \
                 brokerPinnedCertificates and the broker's host name)"
            ))
        }
        // TLS 1.3: the broker checks the client certificate after the client's side of the
        // handshake; its alert arrives on the first read.
        _ => rustls_cause(e).map(|r| {
            format!(
                "the broker ended the TLS session: {r} (does it require a client \
                 certificate? brokerClientCertificate / brokerClientPrivateKey)"
            )
        }),
    }
}

/// The rustls error somewhere in `e`'s source chain (also inside `io::Error`s).
fn rustls_cause(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(r) = c.downcast_ref::<rustls::Error>() {
            return Some(r.to_string());
        }
        if let Some(r) = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(r.to_string());
        }
        cur = c.source();
    }
    None
}
