//! Commit–reveal: a committee member commits to its attestation
//! (`oracle_protocol::attestation_commitment` of its signature) before anyone's attestation is
//! shown, so that no member can copy another's answer instead of running the model. The reveal
//! phase opens once every member has committed or `commit_window_blocks` after the request was
//! made; from then on commitments are refused and each attestation must match its node's
//! commitment. A member that never commits counts as silent; one that commits and has not
//! revealed when a resolved request is cleaned up is slashed (`slashing.rs`), so committing to a
//! guessed answer and revealing only a lucky guess does not pay.
//!
//! Commitments are taken from the block after the request's own. A node that can make requests
//! could otherwise send one transaction with two actions, `request` and then
//! `commit_attestation` for the id it will get: the commitment fails, and takes the request with
//! it, unless the node was drawn, so it could retry for the price of gas until it sits on the
//! committee of its own request. Nothing else a node does in that block depends on the
//! committee: reveals wait for the reveal phase, which opens at the earliest when every member
//! has committed, and equivocation reports wait for the next block too (`slashing.rs`).
//!
//! Every request made since commit–reveal exists stores its commit phase when it is made. A
//! request without one was made before (layout version 1, pending across the upgrade): it has
//! no commit phase and finishes under version 1's rules, its attestations taken without
//! commitments.

use crate::events::Event;
use crate::requests::{Request, RequestStatus};
use crate::{OracleContract, OracleContractExt};
use near_sdk::serde_json::json;
use near_sdk::{env, near, require, AccountId};
use oracle_protocol::{commitment_preimage, CommitmentView, Digest32, Signature64};

/// A member's commitment as stored.
#[near(serializers = [borsh])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitmentRecord {
    pub node: AccountId,
    pub commitment: Digest32,
}

/// A request's commit phase: when it ends at the latest, and the commitments so far.
#[near(serializers = [borsh])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitPhase {
    /// The block from which the reveal phase is open even without every member's commitment.
    pub reveal_opens_at: u64,
    pub commitments: Vec<CommitmentRecord>,
}

impl CommitPhase {
    /// Whether attestations are taken at block `now`: every member of `request` committed (once
    /// it has a committee: `draw_committee`), or the window has passed.
    pub fn reveal_open(&self, request: &Request, now: u64) -> bool {
        now >= self.reveal_opens_at
            || (!request.committee.is_empty() && self.commitments.len() >= request.committee.len())
    }

    /// `node`'s commitment, if it made one.
    pub fn commitment_of(&self, node: &AccountId) -> Option<Digest32> {
        self.commitments
            .iter()
            .find(|c| &c.node == node)
            .map(|c| c.commitment)
    }

    /// The commitments as views return them.
    pub fn views(&self) -> Vec<CommitmentView> {
        self.commitments
            .iter()
            .map(|c| CommitmentView {
                node: c.node.to_string(),
                commitment: c.commitment,
            })
            .collect()
    }
}

#[near]
impl OracleContract {
    /// The caller, a committee node of pending request `request_id`, commits to the attestation
    /// it will reveal: `commitment` is `oracle_protocol::attestation_commitment` of its
    /// signature. Once per node, from the block after the request's, before the reveal phase
    /// opens. Returns whether this commitment opened the reveal phase (it was the last
    /// member's).
    pub fn commit_attestation(&mut self, request_id: u64, commitment: Digest32) -> bool {
        let node = env::predecessor_account_id();
        let request = self.request_or_panic(request_id);
        require!(
            matches!(request.status, RequestStatus::Pending { .. }),
            format!("request {request_id} is no longer pending; it takes no more commitments")
        );
        require_after_creation(request_id, &request, "commitments");
        require!(
            request.committee.contains(&node),
            format!("{node} is not on the committee of request {request_id}")
        );
        let mut phase = self.commit_phase(request_id).cloned().unwrap_or_else(|| {
            env::panic_str(&format!(
                "request {request_id} was made before commit–reveal; it takes attestations \
                 without commitments"
            ))
        });
        let now = env::block_height();
        if phase.reveal_open(&request, now) {
            env::panic_str(&format!(
                "the commit phase of request {request_id} is closed: {}",
                closed_because(&phase, &request)
            ));
        }
        require!(
            phase.commitment_of(&node).is_none(),
            format!("{node} has already committed to request {request_id}")
        );
        phase.commitments.push(CommitmentRecord {
            node: node.clone(),
            commitment,
        });
        let opened = phase.reveal_open(&request, now);
        Event::AttestationCommitted.emit(json!({
            "request_id": request_id,
            "node": node,
            "commitment": commitment,
            "committed": phase.commitments.len(),
            "committee_size": request.committee.len(),
            "reveal_open": opened,
        }));
        self.commit_phases.insert(request_id, phase);
        opened
    }
}

/// Why a commit phase is closed.
fn closed_because(phase: &CommitPhase, request: &Request) -> String {
    if phase.commitments.len() >= request.committee.len() {
        "every committee member has committed".to_string()
    } else {
        format!(
            "its window ended at block {} with {} of {} members committed",
            phase.reveal_opens_at,
            phase.commitments.len(),
            request.committee.len()
        )
    }
}

impl OracleContract {
    /// The commit phase of `request_id` as stored when the request was made; none for a request
    /// made before commit–reveal existed (it takes attestations without commitments).
    pub(crate) fn commit_phase(&self, request_id: u64) -> Option<&CommitPhase> {
        self.commit_phases.get(&request_id)
    }

    /// The commit phase of a request made at block `created_at`.
    pub(crate) fn new_commit_phase(&self, created_at: u64) -> CommitPhase {
        CommitPhase {
            reveal_opens_at: created_at.saturating_add(self.config.commit_window_blocks),
            commitments: Vec::new(),
        }
    }

    /// Panics unless request `request_id` takes attestations now: its reveal phase is open
    /// (always, once it is no longer pending, or without a commit phase). Returns its commit
    /// phase, if it has one.
    pub(crate) fn require_reveal_open(
        &self,
        request_id: u64,
        request: &Request,
    ) -> Option<CommitPhase> {
        let phase = self.commit_phase(request_id)?.clone();
        let pending = matches!(request.status, RequestStatus::Pending { .. });
        if pending && !phase.reveal_open(request, env::block_height()) {
            env::panic_str(&format!(
                "the reveal phase of request {request_id} is not open: {} of {} members \
                 committed, it opens at block {} (or when all have)",
                phase.commitments.len(),
                request.committee.len(),
                phase.reveal_opens_at
            ));
        }
        Some(phase)
    }

    /// Whether `node`, on the committee of pending `request_id`, can still have an attestation
    /// accepted at block `now`: the request has no commit phase, or its commit phase is still
    /// open, or `node` committed in time.
    pub(crate) fn may_still_attest(
        &self,
        request_id: u64,
        request: &Request,
        node: &AccountId,
        now: u64,
    ) -> bool {
        self.commit_phase(request_id).is_none_or(|phase| {
            !phase.reveal_open(request, now) || phase.commitment_of(node).is_some()
        })
    }
}

/// Panics in the block `request` was made in: what depends on its committee is taken from the
/// next block on, so that no call made with the request can revert it unless its sender was
/// drawn (the module's comment). `what` names the refused calls.
pub(crate) fn require_after_creation(request_id: u64, request: &Request, what: &str) {
    let now = env::block_height();
    require!(
        now > request.created_at,
        format!(
            "request {request_id} was made in this block ({now}); it takes {what} from the next \
             block, so that nobody can make a request and act on its committee in one \
             transaction"
        )
    );
}

/// Panics unless `signature` is the attestation `node` committed to in `phase`.
pub(crate) fn require_committed(
    request_id: u64,
    phase: &CommitPhase,
    node: &AccountId,
    signature: &Signature64,
) {
    let committed = phase.commitment_of(node).unwrap_or_else(|| {
        env::panic_str(&format!(
            "{node} did not commit to request {request_id} before its reveal phase; its \
             attestation is not accepted"
        ))
    });
    let revealed = Digest32(env::sha256_array(commitment_preimage(signature)));
    require!(
        revealed == committed,
        format!(
            "the attestation of {node} does not match the node's commitment for request \
             {request_id}"
        )
    );
}
