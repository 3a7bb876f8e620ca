//! What executing receipts produced, as tests read it.

use crate::abi::{AccountId, Balance, CryptoHash, Gas};
use crate::engine::FunctionCallError;
use thiserror::Error;

/// Why an action receipt failed (its state changes were rolled back, its deposits refunded).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ActionError {
    #[error("account `{0}` does not exist")]
    AccountDoesNotExist(AccountId),
    #[error("account `{0}` already exists")]
    AccountAlreadyExists(AccountId),
    /// A sub-account created by another account than its parent.
    #[error("`{predecessor}` may not create account `{account}`")]
    CreateAccountNotAllowed {
        account: AccountId,
        predecessor: AccountId,
    },
    /// A top-level account shorter than `min_allowed_top_level_account_length`, created by
    /// another account than the registrar.
    #[error("only `{registrar}` may create the short top-level account `{account}`, not `{predecessor}`")]
    CreateAccountOnlyByRegistrar {
        account: AccountId,
        registrar: AccountId,
        predecessor: AccountId,
    },
    /// `CreateAccount` on an implicit account id (nearcore's name for the error, which it
    /// admits is the wrong way round).
    #[error("implicit account `{0}` cannot be created with CreateAccount")]
    OnlyImplicitAccountCreationAllowed(AccountId),
    /// `actor` may not run this action (deploy, key changes, deletion) on another account.
    #[error("`{actor}` does not have permission to act on account `{account}`")]
    ActorNoPermission {
        account: AccountId,
        actor: AccountId,
    },
    /// `DeleteAccount` of an account storing more than 10,000 bytes (nearcore's
    /// `MAX_ACCOUNT_DELETION_STORAGE_USAGE`) besides its code.
    #[error(
        "account `{0}` stores too much state to be deleted (more than 10,000 bytes besides its \
         code); remove its state first"
    )]
    DeleteAccountWithLargeState(AccountId),
    #[error("account `{0}` has no contract code")]
    CodeDoesNotExist(AccountId),
    #[error("access key already exists on `{account}`")]
    AddKeyAlreadyExists {
        account: AccountId,
        /// The key, borsh-encoded.
        public_key: Vec<u8>,
    },
    #[error("access key does not exist on `{account}`")]
    DeleteKeyDoesNotExist {
        account: AccountId,
        /// The key, borsh-encoded.
        public_key: Vec<u8>,
    },
    #[error("account `{account}` needs {needed} yoctoNEAR to cover its storage, has {balance}")]
    LackBalanceForState {
        account: AccountId,
        needed: Balance,
        balance: Balance,
    },
    #[error("{0}")]
    FunctionCall(#[from] FunctionCallError),
    #[error("the call created an invalid receipt: {0}")]
    NewReceiptValidation(ReceiptValidationError),
}

/// Why a receipt a call created was refused (nearcore's `ReceiptValidationError`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReceiptValidationError {
    #[error("`{account_id}` is not a valid receiver id")]
    InvalidReceiverId { account_id: String },
    #[error("`{account_id}` is not a valid account id to refund to")]
    InvalidRefundTo { account_id: String },
    #[error("{0}")]
    ActionsValidation(crate::tx::ActionsValidationError),
}

/// How a receipt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionStatus {
    /// Succeeded, returning these bytes.
    SuccessValue(Vec<u8>),
    /// Succeeded, its result being that of another receipt (`promise_return`).
    SuccessReceiptId(CryptoHash),
    /// Failed.
    Failure(ActionError),
}

/// The outcome of one action receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionOutcome {
    pub receipt_id: CryptoHash,
    /// The account that ran it.
    pub executor_id: AccountId,
    /// The account that sent it.
    pub predecessor_id: AccountId,
    /// The block it ran in.
    pub block_height: u64,
    pub logs: Vec<String>,
    /// Gas burnt executing it (action execution fees, wasm, host functions, send fees of the
    /// receipts it created). A refund's too (its execution fees), though nobody pays for them.
    pub gas_burnt: Gas,
    /// NEAR burnt: `gas_burnt` at the burn price (the lower of the receipt's purchase price and
    /// the block's), plus the refund penalty and, for a receipt that created an account, the
    /// account creation charge; 0 for a refund.
    pub tokens_burnt: Balance,
    pub status: ExecutionStatus,
    /// On failure, the index of the action that failed (`None`: the receipt as a whole, e.g.
    /// its storage was not covered).
    pub failed_action: Option<u64>,
    /// Receipts it created.
    pub receipt_ids: Vec<CryptoHash>,
}

/// Where a transaction stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalStatus {
    /// Still waiting (for a cross-contract result or a yield).
    Pending,
    /// Succeeded with these bytes.
    SuccessValue(Vec<u8>),
    /// Failed.
    Failure(ActionError),
}

/// A transaction and everything it has caused so far.
#[derive(Debug, Clone)]
pub struct TxResult {
    pub tx_id: CryptoHash,
    pub status: FinalStatus,
    /// Gas burnt converting the transaction into its receipt (send fees).
    pub tx_gas_burnt: Gas,
    /// Outcomes of its receipts, in execution order (the RPC's `receipts_outcome` lists them
    /// depth first, as nearcore does: [`crate::views::outcomes_depth_first`]).
    pub receipts: Vec<ExecutionOutcome>,
}

impl TxResult {
    /// All logs, in order.
    pub fn logs(&self) -> Vec<&str> {
        self.receipts
            .iter()
            .flat_map(|o| o.logs.iter().map(String::as_str))
            .collect()
    }

    /// Gas burnt by the transaction and all its receipts but refunds: the gas its signer paid
    /// for. A refund (a receipt from `system`) reports the execution fees it burnt as its
    /// `gas_burnt`, as on NEAR, but nobody pays for them (its `tokens_burnt` is 0).
    pub fn total_gas_burnt(&self) -> Gas {
        let paid = self
            .receipts
            .iter()
            .filter(|o| o.predecessor_id.as_str() != crate::chain::SYSTEM_ACCOUNT);
        self.tx_gas_burnt + paid.map(|o| o.gas_burnt).sum::<Gas>()
    }

    /// The failure's message, or "success" / "pending".
    pub fn status_message(&self) -> String {
        match &self.status {
            FinalStatus::Failure(error) => error.to_string(),
            FinalStatus::SuccessValue(_) => "success".into(),
            FinalStatus::Pending => "pending".into(),
        }
    }

    /// The success value, or the failure.
    pub fn into_result(self) -> Result<Vec<u8>, FinalStatus> {
        match self.status {
            FinalStatus::SuccessValue(value) => Ok(value),
            other => Err(other),
        }
    }

    /// The success value parsed as JSON; panics with the status otherwise (for tests).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        match &self.status {
            FinalStatus::SuccessValue(value) => serde_json::from_slice(value)
                .unwrap_or_else(|e| panic!("result is not the expected JSON: {e}")),
            other => panic!("transaction did not succeed: {other:?}"),
        }
    }
}

/// A view call's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewResult {
    pub result: Vec<u8>,
    pub logs: Vec<String>,
}

impl ViewResult {
    /// The result parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.result)
    }
}
