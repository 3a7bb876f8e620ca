//! 32-byte identifiers: model ids (SHA-256 of the GGUF file) and result digests.

use borsh::{BorshDeserialize, BorshSerialize};
use core::fmt;
use core::str::FromStr;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a hex identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    /// Not exactly 64 characters.
    WrongLength(usize),
    /// Contains a character outside `0-9a-f`.
    NotLowercaseHex,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::WrongLength(len) => write!(
                f,
                "expected 64 lowercase hex characters (a SHA-256), got {len} characters"
            ),
            IdError::NotLowercaseHex => {
                write!(f, "expected lowercase hex characters 0-9a-f only")
            }
        }
    }
}

impl std::error::Error for IdError {}

/// A SHA-256 value, written as 64 lowercase hex characters in JSON and on the command line,
/// and as 32 raw bytes in borsh.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize, Default,
)]
pub struct Digest32(pub [u8; 32]);

impl Digest32 {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for Digest32 {
    type Err = IdError;

    /// Only the canonical form is accepted (lowercase, no prefix), so one digest has one spelling.
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.len() != 64 {
            return Err(IdError::WrongLength(s.len()));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(IdError::NotLowercaseHex);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| IdError::NotLowercaseHex)?;
        Ok(Digest32(out))
    }
}

impl fmt::Display for Digest32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest32({})", self.to_hex())
    }
}

impl Serialize for Digest32 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest32 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A model is named by the SHA-256 of its GGUF file: two nodes serving the same id serve the
/// same bytes.
pub type ModelId = Digest32;

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

    #[test]
    fn hex_round_trip() {
        let id: ModelId = SMOLLM2.parse().unwrap();
        assert_eq!(id.0[0], 0xb1);
        assert_eq!(id.0[31], 0x53);
        assert_eq!(id.to_string(), SMOLLM2);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{SMOLLM2}\""));
        assert_eq!(serde_json::from_str::<ModelId>(&json).unwrap(), id);
    }

    #[test]
    fn non_canonical_spellings_are_refused() {
        assert_eq!(
            "abc".parse::<ModelId>().unwrap_err(),
            IdError::WrongLength(3)
        );
        let upper = SMOLLM2.to_uppercase();
        assert_eq!(
            upper.parse::<ModelId>().unwrap_err(),
            IdError::NotLowercaseHex
        );
        let mut bad = SMOLLM2.to_string();
        bad.replace_range(0..1, "g");
        assert_eq!(
            bad.parse::<ModelId>().unwrap_err(),
            IdError::NotLowercaseHex
        );
        assert!(serde_json::from_str::<ModelId>("\"00\"").is_err());
    }

    #[test]
    fn borsh_is_32_raw_bytes() {
        let id: ModelId = SMOLLM2.parse().unwrap();
        let bytes = borsh::to_vec(&id).unwrap();
        assert_eq!(bytes.len(), 32);
        assert_eq!(bytes, id.0.to_vec());
    }
}
