//! A NEAR JSON-RPC endpoint whose answers the test scripts: `status` and the oracle contract's
//! views come from a handler, so a test can make the chain fail in ways a real one rarely does.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// Answers one call: `method` is the RPC method, or the view method's name for a
/// `call_function` query (with its JSON arguments as `params`). `Ok`: the result (a view's
/// JSON value); `Err`: NEAR's error object.
pub type Handler = dyn Fn(&str, &Value) -> Result<Value, Value> + Send + Sync;
/// The calls answered so far, by method.
type CallLog = Arc<Mutex<Vec<String>>>;

/// A running fake endpoint.
pub struct FakeRpc {
    pub url: String,
    calls: CallLog,
}

impl FakeRpc {
    /// Starts an endpoint answering with `handler`.
    pub async fn start(
        handler: impl Fn(&str, &Value) -> Result<Value, Value> + Send + Sync + 'static,
    ) -> Self {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = (Arc::new(handler) as Arc<Handler>, calls.clone());
        let app = Router::new().route("/", post(answer)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, calls }
    }

    /// How many calls of `method` (RPC or view method) were answered.
    pub fn calls(&self, method: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|m| *m == method)
            .count()
    }
}

async fn answer(
    State((handler, calls)): State<(Arc<Handler>, CallLog)>,
    body: String,
) -> impl IntoResponse {
    let body: Value = serde_json::from_str(&body).unwrap();
    let method = body["method"].as_str().unwrap_or_default().to_string();
    let params = &body["params"];
    let view = params["request_type"] == "call_function";
    let (name, args) = if view {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(params["args_base64"].as_str().unwrap_or_default())
            .unwrap();
        (
            params["method_name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    } else {
        (method, params.clone())
    };
    calls.lock().unwrap().push(name.clone());
    let reply = match handler(&name, &args) {
        Ok(value) if view => Ok(json!({
            "result": serde_json::to_vec(&value).unwrap(),
            "logs": [], "block_height": 1, "block_hash": "11111111111111111111111111111111",
        })),
        other => other,
    };
    let answer = match reply {
        Ok(result) => json!({"jsonrpc": "2.0", "id": body["id"], "result": result}),
        Err(error) => json!({"jsonrpc": "2.0", "id": body["id"], "error": error}),
    };
    ([(CONTENT_TYPE, "application/json")], answer.to_string())
}

/// `status` of chain `chain_id` at `height`.
pub fn status(chain_id: &str, height: u64) -> Value {
    json!({"chain_id": chain_id, "sync_info": {
        "latest_block_height": height,
        "latest_block_hash": "11111111111111111111111111111111",
    }})
}

/// `list_pending_assignments`' answer listing `requests` (request views) on one page.
pub fn assignments(requests: &[Value]) -> Value {
    let listed: Vec<Value> = requests
        .iter()
        .map(|view| json!({"request_id": view["request_id"], "model_id": view["model_id"]}))
        .collect();
    json!({"assignments": listed, "next_index": null})
}

/// NEAR's error for a view that panicked: an answer, not a transport failure.
pub fn view_panicked(message: &str) -> Value {
    json!({"name": "HANDLER_ERROR", "cause": {"name": "CONTRACT_EXECUTION_ERROR", "info": {}},
        "code": -32000, "message": message, "data": message})
}

/// A transaction that ran and returned nothing (`send_tx`'s answer).
pub fn landed() -> Value {
    json!({"final_execution_status": "EXECUTED_OPTIMISTIC",
        "status": {"SuccessValue": ""}, "receipts_outcome": [],
        "transaction_outcome": {"outcome": {"gas_burnt": 1, "tokens_burnt": "0"}}})
}

/// A transaction whose call panicked with `message` (`send_tx`'s answer).
pub fn panicked(message: &str) -> Value {
    json!({"final_execution_status": "EXECUTED_OPTIMISTIC",
        "status": {"Failure": {"ActionError": {"index": 0, "kind": {"FunctionCallError":
            {"ExecutionError": format!("Smart contract panicked: {message}")}}}}},
        "receipts_outcome": [],
        "transaction_outcome": {"outcome": {"gas_burnt": 1, "tokens_burnt": "0"}}})
}

/// `get_model`'s answer for the model `args` asks about, registered under `spec`.
pub fn model(args: &Value, spec: &str) -> Value {
    json!({"model_id": args["model_id"], "name": "tiny", "spec_version": spec,
        "max_input_bytes": 4096, "max_output_tokens": 64, "price": "1"})
}
