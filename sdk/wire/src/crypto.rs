//! ed25519 keys and signatures as NEAR encodes them: borsh `enum { ED25519([u8; 32]) }` (key type
//! tag 0), and the text form `ed25519:<base58>`.

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A key or signature that could not be read. Never carries the text it was read from: that
/// may be a secret key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// The type the text names before its first `:`, when that looks like a type name.
    #[error("key type `{0}` is not supported: only ed25519 keys (`ed25519:<base58>`) are")]
    UnknownKeyType(String),
    /// The text before the first `:` is not a type name (it is never echoed: it may be part of
    /// a secret).
    #[error("the text before `:` is not a key type: write the key as `ed25519:<base58>`")]
    MalformedKeyType,
    #[error("the key data is not valid base58")]
    Base58,
    #[error("expected {expected} bytes, found {found}")]
    Length { expected: usize, found: usize },
    #[error("secret key does not match its public half")]
    Mismatch,
}

/// A public key: NEAR's `PublicKey::ED25519`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub enum PublicKey {
    Ed25519([u8; 32]),
}

/// A signature: NEAR's `Signature::ED25519`.
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Signature {
    Ed25519([u8; 64]),
}

/// An ed25519 secret key, written by NEAR as `ed25519:<base58 of secret || public>`.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl PublicKey {
    /// The key's borsh bytes (tag, then the key): how accounts index their access keys.
    pub fn to_bytes(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("a public key always serialises")
    }

    /// Reads a key from its borsh bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        borsh::from_slice(bytes).map_err(|_| KeyError::Length {
            expected: 33,
            found: bytes.len(),
        })
    }

    /// Whether `signature` signs `message` with this key.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        let (PublicKey::Ed25519(key), Signature::Ed25519(sig)) = (self, signature);
        let Ok(key) = VerifyingKey::from_bytes(key) else {
            return false;
        };
        key.verify(message, &ed25519_dalek::Signature::from_bytes(sig))
            .is_ok()
    }
}

impl SecretKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// A key derived from `seed` (tests and benchmarks).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// Its public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::Ed25519(self.0.verifying_key().to_bytes())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature::Ed25519(self.0.sign(message).to_bytes())
    }
}

/// The key type `text` names (`secp256k1` in `secp256k1:…`), when the text has a prefix that
/// looks like a type name (at most 16 letters, digits, `-` or `_`): never a part of a key.
fn key_type(text: &str) -> Option<String> {
    let (kind, _) = text.split_once(':')?;
    let is_name = !kind.is_empty()
        && kind.len() <= 16
        && kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    is_name.then(|| kind.to_string())
}

/// Reads `ed25519:<base58>` into exactly `N` bytes, as near-crypto does: the type is matched
/// without regard to case, and bare base58 (no type) is ed25519.
fn parse_prefixed<const N: usize>(text: &str) -> Result<[u8; N], KeyError> {
    let data = match text.split_once(':') {
        None => text,
        Some((kind, data)) if kind.eq_ignore_ascii_case("ed25519") => data,
        Some(_) => {
            return Err(match key_type(text) {
                Some(kind) => KeyError::UnknownKeyType(kind),
                None => KeyError::MalformedKeyType,
            })
        }
    };
    let bytes = bs58::decode(data)
        .into_vec()
        .map_err(|_| KeyError::Base58)?;
    let found = bytes.len();
    bytes
        .try_into()
        .map_err(|_| KeyError::Length { expected: N, found })
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<Self, KeyError> {
        parse_prefixed::<32>(text).map(PublicKey::Ed25519)
    }
}

impl FromStr for Signature {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<Self, KeyError> {
        parse_prefixed::<64>(text).map(Signature::Ed25519)
    }
}

impl FromStr for SecretKey {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<Self, KeyError> {
        let bytes = parse_prefixed::<64>(text)?;
        let (secret, public) = bytes.split_at(32);
        let key = SigningKey::from_bytes(secret.try_into().expect("32 bytes"));
        if key.verifying_key().as_bytes() != public {
            return Err(KeyError::Mismatch);
        }
        Ok(Self(key))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let PublicKey::Ed25519(key) = self;
        write!(f, "ed25519:{}", bs58::encode(key).into_string())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Signature::Ed25519(sig) = self;
        write!(f, "ed25519:{}", bs58::encode(sig).into_string())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = self.0.to_bytes().to_vec();
        bytes.extend_from_slice(self.0.verifying_key().as_bytes());
        write!(f, "ed25519:{}", bs58::encode(bytes).into_string())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_text_and_borsh() {
        let secret = SecretKey::from_seed([7; 32]);
        let public = secret.public_key();
        let text = public.to_string();
        assert!(text.starts_with("ed25519:"));
        assert_eq!(text.parse::<PublicKey>().unwrap(), public);
        let bytes = public.to_bytes();
        assert_eq!(bytes.len(), 33);
        assert_eq!(bytes[0], 0, "ed25519 is key type 0");
        assert_eq!(PublicKey::from_bytes(&bytes).unwrap(), public);
        let again: SecretKey = secret.to_string().parse().unwrap();
        assert_eq!(again.public_key(), public);
    }

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let secret = SecretKey::from_seed([1; 32]);
        let signature = secret.sign(b"message");
        assert!(secret.public_key().verify(b"message", &signature));
        assert!(!secret.public_key().verify(b"other", &signature));
        let other = SecretKey::from_seed([2; 32]).public_key();
        assert!(!other.verify(b"message", &signature));
        let text = signature.to_string();
        assert_eq!(text.parse::<Signature>().unwrap(), signature);
    }

    #[test]
    fn keys_without_a_prefix_or_in_another_case_read_as_near_crypto_reads_them() {
        let secret = SecretKey::from_seed([9; 32]);
        let public = secret.public_key();
        let text = public.to_string();
        let bare = text.strip_prefix("ed25519:").unwrap();
        assert_eq!(bare.parse::<PublicKey>().unwrap(), public);
        assert_eq!(
            format!("ED25519:{bare}").parse::<PublicKey>().unwrap(),
            public
        );
        assert_eq!(
            format!("Ed25519:{bare}").parse::<PublicKey>().unwrap(),
            public
        );
        let secret_text = secret.to_string();
        let bare_secret = secret_text.strip_prefix("ed25519:").unwrap();
        assert_eq!(
            bare_secret.parse::<SecretKey>().unwrap().public_key(),
            public
        );
        let signature = secret.sign(b"m");
        let signature_text = signature.to_string();
        let bare_signature = signature_text.strip_prefix("ed25519:").unwrap();
        assert_eq!(bare_signature.parse::<Signature>().unwrap(), signature);
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(matches!(
            "secp256k1:abc".parse::<PublicKey>(),
            Err(KeyError::UnknownKeyType(_))
        ));
        assert!(matches!(
            "ed25519:0OIl".parse::<PublicKey>(),
            Err(KeyError::Base58)
        ));
        assert!(matches!(
            "ed25519:3xMS".parse::<PublicKey>(),
            Err(KeyError::Length { .. })
        ));
        let mut mismatched = SecretKey::from_seed([1; 32]).0.to_bytes().to_vec();
        mismatched
            .extend_from_slice(SecretKey::from_seed([2; 32]).public_key().to_bytes()[1..].as_ref());
        let text = format!("ed25519:{}", bs58::encode(mismatched).into_string());
        assert_eq!(text.parse::<SecretKey>().unwrap_err(), KeyError::Mismatch);
    }

    #[test]
    fn a_malformed_secret_key_is_never_echoed_in_its_error() {
        let secret = SecretKey::from_seed([7; 32]).to_string();
        let payload = secret.strip_prefix("ed25519:").unwrap();
        for malformed in [
            format!("ed25519:{payload}0"), // `0` is not base58
            format!("ed25519{payload}"),   // no type prefix
            format!("ed25519:{}", &payload[..40]),
            format!("{payload}:{payload}"),
        ] {
            let error = malformed.parse::<SecretKey>().unwrap_err().to_string();
            assert!(!error.contains(&payload[..16]), "{error}");
        }
        assert_eq!(
            format!("{payload}:{payload}")
                .parse::<SecretKey>()
                .unwrap_err(),
            KeyError::MalformedKeyType
        );
        assert_eq!(
            "secp256k1:abc"
                .parse::<PublicKey>()
                .unwrap_err()
                .to_string(),
            "key type `secp256k1` is not supported: only ed25519 keys (`ed25519:<base58>`) are"
        );
    }
}
