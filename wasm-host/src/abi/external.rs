//! What the ABI needs from the chain: the account's storage, and yields.

use super::types::CryptoHash;

/// A value read from storage.
pub type StorageValue = Vec<u8>;

/// The account's state and the chain services a call uses, supplied by whoever runs the contract.
pub trait External {
    /// The value stored under `key`.
    fn storage_read(&self, key: &[u8]) -> Option<StorageValue>;
    /// Stores `value` under `key`, returning the value it replaced.
    fn storage_write(&mut self, key: &[u8], value: &[u8]) -> Option<StorageValue>;
    /// Removes `key`, returning its value.
    fn storage_remove(&mut self, key: &[u8]) -> Option<StorageValue>;
    /// Whether `key` holds a value.
    fn storage_has_key(&self, key: &[u8]) -> bool;
    /// A fresh, unique data id (for a dependency or a yield).
    fn generate_data_id(&mut self) -> CryptoHash;
    /// Whether `data_id` is a yield of the current account still waiting for its resume.
    fn yield_pending(&self, data_id: &CryptoHash) -> bool;
}
