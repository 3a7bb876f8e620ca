//! ed25519 signatures: 64 bytes, written as 128 lowercase hex characters in JSON.

use borsh::{BorshDeserialize, BorshSerialize};
use core::fmt;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ed25519 signature over an attestation's signing bytes.
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signature64(pub [u8; 64]);

impl Signature64 {
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

/// The JSON form: 128 lowercase hex characters.
impl fmt::Display for Signature64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Signature64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature64({})", hex::encode(self.0))
    }
}

impl Serialize for Signature64 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Signature64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        if text.len() != 128 {
            return Err(serde::de::Error::custom(format!(
                "a signature is 128 hex characters, got {}",
                text.len()
            )));
        }
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(&text, &mut bytes)
            .map_err(|_| serde::de::Error::custom("a signature must be hex"))?;
        Ok(Signature64(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_length_check() {
        let signature = Signature64([0xab; 64]);
        let json = serde_json::to_string(&signature).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(64)));
        assert_eq!(json, format!("\"{signature}\""));
        assert_eq!(
            serde_json::from_str::<Signature64>(&json).unwrap(),
            signature
        );
        let short = serde_json::from_str::<Signature64>("\"abcd\"").unwrap_err();
        assert!(short.to_string().contains("128 hex characters"), "{short}");
        let not_hex = format!("\"{}\"", "zz".repeat(64));
        assert!(serde_json::from_str::<Signature64>(&not_hex).is_err());
    }
}
