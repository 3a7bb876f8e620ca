//! Errors of the chain's test API (a transaction that cannot even be submitted, a failed view).

use crate::abi::{AccountId, Balance};
use crate::engine::FunctionCallError;
use thiserror::Error;

/// A request the chain refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    #[error("`{0}` is not a valid account id")]
    InvalidAccountId(String),
    #[error("account `{0}` does not exist")]
    AccountNotFound(AccountId),
    #[error("account `{0}` already exists")]
    AccountExists(AccountId),
    #[error("signer `{signer}` cannot pay {cost} yoctoNEAR, its balance is {balance}")]
    NotEnoughBalance {
        signer: AccountId,
        cost: Balance,
        balance: Balance,
    },
    /// The actions fail NEAR's checks of a transaction's actions (count, order, sizes, gas).
    #[error("the transaction's actions are refused: {0}")]
    InvalidActions(crate::tx::ActionsValidationError),
    #[error("the transaction's cost (gas and deposits) overflows u128")]
    CostOverflow,
    #[error("account `{0}` has no contract code")]
    NoContract(AccountId),
    #[error("view `{method}` on `{account}` failed: {error}")]
    View {
        account: AccountId,
        method: String,
        error: Box<FunctionCallError>,
    },
    #[error("transaction did not settle within {0} blocks")]
    NotSettled(u64),
}
