//! The watcher against a scripted chain: a pending request that makes every page holding it
//! fail (a view's return is capped at 4 MiB) does not hide the requests after it.

use crate::common::fake_rpc::{self, FakeRpc};
use crate::common::{eventually, node_home, registered, request, CHAIN_ID};
use oracle::config::NodeConfig;
use oracle::journal::{Finished, JobState, Journal};
use oracle_protocol::RequestPhase;
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// The pending list's index whose request cannot be read.
const UNREADABLE: u64 = 2;
/// The pending requests, by index: request id `10 + index`; only the one after the unreadable
/// one has this node on its committee.
const PENDING: u64 = 5;
/// The request for this node, right after the unreadable one.
const OURS: u64 = 10 + UNREADABLE + 1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_after_an_unreadable_one_is_still_attested() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let node = registered(dir.path(), &config, vec![model_id]);
    let view = move |request_id: u64| {
        let mut view = request(request_id, model_id, RequestPhase::Pending);
        if request_id != OURS {
            view["committee"] = json!(["someone-else.test"]);
        }
        view
    };
    let rpc = FakeRpc::start(move |method, args: &Value| match method {
        "status" => Ok(fake_rpc::status(CHAIN_ID, 10)),
        "get_node" => Ok(node.clone()),
        "get_model" => Ok(fake_rpc::model(args, kernels::SPEC_VERSION)),
        "list_pending_requests" => {
            let from = args["from_index"].as_u64().unwrap();
            let to = (from + args["limit"].as_u64().unwrap()).min(PENDING);
            if (from..to).contains(&UNREADABLE) {
                return Err(fake_rpc::view_panicked(
                    "wasm execution failed with error: HostError(ReturnedValueLengthExceeded)",
                ));
            }
            Ok(Value::Array((from..to).map(|i| view(10 + i)).collect()))
        }
        "get_request" => Ok(view(args["request_id"].as_u64().unwrap())),
        "block" => Ok(json!({"header": {"hash": "11111111111111111111111111111111"}})),
        "query" => Ok(
            json!({"nonce": 5, "permission": "FullAccess", "block_height": 1,
            "block_hash": "11111111111111111111111111111111"}),
        ),
        "send_tx" => Ok(json!({"final_execution_status": "EXECUTED_OPTIMISTIC",
            "status": {"SuccessValue": ""}, "receipts_outcome": [],
            "transaction_outcome": {"outcome": {"gas_burnt": 1, "tokens_burnt": "0"}}})),
        other => Err(fake_rpc::view_panicked(&format!("unexpected {other}"))),
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        page_size: 4,
        ..config
    };
    let journal_path = NodeConfig::path_in(dir.path(), &config.journal).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let daemon = tokio::spawn({
        let home = dir.path().to_path_buf();
        async move {
            oracle::daemon::run_until(&home, config, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    eventually(
        "the attestation of the request after the unreadable one",
        || rpc.calls("send_tx") > 0,
    )
    .await;
    let metrics: String = {
        let addr =
            std::fs::read_to_string(dir.path().join(oracle::daemon::HTTP_ADDR_FILE)).unwrap();
        let mut stream = tokio::net::TcpStream::connect(addr.trim()).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
            .await
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        text
    };
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    assert!(
        !dir.path().join(oracle::daemon::HTTP_ADDR_FILE).exists(),
        "a stopped node leaves no address behind"
    );
    assert!(
        metrics.contains("oracle_node_unreadable_requests_total "),
        "{metrics}"
    );
    assert!(
        !metrics.contains("oracle_node_unreadable_requests_total 0"),
        "{metrics}"
    );
    let journal = Journal::open(&journal_path).unwrap();
    assert_eq!(
        journal.get(OURS).unwrap().unwrap().state,
        JobState::Finished(Finished::Attested)
    );
    for other in (10..10 + PENDING).filter(|id| *id != OURS) {
        assert!(journal.get(other).unwrap().is_none(), "request {other}");
    }
}
