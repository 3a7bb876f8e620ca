//! View methods: the vault's settings and state, its rules, and its claims.

use crate::claims::Claim;
use crate::governance::{PendingLimits, PendingRule, Rule};
use crate::limits::Limits;
use crate::withdrawal::PendingWithdrawal;
use crate::{Vault, VaultExt};
use near_sdk::json_types::U128;
use near_sdk::{env, near, AccountId};
use oracle_dapp::ModelId;

/// Most claims one `list_claims` page returns.
const MAX_PAGE: u64 = 100;

/// The vault as `get_vault` returns it.
#[near(serializers = [json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultView {
    pub owner: AccountId,
    pub oracle: AccountId,
    pub model_id: ModelId,
    pub rule_version: u32,
    pub rule: Rule,
    pub limits: Limits,
    pub rule_change_delay_blocks: u64,
    /// yoctoNEAR available for claims (deposits minus payouts and withdrawals).
    pub funds: U128,
    /// The amounts of claims in flight (`quoting`, `awaiting_verdict`), kept for them.
    pub reserved: U128,
    /// What a withdrawal may take now: `funds - reserved`.
    pub withdrawable: U128,
    /// The account's whole balance (funds, storage deposits, fees in flight).
    pub balance: U128,
    /// Today's window: the day (days since the epoch), paid so far, and what is left.
    pub day: u64,
    pub spent_today: U128,
    pub remaining_today: U128,
    pub pending_rule: Option<PendingRule>,
    pub pending_limits: Option<PendingLimits>,
    pub pending_withdrawal: Option<PendingWithdrawal>,
    /// Claims ever filed (the next claim's id); deleted ones included.
    pub claims: u64,
}

#[near]
impl Vault {
    pub fn get_vault(&self) -> VaultView {
        let day = Self::today();
        let spent = self.window.spent_on(day);
        VaultView {
            owner: self.owner.clone(),
            oracle: self.oracle.clone(),
            model_id: self.model_id,
            rule_version: self.rule_version,
            rule: self.current_rule().clone(),
            limits: self.limits.clone(),
            rule_change_delay_blocks: self.rule_change_delay_blocks,
            funds: U128(self.funds),
            reserved: U128(self.reserved),
            withdrawable: U128(self.unreserved_funds()),
            balance: U128(env::account_balance().as_yoctonear()),
            day,
            spent_today: U128(spent),
            remaining_today: U128(self.limits.max_per_day.0.saturating_sub(spent)),
            pending_rule: self.pending_rule.clone(),
            pending_limits: self.pending_limits.clone(),
            pending_withdrawal: self.pending_withdrawal.clone(),
            claims: self.next_claim_id,
        }
    }

    /// Rule `version` (0 is the first; claims name the version that judges them).
    pub fn get_rule(&self, version: u32) -> Option<Rule> {
        self.rules.get(&version).cloned()
    }

    pub fn get_claim(&self, claim_id: u64) -> Option<Claim> {
        self.claims.get(&claim_id).cloned()
    }

    /// Claims by id from `from_index` (default 0), at most `limit` (default and cap 100) ids
    /// scanned; deleted claims are skipped.
    pub fn list_claims(&self, from_index: Option<u64>, limit: Option<u64>) -> Vec<Claim> {
        let start = from_index.unwrap_or(0);
        let end = start
            .saturating_add(limit.unwrap_or(MAX_PAGE).min(MAX_PAGE))
            .min(self.next_claim_id);
        (start..end)
            .filter_map(|id| self.claims.get(&id).cloned())
            .collect()
    }

    /// The oracle input claim `claim_id` was (or is) judged on: the fixed template with its
    /// rule, recipient, amount and evidence.
    pub fn get_claim_prompt(&self, claim_id: u64) -> Option<String> {
        self.claims
            .get(&claim_id)
            .map(|claim| self.prompt_of(claim))
    }
}
