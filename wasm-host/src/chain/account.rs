//! Accounts of the in-process chain.

use crate::abi::{AccessKeyPermission, Balance, CryptoHash};
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// An access key: nonce and permission.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AccessKey {
    pub nonce: u64,
    pub permission: AccessKeyPermission,
}

/// Everything about an account except its contract storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// Liquid balance, yoctoNEAR.
    pub balance: Balance,
    /// Staked balance, yoctoNEAR.
    pub locked: Balance,
    /// Deployed contract code.
    pub code: Option<Arc<Vec<u8>>>,
    /// SHA-256 of the code (zeros without code).
    pub code_hash: CryptoHash,
    /// Bytes of state the account uses (account record, code, storage records).
    pub storage_usage: u64,
    /// Access keys by borsh-encoded public key.
    pub keys: BTreeMap<Vec<u8>, AccessKey>,
}

/// Contract storage of one account, shared copy-on-write: a running call or view holds a cheap
/// snapshot, and the account's own copy is never taken out of it.
pub type Storage = Arc<BTreeMap<Vec<u8>, Vec<u8>>>;

/// An account: its info and its contract storage.
#[derive(Debug, Clone, Default)]
pub struct Account {
    pub info: AccountInfo,
    pub storage: Storage,
}

impl AccountInfo {
    /// A new account holding `balance`, using `storage_usage` bytes for its record.
    pub fn new(balance: Balance, storage_usage: u64) -> Self {
        Self {
            balance,
            locked: 0,
            code: None,
            code_hash: [0; 32],
            storage_usage,
            keys: BTreeMap::new(),
        }
    }
}

impl Default for AccountInfo {
    fn default() -> Self {
        Self::new(0, 0)
    }
}
