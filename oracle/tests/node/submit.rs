//! The submitter against a scripted chain: a damaged journal entry stops the node instead of
//! being retried forever, a refused nonce is replaced by the one after the chain's, a computed
//! job commits, waits for the reveal phase and attests, jobs waiting for their reveal phase
//! keep no others from committing (nor do committed jobs resumed after a restart), a restarted
//! committed job reveals without committing again, a committed job reveals after its request
//! resolved (late) but not after it timed out — also when its commitment landed unjournaled, and
//! for its request's model after the node changed models, and while the model of a restarted
//! node still loads, or when it cannot start —, a computed job from before a model change is committed for its request's
//! model, a commitment refused because the
//! commit phase just closed ends the job late, an output the oracle would refuse is never
//! sent, and a request holding another member's commitment never revealed is cleaned up.

use crate::common::fake_rpc::{self, FakeRpc};
use crate::common::{
    eventually, node_home, registered, request, spawn_node, uncommitted_request, ACCOUNT, CHAIN_ID,
};
use base64::Engine as _;
use near_wire::{Action, SignedTransaction};
use oracle::config::NodeConfig;
use oracle::journal::{Computed, Finished, JobState, Journal};
use oracle_protocol::{
    AttestationMessage, Digest32, ModelId, RequestPhase, ResolvedOutput, Signature64,
};
use sdk::keys::Credentials;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The result this node journaled for every job of the commit–reveal tests.
const RESULT_DIGEST: &str = "abababababababababababababababababababababababababababababababab";
/// The output hash journaled with it (the scripted chain does not check it).
const OUTPUT_HASH: &str = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

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
            "tx" => Err(unknown_transaction(params)),
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

/// nearcore's answer to `tx` for a transaction it does not know: `UNKNOWN_TRANSACTION` only at
/// level `NONE`; at any other level it waits for it until its polling timeout (no need to here)
/// and answers `TIMEOUT_ERROR`.
fn unknown_transaction(params: &Value) -> Value {
    let cause = match params["wait_until"].as_str() {
        Some("NONE") => "UNKNOWN_TRANSACTION",
        _ => "TIMEOUT_ERROR",
    };
    json!({"name": "HANDLER_ERROR", "cause": {"name": cause, "info": {}},
        "code": -32000, "message": "Server error", "data": cause})
}

/// What the scripted chain of the commit–reveal tests holds: the requests this node's
/// commitment landed for, whether the reveal phase is open, where the requests stand (with the
/// answer a resolved one holds), whether the commit phase closes as a commitment is sent (the
/// contract refuses it), and the oracle methods sent, in order.
#[derive(Default)]
struct CommitReveal {
    committed: Mutex<BTreeSet<u64>>,
    reveal_open: AtomicBool,
    resolved_to: Mutex<Option<(RequestPhase, Option<ResolvedOutput>)>>,
    close_at_commit: AtomicBool,
    sent: Mutex<Vec<String>>,
    /// The model the requests ask for, when not the one the node serves.
    request_model: Mutex<Option<ModelId>>,
    /// The arguments of each `submit_attestation` sent.
    reveals: Mutex<Vec<Value>>,
    /// The requests `list_pending_assignments` lists (none by default).
    listed: Mutex<Vec<u64>>,
    /// Whether `get_request` fails as a view the contract refuses does.
    unreadable: AtomicBool,
}

impl CommitReveal {
    fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }

    fn count_sent(&self, method: &str) -> usize {
        self.sent().iter().filter(|m| *m == method).count()
    }

    fn is_committed(&self, request_id: u64) -> bool {
        self.committed.lock().unwrap().contains(&request_id)
    }

    fn commit(&self, request_id: u64) {
        self.committed.lock().unwrap().insert(request_id);
    }

    /// Request `request_id` ends in `status` (with `answer`) before this node reveals.
    fn end(&self, status: RequestPhase, answer: Option<ResolvedOutput>) {
        *self.resolved_to.lock().unwrap() = Some((status, answer));
    }
}

/// An answer the quorum agreed on: `result_digest` with the output "Paris".
fn answer(result_digest: &str) -> ResolvedOutput {
    ResolvedOutput {
        output: "Paris".into(),
        output_truncated: false,
        output_bytes: 5,
        result_digest: result_digest.parse().unwrap(),
        output_hash: OUTPUT_HASH.parse().unwrap(),
    }
}

/// The oracle's settings on the scripted chain: outputs of at most `max_output_bytes`.
fn oracle_config(max_output_bytes: u32) -> Value {
    json!({"committee_size": 1, "quorum": 1, "min_stake": "1", "unbonding_blocks": 1000,
        "slash_bps": 1000, "reporter_bps": 5000, "max_output_bytes": max_output_bytes,
        "max_inline_output_bytes": max_output_bytes, "retention_blocks": 100,
        "commit_window_blocks": 40})
}

/// The requests whose views show what `state` holds; each transaction sent lands, but a
/// commitment sent as the commit phase closes.
fn commit_reveal_chain(
    node: Value,
    model_id: ModelId,
    state: Arc<CommitReveal>,
    max_output_bytes: u32,
) -> impl Fn(&str, &Value) -> Result<Value, Value> {
    let quiet = pending_chain(node, model_id);
    move |method, params| match method {
        "get_config" => Ok(oracle_config(max_output_bytes)),
        "list_pending_assignments" => {
            let views: Vec<Value> = state
                .listed
                .lock()
                .unwrap()
                .iter()
                .map(|&id| uncommitted_request(id, model_id, RequestPhase::Pending))
                .collect();
            Ok(fake_rpc::assignments(&views))
        }
        "get_request" if state.unreadable.load(Ordering::SeqCst) => {
            Err(fake_rpc::view_panicked("the view cannot be served"))
        }
        "get_request" => {
            let id = params["request_id"].as_u64().unwrap();
            let model_id = state.request_model.lock().unwrap().unwrap_or(model_id);
            let mut view = if state.is_committed(id) {
                request(id, model_id, RequestPhase::Pending)
            } else {
                uncommitted_request(id, model_id, RequestPhase::Pending)
            };
            view["reveal_open"] = state.reveal_open.load(Ordering::SeqCst).into();
            if let Some((status, answer)) = state.resolved_to.lock().unwrap().clone() {
                view["status"] = serde_json::to_value(status).unwrap();
                view["answer"] = serde_json::to_value(answer).unwrap();
            }
            Ok(view)
        }
        "send_tx" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(params["signed_tx_base64"].as_str().unwrap())
                .unwrap();
            let signed = SignedTransaction::from_bytes(&bytes).unwrap();
            let Action::FunctionCall(call) = &signed.transaction.actions[0] else {
                panic!("not a function call");
            };
            let args: Value = serde_json::from_slice(&call.args).unwrap();
            let request_id = args["request_id"].as_u64().unwrap();
            state.sent.lock().unwrap().push(call.method_name.clone());
            if call.method_name == "submit_attestation" {
                state.reveals.lock().unwrap().push(args.clone());
            }
            if call.method_name == "commit_attestation" {
                if state.close_at_commit.load(Ordering::SeqCst) {
                    state.reveal_open.store(true, Ordering::SeqCst);
                    return Ok(fake_rpc::panicked(&format!(
                        "the commit phase of request {request_id} is closed: its window ended \
                         at block 41 with 0 of 1 members committed"
                    )));
                }
                state.commit(request_id);
            }
            Ok(fake_rpc::landed())
        }
        _ => quiet(method, params),
    }
}

/// A node on `home` with a scripted commit–reveal chain, the jobs of `request_ids` journaled
/// (computed, or committed too) with `output`.
async fn commit_reveal_node(
    home: &std::path::Path,
    state: Arc<CommitReveal>,
    request_ids: std::ops::RangeInclusive<u64>,
    committed: bool,
    output: &str,
    max_output_bytes: u32,
) -> (FakeRpc, NodeConfig) {
    let (config, model_id) = node_home(home, Vec::new());
    // Jobs are accepted for the model their requests ask for.
    let request_model = state.request_model.lock().unwrap().unwrap_or(model_id);
    let rpc = FakeRpc::start(commit_reveal_chain(
        registered(home, &config, vec![model_id]),
        model_id,
        state,
        max_output_bytes,
    ))
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let journal = Journal::open(&NodeConfig::path_in(home, &config.journal).unwrap()).unwrap();
    for request_id in request_ids {
        journal.accept(request_id, &request_model.to_hex()).unwrap();
        journal
            .record_computed(
                request_id,
                Computed {
                    output: output.into(),
                    result_digest: RESULT_DIGEST.into(),
                    output_hash: OUTPUT_HASH.into(),
                },
            )
            .unwrap();
        if committed {
            journal.record_committed(request_id).unwrap();
        }
    }
    (rpc, config)
}

/// A model file whose load waits until this is dropped: a named pipe that no one writes to. On
/// drop its writing end opens and closes (without blocking: when nothing reads, nothing
/// waits), so a load blocked on it reads an empty file and fails, and the test ends.
struct LoadingModel(std::path::PathBuf);

impl LoadingModel {
    fn new(dir: &std::path::Path) -> Self {
        let path = dir.join("loading.gguf");
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
        assert_eq!(made, 0, "mkfifo {}", path.display());
        Self(path)
    }
}

impl Drop for LoadingModel {
    /// Opens the writing end once a reader waits (for at most 10 s: a load that has not reached
    /// the pipe by then never will in this test), and closes it.
    fn drop(&mut self) {
        use std::os::unix::fs::OpenOptionsExt;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let opened = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.0);
            match opened {
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => return,
            }
        }
    }
}

/// Runs a node whose commitment to request 5 is on chain, with the reveal phase open (the job
/// journaled as committed, or only as computed when `journaled_committed` is false), until it
/// sends its first transaction; then stops it. Returns its config, for the journal.
async fn reveal_once(
    home: &std::path::Path,
    state: &Arc<CommitReveal>,
    journaled_committed: bool,
) -> NodeConfig {
    state.commit(5);
    state.reveal_open.store(true, Ordering::SeqCst);
    let (_rpc, config) = commit_reveal_node(
        home,
        state.clone(),
        5..=5,
        journaled_committed,
        "Paris",
        4096,
    )
    .await;
    let (stop, daemon) = spawn_node(home, config.clone());
    eventually("the reveal", || !state.sent().is_empty()).await;
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    config
}

fn job_state(home: &std::path::Path, config: &NodeConfig) -> JobState {
    job_state_of(home, config, 5)
}

fn job_state_of(home: &std::path::Path, config: &NodeConfig, request_id: u64) -> JobState {
    let journal = Journal::open(&NodeConfig::path_in(home, &config.journal).unwrap()).unwrap();
    journal.get(request_id).unwrap().unwrap().state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_computed_job_commits_waits_for_the_reveal_phase_then_attests() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    let (rpc, config) =
        commit_reveal_node(dir.path(), state.clone(), 5..=5, false, "Paris", 4096).await;
    let (stop, daemon) = spawn_node(dir.path(), config.clone());
    eventually("the commitment", || state.is_committed(5)).await;
    // While the phase is closed the node only reads the request.
    let reads = rpc.calls("get_request");
    eventually("a few more reads", || rpc.calls("get_request") >= reads + 3).await;
    assert_eq!(state.sent(), ["commit_attestation"], "nothing revealed yet");
    state.reveal_open.store(true, Ordering::SeqCst);
    eventually("the reveal", || state.sent().len() == 2).await;
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    assert_eq!(state.sent(), ["commit_attestation", "submit_attestation"]);
    assert_eq!(
        job_state(dir.path(), &config),
        JobState::Finished(Finished::Attested)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_after_committing_reveals_without_committing_again() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    let config = reveal_once(dir.path(), &state, true).await;
    assert_eq!(state.sent(), ["submit_attestation"], "no second commitment");
    assert_eq!(
        job_state(dir.path(), &config),
        JobState::Finished(Finished::Attested)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_longer_than_the_oracle_takes_is_missed_without_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    let (rpc, config) =
        commit_reveal_node(dir.path(), state.clone(), 5..=5, false, "Paris", 4).await;
    let (stop, daemon) = spawn_node(dir.path(), config.clone());
    // Once the settings are read the job ends at once; a clean stop lets it journal that.
    eventually("the oracle's settings read", || rpc.calls("get_config") > 0).await;
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    let state_now = job_state(dir.path(), &config);
    assert!(
        matches!(&state_now, JobState::Finished(Finished::Missed(reason))
            if reason.contains("the output is 5 bytes and the oracle accepts at most 4")),
        "{state_now:?}"
    );
    assert_eq!(rpc.calls("send_tx"), 0, "nothing signed or sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_waiting_for_their_reveal_phase_keep_none_from_committing() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    // More jobs than the submitter works on at once (16).
    let (_rpc, config) =
        commit_reveal_node(dir.path(), state.clone(), 1..=20, false, "Paris", 4096).await;
    let (stop, daemon) = spawn_node(dir.path(), config.clone());
    eventually("20 commitments while no reveal phase is open", || {
        state.count_sent("commit_attestation") == 20
    })
    .await;
    assert_eq!(
        state.count_sent("submit_attestation"),
        0,
        "nothing revealed yet"
    );
    state.reveal_open.store(true, Ordering::SeqCst);
    eventually("20 reveals", || {
        state.count_sent("submit_attestation") == 20
    })
    .await;
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    for request_id in 1..=20 {
        assert_eq!(
            job_state_of(dir.path(), &config, request_id),
            JobState::Finished(Finished::Attested),
            "request {request_id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_reveals_while_its_model_is_still_loading() {
    restarted_node_reveals_while_its_model_loads(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commitment_that_landed_unjournaled_is_revealed_while_the_model_is_still_loading() {
    // Journaled as computed only: the chain says whether the commitment landed.
    restarted_node_reveals_while_its_model_loads(false).await;
}

async fn restarted_node_reveals_while_its_model_loads(journaled_committed: bool) {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    state.commit(5);
    state.reveal_open.store(true, Ordering::SeqCst);
    let (_rpc, config) = commit_reveal_node(
        dir.path(),
        state.clone(),
        5..=5,
        journaled_committed,
        "Paris",
        4096,
    )
    .await;
    // A model that does not load until the test lets it: a named pipe nobody writes to yet.
    let fifo = LoadingModel::new(dir.path());
    let config = NodeConfig {
        model: Some(fifo.0.clone()),
        ..config
    };
    let (stop, daemon) = spawn_node(dir.path(), config.clone());
    eventually("the reveal", || !state.sent().is_empty()).await;
    assert_eq!(state.sent(), ["submit_attestation"]);
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    assert_eq!(
        job_state(dir.path(), &config),
        JobState::Finished(Finished::Attested)
    );
}

/// After this node revealed, request 5 resolved with another member's commitment (when
/// `guesser`) never revealed; the chain is at block 10 and the request cleanable from block 5.
/// Returns the oracle methods the node sent by 300 ms (six sweeps) after it first read that view
/// (and, with a guesser, sent its cleanup).
async fn sent_after_the_cleanup_sweep(guesser: bool) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    state.commit(5);
    state.reveal_open.store(true, Ordering::SeqCst);
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let reveal_chain = commit_reveal_chain(
        registered(dir.path(), &config, vec![model_id]),
        model_id,
        state.clone(),
        4096,
    );
    let seen = state.clone();
    let resolved_reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = resolved_reads.clone();
    let rpc = FakeRpc::start(move |method, params| {
        if method != "get_request" || !seen.sent().contains(&"submit_attestation".to_string()) {
            return reveal_chain(method, params);
        }
        counted.fetch_add(1, Ordering::SeqCst);
        let mut view = reveal_chain(method, params)?;
        let mut committed = vec![json!({"node": ACCOUNT, "commitment": "09".repeat(32)})];
        if guesser {
            committed.push(json!({"node": "guesser.test", "commitment": "08".repeat(32)}));
        }
        view["commitments"] = committed.into();
        view["committee"] = json!([ACCOUNT, "guesser.test", "other.test"]);
        view["attested"] = json!([ACCOUNT, "other.test"]);
        view["status"] = json!("resolved");
        view["answer"] = serde_json::to_value(answer(RESULT_DIGEST)).unwrap();
        view["cleanable_at"] = 5.into();
        Ok(view)
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        standing_interval_ms: 50,
        ..config
    };
    let journal =
        Journal::open(&NodeConfig::path_in(dir.path(), &config.journal).unwrap()).unwrap();
    journal.accept(5, &model_id.to_hex()).unwrap();
    let computed = Computed {
        output: "Paris".into(),
        result_digest: RESULT_DIGEST.into(),
        output_hash: OUTPUT_HASH.into(),
    };
    journal.record_computed(5, computed).unwrap();
    journal.record_committed(5).unwrap();
    drop(journal);
    let (stop, daemon) = spawn_node(dir.path(), config.clone());
    eventually("a sweep's read of the resolved request", || {
        resolved_reads.load(Ordering::SeqCst) > 0
    })
    .await;
    if guesser {
        eventually("the cleanup", || {
            state.sent().contains(&"cleanup_request".to_string())
        })
        .await;
    }
    // Six more sweeps: nothing (more) is sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    state.sent()
}

/// A request this node answered that holds another member's commitment never revealed is
/// cleaned up by this node once its view says it may be (the oracle pays the reporter's reward
/// to whoever cleans it up, and slashes the member); one whose committed members all revealed
/// is left to its refund account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_holding_a_commitment_never_revealed_is_cleaned_up_by_its_members() {
    assert_eq!(
        sent_after_the_cleanup_sweep(true).await,
        ["submit_attestation", "cleanup_request"]
    );
    assert_eq!(
        sent_after_the_cleanup_sweep(false).await,
        ["submit_attestation"]
    );
}

/// A node restarted with a model that does not load (an upgrade gone wrong) cannot start, but
/// it still reveals what it committed to (a reveal needs no engine) before it exits with the
/// error: leaving it unrevealed would be slashed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_cannot_start_reveals_its_commitments_before_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    state.commit(5);
    let (_rpc, config) =
        commit_reveal_node(dir.path(), state.clone(), 5..=5, true, "Paris", 4096).await;
    let missing = dir.path().join("missing.gguf");
    let config = NodeConfig {
        model: Some(missing.clone()),
        ..config
    };
    let (_stop, daemon) = spawn_node(dir.path(), config.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!daemon.is_finished(), "it waits for the reveal phase");
    assert!(state.sent().is_empty());
    state.reveal_open.store(true, Ordering::SeqCst);
    let error = tokio::time::timeout(Duration::from_secs(30), daemon)
        .await
        .expect("the node exits once it revealed")
        .unwrap()
        .unwrap_err();
    assert!(
        format!("{error:#}").contains(&missing.display().to_string()),
        "{error:#}"
    );
    assert_eq!(state.sent(), ["submit_attestation"]);
    assert_eq!(
        job_state(dir.path(), &config),
        JobState::Finished(Finished::Attested)
    );
}

/// A node that stopped as its commitment was on its way (journaled as computed, not yet on
/// chain when the restarted node first reads the request) and that then cannot start watches
/// the request while it takes commitments: the commitment that lands late is revealed before
/// the node exits; one that never lands leaves the job computed, nothing sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_cannot_start_reveals_a_commitment_that_lands_after_its_restart() {
    for lands in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let state = Arc::new(CommitReveal::default());
        let (_rpc, config) =
            commit_reveal_node(dir.path(), state.clone(), 5..=5, false, "Paris", 4096).await;
        let config = NodeConfig {
            model: Some(dir.path().join("missing.gguf")),
            ..config
        };
        let (_stop, daemon) = spawn_node(dir.path(), config.clone());
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!daemon.is_finished(), "it watches the request");
        if lands {
            state.commit(5);
        }
        state.reveal_open.store(true, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(30), daemon)
            .await
            .expect("the node exits once the request takes no more commitments")
            .unwrap()
            .unwrap_err();
        if lands {
            assert_eq!(state.sent(), ["submit_attestation"]);
            assert_eq!(
                job_state(dir.path(), &config),
                JobState::Finished(Finished::Attested)
            );
        } else {
            assert!(state.sent().is_empty(), "{:?}", state.sent());
            assert!(matches!(
                job_state(dir.path(), &config),
                JobState::Computed(_)
            ));
        }
    }
}

/// A node that cannot start, whose computed job's request cannot be read (a view the contract
/// refuses), does not watch it for ever: it exits with its error, the job left computed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_cannot_start_gives_up_a_request_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    state.unreadable.store(true, Ordering::SeqCst);
    let (_rpc, config) =
        commit_reveal_node(dir.path(), state.clone(), 5..=5, false, "Paris", 4096).await;
    let config = NodeConfig {
        model: Some(dir.path().join("missing.gguf")),
        ..config
    };
    let (_stop, daemon) = spawn_node(dir.path(), config.clone());
    tokio::time::timeout(Duration::from_secs(30), daemon)
        .await
        .expect("the node exits")
        .unwrap()
        .unwrap_err();
    assert!(state.sent().is_empty());
    assert!(matches!(
        job_state(dir.path(), &config),
        JobState::Computed(_)
    ));
}

/// An unfinished journal entry the node cannot read (a newer version's, or damaged) keeps it
/// from resuming that job only: the other committed jobs are revealed (one unreadable entry
/// stopping the node left every commitment unrevealed, slashed), and the entry is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_journal_entry_keeps_no_other_job_from_being_revealed() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    state.commit(5);
    let (_rpc, config) =
        commit_reveal_node(dir.path(), state.clone(), 5..=5, true, "Paris", 4096).await;
    let journal_path = NodeConfig::path_in(dir.path(), &config.journal).unwrap();
    let unreadable = br#"{"request_id":6,"model_id":"m","state":{"Revealing":null}}"#;
    {
        let db = redb::Database::create(&journal_path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(redb::TableDefinition::<u64, &[u8]>::new("jobs"))
            .unwrap()
            .insert(6, unreadable.as_slice())
            .unwrap();
        tx.commit().unwrap();
    }
    state.reveal_open.store(true, Ordering::SeqCst);
    let (stop, daemon) = spawn_node(dir.path(), config.clone());
    eventually("the reveal", || state.count_sent("submit_attestation") == 1).await;
    assert!(!daemon.is_finished(), "the node runs on");
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    assert_eq!(
        job_state(dir.path(), &config),
        JobState::Finished(Finished::Attested)
    );
    let journal = Journal::open(&journal_path).unwrap();
    assert!(journal.contains(6).unwrap(), "kept");
}

/// A node at `max_in_flight` only with jobs waiting for their reveal phase (a silent member
/// keeps it shut for the whole commit window) still takes new requests: those jobs hold no
/// engine or commit place, and a node that stopped taking work would miss every new request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_waiting_for_their_reveal_phase_keep_no_new_request_out() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    state.commit(5);
    let (_rpc, config) =
        commit_reveal_node(dir.path(), state.clone(), 5..=5, true, "Paris", 4096).await;
    let config = NodeConfig {
        max_in_flight: 1,
        ..config
    };
    state.listed.lock().unwrap().push(6);
    let (stop, daemon) = spawn_node(dir.path(), config.clone());
    eventually("the new request's commitment", || state.is_committed(6)).await;
    assert_eq!(
        state.count_sent("submit_attestation"),
        0,
        "no reveal phase open"
    );
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
}

/// A node stopped just as a committed job's reveal phase opened reveals it before it exits:
/// stopped for longer than the rest of that phase, it would leave its commitment unrevealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_reveals_the_commitments_whose_reveal_phase_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    state.commit(5);
    let (rpc, config) =
        commit_reveal_node(dir.path(), state.clone(), 5..=5, true, "Paris", 4096).await;
    let (stop, daemon) = spawn_node(dir.path(), config.clone());
    let reads = rpc.calls("get_request");
    eventually("the job waiting for its reveal phase", || {
        rpc.calls("get_request") > reads + 2
    })
    .await;
    state.reveal_open.store(true, Ordering::SeqCst);
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    assert_eq!(state.sent(), ["submit_attestation"]);
    assert_eq!(
        job_state(dir.path(), &config),
        JobState::Finished(Finished::Attested)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_job_reveals_after_its_request_resolved_and_ends_late() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    state.end(RequestPhase::Resolved, Some(answer(RESULT_DIGEST)));
    let config = reveal_once(dir.path(), &state, true).await;
    assert_eq!(state.sent(), ["submit_attestation"]);
    let state_now = job_state(dir.path(), &config);
    assert!(
        matches!(&state_now, JobState::Finished(Finished::Late(reason))
            if reason.contains("resolved before this node revealed")
                && reason.contains("agrees with the answer")),
        "{state_now:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commitment_that_landed_unjournaled_is_revealed_after_the_resolution() {
    // The commitment landed, but the node stopped (or its send failed) before journaling it,
    // and the request resolved meanwhile: the node must still reveal, or be slashed at cleanup.
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    state.end(RequestPhase::Resolved, Some(answer(RESULT_DIGEST)));
    let config = reveal_once(dir.path(), &state, false).await;
    assert_eq!(state.sent(), ["submit_attestation"], "no second commitment");
    let state_now = job_state(dir.path(), &config);
    assert!(
        matches!(&state_now, JobState::Finished(Finished::Late(reason))
            if reason.contains("agrees with the answer")),
        "{state_now:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_job_is_revealed_for_its_requests_model_after_the_node_changed_models() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    let other_model = Digest32([7; 32]);
    *state.request_model.lock().unwrap() = Some(other_model);
    let config = reveal_once(dir.path(), &state, true).await;
    assert_eq!(state.sent(), ["submit_attestation"]);
    assert_eq!(
        job_state(dir.path(), &config),
        JobState::Finished(Finished::Attested)
    );
    // Signed for the request's model, as the commitment was, not the one the node serves now.
    assert!(revealed_for(dir.path(), &config, &state, other_model));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_computed_job_is_committed_and_revealed_for_its_requests_model_after_a_model_change() {
    // Computed before the node changed models: the result is the request's model's, so the job
    // goes on, signed for that model.
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    let other_model = Digest32([7; 32]);
    *state.request_model.lock().unwrap() = Some(other_model);
    let (_rpc, config) =
        commit_reveal_node(dir.path(), state.clone(), 5..=5, false, "Paris", 4096).await;
    let (stop, daemon) = spawn_node(dir.path(), config.clone());
    eventually("the commitment", || state.is_committed(5)).await;
    state.reveal_open.store(true, Ordering::SeqCst);
    eventually("the reveal", || state.sent().len() == 2).await;
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    assert_eq!(state.sent(), ["commit_attestation", "submit_attestation"]);
    assert!(revealed_for(dir.path(), &config, &state, other_model));
}

/// Whether the first reveal sent carries this node's signature of the attestation of request 5
/// for `model_id`.
fn revealed_for(
    home: &std::path::Path,
    config: &NodeConfig,
    state: &CommitReveal,
    model_id: ModelId,
) -> bool {
    let reveal = state.reveals.lock().unwrap()[0].clone();
    let (_, key) =
        Credentials::read(&NodeConfig::path_in(home, &config.attestation_key).unwrap()).unwrap();
    let signature: Signature64 = serde_json::from_value(reveal["signature"].clone()).unwrap();
    let message = AttestationMessage {
        chain_id: CHAIN_ID.into(),
        oracle_contract: config.oracle_contract.clone(),
        request_id: 5,
        node: ACCOUNT.into(),
        model_id,
        result_digest: RESULT_DIGEST.parse().unwrap(),
        output_hash: OUTPUT_HASH.parse().unwrap(),
    };
    sdk::attest::verify(&key.public_key(), &message, &signature.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_job_whose_request_timed_out_ends_late_without_a_reveal() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    state.commit(5);
    state.reveal_open.store(true, Ordering::SeqCst);
    state.end(RequestPhase::TimedOut, None);
    let (rpc, config) =
        commit_reveal_node(dir.path(), state.clone(), 5..=5, true, "Paris", 4096).await;
    let (stop, daemon) = spawn_node(dir.path(), config.clone());
    // The job ends on its first read; a clean stop lets it journal that.
    eventually("the request read", || rpc.calls("get_request") > 0).await;
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    assert_eq!(
        rpc.calls("send_tx"),
        0,
        "the contract takes nothing after a timeout"
    );
    let state_now = job_state(dir.path(), &config);
    assert!(
        matches!(&state_now, JobState::Finished(Finished::Late(reason))
            if reason.contains("timed_out")),
        "{state_now:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commitment_refused_as_the_commit_phase_closes_ends_the_job_late() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    state.close_at_commit.store(true, Ordering::SeqCst);
    let (rpc, config) =
        commit_reveal_node(dir.path(), state.clone(), 5..=5, false, "Paris", 4096).await;
    let (stop, daemon) = spawn_node(dir.path(), config.clone());
    // Read before committing, and again on the refusal: then the job ends.
    eventually("the request read after the refusal", || {
        !state.sent().is_empty() && rpc.calls("get_request") >= 2
    })
    .await;
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    assert_eq!(state.sent(), ["commit_attestation"]);
    let state_now = job_state(dir.path(), &config);
    assert!(
        matches!(&state_now, JobState::Finished(Finished::Late(reason))
            if reason.contains("the commit phase closed before this node committed")),
        "{state_now:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_committed_jobs_wait_for_their_reveal_without_keeping_others_from_committing() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(CommitReveal::default());
    for request_id in 1..=20 {
        state.commit(request_id);
    }
    let (_rpc, config) =
        commit_reveal_node(dir.path(), state.clone(), 1..=20, true, "Paris", 4096).await;
    let journal =
        Journal::open(&NodeConfig::path_in(dir.path(), &config.journal).unwrap()).unwrap();
    let model_id = journal.get(1).unwrap().unwrap().model_id;
    journal.accept(21, &model_id).unwrap();
    journal
        .record_computed(
            21,
            Computed {
                output: "Paris".into(),
                result_digest: RESULT_DIGEST.into(),
                output_hash: OUTPUT_HASH.into(),
            },
        )
        .unwrap();
    drop(journal);
    let (stop, daemon) = spawn_node(dir.path(), config.clone());
    eventually("the computed job's commitment", || state.is_committed(21)).await;
    assert_eq!(state.sent(), ["commit_attestation"], "nothing revealed yet");
    state.reveal_open.store(true, Ordering::SeqCst);
    eventually("21 reveals", || {
        state.count_sent("submit_attestation") == 21
    })
    .await;
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    assert_eq!(
        state.count_sent("commit_attestation"),
        1,
        "none committed again"
    );
}
