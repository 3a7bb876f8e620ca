//! Attestations: a committee node's signed claim about a request's result. The signed message is
//! `oracle_protocol::AttestationMessage` (chain id, this contract, request id, the node's account,
//! model id, result digest, output hash), checked with the host's `ed25519_verify`. It is the
//! reveal of the node's earlier commitment (`commitments.rs`): taken only once the reveal phase
//! is open, and only when it matches that commitment. The k-th matching claim resolves the
//! request. A reveal resets the node's count of missed requests (`liveness.rs`).

use crate::commitments::require_committed;
use crate::events::Event;
use crate::log_budget::{self, LogCost};
use crate::quorum::{agreed_claim, inline_prefix, Claim};
use crate::requests::{AttestationRecord, Request, RequestStatus, AWAITING_DELIVERY};
use crate::slashing::SlashReason;
use crate::{OracleContract, OracleContractExt};
use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::{env, near, require, AccountId};
use oracle_protocol::{
    is_weak_ed25519_key, AttestationMessage, Digest32, ResolvedOutput, Signature64,
    SignedAttestation,
};

/// What happened to an accepted attestation.
#[near(serializers = [json])]
#[derive(Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AttestationOutcome {
    /// Recorded; no quorum yet.
    Recorded,
    /// It completed the quorum: the request is resolved.
    Resolved,
    /// It arrived after resolution and agrees with the answer.
    Agreed,
    /// It arrived after resolution and disagrees: the node was slashed.
    Slashed,
    /// A bundle entry the request already holds, the same attestation (anyone may copy an
    /// entry from a pending bundle and send it first): skipped, so the rest still count.
    AlreadyRecorded,
    /// A bundle entry not looked at: what it could log (the resolution's events, when it
    /// completes the quorum) might pass NEAR's cap on a receipt's logs, which would fail the
    /// whole bundle. Nothing about it was checked or recorded: send it again.
    Deferred,
}

#[near]
impl OracleContract {
    /// The caller, a committee node, attests that `output` is the result of `request_id` with
    /// engine digest `result_digest`, signed with its attestation key: the reveal of the
    /// commitment it made with `commit_attestation`, once the reveal phase is open.
    pub fn submit_attestation(
        &mut self,
        request_id: u64,
        output: String,
        result_digest: Digest32,
        signature: Signature64,
    ) -> AttestationOutcome {
        let node = env::predecessor_account_id();
        let output_hash = self.hash_output(&output);
        self.accept(
            request_id,
            &node,
            (result_digest, output_hash),
            &signature,
            &output,
        )
    }

    /// A relayer submits several nodes' attestations of the same `output` in one transaction;
    /// each is checked as if its node had sent it (each node must have committed to it
    /// itself), except one the request already holds as it is (`already_recorded`). Returns
    /// each one's outcome, in order. The first entry is always taken; from the first later
    /// one whose events might not fit in the receipt's logs, the rest are `deferred`.
    pub fn submit_attestation_bundle(
        &mut self,
        request_id: u64,
        output: String,
        attestations: Vec<SignedAttestation>,
    ) -> Vec<AttestationOutcome> {
        require!(!attestations.is_empty(), "the bundle is empty");
        let output_hash = self.hash_output(&output);
        let mut outcomes = Vec::with_capacity(attestations.len());
        for attestation in &attestations {
            if !outcomes.is_empty()
                && !log_budget::fits(self.most_logged_by_attestation(request_id))
            {
                outcomes.resize(attestations.len(), AttestationOutcome::Deferred);
                break;
            }
            let node: AccountId = attestation.node.parse().unwrap_or_else(|_| {
                env::panic_str(&format!("`{}` is not a valid account id", attestation.node))
            });
            let claim = (attestation.result_digest, output_hash);
            let outcome =
                if self.holds_attestation(request_id, &node, claim, &attestation.signature) {
                    AttestationOutcome::AlreadyRecorded
                } else {
                    self.accept(request_id, &node, claim, &attestation.signature, &output)
                };
            outcomes.push(outcome);
        }
        outcomes
    }
}

impl OracleContract {
    /// Whether request `request_id` holds exactly this attestation of `node`.
    fn holds_attestation(
        &self,
        request_id: u64,
        node: &AccountId,
        claim: Claim,
        signature: &Signature64,
    ) -> bool {
        self.requests.get(&request_id).is_some_and(|request| {
            request.attestations.iter().any(|a| {
                &a.node == node
                    && (a.result_digest, a.output_hash) == claim
                    && a.signature == *signature
            })
        })
    }

    /// The most an attestation to `request_id` could log now: its resolution's events too
    /// while the request is pending.
    fn most_logged_by_attestation(&self, request_id: u64) -> LogCost {
        let Some(request) = self.requests.get(&request_id) else {
            return LogCost::NOTHING;
        };
        match request.status {
            RequestStatus::Pending { .. } => {
                LogCost::resolving_attestation(request.committee.len(), request.quorum as usize)
            }
            RequestStatus::Resolved { .. } => LogCost::LATE_ATTESTATION,
            RequestStatus::TimedOut { .. } => LogCost::NOTHING,
        }
    }

    /// SHA-256 of an output within the size limit.
    fn hash_output(&self, output: &str) -> Digest32 {
        let limit = self.config.max_output_bytes;
        require!(
            output.len() as u64 <= u64::from(limit),
            format!(
                "output is {} bytes; the oracle accepts at most {limit}",
                output.len()
            )
        );
        Digest32(env::sha256_array(output.as_bytes()))
    }

    /// True when `signature` is `node`'s attestation key's signature of `claim` for the request.
    /// Never for a weak key (`register_node` refuses them; one stored by older code signs
    /// nothing).
    pub(crate) fn signature_valid(
        &self,
        request_id: u64,
        request: &Request,
        node: &AccountId,
        claim: Claim,
        signature: &Signature64,
    ) -> bool {
        let key = self
            .nodes
            .get(node)
            .unwrap_or_else(|| env::panic_str(&format!("{node} is not a registered node")))
            .attestation_key;
        let message = AttestationMessage {
            chain_id: env::chain_id(),
            oracle_contract: env::current_account_id().to_string(),
            request_id,
            node: node.to_string(),
            model_id: request.model_id,
            result_digest: claim.0,
            output_hash: claim.1,
        };
        !is_weak_ed25519_key(&key)
            && env::ed25519_verify(signature.as_bytes(), message.signing_bytes(), &key)
    }

    /// Checks and records one attestation, then resolves or slashes as it calls for.
    fn accept(
        &mut self,
        request_id: u64,
        node: &AccountId,
        claim: Claim,
        signature: &Signature64,
        output: &str,
    ) -> AttestationOutcome {
        let mut request = self.request_or_panic(request_id);
        let resolved_claim = match &request.status {
            RequestStatus::Pending { .. } => None,
            RequestStatus::Resolved { answer, .. } => {
                Some((answer.result_digest, answer.output_hash))
            }
            RequestStatus::TimedOut { .. } => env::panic_str(&format!(
                "request {request_id} timed out; it takes no more attestations"
            )),
        };
        require!(
            request.committee.contains(node),
            format!("{node} is not on the committee of request {request_id}")
        );
        require!(
            !request.attestations.iter().any(|a| &a.node == node),
            format!("{node} has already attested to request {request_id}")
        );
        let phase = self.require_reveal_open(request_id, &request);
        require!(
            self.signature_valid(request_id, &request, node, claim, signature),
            format!(
                "the signature of {node} does not verify for request {request_id} with this \
                 result digest and output"
            )
        );
        if let Some(phase) = &phase {
            require_committed(request_id, phase, node, signature);
        }
        request.attestations.push(AttestationRecord {
            node: node.clone(),
            result_digest: claim.0,
            output_hash: claim.1,
            signature: *signature,
        });
        self.reset_missed_commits(node);
        Event::AttestationSubmitted.emit(json!({
            "request_id": request_id,
            "node": node,
            "result_digest": claim.0,
            "output_hash": claim.1,
        }));
        let outcome = match resolved_claim {
            None => {
                let claims: Vec<Claim> = request
                    .attestations
                    .iter()
                    .map(|a| (a.result_digest, a.output_hash))
                    .collect();
                match agreed_claim(&claims, request.quorum) {
                    Some(agreed) => {
                        self.resolve(request_id, &mut request, agreed, output);
                        AttestationOutcome::Resolved
                    }
                    None => AttestationOutcome::Recorded,
                }
            }
            Some(resolved) if resolved == claim => {
                self.pay_late_member(request_id, &request, node);
                AttestationOutcome::Agreed
            }
            Some(_) => {
                self.slash(
                    request_id,
                    &mut request,
                    node,
                    SlashReason::WrongDigest,
                    None,
                );
                AttestationOutcome::Slashed
            }
        };
        self.requests.insert(request_id, request);
        outcome
    }

    /// Resumes the requester's call flow with the request id, stores the answer, pays the
    /// agreeing nodes a seat's share each (holding the rest: `held_fees.rs`), slashes the members that attested to something else and counts a miss
    /// for those that never committed.
    /// `request` must be pending.
    fn resolve(&mut self, request_id: u64, request: &mut Request, agreed: Claim, output: &str) {
        let resumed = match &request.status {
            RequestStatus::Pending { yield_id } => yield_id.resume(request_id.to_le_bytes()),
            _ => env::panic_str(&format!("request {request_id} is not pending")),
        };
        if resumed.is_err() {
            env::panic_str(&format!(
                "request {request_id} has timed out; its answer can no longer be delivered"
            ));
        }
        let (prefix, truncated) = inline_prefix(output, request.inline_output_limit);
        let answer = ResolvedOutput {
            output: prefix.to_string(),
            output_truncated: truncated,
            output_bytes: output.len() as u32,
            result_digest: agreed.0,
            output_hash: agreed.1,
        };
        request.status = RequestStatus::Resolved {
            answer,
            cleanable_at: AWAITING_DELIVERY,
        };
        self.pending.remove(&request_id);

        let agreeing: Vec<AccountId> = request
            .attestations
            .iter()
            .filter(|a| (a.result_digest, a.output_hash) == agreed)
            .map(|a| a.node.clone())
            .collect();
        let (paid, held) = self.pay_quorum(request_id, request, &agreeing);
        Event::RequestResolved.emit(json!({
            "request_id": request_id,
            "result_digest": agreed.0,
            "output_hash": agreed.1,
            "output_truncated": truncated,
            "paid": paid,
            "held": U128(held),
        }));
        let dissenters: Vec<AccountId> = request
            .attestations
            .iter()
            .filter(|a| (a.result_digest, a.output_hash) != agreed)
            .map(|a| a.node.clone())
            .collect();
        for node in dissenters {
            self.slash(request_id, request, &node, SlashReason::WrongDigest, None);
        }
        self.record_commit_misses(request_id, request);
    }

    pub(crate) fn request_or_panic(&self, request_id: u64) -> Request {
        self.requests.get(&request_id).cloned().unwrap_or_else(|| {
            env::panic_str(&format!(
                "request {request_id} does not exist (or was cleaned up)"
            ))
        })
    }
}
