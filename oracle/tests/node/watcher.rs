//! The watcher against a scripted chain: it lists this node's assignments (ids only) and reads
//! each new one whole; a request whose view cannot be read does not hide the ones after it, and
//! listed requests that are not this node's after all are not taken — nor read again in later
//! rounds; a listing whose next index does not move forward ends the round.

use crate::common::fake_rpc::{self, FakeRpc};
use crate::common::{eventually, node_home, registered, request, spawn_node, CHAIN_ID};
use oracle::config::NodeConfig;
use oracle::journal::{Finished, JobState, Journal};
use oracle::pipeline::READ_ROUNDS;
use oracle_protocol::RequestPhase;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The listed requests: ids 10 to 14, on two pages of `PAGE` (the listing is what a faulty
/// endpoint might say: the full views decide).
const LISTED: [u64; 5] = [10, 11, 12, 13, 14];
const PAGE: u64 = 3;
/// Its view cannot be read (a view's return is capped at 4 MiB).
const UNREADABLE: u64 = 12;
/// The only request really this node's, right after the unreadable one.
const OURS: u64 = 13;
/// Already attested by this node, per its full view.
const ATTESTED: u64 = 14;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_after_an_unreadable_one_is_still_attested() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let node = registered(dir.path(), &config, vec![model_id]);
    let view = move |request_id: u64| {
        let mut view = request(request_id, model_id, RequestPhase::Pending);
        match request_id {
            OURS => {}
            ATTESTED => view["attested"] = json!([crate::common::ACCOUNT]),
            _ => view["committee"] = json!(["someone-else.test"]),
        }
        view
    };
    let reads = Arc::new(Mutex::new(HashMap::<u64, usize>::new()));
    let counted = reads.clone();
    let rpc = FakeRpc::start(move |method, args: &Value| match method {
        "status" => Ok(fake_rpc::status(CHAIN_ID, 10)),
        "get_node" => Ok(node.clone()),
        "get_model" => Ok(fake_rpc::model(args, kernels::SPEC_VERSION)),
        "list_pending_assignments" => {
            assert_eq!(args["account_id"], crate::common::ACCOUNT);
            let from = args["from_index"].as_u64().unwrap() as usize;
            let to = (from + PAGE as usize).min(LISTED.len());
            let views: Vec<Value> = LISTED[from..to].iter().map(|id| view(*id)).collect();
            let mut page = fake_rpc::assignments(&views);
            page["next_index"] = json!((to < LISTED.len()).then_some(to));
            Ok(page)
        }
        "get_request" => {
            let id = args["request_id"].as_u64().unwrap();
            *counted.lock().unwrap().entry(id).or_default() += 1;
            if id == UNREADABLE {
                Err(fake_rpc::view_panicked(
                    "wasm execution failed with error: HostError(ReturnedValueLengthExceeded)",
                ))
            } else {
                Ok(view(id))
            }
        }
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
        page_size: PAGE as u32,
        ..config
    };
    let journal_path = NodeConfig::path_in(dir.path(), &config.journal).unwrap();
    let (stop, daemon) = spawn_node(dir.path(), config);
    eventually(
        "the attestation of the request after the unreadable one",
        || rpc.calls("send_tx") > 0,
    )
    .await;
    // Three more rounds (two pages each) list the same requests again.
    let listed = rpc.calls("list_pending_assignments");
    eventually("three more rounds", || {
        rpc.calls("list_pending_assignments") >= listed + 6
    })
    .await;
    let metrics = metrics_of(dir.path()).await;
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    assert!(
        !dir.path().join(oracle::daemon::HTTP_ADDR_FILE).exists(),
        "a stopped node leaves no address behind"
    );
    assert!(
        metrics.contains("oracle_node_unreadable_requests_total 1\n"),
        "counted once: {metrics}"
    );
    let reads = reads.lock().unwrap();
    for skipped in LISTED.into_iter().filter(|id| *id != OURS) {
        assert_eq!(reads.get(&skipped), Some(&1), "reads of request {skipped}");
    }
    let journal = Journal::open(&journal_path).unwrap();
    assert_eq!(
        journal.get(OURS).unwrap().unwrap().state,
        JobState::Finished(Finished::Attested)
    );
    for other in LISTED.into_iter().filter(|id| *id != OURS) {
        assert!(journal.get(other).unwrap().is_none(), "request {other}");
    }
}

/// An endpoint that cannot serve a view for a moment (nearcore's `TIMEOUT_ERROR` of a busy
/// view client, not the contract refusing it): the request is read again in the next round
/// and attested; one whose view does not come for `READ_ROUNDS` rounds is counted once and read
/// every `READ_ROUNDS` rounds from then on — and attested once the endpoint serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_an_endpoint_could_not_serve_is_read_again_in_the_next_rounds() {
    const LATE: u64 = 20;
    const SLOW: u64 = 21;
    let rounds = READ_ROUNDS as usize;
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let node = registered(dir.path(), &config, vec![model_id]);
    let reads = Arc::new(Mutex::new(HashMap::<u64, usize>::new()));
    let counted = reads.clone();
    let busy = json!({"name": "HANDLER_ERROR", "cause": {"name": "TIMEOUT_ERROR", "info": {}},
        "code": -32000, "message": "Server error", "data": "Timeout"});
    let rpc = FakeRpc::start(move |method, args: &Value| match method {
        "status" => Ok(fake_rpc::status(CHAIN_ID, 10)),
        "get_node" => Ok(node.clone()),
        "get_model" => Ok(fake_rpc::model(args, kernels::SPEC_VERSION)),
        "list_pending_assignments" => Ok(fake_rpc::assignments(&[
            request(LATE, model_id, RequestPhase::Pending),
            request(SLOW, model_id, RequestPhase::Pending),
        ])),
        "get_request" => {
            let id = args["request_id"].as_u64().unwrap();
            let mut reads = counted.lock().unwrap();
            let read = reads.entry(id).or_default();
            *read += 1;
            match (id, *read) {
                (LATE, 1) => Err(busy.clone()),
                (SLOW, read) if read <= rounds + 1 => Err(busy.clone()),
                _ => Ok(request(id, model_id, RequestPhase::Pending)),
            }
        }
        "block" => Ok(json!({"header": {"hash": "11111111111111111111111111111111"}})),
        "query" => Ok(
            json!({"nonce": 5, "permission": "FullAccess", "block_height": 1,
            "block_hash": "11111111111111111111111111111111"}),
        ),
        "send_tx" => Ok(fake_rpc::landed()),
        other => Err(fake_rpc::view_panicked(&format!("unexpected {other}"))),
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let journal_path = NodeConfig::path_in(dir.path(), &config.journal).unwrap();
    let (stop, daemon) = spawn_node(dir.path(), config);
    eventually("the attestation of the request read again", || {
        rpc.calls("send_tx") > 0
    })
    .await;
    // The journal is the running node's: its metrics tell when both are attested.
    let mut metrics = String::new();
    for _ in 0..1000 {
        metrics = metrics_of(dir.path()).await;
        if metrics.contains("oracle_node_jobs_finished_total{state=\"attested\"} 2\n") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    assert!(
        metrics.contains("oracle_node_unreadable_requests_total 1\n"),
        "counted once: {metrics}"
    );
    // Accepted at its read after `rounds + 1` failed ones (the submitter reads it later too);
    // its reads after the third waited their rounds.
    assert!(reads.lock().unwrap()[&SLOW] >= rounds + 2);
    assert!(rpc.calls("list_pending_assignments") >= 3 * rounds);
    let journal = Journal::open(&journal_path).unwrap();
    for attested in [LATE, SLOW] {
        assert_eq!(
            journal.get(attested).unwrap().unwrap().state,
            JobState::Finished(Finished::Attested)
        );
    }
}

/// An endpoint whose listing says "next: page 0" forever: each round reads that page once and
/// ends, so the watcher keeps polling (with its pause) instead of listing without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_that_does_not_move_forward_ends_the_round() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let node = registered(dir.path(), &config, vec![model_id]);
    let rpc = FakeRpc::start(move |method, args: &Value| match method {
        "status" => Ok(fake_rpc::status(CHAIN_ID, 10)),
        "get_node" => Ok(node.clone()),
        "get_model" => Ok(fake_rpc::model(args, kernels::SPEC_VERSION)),
        "list_pending_assignments" => {
            let mut page = fake_rpc::assignments(&[]);
            page["next_index"] = json!(0);
            Ok(page)
        }
        other => Err(fake_rpc::view_panicked(&format!("unexpected {other}"))),
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let (stop, daemon) = spawn_node(dir.path(), config);
    eventually("several rounds", || rpc.calls("status") >= 6).await;
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    let (rounds, pages) = (rpc.calls("status"), rpc.calls("list_pending_assignments"));
    assert!(pages <= rounds, "{pages} pages listed in {rounds} rounds");
}

/// The node's `/metrics` page, read from the address it wrote in `home`.
async fn metrics_of(home: &std::path::Path) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = std::fs::read_to_string(home.join(oracle::daemon::HTTP_ADDR_FILE)).unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr.trim()).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    text
}
