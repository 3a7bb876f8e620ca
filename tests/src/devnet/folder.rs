//! The devnet's claim on its folder and port: the RPC port must be free, the folder must be a
//! devnet's (or empty), and no running devnet may hold it. The claim is an exclusive lock on
//! the folder's lock file, held for the devnet's lifetime; only once it is held is the folder
//! emptied for the fresh chain.

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::net::TcpListener;
use std::path::Path;

/// Marks a folder as a devnet's, so a fresh start only ever deletes one of ours.
const MARKER: &str = "DEVNET";
/// Locked (and holding the owner's process id) while a devnet runs in the folder.
const LOCK: &str = "devnet.lock";

/// A devnet's exclusive hold on its folder: released when dropped (or when the process dies).
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
}

/// Claims `dir` for a fresh devnet serving RPC on 127.0.0.1:`rpc_port`: checks the port is
/// not 0 and free, refuses a non-empty folder that is not a devnet's and a devnet folder another
/// devnet holds (leaving both untouched), then locks the folder and empties it (all but the
/// lock).
pub fn claim(dir: &Path, rpc_port: u16) -> Result<FolderLock> {
    if rpc_port == 0 {
        bail!("the RPC port must not be 0 (the nodes and the demo are given it): set --rpc-port");
    }
    let address = format!("127.0.0.1:{rpc_port}");
    if let Err(error) = TcpListener::bind(&address) {
        bail!(
            "the RPC address {address} is taken ({error}): another devnet may be running; stop \
             it, or choose another port with --rpc-port"
        );
    }
    if has_foreign_files(dir)? {
        bail!(
            "{} is not empty and not a devnet folder; choose another --dir",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock_path = dir.join(LOCK);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut owner = String::new();
            let _ = file.read_to_string(&mut owner);
            bail!(
                "{} is in use by a running devnet (process {}); stop it (Ctrl-C in its terminal, \
                 or `kill {}`), or choose another --dir",
                dir.display(),
                owner.trim(),
                owner.trim()
            );
        }
        Err(TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("locking {}", lock_path.display()))
        }
    }
    empty_but_lock(dir)?;
    std::fs::write(
        dir.join(MARKER),
        "A devnet's folder: `cargo xtask devnet` deletes and recreates it at each start.\n",
    )?;
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    Ok(FolderLock { _file: file })
}

/// Whether `dir` holds anything while not being marked as a devnet's folder.
fn has_foreign_files(dir: &Path) -> Result<bool> {
    if !dir.exists() || dir.join(MARKER).exists() {
        return Ok(false);
    }
    let mut entries =
        std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    // A lock alone is what a start interrupted before writing the marker leaves.
    Ok(entries.any(|entry| entry.map_or(true, |entry| entry.file_name() != LOCK)))
}

/// Deletes everything in `dir` except the lock file.
fn empty_but_lock(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() == LOCK {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.with_context(|| format!("emptying {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::free_port;

    /// A devnet folder left by an earlier run: marker, lock, chain data.
    fn earlier_devnet(dir: &Path) {
        drop(claim(dir, free_port().unwrap()).unwrap());
        std::fs::create_dir_all(dir.join("chain")).unwrap();
        std::fs::write(dir.join("chain/data"), "blocks").unwrap();
    }

    #[test]
    fn a_stopped_devnets_folder_is_emptied_and_locked() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("devnet");
        earlier_devnet(&dir);
        let _lock = claim(&dir, free_port().unwrap()).unwrap();
        assert!(!dir.join("chain").exists());
        assert!(dir.join(MARKER).exists());
        let owner = std::fs::read_to_string(dir.join(LOCK)).unwrap();
        assert_eq!(owner.trim(), std::process::id().to_string());
    }

    #[test]
    fn a_folder_with_a_users_files_survives() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("notes.txt"), "mine").unwrap();
        let error = claim(root.path(), free_port().unwrap()).unwrap_err();
        assert!(error.to_string().contains("not a devnet folder"), "{error}");
        assert_eq!(
            std::fs::read_to_string(root.path().join("notes.txt")).unwrap(),
            "mine"
        );
        assert!(!root.path().join(LOCK).exists());
    }

    #[test]
    fn a_running_devnets_folder_is_left_intact() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("devnet");
        earlier_devnet(&dir);
        let running = claim(&dir, free_port().unwrap()).unwrap();
        std::fs::write(dir.join("chain.log"), "running").unwrap();
        let error = claim(&dir, free_port().unwrap()).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("in use by a running devnet"), "{text}");
        assert!(
            text.contains(&format!("process {}", std::process::id())),
            "{text}"
        );
        assert!(dir.join("chain.log").exists());
        drop(running);
        claim(&dir, free_port().unwrap()).unwrap();
        assert!(!dir.join("chain.log").exists());
    }

    #[test]
    fn port_zero_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let error = claim(&root.path().join("devnet"), 0).unwrap_err();
        assert!(error.to_string().contains("must not be 0"), "{error}");
        assert!(!root.path().join("devnet").exists());
    }

    #[test]
    fn a_taken_port_is_refused_before_the_folder_is_touched() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("devnet");
        earlier_devnet(&dir);
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let error = claim(&dir, port).unwrap_err();
        assert!(error.to_string().contains("--rpc-port"), "{error}");
        assert_eq!(
            std::fs::read_to_string(dir.join("chain/data")).unwrap(),
            "blocks"
        );
    }
}
