//! What a store keeps of the chain: the accounts and storage a block changed, the receipts and
//! yields still in flight, and rebuilding a chain from them.

use super::account::{Account, AccountInfo};
use super::block::BlockHeader;
use super::receipt::Receipt;
use super::{Chain, PendingYield};
use crate::abi::{AccountId, CryptoHash};
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Work in flight between blocks: receipts queued or waiting for data, data received, pending
/// yields, the transaction of each receipt, and the id counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Queues {
    next_block: Vec<Receipt>,
    postponed: Vec<(CryptoHash, Receipt, u64)>,
    waiting: Vec<(CryptoHash, CryptoHash)>,
    received: Vec<(CryptoHash, Option<Vec<u8>>)>,
    yields: Vec<(CryptoHash, PendingYield)>,
    tx_of: Vec<(CryptoHash, CryptoHash)>,
    ids_made: u64,
}

/// State changed since the changes were last taken.
#[derive(Debug, Default)]
pub struct StateChanges {
    /// Accounts changed (`None`: deleted).
    pub accounts: Vec<(AccountId, Option<AccountInfo>)>,
    /// Accounts whose whole storage is gone (deleted, maybe created again since).
    pub cleared: Vec<AccountId>,
    /// Storage values written (`Some`) or removed (`None`).
    pub storage: Vec<(AccountId, Vec<u8>, Option<Vec<u8>>)>,
    /// Work in flight.
    pub queues: Queues,
}

/// A map's entries in key order.
fn sorted<K: Ord + Clone, V: Clone>(map: &HashMap<K, V>) -> Vec<(K, V)> {
    let entries: BTreeMap<K, V> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    entries.into_iter().collect()
}

impl Chain {
    /// Takes the state changed since the last call (genesis accounts, charged signers, receipts
    /// run), with the work in flight. Meant for block boundaries (each block hands its changes
    /// over): transactions accepted since the last block, and their receipts, are not in it.
    pub fn take_changes(&mut self) -> StateChanges {
        let accounts = std::mem::take(&mut self.touched)
            .into_iter()
            .map(|id| {
                let info = self.accounts.get(&id).map(|a| a.info.clone());
                (id, info)
            })
            .collect();
        let storage = std::mem::take(&mut self.dirty_storage)
            .into_iter()
            .map(|(id, key)| {
                let value = self
                    .accounts
                    .get(&id)
                    .and_then(|a| a.storage.get(&key))
                    .cloned();
                (id, key, value)
            })
            .collect();
        StateChanges {
            accounts,
            cleared: std::mem::take(&mut self.cleared).into_iter().collect(),
            storage,
            queues: self.queues(),
        }
    }

    fn queues(&self) -> Queues {
        let mut postponed: Vec<(CryptoHash, Receipt, u64)> = self
            .postponed
            .iter()
            .map(|(id, (receipt, missing))| (*id, receipt.clone(), *missing as u64))
            .collect();
        postponed.sort_by_key(|entry| entry.0);
        Queues {
            next_block: self.next_block.iter().cloned().collect(),
            postponed,
            waiting: sorted(&self.waiting),
            received: sorted(&self.received),
            yields: self.yields.iter().map(|(k, v)| (*k, v.clone())).collect(),
            tx_of: sorted(&self.tx_of),
            ids_made: self.ids_made,
        }
    }

    /// Rebuilds a chain a store kept: its last block, the hashes of its blocks, its accounts,
    /// their storage, and the work in flight. Outcomes are not kept in memory (the store has
    /// them).
    pub fn restore(
        head: BlockHeader,
        block_hashes: impl IntoIterator<Item = (CryptoHash, u64)>,
        accounts: impl IntoIterator<Item = (AccountId, AccountInfo)>,
        storage: impl IntoIterator<Item = (AccountId, Vec<u8>, Vec<u8>)>,
        queues: Queues,
    ) -> Self {
        let mut chain = Chain::with_genesis_time(head.timestamp_ns, false);
        chain.height = head.height;
        chain.block_heights = block_hashes.into_iter().collect();
        chain.head = head;
        chain.accounts = accounts
            .into_iter()
            .map(|(id, info)| {
                let account = Account {
                    info,
                    storage: Default::default(),
                };
                (id, account)
            })
            .collect();
        for (id, key, value) in storage {
            if let Some(account) = chain.accounts.get_mut(&id) {
                Arc::make_mut(&mut account.storage).insert(key, value);
            }
        }
        chain.next_block = queues.next_block.into();
        chain.postponed = queues
            .postponed
            .into_iter()
            .map(|(id, receipt, missing)| (id, (receipt, missing as usize)))
            .collect();
        chain.waiting = queues.waiting.into_iter().collect();
        chain.received = queues.received.into_iter().collect();
        chain.yields = queues.yields.into_iter().collect();
        chain.tx_of = queues.tx_of.into_iter().collect();
        chain.ids_made = queues.ids_made;
        chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::Action;
    use crate::chain::ONE_NEAR;

    #[test]
    fn a_restored_chain_continues_where_the_changes_left_it() {
        let mut chain = Chain::with_genesis_time(5, false);
        chain.create_account("alice.test", 10 * ONE_NEAR).unwrap();
        chain.create_account("bob.test", ONE_NEAR).unwrap();
        let mut accounts = BTreeMap::new();
        let mut apply = |changes: StateChanges| {
            for (id, info) in changes.accounts {
                match info {
                    Some(info) => accounts.insert(id, info),
                    None => accounts.remove(&id),
                };
            }
            changes.queues
        };
        apply(chain.take_changes());
        let transfer = vec![Action::Transfer { deposit: ONE_NEAR }];
        chain.submit("alice.test", "bob.test", transfer).unwrap();
        let queues = apply(chain.produce_block().changes);
        assert_eq!(
            queues.next_block.len(),
            1,
            "the transfer runs in the block after the one that includes it"
        );
        assert_eq!(chain.balance("bob.test"), ONE_NEAR);
        let head = chain.head().clone();
        let hashes = [(head.hash, 0)];
        let mut restored = Chain::restore(head, hashes, accounts.clone(), Vec::new(), queues);
        chain.produce_block();
        restored.produce_block();
        assert_eq!(restored.balance("alice.test"), chain.balance("alice.test"));
        assert_eq!(restored.balance("bob.test"), 2 * ONE_NEAR);
        assert_eq!(restored.head(), chain.head());
    }
}
