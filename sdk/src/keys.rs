//! ed25519 keys in NEAR's textual form (`ed25519:<base58>`) and NEAR's credentials JSON
//! (`{"account_id", "public_key", "private_key"}`, as near-cli writes under ~/.near-credentials).

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

const ED25519_PREFIX: &str = "ed25519:";

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("key must start with `ed25519:`, got `{0}`")]
    NotEd25519(String),
    #[error("key is not valid base58: {0}")]
    Base58(String),
    #[error("{kind} must be {expected} bytes, got {actual}")]
    Length {
        kind: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("the private key does not match the public key in {0}")]
    Mismatch(PathBuf),
    #[error("{path} already exists; refusing to overwrite a key (move it away first)")]
    Exists { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a NEAR credentials file: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// An ed25519 public key, as NEAR writes it: `ed25519:<base58 of 32 bytes>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(pub VerifyingKey);

impl PublicKey {
    pub fn to_near_string(&self) -> String {
        format!(
            "{ED25519_PREFIX}{}",
            bs58::encode(self.0.as_bytes()).into_string()
        )
    }

    pub fn from_near_string(s: &str) -> Result<Self, KeyError> {
        let bytes = decode_prefixed(s)?;
        let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::Length {
            kind: "an ed25519 public key",
            expected: 32,
            actual: bytes.len(),
        })?;
        VerifyingKey::from_bytes(&array)
            .map(PublicKey)
            .map_err(|_| KeyError::Base58("not a valid ed25519 point".into()))
    }
}

/// An ed25519 key pair; its NEAR private-key form is the 64 bytes `secret || public`.
#[derive(Clone)]
pub struct KeyPair(SigningKey);

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair({})", self.public_key().to_near_string())
    }
}

impl KeyPair {
    /// A new key from the operating system's randomness.
    pub fn generate() -> Self {
        KeyPair(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// A key derived from a 32-byte seed: for tests and reproducible devnets only.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        KeyPair(SigningKey::from_bytes(&seed))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    pub fn to_near_private_string(&self) -> String {
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(self.0.as_bytes());
        bytes[32..].copy_from_slice(self.0.verifying_key().as_bytes());
        format!("{ED25519_PREFIX}{}", bs58::encode(bytes).into_string())
    }

    pub fn from_near_private_string(s: &str) -> Result<Self, KeyError> {
        let bytes = decode_prefixed(s)?;
        if bytes.len() != 64 {
            return Err(KeyError::Length {
                kind: "a NEAR ed25519 private key",
                expected: 64,
                actual: bytes.len(),
            });
        }
        let secret: [u8; 32] = bytes[..32].try_into().expect("checked length");
        let pair = KeyPair(SigningKey::from_bytes(&secret));
        if pair.0.verifying_key().as_bytes() != &bytes[32..] {
            return Err(KeyError::Base58(
                "the last 32 bytes are not the public key of the first 32".into(),
            ));
        }
        Ok(pair)
    }
}

fn decode_prefixed(s: &str) -> Result<Vec<u8>, KeyError> {
    let body = s
        .strip_prefix(ED25519_PREFIX)
        .ok_or_else(|| KeyError::NotEd25519(s.chars().take(16).collect()))?;
    bs58::decode(body)
        .into_vec()
        .map_err(|e| KeyError::Base58(e.to_string()))
}

/// NEAR's credentials JSON for one account key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CredentialsFile {
    pub account_id: String,
    pub public_key: String,
    #[serde(alias = "secret_key")]
    pub private_key: String,
}

/// An account id together with one of its full-access keys.
#[derive(Debug, Clone)]
pub struct AccountKey {
    pub account_id: String,
    pub key: KeyPair,
}

impl AccountKey {
    pub fn to_credentials(&self) -> CredentialsFile {
        CredentialsFile {
            account_id: self.account_id.clone(),
            public_key: self.key.public_key().to_near_string(),
            private_key: self.key.to_near_private_string(),
        }
    }

    /// Writes the credentials file, never replacing an existing one; the file is readable by its
    /// owner only.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                io(source)
            }
        })?;
        let json =
            serde_json::to_string_pretty(&self.to_credentials()).expect("credentials serialise");
        file.write_all(json.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let creds: CredentialsFile =
            serde_json::from_str(&text).map_err(|source| KeyError::Json {
                path: path.to_path_buf(),
                source,
            })?;
        let key = KeyPair::from_near_private_string(&creds.private_key)?;
        if key.public_key() != PublicKey::from_near_string(&creds.public_key)? {
            return Err(KeyError::Mismatch(path.to_path_buf()));
        }
        Ok(AccountKey {
            account_id: creds.account_id,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_string_forms_round_trip() {
        let key = KeyPair::from_seed([7; 32]);
        let public = key.public_key().to_near_string();
        assert!(public.starts_with("ed25519:"));
        assert_eq!(
            PublicKey::from_near_string(&public).unwrap(),
            key.public_key()
        );
        let private = key.to_near_private_string();
        let again = KeyPair::from_near_private_string(&private).unwrap();
        assert_eq!(again.public_key(), key.public_key());
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(matches!(
            PublicKey::from_near_string("secp256k1:abc"),
            Err(KeyError::NotEd25519(_))
        ));
        assert!(matches!(
            PublicKey::from_near_string("ed25519:0OIl"),
            Err(KeyError::Base58(_))
        ));
        assert!(matches!(
            PublicKey::from_near_string("ed25519:2"),
            Err(KeyError::Length { .. })
        ));
        // A private key whose public half belongs to another key.
        let a = KeyPair::from_seed([1; 32]).to_near_private_string();
        let b = KeyPair::from_seed([2; 32]).to_near_private_string();
        let mut mixed = bs58::decode(&a[8..]).into_vec().unwrap();
        mixed[32..].copy_from_slice(&bs58::decode(&b[8..]).into_vec().unwrap()[32..]);
        let mixed = format!("ed25519:{}", bs58::encode(mixed).into_string());
        assert!(KeyPair::from_near_private_string(&mixed).is_err());
    }

    #[test]
    fn credentials_file_round_trip_and_no_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.test.json");
        let account = AccountKey {
            account_id: "node.test".into(),
            key: KeyPair::generate(),
        };
        account.write_new(&path).unwrap();
        let read = AccountKey::read(&path).unwrap();
        assert_eq!(read.account_id, "node.test");
        assert_eq!(read.key.public_key(), account.key.public_key());

        let other = AccountKey {
            account_id: "node.test".into(),
            key: KeyPair::generate(),
        };
        assert!(matches!(
            other.write_new(&path),
            Err(KeyError::Exists { .. })
        ));
        // The original key is still there.
        assert_eq!(
            AccountKey::read(&path).unwrap().key.public_key(),
            account.key.public_key()
        );
    }

    #[test]
    fn near_cli_secret_key_spelling_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("legacy.json");
        let key = KeyPair::from_seed([3; 32]);
        let json = format!(
            r#"{{"account_id":"a.test","public_key":"{}","secret_key":"{}"}}"#,
            key.public_key().to_near_string(),
            key.to_near_private_string()
        );
        std::fs::write(&path, json).unwrap();
        assert_eq!(AccountKey::read(&path).unwrap().account_id, "a.test");
    }
}
