//! Why a chain request failed: transport trouble (retried on the next endpoint), NEAR's
//! structured RPC errors, refused transactions, answers that could not be read.

use near_wire::InvalidTxError;
use serde_json::Value;
use std::time::Duration;
use thiserror::Error;

/// A failed chain request. Messages say what went wrong and what to do about it.
#[derive(Debug, Error)]
pub enum ChainError {
    #[error("no RPC endpoint given: pass at least one URL (e.g. http://127.0.0.1:3030)")]
    NoEndpoints,
    #[error("`{url}` is not a usable RPC URL ({message}): give http:// or https:// URLs")]
    InvalidUrl { url: String, message: String },
    #[error("{endpoint}: {message} (is the node running and reachable from here?)")]
    Transport { endpoint: String, message: String },
    #[error("{endpoint}: no answer within {after:?} (the node is overloaded or unreachable; raise RetryPolicy::request_timeout or add endpoints)")]
    RequestTimeout { endpoint: String, after: Duration },
    /// An HTTP error whose body is not a JSON-RPC answer (`body`: its first 500 characters).
    #[error("{endpoint}: {}", http_message(*status, body))]
    Http {
        endpoint: String,
        status: u16,
        body: String,
    },
    /// An endpoint of a client pinned to one chain serves another: skipped, like an
    /// unreachable one.
    #[error("{endpoint} serves chain `{served}`, not `{expected}`: it is skipped (every RPC URL must serve the same network: fix the list)")]
    WrongChain {
        endpoint: String,
        expected: String,
        served: String,
    },
    /// An endpoint answered a view at an older final block than this client already read at
    /// (it lags behind, or the chain was reset): skipped, like an unreachable one.
    #[error("{endpoint} answered at block {answered_at}, older than block {already_read} this client already read at: it lags behind (it is skipped), or the chain was reset (then start a new client)")]
    BehindChain {
        endpoint: String,
        answered_at: u64,
        already_read: u64,
    },
    #[error("this RPC client is pinned to chain `{pinned}`, not `{asked}`: make another client for another chain")]
    ChainAlreadyPinned { pinned: String, asked: String },
    #[error("all RPC endpoints failed ({attempts} attempts over {endpoints}); last error: {last}")]
    AllEndpointsFailed {
        attempts: u32,
        endpoints: String,
        last: Box<ChainError>,
    },
    /// NEAR's structured error: `name` (e.g. `HANDLER_ERROR`), `cause` (e.g. `UNKNOWN_BLOCK`),
    /// `message`, and `data` (the legacy detail).
    #[error("RPC error {name}/{cause}: {message}: {data}")]
    Rpc {
        name: String,
        cause: String,
        message: String,
        data: Box<Value>,
    },
    #[error("the chain refused the transaction: {0}")]
    InvalidTx(InvalidTxError),
    #[error(
        "account {account} does not exist on this chain (check the account id and the network)"
    )]
    UnknownAccount { account: String },
    #[error(
        "account {account} has no access key {public_key} (is this the right key for the account?)"
    )]
    AccessKeyNotFound { account: String, public_key: String },
    #[error("view {contract}.{method} failed: {message}")]
    ViewFailed {
        contract: String,
        method: String,
        message: String,
    },
    #[error("transaction {tx_hash} did not reach the requested stage in time; it may still execute: poll tx_status with its hash")]
    Timeout { tx_hash: String },
    #[error(
        "transaction {tx_hash} was sent, but no endpoint confirmed it: {source}; it may have \
         executed, so look it up by its hash (tx_status) before sending it again"
    )]
    SendUnconfirmed {
        tx_hash: String,
        source: Box<ChainError>,
    },
    #[error("transaction {tx_hash} failed: {error}")]
    TxFailed { tx_hash: String, error: String },
    #[error(transparent)]
    Credentials(#[from] near_wire::CredentialsError),
    #[error("`{account}` is not a valid NEAR account id: {message}")]
    InvalidAccountId { account: String, message: String },
    #[error("could not read {what}: {message}")]
    Decode { what: String, message: String },
    #[error("could not sign after {attempts} attempts: the access key's nonce kept moving (another signer uses the same key heavily?); last error: {last}")]
    NonceRetriesExhausted { attempts: u32, last: InvalidTxError },
}

/// An HTTP failure without a JSON-RPC answer, said so that an empty body is visible, and with
/// a hint on 404 and 405: NEAR answers its own errors with JSON-RPC bodies, so those come from
/// something else at that URL (typically a path NEAR does not serve). Other client errors
/// (401/403 of a provider whose URL needs its key, 429) get no hint: it would be wrong there.
fn http_message(status: u16, body: &str) -> String {
    let body = body.trim();
    let mut message = if body.is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        format!("HTTP {status}: {body}")
    };
    if status == 404 || status == 405 {
        message.push_str(
            ": is this a NEAR JSON-RPC endpoint? (NEAR serves JSON-RPC at the URL's root path)",
        );
    }
    message
}

/// NEAR error causes that say the endpoint cannot answer yet (it is syncing, or does not track
/// the shard): another endpoint, or this one later, may.
const ENDPOINT_STATE_CAUSES: [&str; 3] =
    ["NO_SYNCED_BLOCKS", "NOT_SYNCED_YET", "UNAVAILABLE_SHARD"];

impl ChainError {
    /// Whether another endpoint (or the same one later) may answer: transport failures,
    /// timeouts, HTTP 5xx/429/408, NEAR's `INTERNAL_ERROR` and the causes that describe the
    /// endpoint rather than the request (`NO_SYNCED_BLOCKS`, `NOT_SYNCED_YET`,
    /// `UNAVAILABLE_SHARD`), an endpoint on another chain or behind the block already read, a
    /// transaction refused for a congested or stuck shard.
    pub fn is_retryable(&self) -> bool {
        match self {
            ChainError::Transport { .. }
            | ChainError::RequestTimeout { .. }
            | ChainError::WrongChain { .. }
            | ChainError::BehindChain { .. } => true,
            ChainError::Http { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            ChainError::Rpc { name, cause, .. } => {
                name == "INTERNAL_ERROR" || ENDPOINT_STATE_CAUSES.contains(&cause.as_str())
            }
            ChainError::InvalidTx(invalid) => invalid.is_transient(),
            _ => false,
        }
    }

    /// Whether a transaction sent when this came back may have reached the chain: the request
    /// went out but no answer came (the connection failed or timed out, a gateway answered
    /// with a server error, every endpoint failed).
    pub fn may_have_sent(&self) -> bool {
        match self {
            ChainError::Transport { .. }
            | ChainError::RequestTimeout { .. }
            | ChainError::AllEndpointsFailed { .. } => true,
            ChainError::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The cause name of NEAR's structured error, if this is one.
    pub fn rpc_cause(&self) -> Option<&str> {
        match self {
            ChainError::Rpc { cause, .. } => Some(cause),
            _ => None,
        }
    }

    pub(crate) fn decode(what: impl Into<String>, message: impl ToString) -> Self {
        ChainError::Decode {
            what: what.into(),
            message: message.to_string(),
        }
    }

    /// Reads NEAR's JSON-RPC `error` object; a refused transaction becomes
    /// [`ChainError::InvalidTx`] when its reason is one NEAR's `InvalidTxError` names.
    pub fn from_rpc_error(error: &Value) -> Self {
        let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
        let cause = text(&error["cause"]["name"]);
        if cause == "INVALID_TRANSACTION" {
            let reasons = [
                &error["data"]["TxExecutionError"]["InvalidTxError"],
                &error["cause"]["info"]["TxExecutionError"]["InvalidTxError"],
                &error["cause"]["info"],
            ];
            for reason in reasons {
                if let Ok(invalid) = serde_json::from_value::<InvalidTxError>(reason.clone()) {
                    return ChainError::InvalidTx(invalid);
                }
            }
        }
        ChainError::Rpc {
            name: text(&error["name"]),
            cause,
            message: text(&error["message"]),
            data: Box::new(error["data"].clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn http_errors_show_an_empty_body_and_hint_at_the_endpoint() {
        let http = |status, body: &str| {
            ChainError::Http {
                endpoint: "http://127.0.0.1:3030/rpc".into(),
                status,
                body: body.into(),
            }
            .to_string()
        };
        assert_eq!(
            http(404, ""),
            "http://127.0.0.1:3030/rpc: HTTP 404 with an empty body: is this a NEAR JSON-RPC \
             endpoint? (NEAR serves JSON-RPC at the URL's root path)"
        );
        assert_eq!(
            http(405, "Method Not Allowed\n"),
            "http://127.0.0.1:3030/rpc: HTTP 405: Method Not Allowed: is this a NEAR JSON-RPC \
             endpoint? (NEAR serves JSON-RPC at the URL's root path)"
        );
        assert_eq!(
            http(502, " "),
            "http://127.0.0.1:3030/rpc: HTTP 502 with an empty body"
        );
        assert_eq!(
            http(503, "overloaded"),
            "http://127.0.0.1:3030/rpc: HTTP 503: overloaded"
        );
        assert_eq!(
            http(429, ""),
            "http://127.0.0.1:3030/rpc: HTTP 429 with an empty body"
        );
        assert_eq!(
            http(403, "invalid API key"),
            "http://127.0.0.1:3030/rpc: HTTP 403: invalid API key"
        );
    }

    #[test]
    fn refused_transactions_are_typed() {
        let error = json!({
            "name": "HANDLER_ERROR",
            "cause": {"name": "INVALID_TRANSACTION", "info": {}},
            "code": -32000,
            "message": "Server error",
            "data": {"TxExecutionError": {"InvalidTxError": {"InvalidNonce": {"tx_nonce": 1, "ak_nonce": 2}}}},
        });
        assert!(matches!(
            ChainError::from_rpc_error(&error),
            ChainError::InvalidTx(InvalidTxError::InvalidNonce {
                tx_nonce: 1,
                ak_nonce: 2
            })
        ));
        let unknown = json!({"name": "HANDLER_ERROR", "cause": {"name": "UNKNOWN_BLOCK", "info": {}},
            "message": "Server error", "data": "DB Not Found"});
        let error = ChainError::from_rpc_error(&unknown);
        assert_eq!(error.rpc_cause(), Some("UNKNOWN_BLOCK"));
        assert!(!error.is_retryable());
        let internal = json!({"name": "INTERNAL_ERROR", "cause": {"name": "INTERNAL_ERROR"}});
        assert!(ChainError::from_rpc_error(&internal).is_retryable());
        // A congested or stuck shard refuses a transaction for now: typed, and tried again.
        for (reason, shown) in [
            (
                json!({"ShardCongested": {"shard_id": 3, "congestion_level": 1.0}}),
                "shard 3 is congested (level 1.0)",
            ),
            (
                json!({"ShardStuck": {"shard_id": 2, "missed_chunks": 9}}),
                "shard 2 has missed 9 chunks",
            ),
        ] {
            let refused = json!({"name": "HANDLER_ERROR",
                "cause": {"name": "INVALID_TRANSACTION", "info": {}}, "message": "Server error",
                "data": {"TxExecutionError": {"InvalidTxError": reason}}});
            let error = ChainError::from_rpc_error(&refused);
            assert!(matches!(error, ChainError::InvalidTx(_)), "{error:?}");
            assert!(error.is_retryable() && !error.may_have_sent());
            assert!(error.to_string().contains(shown), "{error}");
        }
        for cause in ["NO_SYNCED_BLOCKS", "NOT_SYNCED_YET", "UNAVAILABLE_SHARD"] {
            let syncing = json!({"name": "HANDLER_ERROR", "cause": {"name": cause, "info": {}},
                "message": "Server error", "data": cause});
            assert!(
                ChainError::from_rpc_error(&syncing).is_retryable(),
                "{cause}"
            );
        }
    }
}
