//! Reading methods' params in the forms NEAR accepts (objects, and the legacy arrays).

use super::error::RpcError;
use crate::abi::CryptoHash;
use crate::tx::SignedTransaction;
use crate::views::{parse_base64, parse_hash58};
use serde_json::Value;

/// Which block a request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockRef {
    /// The latest block (`finality`: every finality is the head here, blocks being final at
    /// once).
    Latest,
    Height(u64),
    Hash(CryptoHash),
}

/// How long a transaction request waits (`wait_until`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitUntil {
    /// Not at all.
    None,
    /// Until a block includes it.
    Included,
    /// Until it has run to its end.
    Executed,
}

/// A block id: a height, or a base58 hash.
pub fn block_id(value: &Value) -> Result<BlockRef, RpcError> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .map(BlockRef::Height)
            .ok_or_else(|| RpcError::parse(format!("invalid block height {n}"))),
        Value::String(s) => parse_hash58(s)
            .map(BlockRef::Hash)
            .ok_or_else(|| RpcError::parse(format!("invalid block hash {s}"))),
        other => Err(RpcError::parse(format!("invalid block id {other}"))),
    }
}

/// `block_id` or `finality` of an object of params (or the first of an array).
pub fn block_ref(params: &Value) -> Result<BlockRef, RpcError> {
    match params {
        Value::Array(items) => match items.first() {
            None | Some(Value::Null) => Ok(BlockRef::Latest),
            Some(id) => block_id(id),
        },
        Value::Object(map) => {
            if let Some(id) = map.get("block_id") {
                return block_id(id);
            }
            match map.get("finality").and_then(Value::as_str) {
                Some("optimistic" | "near-final" | "final") => Ok(BlockRef::Latest),
                Some(other) => Err(RpcError::parse(format!("unknown finality `{other}`"))),
                None if map.contains_key("sync_checkpoint") => Ok(BlockRef::Latest),
                None => Err(RpcError::parse(
                    "either `block_id` or `finality` is required",
                )),
            }
        }
        Value::Null => Ok(BlockRef::Latest),
        other => Err(RpcError::parse(format!("invalid params {other}"))),
    }
}

/// A string field of an object of params.
pub fn string<'a>(params: &'a Value, field: &str) -> Result<&'a str, RpcError> {
    params
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::parse(format!("missing field `{field}`")))
}

/// A base64 borsh signed transaction.
pub fn signed_tx(encoded: &str) -> Result<SignedTransaction, RpcError> {
    let bytes = parse_base64(encoded).ok_or_else(|| RpcError::parse("invalid base64"))?;
    SignedTransaction::from_bytes(&bytes)
        .map_err(|e| RpcError::parse(format!("Failed to decode transaction: {e}")))
}

/// `wait_until`, defaulting to NEAR's `EXECUTED_OPTIMISTIC`.
pub fn wait_until(params: &Value) -> Result<WaitUntil, RpcError> {
    match params.get("wait_until").and_then(Value::as_str) {
        None | Some("EXECUTED_OPTIMISTIC" | "EXECUTED" | "FINAL") => Ok(WaitUntil::Executed),
        Some("INCLUDED" | "INCLUDED_FINAL") => Ok(WaitUntil::Included),
        Some("NONE") => Ok(WaitUntil::None),
        Some(other) => Err(RpcError::parse(format!("unknown wait_until `{other}`"))),
    }
}

/// The single base64 transaction of `broadcast_tx_*`'s array params.
pub fn single_tx(params: &Value) -> Result<SignedTransaction, RpcError> {
    match params.as_array().map(Vec::as_slice) {
        Some([Value::String(encoded)]) => signed_tx(encoded),
        _ => Err(RpcError::parse(
            "expected params [<base64 signed transaction>]",
        )),
    }
}

/// What a transaction-status request names: the hash and sender, or the signed transaction.
pub fn tx_query(params: &Value) -> Result<(CryptoHash, Option<SignedTransaction>), RpcError> {
    let hash = |text: &str| {
        parse_hash58(text).ok_or_else(|| RpcError::parse(format!("invalid hash {text}")))
    };
    match params {
        Value::Array(items) => match items.as_slice() {
            [Value::String(h), Value::String(_)] => Ok((hash(h)?, None)),
            [Value::String(encoded)] => {
                let signed = signed_tx(encoded)?;
                Ok((signed.hash(), Some(signed)))
            }
            _ => Err(RpcError::parse("expected [tx_hash, sender_account_id]")),
        },
        Value::Object(map) => {
            if let Some(Value::String(encoded)) = map.get("signed_tx_base64") {
                let signed = signed_tx(encoded)?;
                return Ok((signed.hash(), Some(signed)));
            }
            string(params, "sender_account_id")?;
            Ok((hash(string(params, "tx_hash")?)?, None))
        }
        other => Err(RpcError::parse(format!("invalid params {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_references_in_nears_forms() {
        assert_eq!(
            block_ref(&json!({"finality": "final"})),
            Ok(BlockRef::Latest)
        );
        assert_eq!(block_ref(&json!({"block_id": 5})), Ok(BlockRef::Height(5)));
        assert_eq!(
            block_ref(&json!({"block_id": "11111111111111111111111111111111"})),
            Ok(BlockRef::Hash([0; 32]))
        );
        assert_eq!(block_ref(&json!([null])), Ok(BlockRef::Latest));
        assert!(block_ref(&json!({"finality": "soon"})).is_err());
        assert!(block_ref(&json!({})).is_err());
        assert!(block_ref(&json!({"block_id": "not base58 0OIl"})).is_err());
    }

    #[test]
    fn transaction_queries_in_nears_forms() {
        let hash = "11111111111111111111111111111111";
        assert_eq!(
            tx_query(&json!({"tx_hash": hash, "sender_account_id": "a.test"}))
                .unwrap()
                .0,
            [0; 32]
        );
        assert_eq!(tx_query(&json!([hash, "a.test"])).unwrap().0, [0; 32]);
        assert!(tx_query(&json!({"tx_hash": hash})).is_err());
        assert!(single_tx(&json!(["!!"])).is_err());
        assert!(single_tx(&json!([])).is_err());
        assert_eq!(wait_until(&json!({})), Ok(WaitUntil::Executed));
        assert_eq!(
            wait_until(&json!({"wait_until": "NONE"})),
            Ok(WaitUntil::None)
        );
    }
}
