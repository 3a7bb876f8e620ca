//! What the dApp's callback receives: the value the oracle's yield callback returns, as JSON.

use crate::ids::Digest32;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The most output bytes the oracle ever keeps in state and returns inline to a dApp: no oracle
/// configuration may set `max_inline_output_bytes` above it, and a dApp sizes what it reads of
/// an answer by it.
pub const MAX_INLINE_OUTPUT_CAP: u32 = 16 * 1024;

/// The answer to one request, delivered to the requesting contract's callback.
///
/// JSON: `{"request_id":7,"status":{"resolved":{...}}}` or
/// `{"request_id":7,"status":{"timed_out":{"message":"...","refunded":"1000","refunded_to":"alice.near"}}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleResponse {
    pub request_id: u64,
    pub status: ResponseStatus,
}

/// How a request ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    /// A quorum of the committee agreed on this output.
    Resolved(ResolvedOutput),
    /// No quorum before the yield timed out; the oracle itself sent `refunded` yoctoNEAR to
    /// `refunded_to`, the request's refund account (`storage_refund_to`, default the
    /// requester): the fee, less a seat's share for each member of the largest group of equal
    /// reveals (at least two, no other group as large). A requesting contract has nothing to
    /// pass on: the figure is for the record, never a reason to pay. A request that had
    /// already ended refunds nothing now (`refunded` 0, no `refunded_to`).
    TimedOut {
        message: String,
        #[serde(with = "crate::json_numbers::u128_string")]
        refunded: u128,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refunded_to: Option<String>,
    },
}

/// The agreed output. When it is longer than the oracle's inline limit, `output` is its longest
/// prefix (on a character boundary) within the limit and `output_truncated` is set; the full
/// output is the one whose SHA-256 is `output_hash`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ResolvedOutput {
    pub output: String,
    pub output_truncated: bool,
    /// Length in bytes of the full output.
    pub output_bytes: u32,
    /// The engine's result digest the quorum signed.
    pub result_digest: Digest32,
    /// SHA-256 of the full output.
    pub output_hash: Digest32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shapes_are_pinned() {
        let resolved = OracleResponse {
            request_id: 3,
            status: ResponseStatus::Resolved(ResolvedOutput {
                output: "Paris".into(),
                output_truncated: false,
                output_bytes: 5,
                result_digest: Digest32([1; 32]),
                output_hash: Digest32([2; 32]),
            }),
        };
        let json = serde_json::to_value(&resolved).unwrap();
        assert_eq!(json["request_id"], 3);
        assert_eq!(json["status"]["resolved"]["output"], "Paris");
        assert_eq!(json["status"]["resolved"]["output_hash"], "02".repeat(32));
        let back: OracleResponse = serde_json::from_value(json).unwrap();
        assert_eq!(back, resolved);

        let timed_out = OracleResponse {
            request_id: 4,
            status: ResponseStatus::TimedOut {
                message: "no quorum".into(),
                refunded: 10,
                refunded_to: Some("alice.near".into()),
            },
        };
        assert_eq!(
            serde_json::to_string(&timed_out).unwrap(),
            r#"{"request_id":4,"status":{"timed_out":{"message":"no quorum","refunded":"10","refunded_to":"alice.near"}}}"#
        );
        let ended = r#"{"request_id":4,"status":{"timed_out":{"message":"gone","refunded":"0"}}}"#;
        let back: OracleResponse = serde_json::from_str(ended).unwrap();
        assert_eq!(
            back.status,
            ResponseStatus::TimedOut {
                message: "gone".into(),
                refunded: 0,
                refunded_to: None
            }
        );
        assert_eq!(serde_json::to_string(&back).unwrap(), ended);
    }
}
