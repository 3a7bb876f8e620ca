//! NEP-297 events, one per state change:
//! `EVENT_JSON:{"standard":"ai-oracle-vault","version":"2.0.0","event":...,"data":[...]}`.

use near_sdk::env;
use near_sdk::serde::Serialize;

/// NEP-297 standard name of the vault's events.
pub const EVENT_STANDARD: &str = "ai-oracle-vault";
/// Version of the vault's event formats (1.1.0: `claim_asked`, and `refunded` in
/// `claim_rejected`; 1.2.0: `late_fee_refunded`, and `reason` in `limits_change_cancelled`;
/// 2.0.0: no `late_fee_refunded`, and no oracle refund in `claim_rejected`: the oracle refunds a
/// timed-out fee to the claimant itself).
pub const EVENT_VERSION: &str = "2.0.0";

/// Every event the vault emits.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    Deposited,
    ClaimFiled,
    ClaimAsked,
    ClaimApproved,
    ClaimPaid,
    ClaimRejected,
    RuleChangeProposed,
    RuleChangeCancelled,
    RuleChanged,
    LimitsChangeProposed,
    LimitsChangeCancelled,
    LimitsChanged,
    WithdrawalProposed,
    WithdrawalCancelled,
    WithdrawalApplied,
    Withdrawn,
    WithdrawalFailed,
    ClaimDeleted,
}

impl Event {
    /// The event's name in the log.
    pub fn name(self) -> &'static str {
        match self {
            Event::Deposited => "deposited",
            Event::ClaimFiled => "claim_filed",
            Event::ClaimAsked => "claim_asked",
            Event::ClaimApproved => "claim_approved",
            Event::ClaimPaid => "claim_paid",
            Event::ClaimRejected => "claim_rejected",
            Event::RuleChangeProposed => "rule_change_proposed",
            Event::RuleChangeCancelled => "rule_change_cancelled",
            Event::RuleChanged => "rule_changed",
            Event::LimitsChangeProposed => "limits_change_proposed",
            Event::LimitsChangeCancelled => "limits_change_cancelled",
            Event::LimitsChanged => "limits_changed",
            Event::WithdrawalProposed => "withdrawal_proposed",
            Event::WithdrawalCancelled => "withdrawal_cancelled",
            Event::WithdrawalApplied => "withdrawal_applied",
            Event::Withdrawn => "withdrawn",
            Event::WithdrawalFailed => "withdrawal_failed",
            Event::ClaimDeleted => "claim_deleted",
        }
    }

    /// Logs the event with `data` as its single data entry.
    pub fn emit(self, data: impl Serialize) {
        let line = oracle_dapp::event_log_line(EVENT_STANDARD, EVENT_VERSION, self.name(), &data)
            .unwrap_or_else(|_| env::abort());
        env::log_str(&line);
    }
}
