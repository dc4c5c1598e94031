//! What `provisio bench deploy` measures besides the deploy itself: the baseline (the same
//! device work as plain parallel HTTP downloads streamed into slot files), resident memory
//! (current and sampled peak) and the process's CPU time.

use provisio_firmware::agent::download::CHUNK;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time this process used so far (user + system, from /proc/self/stat in 1/100 s ticks).
pub fn cpu_secs() -> f64 {
    cpu_secs_of("self")
}

/// CPU time process `pid` (or `self`) used so far, as [`cpu_secs`].
pub fn cpu_secs_of(pid: &str) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the `(comm)`: state is the first, utime the 12th, stime the 13th.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

/// Samples VmRSS every 10 ms on its own thread and keeps the peak since the last reset.
pub struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl RssSampler {
    pub fn start() -> Self {
        let peak = Arc::new(AtomicU64::new(rss_kib().unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib().unwrap_or(0), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        RssSampler { peak, stop }
    }

    pub fn reset(&self) {
        self.peak.store(rss_kib().unwrap_or(0), Ordering::Relaxed);
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One baseline device: an HTTP GET of `path` from `host`, streamed through one buffer of
/// [`CHUNK`] bytes (as the simulated devices do) into MD5 and the slot file, then an fsync.
/// Checks the size and the MD5 like a device. `permit` (a download slot) is given back before
/// the fsync, where a simulated device gives its slot back too.
async fn plain_download(
    permit: tokio::sync::OwnedSemaphorePermit,
    host: &str,
    path: &str,
    slot: &std::path::Path,
    size: usize,
    md5_hex: &str,
) -> Result<(), String> {
    use md5::Digest;
    use std::io::Write;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let err = |e: std::io::Error| e.to_string();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut s = tokio::net::TcpStream::connect(host).await.map_err(err)?;
        s.write_all(
            format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .map_err(err)?;
        let mut filled = 0;
        let body_at = loop {
            let n = s.read(&mut buf[filled..]).await.map_err(err)?;
            if n == 0 {
                return Err("connection closed before the HTTP body".into());
            }
            filled += n;
            if let Some(p) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if filled == buf.len() {
                return Err("HTTP header too long".into());
            }
        };
        if buf.starts_with(b"HTTP/1.1 503") {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue; // over the transfer cap: retry like a device would
        }
        if !buf.starts_with(b"HTTP/1.1 200") {
            return Err(String::from_utf8_lossy(&buf[..filled.min(40)]).into_owned());
        }
        let mut sum = md5::Md5::new();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(slot)
            .map_err(err)?;
        let mut written = filled - body_at;
        sum.update(&buf[body_at..filled]);
        f.write_all(&buf[body_at..filled]).map_err(err)?;
        loop {
            let n = s.read(&mut buf).await.map_err(err)?;
            if n == 0 {
                break;
            }
            sum.update(&buf[..n]);
            f.write_all(&buf[..n]).map_err(err)?;
            written += n;
        }
        drop(permit);
        tokio::task::spawn_blocking(move || f.sync_all())
            .await
            .map_err(|e| e.to_string())?
            .map_err(err)?;
        if written != size || format!("{:x}", sum.finalize()) != md5_hex {
            return Err(format!(
                "baseline download: {written} of {size} bytes or bad MD5"
            ));
        }
        return Ok(());
    }
}

/// The baseline: what each device does without Provisio, in the same process layout: an HTTP
/// GET of the same artifact from the same server, streamed in the same bounded chunks into
/// MD5 and a slot file, then an fsync (as the simulated devices flash), `parallel` at a time.
/// Returns the whole time and when each device finished, sorted.
pub async fn plain_downloads(
    url: &str,
    n: usize,
    parallel: usize,
    slots: &std::path::Path,
    size: usize,
    md5_hex: &str,
) -> Result<(Duration, Vec<Duration>), String> {
    let rest = url.strip_prefix("http://").ok_or("bad url")?;
    let (host, path) = rest.split_once('/').ok_or("bad url")?;
    // The slots exist before the download, as a device's flash partitions (and the simulated
    // devices' slot files) do: the timed work writes into them, it does not create files.
    for i in 0..n {
        std::fs::File::create(slots.join(format!("slot-{i}.bin"))).map_err(|e| e.to_string())?;
    }
    let sem = Arc::new(tokio::sync::Semaphore::new(parallel));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let slot = slots.join(format!("slot-{i}.bin"));
        let (host, path, md5_hex) = (host.to_string(), path.to_string(), md5_hex.to_string());
        let sem = sem.clone();
        tasks.push(tokio::spawn(async move {
            let permit = sem.acquire_owned().await.map_err(|e| e.to_string())?;
            plain_download(permit, &host, &path, &slot, size, &md5_hex).await?;
            Ok::<_, String>(t.elapsed())
        }));
    }
    let mut done = Vec::with_capacity(n);
    for t in tasks {
        done.push(t.await.map_err(|e| e.to_string())??);
    }
    done.sort();
    Ok((t.elapsed(), done))
}
