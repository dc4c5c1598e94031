//! SSH sessions to Linux devices (russh): connect with a verified host key (known_hosts file or
//! pinned SHA256 fingerprints; an unknown key is refused with its fingerprint unless new keys
//! are explicitly accepted), password or key authentication, commands with exit status and
//! stderr, and SFTP uploads. Passwords are never logged.

use russh::ChannelMsg;
use russh::client::{self, Handle};
use russh::keys::PublicKeyOrCertificate;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An SSH address: `host` or `host:port` (22 by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Parses the `addresses` property (a JSON list of `host` or `host:port`).
pub fn parse_addresses(value: &str) -> Result<Vec<SshTarget>, String> {
    let list: Vec<String> = serde_json::from_str(value.trim())
        .map_err(|e| format!("addresses is not a JSON list of strings ({e}): {value}"))?;
    list.iter()
        .map(|a| {
            let a = a.trim();
            let (host, port) = match a.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') || h.starts_with('[') => (
                    h.trim_start_matches('[').trim_end_matches(']').to_string(),
                    p.parse::<u16>()
                        .map_err(|_| format!("bad port in address '{a}'"))?,
                ),
                _ => (a.to_string(), 22),
            };
            if host.is_empty() {
                return Err(format!("empty host in address '{a}'"));
            }
            Ok(SshTarget { host, port })
        })
        .collect()
}

/// How host keys are trusted.
#[derive(Debug, Clone)]
pub enum HostKeys {
    /// Keys listed in an OpenSSH known_hosts file.
    KnownHosts { path: PathBuf, accept_new: bool },
    /// Exactly these SHA256 fingerprints (`SHA256:…`, as `ssh-keygen -lf` prints).
    Pinned(Vec<String>),
}

/// How to log in.
#[derive(Clone)]
pub struct SshAuth {
    pub user: String,
    pub password: Option<String>,
    pub key: Option<Arc<PrivateKey>>,
}

impl std::fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshAuth")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("key", &self.key.is_some())
            .finish()
    }
}

struct Client {
    target: SshTarget,
    keys: HostKeys,
    seen: Arc<Mutex<Option<String>>>,
}

fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = server else {
            return Ok(false); // certificates are not trusted without a CA configuration
        };
        let fp = fingerprint(key);
        if let Ok(mut s) = self.seen.lock() {
            *s = Some(fp.clone());
        }
        Ok(match &self.keys {
            HostKeys::Pinned(list) => list.iter().any(|p| p.trim() == fp),
            HostKeys::KnownHosts { path, accept_new } => {
                match russh::keys::check_known_hosts_path(
                    &self.target.host,
                    self.target.port,
                    key,
                    path,
                ) {
                    Ok(true) => true,
                    Ok(false) if *accept_new => {
                        if let Some(dir) = path.parent() {
                            let _ = std::fs::create_dir_all(dir);
                        }
                        russh::keys::known_hosts::learn_known_hosts_path(
                            &self.target.host,
                            self.target.port,
                            key,
                            path,
                        )
                        .is_ok()
                    }
                    _ => false,
                }
            }
        })
    }
}

/// A logged-in session.
pub struct Session {
    handle: Handle<Client>,
    pub target: SshTarget,
}

/// Result of a remote command.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Session {
    /// Connects, verifies the host key and logs in.
    pub async fn connect(
        target: &SshTarget,
        auth: &SshAuth,
        keys: &HostKeys,
        timeout: Duration,
    ) -> Result<Session, String> {
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(Duration::from_secs(300)),
            keepalive_interval: Some(Duration::from_secs(15)),
            nodelay: true,
            ..Default::default()
        });
        let seen = Arc::new(Mutex::new(None));
        let handler = Client {
            target: target.clone(),
            keys: keys.clone(),
            seen: seen.clone(),
        };
        let addr = (target.host.clone(), target.port);
        let connected = tokio::time::timeout(timeout, client::connect(config, addr, handler)).await;
        let mut handle = match connected {
            Err(_) => {
                return Err(format!(
                    "{target}: no SSH answer within {timeout:?} (unreachable?)"
                ));
            }
            Ok(Err(e)) => {
                let fp = seen.lock().ok().and_then(|s| s.clone());
                return Err(match (e, fp) {
                    (russh::Error::UnknownKey, Some(fp)) => format!(
                        "{target}: host key {fp} is not trusted (not in known_hosts and not pinned); check it on the device and pin it, or accept new keys explicitly"
                    ),
                    (e, _) => format!("{target}: SSH connection failed: {e}"),
                });
            }
            Ok(Ok(h)) => h,
        };
        let mut ok = false;
        if let Some(key) = &auth.key {
            // Only RSA keys need the hash probe (it can wait for the server up to a second).
            let hash = if matches!(key.algorithm(), russh::keys::Algorithm::Rsa { .. }) {
                handle
                    .best_supported_rsa_hash()
                    .await
                    .ok()
                    .flatten()
                    .flatten()
            } else {
                None
            };
            let r = handle
                .authenticate_publickey(&auth.user, PrivateKeyWithHashAlg::new(key.clone(), hash))
                .await
                .map_err(|e| format!("{target}: authentication error: {e}"))?;
            ok = r.success();
        }
        if !ok && let Some(pw) = &auth.password {
            let r = handle
                .authenticate_password(&auth.user, pw)
                .await
                .map_err(|e| format!("{target}: authentication error: {e}"))?;
            ok = r.success();
        }
        if !ok {
            return Err(format!(
                "{target}: login as '{}' refused (wrong password or key)",
                auth.user
            ));
        }
        Ok(Session {
            handle,
            target: target.clone(),
        })
    }

    /// Runs a command; stdin is closed; returns exit status and output.
    pub async fn exec(&self, command: &str, timeout: Duration) -> Result<Output, String> {
        let run = async {
            let mut ch = self
                .handle
                .channel_open_session()
                .await
                .map_err(|e| format!("{}: {e}", self.target))?;
            ch.exec(true, command)
                .await
                .map_err(|e| format!("{}: {e}", self.target))?;
            let _ = ch.eof().await;
            let (mut out, mut err, mut status) = (Vec::new(), Vec::new(), None);
            while let Some(msg) = ch.wait().await {
                match msg {
                    ChannelMsg::Data { data } => out.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, .. } => err.extend_from_slice(&data),
                    ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status as i32),
                    _ => {}
                }
            }
            Ok(Output {
                status: status.unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out).into_owned(),
                stderr: String::from_utf8_lossy(&err).into_owned(),
            })
        };
        tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| format!("{}: command timed out after {timeout:?}", self.target))?
    }

    /// Runs a command that must succeed; the error carries its stderr.
    pub async fn run(&self, command: &str, timeout: Duration) -> Result<String, String> {
        let o = self.exec(command, timeout).await?;
        if o.status == 0 {
            Ok(o.stdout)
        } else {
            let detail = if o.stderr.trim().is_empty() {
                o.stdout.trim().to_string()
            } else {
                o.stderr.trim().to_string()
            };
            Err(format!(
                "{}: command failed (exit {}): {}",
                self.target, o.status, detail
            ))
        }
    }

    /// Uploads `bytes` to `path` over SFTP.
    pub async fn upload(&self, path: &str, bytes: &[u8]) -> Result<(), String> {
        use tokio::io::AsyncWriteExt;
        let t = &self.target;
        let ch = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| format!("{t}: {e}"))?;
        ch.request_subsystem(true, "sftp")
            .await
            .map_err(|e| format!("{t}: sftp: {e}"))?;
        let sftp = russh_sftp::client::SftpSession::new(ch.into_stream())
            .await
            .map_err(|e| format!("{t}: sftp: {e}"))?;
        let mut f = sftp
            .create(path)
            .await
            .map_err(|e| format!("{t}: cannot create {path}: {e}"))?;
        f.write_all(bytes)
            .await
            .map_err(|e| format!("{t}: writing {path} failed: {e}"))?;
        f.flush()
            .await
            .map_err(|e| format!("{t}: writing {path} failed: {e}"))?;
        f.shutdown()
            .await
            .map_err(|e| format!("{t}: writing {path} failed: {e}"))?;
        let _ = sftp.close().await;
        Ok(())
    }

    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addresses(r#"["192.168.0.19"]"#).unwrap(),
            vec![SshTarget {
                host: "192.168.0.19".into(),
                port: 22
            }]
        );
        assert_eq!(
            parse_addresses(r#"["h:2222","[::1]:23"]"#).unwrap()[1],
            SshTarget {
                host: "::1".into(),
                port: 23
            }
        );
        assert!(parse_addresses("192.168.0.19").is_err());
        assert!(parse_addresses(r#"["h:x"]"#).is_err());
    }
}
