//! NEAR's JSON-RPC error form (nearcore `chain/jsonrpc-primitives/src/errors.rs`):
//! `{"name", "cause": {"name", "info"}, "code", "message", "data"}`.

use crate::tx::InvalidTxError;
use serde_json::{json, Value};

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError(pub Value);

impl RpcError {
    /// The request could not be read (bad JSON, missing or malformed params).
    pub fn parse(message: impl Into<String>) -> Self {
        let message = message.into();
        Self(json!({
            "name": "REQUEST_VALIDATION_ERROR",
            "cause": {"name": "PARSE_ERROR", "info": {"error_message": message}},
            "code": -32_700,
            "message": "Parse error",
            "data": message,
        }))
    }

    /// No such method.
    pub fn method_not_found(method: &str) -> Self {
        Self(json!({
            "name": "REQUEST_VALIDATION_ERROR",
            "cause": {"name": "METHOD_NOT_FOUND", "info": {"method_name": method}},
            "code": -32_601,
            "message": "Method not found",
            "data": method,
        }))
    }

    /// A method's own error: `cause` names it, `info` details it, `data` is the legacy form.
    pub fn handler(cause: &str, info: Value, data: Value) -> Self {
        Self(json!({
            "name": "HANDLER_ERROR",
            "cause": {"name": cause, "info": info},
            "code": -32_000,
            "message": "Server error",
            "data": data,
        }))
    }

    /// The node itself failed.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        Self(json!({
            "name": "INTERNAL_ERROR",
            "cause": {"name": "INTERNAL_ERROR", "info": {"error_message": message}},
            "code": -32_000,
            "message": "Server error",
            "data": message,
        }))
    }

    /// A refused transaction: `cause.info` is empty and the reason sits in
    /// `data.TxExecutionError.InvalidTxError`, as nearcore answers.
    pub fn invalid_transaction(error: &InvalidTxError) -> Self {
        let data = json!({"TxExecutionError": {"InvalidTxError": error}});
        Self::handler("INVALID_TRANSACTION", json!({}), data)
    }

    /// The transaction did not reach the requested stage in time.
    pub fn timeout() -> Self {
        Self::handler("TIMEOUT_ERROR", json!({}), json!("Timeout"))
    }
}

impl From<crate::store::StoreError> for RpcError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::internal(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_transactions_answer_as_nearcore_does() {
        let error = RpcError::invalid_transaction(&InvalidTxError::InvalidNonce {
            tx_nonce: 1,
            ak_nonce: 2,
        });
        assert_eq!(
            error.0,
            json!({
                "name": "HANDLER_ERROR",
                "cause": {"name": "INVALID_TRANSACTION", "info": {}},
                "code": -32000,
                "message": "Server error",
                "data": {"TxExecutionError": {"InvalidTxError": {"InvalidNonce": {"tx_nonce": 1, "ak_nonce": 2}}}},
            })
        );
    }
}
