//! Liveness: a committee member that lets `max_missed_commits` requests in a row pass without
//! committing is jailed — taken off committees — so that silent nodes cannot hold a model's
//! seats and make its requests wait out the commit window or time out. A node is also jailed
//! when slashing takes its stake below the minimum. From `jail_blocks` later (at once for the
//! stake), with at least the minimum stake, it calls `unjail_node` to serve again.
//!
//! A miss is counted when a request made under commit–reveal ends (resolved or timed out) with
//! the member's commitment missing, provided at least `quorum` members committed to it: by then
//! its commit window has closed (a request resolves only after its reveal phase opened). With
//! fewer commitments nothing is counted: every honest node fails a request that cannot be
//! served (an output over `max_output_bytes`, a schema outside the subset, a prompt too long for
//! the model) the same way and commits nothing, so a requester cannot get honest nodes jailed
//! with such requests; and framing an honest member as silent takes `quorum` commitments, more
//! colluders than a committee is assumed to hold. A silent node never resets its count, so it is
//! still jailed through the requests where enough others committed. A commitment resets the
//! count. Each node's count is
//! stored apart from its entry (`missed_commits`); the entry is written at registration, paid
//! with the registration's storage deposit. A node registered before liveness existed pays its
//! entry from its stake when its first miss is counted (moved to its storage deposit, returned
//! at withdrawal).
//!
//! Jailing only marks the node: committee selection already skips nodes that are not active,
//! and a model's list of active nodes drops jailed ones when a new node needs the seat
//! (`active_nodes.rs`), so counting a miss never rewrites those lists.

use crate::events::Event;
use crate::nodes::{node_view, Node};
use crate::requests::Request;
use crate::storage::cost_of;
use crate::{OracleContract, OracleContractExt};
use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::{env, near, require, AccountId};
use oracle_protocol::{NodeStatus, NodeView};

/// Why a node was jailed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JailReason {
    /// Let `max_missed_commits` requests in a row pass without committing.
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
    /// Counts a miss for each member of `request` (which has just ended) that did not commit to
    /// it, jailing those that reach `max_missed_commits` — when at least `quorum` members
    /// committed (see the module's comment). A request made before commit–reveal counts
    /// nothing.
    pub(crate) fn record_commit_misses(&mut self, request_id: u64, request: &Request) {
        let Some(phase) = self.commit_phase(request_id) else {
            return;
        };
        if phase.commitments.len() < request.quorum as usize {
            return;
        }
        let silent: Vec<AccountId> = request
            .committee
            .iter()
            .filter(|member| phase.commitment_of(member).is_none())
            .cloned()
            .collect();
        for member in silent {
            self.count_miss(request_id, &member);
        }
    }

    /// A commitment of `node` (or its unjailing): its misses in a row start again from 0. Writes
    /// only over an entry that counts misses, so a node without one (registered before
    /// liveness, never counted) gets no unpaid entry.
    pub(crate) fn reset_missed_commits(&mut self, node: &AccountId) {
        if self
            .missed_commits
            .get(node)
            .is_some_and(|missed| *missed > 0)
        {
            self.missed_commits.insert(node.clone(), 0);
        }
    }

    /// Jails active `account` (`entry` is its node) for `reason`: off committees until
    /// `unjail_node`, allowed `jail_blocks` from now for missed commitments and at once (with
    /// the stake topped up) for a stake below the minimum.
    pub(crate) fn jail(
        account: &AccountId,
        entry: &mut Node,
        reason: JailReason,
        jail_blocks: u64,
        missed_commits: u32,
    ) {
        if entry.status != NodeStatus::Active {
            return;
        }
        let now = env::block_height();
        let until = match reason {
            JailReason::MissedCommits => now.saturating_add(jail_blocks),
            JailReason::StakeBelowMinimum => now,
        };
        entry.status = NodeStatus::Jailed { until };
        Event::NodeJailed.emit(json!({
            "node": account,
            "reason": reason.name(),
            "until": until,
            "missed_commits": missed_commits,
            "stake": U128(entry.stake),
        }));
    }

    /// Jails `account`, whose stake slashing took below the minimum.
    pub(crate) fn jail_for_stake(&mut self, account: &AccountId) {
        let missed = self.missed_commits_of(account);
        let jail_blocks = self.config.jail_blocks;
        let entry = self.node_mut(account);
        Self::jail(
            account,
            entry,
            JailReason::StakeBelowMinimum,
            jail_blocks,
            missed,
        );
    }

    /// `account`'s view, with its missed-commit count.
    pub(crate) fn node_view_of(&self, account: &AccountId) -> NodeView {
        let node = self
            .nodes
            .get(account)
            .unwrap_or_else(|| env::panic_str(&format!("{account} is not a registered node")));
        node_view(account, node, self.missed_commits_of(account))
    }

    /// `account`'s misses in a row (0 without an entry).
    pub(crate) fn missed_commits_of(&self, account: &AccountId) -> u32 {
        self.missed_commits.get(account).copied().unwrap_or(0)
    }

    /// One more miss for `member` of `request_id`; jails it at `max_missed_commits`.
    fn count_miss(&mut self, request_id: u64, member: &AccountId) {
        if !self.nodes.contains_key(member) {
            // Withdrew after the owner shortened `unbonding_blocks`: nothing to count against.
            return;
        }
        let missed = match self.missed_commits.get(member) {
            Some(missed) => missed.saturating_add(1),
            None => {
                self.pay_entry_from_stake(member);
                1
            }
        };
        self.missed_commits.insert(member.clone(), missed);
        let (max_missed, jail_blocks) = (self.config.max_missed_commits, self.config.jail_blocks);
        if missed < max_missed {
            return;
        }
        let entry = self.node_mut(member);
        if entry.status == NodeStatus::Active {
            env::log_str(&format!(
                "{member} let {missed} requests in a row pass without committing (the last, \
                 request {request_id}): jailed"
            ));
        }
        Self::jail(
            member,
            entry,
            JailReason::MissedCommits,
            jail_blocks,
            missed,
        );
    }

    /// Writes the missed-commit entry of `member`, a node registered before liveness existed,
    /// and moves its storage cost from the node's stake to its storage deposit.
    fn pay_entry_from_stake(&mut self, member: &AccountId) {
        let before = env::storage_usage();
        self.missed_commits.insert(member.clone(), 0);
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
