//! The state at the end of a block, taken out of the chain: account records are copied, contract
//! code and storage shared (copy-on-write), so that RPC queries read a block's state without
//! holding the chain, and the states of recent blocks can be kept for queries about them.

use super::account::{Account, AccountInfo};
use super::view::ViewBlock;
use super::{BlockHeader, Chain, ChainError, PreparedView, StateOverlay};
use crate::abi::AccountId;
use crate::engine::Engine;
use crate::fees::Fees;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The accounts and contract storage at the end of one block.
pub struct ChainState {
    header: BlockHeader,
    accounts: BTreeMap<AccountId, Account>,
    engine: Arc<Engine<StateOverlay>>,
    fees: Fees,
}

impl Chain {
    /// The state at the end of the last block. Costs a copy of every account record; a contract
    /// whose storage a later block changes then pays one copy of that storage (copy-on-write)
    /// while this state is kept.
    pub fn state(&self) -> ChainState {
        ChainState {
            header: self.head.clone(),
            accounts: self.accounts.clone(),
            engine: self.engine.clone(),
            fees: self.fees.clone(),
        }
    }
}

impl ChainState {
    /// The block this is the state at the end of.
    pub fn header(&self) -> &BlockHeader {
        &self.header
    }

    /// An account's record, if it exists.
    pub fn account(&self, id: &str) -> Option<&AccountInfo> {
        let id: AccountId = id.parse().ok()?;
        self.accounts.get(&id).map(|a| &a.info)
    }

    /// An account's storage entries whose keys start with `prefix`, in key order.
    pub fn storage_entries<'a>(
        &'a self,
        id: &str,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a Vec<u8>, &'a Vec<u8>)> + 'a {
        let storage = id
            .parse::<AccountId>()
            .ok()
            .and_then(|id| self.accounts.get(&id))
            .map(|a| &a.storage);
        storage
            .into_iter()
            .flat_map(move |s| s.range(prefix.to_vec()..))
            .take_while(move |(key, _)| key.starts_with(prefix))
    }

    /// A view call of `method` on `account` in this block (run it with [`PreparedView::run`]).
    pub fn prepare_view(
        &self,
        account: &str,
        method: &str,
        args: impl Into<Vec<u8>>,
    ) -> Result<PreparedView, ChainError> {
        let block = ViewBlock {
            engine: &self.engine,
            fees: &self.fees,
            height: self.header.height,
            timestamp_ns: self.header.timestamp_ns,
        };
        block.prepare(&self.accounts, account, method, args.into())
    }
}
