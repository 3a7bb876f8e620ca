//! Everything a contract can ask about the call it runs in.

use super::types::{AccountId, Balance, CryptoHash, Gas, PromiseResult};
use std::sync::Arc;

/// The context of one function call, as the chain sets it up.
#[derive(Debug, Clone)]
pub struct VMContext {
    /// The account whose contract runs.
    pub current_account_id: AccountId,
    /// The account that signed the original transaction.
    pub signer_account_id: AccountId,
    /// The signer's public key, borsh-encoded (key type byte, then the key).
    pub signer_account_pk: Vec<u8>,
    /// The account that sent this receipt.
    pub predecessor_account_id: AccountId,
    /// Where refunds of this receipt go.
    pub refund_to_account_id: AccountId,
    /// The call's arguments.
    pub input: Arc<Vec<u8>>,
    /// Results of the receipts this one waited on.
    pub promise_results: Arc<Vec<PromiseResult>>,
    /// Height of the block the receipt runs in.
    pub block_height: u64,
    /// That block's timestamp, nanoseconds.
    pub block_timestamp: u64,
    /// The epoch the block belongs to.
    pub epoch_height: u64,
    /// The account's balance, with the attached deposit already added.
    pub account_balance: Balance,
    /// The account's locked (staked) balance.
    pub account_locked_balance: Balance,
    /// Bytes the account uses in state before the call.
    pub storage_usage: u64,
    /// Deposit attached to the call.
    pub attached_deposit: Balance,
    /// Gas attached to the call.
    pub prepaid_gas: Gas,
    /// The block's random seed (32 bytes).
    pub random_seed: Vec<u8>,
    /// A view call: no state changes, no promises, no signer.
    pub view: bool,
    /// Accounts that receive this call's result as data (callbacks waiting on it).
    pub output_data_receivers: Vec<AccountId>,
    /// The chain's id, as `chain_id` returns it.
    pub chain_id: String,
    /// Hash of the code being run.
    pub code_hash: CryptoHash,
}
