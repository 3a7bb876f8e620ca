//! Views of accounts and access keys.

use super::hash58;
use crate::abi::{AccessKeyPermission, CryptoHash};
use crate::chain::{AccessKey, AccountInfo};
use serde_json::{json, Value};

/// `query` `view_account`'s result.
pub fn account_view(info: &AccountInfo, block_height: u64, block_hash: &CryptoHash) -> Value {
    json!({
        "amount": info.balance.to_string(),
        "locked": info.locked.to_string(),
        "code_hash": hash58(&info.code_hash),
        "storage_usage": info.storage_usage,
        "storage_paid_at": 0,
        "block_height": block_height,
        "block_hash": hash58(block_hash),
    })
}

/// An access key's permission.
pub fn permission_view(permission: &AccessKeyPermission) -> Value {
    match permission {
        AccessKeyPermission::FullAccess => json!("FullAccess"),
        AccessKeyPermission::FunctionCall {
            allowance,
            receiver_id,
            method_names,
        } => json!({"FunctionCall": {
            "allowance": allowance.map(|a| a.to_string()),
            "receiver_id": receiver_id,
            "method_names": method_names,
        }}),
    }
}

/// `query` `view_access_key`'s result.
pub fn access_key_view(key: &AccessKey, block_height: u64, block_hash: &CryptoHash) -> Value {
    json!({
        "nonce": key.nonce,
        "permission": permission_view(&key.permission),
        "block_height": block_height,
        "block_hash": hash58(block_hash),
    })
}
