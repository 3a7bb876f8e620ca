//! The in-process chain: accounts, transactions turned into receipts, receipts executed block by
//! block as NEAR does (a cross-contract call runs in a later block than its caller; a callback
//! runs once the results it waits on have arrived), yields that time out after
//! `yield_timeout_length_in_blocks`, blocks chained by hash, signed transactions checked as NEAR
//! checks them (signature, access key, nonce, block hash, balance), the changes of each block
//! for a store, and a Rust API for tests.

mod account;
mod apply;
mod block;
mod error;
mod outcome;
mod overlay;
mod persist;
mod receipt;
mod settle;
mod signed;
mod state;
mod storage_stake;
mod validate;
mod view;

pub use account::{AccessKey, Account, AccountInfo, Storage};
pub use block::{BlockHeader, BlockOutput, IncludedTx, LoggedOutcome};
pub use error::ChainError;
pub use outcome::{
    ActionError, ExecutionOutcome, ExecutionStatus, FinalStatus, ReceiptValidationError, TxResult,
    ViewResult,
};
pub use overlay::StateOverlay;
pub use persist::{Queues, StateChanges};
pub use receipt::{ActionReceipt, Receipt, ReceiptKind};
pub use state::ChainState;
pub use view::PreparedView;

use crate::abi::{AccountId, Action, Balance, CryptoHash, Gas, PromiseResult, VMContext};
use crate::engine::Engine;
use crate::fees::Fees;
use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, OnceLock};

/// Gas price of every block: NEAR mainnet's minimum (a genesis parameter, not a runtime fee).
pub const GAS_PRICE: Balance = 100_000_000;
/// Blocks per epoch (NEAR mainnet's epoch length, a genesis parameter).
pub const EPOCH_LENGTH: u64 = 43_200;
/// Timestamp of block 0, nanoseconds; each block is one second later.
pub const GENESIS_TIMESTAMP_NS: u64 = 1_700_000_000_000_000_000;
/// The chain id contracts see.
pub const CHAIN_ID: &str = "localnet";
/// Blocks a transaction's block hash stays valid (NEAR mainnet's genesis parameter).
pub const TRANSACTION_VALIDITY_PERIOD: u64 = 86_400;
/// The sender of refunds.
pub const SYSTEM_ACCOUNT: &str = "system";
/// Blocks a transaction may take to settle before [`Chain::execute`] gives up.
const MAX_SETTLE_BLOCKS: u64 = 10_000;
/// A new access key's nonce starts at its block's height times this (NEAR's
/// `ACCESS_KEY_NONCE_RANGE_MULTIPLIER`); a transaction's nonce must stay below the next block's
/// height times it.
pub const NONCE_RANGE_MULTIPLIER: u64 = 1_000_000;
/// One NEAR in yoctoNEAR.
pub const ONE_NEAR: Balance = 10u128.pow(24);
/// One teragas.
pub const TGAS: Gas = 10u64.pow(12);

/// A yield waiting for its resume.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct PendingYield {
    account: AccountId,
    expires_at: u64,
    origin: CryptoHash,
    /// The transaction that created it.
    tx: Option<CryptoHash>,
}

/// An in-process NEAR chain.
pub struct Chain {
    fees: Fees,
    engine: Arc<Engine<StateOverlay>>,
    accounts: BTreeMap<AccountId, Account>,
    height: u64,
    /// Hash and timestamp of the last block.
    head: BlockHeader,
    /// Height of every block, by hash (to check transactions' block hashes).
    block_heights: HashMap<CryptoHash, u64>,
    transaction_validity_period: u64,
    /// Receipts to run in the next block.
    next_block: VecDeque<Receipt>,
    /// The receipts of the transactions accepted since the last block (they belong to the
    /// next one): a local one (signer = receiver) runs in that block, any other in the block
    /// after, as nearcore runs them.
    converted: Vec<Receipt>,
    /// Action receipts waiting for data, by receipt id, with the data ids still missing.
    postponed: HashMap<CryptoHash, (Receipt, usize)>,
    /// Which postponed receipt waits for a data id.
    waiting: HashMap<CryptoHash, CryptoHash>,
    /// Data that arrived for receipts.
    received: HashMap<CryptoHash, Option<Vec<u8>>>,
    yields: BTreeMap<CryptoHash, PendingYield>,
    outcomes: HashMap<CryptoHash, ExecutionOutcome>,
    /// The transaction each receipt still to run belongs to.
    tx_of: HashMap<CryptoHash, CryptoHash>,
    /// Per transaction: its first receipt, the gas its conversion burnt, its outcomes in order.
    txs: HashMap<CryptoHash, (CryptoHash, Gas, Vec<CryptoHash>)>,
    ids_made: u64,
    /// Whether outcomes and transactions are kept for [`Chain::tx_result`] (the test API); a
    /// chain with a store keeps only what the store has not yet taken.
    history: bool,
    /// Signed transactions accepted since the last block: they belong to the next one.
    incoming: Vec<IncludedTx>,
    /// Outcomes recorded since the last block.
    logged: Vec<LoggedOutcome>,
    /// Accounts changed since the changes were last taken.
    touched: BTreeSet<AccountId>,
    /// Accounts deleted (their storage with them) since the changes were last taken.
    cleared: BTreeSet<AccountId>,
    /// Storage keys written or removed since the changes were last taken.
    dirty_storage: BTreeSet<(AccountId, Vec<u8>)>,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    /// An empty chain at block 0, following protocol 88's fees and limits, keeping every
    /// outcome in memory for [`Chain::tx_result`].
    pub fn new() -> Self {
        Self::with_genesis_time(GENESIS_TIMESTAMP_NS, true)
    }

    /// An empty chain whose block 0 is at `timestamp_ns`; `history`: whether outcomes stay in
    /// memory (a chain with a store takes them with [`Chain::produce_block_at`] instead).
    pub fn with_genesis_time(timestamp_ns: u64, history: bool) -> Self {
        let head = BlockHeader::genesis(timestamp_ns);
        Self {
            fees: Fees::default(),
            engine: shared_engine(),
            accounts: BTreeMap::new(),
            height: 0,
            block_heights: HashMap::from([(head.hash, 0)]),
            head,
            transaction_validity_period: TRANSACTION_VALIDITY_PERIOD,
            next_block: VecDeque::new(),
            converted: Vec::new(),
            postponed: HashMap::new(),
            waiting: HashMap::new(),
            received: HashMap::new(),
            yields: BTreeMap::new(),
            outcomes: HashMap::new(),
            tx_of: HashMap::new(),
            txs: HashMap::new(),
            ids_made: 0,
            history,
            incoming: Vec::new(),
            logged: Vec::new(),
            touched: BTreeSet::new(),
            cleared: BTreeSet::new(),
            dirty_storage: BTreeSet::new(),
        }
    }

    /// Sets how many blocks a transaction's block hash stays valid.
    pub fn set_transaction_validity_period(&mut self, blocks: u64) {
        self.transaction_validity_period = blocks;
    }

    /// Compiles every deployed contract into the engine's module cache (up to its capacity),
    /// so that a restored chain pays for compilation before it serves calls, not while blocks
    /// go by; returns how many were compiled. Code that no longer compiles is skipped: calling
    /// it reports the error as before.
    pub fn warm_modules(&self) -> usize {
        self.accounts
            .iter()
            .filter_map(|(id, account)| {
                Some((id, account.info.code_hash, account.info.code.as_ref()?))
            })
            .take(crate::engine::MODULE_CACHE_CAPACITY)
            .filter(|(id, code_hash, code)| {
                self.engine.compile(id.as_str(), *code_hash, code).is_ok()
            })
            .count()
    }

    /// The last block.
    pub fn head(&self) -> &BlockHeader {
        &self.head
    }

    /// The height of block `hash`, if the chain made it.
    pub fn block_height_of(&self, hash: &CryptoHash) -> Option<u64> {
        self.block_heights.get(hash).copied()
    }

    /// The fee and limit tables in force.
    pub fn fees(&self) -> &Fees {
        &self.fees
    }

    /// Height of the last block produced.
    pub fn block_height(&self) -> u64 {
        self.height
    }

    /// Creates an account holding `balance` directly, as genesis would.
    pub fn create_account(&mut self, id: &str, balance: Balance) -> Result<AccountId, ChainError> {
        let id = parse_account(id)?;
        if self.accounts.contains_key(&id) {
            return Err(ChainError::AccountExists(id));
        }
        let info = AccountInfo::new(balance, self.fees.storage_bytes_account());
        self.touched.insert(id.clone());
        self.accounts.insert(
            id.clone(),
            Account {
                info,
                storage: Default::default(),
            },
        );
        Ok(id)
    }

    /// Creates an account holding `balance` with full access key `key`, as genesis would.
    pub fn create_account_with_key(
        &mut self,
        id: &str,
        balance: Balance,
        key: &crate::tx::PublicKey,
    ) -> Result<AccountId, ChainError> {
        let id = self.create_account(id, balance)?;
        let access_key = AccessKey {
            nonce: 0,
            permission: crate::abi::AccessKeyPermission::FullAccess,
        };
        let key = key.to_bytes();
        let bytes = self.key_storage_bytes(&key, &access_key);
        let account = self.accounts.get_mut(&id).expect("just created");
        account.info.storage_usage += bytes;
        account.info.keys.insert(key, access_key);
        Ok(id)
    }

    /// An account's state, if it exists.
    pub fn account(&self, id: &str) -> Option<&AccountInfo> {
        let id: AccountId = id.parse().ok()?;
        self.accounts.get(&id).map(|a| &a.info)
    }

    /// An account's balance (0 if it does not exist).
    pub fn balance(&self, id: &str) -> Balance {
        self.account(id).map_or(0, |a| a.balance)
    }

    /// A raw value of an account's contract storage.
    pub fn storage_value(&self, id: &str, key: &[u8]) -> Option<&[u8]> {
        let id: AccountId = id.parse().ok()?;
        self.accounts.get(&id)?.storage.get(key).map(Vec::as_slice)
    }

    /// Deploys `code` on `account` with a transaction the account signs.
    pub fn deploy(&mut self, account: &str, code: Vec<u8>) -> Result<TxResult, ChainError> {
        let action = Action::DeployContract {
            code: Arc::new(code),
        };
        self.execute(account, account, vec![action])
    }

    /// Calls `method` of `receiver` from `signer` with `args`, `deposit` and `gas`, and produces
    /// blocks until the transaction settles (or only waits for yields).
    pub fn call(
        &mut self,
        signer: &str,
        receiver: &str,
        method: &str,
        args: impl Into<Vec<u8>>,
        deposit: Balance,
        gas: Gas,
    ) -> Result<TxResult, ChainError> {
        let action = Action::FunctionCall {
            method_name: method.to_string(),
            args: args.into(),
            deposit,
            gas,
        };
        self.execute(signer, receiver, vec![action])
    }

    /// Submits a transaction and produces blocks until none of its receipts are in flight.
    pub fn execute(
        &mut self,
        signer: &str,
        receiver: &str,
        actions: Vec<Action>,
    ) -> Result<TxResult, ChainError> {
        let tx_id = self.submit(signer, receiver, actions)?;
        for _ in 0..MAX_SETTLE_BLOCKS {
            if !self.in_flight(&tx_id) {
                return Ok(self.tx_result(&tx_id));
            }
            self.produce_block();
        }
        Err(ChainError::NotSettled(MAX_SETTLE_BLOCKS))
    }

    /// Submits a transaction: the signer pays its fees, gas and deposits now; the next block
    /// includes it, and its receipt runs there when the signer is the receiver, in the block
    /// after otherwise. Returns the transaction id.
    pub fn submit(
        &mut self,
        signer: &str,
        receiver: &str,
        actions: Vec<Action>,
    ) -> Result<CryptoHash, ChainError> {
        let signer_id = parse_account(signer)?;
        let receiver_id = parse_account(receiver)?;
        let sir = signer_id == receiver_id;
        // As a signed transaction's: a `[DeleteAccount, Transfer]` would refund the balance,
        // then refund the failed transfer's deposit too.
        validate::validate_actions(self.fees.limits(), &actions)
            .map_err(ChainError::InvalidActions)?;
        let prepaid = Action::total_prepaid_gas(&actions).ok_or(ChainError::CostOverflow)?;
        let transfer_send = self.fees.transfer_send(sir, &receiver_id);
        let send = self.action_fees(&actions, |fee| self.fees.send(fee, sir), transfer_send);
        let transfer_exec = self.fees.transfer_exec(&receiver_id);
        let exec = self.action_fees(&actions, |fee| self.fees.exec(fee), transfer_exec);
        let cost = Action::total_deposit(&actions)
            .and_then(|deposits| self.tx_cost(send, exec, prepaid, deposits))
            .ok_or(ChainError::CostOverflow)?;
        let account = self
            .accounts
            .get_mut(&signer_id)
            .ok_or_else(|| ChainError::AccountNotFound(signer_id.clone()))?;
        if account.info.balance < cost {
            return Err(ChainError::NotEnoughBalance {
                signer: signer_id,
                cost,
                balance: account.info.balance,
            });
        }
        account.info.balance -= cost;
        self.touched.insert(signer_id.clone());
        let tx_id = self.next_id(&[0; 32]);
        let signer_public_key = public_key_of(&signer_id);
        self.enqueue_transaction(
            tx_id,
            signer_id,
            signer_public_key,
            receiver_id,
            actions,
            send,
        );
        Ok(tx_id)
    }

    /// The price a transaction buys its receipt's gas at (NEP-642): the block's gas price, or
    /// the protocol's `min_gas_purchase_price` if that is higher. The receipts it leads to keep
    /// this price; their gas burns at the block's.
    pub fn gas_purchase_price(&self) -> Balance {
        GAS_PRICE.max(self.fees.min_gas_purchase_price())
    }

    /// What a transaction costs its signer up front, as nearcore's `tx_cost`: its send fees
    /// (burnt now) at the block's gas price, its execution fees and attached gas at the purchase
    /// price, and its deposits. `None` on overflow.
    fn tx_cost(&self, send: Gas, exec: Gas, prepaid: Gas, deposits: Balance) -> Option<Balance> {
        let burnt = u128::from(send).checked_mul(GAS_PRICE)?;
        let bought = u128::from(exec)
            .checked_add(u128::from(prepaid))?
            .checked_mul(self.gas_purchase_price())?;
        burnt.checked_add(bought)?.checked_add(deposits)
    }

    /// Queues the receipt of an accepted transaction, which the next block includes; returns
    /// its id.
    fn enqueue_transaction(
        &mut self,
        tx_id: CryptoHash,
        signer_id: AccountId,
        signer_public_key: Vec<u8>,
        receiver_id: AccountId,
        actions: Vec<Action>,
        send_gas: Gas,
    ) -> CryptoHash {
        let receipt_id = child_id(&tx_id, 0);
        if self.history {
            self.txs.insert(tx_id, (receipt_id, send_gas, Vec::new()));
        }
        self.tx_of.insert(receipt_id, tx_id);
        self.converted.push(Receipt {
            id: receipt_id,
            predecessor_id: signer_id.clone(),
            receiver_id,
            kind: ReceiptKind::Action(ActionReceipt {
                signer_id,
                signer_public_key,
                gas_price: self.gas_purchase_price(),
                output_data_receivers: Vec::new(),
                input_data_ids: Vec::new(),
                actions,
                refund_to: None,
            }),
        });
        receipt_id
    }

    /// Where transaction `tx_id` stands, with the outcomes of its receipts so far.
    pub fn tx_result(&self, tx_id: &CryptoHash) -> TxResult {
        let (first, tx_gas_burnt, receipts) = self.txs.get(tx_id).cloned().unwrap_or_default();
        let mut status = FinalStatus::Pending;
        let mut current = first;
        while let Some(outcome) = self.outcomes.get(&current) {
            match &outcome.status {
                ExecutionStatus::SuccessReceiptId(next) => current = *next,
                ExecutionStatus::SuccessValue(value) => {
                    status = FinalStatus::SuccessValue(value.clone());
                    break;
                }
                ExecutionStatus::Failure(error) => {
                    status = FinalStatus::Failure(error.clone());
                    break;
                }
            }
        }
        TxResult {
            tx_id: *tx_id,
            status,
            tx_gas_burnt,
            receipts: receipts
                .iter()
                .filter_map(|id| self.outcomes.get(id).cloned())
                .collect(),
        }
    }

    /// The outcome of a receipt.
    pub fn outcome(&self, receipt_id: &CryptoHash) -> Option<&ExecutionOutcome> {
        self.outcomes.get(receipt_id)
    }

    /// Produces `blocks` blocks.
    pub fn advance_blocks(&mut self, blocks: u64) {
        for _ in 0..blocks {
            self.produce_block();
        }
    }

    /// Produces one block one second after the last.
    pub fn produce_block(&mut self) -> BlockOutput {
        self.produce_block_at(self.head.timestamp_ns + 1_000_000_000)
    }

    /// Produces one block at `timestamp_ns` (at least 1 ns after the last block): includes the
    /// transactions accepted since the last block, fires expired yields, runs the receipts sent
    /// for this block, and hands back the block, its outcomes and the state it changed.
    pub fn produce_block_at(&mut self, timestamp_ns: u64) -> BlockOutput {
        let timestamp_ns = timestamp_ns.max(self.head.timestamp_ns + 1);
        self.height += 1;
        // Contracts of this block see its height and timestamp.
        self.head.timestamp_ns = timestamp_ns;
        self.run_block();
        let transactions = std::mem::take(&mut self.incoming);
        let outcomes = std::mem::take(&mut self.logged);
        let header = BlockHeader::next(
            &self.head,
            self.height,
            timestamp_ns,
            &transactions,
            &outcomes,
        );
        self.block_heights.insert(header.hash, header.height);
        self.head = header.clone();
        BlockOutput {
            header,
            transactions,
            outcomes,
            changes: self.take_changes(),
        }
    }

    /// Runs the receipts sent for this block, then sends the timeouts of the yields that expire
    /// at it to the next block, as nearcore resolves timeouts after a chunk's receipts: behind
    /// any resume this block's receipts sent, which arrives first (and the timeout is dropped).
    ///
    /// As nearcore's chunk: the receipts of the block's own transactions whose signer is their
    /// receiver (local receipts) run first, then those the last block sent; the block's other
    /// transaction receipts go out to the next block, ahead of the receipts this one sends.
    fn run_block(&mut self) {
        let (local, outgoing): (Vec<Receipt>, Vec<Receipt>) = std::mem::take(&mut self.converted)
            .into_iter()
            .partition(|r| r.predecessor_id == r.receiver_id);
        let mut queue: VecDeque<Receipt> = local.into_iter().collect();
        queue.append(&mut self.next_block);
        self.next_block = outgoing.into();
        while let Some(receipt) = queue.pop_front() {
            self.process(receipt);
        }
        let expired: Vec<CryptoHash> = self
            .yields
            .iter()
            .filter(|(_, y)| y.expires_at <= self.height)
            .map(|(id, _)| *id)
            .collect();
        // Sent once: the next block's first resume or timeout takes the yield out of the state.
        for data_id in expired {
            if let Some(timeout) = self.resume_receipt(data_id, None) {
                self.next_block.push_back(timeout);
            }
        }
    }

    fn process(&mut self, receipt: Receipt) {
        match &receipt.kind {
            ReceiptKind::Data { data_id, data } => {
                self.tx_of.remove(&receipt.id);
                self.deliver(*data_id, data.clone());
            }
            ReceiptKind::PromiseResume { data_id, data } => {
                self.tx_of.remove(&receipt.id);
                // The yield leaves the state with the first resume (or timeout) to arrive;
                // another one, sent while it still waited, is dropped.
                if self.yields.remove(data_id).is_some() {
                    self.deliver(*data_id, data.clone());
                }
            }
            ReceiptKind::Action(action) => {
                let missing: Vec<CryptoHash> = action
                    .input_data_ids
                    .iter()
                    .filter(|id| !self.received.contains_key(*id))
                    .copied()
                    .collect();
                if missing.is_empty() {
                    self.run_ready(receipt);
                    return;
                }
                for data_id in &missing {
                    self.waiting.insert(*data_id, receipt.id);
                }
                self.postponed.insert(receipt.id, (receipt, missing.len()));
            }
        }
    }

    /// Stores data that arrived and runs the receipt waiting for it if it was the last missing.
    fn deliver(&mut self, data_id: CryptoHash, data: Option<Vec<u8>>) {
        self.received.insert(data_id, data);
        let Some(waiting) = self.waiting.remove(&data_id) else {
            return;
        };
        let Some((_, missing)) = self.postponed.get_mut(&waiting) else {
            return;
        };
        *missing -= 1;
        if *missing == 0 {
            let (ready, _) = self.postponed.remove(&waiting).expect("postponed receipt");
            self.run_ready(ready);
        }
    }

    fn run_ready(&mut self, receipt: Receipt) {
        let ReceiptKind::Action(action) = &receipt.kind else {
            return;
        };
        let results = action
            .input_data_ids
            .iter()
            .map(|id| match self.received.remove(id).flatten() {
                Some(data) => PromiseResult::Successful(data),
                None => PromiseResult::Failed,
            })
            .collect();
        self.apply_action(receipt, results);
    }

    /// Whether there is work for a next block: transactions accepted or receipts queued.
    pub fn has_pending_work(&self) -> bool {
        !self.incoming.is_empty() || !self.converted.is_empty() || !self.next_block.is_empty()
    }

    /// Whether yields wait for a resume or their timeout (which only blocks bring).
    pub fn has_pending_yields(&self) -> bool {
        !self.yields.is_empty()
    }

    /// Whether signed transaction `hash` was accepted and awaits the next block.
    pub fn is_incoming(&self, hash: &CryptoHash) -> bool {
        self.incoming.iter().any(|tx| &tx.hash == hash)
    }

    /// Whether receipts of `tx_id` are still to run (yields waiting for a resume do not count).
    pub fn in_flight(&self, tx_id: &CryptoHash) -> bool {
        let waits_on_data = self.postponed.values().any(|(receipt, _)| {
            self.tx_of.get(&receipt.id) == Some(tx_id) && !self.waits_on_yield(receipt)
        });
        waits_on_data
            || self
                .next_block
                .iter()
                .chain(&self.converted)
                .any(|r| self.tx_of.get(&r.id) == Some(tx_id))
    }

    fn waits_on_yield(&self, receipt: &Receipt) -> bool {
        let ReceiptKind::Action(action) = &receipt.kind else {
            return false;
        };
        action
            .input_data_ids
            .iter()
            .any(|id| self.yields.contains_key(id))
    }

    /// Queues `receipt` (sent while running `parent`) for the next block.
    fn send(&mut self, receipt: Receipt, parent: &CryptoHash) {
        if let Some(tx) = self.tx_of.get(parent).copied() {
            self.tx_of.insert(receipt.id, tx);
        }
        self.next_block.push_back(receipt);
    }

    /// Records the outcome of `receipt`: for the next block's output and, with history, for
    /// [`Chain::tx_result`].
    fn record(&mut self, receipt: Receipt, outcome: ExecutionOutcome) {
        let tx = self.tx_of.remove(&outcome.receipt_id);
        if self.history {
            if let Some((_, _, receipts)) = tx.and_then(|tx| self.txs.get_mut(&tx)) {
                receipts.push(outcome.receipt_id);
            }
            self.outcomes.insert(outcome.receipt_id, outcome.clone());
        }
        self.logged.push(LoggedOutcome {
            tx,
            receipt,
            outcome,
        });
    }

    fn register_yield(&mut self, data_id: CryptoHash, account: AccountId, origin: CryptoHash) {
        let timeout = self.fees.limits().yield_timeout_length_in_blocks;
        let tx = self.tx_of.get(&origin).copied();
        self.yields.insert(
            data_id,
            PendingYield {
                account,
                expires_at: self.height + timeout,
                origin,
                tx,
            },
        );
    }

    /// A resume of pending yield `data_id` with `payload` (`None`: its timeout), for its
    /// callback; the yield stays pending until the first such receipt arrives.
    fn resume_receipt(&mut self, data_id: CryptoHash, payload: Option<Vec<u8>>) -> Option<Receipt> {
        let pending = self.yields.get(&data_id)?.clone();
        let receipt = Receipt {
            id: self.next_id(&pending.origin),
            predecessor_id: pending.account.clone(),
            receiver_id: pending.account,
            kind: ReceiptKind::PromiseResume {
                data_id,
                data: payload,
            },
        };
        if let Some(tx) = pending.tx {
            self.tx_of.insert(receipt.id, tx);
        }
        Some(receipt)
    }

    fn pending_yields_of(&self, account: &AccountId) -> HashSet<CryptoHash> {
        self.yields
            .iter()
            .filter(|(_, y)| &y.account == account)
            .map(|(id, _)| *id)
            .collect()
    }

    fn next_id(&mut self, parent: &CryptoHash) -> CryptoHash {
        self.ids_made += 1;
        let mut hasher = Sha256::new();
        hasher.update(parent);
        hasher.update(b"id");
        hasher.update(self.ids_made.to_le_bytes());
        hasher.finalize().into()
    }

    /// The block fields of a context for running `account`'s contract; the call fills the rest.
    fn block_context(&self, account: &AccountId) -> VMContext {
        block_context(self.height, self.head.timestamp_ns, account)
    }
}

/// The block fields of a context for running `account`'s contract in the block at `height` and
/// `timestamp_ns`; the call fills the rest.
fn block_context(height: u64, timestamp_ns: u64, account: &AccountId) -> VMContext {
    VMContext {
        current_account_id: account.clone(),
        signer_account_id: account.clone(),
        signer_account_pk: Vec::new(),
        predecessor_account_id: account.clone(),
        refund_to_account_id: account.clone(),
        input: Arc::default(),
        promise_results: Arc::default(),
        block_height: height,
        block_timestamp: timestamp_ns,
        epoch_height: height / EPOCH_LENGTH,
        account_balance: 0,
        account_locked_balance: 0,
        storage_usage: 0,
        attached_deposit: 0,
        prepaid_gas: 0,
        // A view's seed, as nearcore's `TrieViewer::call_function` makes it: `create_random_seed`
        // of an all-zero action hash and its random value (nearcore's is the state root, which
        // this chain does not keep: the block's random value stands in). A function call gets
        // its own ([`action_random_seed`]).
        random_seed: create_random_seed(&[0; 32], &block_random_value(height)),
        view: false,
        output_data_receivers: Vec::new(),
        chain_id: CHAIN_ID.to_string(),
        code_hash: [0; 32],
    }
}

/// The process-wide engine: compiled contracts are shared by every chain of the process.
fn shared_engine() -> Arc<Engine<StateOverlay>> {
    static ENGINE: OnceLock<Arc<Engine<StateOverlay>>> = OnceLock::new();
    ENGINE
        .get_or_init(|| Arc::new(Engine::new().expect("wasmtime accepts the engine configuration")))
        .clone()
}

/// SHA-256.
pub fn hash(bytes: &[u8]) -> CryptoHash {
    Sha256::digest(bytes).into()
}

/// The random value of the block at `height` (nearcore's `random_value`, the hash of its
/// producer's VRF output): here SHA-256 of the height, deterministic for reproducible tests.
pub(crate) fn block_random_value(height: u64) -> CryptoHash {
    hash(&height.to_le_bytes())
}

/// The hash of action `action_index` of receipt `receipt_id` run in the block at `height`, as
/// nearcore's `create_action_hash_from_receipt_id` makes it (with `BlockHeightForReceiptId`):
/// SHA-256 of the receipt id, the height and `u64::MAX - action_index` (little-endian), the
/// salt counting down so that it never meets a new receipt's index.
fn action_hash(receipt_id: &CryptoHash, height: u64, action_index: usize) -> CryptoHash {
    let salt = u64::MAX.wrapping_sub(action_index as u64);
    let mut hasher = Sha256::new();
    hasher.update(receipt_id);
    hasher.update(height.to_le_bytes());
    hasher.update(salt.to_le_bytes());
    hasher.finalize().into()
}

/// nearcore's `create_random_seed`: SHA-256 of an action hash and a random value, so that each
/// action of each receipt gets its own seed.
fn create_random_seed(action_hash: &CryptoHash, random_value: &CryptoHash) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(action_hash);
    hasher.update(random_value);
    hasher.finalize().to_vec()
}

/// The `random_seed` a function call sees, as nearcore's `execute_function_call` gives it: the
/// seed of the call's action hash ([`action_hash`]) and the block's random value.
fn action_random_seed(receipt_id: &CryptoHash, height: u64, action_index: usize) -> Vec<u8> {
    let action = action_hash(receipt_id, height, action_index);
    create_random_seed(&action, &block_random_value(height))
}

/// Id of the `index`-th receipt created by receipt `parent`.
fn child_id(parent: &CryptoHash, index: u64) -> CryptoHash {
    let mut hasher = Sha256::new();
    hasher.update(parent);
    hasher.update(b"child");
    hasher.update(index.to_le_bytes());
    hasher.finalize().into()
}

/// A deterministic ed25519 public key (borsh: type 0, then 32 bytes) standing for an account's.
fn public_key_of(account: &AccountId) -> Vec<u8> {
    let mut key = vec![0];
    key.extend_from_slice(&hash(account.as_bytes()));
    key
}

fn parse_account(id: &str) -> Result<AccountId, ChainError> {
    id.parse()
        .map_err(|_| ChainError::InvalidAccountId(id.to_string()))
}
