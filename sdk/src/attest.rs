//! Signing and checking attestations off-chain, byte for byte as the oracle contract checks them
//! on-chain with `ed25519_verify`.

use crate::keys::{PublicKey, SecretKey, Signature};
use oracle_protocol::AttestationMessage;

/// Signs the domain-separated bytes of `message`.
pub fn sign(key: &SecretKey, message: &AttestationMessage) -> [u8; 64] {
    let Signature::Ed25519(bytes) = key.sign(&message.signing_bytes());
    bytes
}

/// True when `signature` is `key`'s signature over exactly this message, checked as NEAR's
/// `ed25519_verify` host function checks it (canonical scalars only).
pub fn verify(key: &PublicKey, message: &AttestationMessage, signature: &[u8; 64]) -> bool {
    key.verify(&message.signing_bytes(), &Signature::Ed25519(*signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oracle_protocol::Digest32;

    fn message() -> AttestationMessage {
        AttestationMessage {
            chain_id: "localnet".into(),
            oracle_contract: "oracle.test".into(),
            request_id: 42,
            node: "node0.test".into(),
            model_id: Digest32([9; 32]),
            result_digest: Digest32([5; 32]),
            output_hash: Digest32([6; 32]),
        }
    }

    #[test]
    fn a_signature_verifies_only_for_its_own_message_and_key() {
        let key = SecretKey::from_seed([4; 32]);
        let signature = sign(&key, &message());
        assert!(verify(&key.public_key(), &message(), &signature));

        let replayed = AttestationMessage {
            request_id: 43,
            ..message()
        };
        assert!(!verify(&key.public_key(), &replayed, &signature));
        let other_chain = AttestationMessage {
            chain_id: "mainnet".into(),
            ..message()
        };
        assert!(!verify(&key.public_key(), &other_chain, &signature));
        let other_node = AttestationMessage {
            node: "node1.test".into(),
            ..message()
        };
        assert!(!verify(&key.public_key(), &other_node, &signature));
        let other_output = AttestationMessage {
            output_hash: Digest32([7; 32]),
            ..message()
        };
        assert!(!verify(&key.public_key(), &other_output, &signature));
        let other_key = SecretKey::from_seed([5; 32]).public_key();
        assert!(!verify(&other_key, &message(), &signature));
        let mut tampered = signature;
        tampered[10] ^= 1;
        assert!(!verify(&key.public_key(), &message(), &tampered));
    }
}
