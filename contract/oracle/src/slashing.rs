//! Slashing. A committee member loses `slash_bps` of its stake, at most once per request, when
//! (1) its attested result differs from the one the quorum resolved, before or after the
//! resolution, (2) anyone shows two valid signatures of its attestation key over different
//! results for the same request (equivocation), or (3) it committed to an attestation of a
//! resolved request and had not revealed it when the request is cleaned up (a guesser that
//! commits to a likely short answer and reveals only if the quorum agrees with it). The
//! `slash_bps` share goes to the treasury; for (2) and (3) the reporter's reward (the reporter
//! of (3) is whoever cleans the request up), `reporter_bps` of that share, is taken from the
//! node on top of it, so a node that reports itself (from any account) loses as much as any
//! slashed node and cannot buy off the slash its wrong answer would cost. Inference is deterministic, so an honest node's result always equals the
//! quorum's, it never signs two results, and it reveals what it committed to (after the
//! resolution too, until the cleanup): it cannot be slashed. A timed-out request slashes
//! nobody for (3): with no quorum, withholding a reveal is a liveness fault, not a wrong answer
//! (it counts a miss: `liveness.rs`). A slash that leaves the stake
//! below `min_stake` jails the node (`liveness.rs`) until it tops up its stake and unjails.

use crate::commitments::require_after_creation;
use crate::events::Event;
use crate::fees::bps_share;
use crate::requests::Request;
use crate::storage::send;
use crate::{OracleContract, OracleContractExt};
use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::{env, near, require, AccountId};
use oracle_protocol::SignedClaim;

/// Why a node was slashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlashReason {
    /// Attested to a result other than the resolved one.
    WrongDigest,
    /// Signed two different results for one request.
    Equivocation,
    /// Committed to an attestation of a resolved request and never revealed it.
    CommittedWithoutReveal,
}

impl SlashReason {
    fn name(self) -> &'static str {
        match self {
            SlashReason::WrongDigest => "wrong_digest",
            SlashReason::Equivocation => "equivocation",
            SlashReason::CommittedWithoutReveal => "committed_without_reveal",
        }
    }
}

#[near]
impl OracleContract {
    /// Evidence that `node` signed two different results for `request_id`. Anyone may submit
    /// it, from the block after the request's (`commitments.rs`); the node is slashed and the
    /// caller gets the reporter's reward. Returns the amount taken from the node (the slash and
    /// the reward).
    pub fn report_equivocation(
        &mut self,
        request_id: u64,
        node: AccountId,
        first: SignedClaim,
        second: SignedClaim,
    ) -> U128 {
        let mut request = self.request_or_panic(request_id);
        require_after_creation(request_id, &request, "equivocation reports");
        require!(
            request.committee.contains(&node),
            format!("{node} is not on the committee of request {request_id}")
        );
        require!(
            !request.slashed.contains(&node),
            format!("{node} was already slashed for request {request_id}")
        );
        let first_claim = (first.result_digest, first.output_hash);
        let second_claim = (second.result_digest, second.output_hash);
        require!(
            first_claim != second_claim,
            "both claims name the same result: that is not equivocation"
        );
        for (which, claim, signature) in [
            ("first", first_claim, &first.signature),
            ("second", second_claim, &second.signature),
        ] {
            require!(
                self.signature_valid(request_id, &request, &node, claim, signature),
                format!("the {which} signature is not {node}'s for request {request_id}")
            );
        }
        let reporter = env::predecessor_account_id();
        let taken = self.slash(
            request_id,
            &mut request,
            &node,
            SlashReason::Equivocation,
            Some(&reporter),
        );
        send(&reporter, taken.reward);
        self.requests.insert(request_id, request);
        U128(taken.amount)
    }
}

impl OracleContract {
    /// Slashes each member that committed to an attestation of resolved `request` and has not
    /// revealed it: called when the request is cleaned up, after the retention in which such
    /// attestations are still accepted. A request without a commit phase slashes nobody.
    /// `cleaner`, who called the cleanup, is the reporter of these slashes: its reward for
    /// cleaning up early — before a member that kept a guess to itself can withdraw its stake —
    /// comes back in the total returned.
    pub(crate) fn slash_unrevealed_commitments(
        &mut self,
        request_id: u64,
        request: &mut Request,
        cleaner: &AccountId,
    ) -> u128 {
        let Some(phase) = self.commit_phase(request_id) else {
            return 0;
        };
        let unrevealed: Vec<AccountId> = phase
            .commitments
            .iter()
            .map(|c| &c.node)
            .filter(|node| !request.attestations.iter().any(|a| &a.node == *node))
            .cloned()
            .collect();
        unrevealed
            .iter()
            .map(|node| {
                self.slash(
                    request_id,
                    request,
                    node,
                    SlashReason::CommittedWithoutReveal,
                    Some(cleaner),
                )
                .reward
            })
            .sum()
    }

    /// Takes `slash_bps` of `node`'s stake for `request_id` (once per request) for the
    /// treasury and, with a reporter, the reporter's reward (`reporter_bps` of that share, as
    /// far as the stake goes) on top, which the caller sends. Returns what was taken.
    pub(crate) fn slash(
        &mut self,
        request_id: u64,
        request: &mut Request,
        node: &AccountId,
        reason: SlashReason,
        reporter: Option<&AccountId>,
    ) -> Taken {
        if request.slashed.contains(node) {
            return Taken::default();
        }
        request.slashed.push(node.clone());
        let slash_bps = self.config.slash_bps;
        let reporter_bps = self.config.reporter_bps;
        let Some(entry) = self.nodes.get_mut(node) else {
            // Withdrawn: nobody cleaned the request up within `CLEANUP_MARGIN_BLOCKS` of it
            // becoming cleanable (`nodes.rs`), or the unlock floor missed a change of
            // `retention_blocks` made before the state version 4 upgrade.
            return Taken::default();
        };
        let penalty = bps_share(entry.stake, slash_bps);
        let reward = reporter.map_or(0, |_| {
            bps_share(penalty, reporter_bps).min(entry.stake - penalty)
        });
        let amount = penalty + reward;
        entry.stake -= amount;
        let remaining = entry.stake;
        if remaining < self.config.min_stake {
            self.jail_for_stake(node);
        }
        self.treasury += penalty;
        Event::NodeSlashed.emit(json!({
            "node": node,
            "request_id": request_id,
            "reason": reason.name(),
            "amount": U128(amount),
            "remaining_stake": U128(remaining),
            "reporter": reporter,
            "reporter_reward": U128(reward),
        }));
        Taken { amount, reward }
    }
}

/// What a slash took from a node: `amount` in all, of which `reward` is the reporter's.
#[derive(Default)]
pub(crate) struct Taken {
    pub amount: u128,
    pub reward: u128,
}
