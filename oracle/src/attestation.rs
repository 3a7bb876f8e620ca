//! The signer stage: a computed result becomes the arguments of `submit_attestation` (and, from
//! their signature, the commitment `commit_attestation` takes first), signed
//! with the node's attestation key over the message the contract checks
//! (`oracle_protocol::AttestationMessage`, see contract/oracle/README.md).

use crate::chain::AttestationArgs;
use crate::journal::Computed;
use oracle_protocol::{AttestationMessage, Digest32, ModelId, Signature64};
use sdk::keys::SecretKey;
use sha2::{Digest, Sha256};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("journaled digest `{0}` is not 64 hex characters")]
pub struct BadDigest(String);

/// Where and as whom the attestation is valid: one oracle contract on one chain, signed as
/// this node's account (the contract refuses it as anyone else's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub chain_id: String,
    pub oracle_contract: String,
    pub node: String,
}

/// Signs `computed` for request `request_id` of `model_id`. With `bad_signature` (fault
/// injection) the signature is spoiled so that it does not verify.
pub fn attest(
    key: &SecretKey,
    deployment: &Deployment,
    request_id: u64,
    model_id: ModelId,
    computed: &Computed,
    bad_signature: bool,
) -> Result<AttestationArgs, BadDigest> {
    let digest = |hex: &str| -> Result<Digest32, BadDigest> {
        hex.parse().map_err(|_| BadDigest(hex.to_string()))
    };
    let result_digest = digest(&computed.result_digest)?;
    let message = AttestationMessage {
        chain_id: deployment.chain_id.clone(),
        oracle_contract: deployment.oracle_contract.clone(),
        request_id,
        node: deployment.node.clone(),
        model_id,
        result_digest,
        output_hash: digest(&computed.output_hash)?,
    };
    let mut signature = sdk::attest::sign(key, &message);
    if bad_signature {
        signature[0] ^= 0x01;
    }
    Ok(AttestationArgs {
        request_id,
        output: computed.output.clone(),
        result_digest,
        signature: Signature64(signature),
    })
}

/// What the engine produced, in the journal's form.
pub fn computed(output: String, result_digest: [u8; 32]) -> Computed {
    Computed {
        output_hash: hex::encode(Sha256::digest(output.as_bytes())),
        result_digest: hex::encode(result_digest),
        output,
    }
}

/// The byzantine node's answer (fault injection `corrupt_output`): another output with another
/// digest, internally consistent, so the signature verifies and only the quorum can tell.
pub fn corrupt(computed: &Computed) -> Computed {
    let output = format!("{} [corrupted]", computed.output);
    let digest: [u8; 32] = Sha256::new()
        .chain_update(b"corrupt_output")
        .chain_update(computed.result_digest.as_bytes())
        .finalize()
        .into();
    self::computed(output, digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Deployment {
        Deployment {
            chain_id: "localnet".into(),
            oracle_contract: "oracle.test".into(),
            node: "node0.test".into(),
        }
    }

    fn message_of(args: &AttestationArgs, model_id: ModelId) -> AttestationMessage {
        AttestationMessage {
            chain_id: "localnet".into(),
            oracle_contract: "oracle.test".into(),
            request_id: args.request_id,
            node: "node0.test".into(),
            model_id,
            result_digest: args.result_digest,
            output_hash: Digest32(Sha256::digest(args.output.as_bytes()).into()),
        }
    }

    fn signature(args: &AttestationArgs) -> [u8; 64] {
        args.signature.0
    }

    #[test]
    fn the_signature_verifies_for_the_submitted_output_and_spoiled_ones_do_not() {
        let key = SecretKey::from_seed([3; 32]);
        let model = Digest32([1; 32]);
        let result = computed("Paris".into(), [7; 32]);
        let good = attest(&key, &deployment(), 5, model, &result, false).unwrap();
        assert_eq!(good.output, "Paris");
        let message = message_of(&good, model);
        assert!(sdk::attest::verify(
            &key.public_key(),
            &message,
            &signature(&good)
        ));

        let as_another_node = AttestationMessage {
            node: "node1.test".into(),
            ..message.clone()
        };
        assert!(!sdk::attest::verify(
            &key.public_key(),
            &as_another_node,
            &signature(&good)
        ));

        let spoiled = attest(&key, &deployment(), 5, model, &result, true).unwrap();
        assert!(!sdk::attest::verify(
            &key.public_key(),
            &message,
            &signature(&spoiled)
        ));

        let byzantine = corrupt(&result);
        assert_ne!(byzantine.result_digest, result.result_digest);
        assert_ne!(byzantine.output_hash, result.output_hash);
        let lie = attest(&key, &deployment(), 5, model, &byzantine, false).unwrap();
        assert!(sdk::attest::verify(
            &key.public_key(),
            &message_of(&lie, model),
            &signature(&lie)
        ));
    }

    #[test]
    fn a_damaged_journal_digest_is_an_error() {
        let key = SecretKey::from_seed([3; 32]);
        let mut result = computed("Paris".into(), [7; 32]);
        result.output_hash = "zz".into();
        let err = attest(&key, &deployment(), 1, Digest32([1; 32]), &result, false).unwrap_err();
        assert_eq!(err, BadDigest("zz".into()));
    }
}
