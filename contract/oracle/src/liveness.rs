//! Liveness: a committee member that lets `max_missed_commits` requests in a row pass without
//! committing — or, on a request that times out, without revealing what it committed to — is
//! jailed (taken off committees), so that silent nodes cannot hold a model's seats and make
//! its requests wait out the commit window or time out. A node is also jailed
//! when slashing takes its stake below the minimum. From `jail_blocks` later (at once for the
//! stake), with at least the minimum stake, it calls `unjail_node` to serve again. One that
//! unregisters instead gets its stake back no sooner than its jailing ends (`nodes.rs`), so
//! withdrawing and registering again cannot cut a jailing short.
//!
//! A miss is counted when a request made under commit–reveal ends (resolved or timed out) with
//! the member's commitment missing, provided at least `quorum` members committed to it: by then
//! its commit window has closed (a request resolves only after its reveal phase opened). With
//! fewer commitments nothing is counted: every honest node fails a request that cannot be
//! served (an output over `max_output_bytes`, a schema outside the subset, a prompt too long for
//! the model) the same way and commits nothing, so a requester cannot get honest nodes jailed
//! with such requests; and framing an honest member as silent takes `quorum` commitments, more
//! colluders than a committee is assumed to hold. A silent node never resets its count, so it is
//! still jailed through the requests where enough others committed.
//!
//! A member that commits and then withholds its reveal blocks a quorum just as well, so on a
//! request that times out a commitment without a reveal is a miss too (on a resolved request
//! it is slashed at cleanup instead). Every committer has had at least `MIN_REVEAL_BLOCKS` to
//! reveal by then (less the two blocks a reveal takes to be included and run), and honest
//! members reveal as soon as the phase opens. A reveal — not a
//! commitment — resets the count, so committing to everything and revealing nothing does not
//! keep a node out of jail. Each node's count is
//! stored apart from its entry (`missed_commits`); the entry is written at registration, paid
//! with the registration's storage deposit. A node registered before liveness existed pays its
//! entry from its stake when its first miss is counted (moved to its storage deposit, returned
//! at withdrawal).
//!
//! Jailings for missed commitments escalate: each one that starts within
//! `ESCALATION_WINDOW_JAILS` × `jail_blocks` blocks of the end of the node's previous one lasts
//! twice as long as that one (at most `2^MAX_JAIL_DOUBLINGS` × `jail_blocks`), so a node that is
//! broken for good, unjailed again and again by its daemon, holds up fewer and fewer requests;
//! a node that stays out of jail for that long starts again from `jail_blocks`.
//!
//! Jailing only marks the node: committee selection already skips nodes that are not active,
//! and a model's list of active nodes drops jailed ones when a new node needs the seat
//! (`active_nodes.rs`), so counting a miss never rewrites those lists.

use crate::config::MIN_REVEAL_BLOCKS;
use crate::events::Event;
use crate::nodes::{node_view, Node};
use crate::requests::Request;
use crate::storage::cost_of;
use crate::{OracleContract, OracleContractExt};
use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::{env, near, require, AccountId};
use oracle_protocol::{NodeStatus, NodeView};

/// Jail periods (`jail_blocks` each) after the end of a jailing within which the next jailing
/// for missed commitments lasts twice as long.
pub const ESCALATION_WINDOW_JAILS: u64 = 32;
/// Most doublings of a jailing for missed commitments: at most 32 × `jail_blocks`.
pub const MAX_JAIL_DOUBLINGS: u32 = 5;

/// A node's liveness as stored: its misses in a row, and its jailings for missed commitments
/// that followed each other closely (`ESCALATION_WINDOW_JAILS`), the last one's end.
#[near(serializers = [borsh])]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LivenessRecord {
    pub missed: u32,
    pub jailings: u32,
    pub last_jailed_until: u64,
}

impl LivenessRecord {
    /// The block a jailing for missed commitments that starts `now` ends at, given `jail_blocks`
    /// and this record's jailings before; records the jailing.
    fn jail_until(&mut self, now: u64, jail_blocks: u64) -> u64 {
        let window = jail_blocks.saturating_mul(ESCALATION_WINDOW_JAILS);
        let follows = self.jailings > 0 && now <= self.last_jailed_until.saturating_add(window);
        self.jailings = if follows {
            self.jailings.saturating_add(1)
        } else {
            1
        };
        let doublings = (self.jailings - 1).min(MAX_JAIL_DOUBLINGS);
        let until = now.saturating_add(jail_blocks.saturating_mul(1 << doublings));
        self.last_jailed_until = until;
        until
    }
}

/// Why a node was jailed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JailReason {
    /// Let `max_missed_commits` requests in a row pass without committing (or, on a timeout,
    /// revealing).
    MissedCommits,
    /// Slashing took its stake below `min_stake`.
    StakeBelowMinimum,
}

impl JailReason {
    fn name(self) -> &'static str {
        match self {
            JailReason::MissedCommits => "missed_commits",
            JailReason::StakeBelowMinimum => "stake_below_minimum",
        }
    }
}

#[near]
impl OracleContract {
    /// The caller, a jailed node, serves again: from the block its jailing names, with at least
    /// the minimum stake (`add_stake` tops it up), and with a free seat on each model it serves.
    /// Its missed-commit count starts again from 0.
    pub fn unjail_node(&mut self) -> NodeView {
        let account = env::predecessor_account_id();
        let min_stake = self.config.min_stake;
        let now = env::block_height();
        let node = self.node_mut(&account);
        let NodeStatus::Jailed { until } = node.status else {
            env::panic_str(&format!("{account} is not jailed (it is {})", node.status))
        };
        require!(
            now >= until,
            format!("{account} is jailed until block {until}; now is block {now}")
        );
        require!(
            node.stake >= min_stake,
            format!(
                "{account} holds a stake of {} yoctoNEAR, below the minimum {min_stake}: call \
                 add_stake with at least {} yoctoNEAR first",
                node.stake,
                min_stake - node.stake
            )
        );
        node.status = NodeStatus::Active;
        let models = node.models.clone();
        self.activate_node(&account, &models);
        self.reset_missed_commits(&account);
        let view = self.node_view_of(&account);
        Event::NodeUnjailed.emit(&view);
        view
    }
}

impl OracleContract {
    /// Counts a miss for each member of resolved `request` that did not commit to it, jailing
    /// those that reach `max_missed_commits` — when at least `quorum` members committed (see
    /// the module's comment). A request made before commit–reveal counts nothing.
    pub(crate) fn record_commit_misses(&mut self, request_id: u64, request: &Request) {
        self.record_misses(request_id, request, false);
    }

    /// As [`Self::record_commit_misses`] for `request`, which has just timed out: a member that
    /// committed and never revealed is counted a miss too.
    pub(crate) fn record_timeout_misses(&mut self, request_id: u64, request: &Request) {
        self.record_misses(request_id, request, true);
    }

    fn record_misses(&mut self, request_id: u64, request: &Request, unrevealed_count: bool) {
        let Some(phase) = self.commit_phase(request_id) else {
            return;
        };
        if phase.commitments.len() < request.quorum as usize {
            return;
        }
        // Only once every committer has had its `MIN_REVEAL_BLOCKS` (a request ended early, by a
        // resume without a resolution, counts commitments alone).
        let unrevealed_count = unrevealed_count
            && env::block_height() >= phase.reveal_opens_at.saturating_add(MIN_REVEAL_BLOCKS);
        let revealed = |member: &AccountId| request.attestations.iter().any(|a| &a.node == member);
        let missed: Vec<AccountId> = request
            .committee
            .iter()
            .filter(|member| {
                phase.commitment_of(member).is_none() || (unrevealed_count && !revealed(member))
            })
            .cloned()
            .collect();
        for member in missed {
            self.count_miss(&member);
        }
    }

    /// A reveal of `node` (or its unjailing): its misses in a row start again from 0. Writes
    /// only over an entry that counts misses, so a node without one (registered before
    /// liveness, never counted) gets no unpaid entry.
    pub(crate) fn reset_missed_commits(&mut self, node: &AccountId) {
        if let Some(record) = self.missed_commits.get(node).copied() {
            if record.missed > 0 {
                let record = LivenessRecord {
                    missed: 0,
                    ..record
                };
                self.missed_commits.insert(node.clone(), record);
            }
        }
    }

    /// Jails active `account` (`entry` is its node) for `reason` until block `until` (when it
    /// may call `unjail_node`); `record` is its liveness.
    fn jail(
        account: &AccountId,
        entry: &mut Node,
        reason: JailReason,
        until: u64,
        record: LivenessRecord,
    ) {
        entry.status = NodeStatus::Jailed { until };
        Event::NodeJailed.emit(json!({
            "node": account,
            "reason": reason.name(),
            "until": until,
            "missed_commits": record.missed,
            "jailings": record.jailings,
            "stake": U128(entry.stake),
        }));
    }

    /// Jails `account`, whose stake slashing took below the minimum, if it is active: it may
    /// unjail at once once its stake is topped up.
    pub(crate) fn jail_for_stake(&mut self, account: &AccountId) {
        let record = self.liveness_of(account);
        let now = env::block_height();
        let entry = self.node_mut(account);
        if entry.status == NodeStatus::Active {
            Self::jail(account, entry, JailReason::StakeBelowMinimum, now, record);
        }
    }

    /// `account`'s view, with its missed-commit count.
    pub(crate) fn node_view_of(&self, account: &AccountId) -> NodeView {
        let node = self
            .nodes
            .get(account)
            .unwrap_or_else(|| env::panic_str(&format!("{account} is not a registered node")));
        node_view(
            account,
            node,
            self.missed_commits_of(account),
            &self.unlock_floor,
        )
    }

    /// `account`'s misses in a row (0 without an entry).
    pub(crate) fn missed_commits_of(&self, account: &AccountId) -> u32 {
        self.liveness_of(account).missed
    }

    /// `account`'s liveness record (all zero without an entry).
    fn liveness_of(&self, account: &AccountId) -> LivenessRecord {
        self.missed_commits
            .get(account)
            .copied()
            .unwrap_or_default()
    }

    /// One more miss for `member`; jails it at `max_missed_commits`.
    fn count_miss(&mut self, member: &AccountId) {
        if !self.nodes.contains_key(member) {
            // Withdrew after the owner shortened `unbonding_blocks`: nothing to count against.
            return;
        }
        let mut record = match self.missed_commits.get(member).copied() {
            Some(record) => record,
            None => {
                self.pay_entry_from_stake(member);
                LivenessRecord::default()
            }
        };
        record.missed = record.missed.saturating_add(1);
        let (max_missed, jail_blocks) = (self.config.max_missed_commits, self.config.jail_blocks);
        let active = self
            .nodes
            .get(member)
            .is_some_and(|node| node.status == NodeStatus::Active);
        if record.missed < max_missed || !active {
            self.missed_commits.insert(member.clone(), record);
            return;
        }
        // The `node_jailed` event says it all: one log line per jailing keeps a callback that
        // jails a whole committee far below NEAR's 16 KiB of logs per receipt.
        let until = record.jail_until(env::block_height(), jail_blocks);
        self.missed_commits.insert(member.clone(), record);
        let entry = self.node_mut(member);
        Self::jail(member, entry, JailReason::MissedCommits, until, record);
    }

    /// Writes the missed-commit entry of `member`, a node registered before liveness existed,
    /// and moves its storage cost from the node's stake to its storage deposit.
    fn pay_entry_from_stake(&mut self, member: &AccountId) {
        let before = env::storage_usage();
        self.missed_commits
            .insert(member.clone(), LivenessRecord::default());
        self.missed_commits.flush();
        let cost = cost_of(env::storage_usage().saturating_sub(before));
        let node = self.node_mut(member);
        let paid = cost.min(node.stake);
        node.stake -= paid;
        node.storage_deposit += paid;
        if node.stake < self.config.min_stake {
            self.jail_for_stake(member);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jailings_that_follow_each_other_double_up_to_the_cap() {
        let mut record = LivenessRecord::default();
        assert_eq!(record.jail_until(100, 10), 110);
        // Within 32 jail periods of the last one's end: twice as long, and so on.
        assert_eq!(record.jail_until(200, 10), 220);
        assert_eq!(record.jail_until(300, 10), 340);
        assert_eq!(record.jailings, 3);
        for _ in 0..10 {
            let now = record.last_jailed_until;
            record.jail_until(now, 10);
        }
        let now = record.last_jailed_until;
        assert_eq!(record.jail_until(now, 10), now + 320, "at most 32 periods");
        // Out of jail for longer than the window: back to one period.
        let later = record.last_jailed_until + 32 * 10 + 1;
        assert_eq!(record.jail_until(later, 10), later + 10);
        assert_eq!(record.jailings, 1);
    }

    #[test]
    fn a_long_jail_period_saturates_instead_of_overflowing() {
        let mut record = LivenessRecord {
            missed: 0,
            jailings: 9,
            last_jailed_until: u64::MAX - 5,
        };
        assert_eq!(record.jail_until(u64::MAX - 3, u64::MAX / 2), u64::MAX);
    }
}
