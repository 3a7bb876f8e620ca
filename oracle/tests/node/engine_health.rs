//! The daemon whose engine fails on this machine (the `fail_inferences` fault injection):
//! `/health` turns degraded naming the error, `oracle-node status` shows it, and the first
//! successful inference clears it; a job that keeps failing ends with its request.

use crate::common::fake_rpc::{self, FakeRpc};
use crate::common::{node_home, registered, uncommitted_request, CHAIN_ID};
use oracle::config::{FaultInjection, NodeConfig, CONFIG_FILE};
use oracle::health::HealthReport;
use oracle::journal::{Finished, JobState, Journal};
use oracle_protocol::{ModelId, RequestPhase};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The request the journal holds as accepted when the node starts.
const REQUEST_ID: u64 = 5;

/// A chain where this node is registered and request [`REQUEST_ID`] is pending for its first
/// `pending_reads` reads (the compute stage's: one before the first inference, one after each
/// failed one) and `then` from then on (so the submitter sends nothing).
fn chain(
    node: Value,
    model_id: ModelId,
    pending_reads: usize,
    then: RequestPhase,
) -> impl Fn(&str, &Value) -> Result<Value, Value> {
    let reads = AtomicUsize::new(0);
    move |method, args| match method {
        "status" => Ok(fake_rpc::status(CHAIN_ID, 10)),
        "get_node" => Ok(node.clone()),
        "get_model" => Ok(fake_rpc::model(args, kernels::SPEC_VERSION)),
        "list_pending_assignments" => Ok(fake_rpc::assignments(&[])),
        "get_request" => {
            let phase = if reads.fetch_add(1, Ordering::SeqCst) < pending_reads {
                RequestPhase::Pending
            } else {
                then
            };
            // This node never commits here: a request that ended is late for it.
            Ok(uncommitted_request(
                args["request_id"].as_u64().unwrap(),
                model_id,
                phase,
            ))
        }
        other => Err(fake_rpc::view_panicked(&format!("unexpected {other}"))),
    }
}

/// A running daemon: its journal, HTTP address, stop switch and task.
struct Daemon {
    journal: PathBuf,
    addr: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Daemon {
    /// Starts a node in `dir` whose engine fails `fail_inferences` runs, with request
    /// [`REQUEST_ID`] accepted in its journal, pending for `pending_reads` reads and `then`
    /// after; the config is written to the home, as `status` reads it.
    async fn start(
        dir: &Path,
        fail_inferences: u32,
        pending_reads: usize,
        then: RequestPhase,
    ) -> (Self, FakeRpc) {
        let (config, model_id) = node_home(dir, Vec::new());
        let node = registered(dir, &config, vec![model_id]);
        let rpc = FakeRpc::start(chain(node, model_id, pending_reads, then)).await;
        let config = NodeConfig {
            rpc_urls: vec![rpc.url.clone()],
            fault_injection: FaultInjection {
                fail_inferences,
                ..FaultInjection::default()
            },
            ..config
        };
        std::fs::write(dir.join(CONFIG_FILE), config.to_toml()).unwrap();
        let journal = NodeConfig::path_in(dir, &config.journal).unwrap();
        Journal::open(&journal)
            .unwrap()
            .accept(REQUEST_ID, &model_id.to_hex())
            .unwrap();
        let (stop, task) = crate::common::spawn_node(dir, config);
        let addr_file = dir.join(oracle::daemon::HTTP_ADDR_FILE);
        let started = Instant::now();
        let addr = loop {
            // Written once the server listens (read empty between its creation and write).
            match std::fs::read_to_string(&addr_file) {
                Ok(addr) if !addr.trim().is_empty() => break addr.trim().to_string(),
                _ => {}
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no http.addr");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let daemon = Self {
            journal,
            addr,
            stop,
            task,
        };
        (daemon, rpc)
    }

    /// Polls `/health` until `wanted` holds (at most 30 s) and returns that report.
    async fn health_until(
        &self,
        what: &str,
        wanted: impl Fn(&HealthReport) -> bool,
    ) -> HealthReport {
        let started = Instant::now();
        loop {
            let health: HealthReport = oracle::commands::status::fetch_json(&self.addr, "/health")
                .await
                .unwrap();
            if wanted(&health) {
                return health;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}: {health:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The HTTP status code of `/health` (its JSON is read by [`Self::health_until`]).
    async fn health_http_code(&self) -> String {
        let addr = self.addr.clone();
        let answer = tokio::task::spawn_blocking(move || http_get(&addr, "/health"))
            .await
            .unwrap();
        answer
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }

    /// Stops the daemon (a clean stop) and returns the journaled state of [`REQUEST_ID`].
    async fn stop(self) -> JobState {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
        let journal = Journal::open(&self.journal).unwrap();
        journal.get(REQUEST_ID).unwrap().unwrap().state
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_engine_degrades_health_until_an_inference_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    // Pending through the two failures and the inference that works; resolved for the submitter.
    let (daemon, _rpc) = Daemon::start(dir.path(), 2, 3, RequestPhase::Resolved).await;
    let failing = daemon
        .health_until("a failing engine", |h| h.engine_failures > 0)
        .await;
    assert_eq!(failing.status, "degraded", "{failing:?}");
    assert!(failing.rpc_reachable, "{failing:?}");
    let error = failing.engine_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("failed on this machine") && error.contains("FAULT INJECTION"),
        "{failing:?}"
    );
    let second = daemon
        .health_until("the second failure", |h| h.engine_failures >= 2)
        .await;
    assert!(second.engine_error.unwrap().contains("failure 2 of 2"));
    let recovered = daemon
        .health_until("the job computed and finished", |h| h.queue_depth == 0)
        .await;
    assert_eq!(recovered.status, "ok", "{recovered:?}");
    assert_eq!(
        (recovered.engine_failures, recovered.engine_error),
        (0, None)
    );
    assert_eq!(daemon.health_http_code().await, "200");
    let state = daemon.stop().await;
    assert!(
        matches!(&state, JobState::Finished(Finished::Late(reason)) if reason.contains("resolved")),
        "the job was computed after the failures, then found resolved: {state:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_node_status_shows_an_engine_that_keeps_failing() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, _rpc) =
        Daemon::start(dir.path(), u32::MAX, usize::MAX, RequestPhase::Pending).await;
    let failing = daemon
        .health_until("a failing engine", |h| h.engine_failures > 0)
        .await;
    assert_eq!(failing.status, "degraded", "{failing:?}");
    assert_eq!(
        daemon.health_http_code().await,
        "503",
        "a plain HTTP check sees the degraded node"
    );
    let home = dir.path().to_path_buf();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_oracle-node"))
            .args(["status", "--home"])
            .arg(&home)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{status:?}");
    assert!(printed.contains("daemon:    degraded"), "{printed}");
    assert!(
        printed.contains("engine:    FAILING")
            && printed.contains("FAULT INJECTION: inference failure"),
        "{printed}"
    );
    let metrics = {
        let addr = daemon.addr.clone();
        tokio::task::spawn_blocking(move || http_get(&addr, "/metrics"))
            .await
            .unwrap()
    };
    let gauge: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("oracle_node_engine_unrecovered_failures "))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no engine failure gauge in\n{metrics}"));
    assert!(gauge >= failing.engine_failures, "{metrics}");
    assert_eq!(daemon.stop().await, JobState::Accepted, "nothing computed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_failing_ends_when_its_request_times_out() {
    let dir = tempfile::tempdir().unwrap();
    // Pending for the first read and the one after the first failure; timed out at the next.
    let (daemon, _rpc) = Daemon::start(dir.path(), u32::MAX, 2, RequestPhase::TimedOut).await;
    let ended = daemon
        .health_until("the job given up", |h| h.queue_depth == 0)
        .await;
    assert_eq!(
        (ended.status.as_str(), ended.engine_failures),
        ("degraded", 2),
        "the engine never worked, so the node stays degraded: {ended:?}"
    );
    assert!(ended.engine_error.unwrap().contains("FAULT INJECTION"));
    let state = daemon.stop().await;
    assert!(
        matches!(&state, JobState::Finished(Finished::Late(reason)) if reason.contains("timed_out")),
        "the job ended with its request, not computed again until the node stops: {state:?}"
    );
}

/// The body of `GET path` from the daemon at `addr`.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}
