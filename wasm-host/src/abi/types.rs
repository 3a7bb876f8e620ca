//! Values that cross the ABI: amounts, ids, actions, promise results, return data.

use borsh::{BorshDeserialize, BorshSerialize};
use std::sync::Arc;

pub use near_account_id::AccountId;

/// An amount in yoctoNEAR.
pub type Balance = u128;
/// An amount of gas.
pub type Gas = u64;
/// A 32-byte hash (receipt ids, data ids, code hashes).
pub type CryptoHash = [u8; 32];

/// What a finished dependency handed to a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromiseResult {
    /// The dependency returned these bytes.
    Successful(Vec<u8>),
    /// The dependency failed (or, for a yield, timed out).
    Failed,
}

/// What a function call returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReturnData {
    /// Nothing was returned.
    #[default]
    None,
    /// `value_return` was called with these bytes.
    Value(Vec<u8>),
    /// `promise_return`: the result is that of the receipt at this index of the outcome.
    ReceiptIndex(usize),
}

/// Who may use an access key.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum AccessKeyPermission {
    /// Any transaction.
    FullAccess,
    /// Only calls to `receiver_id` (to `method_names`, or any method if empty), paying at most
    /// `allowance` in fees.
    FunctionCall {
        allowance: Option<Balance>,
        receiver_id: String,
        method_names: Vec<String>,
    },
}

/// One action of an action receipt.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Action {
    /// Create the receiver account.
    CreateAccount,
    /// Deploy this code on the receiver.
    DeployContract { code: Arc<Vec<u8>> },
    /// Call `method_name` with `args`, attaching `deposit` and `gas`.
    FunctionCall {
        method_name: String,
        args: Vec<u8>,
        deposit: Balance,
        gas: Gas,
    },
    /// Give the receiver `deposit`.
    Transfer { deposit: Balance },
    /// Add an access key (borsh-encoded public key).
    AddKey {
        public_key: Vec<u8>,
        nonce: u64,
        permission: AccessKeyPermission,
    },
    /// Delete an access key (borsh-encoded public key).
    DeleteKey { public_key: Vec<u8> },
    /// Delete the receiver, sending its balance to `beneficiary_id`.
    DeleteAccount { beneficiary_id: AccountId },
}

impl Action {
    /// The deposit this action moves (refunded if the receipt fails).
    pub fn deposit(&self) -> Balance {
        match self {
            Action::FunctionCall { deposit, .. } | Action::Transfer { deposit } => *deposit,
            _ => 0,
        }
    }

    /// The deposits of `actions` together, or `None` if they overflow.
    pub fn total_deposit(actions: &[Action]) -> Option<Balance> {
        actions.iter().try_fold(0, |total: Balance, action| {
            total.checked_add(action.deposit())
        })
    }

    /// The gas attached by `actions` together, or `None` if it overflows.
    pub fn total_prepaid_gas(actions: &[Action]) -> Option<Gas> {
        actions.iter().try_fold(0, |total: Gas, action| {
            total.checked_add(action.prepaid_gas())
        })
    }

    /// The gas attached for the receiver's function call.
    pub fn prepaid_gas(&self) -> Gas {
        match self {
            Action::FunctionCall { gas, .. } => *gas,
            _ => 0,
        }
    }
}
