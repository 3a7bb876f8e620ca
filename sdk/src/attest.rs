//! Signing and checking attestations off-chain, byte for byte as the oracle contract checks them
//! on-chain with `ed25519_verify`.

use crate::keys::{PublicKey, SecretKey, Signature};
use oracle_protocol::{is_weak_ed25519_key, AttestationMessage};

/// Signs the domain-separated bytes of `message`.
pub fn sign(key: &SecretKey, message: &AttestationMessage) -> [u8; 64] {
    let Signature::Ed25519(bytes) = key.sign(&message.signing_bytes());
    bytes
}

/// True when `signature` is `key`'s signature over exactly this message, checked as NEAR's
/// `ed25519_verify` host function checks it (canonical scalars only). Never true for a weak
/// key (of small order), with which one signature verifies for any message; the oracle
/// contract registers none.
pub fn verify(key: &PublicKey, message: &AttestationMessage, signature: &[u8; 64]) -> bool {
    !is_weak(key) && key.verify(&message.signing_bytes(), &Signature::Ed25519(*signature))
}

/// Whether `key` is of small order ([`is_weak_ed25519_key`]): one signature verifies with it
/// for any message.
pub fn is_weak(key: &PublicKey) -> bool {
    let PublicKey::Ed25519(bytes) = key;
    is_weak_ed25519_key(bytes)
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

    #[test]
    fn a_weak_key_verifies_nothing() {
        // The identity point, and the signature (R = identity, S = 0) that the host's
        // ed25519_verify accepts with it for every message.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = PublicKey::Ed25519(identity);
        assert!(is_weak(&weak));
        let mut signature = [0u8; 64];
        signature[0] = 1;
        assert!(weak.verify(&message().signing_bytes(), &Signature::Ed25519(signature)));
        assert!(!verify(&weak, &message(), &signature));
        assert!(!is_weak(&SecretKey::from_seed([4; 32]).public_key()));
    }
}
