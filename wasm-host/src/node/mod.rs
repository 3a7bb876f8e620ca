//! A chain node: the chain in memory, its store on disk, the states of the last blocks for
//! queries, blocks produced on a timer or on demand, notifications of new blocks for the RPC
//! server, and an orderly stop (no more transactions, the accepted ones included, then whoever
//! still waits is told).

mod producer;
mod states;

pub use producer::{run_producer, BlockMode, NEAR_BLOCK_TIME};
pub use states::KEPT_STATES;

use crate::abi::{AccountId, Balance, CryptoHash};
use crate::chain::{BlockHeader, Chain, ChainError, ChainState};
use crate::store::{Store, StoreError};
use crate::tx::{InvalidTxError, PublicKey, SignedTransaction};
use states::StateHistory;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;
use tokio::sync::{watch, Notify};
use tracing::{debug, info, warn};

/// A node that could not start or go on.
#[derive(Debug, Error)]
pub enum NodeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("genesis account: {0}")]
    Genesis(#[from] ChainError),
}

/// A transaction the node did not accept.
#[derive(Debug, Error)]
pub enum SubmitError {
    /// The chain refused it, as NEAR would.
    #[error(transparent)]
    Invalid(#[from] InvalidTxError),
    /// The node is stopping and accepts no more transactions.
    #[error("the node is shutting down: it accepts no more transactions")]
    ShuttingDown,
    /// Whether the chain already has it could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An account created at genesis with a full access key.
#[derive(Debug, Clone)]
pub struct GenesisAccount {
    pub account_id: AccountId,
    pub balance: Balance,
    pub public_key: PublicKey,
}

/// The chain, its store and who waits for blocks.
pub struct Node {
    chain: Mutex<Chain>,
    /// The states of the last blocks, for queries.
    states: StateHistory,
    store: Store,
    genesis: BlockHeader,
    blocks: watch::Sender<u64>,
    work: Notify,
    started: Instant,
    /// Whether transactions are accepted (read and changed under the chain's lock).
    accepting: AtomicBool,
    /// Turns true once the node has stopped producing blocks.
    closed: watch::Sender<bool>,
}

/// Wall-clock time in nanoseconds since the Unix epoch.
fn now_ns() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

impl Node {
    /// Opens the chain in `data_dir`, or creates it with `genesis` accounts if there is none.
    pub fn open(data_dir: &Path, genesis: &[GenesisAccount]) -> Result<Self, NodeError> {
        Self::with_store(Store::open(data_dir)?, data_dir, genesis)
    }

    /// Opens the chain `store` (opened on `data_dir`) holds, or creates it there with `genesis`
    /// accounts if it holds none. The store's lock is held from [`Store::open`] on, so a caller
    /// that asked [`Store::has_chain`] first (to write genesis keys before the chain is created
    /// with them) gets the answer it was given.
    pub fn with_store(
        store: Store,
        data_dir: &Path,
        genesis: &[GenesisAccount],
    ) -> Result<Self, NodeError> {
        let loaded = store.load()?;
        let chain = match loaded {
            Some(chain) => {
                let head = chain.head();
                info!(
                    height = head.height,
                    hash = %crate::views::hash58(&head.hash),
                    dir = %data_dir.display(),
                    "restored chain"
                );
                if !genesis.is_empty() {
                    warn!("the chain exists already: genesis accounts given now are ignored");
                }
                let started = Instant::now();
                let compiled = chain.warm_modules();
                info!(compiled, elapsed = ?started.elapsed(), "compiled the deployed contracts");
                chain
            }
            None => {
                let mut chain = Chain::with_genesis_time(now_ns(), false);
                for account in genesis {
                    chain.create_account_with_key(
                        account.account_id.as_str(),
                        account.balance,
                        &account.public_key,
                    )?;
                    info!(
                        account = %account.account_id,
                        balance = %account.balance,
                        key = %account.public_key,
                        "genesis account"
                    );
                }
                let head = chain.head().clone();
                store.commit_genesis(&head, chain.take_changes())?;
                info!(hash = %crate::views::hash58(&head.hash), dir = %data_dir.display(), "created chain");
                chain
            }
        };
        let genesis = store.genesis()?.unwrap_or_else(|| chain.head().clone());
        let (blocks, _) = watch::channel(chain.head().height);
        Ok(Self {
            states: StateHistory::new(chain.state()),
            chain: Mutex::new(chain),
            store,
            genesis,
            blocks,
            work: Notify::new(),
            started: Instant::now(),
            accepting: AtomicBool::new(true),
            closed: watch::channel(false).0,
        })
    }

    /// The chain, locked.
    pub fn chain(&self) -> MutexGuard<'_, Chain> {
        self.chain
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state at the end of the head block.
    pub fn head_state(&self) -> Arc<ChainState> {
        self.states.head()
    }

    /// The oldest state kept (a query's `earliest_available` block).
    pub fn oldest_state(&self) -> Arc<ChainState> {
        self.states.oldest()
    }

    /// The state at the end of block `hash`, if it is one of the last [`KEPT_STATES`].
    pub fn state_at(&self, hash: &CryptoHash) -> Option<Arc<ChainState>> {
        self.states.at(hash)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Block 0.
    pub fn genesis(&self) -> &BlockHeader {
        &self.genesis
    }

    /// Seconds since the node started.
    pub fn uptime_sec(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Heights of new blocks, as they are committed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.blocks.subscribe()
    }

    /// Checks and accepts a signed transaction for the next block (none once the node stops).
    /// One the chain already has — waiting for its block, or in a block — is not submitted
    /// again: its hash is the answer, as NEAR answers a resend. Decided under the chain's lock
    /// (blocks are committed under it), so the same transaction sent twice at once is
    /// accepted once and never refused as a nonce already used.
    pub fn submit(&self, signed: &SignedTransaction) -> Result<CryptoHash, SubmitError> {
        let mut chain = self.chain();
        let hash = signed.hash();
        if chain.is_incoming(&hash) || self.store.transaction(&hash)?.is_some() {
            return Ok(hash);
        }
        if !self.accepting.load(Ordering::SeqCst) {
            return Err(SubmitError::ShuttingDown);
        }
        let result = chain.submit_signed(signed).map_err(SubmitError::from);
        drop(chain);
        match &result {
            Ok(hash) => {
                debug!(tx = %crate::views::hash58(hash), signer = %signed.transaction.signer_id, "accepted transaction");
                self.work.notify_one();
            }
            Err(error) => {
                debug!(signer = %signed.transaction.signer_id, %error, "rejected transaction")
            }
        }
        result
    }

    /// Whether the chain would refuse `signed` were it sent now, asked without sending it
    /// (nearcore's check-only validation, which a status request by signed transaction runs on
    /// one the chain has not seen): the checks [`Node::submit`] makes (signature, block hash,
    /// actions, signer, access key, nonce, balance, allowance), with no change to anything.
    /// One the chain has already — waiting for its block, or in a block — passes, as the resend
    /// [`Node::submit`] answers with its hash.
    pub fn check(&self, signed: &SignedTransaction) -> Result<(), SubmitError> {
        let chain = self.chain();
        let hash = signed.hash();
        if chain.is_incoming(&hash) || self.store.transaction(&hash)?.is_some() {
            return Ok(());
        }
        chain.check_signed(signed).map_err(SubmitError::from)
    }

    /// Produces a block now and commits it; the chain stays locked until the block is durable,
    /// so blocks reach the store in order. The block's state is kept for queries before the
    /// block is committed: whoever reads a block (or a transaction's outcome) from the store can
    /// query the state at its end. (A query may name the block a moment before the store has
    /// it; [`Node::settled`] waits for that commit.) A commit that fails stops the producer.
    pub fn produce_block(&self) -> Result<BlockHeader, StoreError> {
        let mut chain = self.chain();
        let block = chain.produce_block_at(now_ns());
        let header = block.header.clone();
        let (txs, receipts) = (block.transactions.len(), block.outcomes.len());
        self.states.push(chain.state());
        self.store.commit_block(block)?;
        drop(chain);
        if txs + receipts > 0 {
            info!(height = header.height, txs, receipts, "block");
        } else {
            debug!(height = header.height, "empty block");
        }
        self.blocks.send_replace(header.height);
        Ok(header)
    }

    /// Waits for a block being committed, if one is: once this returns, every block whose
    /// state a query has read is in the store.
    pub fn settled(&self) {
        drop(self.chain());
    }

    /// Waits until a transaction arrives (for blocks on demand).
    pub async fn work_arrived(&self) {
        self.work.notified().await;
    }

    /// Accepts no more transactions: once this returns, no submission can still slip in.
    pub fn stop_accepting(&self) {
        let _chain = self.chain();
        self.accepting.store(false, Ordering::SeqCst);
    }

    /// Whether the node still takes transactions (it is not stopping).
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }

    /// Marks the node stopped: no more blocks come (see [`Node::closed`]).
    pub fn close(&self) {
        self.stop_accepting();
        self.closed.send_replace(true);
    }

    /// Whether the node has stopped producing blocks.
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Completes once the node has stopped producing blocks.
    pub async fn closed(&self) {
        let mut closed = self.closed.subscribe();
        // The sender lives as long as the node: waiting cannot fail.
        let _ = closed.wait_for(|closed| *closed).await;
    }
}
