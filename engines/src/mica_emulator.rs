//! A MICA emulator: an HTTPS JSON-RPC 2.0 server with a self-signed certificate implementing
//! exactly the methods of [`crate::drivers::mica_api`]. Used by tests and by `--simulate`.
//! By default containers are stored as files in its storage folder and their state lives in
//! memory (no root needed). With [`MicaOptions::lxc`] they run for real: installed under
//! `<storage>/lxc/<name>` and run with LXC (`-P <storage>/lxc`), inside a simulated host's
//! network namespace when given, their state read back from `lxc-info`, so a later emulator
//! over the same storage (the undeploy's process) sees what an earlier one started.
//! Requests run side by side: LXC calls (seconds each) hold only their container's lock, and
//! the sessions, uploads and free space sit behind a lock held for a few instructions.

use crate::drivers::mica_api as api;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

mod lxc;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Upload {
    name: String,
    size: u64,
    md5: String,
    data: Vec<u8>,
    finished: bool,
}

/// How an emulator runs its containers; the default keeps them in memory.
#[derive(Debug, Clone, Default)]
pub struct MicaOptions {
    /// Run containers with LXC under `<storage>/lxc` (needs root and lxc).
    pub lxc: bool,
    /// The simulated host whose network namespace the containers share (with `lxc`).
    pub host: Option<crate::simnet::SimHost>,
    /// Where the JSON-RPC server listens (default `127.0.0.1:0`, a free port). The address of
    /// `host` puts the listener inside that host's namespace: the emulator is then reached
    /// over the bridge at the simulated MICA's own address, like a real one.
    pub listen: Option<SocketAddr>,
}

/// What every request shares: fixed settings and the real containers without a lock, the
/// rest behind short ones.
struct Shared {
    lxc: Option<lxc::Lxc>,
    user: String,
    password: String,
    storage: PathBuf,
    state: Mutex<State>,
    /// One lock per container name: calls on the same container take turns (an install is
    /// not started half unpacked), calls on different containers run at the same time.
    busy: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// Changed by requests; never locked across a blocking call.
struct State {
    tokens: HashSet<String>,
    uploads: HashMap<String, Upload>,
    /// Container states without LXC.
    containers: BTreeMap<String, String>,
    free_space: u64,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lock of container `name` (made on first use).
    fn container(&self, name: &str) -> Arc<Mutex<()>> {
        self.busy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone()
    }
}

/// A running emulator; stops on [`MicaEmulator::shutdown`] or drop.
pub struct MicaEmulator {
    pub addr: SocketAddr,
    /// The self-signed certificate (PEM) a template must pin.
    pub cert_pem: String,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl MicaEmulator {
    /// Starts on 127.0.0.1 (free port) with one user.
    pub async fn start(
        user: &str,
        password: &str,
        storage: PathBuf,
        free_space: u64,
    ) -> Result<MicaEmulator, String> {
        Self::start_with(user, password, storage, free_space, MicaOptions::default()).await
    }

    /// Starts with `options` (real LXC containers, a simulated host, the listen address).
    pub async fn start_with(
        user: &str,
        password: &str,
        storage: PathBuf,
        free_space: u64,
        options: MicaOptions,
    ) -> Result<MicaEmulator, String> {
        std::fs::create_dir_all(&storage).map_err(|e| format!("{}: {e}", storage.display()))?;
        let listen = options
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let lxc = if options.lxc {
            Some(lxc::Lxc::new(&storage, options.host.clone())?)
        } else {
            None
        };
        let mut names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        if !listen.ip().is_loopback() && !listen.ip().is_unspecified() {
            names.push(listen.ip().to_string());
        }
        let ck = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
        let cert_pem = ck.cert.pem();
        let cert_der = ck.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key)
        .map_err(|e| e.to_string())?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        // On the simulated host's own address: the listener lives in its namespace.
        let in_host = options
            .host
            .as_ref()
            .filter(|h| listen.ip() == std::net::IpAddr::V4(h.ip));
        let listener = match in_host {
            Some(h) => h
                .bind_tcp(listen.port())
                .and_then(|l| l.set_nonblocking(true).map(|_| l))
                .and_then(tokio::net::TcpListener::from_std),
            None => tokio::net::TcpListener::bind(listen).await,
        }
        .map_err(|e| format!("MICA emulator on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            lxc,
            user: user.into(),
            password: password.into(),
            storage,
            state: Mutex::new(State {
                tokens: HashSet::new(),
                uploads: HashMap::new(),
                containers: BTreeMap::new(),
                free_space,
            }),
            busy: Mutex::new(HashMap::new()),
        });
        let stop = CancellationToken::new();
        let (st, s) = (shared.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    _ = s.cancelled() => break,
                    r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                };
                let acceptor = acceptor.clone();
                let st = st.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let st = st.clone();
                            async move {
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                // LXC calls block (unpacking, starting): off the runtime.
                                let out = tokio::task::spawn_blocking(move || handle(&st, &body))
                                    .await
                                    .unwrap_or_else(|_| {
                                        err(&Value::Null, -32603, "internal error")
                                    });
                                Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                    Bytes::from(out.to_string()),
                                )))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        Ok(MicaEmulator {
            addr,
            cert_pem,
            shared,
            stop,
        })
    }

    /// `https://IP:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A container's state (`installed`, `running`, `stopped`), `None` when absent.
    pub fn container_state(&self, name: &str) -> Option<String> {
        match &self.shared.lxc {
            Some(l) => l.state(name),
            None => self.shared.state().containers.get(name).cloned(),
        }
    }

    pub fn shutdown(&self) {
        self.stop.cancel();
    }
}

impl Drop for MicaEmulator {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn err(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn handle(sh: &Shared, body: &[u8]) -> Value {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return err(&Value::Null, -32700, "parse error");
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let method = req.get("method").and_then(Value::as_str).unwrap_or("");
    let p = req.get("params").cloned().unwrap_or(json!({}));
    let s_ = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    if method == api::LOGIN {
        if s_("username").as_deref() == Some(sh.user.as_str())
            && s_("password").as_deref() == Some(sh.password.as_str())
        {
            let token = hex::encode(rand::random::<[u8; 16]>());
            sh.state().tokens.insert(token.clone());
            return json!({"jsonrpc": "2.0", "id": id, "result": {"token": token}});
        }
        return err(&id, api::E_UNAUTHORIZED, "wrong user name or password");
    }
    if !s_("token").is_some_and(|t| sh.state().tokens.contains(&t)) {
        return err(&id, api::E_UNAUTHORIZED, "not logged in");
    }
    let ok = |v: Value| json!({"jsonrpc": "2.0", "id": id, "result": v});
    match method {
        api::DEVICE_INFO => ok(
            json!({"firmware": "emulator", "interface": "provisio-1", "freeSpace": sh.state().free_space}),
        ),
        api::UPLOAD_BEGIN => {
            let size = p.get("size").and_then(Value::as_u64).unwrap_or(0);
            let mut st = sh.state();
            if size > st.free_space {
                return err(&id, api::E_STORAGE, "not enough space");
            }
            let upload = hex::encode(rand::random::<[u8; 8]>());
            st.uploads.insert(
                upload.clone(),
                Upload {
                    name: s_("name").unwrap_or_default(),
                    size,
                    md5: s_("md5").unwrap_or_default(),
                    ..Default::default()
                },
            );
            ok(json!({"uploadId": upload}))
        }
        api::UPLOAD_CHUNK => {
            let Ok(data) =
                base64::engine::general_purpose::STANDARD.decode(s_("data").unwrap_or_default())
            else {
                return err(&id, -32602, "data is not base64");
            };
            let mut st = sh.state();
            let Some(u) = s_("uploadId").and_then(|u| st.uploads.get_mut(&u)) else {
                return err(&id, api::E_NOT_FOUND, "no such upload");
            };
            if p.get("offset").and_then(Value::as_u64) != Some(u.data.len() as u64) {
                return err(&id, -32602, "offset does not continue the upload");
            }
            if u.data.len() as u64 + data.len() as u64 > u.size {
                return err(&id, -32602, "more data than announced");
            }
            u.data.extend_from_slice(&data);
            ok(json!({"received": u.data.len()}))
        }
        api::UPLOAD_FINISH => {
            let mut st = sh.state();
            let Some(u) = s_("uploadId").and_then(|u| st.uploads.get_mut(&u)) else {
                return err(&id, api::E_NOT_FOUND, "no such upload");
            };
            let md5 = hex::encode(Md5::digest(&u.data));
            if md5 != u.md5 || u.data.len() as u64 != u.size {
                return err(&id, api::E_CHECKSUM, "checksum or size mismatch");
            }
            u.finished = true;
            ok(json!({"md5": md5}))
        }
        api::INSTALL => {
            let name = s_("name").unwrap_or_default();
            let upload = s_("uploadId").and_then(|u| sh.state().uploads.remove(&u));
            let Some(u) = upload.filter(|u| u.finished && u.name == name) else {
                return err(
                    &id,
                    api::E_NOT_FOUND,
                    "no finished upload for this container",
                );
            };
            let lock = sh.container(&name);
            let _turn = lock.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(l) = &sh.lxc {
                if let Err(e) = l.install(&name, &u.data) {
                    return err(&id, api::E_STORAGE, &e);
                }
            } else {
                let path = sh.storage.join(format!("{name}.tar.gz"));
                if std::fs::write(&path, &u.data).is_err() {
                    return err(&id, api::E_STORAGE, "cannot store the container");
                }
            }
            let mut st = sh.state();
            st.free_space = st.free_space.saturating_sub(u.size);
            st.containers.insert(name, "installed".into());
            ok(json!({"state": "installed"}))
        }
        api::CONFIGURE => {
            let name = s_("name").unwrap_or_default();
            let Some(files) = p.get("files").and_then(Value::as_object) else {
                return err(&id, -32602, "files must be an object of path: content");
            };
            let lock = sh.container(&name);
            let _turn = lock.lock().unwrap_or_else(|e| e.into_inner());
            let root = match &sh.lxc {
                Some(l) if l.exists(&name) => l.rootfs(&name),
                None if sh.state().containers.contains_key(&name) => {
                    sh.storage.join(format!("{name}.files"))
                }
                _ => return err(&id, api::E_NOT_FOUND, "no such container"),
            };
            use crate::drivers::container_files::{remove_from_rootfs, write_into_rootfs};
            if let Err(e) = std::fs::create_dir_all(&root) {
                return err(&id, api::E_STORAGE, &e.to_string());
            }
            for (path, content) in files {
                let done = match content {
                    Value::String(c) => write_into_rootfs(&root, path, c),
                    Value::Null => remove_from_rootfs(&root, path),
                    // The message names the path only: a content may be a secret.
                    _ => Err(format!("{path}: content must be a string or null")),
                };
                if let Err(e) = done {
                    return err(&id, -32602, &e);
                }
            }
            ok(json!({"written": files.len()}))
        }
        api::START | api::STOP | api::DELETE | api::STATE => {
            let name = s_("name").unwrap_or_default();
            // `state` only reads: it answers even while the container's start runs.
            let lock = sh.container(&name);
            let _turn =
                (method != api::STATE).then(|| lock.lock().unwrap_or_else(|e| e.into_inner()));
            let r = match &sh.lxc {
                Some(l) => lxc_call(l, method, &name),
                None => memory_call(sh, method, &name),
            };
            match r {
                Ok(state) => ok(json!({"state": state})),
                Err((code, message)) => err(&id, code, &message),
            }
        }
        _ => err(&id, -32601, "method not found"),
    }
}

/// Start, stop, delete or read a real container (with its turn taken): the new state.
fn lxc_call(l: &lxc::Lxc, method: &str, name: &str) -> Result<String, (i64, String)> {
    if !l.exists(name) {
        // Deleting or stopping what is not there is not an error (idempotent undeploy).
        return if method == api::START {
            Err((api::E_NOT_FOUND, "no such container".into()))
        } else {
            Ok("absent".into())
        };
    }
    match method {
        api::START => l.start(name),
        api::STOP => l.stop(name),
        api::DELETE => l.delete(name),
        _ => Ok(()),
    }
    .map_err(|e| (api::E_STORAGE, e))?;
    Ok(l.state(name).unwrap_or_else(|| "absent".into()))
}

/// The same for a container kept in memory (with its turn taken).
fn memory_call(sh: &Shared, method: &str, name: &str) -> Result<String, (i64, String)> {
    let mut st = sh.state();
    let Some(current) = st.containers.get(name).cloned() else {
        return if method == api::START {
            Err((api::E_NOT_FOUND, "no such container".into()))
        } else {
            Ok("absent".into())
        };
    };
    let new = match method {
        api::START => "running",
        api::STOP => "stopped",
        api::DELETE => {
            st.containers.remove(name);
            drop(st);
            let _ = std::fs::remove_file(sh.storage.join(format!("{name}.tar.gz")));
            let _ = std::fs::remove_dir_all(sh.storage.join(format!("{name}.files")));
            return Ok("absent".into());
        }
        _ => return Ok(current),
    };
    st.containers.insert(name.to_string(), new.into());
    Ok(new.into())
}
