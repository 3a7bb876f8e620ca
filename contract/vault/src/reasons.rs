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
    /// The oracle refused to price or take the request. A refused price: the vault returned
    /// the claimant's deposit. A refused request: its deposit went back to the claimant
    /// directly (the claimant is the request receipt's refund account), never through the
    /// vault — the same failure also reaches the vault when the oracle's callback failed after
    /// taking the fee, and then nothing comes back.
    OracleRefused,
    /// The claimant's deposit did not cover the oracle's fee plus the claim's storage.
    InsufficientDeposit,
    /// No quorum answered in time; the oracle refunded the fee (less the shares of the largest
    /// group of equal reveals) to the claimant.
    OracleTimedOut,
    /// The callback held something other than an oracle answer.
    NoAnswer,
    /// The transfer to the recipient failed; the amount went back into the vault.
    PayoutFailed,
    /// The oracle had not answered `CLAIM_EXPIRY_BLOCKS` after filing and anyone called
    /// `expire_claim`: the reservation is released and a late verdict is ignored.
    Expired,
    /// The recipient is the vault itself: paying it would take the amount out of the funds and
    /// leave the NEAR unreachable in the vault.
    RecipientIsVault,
}
