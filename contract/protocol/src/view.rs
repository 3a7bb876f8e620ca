//! What the oracle's views return to clients: a request (`get_request`) with every accepted
//! attestation and its signature, so a client can check offline that the committee really signed
//! the answer, and a price (`estimate_fee`).

use crate::attestation::AttestationMessage;
use crate::ids::{Digest32, ModelId};
use crate::json_numbers::u128_string;
use crate::request::RequestParams;
use crate::response::ResolvedOutput;
use crate::signature::Signature64;
use serde::{Deserialize, Serialize};

/// What a request costs, in yoctoNEAR, as the oracle's `estimate_fee` view returns it: attach
/// `total`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeEstimate {
    /// The model's price for this request — `price` + input bytes × `price_per_input_byte` +
    /// `max_tokens` × `price_per_output_token` — paid to the agreeing nodes, a committee seat's
    /// share each, what no member earns going back at cleanup (on timeout: each member whose
    /// reveal is in the largest group of equal reveals is paid its share, the rest refunded).
    #[serde(with = "u128_string")]
    pub fee: u128,
    /// The request's storage, released when it is cleaned up (to its `storage_refund_to`
    /// account, else the requester).
    #[serde(with = "u128_string")]
    pub storage: u128,
    pub storage_bytes: u64,
    #[serde(with = "u128_string")]
    pub total: u128,
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestPhase {
    /// Waiting for a quorum.
    Pending,
    /// A quorum agreed; `answer` holds the result.
    Resolved,
    /// No quorum before the yield timed out; the fee went back to the request's refund account
    /// (less the shares of the largest group of equal reveals).
    TimedOut,
}

impl core::fmt::Display for RequestPhase {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RequestPhase::Pending => "pending",
            RequestPhase::Resolved => "resolved",
            RequestPhase::TimedOut => "timed_out",
        })
    }
}

/// One attestation the contract accepted: the node, what it claimed, and its ed25519 signature
/// over [`AttestationMessage::signing_bytes`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationView {
    pub node: String,
    pub result_digest: Digest32,
    pub output_hash: Digest32,
    pub signature: Signature64,
}

/// One commitment the contract accepted: the node and its
/// [`crate::attestation_commitment`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentView {
    pub node: String,
    pub commitment: Digest32,
}

/// What `list_pending_assignments` returns: among the pending requests it scanned, those on
/// the node's committee that it has not attested yet, without their inputs (a node's poll
/// stays a few bytes per request whatever the inputs are).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAssignments {
    /// Request id and model of each assignment, in the order of the pending set.
    pub assignments: Vec<PendingAssignment>,
    /// Where the next page starts (`from_index`), or `None` when the scan reached the end.
    pub next_index: Option<u32>,
}

/// One pending request a node is asked to answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAssignment {
    pub request_id: u64,
    pub model_id: ModelId,
}

/// A request as `get_request` and `list_pending_requests` return it (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    pub request_id: u64,
    pub model_id: ModelId,
    /// The account that asked and paid; the fee comes back to it on a timeout.
    pub requester: String,
    /// The account the deposit went back to — the excess over the quote at once, the storage
    /// deposit on cleanup: the one the request named (`storage_refund_to`), else the requester.
    pub storage_refund_to: String,
    pub input: String,
    pub params: RequestParams,
    /// Paid to the agreeing nodes, a committee seat's share each (at resolution, or when they
    /// agree after it); on timeout the members in the largest group of equal reveals are paid
    /// their shares and the rest is refunded (yoctoNEAR).
    #[serde(with = "u128_string")]
    pub fee: u128,
    /// What a resolved request still holds of its fee for members that agree later; it goes to
    /// the refund account at cleanup (yoctoNEAR; 0 before the resolution, and for requests made
    /// before held fees existed).
    #[serde(with = "u128_string", default)]
    pub held_fee: u128,
    /// Locked for the request's storage until cleanup (yoctoNEAR).
    #[serde(with = "u128_string")]
    pub storage_deposit: u128,
    /// The nodes chosen to answer, in rank order.
    pub committee: Vec<String>,
    pub quorum: u32,
    /// Every accepted commitment, in order: a member must commit before the reveal phase
    /// opens, and its attestation must then match its commitment.
    #[serde(default)]
    pub commitments: Vec<CommitmentView>,
    /// The block from which attestations are revealed even if some members never committed
    /// (the request's creation plus the oracle's `commit_window_blocks`; its creation for a
    /// request made before commit–reveal, which takes attestations without commitments).
    #[serde(default)]
    pub reveal_opens_at: u64,
    /// Whether attestations are taken (as of the block the view was read at): every member
    /// committed, or `reveal_opens_at` was reached. From then on commitments are refused.
    #[serde(default)]
    pub reveal_open: bool,
    /// Accounts that have attested so far, in order (the nodes of `attestations`).
    pub attested: Vec<String>,
    /// Every accepted attestation, in order, with its signature.
    pub attestations: Vec<AttestationView>,
    pub slashed: Vec<String>,
    pub created_at: u64,
    pub expires_at: u64,
    pub status: RequestPhase,
    pub answer: Option<ResolvedOutput>,
    /// The block from which anyone may clean the request up (`cleanup_request`): set once it
    /// timed out, or resolved and its answer reached the requester's callback; `None` before.
    #[serde(default)]
    pub cleanable_at: Option<u64>,
}

impl RequestView {
    /// Whether the request still takes attestations towards its quorum.
    pub fn is_pending(&self) -> bool {
        self.status == RequestPhase::Pending
    }

    /// Whether `account` is on the request's committee.
    pub fn on_committee(&self, account: &str) -> bool {
        self.committee.iter().any(|member| member == account)
    }

    /// Whether the contract holds a commitment from `account`.
    pub fn has_committed(&self, account: &str) -> bool {
        self.commitments.iter().any(|c| c.node == account)
    }

    /// Whether the contract holds an attestation from `account`.
    pub fn has_attested(&self, account: &str) -> bool {
        self.attested.iter().any(|node| node == account)
    }

    /// The members that committed, have not revealed and were not slashed for this request:
    /// on a resolved request, each is slashed when it is cleaned up.
    pub fn unrevealed_commitments(&self) -> Vec<&str> {
        self.commitments
            .iter()
            .map(|c| c.node.as_str())
            .filter(|node| !self.has_attested(node) && !self.slashed.iter().any(|s| s == node))
            .collect()
    }

    /// The message `attestation`'s node signed (naming that node), on the chain `chain_id` and
    /// the oracle contract `oracle_contract` this view was read from.
    pub fn attestation_message(
        &self,
        chain_id: &str,
        oracle_contract: &str,
        attestation: &AttestationView,
    ) -> AttestationMessage {
        AttestationMessage {
            chain_id: chain_id.to_string(),
            oracle_contract: oracle_contract.to_string(),
            request_id: self.request_id,
            node: attestation.node.clone(),
            model_id: self.model_id,
            result_digest: attestation.result_digest,
            output_hash: attestation.output_hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> RequestView {
        RequestView {
            request_id: 5,
            model_id: Digest32([1; 32]),
            requester: "dapp.test".into(),
            storage_refund_to: "alice.test".into(),
            input: "q".into(),
            params: RequestParams {
                temperature_milli: 0,
                top_k: 0,
                top_p_milli: 1000,
                max_tokens: 8,
                seed: 0,
                output_schema: None,
            },
            fee: 10,
            held_fee: 0,
            storage_deposit: 20,
            committee: vec!["node0.test".into()],
            quorum: 1,
            commitments: vec![CommitmentView {
                node: "node0.test".into(),
                commitment: Digest32([5; 32]),
            }],
            reveal_opens_at: 41,
            reveal_open: true,
            attested: vec!["node0.test".into()],
            attestations: vec![AttestationView {
                node: "node0.test".into(),
                result_digest: Digest32([2; 32]),
                output_hash: Digest32([3; 32]),
                signature: Signature64([4; 64]),
            }],
            slashed: Vec::new(),
            created_at: 1,
            expires_at: 201,
            status: RequestPhase::Pending,
            answer: None,
            cleanable_at: None,
        }
    }

    #[test]
    fn json_round_trips_with_amounts_as_strings() {
        let json = serde_json::to_value(view()).unwrap();
        assert_eq!(json["fee"], "10");
        assert_eq!(json["status"], "pending");
        assert_eq!(json["storage_refund_to"], "alice.test");
        assert_eq!(json["attestations"][0]["signature"], "04".repeat(64));
        assert_eq!(json["params"].get("output_schema"), None);
        assert_eq!(json["commitments"][0]["commitment"], "05".repeat(32));
        assert!(view().has_committed("node0.test") && !view().has_committed("node1.test"));
        assert_eq!(serde_json::from_value::<RequestView>(json).unwrap(), view());
        assert_eq!(
            serde_json::to_value(RequestPhase::TimedOut).unwrap(),
            "timed_out"
        );
    }

    #[test]
    fn fee_estimates_read_amounts_as_strings() {
        let json = r#"{"fee":"10","storage":"20","storage_bytes":2,"total":"30"}"#;
        let estimate: FeeEstimate = serde_json::from_str(json).unwrap();
        assert_eq!(
            (estimate.fee, estimate.storage, estimate.total),
            (10, 20, 30)
        );
        assert_eq!(serde_json::to_string(&estimate).unwrap(), json);
    }

    #[test]
    fn the_attestation_message_names_this_request() {
        let view = view();
        let message = view.attestation_message("localnet", "oracle.test", &view.attestations[0]);
        assert_eq!(message.request_id, 5);
        assert_eq!(message.node, "node0.test");
        assert_eq!(message.model_id, Digest32([1; 32]));
        assert_eq!(message.result_digest, Digest32([2; 32]));
        assert_eq!(message.output_hash, Digest32([3; 32]));
        assert_eq!(message.oracle_contract, "oracle.test");
    }
}
