//! Persistence in an embedded database (redb): each block — its header, transactions, outcomes,
//! the accounts and storage it changed and the work left in flight — is committed in one write
//! transaction, so a crash (even `kill -9`) leaves the store at the end of some block.

mod records;

pub use records::TxRecord;

use crate::abi::{AccountId, CryptoHash};
use crate::chain::{BlockHeader, BlockOutput, Chain, Queues, StateChanges};
use crate::views;
use borsh::BorshDeserialize;
use records::StoredAccount;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// `head`: the last committed block's header; `queues`: work in flight; `genesis`: block 0.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Block headers by height.
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// Block heights by hash.
const BLOCK_HEIGHTS: TableDefinition<&[u8], u64> = TableDefinition::new("block_heights");
const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
const CODE: TableDefinition<&str, &[u8]> = TableDefinition::new("code");
const STORAGE: TableDefinition<(&str, &[u8]), &[u8]> = TableDefinition::new("storage");
/// Transactions by hash.
const TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("transactions");
/// Outcome views (JSON) by receipt id.
const OUTCOMES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("outcomes");
/// Receipt views (JSON) by receipt id.
const RECEIPTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("receipts");

/// A store operation that failed.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open { path: PathBuf, source: redb::Error },
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database {path} is in use by a running node: stop it first")]
    InUse { path: PathBuf },
    #[error("corrupt record in table {table}: {message}")]
    Corrupt {
        table: &'static str,
        message: String,
    },
}

fn db<E: Into<redb::Error>>(error: E) -> StoreError {
    StoreError::Db(error.into())
}

fn corrupt(table: &'static str) -> impl Fn(std::io::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        table,
        message: e.to_string(),
    }
}

fn decode<T: BorshDeserialize>(table: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    borsh::from_slice(bytes).map_err(corrupt(table))
}

fn json(table: &'static str, bytes: &[u8]) -> Result<Value, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        message: e.to_string(),
    })
}

/// The chain's database.
pub struct Store {
    db: Database,
}

/// The database file inside a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("chain.redb")
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = database_path(data_dir);
        let database = Database::create(&path).map_err(|e| StoreError::Open {
            path: path.clone(),
            source: e.into(),
        })?;
        let txn = database.begin_write().map_err(db)?;
        txn.open_table(META).map_err(db)?;
        txn.open_table(BLOCKS).map_err(db)?;
        txn.open_table(BLOCK_HEIGHTS).map_err(db)?;
        txn.open_table(ACCOUNTS).map_err(db)?;
        txn.open_table(CODE).map_err(db)?;
        txn.open_table(STORAGE).map_err(db)?;
        txn.open_table(TXS).map_err(db)?;
        txn.open_table(OUTCOMES).map_err(db)?;
        txn.open_table(RECEIPTS).map_err(db)?;
        txn.commit().map_err(db)?;
        Ok(Self { db: database })
    }

    /// The last committed block, if the store holds a chain.
    pub fn head(&self) -> Result<Option<BlockHeader>, StoreError> {
        self.meta("head")
    }

    /// Whether the store holds a chain (a node opening it restores it rather than creating one).
    pub fn has_chain(&self) -> Result<bool, StoreError> {
        Ok(self.head()?.is_some())
    }

    /// Block 0.
    pub fn genesis(&self) -> Result<Option<BlockHeader>, StoreError> {
        self.meta("genesis")
    }

    fn meta<T: BorshDeserialize>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let txn = self.db.begin_read().map_err(db)?;
        let table = txn.open_table(META).map_err(db)?;
        let value = table.get(key).map_err(db)?;
        value.map(|v| decode("meta", v.value())).transpose()
    }

    /// Rebuilds the chain the store holds (`None` if it holds none).
    pub fn load(&self) -> Result<Option<Chain>, StoreError> {
        let Some(head) = self.head()? else {
            return Ok(None);
        };
        let queues: Queues = self.meta("queues")?.unwrap_or_default();
        let txn = self.db.begin_read().map_err(db)?;
        let heights = txn.open_table(BLOCK_HEIGHTS).map_err(db)?;
        let mut hashes = Vec::new();
        for entry in heights.iter().map_err(db)? {
            let (hash, height) = entry.map_err(db)?;
            let hash: CryptoHash = hash.value().try_into().map_err(|_| StoreError::Corrupt {
                table: "block_heights",
                message: "hash is not 32 bytes".into(),
            })?;
            hashes.push((hash, height.value()));
        }
        let code = txn.open_table(CODE).map_err(db)?;
        let mut accounts = Vec::new();
        for entry in txn.open_table(ACCOUNTS).map_err(db)?.iter().map_err(db)? {
            let (id, record) = entry.map_err(db)?;
            let id: AccountId = id.value().parse().map_err(|_| StoreError::Corrupt {
                table: "accounts",
                message: format!("bad account id {}", id.value()),
            })?;
            let stored: StoredAccount = decode("accounts", record.value())?;
            let code = code
                .get(id.as_str())
                .map_err(db)?
                .map(|c| c.value().to_vec());
            accounts.push((id, stored.into_info(code)));
        }
        let mut storage = Vec::new();
        for entry in txn.open_table(STORAGE).map_err(db)?.iter().map_err(db)? {
            let (key, value) = entry.map_err(db)?;
            let (id, key) = key.value();
            if let Ok(id) = id.parse::<AccountId>() {
                storage.push((id, key.to_vec(), value.value().to_vec()));
            }
        }
        Ok(Some(Chain::restore(
            head, hashes, accounts, storage, queues,
        )))
    }

    /// Commits block 0 and the genesis state.
    pub fn commit_genesis(
        &self,
        header: &BlockHeader,
        changes: StateChanges,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db)?;
        {
            let mut meta = txn.open_table(META).map_err(db)?;
            meta.insert("genesis", borsh::to_vec(header).expect("header").as_slice())
                .map_err(db)?;
        }
        records::write_block(&txn, header, &[])?;
        records::write_changes(&txn, changes)?;
        txn.commit().map_err(db)?;
        Ok(())
    }

    /// Commits a block atomically: header, transactions, outcomes, state changes, queues.
    pub fn commit_block(&self, block: BlockOutput) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db)?;
        let BlockOutput {
            header,
            transactions,
            outcomes,
            changes,
        } = block;
        records::write_block(&txn, &header, &transactions)?;
        records::write_outcomes(&txn, &header, &outcomes)?;
        records::write_changes(&txn, changes)?;
        txn.commit().map_err(db)?;
        Ok(())
    }

    /// The header of the block at `height`.
    pub fn block_at(&self, height: u64) -> Result<Option<BlockHeader>, StoreError> {
        let txn = self.db.begin_read().map_err(db)?;
        let table = txn.open_table(BLOCKS).map_err(db)?;
        let value = table.get(height).map_err(db)?;
        value.map(|v| decode("blocks", v.value())).transpose()
    }

    /// The height of block `hash`.
    pub fn height_of(&self, hash: &CryptoHash) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(db)?;
        let table = txn.open_table(BLOCK_HEIGHTS).map_err(db)?;
        Ok(table.get(hash.as_slice()).map_err(db)?.map(|v| v.value()))
    }

    /// A transaction a block included.
    pub fn transaction(&self, hash: &CryptoHash) -> Result<Option<TxRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(db)?;
        let table = txn.open_table(TXS).map_err(db)?;
        let value = table.get(hash.as_slice()).map_err(db)?;
        value.map(|v| decode("transactions", v.value())).transpose()
    }

    /// The outcome view of a receipt.
    pub fn outcome(&self, receipt_id: &CryptoHash) -> Result<Option<Value>, StoreError> {
        self.view(OUTCOMES, "outcomes", receipt_id)
    }

    /// The view of a receipt.
    pub fn receipt(&self, receipt_id: &CryptoHash) -> Result<Option<Value>, StoreError> {
        self.view(RECEIPTS, "receipts", receipt_id)
    }

    fn view(
        &self,
        definition: TableDefinition<&[u8], &[u8]>,
        name: &'static str,
        id: &CryptoHash,
    ) -> Result<Option<Value>, StoreError> {
        let txn = self.db.begin_read().map_err(db)?;
        let table = txn.open_table(definition).map_err(db)?;
        let value = table.get(id.as_slice()).map_err(db)?;
        value.map(|v| json(name, v.value())).transpose()
    }

    /// A transaction's status, read from its receipts' outcomes (an outcome that cannot be read
    /// is an error, never taken for one not yet recorded).
    pub fn tx_status(&self, record: &TxRecord) -> Result<views::OutcomeStatus, StoreError> {
        views::status_of(&record.receipt_id, |id| self.outcome(id))
    }
}

/// Removes a data directory's database; refuses while a node has it open (redb's lock, held
/// while the file is removed, so no node can open it meanwhile). A database that cannot be
/// opened for another reason (damaged, an old format) is removed all the same.
pub fn reset(data_dir: &Path) -> Result<bool, StoreError> {
    let path = database_path(data_dir);
    if !path.exists() {
        return Ok(false);
    }
    let lock = match Database::open(&path) {
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(StoreError::InUse { path }),
        opened => opened.ok(),
    };
    let removed = std::fs::remove_file(&path);
    drop(lock);
    match removed {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(StoreError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests;
