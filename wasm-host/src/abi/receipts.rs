//! Receipts a call asks the chain to create.

use super::types::{AccountId, Action, CryptoHash};

/// A receipt this call wants sent, once the call succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptSpec {
    /// The account it goes to.
    pub receiver_id: AccountId,
    /// What it does there.
    pub actions: Vec<Action>,
    /// Data it waits for before running: one per dependency, and a yield's own data id.
    pub input_data_ids: Vec<CryptoHash>,
    /// Where its result is sent as data.
    pub output_data_receivers: Vec<DataDependency>,
    /// For a yield: the data id its resume (or timeout) delivers.
    pub yield_data_id: Option<CryptoHash>,
    /// Where its refunds go, when not to the current account.
    pub refund_to: Option<AccountId>,
}

/// A result to deliver: `data_id` goes to `receiver_id`.
#[derive(Debug, Clone, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct DataDependency {
    pub data_id: CryptoHash,
    pub receiver_id: AccountId,
}
