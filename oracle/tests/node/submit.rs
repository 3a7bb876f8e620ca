//! The submitter against a scripted chain: a damaged journal entry stops the node instead of
//! being retried forever, and a refused nonce is replaced by the one after the chain's.

use crate::common::fake_rpc::{self, FakeRpc};
use crate::common::{eventually, node_home, registered, request, CHAIN_ID};
use base64::Engine as _;
use near_wire::SignedTransaction;
use oracle::config::NodeConfig;
use oracle::journal::{Computed, Finished, JobState, Journal};
use oracle_protocol::{ModelId, RequestPhase};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The access key's nonce on chain: a transaction must use a higher one.
const CHAIN_NONCE: u64 = 50;

/// Request `request_id`, pending, with this node on its committee, plus what signing needs.
fn pending_chain(node: Value, model_id: ModelId) -> impl Fn(&str, &Value) -> Result<Value, Value> {
    move |method, args| match method {
        "status" => Ok(fake_rpc::status(CHAIN_ID, 10)),
        "get_node" => Ok(node.clone()),
        "get_model" => Ok(fake_rpc::model(args, kernels::SPEC_VERSION)),
        "list_pending_assignments" => Ok(fake_rpc::assignments(&[])),
        "get_request" => Ok(request(
            args["request_id"].as_u64().unwrap(),
            model_id,
            RequestPhase::Pending,
        )),
        "block" => Ok(json!({"header": {"hash": "11111111111111111111111111111111"}})),
        "query" => Ok(
            json!({"nonce": 5, "permission": "FullAccess", "block_height": 1,
            "block_hash": "11111111111111111111111111111111"}),
        ),
        other => Err(fake_rpc::view_panicked(&format!("unexpected {other}"))),
    }
}

fn journal_with(
    dir: &std::path::Path,
    config: &NodeConfig,
    model_id: ModelId,
    result_digest: &str,
) {
    let journal = Journal::open(&NodeConfig::path_in(dir, &config.journal).unwrap()).unwrap();
    journal.accept(5, &model_id.to_hex()).unwrap();
    journal
        .record_computed(
            5,
            Computed {
                output: "Paris".into(),
                result_digest: result_digest.into(),
                output_hash: "cd".repeat(32),
            },
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_journaled_result_stops_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let rpc = FakeRpc::start(pending_chain(
        registered(dir.path(), &config, vec![model_id]),
        model_id,
    ))
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    journal_with(dir.path(), &config, model_id, "not hex");
    let run = oracle::daemon::run_until(dir.path(), config, std::future::pending());
    let error = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the node stops by itself")
        .unwrap_err();
    let error = format!("{error:#}");
    assert!(
        error.contains("request 5") && error.contains("damaged"),
        "{error}"
    );
    assert_eq!(rpc.calls("send_tx"), 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_nonce_is_replaced_by_the_one_after_the_chains() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let quiet = pending_chain(registered(dir.path(), &config, vec![model_id]), model_id);
    let nonces = Arc::new(Mutex::new(Vec::new()));
    let rpc = FakeRpc::start({
        let nonces = nonces.clone();
        move |method, params| match method {
            "send_tx" => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(params["signed_tx_base64"].as_str().unwrap())
                    .unwrap();
                let nonce = SignedTransaction::from_bytes(&bytes)
                    .unwrap()
                    .transaction
                    .nonce;
                nonces.lock().unwrap().push(nonce);
                if nonce <= CHAIN_NONCE {
                    return Err(json!({"name": "HANDLER_ERROR",
                        "cause": {"name": "INVALID_TRANSACTION", "info": {}},
                        "code": -32000, "message": "Server error",
                        "data": {"TxExecutionError": {"InvalidTxError": {"InvalidNonce":
                            {"tx_nonce": nonce, "ak_nonce": CHAIN_NONCE}}}}}));
                }
                Ok(json!({"final_execution_status": "EXECUTED_OPTIMISTIC",
                    "status": {"SuccessValue": ""}, "receipts_outcome": [],
                    "transaction_outcome": {"outcome": {"gas_burnt": 1, "tokens_burnt": "0"}}}))
            }
            "tx" => Err(json!({"name": "HANDLER_ERROR",
                "cause": {"name": "UNKNOWN_TRANSACTION", "info": {}},
                "code": -32000, "message": "Server error", "data": "unknown"})),
            _ => quiet(method, params),
        }
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    journal_with(dir.path(), &config, model_id, &"ab".repeat(32));
    let (stop, stopped) = oneshot::channel::<()>();
    let daemon = tokio::spawn({
        let home = dir.path().to_path_buf();
        async move {
            oracle::daemon::run_until(&home, config.clone(), async {
                let _ = stopped.await;
            })
            .await
            .map(|()| config)
        }
    });
    eventually("an accepted attestation", || {
        nonces.lock().unwrap().iter().any(|n| *n > CHAIN_NONCE)
    })
    .await;
    stop.send(()).unwrap();
    let config = daemon.await.unwrap().unwrap();
    // The key's first nonce (6) is refused, its journaled bytes once more, then the next
    // signature takes the nonce after the chain's: no creeping one by one.
    assert_eq!(*nonces.lock().unwrap(), [6, 6, CHAIN_NONCE + 1]);
    let journal =
        Journal::open(&NodeConfig::path_in(dir.path(), &config.journal).unwrap()).unwrap();
    assert_eq!(
        journal.get(5).unwrap().unwrap().state,
        JobState::Finished(Finished::Attested)
    );
}
