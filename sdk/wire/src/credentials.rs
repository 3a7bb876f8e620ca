//! NEAR's credentials files (what `near-cli` keeps under `~/.near-credentials`):
//! `{"account_id", "public_key": "ed25519:…", "private_key": "ed25519:<base58 secret||public>"}`.

use crate::crypto::{KeyError, SecretKey};
use crate::AccountId;
use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;

/// A credentials file that could not be read or written.
#[derive(Debug, Error)]
pub enum CredentialsError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a NEAR credentials file: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: {source}")]
    Key { path: String, source: KeyError },
    #[error("{path}: public_key {found} is not the private key's {expected}")]
    PublicKeyMismatch {
        path: String,
        found: String,
        expected: String,
    },
}

/// One account's key, as NEAR writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub account_id: AccountId,
    pub public_key: String,
    pub private_key: String,
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
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Io {
            path: name.clone(),
            source,
        })?;
        let credentials: Self =
            serde_json::from_str(&text).map_err(|source| CredentialsError::Json {
                path: name.clone(),
                source,
            })?;
        let key: SecretKey =
            credentials
                .private_key
                .parse()
                .map_err(|source| CredentialsError::Key {
                    path: name.clone(),
                    source,
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

    /// Writes the file (creating its directory), readable by its owner only on Unix.
    pub fn write(&self, path: &Path) -> Result<(), CredentialsError> {
        let io = |source| CredentialsError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = serde_json::to_string_pretty(self).expect("credentials serialise");
        std::fs::write(path, text).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        Ok(())
    }
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
        assert_eq!(secret.public_key(), key.public_key());
        let mut wrong = credentials.clone();
        wrong.public_key = SecretKey::from_seed([6; 32]).public_key().to_string();
        wrong.write(&path).unwrap();
        assert!(matches!(
            Credentials::read(&path),
            Err(CredentialsError::PublicKeyMismatch { .. })
        ));
    }
}
