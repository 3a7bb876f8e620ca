//! `status`, `block`, `gas_price` and `query`.

use super::error::RpcError;
use super::params::{self, block_ref, string, BlockRef};
use crate::chain::{BlockHeader, ChainError, ChainState, GAS_PRICE};
use crate::node::{Node, KEPT_STATES};
use crate::tx::PublicKey;
use crate::views::{self, hash58, parse_base64, StatusInfo};
use serde_json::{json, Value};
use std::sync::Arc;

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
pub(super) fn header(node: &Node, reference: &BlockRef) -> Result<BlockHeader, RpcError> {
    let mut found = stored_header(node, reference)?;
    if found.is_none() {
        // A query may have named a block whose commit is under way: wait for it, look again.
        node.settled();
        found = stored_header(node, reference)?;
    }
    found.ok_or_else(|| {
        RpcError::handler(
            "UNKNOWN_BLOCK",
            json!({}),
            json!(format!("DB Not Found Error: block {reference:?}")),
        )
    })
}

/// The header a block reference names, as the store has it now.
fn stored_header(node: &Node, reference: &BlockRef) -> Result<Option<BlockHeader>, RpcError> {
    Ok(match reference {
        BlockRef::Latest => Some(node.chain().head().clone()),
        // Every block is kept: the earliest available is block 0.
        BlockRef::Genesis | BlockRef::EarliestAvailable => Some(node.genesis().clone()),
        BlockRef::Height(height) => node.store().block_at(*height)?,
        BlockRef::Hash(hash) => match node.store().height_of(hash)? {
            Some(height) => node.store().block_at(height)?,
            None => None,
        },
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

/// nearcore's `trie_viewer_state_size_limit`: `view_state` refuses a contract whose state
/// (storage usage less its code) is larger.
pub const VIEW_STATE_SIZE_LIMIT: u64 = 50_000;

/// The state a query reads: the head's, or a recent block's (the last
/// [`crate::node::KEPT_STATES`]; older ones are gone, as from a nearcore node that has
/// garbage-collected them).
fn state(node: &Node, reference: BlockRef) -> Result<Arc<ChainState>, RpcError> {
    match reference {
        BlockRef::Latest => return Ok(node.head_state()),
        BlockRef::EarliestAvailable => return Ok(node.oldest_state()),
        _ => {}
    }
    let wanted = header(node, &reference)?;
    node.state_at(&wanted.hash).ok_or_else(|| {
        RpcError::handler(
            "GARBAGE_COLLECTED_BLOCK",
            json!({"block_height": wanted.height, "block_hash": hash58(&wanted.hash)}),
            json!(format!(
                "state of block {} is not kept: only the last {KEPT_STATES} blocks' are",
                wanted.height
            )),
        )
    })
}

/// `query`, read from the state at the end of the block it names, without holding the chain.
pub fn query(node: &Node, params: &Value) -> Result<Value, RpcError> {
    let legacy;
    let params = match params {
        Value::Array(items) => {
            legacy = params::legacy_query(items)?;
            &legacy
        }
        object => object,
    };
    let chain = state(node, block_ref(params)?)?;
    let (height, hash) = (chain.header().height, chain.header().hash);
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
        // As on nearcore, the access-key views do not check that the account exists: a missing
        // account just has no keys.
        "view_access_key" => {
            let text = string(params, "public_key")?;
            let key: PublicKey = text
                .parse()
                .map_err(|e| RpcError::parse(format!("invalid public_key: {e}")))?;
            let access_key = chain
                .account(account_id.as_str())
                .and_then(|info| info.keys.get(&key.to_bytes()));
            match access_key {
                Some(access_key) => Ok(views::access_key_view(access_key, height, &hash)),
                None => Ok(legacy_error(format!(
                    "access key {key} does not exist while viewing"
                ))),
            }
        }
        "view_access_key_list" => {
            let keys: Vec<Value> = chain
                .account(account_id.as_str())
                .into_iter()
                .flat_map(|info| &info.keys)
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
            let info = chain
                .account(account_id.as_str())
                .ok_or_else(unknown_account)?;
            let code_bytes = info.code.as_ref().map_or(0, |code| code.len() as u64);
            if info.storage_usage.saturating_sub(code_bytes) > VIEW_STATE_SIZE_LIMIT {
                let mut info = block.clone();
                info["contract_account_id"] = json!(account_id);
                return Err(RpcError::handler(
                    "TOO_LARGE_CONTRACT_STATE",
                    info,
                    json!(format!(
                        "State of contract {account_id} is too large to be viewed"
                    )),
                ));
            }
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
            let view = chain.prepare_view(account_id.as_str(), method, args);
            match view.and_then(|view| view.run()) {
                Ok(result) => {
                    let mut view = block.clone();
                    view["result"] = json!(result.result);
                    view["logs"] = json!(result.logs);
                    Ok(view)
                }
                Err(ChainError::AccountNotFound(_)) => Err(unknown_account()),
                Err(ChainError::NoContract(_)) => Ok(legacy_error(format!(
                    "wasm execution failed with error: CompilationError(CodeDoesNotExist {{ account_id: {account_id:?} }})"
                ))),
                Err(ChainError::View { error, .. }) => Ok(legacy_error(format!(
                    "wasm execution failed with error: {}",
                    views::function_call_error_debug(&error)
                ))),
                Err(other) => Err(RpcError::internal(other.to_string())),
            }
        }
        other => Err(RpcError::parse(format!("unknown request_type `{other}`"))),
    }
}
