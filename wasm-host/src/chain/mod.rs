//! The in-process chain: accounts, transactions turned into receipts, receipts executed block by
//! block as NEAR does (a cross-contract call runs in a later block than its caller; a callback
//! runs once the results it waits on have arrived), yields that time out after
//! `yield_timeout_length_in_blocks`, and a Rust API for tests.

mod account;
mod apply;
mod error;
mod outcome;
mod overlay;
mod receipt;

pub use account::{AccessKey, Account, AccountInfo};
pub use error::ChainError;
pub use outcome::{
    ActionError, ExecutionOutcome, ExecutionStatus, FinalStatus, TxResult, ViewResult,
};
pub use overlay::StateOverlay;
pub use receipt::{ActionReceipt, Receipt, ReceiptKind};

use crate::abi::{AccountId, Action, Balance, CryptoHash, Gas, PromiseResult, VMContext};
use crate::engine::Engine;
use crate::fees::Fees;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, OnceLock};

/// Gas price of every block: NEAR mainnet's minimum (a genesis parameter, not a runtime fee).
pub const GAS_PRICE: Balance = 100_000_000;
/// Blocks per epoch (NEAR mainnet's epoch length, a genesis parameter).
pub const EPOCH_LENGTH: u64 = 43_200;
/// Timestamp of block 0, nanoseconds; each block is one second later.
pub const GENESIS_TIMESTAMP_NS: u64 = 1_700_000_000_000_000_000;
/// The chain id contracts see.
pub const CHAIN_ID: &str = "localnet";
/// The sender of refunds.
pub const SYSTEM_ACCOUNT: &str = "system";
/// Blocks a transaction may take to settle before [`Chain::execute`] gives up.
const MAX_SETTLE_BLOCKS: u64 = 10_000;
/// One NEAR in yoctoNEAR.
pub const ONE_NEAR: Balance = 10u128.pow(24);
/// One teragas.
pub const TGAS: Gas = 10u64.pow(12);

/// A yield waiting for its resume.
#[derive(Debug, Clone)]
struct PendingYield {
    account: AccountId,
    expires_at: u64,
    origin: CryptoHash,
}

/// An in-process NEAR chain.
pub struct Chain {
    fees: Fees,
    engine: Arc<Engine<StateOverlay>>,
    accounts: BTreeMap<AccountId, Account>,
    height: u64,
    /// Receipts to run in the next block.
    next_block: VecDeque<Receipt>,
    /// Action receipts waiting for data, by receipt id, with the data ids still missing.
    postponed: HashMap<CryptoHash, (Receipt, usize)>,
    /// Which postponed receipt waits for a data id.
    waiting: HashMap<CryptoHash, CryptoHash>,
    /// Data that arrived for receipts.
    received: HashMap<CryptoHash, Option<Vec<u8>>>,
    yields: BTreeMap<CryptoHash, PendingYield>,
    outcomes: HashMap<CryptoHash, ExecutionOutcome>,
    /// The transaction each receipt belongs to.
    tx_of: HashMap<CryptoHash, CryptoHash>,
    /// Per transaction: its first receipt, the gas its conversion burnt, its outcomes in order.
    txs: HashMap<CryptoHash, (CryptoHash, Gas, Vec<CryptoHash>)>,
    ids_made: u64,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    /// An empty chain at block 0, following protocol 88's fees and limits.
    pub fn new() -> Self {
        Self {
            fees: Fees::default(),
            engine: shared_engine(),
            accounts: BTreeMap::new(),
            height: 0,
            next_block: VecDeque::new(),
            postponed: HashMap::new(),
            waiting: HashMap::new(),
            received: HashMap::new(),
            yields: BTreeMap::new(),
            outcomes: HashMap::new(),
            tx_of: HashMap::new(),
            txs: HashMap::new(),
            ids_made: 0,
        }
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
        self.accounts.insert(
            id.clone(),
            Account {
                info,
                storage: BTreeMap::new(),
            },
        );
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

    /// Submits a transaction: the signer pays its fees, gas and deposits now; its receipt runs in
    /// the next block. Returns the transaction id.
    pub fn submit(
        &mut self,
        signer: &str,
        receiver: &str,
        actions: Vec<Action>,
    ) -> Result<CryptoHash, ChainError> {
        let signer_id = parse_account(signer)?;
        let receiver_id = parse_account(receiver)?;
        let sir = signer_id == receiver_id;
        let prepaid: Gas = actions.iter().map(Action::prepaid_gas).sum();
        let limit = self.fees.limits().max_total_prepaid_gas.as_gas();
        if prepaid > limit {
            return Err(ChainError::TotalPrepaidGasExceeded {
                gas: prepaid,
                limit,
            });
        }
        let send = self.action_fees(&actions, |fee| self.fees.send(fee, sir));
        let exec = self.action_fees(&actions, |fee| self.fees.exec(fee));
        let deposits: Balance = actions.iter().map(Action::deposit).sum();
        let cost = u128::from(send + exec + prepaid) * GAS_PRICE + deposits;
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
        let tx_id = self.next_id(&[0; 32]);
        let receipt_id = child_id(&tx_id, 0);
        self.txs.insert(tx_id, (receipt_id, send, Vec::new()));
        self.tx_of.insert(receipt_id, tx_id);
        let signer_public_key = public_key_of(&signer_id);
        self.next_block.push_back(Receipt {
            id: receipt_id,
            predecessor_id: signer_id.clone(),
            receiver_id,
            kind: ReceiptKind::Action(ActionReceipt {
                signer_id,
                signer_public_key,
                gas_price: GAS_PRICE,
                output_data_receivers: Vec::new(),
                input_data_ids: Vec::new(),
                actions,
                refund_to: None,
            }),
        });
        Ok(tx_id)
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

    /// Calls a view method: no state changes, no promises, gas limited to `max_gas_burnt`.
    pub fn view(
        &self,
        account: &str,
        method: &str,
        args: impl Into<Vec<u8>>,
    ) -> Result<ViewResult, ChainError> {
        let account_id = parse_account(account)?;
        let state = self
            .accounts
            .get(&account_id)
            .ok_or_else(|| ChainError::AccountNotFound(account_id.clone()))?;
        let code = state
            .info
            .code
            .clone()
            .ok_or_else(|| ChainError::NoContract(account_id.clone()))?;
        let context = VMContext {
            input: Arc::new(args.into()),
            account_balance: state.info.balance,
            account_locked_balance: state.info.locked,
            storage_usage: state.info.storage_usage,
            view: true,
            code_hash: state.info.code_hash,
            ..self.block_context(&account_id)
        };
        let overlay = StateOverlay::new(state.storage.clone(), [0; 32], HashSet::new());
        let run = self.engine.run(
            state.info.code_hash,
            &code,
            method,
            self.fees.clone(),
            context,
            overlay,
        );
        if let Some(error) = run.error {
            return Err(ChainError::View {
                account: account_id,
                method: method.to_string(),
                error: Box::new(error),
            });
        }
        let result = match run.outcome.return_data {
            crate::abi::ReturnData::Value(value) => value,
            _ => Vec::new(),
        };
        Ok(ViewResult {
            result,
            logs: run.outcome.logs,
        })
    }

    /// Produces `blocks` blocks.
    pub fn advance_blocks(&mut self, blocks: u64) {
        for _ in 0..blocks {
            self.produce_block();
        }
    }

    /// Produces one block: fires expired yields, then runs the receipts sent for this block.
    pub fn produce_block(&mut self) {
        self.height += 1;
        let mut queue = std::mem::take(&mut self.next_block);
        let expired: Vec<CryptoHash> = self
            .yields
            .iter()
            .filter(|(_, y)| y.expires_at <= self.height)
            .map(|(id, _)| *id)
            .collect();
        for data_id in expired {
            if let Some(timeout) = self.take_yield(data_id, None) {
                queue.push_back(timeout);
            }
        }
        while let Some(receipt) = queue.pop_front() {
            self.process(receipt);
        }
    }

    fn process(&mut self, receipt: Receipt) {
        match &receipt.kind {
            ReceiptKind::Data { data_id, data } => {
                self.received.insert(*data_id, data.clone());
                let Some(waiting) = self.waiting.remove(data_id) else {
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

    /// Whether receipts of `tx_id` are still to run (yields waiting for a resume do not count).
    fn in_flight(&self, tx_id: &CryptoHash) -> bool {
        let waits_on_data = self.postponed.values().any(|(receipt, _)| {
            self.tx_of.get(&receipt.id) == Some(tx_id) && !self.waits_on_yield(receipt)
        });
        waits_on_data
            || self
                .next_block
                .iter()
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

    fn record(&mut self, outcome: ExecutionOutcome) {
        if let Some(tx) = self.tx_of.get(&outcome.receipt_id) {
            if let Some((_, _, receipts)) = self.txs.get_mut(tx) {
                receipts.push(outcome.receipt_id);
            }
        }
        self.outcomes.insert(outcome.receipt_id, outcome);
    }

    fn register_yield(&mut self, data_id: CryptoHash, account: AccountId, origin: CryptoHash) {
        let timeout = self.fees.limits().yield_timeout_length_in_blocks;
        self.yields.insert(
            data_id,
            PendingYield {
                account,
                expires_at: self.height + timeout,
                origin,
            },
        );
    }

    /// Ends a pending yield with `payload` (`None`: timeout): the data receipt for its callback.
    fn take_yield(&mut self, data_id: CryptoHash, payload: Option<Vec<u8>>) -> Option<Receipt> {
        let pending = self.yields.remove(&data_id)?;
        let receipt = Receipt {
            id: self.next_id(&pending.origin),
            predecessor_id: pending.account.clone(),
            receiver_id: pending.account,
            kind: ReceiptKind::Data {
                data_id,
                data: payload,
            },
        };
        if let Some(tx) = self.tx_of.get(&pending.origin).copied() {
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
        VMContext {
            current_account_id: account.clone(),
            signer_account_id: account.clone(),
            signer_account_pk: Vec::new(),
            predecessor_account_id: account.clone(),
            refund_to_account_id: account.clone(),
            input: Arc::default(),
            promise_results: Arc::default(),
            block_height: self.height,
            block_timestamp: GENESIS_TIMESTAMP_NS + self.height * 1_000_000_000,
            epoch_height: self.height / EPOCH_LENGTH,
            account_balance: 0,
            account_locked_balance: 0,
            storage_usage: 0,
            attached_deposit: 0,
            prepaid_gas: 0,
            random_seed: hash(&self.height.to_le_bytes()).to_vec(),
            view: false,
            output_data_receivers: Vec::new(),
            chain_id: CHAIN_ID.to_string(),
            code_hash: [0; 32],
        }
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
pub(crate) fn hash(bytes: &[u8]) -> CryptoHash {
    Sha256::digest(bytes).into()
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
