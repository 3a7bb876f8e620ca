//! Claims: anyone files one and pays for it; the vault prices the oracle request
//! (`estimate_fee`), asks the oracle under the rule in force at filing, reads the verdict
//! strictly, checks the hard limits again, and pays or rejects.
//!
//! `file_claim` → oracle `estimate_fee` → `on_fee_quoted` → oracle `request` (yield) →
//! `on_verdict` → transfer → `on_payout`. A claim the oracle leaves waiting (a callback that
//! never lands as expected) expires: after `CLAIM_EXPIRY_BLOCKS` anyone may call
//! `expire_claim`, which rejects it and releases its reservation; the late callback then
//! changes nothing. The vault never pays anything on the oracle's word: every refund of the
//! request (its excess, a refusal's deposit, a timed-out fee, its storage) goes from the oracle
//! to the claimant directly, the request's refund account.

use crate::events::Event;
use crate::fenced_text::check_fenced_text;
use crate::prompt::{claim_prompt, verdict_schema, MAX_EVIDENCE_BYTES, VERDICT_MAX_TOKENS};
use crate::reasons::RejectReason;
use crate::storage::{borsh_len, charge, cost_of, send, RECORD_OVERHEAD_BYTES};
use crate::verdict::{parse_verdict, Verdict};
use crate::{Vault, VaultExt};
use near_sdk::json_types::U128;
use near_sdk::serde_json::{self, json};
use near_sdk::{env, near, require, AccountId, Gas, NearToken, Promise, PromiseOrValue};
use oracle_dapp::{
    ext_oracle, AnswerError, FeeEstimate, OracleResponse, RequestParams, ResponseStatus,
};

/// Gas for the oracle's `estimate_fee`.
const ESTIMATE_GAS: Gas = Gas::from_tgas(10);
/// Gas for `on_verdict`: its checks, the payout transfer and `on_payout`.
const VERDICT_GAS: Gas = Gas::from_tgas(30);
/// Gas for `on_payout`.
const PAYOUT_GAS: Gas = Gas::from_tgas(10);
/// Gas for `on_fee_quoted`: its own work plus the oracle request and `on_verdict`.
const QUOTED_GAS: Gas = Gas::from_tgas(10 + oracle_dapp::REQUEST_GAS.as_tgas() + 30);
/// Longest `estimate_fee` answer read.
const MAX_ESTIMATE_BYTES: usize = 512;
/// Bytes reserved at filing for what the claim stores later (request id, verdict reason).
const VERDICT_RESERVE_BYTES: u64 = 16 + 4 + 4 * crate::prompt::REASON_MAX_CHARS as u64;
/// Key of a claim in storage: the map's prefix byte and the id.
const CLAIM_KEY_BYTES: u64 = 1 + 8;
/// Blocks after filing from which a claim still waiting for the oracle may be expired: far
/// past the oracle's 200-block yield, so only a claim whose callback went wrong expires.
pub const CLAIM_EXPIRY_BLOCKS: u64 = 1000;

/// Where a claim stands.
#[near(serializers = [borsh, json])]
#[derive(Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Waiting for the oracle's price.
    Quoting,
    /// Asked; waiting for the verdict.
    AwaitingVerdict,
    /// Approved within the limits; the transfer is on its way.
    Paying,
    /// The recipient received the amount.
    Paid,
    Rejected {
        reason: RejectReason,
    },
}

impl ClaimStatus {
    /// Filed but neither approved nor rejected yet: its amount is reserved in the funds.
    pub fn holds_reservation(&self) -> bool {
        matches!(self, ClaimStatus::Quoting | ClaimStatus::AwaitingVerdict)
    }

    /// Paid or rejected (a timed-out request included): nothing will change it any more.
    pub fn is_final(&self) -> bool {
        matches!(self, ClaimStatus::Paid | ClaimStatus::Rejected { .. })
    }
}

/// A claim on the vault's funds.
#[near(serializers = [borsh, json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub claim_id: u64,
    /// Who filed (and paid for) it; refunds go back to it.
    pub claimant: AccountId,
    pub recipient: AccountId,
    pub amount: U128,
    pub evidence: String,
    /// The rule version in force when it was filed, which judges it (`get_rule`).
    pub rule_version: u32,
    pub filed_at: u64,
    /// What was sent to the oracle for the request (0 until priced).
    pub oracle_fee: U128,
    /// The claimant's deposit less the claim's storage, held while the claim is `quoting` and
    /// returned (less the oracle's price when asked) as soon as it stops quoting; 0 after.
    pub budget: U128,
    pub oracle_request_id: Option<u64>,
    /// The model's reason, when it gave a well-formed verdict.
    pub verdict_reason: Option<String>,
    pub status: ClaimStatus,
    /// What the claimant paid for this record's storage; `delete_claim` returns it once the
    /// claim is final.
    pub storage_deposit: U128,
}

#[near]
impl Vault {
    /// Files a claim that the vault pay `amount` yoctoNEAR to `recipient`, with `evidence` for
    /// the rule. Attach the claim's storage (under 0.02 NEAR, kept as its `storage_deposit`)
    /// plus the oracle's price for the verdict request, `estimate_fee(model, params, input
    /// bytes, storage_refund_to: you).total` — the model's price plus the request's storage
    /// (0.3482 NEAR with the tests' oracle), see the README's *Money*. The vault asks the
    /// oracle for the exact price and refunds the rest. Refused at once when it breaks a hard
    /// limit.
    #[payable]
    pub fn file_claim(&mut self, recipient: AccountId, amount: U128, evidence: String) -> Promise {
        check_fenced_text("evidence", &evidence, MAX_EVIDENCE_BYTES)
            .unwrap_or_else(|e| env::panic_str(&e));
        require!(amount.0 > 0, "the amount must be more than 0");
        if let Err(reason) = self.within_limits(&recipient, amount.0) {
            env::panic_str(&format!(
                "the claim breaks a hard limit: {}",
                reason_name(reason)
            ));
        }
        let claim_id = self.next_claim_id;
        self.next_claim_id += 1;
        let mut claim = Claim {
            claim_id,
            claimant: env::predecessor_account_id(),
            recipient,
            amount,
            evidence,
            rule_version: self.rule_version,
            filed_at: env::block_height(),
            oracle_fee: U128(0),
            budget: U128(0),
            oracle_request_id: None,
            verdict_reason: None,
            status: ClaimStatus::Quoting,
            storage_deposit: U128(0),
        };
        let bytes =
            CLAIM_KEY_BYTES + RECORD_OVERHEAD_BYTES + borsh_len(&claim) + VERDICT_RESERVE_BYTES;
        claim.budget = U128(charge(bytes));
        claim.storage_deposit = U128(cost_of(bytes));
        self.reserved += amount.0;
        Event::ClaimFiled.emit(json!({
            "claim_id": claim_id,
            "claimant": claim.claimant,
            "recipient": claim.recipient,
            "amount": claim.amount,
            "rule_version": claim.rule_version,
        }));
        let input = self.prompt_of(&claim);
        let claimant = claim.claimant.clone();
        self.claims.insert(claim_id, claim);
        ext_oracle::ext(self.oracle.clone())
            .with_static_gas(ESTIMATE_GAS)
            .estimate_fee(
                self.model_id,
                verdict_params(claim_id),
                Some(input.len() as u32),
                Some(claimant),
            )
            .then(
                Self::ext(env::current_account_id())
                    .with_static_gas(QUOTED_GAS)
                    .on_fee_quoted(claim_id),
            )
    }

    /// The oracle's price is known: asks it (returning the verdict's promise), or rejects the
    /// claim and refunds the claimant's budget when the oracle refused or it does not suffice.
    /// A claim no longer quoting (it expired meanwhile, its budget already refunded) is left as
    /// it is.
    #[private]
    pub fn on_fee_quoted(&mut self, claim_id: u64) -> PromiseOrValue<ClaimStatus> {
        let Some(mut claim) = self.claims.get(&claim_id).cloned() else {
            // Only an expired claim is deleted before its callbacks ran.
            return PromiseOrValue::Value(ClaimStatus::Rejected {
                reason: RejectReason::Expired,
            });
        };
        let budget = take_budget(&mut claim);
        if claim.status != ClaimStatus::Quoting {
            send(&claim.claimant, budget);
            let status = claim.status.clone();
            self.claims.insert(claim_id, claim);
            return PromiseOrValue::Value(status);
        }
        let estimate = env::promise_result_checked(0, MAX_ESTIMATE_BYTES)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<FeeEstimate>(&bytes).ok());
        let Some(estimate) = estimate else {
            let reason = RejectReason::OracleRefused;
            return PromiseOrValue::Value(self.reject_refunding(claim, reason, budget));
        };
        if estimate.total > budget {
            let reason = RejectReason::InsufficientDeposit;
            return PromiseOrValue::Value(self.reject_refunding(claim, reason, budget));
        }
        send(&claim.claimant, budget - estimate.total);
        claim.oracle_fee = U128(estimate.total);
        claim.status = ClaimStatus::AwaitingVerdict;
        Event::ClaimAsked.emit(json!({
            "claim_id": claim_id,
            "oracle_fee": claim.oracle_fee,
            "refunded": U128(budget - estimate.total),
        }));
        let input = self.prompt_of(&claim);
        let claimant = claim.claimant.clone();
        self.claims.insert(claim_id, claim);
        PromiseOrValue::Promise(
            oracle_dapp::ask_on_behalf_of(
                self.oracle.clone(),
                self.model_id,
                input,
                verdict_params(claim_id),
                claimant.clone(),
                NearToken::from_yoctonear(estimate.total),
                oracle_dapp::REQUEST_GAS,
            )
            .then(
                Self::ext(env::current_account_id())
                    .with_static_gas(VERDICT_GAS)
                    .on_verdict(claim_id),
            ),
        )
    }

    /// The oracle's answer: pays an approved claim that is still within every hard limit;
    /// rejects anything else. A timed-out or refused request's fee went back to the claimant
    /// from the oracle directly: nothing passes through the vault. A claim no longer awaiting
    /// its verdict (it expired meanwhile, perhaps deleted) is left as it is.
    #[private]
    pub fn on_verdict(&mut self, claim_id: u64) -> PromiseOrValue<ClaimStatus> {
        let answer = oracle_dapp::answer();
        let waiting = self
            .claims
            .get(&claim_id)
            .filter(|claim| claim.status == ClaimStatus::AwaitingVerdict)
            .cloned();
        let Some(mut claim) = waiting else {
            let status = self.claims.get(&claim_id).map(|claim| claim.status.clone());
            return PromiseOrValue::Value(status.unwrap_or(ClaimStatus::Rejected {
                reason: RejectReason::Expired,
            }));
        };
        let output = match answer {
            Ok(OracleResponse {
                request_id,
                status: ResponseStatus::Resolved(resolved),
            }) => {
                claim.oracle_request_id = Some(request_id);
                if resolved.output_truncated {
                    None
                } else {
                    Some(resolved.output)
                }
            }
            Ok(OracleResponse {
                request_id,
                status: ResponseStatus::TimedOut { .. },
            }) => {
                claim.oracle_request_id = Some(request_id);
                return PromiseOrValue::Value(self.reject(claim, RejectReason::OracleTimedOut));
            }
            // The deposit went back to the claimant (the request's refund account), or the
            // oracle kept it: either way the vault has nothing of it to pass on.
            Err(AnswerError::Refused) => {
                return PromiseOrValue::Value(self.reject(claim, RejectReason::OracleRefused));
            }
            Err(_) => return PromiseOrValue::Value(self.reject(claim, RejectReason::NoAnswer)),
        };
        match output.as_deref().and_then(parse_verdict) {
            None => PromiseOrValue::Value(self.reject(claim, RejectReason::MalformedVerdict)),
            Some(Verdict::Reject { reason }) => {
                claim.verdict_reason = Some(reason);
                PromiseOrValue::Value(self.reject(claim, RejectReason::ModelRejected))
            }
            Some(Verdict::Approve { reason }) => {
                claim.verdict_reason = Some(reason);
                match self.within_limits(&claim.recipient, claim.amount.0) {
                    Err(limit) => PromiseOrValue::Value(self.reject(claim, limit)),
                    Ok(()) => PromiseOrValue::Promise(self.pay(claim)),
                }
            }
        }
    }

    /// Rejects claim `claim_id` as `expired` when it is still waiting for the oracle
    /// (`quoting` or `awaiting_verdict`) `CLAIM_EXPIRY_BLOCKS` or more after it was filed:
    /// releases its reservation and refunds the budget it holds (when still quoting). Anyone
    /// may call it. A verdict that arrives later is ignored; a fee the oracle refunds later
    /// still goes to the claimant.
    pub fn expire_claim(&mut self, claim_id: u64) -> ClaimStatus {
        let mut claim = self.claim_or_panic(claim_id);
        require!(
            claim.status.holds_reservation(),
            format!("claim {claim_id} is not waiting for the oracle")
        );
        let expires_at = claim.filed_at + CLAIM_EXPIRY_BLOCKS;
        let now = env::block_height();
        require!(
            now >= expires_at,
            format!("claim {claim_id} can expire from block {expires_at}; now is block {now}")
        );
        let budget = take_budget(&mut claim);
        self.reject_refunding(claim, RejectReason::Expired, budget)
    }

    /// The payout's outcome: `paid`, or the amount back in the vault when the transfer failed.
    #[private]
    pub fn on_payout(&mut self, claim_id: u64, day: u64) -> ClaimStatus {
        let mut claim = self.claim_or_panic(claim_id);
        require!(
            claim.status == ClaimStatus::Paying,
            format!("claim {claim_id} is not being paid")
        );
        if env::promise_result_checked(0, 0).is_ok() {
            claim.status = ClaimStatus::Paid;
            Event::ClaimPaid.emit(json!({
                "claim_id": claim_id,
                "recipient": claim.recipient,
                "amount": claim.amount,
            }));
            self.claims.insert(claim_id, claim.clone());
            return claim.status;
        }
        self.funds += claim.amount.0;
        self.window.release(day, claim.amount.0);
        self.reject(claim, RejectReason::PayoutFailed)
    }
}

impl Vault {
    /// Every hard limit for paying `amount` to `recipient` now: a recipient other than the
    /// vault itself, the limits in force, the day's cap and the funds.
    fn within_limits(&self, recipient: &AccountId, amount: u128) -> Result<(), RejectReason> {
        if *recipient == env::current_account_id() {
            return Err(RejectReason::RecipientIsVault);
        }
        self.limits.check_claim(recipient, amount)?;
        if !self
            .window
            .fits(Self::today(), amount, self.limits.max_per_day.0)
        {
            return Err(RejectReason::OverDailyCap);
        }
        if amount > self.funds {
            return Err(RejectReason::InsufficientFunds);
        }
        Ok(())
    }

    /// Takes an approved claim's amount out of the funds and the day's window, and sends it.
    fn pay(&mut self, mut claim: Claim) -> Promise {
        self.release_reservation(&claim);
        let day = Self::today();
        self.funds -= claim.amount.0;
        self.window.record(day, claim.amount.0);
        claim.status = ClaimStatus::Paying;
        Event::ClaimApproved.emit(json!({
            "claim_id": claim.claim_id,
            "recipient": claim.recipient,
            "amount": claim.amount,
            "reason": claim.verdict_reason,
        }));
        let claim_id = claim.claim_id;
        let transfer = Promise::new(claim.recipient.clone())
            .transfer(NearToken::from_yoctonear(claim.amount.0));
        self.claims.insert(claim_id, claim);
        transfer.then(
            Self::ext(env::current_account_id())
                .with_static_gas(PAYOUT_GAS)
                .on_payout(claim_id, day),
        )
    }

    /// Records `claim` as rejected for `reason` and returns its status.
    fn reject(&mut self, claim: Claim, reason: RejectReason) -> ClaimStatus {
        self.reject_refunding(claim, reason, 0)
    }

    /// Rejects `claim` for `reason` and sends its claimant `refunded` yoctoNEAR (its budget
    /// while quoting), which the `claim_rejected` event reports.
    fn reject_refunding(
        &mut self,
        mut claim: Claim,
        reason: RejectReason,
        refunded: u128,
    ) -> ClaimStatus {
        self.release_reservation(&claim);
        send(&claim.claimant, refunded);
        claim.status = ClaimStatus::Rejected { reason };
        Event::ClaimRejected.emit(json!({
            "claim_id": claim.claim_id,
            "reason": reason,
            "model_reason": claim.verdict_reason,
            "refunded": U128(refunded),
        }));
        let status = claim.status.clone();
        self.claims.insert(claim.claim_id, claim);
        status
    }

    /// Takes `claim`'s amount out of the reserve when it leaves the states that hold it.
    fn release_reservation(&mut self, claim: &Claim) {
        if claim.status.holds_reservation() {
            self.reserved -= claim.amount.0;
        }
    }

    /// The oracle input for `claim`: the fixed template with the rule it is judged by (rule
    /// versions are never deleted).
    pub(crate) fn prompt_of(&self, claim: &Claim) -> String {
        let rule = self
            .rules
            .get(&claim.rule_version)
            .unwrap_or_else(|| env::abort());
        claim_prompt(
            &rule.text,
            &claim.recipient,
            claim.amount.0,
            &claim.evidence,
        )
    }

    pub(crate) fn claim_or_panic(&self, claim_id: u64) -> Claim {
        self.claims
            .get(&claim_id)
            .cloned()
            .unwrap_or_else(|| env::panic_str(&format!("claim {claim_id} does not exist")))
    }
}

/// Takes the budget `claim` holds, leaving 0: whoever takes it refunds it (or spends it on
/// the oracle's price), once.
fn take_budget(claim: &mut Claim) -> u128 {
    std::mem::replace(&mut claim.budget, U128(0)).0
}

/// The oracle parameters of every verdict: greedy decoding, held to the verdict schema.
fn verdict_params(claim_id: u64) -> RequestParams {
    RequestParams {
        temperature_milli: 0,
        top_k: 0,
        top_p_milli: 1000,
        max_tokens: VERDICT_MAX_TOKENS,
        seed: claim_id,
        output_schema: Some(verdict_schema()),
    }
}

/// `reason`'s snake_case name, as views show it.
fn reason_name(reason: RejectReason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::REASON_MAX_CHARS;

    /// A claim as filed, its variable parts at their largest.
    fn largest_filed_claim() -> Claim {
        let account: AccountId = "a".repeat(64).parse().unwrap();
        Claim {
            claim_id: u64::MAX,
            claimant: account.clone(),
            recipient: account,
            amount: U128(u128::MAX),
            evidence: "e".repeat(MAX_EVIDENCE_BYTES),
            rule_version: u32::MAX,
            filed_at: u64::MAX,
            oracle_fee: U128(0),
            budget: U128(u128::MAX),
            oracle_request_id: None,
            verdict_reason: None,
            status: ClaimStatus::Quoting,
            storage_deposit: U128(u128::MAX),
        }
    }

    #[test]
    fn the_verdict_reserve_covers_the_largest_final_claim() {
        let filed = largest_filed_claim();
        // The longest reason the verdict allows, every character 4 bytes in UTF-8.
        let reason = "\u{1F600}".repeat(REASON_MAX_CHARS as usize);
        assert_eq!(reason.len(), 4 * REASON_MAX_CHARS as usize);
        let reasons = [
            RejectReason::ModelRejected,
            RejectReason::MalformedVerdict,
            RejectReason::OverMaxPerClaim,
            RejectReason::OverDailyCap,
            RejectReason::RecipientNotAllowed,
            RejectReason::InsufficientFunds,
            RejectReason::OracleRefused,
            RejectReason::InsufficientDeposit,
            RejectReason::OracleTimedOut,
            RejectReason::NoAnswer,
            RejectReason::PayoutFailed,
            RejectReason::Expired,
            RejectReason::RecipientIsVault,
        ];
        let finals = reasons
            .map(|reason| ClaimStatus::Rejected { reason })
            .into_iter()
            .chain([ClaimStatus::Paid, ClaimStatus::Paying]);
        for status in finals {
            let last = Claim {
                oracle_fee: U128(u128::MAX),
                budget: U128(0),
                oracle_request_id: Some(u64::MAX),
                verdict_reason: Some(reason.clone()),
                status: status.clone(),
                ..filed.clone()
            };
            let growth = borsh_len(&last) - borsh_len(&filed);
            assert!(
                growth <= VERDICT_RESERVE_BYTES,
                "{status:?}: the claim grows by {growth} bytes, {VERDICT_RESERVE_BYTES} reserved"
            );
        }
    }

    #[test]
    fn only_unsettled_claims_hold_a_reservation_and_only_settled_ones_are_final() {
        let rejected = ClaimStatus::Rejected {
            reason: RejectReason::OracleTimedOut,
        };
        for (status, holds, is_final) in [
            (ClaimStatus::Quoting, true, false),
            (ClaimStatus::AwaitingVerdict, true, false),
            (ClaimStatus::Paying, false, false),
            (ClaimStatus::Paid, false, true),
            (rejected, false, true),
        ] {
            assert_eq!(status.holds_reservation(), holds, "{status:?}");
            assert_eq!(status.is_final(), is_final, "{status:?}");
        }
    }
}
