//! Typed views of NEAR's RPC answers: node status, accounts, access keys, and how long a
//! transaction request waits.

use super::ChainError;
use near_wire::{Balance, CryptoHash};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// What `status` says about the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainStatus {
    pub chain_id: String,
    pub latest_block_height: u64,
    pub latest_block_hash: CryptoHash,
}

/// `query` `view_account`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccountView {
    #[serde(deserialize_with = "balance")]
    pub amount: Balance,
    #[serde(deserialize_with = "balance")]
    pub locked: Balance,
    pub code_hash: String,
    pub storage_usage: u64,
    pub block_height: u64,
    pub block_hash: String,
}

/// `query` `view_access_key`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccessKeyView {
    pub nonce: u64,
    /// `"FullAccess"` or `{"FunctionCall": {allowance, receiver_id, method_names}}`.
    pub permission: Value,
    pub block_height: u64,
    pub block_hash: String,
}

impl AccessKeyView {
    pub fn is_full_access(&self) -> bool {
        self.permission == "FullAccess"
    }
}

/// How long a transaction request waits (NEAR's `wait_until`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxWait {
    /// Not at all: the answer only says the node accepted it.
    None,
    /// Until a block includes it.
    Included,
    /// Until a final block includes it.
    IncludedFinal,
    /// Until every receipt has run (in optimistic blocks).
    ExecutedOptimistic,
    /// Until every receipt has run, in final blocks for the transaction's own block.
    Executed,
    /// Until every receipt has run and every block is final.
    Final,
}

impl TxWait {
    /// NEAR's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            TxWait::None => "NONE",
            TxWait::Included => "INCLUDED",
            TxWait::IncludedFinal => "INCLUDED_FINAL",
            TxWait::ExecutedOptimistic => "EXECUTED_OPTIMISTIC",
            TxWait::Executed => "EXECUTED",
            TxWait::Final => "FINAL",
        }
    }

    /// Whether an answer at this stage carries the execution outcome.
    pub fn executes(self) -> bool {
        matches!(
            self,
            TxWait::ExecutedOptimistic | TxWait::Executed | TxWait::Final
        )
    }
}

/// A balance written as a decimal string.
fn balance<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Balance, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// A base58 hash.
pub(crate) fn parse_hash(text: &str, what: &str) -> Result<CryptoHash, ChainError> {
    bs58::decode(text)
        .into_vec()
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| ChainError::decode(what, format!("`{text}` is not a base58 hash")))
}

impl ChainStatus {
    pub(crate) fn from_view(view: &Value) -> Result<Self, ChainError> {
        let sync = &view["sync_info"];
        let missing = |field: &str| ChainError::decode("the status answer", format!("no {field}"));
        Ok(Self {
            chain_id: view["chain_id"]
                .as_str()
                .ok_or_else(|| missing("chain_id"))?
                .to_string(),
            latest_block_height: sync["latest_block_height"]
                .as_u64()
                .ok_or_else(|| missing("sync_info.latest_block_height"))?,
            latest_block_hash: parse_hash(
                sync["latest_block_hash"]
                    .as_str()
                    .ok_or_else(|| missing("sync_info.latest_block_hash"))?,
                "sync_info.latest_block_hash",
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn views_read_nears_shapes() {
        let account: AccountView = serde_json::from_value(json!({
            "amount": "100000000000000000000000000", "locked": "0",
            "code_hash": "11111111111111111111111111111111", "storage_usage": 182,
            "storage_paid_at": 0, "block_height": 7, "block_hash": "abc"}))
        .unwrap();
        assert_eq!(account.amount, 10u128.pow(26));
        let status = ChainStatus::from_view(&json!({"chain_id": "testnet", "sync_info": {
            "latest_block_height": 5, "latest_block_hash": "11111111111111111111111111111111"}}))
        .unwrap();
        assert_eq!(status.latest_block_hash, [0; 32]);
        assert!(ChainStatus::from_view(&json!({"chain_id": "x"})).is_err());
        assert_eq!(TxWait::ExecutedOptimistic.as_str(), "EXECUTED_OPTIMISTIC");
    }
}
