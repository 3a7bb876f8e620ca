//! The cache directory's fetch lock: one fetch at a time per directory, across threads and
//! processes, and the leftovers of fetches that were interrupted cleared by the next one.

use super::{io_context, FetchError};
use std::fs::{self, File, TryLockError};
use std::path::Path;

/// The lock file's name in the cache directory. It stays there: removing a lock file while
/// another process waits on it would let a third lock a new file beside it.
pub(super) const LOCK_FILE: &str = ".lock";
/// Name prefix of a fetch's download folder.
pub(super) const DOWNLOAD_PREFIX: &str = ".download-";
/// Name prefix of a file being extracted.
pub(super) const PARTIAL_PREFIX: &str = ".partial-";

/// Holds the directory's fetch lock until dropped.
#[derive(Debug)]
pub(super) struct FetchLock {
    /// The locked lock file; closing it releases the lock.
    _file: File,
}

impl FetchLock {
    /// Takes the lock of `dir` (an existing directory), waiting for a fetch that holds it.
    pub(super) fn acquire(dir: &Path) -> Result<Self, FetchError> {
        let path = dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_context(format!("opening {}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                tracing::info!(dir = %dir.display(), "another fetch is running here; waiting for it");
                file.lock()
                    .map_err(io_context(format!("locking {}", path.display())))?;
            }
            Err(TryLockError::Error(e)) => {
                return Err(io_context(format!("locking {}", path.display()))(e));
            }
        }
        Ok(Self { _file: file })
    }

    /// Removes what fetches interrupted before they could clean up (Ctrl-C during pip) left in
    /// `dir`: download folders and partly extracted files. Only the lock's holder may call
    /// this, so none of them belongs to a running fetch. Only names this code writes are
    /// removed, since the directory may be shared and another `*.partial` there is someone
    /// else's: [`DOWNLOAD_PREFIX`] and [`PARTIAL_PREFIX`] ones, and `<name>.partial` for each
    /// of `file_names`, the pinned files' names (what earlier versions extracted into).
    pub(super) fn remove_leftovers(&self, dir: &Path, file_names: &[&str]) {
        let is_old_partial = |name: &str| {
            name.strip_suffix(".partial")
                .is_some_and(|stem| file_names.contains(&stem))
        };
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            let removed = if name.starts_with(DOWNLOAD_PREFIX) {
                fs::remove_dir_all(&path)
            } else if name.starts_with(PARTIAL_PREFIX) || is_old_partial(&name) {
                fs::remove_file(&path)
            } else {
                continue;
            };
            match removed {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "removed an interrupted fetch's leftover")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove an interrupted fetch's leftover")
                }
            }
        }
    }
}
