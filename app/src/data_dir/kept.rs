//! Tidying the recovery copies kept aside (`recovery-kept/<UTC date>` in the data directory):
//! at start-up the folders kept more than [`KEEP_DAYS`] days ago are removed, never the newest
//! one; anything whose name is not such a date is left alone.

use std::path::{Path, PathBuf};

/// Kept copies older than this many days are removed at start-up.
pub const KEEP_DAYS: u64 = 30;

/// What [`tidy_kept`] removed and what it could not.
#[derive(Debug, Default, PartialEq)]
pub struct Tidied {
    /// The kept folders removed, oldest first.
    pub removed: Vec<PathBuf>,
    /// Each file or folder that could not be removed, and why (its kept folder stays).
    pub failed: Vec<(PathBuf, String)>,
}

/// Removes the kept folders of the data directory that were kept more than [`KEEP_DAYS`] days
/// ago, except the newest kept folder.
pub fn tidy_kept() -> Tidied {
    tidy_kept_in(&kept_dir(), super::now_secs(), KEEP_DAYS)
}

/// The folder of the kept copies (`recovery-kept` in the data directory).
pub fn kept_dir() -> PathBuf {
    super::data_dir().join("recovery-kept")
}

/// [`tidy_kept`] on the folder `base`, with `days` as the age limit.
pub fn tidy_kept_in(base: &Path, now: u64, days: u64) -> Tidied {
    let mut dated: Vec<((u64, u32), PathBuf)> = std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((parse_name(&e.file_name().to_string_lossy())?, e.path())))
        .collect();
    dated.sort();
    dated.pop(); // the newest stays, however old
    let mut out = Tidied::default();
    for ((kept_at, _), dir) in dated {
        if kept_at.saturating_add(days * 86_400) >= now {
            continue;
        }
        let failed = remove_tree(&dir);
        if failed.is_empty() {
            out.removed.push(dir);
        } else {
            out.failed.extend(failed);
        }
    }
    out
}

/// Removes `dir` and everything in it (symbolic links themselves, not what they point to);
/// returns what could not be removed. Whatever can go goes.
fn remove_tree(dir: &Path) -> Vec<(PathBuf, String)> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return vec![(dir.to_path_buf(), e.to_string())],
    };
    let mut failed = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            failed.extend(remove_tree(&p));
        } else if let Err(err) = std::fs::remove_file(&p) {
            failed.push((p, err.to_string()));
        }
    }
    if failed.is_empty()
        && let Err(err) = std::fs::remove_dir(dir)
    {
        failed.push((dir.to_path_buf(), err.to_string()));
    }
    failed
}

/// The time (seconds since the epoch) and number of a kept folder's name:
/// `2026-12-01_143005` or `2026-12-01_143005-2` (a second one that second).
fn parse_name(name: &str) -> Option<(u64, u32)> {
    let (stamp, n) = match name.get(17..) {
        Some("") => (name, 0),
        Some(rest) => (&name[..17], rest.strip_prefix('-')?.parse().ok()?),
        None => return None,
    };
    let b = stamp.as_bytes();
    if b.len() != 17 || b[4] != b'-' || b[7] != b'-' || b[10] != b'_' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = stamp.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, min, s) = (num(11..13)?, num(13..15)?, num(15..17)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 || s > 59 {
        return None;
    }
    // Days since 1970-01-01 from a civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + min * 60 + s;
    let secs = u64::try_from(secs).ok()?;
    // A date that does not exist (2026-02-30) does not name a kept folder.
    (super::utc_stamp(secs) == stamp).then_some((secs, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_folder_names_read_back_as_their_time() {
        for secs in [0, 951_782_400 + 86_399, 1_796_135_405] {
            let name = super::super::utc_stamp(secs);
            assert_eq!(parse_name(&name), Some((secs, 0)), "{name}");
            assert_eq!(parse_name(&format!("{name}-12")), Some((secs, 12)));
        }
        for bad in [
            "notes",
            "2026-02-30_000000",
            "2026-12-01_143005x",
            "2026-12-01_143005-",
            "2026-1a-01_143005",
            "2026-12-01-143005",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }
}
