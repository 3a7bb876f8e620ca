//! A JSON-RPC server speaking NEAR's RPC for the methods clients use — `status`, `health`,
//! `block`, `gas_price`, `query`, `send_tx`, `broadcast_tx_commit`, `broadcast_tx_async`, `tx`,
//! `EXPERIMENTAL_tx_status`, `EXPERIMENTAL_protocol_config` — with NEAR's shapes and error
//! forms, `GET /status` and `GET /health`, CORS for any origin, and a small client; and
//! [`run_node`], a node's producer and server run and stopped together.

mod client;
mod error;
mod http;
mod params;
mod protocol;
mod query;
mod run;
mod transactions;

pub use client::{ClientError, RpcClient};
pub use error::RpcError;
pub use run::{run_node, RunError};

use crate::node::Node;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{debug, info};
use transactions::Detail;

/// How the server answers.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Largest request body accepted, bytes (larger ones get HTTP 413).
    pub max_body_bytes: usize,
    /// How long transaction requests wait for their stage before `TIMEOUT_ERROR`.
    pub tx_timeout: Duration,
}

impl Default for RpcConfig {
    /// NEAR's limits: 10 MiB bodies (transactions are at most 1.5 MB), 10 s waits.
    fn default() -> Self {
        Self {
            max_body_bytes: 10 * 1024 * 1024,
            tx_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
struct Server {
    node: Arc<Node>,
    config: RpcConfig,
    addr: String,
}

/// Serves JSON-RPC on `listener` until `shutdown` completes.
pub async fn serve(
    node: Arc<Node>,
    listener: TcpListener,
    config: RpcConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    info!(%addr, "JSON-RPC listening");
    let server = Server {
        node,
        config,
        addr: addr.to_string(),
    };
    let app = Router::new()
        .route("/", post(handle).options(http::preflight))
        .route("/status", get(http::status).options(http::preflight))
        .route("/health", get(http::health).options(http::preflight))
        .layer(axum::middleware::map_response(http::allow_any_origin))
        .with_state(server);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The JSON-RPC envelope of an answer.
fn answer(id: Value, result: Result<Value, RpcError>) -> Response {
    let body = match result {
        Ok(result) => json!({"jsonrpc": "2.0", "result": result, "id": id}),
        Err(RpcError(error)) => json!({"jsonrpc": "2.0", "error": error, "id": id}),
    };
    ([(CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn handle(State(server): State<Server>, body: Body) -> Response {
    let body = match http::read_body(body, server.config.max_body_bytes).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return answer(
                Value::Null,
                Err(RpcError::parse(format!("invalid JSON: {e}"))),
            )
        }
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return answer(id, Err(RpcError::parse("missing `method`")));
    };
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    debug!(method, "request");
    let result = dispatch(&server, method, params).await;
    answer(id, result)
}

/// Every method that reads the chain (whose lock a block in production holds while its
/// receipts run) or the store does so on the blocking pool, never on an async worker: a long
/// block must not stall the server's other requests, timers and shutdown.
async fn dispatch(server: &Server, method: &str, params: Value) -> Result<Value, RpcError> {
    let node = server.node.clone();
    let timeout = server.config.tx_timeout;
    match method {
        "status" => {
            let addr = server.addr.clone();
            blocking(move || Ok(query::status(&node, &addr))).await
        }
        "health" => health(&node),
        "EXPERIMENTAL_protocol_config" => {
            blocking(move || protocol::protocol_config(&node, &params)).await
        }
        "block" => blocking(move || query::block(&node, &params)).await,
        "gas_price" => blocking(move || query::gas_price(&node, &params)).await,
        "query" => blocking(move || query::query(&node, &params)).await,
        "send_tx" => transactions::send_tx(node, params, timeout).await,
        "broadcast_tx_commit" => transactions::broadcast_tx_commit(node, params, timeout).await,
        "broadcast_tx_async" => {
            blocking(move || transactions::broadcast_tx_async(&node, &params)).await
        }
        "tx" => transactions::tx_status(node, params, Detail::Outcomes, timeout).await,
        "EXPERIMENTAL_tx_status" => {
            transactions::tx_status(node, params, Detail::WithReceipts, timeout).await
        }
        other => Err(RpcError::method_not_found(other)),
    }
}

/// `health`: `null` while the node produces blocks.
fn health(node: &Node) -> Result<Value, RpcError> {
    if !node.is_accepting() {
        return Err(RpcError::internal("the node is stopping"));
    }
    Ok(Value::Null)
}

/// Runs work that takes the chain's lock, reads the store or executes a contract (views) off
/// the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RpcError> + Send + 'static,
) -> Result<T, RpcError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(RpcError::internal(format!("request failed: {e}"))))
}
