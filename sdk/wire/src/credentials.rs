//! NEAR's credentials files (what `near-cli` keeps under `~/.near-credentials`):
//! `{"account_id", "public_key": "ed25519:…", "private_key": "ed25519:<base58 secret||public>"}`
//! (older near-cli files spell the last field `secret_key`; both are read).

use crate::crypto::{KeyError, SecretKey};
use crate::AccountId;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use thiserror::Error;

/// A credentials file that could not be read or written. Each message carries its cause (the
/// I/O, JSON or key error) and names the file, once: the cause is not also returned as
/// `source()`, so reporters that print error chains (anyhow) do not repeat it.
#[derive(Debug, Error)]
pub enum CredentialsError {
    #[error("cannot read the credentials file {path}: {}", io_reason(error))]
    Read { path: String, error: std::io::Error },
    #[error("cannot write the credentials file {path}: {}", io_reason(error))]
    Write { path: String, error: std::io::Error },
    #[error("{path}: not a NEAR credentials file: {error}")]
    Json {
        path: String,
        error: serde_json::Error,
    },
    #[error("{path}: {error}")]
    Key { path: String, error: KeyError },
    #[error("{path} already exists; refusing to overwrite a key (move it away first)")]
    Exists { path: String },
    #[error("{path}: public_key {found} is not the private key's {expected}")]
    PublicKeyMismatch {
        path: String,
        found: String,
        expected: String,
    },
}

/// An I/O error as people read it: `No such file or directory`, without ` (os error 2)`.
fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    match error.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .map_or(text.clone(), str::to_string),
        None => text,
    }
}

/// One account's key, as NEAR writes it. Its `Debug` form leaves the private key out, as
/// [`SecretKey`]'s does.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub account_id: AccountId,
    pub public_key: String,
    #[serde(alias = "secret_key")]
    pub private_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("account_id", &self.account_id)
            .field("public_key", &self.public_key)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Credentials of `account_id` holding `key`.
    pub fn new(account_id: AccountId, key: &SecretKey) -> Self {
        Self {
            account_id,
            public_key: key.public_key().to_string(),
            private_key: key.to_string(),
        }
    }

    /// Reads a credentials file and checks its two keys agree.
    pub fn read(path: &Path) -> Result<(Self, SecretKey), CredentialsError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| CredentialsError::Read {
            path: name.clone(),
            error,
        })?;
        let credentials: Self =
            serde_json::from_str(&text).map_err(|error| CredentialsError::Json {
                path: name.clone(),
                error,
            })?;
        let key: SecretKey =
            credentials
                .private_key
                .parse()
                .map_err(|error| CredentialsError::Key {
                    path: name.clone(),
                    error,
                })?;
        let expected = key.public_key().to_string();
        if credentials.public_key != expected {
            return Err(CredentialsError::PublicKeyMismatch {
                path: name,
                found: credentials.public_key,
                expected,
            });
        }
        Ok((credentials, key))
    }

    /// Writes a new file (creating its directory), never replacing an existing one: a key once
    /// written is not lost to a second `write`. The file appears whole or not at all: the text
    /// goes to a temporary file beside it (on Unix readable by its owner only, before any key
    /// byte is written), is synced, and is then linked under `path` (which fails if `path`
    /// exists), and the directory is synced where directories can be. Temporary files a crashed
    /// writer of this name left behind are removed first. On a filesystem without hard links
    /// the file is created under `path` directly (still never over an existing one, and removed
    /// again if writing it fails).
    pub fn write(&self, path: &Path) -> Result<(), CredentialsError> {
        let name = path.display().to_string();
        let io = |error| CredentialsError::Write {
            path: name.clone(),
            error,
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        if path.exists() {
            return Err(CredentialsError::Exists { path: name });
        }
        remove_stale_temps(dir, path).map_err(io)?;
        let temp = temp_path(dir, path);
        let written = self
            .write_new(&temp)
            .and_then(|()| match std::fs::hard_link(&temp, path) {
                Err(error) if no_hard_links(&error) => self.write_in_place(path),
                linked => linked,
            });
        // The temporary name goes whatever happened; the key lives on under `path` if linked.
        let _ = std::fs::remove_file(&temp);
        written.map_err(|error| {
            // NotFound with `path` there: a writer of the same name won, removing this one's
            // temporary file as it cleared stale ones.
            let lost_race = error.kind() == std::io::ErrorKind::NotFound && path.exists();
            if error.kind() == std::io::ErrorKind::AlreadyExists || lost_race {
                CredentialsError::Exists { path: name.clone() }
            } else {
                io(error)
            }
        })?;
        sync_dir(dir).map_err(io)
    }

    /// Creates `path` (which must not exist) with this file's text, synced to disk.
    fn write_new(&self, path: &Path) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        let text = serde_json::to_string_pretty(self).expect("credentials serialise");
        file.write_all(text.as_bytes())?;
        file.sync_all()
    }

    /// [`Self::write_new`] straight to `path`, for filesystems without hard links: a file this
    /// created but could not finish is removed, so no partial key stays under `path`.
    fn write_in_place(&self, path: &Path) -> std::io::Result<()> {
        let written = self.write_new(path);
        if let Err(error) = &written {
            if error.kind() != std::io::ErrorKind::AlreadyExists {
                let _ = std::fs::remove_file(path);
            }
        }
        written
    }
}

/// Whether `hard_link` failed because the filesystem has no hard links (FAT answers EPERM;
/// some FUSE and network filesystems EOPNOTSUPP or ENOSYS).
fn no_hard_links(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::Unsupported | std::io::ErrorKind::PermissionDenied
    )
}

/// A name beside `path` no other writer uses: hidden, with the process id and a counter.
fn temp_path(dir: &Path, path: &Path) -> std::path::PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!(
        ".{}.{}.{count}.tmp",
        file_name(path),
        std::process::id()
    ))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether `entry` is a temporary file [`temp_path`] names for `file`: `.<file>.<pid>.<n>.tmp`.
fn is_temp_of(entry: &str, file: &str) -> bool {
    let Some(middle) = entry
        .strip_prefix('.')
        .and_then(|rest| rest.strip_prefix(file))
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(".tmp"))
    else {
        return false;
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    middle
        .split_once('.')
        .is_some_and(|(pid, count)| digits(pid) && digits(count))
}

/// Removes the temporary copies of `path`'s key that a writer killed before it could remove
/// them left in `dir`.
fn remove_stale_temps(dir: &Path, path: &Path) -> std::io::Result<()> {
    let file = file_name(path);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if is_temp_of(&entry.file_name().to_string_lossy(), &file) {
            match std::fs::remove_file(entry.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Makes a new directory entry durable; a no-op where directories cannot be synced (some
/// filesystems answer EINVAL or EOPNOTSUPP to a directory's fsync).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    match std::fs::File::open(dir)?.sync_all() {
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {}
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {}
        result => result?,
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("alice.test.json");
        let key = SecretKey::from_seed([5; 32]);
        let credentials = Credentials::new("alice.test".parse().unwrap(), &key);
        credentials.write(&path).unwrap();
        let (read, secret) = Credentials::read(&path).unwrap();
        assert_eq!(read, credentials);
        // Printed for a log or a panic, the private key stays out.
        let shown = format!("{read:?} {secret:?}");
        assert!(!shown.contains(&credentials.private_key), "{shown}");
        assert!(shown.contains(&credentials.public_key), "{shown}");
        assert_eq!(secret.public_key(), key.public_key());
        let mut wrong = credentials.clone();
        wrong.public_key = SecretKey::from_seed([6; 32]).public_key().to_string();
        let wrong_path = dir.path().join("keys").join("wrong.json");
        wrong.write(&wrong_path).unwrap();
        assert!(matches!(
            Credentials::read(&wrong_path),
            Err(CredentialsError::PublicKeyMismatch { .. })
        ));
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.test.json");
        let first = SecretKey::from_seed([1; 32]);
        Credentials::new("node.test".parse().unwrap(), &first)
            .write(&path)
            .unwrap();
        let second = Credentials::new("node.test".parse().unwrap(), &SecretKey::from_seed([2; 32]));
        assert!(matches!(
            second.write(&path),
            Err(CredentialsError::Exists { .. })
        ));
        assert_eq!(
            Credentials::read(&path).unwrap().1.public_key(),
            first.public_key()
        );
        // No temporary file is left behind, written or refused.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("node.test.json")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn secret_copies_a_crashed_writer_left_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.test.json");
        let stale = dir.path().join(".node.test.json.4242.7.tmp");
        std::fs::write(&stale, "a secret key").unwrap();
        // Another key's temporary file, and files that only look alike, stay.
        let kept = [
            ".node.test.json.x.json.4242.7.tmp",
            ".node.test.json.4242.tmp",
            ".other.json.4242.7.tmp",
            "node.test.json.4242.7.tmp",
        ];
        for name in kept {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let key = SecretKey::from_seed([4; 32]);
        Credentials::new("node.test".parse().unwrap(), &key)
            .write(&path)
            .unwrap();
        assert!(!stale.exists());
        for name in kept {
            assert!(dir.path().join(name).exists(), "{name} was removed");
        }
        assert_eq!(
            Credentials::read(&path).unwrap().1.public_key(),
            key.public_key()
        );
    }

    #[test]
    fn a_key_written_in_place_is_whole_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fat.test.json");
        let key = SecretKey::from_seed([7; 32]);
        let credentials = Credentials::new("fat.test".parse().unwrap(), &key);
        credentials.write_in_place(&path).unwrap();
        assert_eq!(Credentials::read(&path).unwrap().0, credentials);
        let other = Credentials::new("fat.test".parse().unwrap(), &SecretKey::from_seed([8; 32]));
        let refused = other.write_in_place(&path).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(Credentials::read(&path).unwrap().0, credentials);
    }

    #[test]
    fn a_missing_file_is_named_with_its_cause_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bob.test.json");
        let error = Credentials::read(&path).unwrap_err();
        assert!(matches!(error, CredentialsError::Read { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read the credentials file {}: No such file or directory",
                path.display()
            )
        );
        // The cause is in the message, not repeated as a source (anyhow prints both).
        assert!(std::error::Error::source(&error).is_none());
        std::fs::write(&path, "not json").unwrap();
        let error = Credentials::read(&path).unwrap_err();
        assert!(error
            .to_string()
            .contains("not a NEAR credentials file: expected"));
        assert!(std::error::Error::source(&error).is_none());
    }

    #[test]
    fn near_cli_secret_key_spelling_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("legacy.json");
        let key = SecretKey::from_seed([3; 32]);
        let json = format!(
            r#"{{"account_id":"a.test","public_key":"{}","secret_key":"{}"}}"#,
            key.public_key(),
            key
        );
        std::fs::write(&path, json).unwrap();
        let (credentials, _) = Credentials::read(&path).unwrap();
        assert_eq!(credentials.account_id.as_str(), "a.test");
    }
}
