//! The MICA driver (thesis §4.3): LXContainerMICA on MICA gateways over JSON-RPC 2.0/HTTPS
//! (method names in [`super::mica_api`]). TLS trusts exactly the template's pinned certificates.
//! install logs in, uploads the container in chunks and installs it; configure writes the
//! container's `/etc/provisio` files ([`super::container_files`]); start, stop and uninstall
//! follow; every address of the list is handled in parallel with its own outcome.

use super::mica_api as api;
use super::tls_pin::{parse_certificates, pinned_client_config};
use crate::engine::driver::{Driver, DriverContext};
use crate::engine::executor::Outputs;
use crate::events::{DeviceState, Level};
use base64::Engine as _;
use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use provisio_model::plan::Step;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The driver.
#[derive(Debug, Clone, Default)]
pub struct MicaDriver {
    /// Addresses to use instead of the template's (simulation points them at the emulator).
    pub address_override: Option<Vec<String>>,
}

impl Driver for MicaDriver {
    fn run(&self, step: Step, ctx: DriverContext) -> BoxFuture<'static, Result<Outputs, String>> {
        let me = self.clone();
        async move { run_operation(&me, &step, &ctx).await }.boxed()
    }
}

/// A JSON-RPC session with one MICA.
pub struct MicaClient {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
    token: Option<String>,
    next_id: u64,
    address: String,
}

fn split_url(address: &str) -> Result<(String, u16), String> {
    let rest = address
        .trim()
        .strip_prefix("https://")
        .ok_or_else(|| format!("MICA address '{address}' must start with https://"))?
        .trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((h, p)) => Ok((
            h.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse().map_err(|_| format!("bad port in '{address}'"))?,
        )),
        None => Ok((rest.to_string(), 443)),
    }
}

impl MicaClient {
    /// Opens a TLS connection that trusts only `certificates` (PEM list as in the template).
    pub async fn connect(address: &str, certificates: &str) -> Result<MicaClient, String> {
        let (host, port) = split_url(address)?;
        let certs = parse_certificates(certificates)?;
        let config = pinned_client_config(certs)?;
        let tcp = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        .map_err(|_| format!("{address}: no answer within 10 s (unreachable?)"))?
        .map_err(|e| format!("{address}: {e}"))?;
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("{address}: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("{address}: TLS refused: {e}"))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("{address}: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(MicaClient {
            sender,
            host,
            token: None,
            next_id: 1,
            address: address.to_string(),
        })
    }

    /// One JSON-RPC call; the session token is added to params when logged in.
    pub async fn call(&mut self, method: &str, mut params: Value) -> Result<Value, String> {
        if let (Some(t), Some(obj)) = (&self.token, params.as_object_mut()) {
            obj.insert("token".into(), json!(t));
        }
        let id = self.next_id;
        self.next_id += 1;
        let body =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        let req = hyper::Request::post(api::PATH)
            .header("host", &self.host)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        // The connection task may not have taken the previous response's end yet.
        let sender = &mut self.sender;
        let send = async move {
            sender.ready().await?;
            sender.send_request(req).await
        };
        let resp = tokio::time::timeout(Duration::from_secs(60), send)
            .await
            .map_err(|_| format!("{}: {method} timed out", self.address))?
            .map_err(|e| format!("{}: {method}: {e}", self.address))?;
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: {method}: not JSON-RPC: {e}", self.address))?;
        if let Some(err) = v.get("error") {
            return Err(format!(
                "{}: {method} failed: {}",
                self.address,
                err.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
            ));
        }
        Ok(v.get("result").cloned().unwrap_or(Value::Null))
    }

    pub async fn login(&mut self, user: &str, password: &str) -> Result<(), String> {
        let r = self
            .call(api::LOGIN, json!({"username": user, "password": password}))
            .await?;
        self.token = Some(
            r.get("token")
                .and_then(Value::as_str)
                .ok_or("login returned no token")?
                .to_string(),
        );
        Ok(())
    }
}

async fn one_device(step: &Step, address: &str, ctx: &DriverContext) -> Result<String, String> {
    let certs = step
        .input("certificates")
        .ok_or("input 'certificates' is missing")?;
    let mut c = MicaClient::connect(address, certs).await?;
    c.login(
        step.input("userName").unwrap_or("admin"),
        step.input("userPassword").unwrap_or(""),
    )
    .await?;
    let name = super::raspberry::container_name(&step.node);
    let node = &step.node;
    match step.operation.as_str() {
        "install" => {
            let a = ctx
                .artifacts
                .first()
                .ok_or("install needs the container deployment artifact")?;
            let up = c
                .call(
                    api::UPLOAD_BEGIN,
                    json!({"name": name, "size": a.size, "md5": a.md5}),
                )
                .await?;
            let upload = up
                .get("uploadId")
                .and_then(Value::as_str)
                .ok_or("upload.begin returned no uploadId")?
                .to_string();
            let mut offset = 0usize;
            for chunk in a.bytes.chunks(api::CHUNK) {
                let data = base64::engine::general_purpose::STANDARD.encode(chunk);
                c.call(
                    api::UPLOAD_CHUNK,
                    json!({"uploadId": upload, "offset": offset, "data": data}),
                )
                .await?;
                offset += chunk.len();
                ctx.events.device(
                    node,
                    address,
                    DeviceState::Downloading {
                        written: offset as u64,
                        total: a.size,
                    },
                );
            }
            c.call(api::UPLOAD_FINISH, json!({"uploadId": upload}))
                .await?;
            c.call(api::INSTALL, json!({"name": name, "uploadId": upload}))
                .await?;
            ctx.events.device(node, address, DeviceState::Installed);
            let info = c.call(api::DEVICE_INFO, json!({})).await?;
            Ok(info
                .get("freeSpace")
                .and_then(Value::as_u64)
                .map(|b| format!("{} KiB", b / 1024))
                .unwrap_or_default())
        }
        "configure" => {
            // A file without content (no secrets any more) is removed: `null`.
            let files: serde_json::Map<String, Value> = super::container_files::files(step)?
                .into_iter()
                .map(|f| (f.path.to_string(), json!(f.content)))
                .collect();
            c.call(api::CONFIGURE, json!({"name": name, "files": files}))
                .await?;
            ctx.events.device(node, address, DeviceState::Configured);
            Ok(String::new())
        }
        "start" => {
            c.call(api::START, json!({"name": name})).await?;
            ctx.events.device(node, address, DeviceState::Running);
            Ok(String::new())
        }
        "stop" => {
            c.call(api::STOP, json!({"name": name})).await?;
            ctx.events.device(node, address, DeviceState::Stopped);
            Ok(String::new())
        }
        "uninstall" => {
            c.call(api::DELETE, json!({"name": name})).await?;
            ctx.events.device(node, address, DeviceState::Uninstalled);
            Ok(String::new())
        }
        other => Err(format!("MICA containers have no operation '{other}'")),
    }
}

/// Runs one operation on every MICA of the step.
pub async fn run_operation(
    driver: &MicaDriver,
    step: &Step,
    ctx: &DriverContext,
) -> Result<Outputs, String> {
    let addresses: Vec<String> = match &driver.address_override {
        Some(a) => a.clone(),
        None => serde_json::from_str(
            step.input("addresses")
                .ok_or("input 'addresses' is missing")?,
        )
        .map_err(|e| format!("addresses is not a JSON list of strings: {e}"))?,
    };
    let results = futures::future::join_all(
        addresses
            .iter()
            .map(|a| async move { (a.clone(), one_device(step, a, ctx).await) }),
    )
    .await;
    let mut ok = 0;
    let mut failures = Vec::new();
    let mut space = None;
    for (a, r) in &results {
        match r {
            Ok(s) => {
                ok += 1;
                space.get_or_insert_with(|| s.clone());
                ctx.events
                    .log(Level::Info, Some(&step.node), format!("{a}: ok"));
            }
            Err(e) => {
                ctx.events
                    .device(&step.node, a, DeviceState::Failed { reason: e.clone() });
                failures.push(e.clone());
            }
        }
    }
    let past = match step.operation.as_str() {
        "install" => "installed",
        "configure" => "configured",
        "start" => "started",
        "stop" => "stopped",
        "uninstall" => "uninstalled",
        o => o,
    };
    let mut outputs = Outputs::from([(format!("{past}DeviceCount"), ok.to_string())]);
    if let Some(s) = space.filter(|s| !s.is_empty()) {
        outputs.insert("availableSpace".into(), s);
    }
    if failures.is_empty() {
        Ok(outputs)
    } else {
        Err(format!(
            "{ok} of {} devices succeeded; {}",
            results.len(),
            failures.join("; ")
        ))
    }
}

/// Shared handle type for tests and the app.
pub type SharedMica = Arc<MicaDriver>;
