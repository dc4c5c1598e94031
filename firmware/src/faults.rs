//! Fault injection for simulated devices: what can go wrong per device (offline, slow link,
//! dropped or corrupted download, crash during flash, app refusing to start), how a fault is
//! written on the command line (`KIND[=VALUE][:FRACTION|@ID]`) and the shared, changeable table
//! the device runners consult.

use std::collections::HashMap;
use std::sync::RwLock;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use tokio::sync::watch;

/// The faults of one device (all off by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFaults {
    /// The device never connects (no status, no answers) while set.
    pub offline: bool,
    /// Downloads arrive at this many bytes per second.
    pub slow_link: Option<u64>,
    /// The first connection of every download drops half-way (the agent resumes with Range).
    pub drop_mid_download: bool,
    /// One byte in the middle of every download is flipped (the MD5 check fails).
    pub corrupt_download: bool,
    /// The device loses power while it writes the new image (answers `flash interrupted` after boot).
    pub crash_during_flash: bool,
    /// The app refuses every start.
    pub refuse_start: bool,
    /// Between an install's answer and its reboot the device lingers half a second, still
    /// reading: the window in which a command sent at once meets a device on its way down
    /// (tests only; no command-line spelling).
    pub slow_reboot: bool,
}

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Offline,
    /// Slow link at this many bytes per second.
    SlowLink(u64),
    DropMidDownload,
    CorruptDownload,
    CrashDuringFlash,
    RefuseStart,
}

impl FaultKind {
    /// Switch this fault on in `f`.
    pub fn apply(self, f: &mut DeviceFaults) {
        match self {
            FaultKind::Offline => f.offline = true,
            FaultKind::SlowLink(rate) => f.slow_link = Some(rate),
            FaultKind::DropMidDownload => f.drop_mid_download = true,
            FaultKind::CorruptDownload => f.corrupt_download = true,
            FaultKind::CrashDuringFlash => f.crash_during_flash = true,
            FaultKind::RefuseStart => f.refuse_start = true,
        }
    }
}

/// Which devices a fault hits.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultTarget {
    /// Every device.
    All,
    /// This share of the fleet (0.0..=1.0), chosen reproducibly from the seed.
    Fraction(f64),
    /// One device.
    Device(String),
}

/// A fault and the devices it hits, e.g. `slow=2048:0.25`, `corrupt@1345963`, `offline`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub target: FaultTarget,
}

/// A fault specification that could not be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "bad fault '{spec}': {why} (expected KIND[=VALUE][:FRACTION|@ID], KIND one of offline, slow=BYTES_PER_S, drop, corrupt, crash-flash, refuse-start)"
)]
pub struct FaultParseError {
    spec: String,
    why: String,
}

impl std::str::FromStr for FaultSpec {
    type Err = FaultParseError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |why: &str| FaultParseError {
            spec: spec.to_owned(),
            why: why.to_owned(),
        };
        let (kind_text, target) = if let Some((k, id)) = spec.split_once('@') {
            if id.is_empty() {
                return Err(err("empty device id"));
            }
            (k, FaultTarget::Device(id.to_owned()))
        } else if let Some((k, frac)) = spec.split_once(':') {
            let f: f64 = frac.parse().map_err(|_| err("fraction is not a number"))?;
            if !(0.0..=1.0).contains(&f) {
                return Err(err("fraction must be between 0 and 1"));
            }
            (k, FaultTarget::Fraction(f))
        } else {
            (spec, FaultTarget::All)
        };
        let (name, value) = match kind_text.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (kind_text, None),
        };
        let kind = match (name, value) {
            ("offline", None) => FaultKind::Offline,
            ("slow", Some(v)) => {
                let rate: u64 = v
                    .parse()
                    .map_err(|_| err("slow needs bytes per second, e.g. slow=2048"))?;
                if rate == 0 {
                    return Err(err("slow rate must be positive"));
                }
                FaultKind::SlowLink(rate)
            }
            ("drop", None) => FaultKind::DropMidDownload,
            ("corrupt", None) => FaultKind::CorruptDownload,
            ("crash-flash", None) => FaultKind::CrashDuringFlash,
            ("refuse-start", None) => FaultKind::RefuseStart,
            _ => return Err(err("unknown kind or misplaced value")),
        };
        Ok(FaultSpec { kind, target })
    }
}

/// Assign `specs` to `ids`: fractions pick a reproducible random subset from `seed`.
pub fn assign(ids: &[String], specs: &[FaultSpec], seed: u64) -> HashMap<String, DeviceFaults> {
    let mut out: HashMap<String, DeviceFaults> = HashMap::new();
    for (i, spec) in specs.iter().enumerate() {
        let chosen: Vec<&String> = match &spec.target {
            FaultTarget::All => ids.iter().collect(),
            FaultTarget::Device(id) => ids.iter().filter(|x| *x == id).collect(),
            FaultTarget::Fraction(f) => {
                let mut order: Vec<&String> = ids.iter().collect();
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_add(i as u64));
                order.shuffle(&mut rng);
                let n = (f * ids.len() as f64).round() as usize;
                order.truncate(n);
                order
            }
        };
        for id in chosen {
            spec.kind.apply(out.entry(id.clone()).or_default());
        }
    }
    out
}

/// The faults of a whole fleet, changeable while it runs; runners are told of every change.
#[derive(Debug)]
pub struct FaultTable {
    map: RwLock<HashMap<String, DeviceFaults>>,
    changed: watch::Sender<u64>,
}

impl FaultTable {
    /// A table holding `map`.
    pub fn new(map: HashMap<String, DeviceFaults>) -> Self {
        FaultTable {
            map: RwLock::new(map),
            changed: watch::Sender::new(0),
        }
    }

    /// The faults of `id` (none when unknown).
    pub fn get(&self, id: &str) -> DeviceFaults {
        match self.map.read() {
            Ok(m) => m.get(id).cloned().unwrap_or_default(),
            Err(poisoned) => poisoned.into_inner().get(id).cloned().unwrap_or_default(),
        }
    }

    /// Replace the faults of `id` and tell the runners.
    pub fn set(&self, id: &str, faults: DeviceFaults) {
        let mut m = match self.map.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if faults == DeviceFaults::default() {
            m.remove(id);
        } else {
            m.insert(id.to_owned(), faults);
        }
        drop(m);
        self.changed.send_modify(|n| *n += 1);
    }

    /// A receiver that wakes on every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let s: FaultSpec = "slow=2048:0.25".parse().unwrap();
        assert_eq!(
            s,
            FaultSpec {
                kind: FaultKind::SlowLink(2048),
                target: FaultTarget::Fraction(0.25)
            }
        );
        let s: FaultSpec = "corrupt@1345963".parse().unwrap();
        assert_eq!(s.target, FaultTarget::Device("1345963".into()));
        assert_eq!(
            "offline".parse::<FaultSpec>().unwrap().target,
            FaultTarget::All
        );
        assert!("slow".parse::<FaultSpec>().is_err());
        assert!("drop:1.5".parse::<FaultSpec>().is_err());
        assert!("explode".parse::<FaultSpec>().is_err());
    }

    #[test]
    fn fractions_are_reproducible_and_exact() {
        let ids: Vec<String> = (0..100).map(|i| format!("d{i}")).collect();
        let specs = vec!["refuse-start:0.3".parse().unwrap()];
        let a = assign(&ids, &specs, 7);
        let b = assign(&ids, &specs, 7);
        let c = assign(&ids, &specs, 8);
        assert_eq!(a.len(), 30);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
