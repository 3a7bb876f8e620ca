//! The records of the store's tables and the writes of one block.

use super::{
    db, decode, StoreError, ACCOUNTS, BLOCKS, BLOCK_HEIGHTS, CODE, META, OUTCOMES, RECEIPTS,
    STORAGE, TXS,
};
use crate::abi::{Balance, CryptoHash};
use crate::chain::{AccessKey, AccountInfo, BlockHeader, IncludedTx, LoggedOutcome, StateChanges};
use crate::tx::SignedTransaction;
use crate::views;
use borsh::{BorshDeserialize, BorshSerialize};
use redb::{ReadableTable, WriteTransaction};
use std::collections::BTreeMap;
use std::sync::Arc;

/// An account without its code (kept apart, rewritten only when it changes).
#[derive(BorshSerialize, BorshDeserialize)]
pub(super) struct StoredAccount {
    balance: Balance,
    locked: Balance,
    code_hash: CryptoHash,
    storage_usage: u64,
    keys: Vec<(Vec<u8>, AccessKey)>,
}

impl StoredAccount {
    fn of(info: &AccountInfo) -> Self {
        Self {
            balance: info.balance,
            locked: info.locked,
            code_hash: info.code_hash,
            storage_usage: info.storage_usage,
            keys: info
                .keys
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    pub(super) fn into_info(self, code: Option<Vec<u8>>) -> AccountInfo {
        AccountInfo {
            balance: self.balance,
            locked: self.locked,
            code: code.map(Arc::new),
            code_hash: self.code_hash,
            storage_usage: self.storage_usage,
            keys: self.keys.into_iter().collect::<BTreeMap<_, _>>(),
        }
    }
}

/// A transaction a block included, and the receipts of it that have run so far, in order.
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub struct TxRecord {
    pub signed: SignedTransaction,
    pub block_height: u64,
    pub block_hash: CryptoHash,
    /// The receipt it became.
    pub receipt_id: CryptoHash,
    /// Gas its conversion burnt.
    pub gas_burnt: u64,
    pub receipts: Vec<CryptoHash>,
}

/// Writes a block's header and the transactions it includes.
pub(super) fn write_block(
    txn: &WriteTransaction,
    header: &BlockHeader,
    transactions: &[IncludedTx],
) -> Result<(), StoreError> {
    let encoded = borsh::to_vec(header).expect("header serialises");
    txn.open_table(BLOCKS)
        .map_err(db)?
        .insert(header.height, encoded.as_slice())
        .map_err(db)?;
    txn.open_table(BLOCK_HEIGHTS)
        .map_err(db)?
        .insert(header.hash.as_slice(), header.height)
        .map_err(db)?;
    let mut meta = txn.open_table(META).map_err(db)?;
    meta.insert("head", encoded.as_slice()).map_err(db)?;
    let mut txs = txn.open_table(TXS).map_err(db)?;
    for tx in transactions {
        let record = TxRecord {
            signed: tx.signed.clone(),
            block_height: header.height,
            block_hash: header.hash,
            receipt_id: tx.receipt_id,
            gas_burnt: tx.gas_burnt,
            receipts: Vec::new(),
        };
        let bytes = borsh::to_vec(&record).expect("record serialises");
        txs.insert(tx.hash.as_slice(), bytes.as_slice())
            .map_err(db)?;
    }
    Ok(())
}

/// Writes the views of a block's outcomes and receipts, and adds them to their transactions.
pub(super) fn write_outcomes(
    txn: &WriteTransaction,
    header: &BlockHeader,
    outcomes: &[LoggedOutcome],
) -> Result<(), StoreError> {
    let mut views_table = txn.open_table(OUTCOMES).map_err(db)?;
    let mut receipts = txn.open_table(RECEIPTS).map_err(db)?;
    let mut txs = txn.open_table(TXS).map_err(db)?;
    for logged in outcomes {
        let id = logged.outcome.receipt_id;
        let view = views::outcome_view(&logged.outcome, &header.hash).to_string();
        views_table
            .insert(id.as_slice(), view.as_bytes())
            .map_err(db)?;
        let receipt = views::receipt_view(&logged.receipt).to_string();
        receipts
            .insert(id.as_slice(), receipt.as_bytes())
            .map_err(db)?;
        let Some(tx) = logged.tx else { continue };
        let existing = match txs.get(tx.as_slice()).map_err(db)? {
            Some(bytes) => decode::<TxRecord>("transactions", bytes.value())?,
            None => continue,
        };
        let mut record = existing;
        record.receipts.push(id);
        let bytes = borsh::to_vec(&record).expect("record serialises");
        txs.insert(tx.as_slice(), bytes.as_slice()).map_err(db)?;
    }
    Ok(())
}

/// Writes the accounts and storage a block changed, and the work in flight after it.
pub(super) fn write_changes(
    txn: &WriteTransaction,
    changes: StateChanges,
) -> Result<(), StoreError> {
    let mut accounts = txn.open_table(ACCOUNTS).map_err(db)?;
    let mut code = txn.open_table(CODE).map_err(db)?;
    let mut storage = txn.open_table(STORAGE).map_err(db)?;
    for id in &changes.cleared {
        let keys: Vec<Vec<u8>> = storage
            .range((id.as_str(), &[][..])..)
            .map_err(db)?
            .map_while(|entry| {
                let (key, _) = entry.ok()?;
                let (owner, key) = key.value();
                (owner == id.as_str()).then(|| key.to_vec())
            })
            .collect();
        for key in keys {
            storage.remove((id.as_str(), key.as_slice())).map_err(db)?;
        }
    }
    for (id, info) in &changes.accounts {
        let Some(info) = info else {
            accounts.remove(id.as_str()).map_err(db)?;
            code.remove(id.as_str()).map_err(db)?;
            continue;
        };
        let old_hash = match accounts.get(id.as_str()).map_err(db)? {
            Some(old) => Some(decode::<StoredAccount>("accounts", old.value())?.code_hash),
            None => None,
        };
        if old_hash != Some(info.code_hash) {
            match &info.code {
                Some(bytes) => code.insert(id.as_str(), bytes.as_slice()).map_err(db)?,
                None => code.remove(id.as_str()).map_err(db)?,
            };
        }
        let record = borsh::to_vec(&StoredAccount::of(info)).expect("account serialises");
        accounts
            .insert(id.as_str(), record.as_slice())
            .map_err(db)?;
    }
    for (id, key, value) in &changes.storage {
        match value {
            Some(value) => storage
                .insert((id.as_str(), key.as_slice()), value.as_slice())
                .map_err(db)?,
            None => storage.remove((id.as_str(), key.as_slice())).map_err(db)?,
        };
    }
    let queues = borsh::to_vec(&changes.queues).expect("queues serialise");
    txn.open_table(META)
        .map_err(db)?
        .insert("queues", queues.as_slice())
        .map_err(db)?;
    Ok(())
}
