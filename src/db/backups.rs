//! Scheduled backups: a consistent copy (`backup_to`) into a folder under a timestamped
//! name, written under a temporary name first so an interrupted copy never looks
//! complete, and the oldest copies beyond `keep` deleted.

use std::path::{Path, PathBuf};

use super::StoreError;

const PREFIX: &str = "firewatch-";
const SUFFIX: &str = ".db";

/// What one scheduled backup did.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub deleted: Vec<PathBuf>,
}

/// `firewatch-20261201T070000.000Z.db` for `now` (UTC, so names sort by time).
pub fn file_name(now_ms: i64) -> String {
    let t = jiff::Timestamp::from_millisecond(now_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{PREFIX}{}{SUFFIX}", t.strftime("%Y%m%dT%H%M%S%.3fZ"))
}

/// Copies the database at `db_path` into `dir` and keeps the newest `keep` copies
/// (0 keeps all).
pub fn scheduled(
    db_path: &Path,
    dir: &Path,
    keep: usize,
    now_ms: i64,
) -> Result<Written, StoreError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StoreError::Open(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(file_name(now_ms));
    let partial = dir.join(format!(".{}.partial", file_name(now_ms)));
    let _ = std::fs::remove_file(&partial);
    super::backup_to(db_path, &partial)?;
    std::fs::rename(&partial, &path)
        .map_err(|e| StoreError::Open(format!("cannot rename to {}: {e}", path.display())))?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut copies: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| StoreError::Open(format!("cannot list {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        })
        .collect();
    copies.sort();
    let mut deleted = Vec::new();
    if keep > 0 && copies.len() > keep {
        for old in &copies[..copies.len() - keep] {
            if std::fs::remove_file(old).is_ok() {
                deleted.push(old.clone());
            }
        }
    }
    Ok(Written {
        path,
        bytes,
        deleted,
    })
}
