//! Blocks: headers chained by hash, and what producing a block hands to a store.

use super::outcome::ExecutionOutcome;
use super::persist::StateChanges;
use super::receipt::Receipt;
use crate::abi::{CryptoHash, Gas};
use crate::tx::SignedTransaction;
use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

/// A block header: its height, time, parent, and roots of what it contains.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockHeader {
    pub height: u64,
    /// SHA-256 of the other fields, borsh-encoded.
    pub hash: CryptoHash,
    pub prev_hash: CryptoHash,
    pub timestamp_ns: u64,
    /// SHA-256 of the hashes of the transactions the block includes.
    pub tx_root: CryptoHash,
    /// SHA-256 of the ids of the receipts the block ran.
    pub outcome_root: CryptoHash,
}

/// A signed transaction a block includes, with its conversion into a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludedTx {
    pub hash: CryptoHash,
    pub signed: SignedTransaction,
    /// The receipt it became.
    pub receipt_id: CryptoHash,
    /// Gas burnt converting it (send fees), paid at the block's gas price.
    pub gas_burnt: Gas,
}

/// A receipt a block ran, with its outcome and the transaction it belongs to.
#[derive(Debug, Clone)]
pub struct LoggedOutcome {
    pub tx: Option<CryptoHash>,
    pub receipt: Receipt,
    pub outcome: ExecutionOutcome,
}

/// What producing a block yields: the block, its transactions and outcomes, and the state it
/// changed (with the transactions accepted before it).
#[derive(Debug)]
pub struct BlockOutput {
    pub header: BlockHeader,
    pub transactions: Vec<IncludedTx>,
    pub outcomes: Vec<LoggedOutcome>,
    pub changes: StateChanges,
}

fn root<'a>(ids: impl Iterator<Item = &'a CryptoHash>) -> CryptoHash {
    let mut hasher = Sha256::new();
    for id in ids {
        hasher.update(id);
    }
    hasher.finalize().into()
}

impl BlockHeader {
    /// Block 0 at `timestamp_ns`.
    pub fn genesis(timestamp_ns: u64) -> Self {
        Self::sealed(0, [0; 32], timestamp_ns, root([].iter()), root([].iter()))
    }

    /// The block after `prev`.
    pub fn next(
        prev: &BlockHeader,
        height: u64,
        timestamp_ns: u64,
        transactions: &[IncludedTx],
        outcomes: &[LoggedOutcome],
    ) -> Self {
        Self::sealed(
            height,
            prev.hash,
            timestamp_ns,
            root(transactions.iter().map(|t| &t.hash)),
            root(outcomes.iter().map(|o| &o.outcome.receipt_id)),
        )
    }

    fn sealed(
        height: u64,
        prev_hash: CryptoHash,
        timestamp_ns: u64,
        tx_root: CryptoHash,
        outcome_root: CryptoHash,
    ) -> Self {
        let mut header = Self {
            height,
            hash: [0; 32],
            prev_hash,
            timestamp_ns,
            tx_root,
            outcome_root,
        };
        header.hash = header.compute_hash();
        header
    }

    /// The hash the header's fields give.
    pub fn compute_hash(&self) -> CryptoHash {
        let fields = (
            self.height,
            self.prev_hash,
            self.timestamp_ns,
            self.tx_root,
            self.outcome_root,
        );
        Sha256::digest(borsh::to_vec(&fields).expect("header fields serialise")).into()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Chain;

    #[test]
    fn blocks_are_chained_by_hash() {
        let mut chain = Chain::new();
        let genesis = chain.head().clone();
        let first = chain.produce_block().header;
        let second = chain.produce_block().header;
        assert_eq!(first.prev_hash, genesis.hash);
        assert_eq!(second.prev_hash, first.hash);
        assert_eq!(second.height, 2);
        assert!(second.timestamp_ns > first.timestamp_ns);
        assert_eq!(second.hash, second.compute_hash());
        assert_ne!(first.hash, second.hash);
        assert_eq!(chain.block_height_of(&first.hash), Some(1));
    }
}
