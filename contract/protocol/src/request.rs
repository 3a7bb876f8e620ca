//! What a dApp sends with a request, what a node or relayer submits for it, and what the oracle
//! announces when a request is created. Integers only: no floats cross the contract boundary.

use crate::ids::{Digest32, ModelId};
use crate::json_numbers::{u128_string, u64_string};
use crate::signature::Signature64;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Largest temperature a request may ask for, in thousandths (10.0).
pub const MAX_TEMPERATURE_MILLI: u32 = 10_000;
/// `top_p` of one (keep every token), in thousandths.
pub const TOP_P_ALL_MILLI: u32 = 1000;
/// Longest `output_schema` a request may carry, in bytes.
pub const MAX_OUTPUT_SCHEMA_BYTES: usize = 2048;

/// Sampling parameters of a request, in integers: the engine reads `temperature_milli / 1000`
/// and `top_p_milli / 1000`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RequestParams {
    /// Sampling temperature in thousandths (700 = 0.7); 0 is greedy decoding.
    pub temperature_milli: u32,
    /// Keep only the `top_k` most likely tokens; 0 keeps all.
    pub top_k: u32,
    /// Keep the smallest set of tokens whose probability reaches `top_p_milli / 1000`; 1000
    /// keeps all.
    pub top_p_milli: u32,
    /// Most tokens to generate (at least 1, at most the model's `max_output_tokens`).
    pub max_tokens: u32,
    /// Sampling seed (a decimal string in JSON).
    #[serde(with = "u64_string")]
    pub seed: u64,
    /// Holds the output to a JSON schema: JSON text of the subset the engine's constrained
    /// decoder reads (`kernels::constrain::Schema::from_json_schema`: objects with ordered
    /// required properties, string enums or `maxLength`, bounded integers, booleans). The output
    /// is then canonical compact JSON of that schema, and the schema enters the result digest.
    /// The contract only bounds its length: a schema outside the subset makes every honest node
    /// fail the same way, so the request gets no quorum, times out and its fee is refunded.
    /// Absent from JSON when `None`, so requests written before it existed stay valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<String>,
}

impl RequestParams {
    /// Checks the bounds that hold for every model; the error names the field.
    pub fn check(&self) -> Result<(), String> {
        if self.temperature_milli > MAX_TEMPERATURE_MILLI {
            return Err(format!(
                "temperature_milli must be at most {MAX_TEMPERATURE_MILLI}, got {}",
                self.temperature_milli
            ));
        }
        if self.top_p_milli == 0 || self.top_p_milli > TOP_P_ALL_MILLI {
            return Err(format!(
                "top_p_milli must be 1 to {TOP_P_ALL_MILLI}, got {}",
                self.top_p_milli
            ));
        }
        if self.max_tokens == 0 {
            return Err("max_tokens must be at least 1".to_string());
        }
        if let Some(schema) = &self.output_schema {
            if schema.len() > MAX_OUTPUT_SCHEMA_BYTES {
                return Err(format!(
                    "output_schema is {} bytes; at most {MAX_OUTPUT_SCHEMA_BYTES} are accepted",
                    schema.len()
                ));
            }
        }
        Ok(())
    }
}

/// One node's signed attestation inside a relayed bundle: the relayer submits the output once
/// and each node's signature over the message naming that output's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAttestation {
    /// The node's account (as registered with the oracle).
    pub node: String,
    pub result_digest: Digest32,
    /// The node's ed25519 signature over [`crate::AttestationMessage::signing_bytes`].
    pub signature: Signature64,
}

/// A signed claim by one node about one request, as equivocation evidence: two valid claims by
/// the same node for the same request naming different results get the node slashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedClaim {
    pub result_digest: Digest32,
    pub output_hash: Digest32,
    pub signature: Signature64,
}

/// Data of the `request_created` event: everything a committee node needs to start, except the
/// input itself, which it reads with the `get_request` view (events are capped at 16 KiB), and
/// the committee, drawn in a receipt of its own after this one (`committee_drawn`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCreated {
    pub request_id: u64,
    /// The account that asked (usually a dApp contract); the fee comes back to it on a timeout.
    pub requester: String,
    /// The account the deposit goes back to — any excess at once, the storage deposit on
    /// cleanup: the one the request named, else the requester.
    pub storage_refund_to: String,
    pub model_id: ModelId,
    pub params: RequestParams,
    /// Length of the input in bytes, and its SHA-256.
    pub input_bytes: u32,
    pub input_hash: Digest32,
    /// How many matching attestations resolve the request.
    pub quorum: u32,
    /// Fee in yoctoNEAR paid to the agreeing nodes.
    #[serde(with = "u128_string")]
    pub fee: u128,
    /// The request times out (the fee refunded, less the shares of the largest group of equal
    /// reveals) at this block height.
    pub expires_at_block: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> RequestParams {
        RequestParams {
            temperature_milli: 0,
            top_k: 0,
            top_p_milli: 1000,
            max_tokens: 32,
            seed: 42,
            output_schema: None,
        }
    }

    #[test]
    fn params_json_is_integers_with_the_seed_as_a_string() {
        let json = serde_json::to_value(params()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "temperature_milli": 0, "top_k": 0, "top_p_milli": 1000,
                "max_tokens": 32, "seed": "42"
            })
        );
        assert!(serde_json::from_str::<RequestParams>(
            r#"{"temperature_milli":0.7,"top_k":0,"top_p_milli":1000,"max_tokens":32,"seed":"1"}"#
        )
        .is_err());
    }

    #[test]
    fn the_output_schema_is_optional_in_json_and_kept_in_borsh() {
        let old_json =
            r#"{"temperature_milli":0,"top_k":0,"top_p_milli":1000,"max_tokens":32,"seed":"42"}"#;
        assert_eq!(
            serde_json::from_str::<RequestParams>(old_json).unwrap(),
            params()
        );
        let schema =
            r#"{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}"#;
        let constrained = RequestParams {
            output_schema: Some(schema.into()),
            ..params()
        };
        let json = serde_json::to_value(&constrained).unwrap();
        assert_eq!(json["output_schema"], schema);
        assert_eq!(
            serde_json::from_value::<RequestParams>(json).unwrap(),
            constrained
        );
        let bytes = borsh::to_vec(&constrained).unwrap();
        assert_eq!(
            borsh::from_slice::<RequestParams>(&bytes).unwrap(),
            constrained
        );
    }

    #[test]
    fn param_bounds_name_the_field() {
        assert_eq!(params().check(), Ok(()));
        let cases = [
            (
                RequestParams {
                    temperature_milli: MAX_TEMPERATURE_MILLI + 1,
                    ..params()
                },
                "temperature_milli",
            ),
            (
                RequestParams {
                    top_p_milli: 0,
                    ..params()
                },
                "top_p_milli",
            ),
            (
                RequestParams {
                    top_p_milli: 1001,
                    ..params()
                },
                "top_p_milli",
            ),
            (
                RequestParams {
                    max_tokens: 0,
                    ..params()
                },
                "max_tokens",
            ),
            (
                RequestParams {
                    output_schema: Some("x".repeat(MAX_OUTPUT_SCHEMA_BYTES + 1)),
                    ..params()
                },
                "output_schema",
            ),
        ];
        let longest = RequestParams {
            output_schema: Some("x".repeat(MAX_OUTPUT_SCHEMA_BYTES)),
            ..params()
        };
        assert_eq!(longest.check(), Ok(()));
        for (bad, field) in cases {
            let err = bad.check().unwrap_err();
            assert!(err.contains(field), "{err}");
        }
    }
}
