//! The states at the end of the last blocks, kept for queries that name a recent block.

use crate::abi::CryptoHash;
use crate::chain::ChainState;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// How many blocks' states are kept (the head's included); queries about older blocks get
/// `GARBAGE_COLLECTED_BLOCK`, as from a nearcore node that has garbage-collected them.
pub const KEPT_STATES: usize = 128;

/// The newest states, oldest first.
pub struct StateHistory {
    states: Mutex<VecDeque<Arc<ChainState>>>,
}

impl StateHistory {
    /// A history holding only `head`.
    pub fn new(head: ChainState) -> Self {
        Self {
            states: Mutex::new(VecDeque::from([Arc::new(head)])),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<ChainState>>> {
        self.states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps `state` as the newest, dropping the oldest beyond [`KEPT_STATES`].
    pub fn push(&self, state: ChainState) {
        let mut states = self.lock();
        states.push_back(Arc::new(state));
        while states.len() > KEPT_STATES {
            states.pop_front();
        }
    }

    /// The state at the end of the newest block.
    pub fn head(&self) -> Arc<ChainState> {
        self.lock()
            .back()
            .cloned()
            .expect("a history is never empty")
    }

    /// The oldest state kept.
    pub fn oldest(&self) -> Arc<ChainState> {
        self.lock()
            .front()
            .cloned()
            .expect("a history is never empty")
    }

    /// The state at the end of block `hash`, if it is still kept.
    pub fn at(&self, hash: &CryptoHash) -> Option<Arc<ChainState>> {
        self.lock()
            .iter()
            .rev()
            .find(|state| &state.header().hash == hash)
            .cloned()
    }
}
