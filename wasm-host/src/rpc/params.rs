//! Reading methods' params in the forms NEAR accepts (objects, and the legacy arrays).

use super::error::RpcError;
use crate::abi::CryptoHash;
use crate::tx::SignedTransaction;
use crate::views::{base64, parse_base64, parse_hash58};
use serde_json::{json, Value};

/// Which block a request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockRef {
    /// The latest block (`finality`: every finality is the head here, blocks being final at
    /// once).
    Latest,
    /// `sync_checkpoint` `genesis`.
    Genesis,
    /// `sync_checkpoint` `earliest_available`: the oldest block whose data is still kept.
    EarliestAvailable,
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
            if let Some(checkpoint) = map.get("sync_checkpoint") {
                return match checkpoint.as_str() {
                    Some("genesis") => Ok(BlockRef::Genesis),
                    Some("earliest_available") => Ok(BlockRef::EarliestAvailable),
                    _ => Err(RpcError::parse(format!(
                        "unknown sync_checkpoint {checkpoint}: `genesis` or `earliest_available`"
                    ))),
                };
            }
            match map.get("finality").and_then(Value::as_str) {
                Some("optimistic" | "near-final" | "final") => Ok(BlockRef::Latest),
                Some(other) => Err(RpcError::parse(format!("unknown finality `{other}`"))),
                None => Err(RpcError::parse(
                    "one of `block_id`, `finality` or `sync_checkpoint` is required",
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

/// The transaction of `send_tx` and `broadcast_tx_*`, in either of nearcore's forms: the array
/// `[<base64 signed transaction>]`, or the object `{"signed_tx_base64", "wait_until"?}`; with
/// the level the object names (`EXECUTED_OPTIMISTIC` when none does).
pub fn sent_tx(params: &Value) -> Result<(SignedTransaction, WaitUntil), RpcError> {
    match params {
        Value::Array(items) => match items.as_slice() {
            [Value::String(encoded)] => Ok((signed_tx(encoded)?, WaitUntil::Executed)),
            _ => Err(RpcError::parse(
                "expected params [<base64 signed transaction>] or {\"signed_tx_base64\": …}",
            )),
        },
        _ => Ok((
            signed_tx(string(params, "signed_tx_base64")?)?,
            wait_until(params)?,
        )),
    }
}

/// `query`'s legacy params `[path, data]` (`data` base58) in the object form, as nearcore reads
/// them: `account/ID`, `access_key/ID`, `access_key/ID/KEY`, `code/ID`, `contract/ID` (`data`:
/// the key prefix), `call/ID/METHOD` (`data`: the arguments), at the latest block.
pub fn legacy_query(items: &[Value]) -> Result<Value, RpcError> {
    let [Value::String(path), Value::String(data)] = items else {
        return Err(RpcError::parse("expected params [path, data]"));
    };
    let data = bs58::decode(data)
        .into_vec()
        .map_err(|e| RpcError::parse(format!("data is not base58: {e}")))?;
    let mut parts = path.splitn(3, '/');
    let (kind, account, extra) = (parts.next(), parts.next(), parts.next());
    let Some(account) = account else {
        return Err(RpcError::parse("Not enough query parameters provided"));
    };
    let mut query = json!({"finality": "optimistic", "account_id": account});
    match (kind, extra) {
        (Some("account"), _) => query["request_type"] = json!("view_account"),
        (Some("access_key"), None) => query["request_type"] = json!("view_access_key_list"),
        (Some("access_key"), Some(key)) => {
            query["request_type"] = json!("view_access_key");
            query["public_key"] = json!(key);
        }
        (Some("code"), _) => query["request_type"] = json!("view_code"),
        (Some("contract"), _) => {
            query["request_type"] = json!("view_state");
            query["prefix_base64"] = json!(base64(&data));
        }
        (Some("call"), Some(method)) => {
            query["request_type"] = json!("call_function");
            query["method_name"] = json!(method);
            query["args_base64"] = json!(base64(&data));
        }
        (Some("call"), None) => return Err(RpcError::parse("Method name is missing")),
        (other, _) => {
            return Err(RpcError::parse(format!(
                "Unknown path {}",
                other.unwrap_or_default()
            )))
        }
    }
    Ok(query)
}

/// A valid account id of params (`what` names it in the error).
fn account_id(text: &str, what: &str) -> Result<(), RpcError> {
    text.parse::<crate::abi::AccountId>()
        .map(|_| ())
        .map_err(|_| RpcError::parse(format!("invalid {what} `{text}`")))
}

/// The transaction a status request names: by its hash and sender, or by the signed
/// transaction itself (never submitted: nearcore only hashes it, and checks whether the chain
/// would refuse it); its hash, and the signed transaction when named by it.
pub fn tx_query(params: &Value) -> Result<(CryptoHash, Option<SignedTransaction>), RpcError> {
    let hash = |text: &str| {
        parse_hash58(text).ok_or_else(|| RpcError::parse(format!("invalid hash {text}")))
    };
    let by_signed = |encoded: &str| {
        let signed = signed_tx(encoded)?;
        Ok((signed.hash(), Some(signed)))
    };
    match params {
        Value::Array(items) => match items.as_slice() {
            [Value::String(h), Value::String(sender)] => {
                account_id(sender, "sender_account_id")?;
                Ok((hash(h)?, None))
            }
            [Value::String(encoded)] => by_signed(encoded),
            _ => Err(RpcError::parse("expected [tx_hash, sender_account_id]")),
        },
        Value::Object(map) => {
            if let Some(Value::String(encoded)) = map.get("signed_tx_base64") {
                return by_signed(encoded);
            }
            account_id(string(params, "sender_account_id")?, "sender_account_id")?;
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
        assert_eq!(
            block_ref(&json!({"sync_checkpoint": "genesis"})),
            Ok(BlockRef::Genesis)
        );
        assert_eq!(
            block_ref(&json!({"sync_checkpoint": "earliest_available"})),
            Ok(BlockRef::EarliestAvailable)
        );
        assert!(block_ref(&json!({"sync_checkpoint": "latest"})).is_err());
    }

    #[test]
    fn legacy_queries_read_as_nearcore_reads_them() {
        let legacy = |path: &str, data: &[u8]| {
            legacy_query(&[json!(path), json!(bs58::encode(data).into_string())])
        };
        assert_eq!(
            legacy("account/alice.test", b"").unwrap(),
            json!({"finality": "optimistic", "account_id": "alice.test", "request_type": "view_account"})
        );
        assert_eq!(
            legacy("access_key/alice.test", b"").unwrap()["request_type"],
            "view_access_key_list"
        );
        let key = legacy("access_key/alice.test/ed25519:abc", b"").unwrap();
        assert_eq!(key["public_key"], "ed25519:abc");
        let call = legacy("call/c.test/get/more", b"{}").unwrap();
        assert_eq!(call["method_name"], "get/more");
        assert_eq!(call["args_base64"], base64(b"{}"));
        assert_eq!(
            legacy("contract/c.test", b"k").unwrap()["prefix_base64"],
            base64(b"k")
        );
        assert!(legacy("call/c.test", b"").is_err());
        assert!(legacy("account", b"").is_err());
        assert!(legacy("nonsense/alice.test", b"").is_err());
        assert!(legacy_query(&[json!("account/a.test"), json!("0OIl")]).is_err());
    }

    #[test]
    fn transaction_queries_in_nears_forms() {
        let hash = "11111111111111111111111111111111";
        assert_eq!(
            tx_query(&json!({"tx_hash": hash, "sender_account_id": "a.test"})),
            Ok(([0; 32], None))
        );
        assert_eq!(tx_query(&json!([hash, "a.test"])), Ok(([0; 32], None)));
        // By the signed transaction: its hash, and the transaction to check.
        let key = crate::tx::SecretKey::from_seed([1; 32]);
        let signed = crate::tx::Transaction {
            signer_id: "a.test".parse().unwrap(),
            public_key: key.public_key(),
            nonce: 1,
            receiver_id: "b.test".parse().unwrap(),
            block_hash: [0; 32],
            actions: Vec::new(),
        }
        .sign(&key);
        let encoded = base64(&signed.to_bytes());
        let named = Ok((signed.hash(), Some(signed)));
        assert_eq!(tx_query(&json!({"signed_tx_base64": encoded})), named);
        assert_eq!(tx_query(&json!([encoded])), named);
        assert!(tx_query(&json!({"tx_hash": hash})).is_err());
        assert!(tx_query(&json!({"tx_hash": hash, "sender_account_id": "Not Valid!"})).is_err());
        assert!(tx_query(&json!([hash, "Not Valid!"])).is_err());
        assert!(sent_tx(&json!(["!!"])).is_err());
        assert!(sent_tx(&json!([])).is_err());
        assert!(sent_tx(&json!({"signed_tx_base64": "!!"})).is_err());
        assert!(sent_tx(&json!({"wait_until": "NONE"})).is_err());
        assert_eq!(wait_until(&json!({})), Ok(WaitUntil::Executed));
        assert_eq!(
            wait_until(&json!({"wait_until": "NONE"})),
            Ok(WaitUntil::None)
        );
    }
}
