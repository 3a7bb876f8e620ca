//! The daemon against a scripted chain: it refuses to start when the chain does not know it as
//! configured, its model cannot encode chat prompts, its journal is another deployment's, its
//! attestation key is its account key or its HTTP address is taken, keeps trying a resumed job
//! whose request cannot be read, misses one for a model it no longer serves, and stops though
//! an HTTP client stalls.

use crate::common::fake_rpc::{self, FakeRpc};
use crate::common::{
    eventually, home_attesting_with_the_account_key, node_home, quiet_chain, quiet_node,
    registered, request, spawn_node, uncommitted_request, CHAIN_ID,
};
use oracle::config::NodeConfig;
use oracle::journal::{Finished, JobState, Journal};
use oracle_protocol::RequestPhase;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The request a resumed job is for.
const RESUMED: u64 = 5;

/// Runs the daemon until it returns on its own; fails the test after 30 s.
async fn run_to_end(home: &std::path::Path, config: NodeConfig) -> anyhow::Result<()> {
    let run = oracle::daemon::run_until(home, config, std::future::pending());
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the daemon should have stopped by itself")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_node_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let rpc = FakeRpc::start(quiet_chain(Value::Null)).await;
    let (config, _) = node_home(dir.path(), vec![rpc.url.clone()]);
    let error = run_to_end(dir.path(), config).await.unwrap_err();
    assert!(
        format!("{error:#}").contains("is not registered"),
        "{error:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_registered_for_another_model_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let other = oracle_protocol::Digest32([9; 32]);
    let rpc = FakeRpc::start(quiet_chain(registered(dir.path(), &config, vec![other]))).await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let error = format!("{:#}", run_to_end(dir.path(), config).await.unwrap_err());
    assert!(error.contains(&model_id.to_string()), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_registered_under_another_spec_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let node = registered(dir.path(), &config, vec![model_id]);
    let rpc = FakeRpc::start(move |method, args| match method {
        "get_model" => Ok(fake_rpc::model(args, "detspec-0")),
        _ => quiet_chain(node.clone())(method, args),
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let error = format!("{:#}", run_to_end(dir.path(), config).await.unwrap_err());
    assert!(
        error.contains("detspec-0") && error.contains(kernels::SPEC_VERSION),
        "{error}"
    );
}

/// Every on-chain request is a chat prompt: a model without ChatML's control tokens would miss
/// each one while the node looked healthy, so it does not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_without_chat_control_tokens_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = node_home(dir.path(), Vec::new());
    // The tiny model with its `<|im_end|>` token renamed (same length, so the GGUF stays valid).
    let path = config.model.clone().unwrap();
    let gguf = std::fs::read(&path).unwrap();
    let (marker, renamed) = (b"<|im_end|>", b"<|im_enX|>");
    let at = gguf
        .windows(marker.len())
        .position(|window| window == marker)
        .unwrap();
    let mut changed = gguf.clone();
    changed[at..at + marker.len()].copy_from_slice(renamed);
    assert!(!changed.windows(marker.len()).any(|window| window == marker));
    std::fs::write(&path, changed).unwrap();
    let model_id =
        oracle_protocol::Digest32(kernels::model_cache::sha256_file(&path, false).unwrap());
    let node = registered(dir.path(), &config, vec![model_id]);
    let rpc = FakeRpc::start(quiet_chain(node)).await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let error = format!("{:#}", run_to_end(dir.path(), config).await.unwrap_err());
    assert!(
        error.contains(&model_id.to_string()) && error.contains("`<|im_end|>`"),
        "{error}"
    );
    assert_eq!(rpc.calls("list_pending_assignments"), 0, "it took no work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_on_different_chains_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let node = registered(dir.path(), &config, vec![model_id]);
    let testnet = FakeRpc::start(quiet_chain(node.clone())).await;
    let mainnet = FakeRpc::start(move |method, args| match method {
        "status" => Ok(fake_rpc::status("mainnet", 10)),
        _ => quiet_chain(node.clone())(method, args),
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![
            format!("{}/?apiKey=SECRET", testnet.url),
            format!("{}/?apiKey=SECRET", mainnet.url),
        ],
        ..config
    };
    let error = format!("{:#}", run_to_end(dir.path(), config).await.unwrap_err());
    assert!(
        error.contains("different chains") && error.contains("mainnet"),
        "{error}"
    );
    assert!(!error.contains("SECRET"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_of_another_deployment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id, _rpc) = quiet_node(dir.path()).await;
    let journal_path = NodeConfig::path_in(dir.path(), &config.journal).unwrap();
    {
        let journal = Journal::open(&journal_path).unwrap();
        journal.accept(0, &model_id.to_hex()).unwrap();
        journal
            .bind_deployment(CHAIN_ID, "old-oracle.test", &config.account_id)
            .unwrap();
    }
    let error = format!("{:#}", run_to_end(dir.path(), config).await.unwrap_err());
    assert!(
        error.contains(&journal_path.display().to_string())
            && error.contains("oracle contract old-oracle.test on chain")
            && error.contains("Set `journal` in config.toml to a new file"),
        "{error}"
    );
    let journal = Journal::open(&journal_path).unwrap();
    assert_eq!(
        journal.get(0).unwrap().unwrap().state,
        JobState::Accepted,
        "the old deployment's job is kept as it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_job_whose_request_cannot_be_read_is_tried_again() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let node = registered(dir.path(), &config, vec![model_id]);
    let reads = Arc::new(AtomicUsize::new(0));
    let rpc = FakeRpc::start({
        let reads = reads.clone();
        move |method, args| match method {
            // First a failure no retry inside one call fixes, then the request, timed out.
            "get_request" if reads.fetch_add(1, Ordering::SeqCst) == 0 => {
                Err(fake_rpc::view_panicked("storage read failed"))
            }
            "get_request" => Ok(request(
                args["request_id"].as_u64().unwrap(),
                model_id,
                RequestPhase::TimedOut,
            )),
            _ => quiet_chain(node.clone())(method, args),
        }
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let (state, health) = resume_job(dir.path(), config, &model_id.to_hex(), &rpc, 2).await;
    assert_eq!(health.queue_depth, 0, "the job's slot is given back");
    assert_eq!(health.status, "ok");
    assert!(
        matches!(&state, JobState::Finished(Finished::Late(reason)) if reason.contains("timed")),
        "{state:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_job_for_a_model_this_node_no_longer_serves_is_missed_without_computing() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let node = registered(dir.path(), &config, vec![model_id]);
    let old_model = oracle_protocol::Digest32([7; 32]);
    let rpc = FakeRpc::start(move |method, args| match method {
        "get_request" => Ok(request(
            args["request_id"].as_u64().unwrap(),
            old_model,
            RequestPhase::Pending,
        )),
        _ => quiet_chain(node.clone())(method, args),
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let (state, _) = resume_job(dir.path(), config, &old_model.to_hex(), &rpc, 1).await;
    assert!(
        matches!(&state, JobState::Finished(Finished::Missed(reason))
            if reason.contains(&format!("asks for model {old_model}"))
                && reason.contains(&format!("now serves {model_id}"))),
        "{state:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_commit_phase_closed_is_late_without_computing() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let node = registered(dir.path(), &config, vec![model_id]);
    let rpc = FakeRpc::start(move |method, args| match method {
        "get_request" => {
            let mut view = uncommitted_request(
                args["request_id"].as_u64().unwrap(),
                model_id,
                RequestPhase::Pending,
            );
            view["reveal_open"] = true.into();
            Ok(view)
        }
        _ => quiet_chain(node.clone())(method, args),
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let journal_path = NodeConfig::path_in(dir.path(), &config.journal).unwrap();
    let (state, _) = resume_job(dir.path(), config, &model_id.to_hex(), &rpc, 1).await;
    assert!(
        matches!(&state, JobState::Finished(Finished::Late(reason))
            if reason.contains("the commit phase closed")),
        "{state:?}"
    );
    let job = Journal::open(&journal_path).unwrap().get(RESUMED).unwrap();
    assert_eq!(job.unwrap().result_digest, None, "not computed");
    assert_eq!(rpc.calls("send_tx"), 0);
}

/// Runs the daemon of `dir` with request [`RESUMED`] accepted in its journal for model
/// `model_hex`, until it read the request `reads` times and gave the job's slot back (at most
/// 5 s); stops it and returns the job's journaled state and the last `/health`.
async fn resume_job(
    dir: &std::path::Path,
    config: NodeConfig,
    model_hex: &str,
    rpc: &FakeRpc,
    reads: usize,
) -> (JobState, oracle::health::HealthReport) {
    let journal_path = NodeConfig::path_in(dir, &config.journal).unwrap();
    Journal::open(&journal_path)
        .unwrap()
        .accept(RESUMED, model_hex)
        .unwrap();
    let (stop, daemon) = spawn_node(dir, config);
    eventually("the reads of the request", || {
        rpc.calls("get_request") >= reads
    })
    .await;
    let addr = std::fs::read_to_string(dir.join(oracle::daemon::HTTP_ADDR_FILE)).unwrap();
    let mut tries = 0;
    let health = loop {
        let health: oracle::health::HealthReport =
            oracle::commands::status::fetch_json(&addr, "/health")
                .await
                .unwrap();
        if health.queue_depth == 0 || tries == 100 {
            break health;
        }
        tries += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    let job = Journal::open(&journal_path).unwrap().get(RESUMED).unwrap();
    (job.unwrap().state, health)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_while_it_starts_takes_no_work() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let node = registered(dir.path(), &config, vec![model_id]);
    let rpc = FakeRpc::start(move |method, args| match method {
        "list_pending_assignments" => Ok(fake_rpc::assignments(&[request(
            RESUMED,
            model_id,
            RequestPhase::Pending,
        )])),
        _ => quiet_chain(node.clone())(method, args),
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let journal_path = NodeConfig::path_in(dir.path(), &config.journal).unwrap();
    let run = oracle::daemon::run_until(dir.path(), config, std::future::ready(()));
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the node stops by itself")
        .unwrap();
    assert_eq!(rpc.calls("list_pending_assignments"), 0, "no look for work");
    let journal = Journal::open(&journal_path).unwrap();
    assert!(journal.get(RESUMED).unwrap().is_none(), "no job taken");
}

/// An HTTP client that sent part of a request and went quiet holds up no stop: the server is
/// given a few seconds to finish its requests, then ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stalled_mid_request_holds_no_stop_up() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let (config, _, _rpc) = quiet_node(dir.path()).await;
    let (stop, daemon) = spawn_node(dir.path(), config);
    let addr_file = dir.path().join(oracle::daemon::HTTP_ADDR_FILE);
    eventually("the node's HTTP address", || {
        std::fs::read_to_string(&addr_file).is_ok_and(|addr| !addr.is_empty())
    })
    .await;
    let addr = std::fs::read_to_string(&addr_file).unwrap();
    let mut client = tokio::net::TcpStream::connect(addr.trim()).await.unwrap();
    client
        .write_all(b"GET /health HTTP/1.1\r\nHost: node\r\n")
        .await
        .unwrap();
    // The server reads the headers it got, and waits for the rest.
    tokio::time::sleep(Duration::from_millis(200)).await;

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("the node should stop within 10 s")
        .unwrap()
        .unwrap();
    drop(client);
}

/// An `http_addr` another program listens on stops the node with an error naming the option.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_addr_in_use_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (config, _, _rpc) = quiet_node(dir.path()).await;
    let config = NodeConfig {
        http_addr: taken.local_addr().unwrap().to_string(),
        ..config
    };
    let error = format!("{:#}", run_to_end(dir.path(), config).await.unwrap_err());
    assert!(
        error.contains(&format!("http_addr {}", taken.local_addr().unwrap()))
            && error.contains("set http_addr"),
        "{error}"
    );
}

/// A node whose attestation key file holds the account key (another file, the same key) does
/// not start: it must not sign attestations with its full-access account key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attestation_key_that_is_the_account_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = home_attesting_with_the_account_key(dir.path());
    let rpc = FakeRpc::start(quiet_chain(registered(dir.path(), &config, vec![model_id]))).await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let error = format!("{:#}", run_to_end(dir.path(), config).await.unwrap_err());
    assert!(
        error.contains("holds the account key") && error.contains("oracle-node init"),
        "{error}"
    );
    assert_eq!(rpc.calls("list_pending_assignments"), 0, "no work taken");
}
