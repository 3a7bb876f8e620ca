//! View calls: a snapshot of the account taken from the chain (cheap: code and storage are
//! shared, not copied), then run apart from it, so a long view never holds up the chain.

use super::account::{Account, Storage};
use super::{block_context, parse_account, Chain, ChainError, StateOverlay, ViewResult};
use crate::abi::{AccountId, CryptoHash, ReturnData, VMContext};
use crate::engine::Engine;
use crate::fees::Fees;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// A view call ready to run: everything it reads, taken from the chain at one height.
pub struct PreparedView {
    engine: Arc<Engine<StateOverlay>>,
    fees: Fees,
    account_id: AccountId,
    method: String,
    code: Arc<Vec<u8>>,
    code_hash: CryptoHash,
    context: VMContext,
    storage: Storage,
}

impl Chain {
    /// Calls a view method: no state changes, no promises, gas limited to `max_gas_burnt`.
    pub fn view(
        &self,
        account: &str,
        method: &str,
        args: impl Into<Vec<u8>>,
    ) -> Result<ViewResult, ChainError> {
        self.prepare_view(account, method, args)?.run()
    }

    /// Takes what a view call of `method` on `account` reads, to run it later with
    /// [`PreparedView::run`] (without holding the chain).
    pub fn prepare_view(
        &self,
        account: &str,
        method: &str,
        args: impl Into<Vec<u8>>,
    ) -> Result<PreparedView, ChainError> {
        let block = ViewBlock {
            engine: &self.engine,
            fees: &self.fees,
            height: self.height,
            timestamp_ns: self.head.timestamp_ns,
        };
        block.prepare(&self.accounts, account, method, args.into())
    }
}

/// The block a view runs in, and what runs it.
pub(super) struct ViewBlock<'a> {
    pub engine: &'a Arc<Engine<StateOverlay>>,
    pub fees: &'a Fees,
    pub height: u64,
    pub timestamp_ns: u64,
}

impl ViewBlock<'_> {
    /// A view call of `method` on `account` among `accounts`, at this block.
    pub fn prepare(
        &self,
        accounts: &BTreeMap<AccountId, Account>,
        account: &str,
        method: &str,
        args: Vec<u8>,
    ) -> Result<PreparedView, ChainError> {
        let account_id = parse_account(account)?;
        let state = accounts
            .get(&account_id)
            .ok_or_else(|| ChainError::AccountNotFound(account_id.clone()))?;
        let code = state
            .info
            .code
            .clone()
            .ok_or_else(|| ChainError::NoContract(account_id.clone()))?;
        let context = VMContext {
            input: Arc::new(args),
            account_balance: state.info.balance,
            account_locked_balance: state.info.locked,
            storage_usage: state.info.storage_usage,
            view: true,
            code_hash: state.info.code_hash,
            ..block_context(self.height, self.timestamp_ns, &account_id)
        };
        Ok(PreparedView {
            engine: self.engine.clone(),
            fees: self.fees.clone(),
            method: method.to_string(),
            code,
            code_hash: state.info.code_hash,
            context,
            storage: state.storage.clone(),
            account_id,
        })
    }
}

impl PreparedView {
    /// Runs the view on its snapshot.
    pub fn run(self) -> Result<ViewResult, ChainError> {
        let overlay = StateOverlay::new(self.storage, [0; 32], HashSet::new());
        let run = self.engine.run(
            self.code_hash,
            &self.code,
            &self.method,
            self.fees,
            self.context,
            overlay,
        );
        if let Some(error) = run.error {
            return Err(ChainError::View {
                account: self.account_id,
                method: self.method,
                error: Box::new(error),
            });
        }
        let result = match run.outcome.return_data {
            ReturnData::Value(value) => value,
            _ => Vec::new(),
        };
        Ok(ViewResult {
            result,
            logs: run.outcome.logs,
        })
    }
}
