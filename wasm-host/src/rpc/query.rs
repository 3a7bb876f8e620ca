//! `status`, `block`, `gas_price` and `query`.

use super::error::RpcError;
use super::params::{block_ref, string, BlockRef};
use crate::chain::{BlockHeader, ChainError, GAS_PRICE};
use crate::node::Node;
use crate::tx::PublicKey;
use crate::views::{self, hash58, parse_base64, StatusInfo};
use serde_json::{json, Value};

/// `status`.
pub fn status(node: &Node, rpc_addr: &str) -> Value {
    let head = node.chain().head().clone();
    views::status_view(&StatusInfo {
        genesis: node.genesis(),
        head: &head,
        rpc_addr,
        uptime_sec: node.uptime_sec(),
    })
}

/// The header a block reference names.
fn header(node: &Node, reference: &BlockRef) -> Result<BlockHeader, RpcError> {
    let found = match reference {
        BlockRef::Latest => Some(node.chain().head().clone()),
        BlockRef::Height(height) => node.store().block_at(*height)?,
        BlockRef::Hash(hash) => match node.store().height_of(hash)? {
            Some(height) => node.store().block_at(height)?,
            None => None,
        },
    };
    found.ok_or_else(|| {
        RpcError::handler(
            "UNKNOWN_BLOCK",
            json!({}),
            json!(format!("DB Not Found Error: block {reference:?}")),
        )
    })
}

/// `block`.
pub fn block(node: &Node, params: &Value) -> Result<Value, RpcError> {
    let header = header(node, &block_ref(params)?)?;
    let prev_height = header.height.checked_sub(1);
    Ok(views::block_view(&header, prev_height))
}

/// `gas_price`: the same price at every block.
pub fn gas_price(node: &Node, params: &Value) -> Result<Value, RpcError> {
    header(node, &block_ref(params)?)?;
    Ok(json!({"gas_price": GAS_PRICE.to_string()}))
}

/// `query`: the state at the head (older states are not kept, as on a node that has
/// garbage-collected them).
pub fn query(node: &Node, params: &Value) -> Result<Value, RpcError> {
    let reference = block_ref(params)?;
    // One lock for the whole query (a contract view only until its snapshot is taken): the head
    // it answers at is the state it reads, even while blocks are being produced.
    let chain = node.chain();
    let head = chain.head().clone();
    let wanted = match reference {
        BlockRef::Latest => head.clone(),
        other => header(node, &other)?,
    };
    if wanted.hash != head.hash {
        return Err(RpcError::handler(
            "GARBAGE_COLLECTED_BLOCK",
            json!({"block_height": wanted.height, "block_hash": hash58(&wanted.hash)}),
            json!(format!("state of block {} is not kept", wanted.height)),
        ));
    }
    let (height, hash) = (head.height, head.hash);
    let block = json!({"block_height": height, "block_hash": hash58(&hash)});
    let account_text = string(params, "account_id")?;
    let Ok(account_id) = account_text.parse::<crate::abi::AccountId>() else {
        let mut info = block.clone();
        info["requested_account_id"] = json!(account_text);
        return Err(RpcError::handler(
            "INVALID_ACCOUNT",
            info,
            json!(format!("Account ID {account_text} is invalid")),
        ));
    };
    let unknown_account = || {
        let mut info = block.clone();
        info["requested_account_id"] = json!(account_id);
        RpcError::handler(
            "UNKNOWN_ACCOUNT",
            info,
            json!(format!("account {account_id} does not exist while viewing")),
        )
    };
    let no_code = || {
        let mut info = block.clone();
        info["contract_account_id"] = json!(account_id);
        RpcError::handler(
            "NO_CONTRACT_CODE",
            info,
            json!(format!(
                "contract code of account {account_id} does not exist while viewing"
            )),
        )
    };
    // Errors NEAR still answers in `result` for old clients: `{"error", "logs", block…}`.
    let legacy_error = |message: String| {
        let mut result = block.clone();
        result["error"] = json!(message);
        result["logs"] = json!([]);
        result
    };
    match string(params, "request_type")? {
        "view_account" => {
            let info = chain
                .account(account_id.as_str())
                .ok_or_else(unknown_account)?;
            Ok(views::account_view(info, height, &hash))
        }
        "view_code" => {
            let info = chain
                .account(account_id.as_str())
                .ok_or_else(unknown_account)?;
            let code = info.code.as_ref().ok_or_else(no_code)?;
            let mut view = block.clone();
            view["code_base64"] = json!(views::base64(code));
            view["hash"] = json!(hash58(&info.code_hash));
            Ok(view)
        }
        "view_access_key" => {
            let info = chain
                .account(account_id.as_str())
                .ok_or_else(unknown_account)?;
            let text = string(params, "public_key")?;
            let key: PublicKey = text
                .parse()
                .map_err(|e| RpcError::parse(format!("invalid public_key: {e}")))?;
            match info.keys.get(&key.to_bytes()) {
                Some(access_key) => Ok(views::access_key_view(access_key, height, &hash)),
                None => Ok(legacy_error(format!(
                    "access key {key} does not exist while viewing"
                ))),
            }
        }
        "view_access_key_list" => {
            let info = chain
                .account(account_id.as_str())
                .ok_or_else(unknown_account)?;
            let keys: Vec<Value> = info
                .keys
                .iter()
                .map(|(key, access_key)| {
                    json!({
                        "public_key": views::public_key_text(key),
                        "access_key": {
                            "nonce": access_key.nonce,
                            "permission": views::access_key_view(access_key, height, &hash)["permission"],
                        },
                    })
                })
                .collect();
            let mut view = block.clone();
            view["keys"] = json!(keys);
            Ok(view)
        }
        "view_state" => {
            chain
                .account(account_id.as_str())
                .ok_or_else(unknown_account)?;
            let prefix = parse_base64(string(params, "prefix_base64")?)
                .ok_or_else(|| RpcError::parse("invalid prefix_base64"))?;
            let values: Vec<Value> = chain
                .storage_entries(account_id.as_str(), &prefix)
                .map(|(key, value)| json!({"key": views::base64(key), "value": views::base64(value)}))
                .collect();
            let mut view = block.clone();
            view["values"] = json!(values);
            view["proof"] = json!([]);
            Ok(view)
        }
        "call_function" => {
            let method = string(params, "method_name")?;
            let args = parse_base64(string(params, "args_base64")?)
                .ok_or_else(|| RpcError::parse("invalid args_base64"))?;
            // The view runs on a snapshot, after the chain is let go: blocks go on meanwhile.
            let view = chain.prepare_view(account_id.as_str(), method, args);
            drop(chain);
            match view.and_then(|view| view.run()) {
                Ok(result) => {
                    let mut view = block.clone();
                    view["result"] = json!(result.result);
                    view["logs"] = json!(result.logs);
                    Ok(view)
                }
                Err(ChainError::AccountNotFound(_)) => Err(unknown_account()),
                Err(ChainError::NoContract(_)) => Ok(legacy_error(format!(
                    "wasm execution failed with error: CompilationError(CodeDoesNotExist {{ account_id: {account_id} }})"
                ))),
                Err(ChainError::View { error, .. }) => Ok(legacy_error(format!(
                    "wasm execution failed with error: {error}"
                ))),
                Err(other) => Err(RpcError::internal(other.to_string())),
            }
        }
        other => Err(RpcError::parse(format!("unknown request_type `{other}`"))),
    }
}
