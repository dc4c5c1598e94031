//! The MICA JSON-RPC 2.0 API as Provisio speaks it. The real HARTING MICA API is not public
//! (the thesis gives no method names), so these names are Provisio's own, documented here and in
//! ARCHITECTURE.md, and implemented exactly by the bundled emulator. Nothing here claims
//! compatibility with real MICA firmware.
//!
//! All calls are `POST /jsonrpc` over HTTPS with a JSON-RPC 2.0 request; every method but
//! `session.login` takes the `token` it returned.
//!
//! | method | params | result |
//! |---|---|---|
//! | `session.login` | `username`, `password` | `token` |
//! | `device.info` | `token` | `firmware`, `interface`, `freeSpace` (bytes) |
//! | `container.upload.begin` | `token`, `name`, `size`, `md5` | `uploadId` |
//! | `container.upload.chunk` | `token`, `uploadId`, `offset`, `data` (base64) | `received` |
//! | `container.upload.finish` | `token`, `uploadId` | `md5` |
//! | `container.install` | `token`, `name`, `uploadId` | `state` |
//! | `container.start` / `container.stop` / `container.delete` | `token`, `name` | `state` |
//! | `container.state` | `token`, `name` | `state` (`installed`, `running`, `stopped`, `absent`) |
//! | `container.configure` | `token`, `name`, `files` (object: path → UTF-8 content, or `null` to remove the file; paths below `/etc/provisio` only) | `written` (count) |
//!
//! `container.configure` writes each file atomically; `/etc/provisio/secrets.env` (the
//! container's own secrets) gets mode 0600, owner root, from its creation on, the others 0644.
//! Its params carry secrets: neither side logs them, and errors name paths, never contents.

pub const LOGIN: &str = "session.login";
pub const DEVICE_INFO: &str = "device.info";
pub const UPLOAD_BEGIN: &str = "container.upload.begin";
pub const UPLOAD_CHUNK: &str = "container.upload.chunk";
pub const UPLOAD_FINISH: &str = "container.upload.finish";
pub const INSTALL: &str = "container.install";
pub const START: &str = "container.start";
pub const STOP: &str = "container.stop";
pub const DELETE: &str = "container.delete";
pub const STATE: &str = "container.state";
/// Writes files into an installed container's root file system (below `/etc/provisio`).
pub const CONFIGURE: &str = "container.configure";

/// The HTTP path of the JSON-RPC endpoint.
pub const PATH: &str = "/jsonrpc";
/// Upload chunk size (bytes before base64).
pub const CHUNK: usize = 256 * 1024;

/// JSON-RPC error codes beyond the standard ones.
pub const E_UNAUTHORIZED: i64 = 1;
pub const E_NOT_FOUND: i64 = 2;
pub const E_STORAGE: i64 = 3;
pub const E_CHECKSUM: i64 = 4;
