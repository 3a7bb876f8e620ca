//! The account state a function call sees: a snapshot of the account's storage with the call's
//! changes on top, kept apart until the call succeeds.

use super::account::Storage;
use crate::abi::{CryptoHash, External};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Storage of one account plus uncommitted changes, and the chain services of [`External`].
#[derive(Default)]
pub struct StateOverlay {
    base: Storage,
    changes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    id_seed: CryptoHash,
    ids_made: u64,
    pending_yields: HashSet<CryptoHash>,
}

impl StateOverlay {
    /// Wraps a snapshot of `base` storage; data ids derive from `id_seed`; `pending_yields` are the account's
    /// yields still waiting.
    pub fn new(base: Storage, id_seed: CryptoHash, pending_yields: HashSet<CryptoHash>) -> Self {
        Self {
            base,
            changes: BTreeMap::new(),
            id_seed,
            ids_made: 0,
            pending_yields,
        }
    }

    /// The keys written or removed so far.
    pub fn changed_keys(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.changes.keys()
    }

    /// Ends the call: lets go of the snapshot and hands back the changes (`None`: removed), to
    /// apply with [`apply_changes`].
    pub fn into_changes(self) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        self.changes
    }
}

/// Writes `changes` into `storage` (copying it only if a snapshot of it is still held).
pub fn apply_changes(storage: &mut Storage, changes: BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
    if changes.is_empty() {
        return;
    }
    let storage = Arc::make_mut(storage);
    for (key, value) in changes {
        match value {
            Some(value) => storage.insert(key, value),
            None => storage.remove(&key),
        };
    }
}

impl External for StateOverlay {
    fn storage_read(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.changes.get(key) {
            Some(value) => value.clone(),
            None => self.base.get(key).cloned(),
        }
    }

    fn storage_write(&mut self, key: &[u8], value: &[u8]) -> Option<Vec<u8>> {
        let old = self.storage_read(key);
        self.changes.insert(key.to_vec(), Some(value.to_vec()));
        old
    }

    fn storage_remove(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let old = self.storage_read(key);
        if old.is_some() {
            self.changes.insert(key.to_vec(), None);
        }
        old
    }

    fn storage_has_key(&self, key: &[u8]) -> bool {
        match self.changes.get(key) {
            Some(value) => value.is_some(),
            None => self.base.contains_key(key),
        }
    }

    fn generate_data_id(&mut self) -> CryptoHash {
        self.ids_made += 1;
        let mut hasher = Sha256::new();
        hasher.update(self.id_seed);
        hasher.update(b"data");
        hasher.update(self.ids_made.to_le_bytes());
        hasher.finalize().into()
    }

    fn yield_pending(&self, data_id: &CryptoHash) -> bool {
        self.pending_yields.contains(data_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_stay_apart_until_applied() {
        let base: Storage = Arc::new(BTreeMap::from([(b"a".to_vec(), b"1".to_vec())]));
        let mut overlay = StateOverlay::new(base.clone(), [0; 32], HashSet::new());
        assert_eq!(overlay.storage_write(b"a", b"2"), Some(b"1".to_vec()));
        assert_eq!(overlay.storage_remove(b"a"), Some(b"2".to_vec()));
        assert!(!overlay.storage_has_key(b"a"));
        overlay.storage_write(b"b", b"3");
        assert_ne!(overlay.generate_data_id(), overlay.generate_data_id());
        assert_eq!(base.get(&b"a"[..]), Some(&b"1".to_vec()));
        let changes = overlay.into_changes();
        let mut storage = base.clone();
        apply_changes(&mut storage, changes);
        assert_eq!(*storage, BTreeMap::from([(b"b".to_vec(), b"3".to_vec())]));
        // The snapshot taken before is untouched.
        assert_eq!(base.get(&b"a"[..]), Some(&b"1".to_vec()));
    }
}
