//! Changing the rule and the limits: the owner proposes, and the change applies only after
//! `rule_change_delay_blocks`, so claimants and funders see it coming; the owner may cancel a
//! proposal. Limits may also be tightened at once (that only ever protects the funds).

use crate::events::Event;
use crate::fenced_text::check_fenced_text;
use crate::limits::Limits;
use crate::prompt::MAX_RULE_BYTES;
use crate::storage::{borsh_len, charge, cost_of, send, RECORD_OVERHEAD_BYTES};
use crate::{sha256, Vault, VaultExt};
use near_sdk::serde_json::json;
use near_sdk::{env, near, require};
use oracle_dapp::Digest32;

/// Bytes reserved at a proposal for the rule-history entry it becomes: key, hash, block, tag.
const RULE_HISTORY_RESERVE_BYTES: u64 = 128;
/// Key of a rule-history entry: the map's prefix byte and the version.
const RULE_KEY_BYTES: u64 = 1 + 4;

/// A rule in force (now or in the past).
#[near(serializers = [borsh, json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub text: String,
    /// SHA-256 of `text`.
    pub hash: Digest32,
    /// The block it came into force.
    pub since_block: u64,
}

impl Rule {
    pub fn new(text: String) -> Self {
        Self {
            hash: sha256(&text),
            text,
            since_block: env::block_height(),
        }
    }
}

/// A proposed rule, waiting for its delay.
#[near(serializers = [borsh, json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRule {
    pub text: String,
    pub hash: Digest32,
    pub proposed_at: u64,
    /// `apply_rule` works from this block on.
    pub applicable_at: u64,
}

/// Proposed limits, waiting for the delay.
#[near(serializers = [borsh, json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingLimits {
    pub limits: Limits,
    pub proposed_at: u64,
    /// `apply_limits` works from this block on.
    pub applicable_at: u64,
}

#[near]
impl Vault {
    /// Proposes `new_rule` (owner; attach its storage, the rest is refunded). It may be applied
    /// after `rule_change_delay_blocks`; claims filed before that are judged by the old rule.
    #[payable]
    pub fn propose_rule(&mut self, new_rule: String) -> PendingRule {
        self.require_owner();
        check_fenced_text("rule", &new_rule, MAX_RULE_BYTES).unwrap_or_else(|e| env::panic_str(&e));
        require!(!new_rule.trim().is_empty(), "the rule is empty");
        require!(
            self.pending_rule.is_none(),
            "a rule change is already pending; cancel it first"
        );
        let now = env::block_height();
        let pending = PendingRule {
            hash: sha256(&new_rule),
            text: new_rule,
            proposed_at: now,
            applicable_at: now + self.rule_change_delay_blocks,
        };
        self.pending_rule = Some(pending.clone());
        // Charged before the event: a proposal that fails for its deposit logs none.
        let left = charge(borsh_len(&self.pending_rule) + RULE_HISTORY_RESERVE_BYTES);
        Event::RuleChangeProposed.emit(json!({
            "rule_hash": pending.hash,
            "proposed_at": pending.proposed_at,
            "applicable_at": pending.applicable_at,
        }));
        send(&env::predecessor_account_id(), left);
        pending
    }

    /// Puts the pending rule in force once its delay has passed (anyone may call). The proposal's
    /// storage deposit, less what the rule-history entry now stores, goes back to the owner.
    pub fn apply_rule(&mut self) -> Rule {
        let pending = self
            .pending_rule
            .take()
            .unwrap_or_else(|| env::panic_str("no rule change is pending"));
        let now = env::block_height();
        require!(
            now >= pending.applicable_at,
            format!(
                "the rule change applies from block {}; now is block {now}",
                pending.applicable_at
            )
        );
        let charged = borsh_len(&Some(pending.clone())) + RULE_HISTORY_RESERVE_BYTES;
        let rule = Rule::new(pending.text);
        self.rule_version += 1;
        let stored = RULE_KEY_BYTES + RECORD_OVERHEAD_BYTES + borsh_len(&rule);
        self.rules.insert(self.rule_version, rule.clone());
        send(&self.owner, cost_of(charged.saturating_sub(stored)));
        Event::RuleChanged.emit(json!({
            "version": self.rule_version,
            "rule_hash": rule.hash,
            "since_block": rule.since_block,
        }));
        rule
    }

    /// Withdraws the pending rule change (owner); its storage deposit goes back to the owner.
    pub fn cancel_rule_proposal(&mut self) {
        self.require_owner();
        let pending = self
            .pending_rule
            .take()
            .unwrap_or_else(|| env::panic_str("no rule change is pending"));
        let released = borsh_len(&Some(pending.clone())) + RULE_HISTORY_RESERVE_BYTES;
        send(&self.owner, cost_of(released));
        Event::RuleChangeCancelled.emit(json!({ "rule_hash": pending.hash }));
    }

    /// Proposes new limits (owner; attach their storage). They may be applied after
    /// `rule_change_delay_blocks`. To only tighten, use `tighten_limits`.
    #[payable]
    pub fn propose_limits(&mut self, limits: Limits) -> PendingLimits {
        self.require_owner();
        limits.validate().unwrap_or_else(|e| env::panic_str(&e));
        require!(
            self.pending_limits.is_none(),
            "a limits change is already pending; cancel it first"
        );
        let now = env::block_height();
        let pending = PendingLimits {
            limits,
            proposed_at: now,
            applicable_at: now + self.rule_change_delay_blocks,
        };
        self.pending_limits = Some(pending.clone());
        let left = charge(borsh_len(&self.pending_limits));
        Event::LimitsChangeProposed.emit(json!({
            "limits": pending.limits,
            "applicable_at": pending.applicable_at,
        }));
        send(&env::predecessor_account_id(), left);
        pending
    }

    /// Puts the pending limits in force once the delay has passed (anyone may call). The
    /// proposal's storage deposit, less what the new limits store beyond the old ones (plus
    /// what they store less), goes back to the owner.
    pub fn apply_limits(&mut self) -> Limits {
        let pending = self
            .pending_limits
            .take()
            .unwrap_or_else(|| env::panic_str("no limits change is pending"));
        let now = env::block_height();
        require!(
            now >= pending.applicable_at,
            format!(
                "the limits change applies from block {}; now is block {now}",
                pending.applicable_at
            )
        );
        let charged = borsh_len(&Some(pending.clone()));
        let (old, new) = (borsh_len(&self.limits), borsh_len(&pending.limits));
        self.limits = pending.limits;
        send(&self.owner, cost_of((charged + old).saturating_sub(new)));
        Event::LimitsChanged.emit(json!({ "limits": self.limits, "immediate": false }));
        self.limits.clone()
    }

    /// Withdraws the pending limits change (owner); its storage deposit goes back to the owner.
    pub fn cancel_limits_proposal(&mut self) {
        self.require_owner();
        let pending = self.pending_limits.take();
        require!(pending.is_some(), "no limits change is pending");
        send(&self.owner, cost_of(borsh_len(&pending)));
        Event::LimitsChangeCancelled.emit(json!({ "reason": "cancelled" }));
    }

    /// Replaces the limits at once when the new ones allow nothing the current ones forbid
    /// (owner; attach storage when the allow-list grows in bytes, the rest is refunded, and so
    /// is the storage a shorter one frees). It also cancels a pending limits change, which
    /// anyone could otherwise apply to undo the brake; its deposit goes back to the owner.
    #[payable]
    pub fn tighten_limits(&mut self, limits: Limits) -> Limits {
        self.require_owner();
        limits.validate().unwrap_or_else(|e| env::panic_str(&e));
        require!(
            limits.only_tightens(&self.limits),
            "these limits loosen the current ones; use propose_limits (time-locked)"
        );
        let (old, new) = (borsh_len(&self.limits), borsh_len(&limits));
        self.limits = limits;
        let left = charge(new.saturating_sub(old));
        let cancelled = self.pending_limits.take();
        if cancelled.is_some() {
            Event::LimitsChangeCancelled.emit(json!({ "reason": "tightened" }));
        }
        Event::LimitsChanged.emit(json!({ "limits": self.limits, "immediate": true }));
        // What the proposal was charged (as `cancel_limits_proposal` refunds it).
        let proposal = cancelled.as_ref().map_or(0, |_| borsh_len(&cancelled));
        let released = old.saturating_sub(new) + proposal;
        send(&self.owner, cost_of(released) + left);
        self.limits.clone()
    }
}
