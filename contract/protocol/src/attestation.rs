//! The message an oracle node signs to attest to a result.
//!
//! Signing borsh bytes of a struct that names the chain, the oracle contract, the request, the
//! signing node, the model and the exact output means a signature made for one request can never
//! be replayed for another request, another deployment of the contract, another chain or as
//! another node's (even one registered with the same key), and a relayer cannot attach it to
//! another output. Every field is length-prefixed or fixed width, so no two different messages
//! share an encoding.

use crate::ids::{Digest32, ModelId};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Leads every signed attestation; bump the version when the message layout changes.
pub const ATTESTATION_DOMAIN: &str = "ai-oracle/attestation/v3";

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AttestationMessage {
    /// The chain's id as its RPC reports it (`mainnet`, `testnet`, `localnet`, ...).
    pub chain_id: String,
    /// The account of the oracle contract that issued the request.
    pub oracle_contract: String,
    /// The request's id within that contract.
    pub request_id: u64,
    /// The account of the node that attests (a committee member of the request).
    pub node: String,
    /// The model that produced the result.
    pub model_id: ModelId,
    /// The engine's result digest (model, spec version, prompt, parameters, seed, output).
    pub result_digest: Digest32,
    /// SHA-256 of the output bytes (UTF-8) the node submits with the attestation.
    pub output_hash: Digest32,
}

impl AttestationMessage {
    /// The exact bytes an attestation key signs: borsh of `(ATTESTATION_DOMAIN, self)`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        borsh::to_vec(&(ATTESTATION_DOMAIN, self)).expect("borsh into a Vec cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> AttestationMessage {
        AttestationMessage {
            chain_id: "localnet".into(),
            oracle_contract: "oracle.test".into(),
            request_id: 7,
            node: "node0.test".into(),
            model_id: Digest32([0x11; 32]),
            result_digest: Digest32([0x22; 32]),
            output_hash: Digest32([0x33; 32]),
        }
    }

    #[test]
    fn signing_bytes_layout_is_pinned() {
        let bytes = message().signing_bytes();
        let mut expected = Vec::new();
        expected.extend_from_slice(&(ATTESTATION_DOMAIN.len() as u32).to_le_bytes());
        expected.extend_from_slice(ATTESTATION_DOMAIN.as_bytes());
        expected.extend_from_slice(&8u32.to_le_bytes());
        expected.extend_from_slice(b"localnet");
        expected.extend_from_slice(&11u32.to_le_bytes());
        expected.extend_from_slice(b"oracle.test");
        expected.extend_from_slice(&7u64.to_le_bytes());
        expected.extend_from_slice(&10u32.to_le_bytes());
        expected.extend_from_slice(b"node0.test");
        expected.extend_from_slice(&[0x11; 32]);
        expected.extend_from_slice(&[0x22; 32]);
        expected.extend_from_slice(&[0x33; 32]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn every_field_changes_the_signed_bytes() {
        let base = message().signing_bytes();
        let variants = [
            AttestationMessage {
                chain_id: "testnet".into(),
                ..message()
            },
            AttestationMessage {
                oracle_contract: "oracle2.test".into(),
                ..message()
            },
            AttestationMessage {
                request_id: 8,
                ..message()
            },
            AttestationMessage {
                node: "node1.test".into(),
                ..message()
            },
            AttestationMessage {
                model_id: Digest32([0x12; 32]),
                ..message()
            },
            AttestationMessage {
                result_digest: Digest32([0x23; 32]),
                ..message()
            },
            AttestationMessage {
                output_hash: Digest32([0x34; 32]),
                ..message()
            },
        ];
        for variant in variants {
            assert_ne!(variant.signing_bytes(), base, "{variant:?}");
        }
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        // Moving characters between chain id and contract must not give the same bytes.
        let a = AttestationMessage {
            chain_id: "local".into(),
            oracle_contract: "netoracle.test".into(),
            ..message()
        };
        let b = AttestationMessage {
            chain_id: "localnet".into(),
            oracle_contract: "oracle.test".into(),
            ..message()
        };
        assert_ne!(a.signing_bytes(), b.signing_bytes());
    }
}
