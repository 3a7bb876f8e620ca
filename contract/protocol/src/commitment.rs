//! Commit–reveal of attestations. A committee node first commits to its attestation without
//! showing it: `commitment = SHA-256(COMMITMENT_DOMAIN ‖ signature)`, where `signature` is its
//! ed25519 signature over the [`crate::AttestationMessage`] it will reveal. Ed25519 signatures
//! are deterministic, so the node can re-derive its commitment (and its reveal) from its result
//! at any time; the signature names the node's account and needs its key, so a commitment copied
//! from another member matches no attestation the copier can make. The oracle opens the reveal
//! phase only once every member has committed or the commit window has passed, so no member can
//! see an answer before it has committed to its own.

use crate::ids::Digest32;
use crate::signature::Signature64;
use sha2::{Digest, Sha256};

/// Leads every commitment's preimage; bump the version when the preimage layout changes.
pub const COMMITMENT_DOMAIN: &str = "ai-oracle/attestation-commitment/v1";

/// The bytes a commitment hashes: the domain's UTF-8 bytes, then the 64 signature bytes (fixed
/// width, so the concatenation is unambiguous).
pub fn commitment_preimage(signature: &Signature64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(COMMITMENT_DOMAIN.len() + 64);
    bytes.extend_from_slice(COMMITMENT_DOMAIN.as_bytes());
    bytes.extend_from_slice(signature.as_bytes());
    bytes
}

/// The commitment to an attestation whose signature is `signature`:
/// SHA-256 of [`commitment_preimage`].
pub fn attestation_commitment(signature: &Signature64) -> Digest32 {
    Digest32(Sha256::digest(commitment_preimage(signature)).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitment_layout_is_pinned() {
        let signature = Signature64([0xab; 64]);
        let mut expected = b"ai-oracle/attestation-commitment/v1".to_vec();
        expected.extend_from_slice(&[0xab; 64]);
        assert_eq!(commitment_preimage(&signature), expected);
        assert_eq!(
            attestation_commitment(&signature),
            Digest32(Sha256::digest(&expected).into())
        );
        assert_eq!(
            attestation_commitment(&signature).to_hex(),
            "2808eedb7e05b19d6e602d752dbdf49ae5a9b86a575d2707b2bbb440cc8f3342"
        );
    }

    #[test]
    fn every_signature_byte_changes_the_commitment() {
        let base = attestation_commitment(&Signature64([0; 64]));
        for i in 0..64 {
            let mut bytes = [0; 64];
            bytes[i] = 1;
            assert_ne!(
                attestation_commitment(&Signature64(bytes)),
                base,
                "byte {i}"
            );
        }
    }
}
