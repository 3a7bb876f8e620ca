//! Why a claim was rejected: each reason a fixed snake_case name in views and events.

use near_sdk::near;

/// Why a claim was not paid.
#[near(serializers = [borsh, json])]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The model judged the claim and said reject.
    ModelRejected,
    /// The oracle's output was not exactly a verdict of the schema.
    MalformedVerdict,
    /// The amount is over `max_per_claim` (at the verdict: under the limits then in force).
    OverMaxPerClaim,
    /// Paying would take the day's total over `max_per_day`.
    OverDailyCap,
    /// The recipient is not on the allow-list.
    RecipientNotAllowed,
    /// The vault's funds do not cover the amount.
    InsufficientFunds,
    /// The oracle refused to price or take the request; what was sent to it came back.
    OracleRefused,
    /// The claimant's deposit did not cover the oracle's fee plus the claim's storage.
    InsufficientDeposit,
    /// No quorum answered in time; the oracle refunded the fee, passed on to the claimant.
    OracleTimedOut,
    /// The callback held something other than an oracle answer.
    NoAnswer,
    /// The transfer to the recipient failed; the amount went back into the vault.
    PayoutFailed,
}
