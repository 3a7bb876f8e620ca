//! The node's standing against a scripted chain: a jailed node sends exactly one `unjail_node`
//! once its jail time is over (none before, none while its stake is below the minimum, none
//! while its engine fails on this machine, until an inference works or a restart), tries a
//! refused one again after a wait that doubles with each refusal in a row (never at once),
//! and `/health` is degraded while it is jailed or no longer registered, and healthy again
//! once the chain shows it active or the oracle took its `unjail_node`.

use crate::common::fake_rpc::{self, FakeRpc};
use crate::common::{
    eventually, node_home, oracle_node, registered, request, save_config, spawn_node, CHAIN_ID,
};
use base64::Engine as _;
use near_wire::{Action, SignedTransaction};
use oracle::config::{FaultInjection, NodeConfig};
use oracle::health::{HealthReport, Standing};
use oracle::journal::Journal;
use oracle_protocol::{ModelId, NodeStatus, RequestPhase};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Milliseconds between two standing checks of the node under test.
const STANDING_INTERVAL_MS: u64 = 100;
/// The oracle's `min_stake` on the scripted chain.
const MIN_STAKE: u64 = 10;

/// The request a node's journal holds as accepted when it starts, if the test gives it one.
const REQUEST_ID: u64 = 5;

/// What the scripted chain holds: the head's height, this node's entry (status, stake, missed
/// commitments; gone once withdrawn), how many `unjail_node` calls it refuses before it takes
/// one, when each one came (with the reads of the entry before it), and how many times the
/// entry and request [`REQUEST_ID`] were read.
struct Chain {
    height: AtomicU64,
    status: Mutex<NodeStatus>,
    stake: AtomicU64,
    withdrawn: AtomicBool,
    refusals_left: AtomicUsize,
    unjails: Mutex<Vec<Unjail>>,
    entry_reads: AtomicUsize,
    request_reads: AtomicUsize,
}

/// An `unjail_node` call the chain received: when, and after how many reads of the entry.
#[derive(Debug, Clone, Copy)]
struct Unjail {
    at: Instant,
    entry_reads: usize,
}

impl Chain {
    fn jailed(until: u64, height: u64, stake: u64) -> Arc<Self> {
        Arc::new(Self {
            height: AtomicU64::new(height),
            status: Mutex::new(NodeStatus::Jailed { until }),
            stake: AtomicU64::new(stake),
            withdrawn: AtomicBool::new(false),
            refusals_left: AtomicUsize::new(0),
            unjails: Mutex::new(Vec::new()),
            entry_reads: AtomicUsize::new(0),
            request_reads: AtomicUsize::new(0),
        })
    }

    fn unjails(&self) -> Vec<Unjail> {
        self.unjails.lock().unwrap().clone()
    }

    /// `get_node`'s answer: `node` (the entry as registered) as the chain holds it now.
    fn entry(&self, mut node: Value) -> Value {
        self.entry_reads.fetch_add(1, Ordering::SeqCst);
        if self.withdrawn.load(Ordering::SeqCst) {
            return Value::Null;
        }
        node["status"] = serde_json::to_value(&*self.status.lock().unwrap()).unwrap();
        node["stake"] = self.stake.load(Ordering::SeqCst).to_string().into();
        node["missed_commits"] = 10.into();
        node
    }

    /// `send_tx`'s answer to an `unjail_node` call: refused while refusals are left, else the
    /// node is active again (the contract checks the rest; the node must not send too early).
    fn unjail(&self) -> Value {
        self.unjails.lock().unwrap().push(Unjail {
            at: Instant::now(),
            entry_reads: self.entry_reads.load(Ordering::SeqCst),
        });
        let refuse = self
            .refusals_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if refuse {
            return fake_rpc::panicked("node0.test serves a model with no free seat");
        }
        *self.status.lock().unwrap() = NodeStatus::Active;
        fake_rpc::landed()
    }
}

/// The method of the function call `params` (a `send_tx`'s) sends.
fn sent_method(params: &Value) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(params["signed_tx_base64"].as_str().unwrap())
        .unwrap();
    let signed = SignedTransaction::from_bytes(&bytes).unwrap();
    let Action::FunctionCall(call) = &signed.transaction.actions[0] else {
        panic!("not a function call");
    };
    call.method_name.clone()
}

/// The scripted chain; request [`REQUEST_ID`] (for `model_id`) is pending for its first
/// `job.pending_reads` reads and `job.then` after, when the test gives the node a job.
fn scripted(
    chain: Arc<Chain>,
    node: Value,
    model_id: ModelId,
    job: Option<Job>,
) -> impl Fn(&str, &Value) -> Result<Value, Value> {
    move |method, args| match method {
        "status" => Ok(fake_rpc::status(
            CHAIN_ID,
            chain.height.load(Ordering::SeqCst),
        )),
        "get_node" => Ok(chain.entry(node.clone())),
        "get_model" => Ok(fake_rpc::model(args, kernels::SPEC_VERSION)),
        "get_config" => Ok(json!({"committee_size": 1, "quorum": 1,
            "min_stake": MIN_STAKE.to_string(), "unbonding_blocks": 1000, "slash_bps": 1000,
            "reporter_bps": 5000, "max_output_bytes": 64, "max_inline_output_bytes": 64,
            "retention_blocks": 100, "commit_window_blocks": 40, "max_missed_commits": 10,
            "jail_blocks": 1000})),
        "list_pending_assignments" => Ok(fake_rpc::assignments(&[])),
        "block" => Ok(json!({"header": {"hash": "11111111111111111111111111111111"}})),
        "query" => Ok(
            json!({"nonce": 5, "permission": "FullAccess", "block_height": 1,
            "block_hash": "11111111111111111111111111111111"}),
        ),
        "get_request" if job.is_some() => {
            let job = job.unwrap();
            let phase = if chain.request_reads.fetch_add(1, Ordering::SeqCst) < job.pending_reads {
                RequestPhase::Pending
            } else {
                job.then
            };
            Ok(request(REQUEST_ID, model_id, phase))
        }
        "send_tx" if sent_method(args) == "unjail_node" => Ok(chain.unjail()),
        other => Err(fake_rpc::view_panicked(&format!("unexpected {other}"))),
    }
}

/// Request [`REQUEST_ID`], accepted in the journal of a node that starts: pending for its
/// first `pending_reads` reads and `then` from then on (so the submitter sends nothing).
#[derive(Debug, Clone, Copy)]
struct Job {
    pending_reads: usize,
    then: RequestPhase,
}

/// How a node under test starts: its standing interval, the inference runs its engine fails
/// (the `fail_inferences` fault injection) and the job in its journal, if any.
#[derive(Debug, Clone, Copy)]
struct Setup {
    standing_interval_ms: u64,
    fail_inferences: u32,
    job: Option<Job>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            standing_interval_ms: STANDING_INTERVAL_MS,
            fail_inferences: 0,
            job: None,
        }
    }
}

/// A running node on the scripted chain: its endpoint, config, HTTP address, stop switch and
/// task.
struct Node {
    rpc: FakeRpc,
    config: NodeConfig,
    addr: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Node {
    async fn start(dir: &Path, chain: Arc<Chain>) -> Self {
        Self::start_with(dir, chain, Setup::default()).await
    }

    async fn start_with(dir: &Path, chain: Arc<Chain>, setup: Setup) -> Self {
        let (config, model_id) = node_home(dir, Vec::new());
        let node = registered(dir, &config, vec![model_id]);
        let rpc = FakeRpc::start(scripted(chain, node, model_id, setup.job)).await;
        let config = NodeConfig {
            rpc_urls: vec![rpc.url.clone()],
            standing_interval_ms: setup.standing_interval_ms,
            fault_injection: FaultInjection {
                fail_inferences: setup.fail_inferences,
                ..FaultInjection::default()
            },
            ..config
        };
        if setup.job.is_some() {
            Journal::open(&NodeConfig::path_in(dir, &config.journal).unwrap())
                .unwrap()
                .accept(REQUEST_ID, &model_id.to_hex())
                .unwrap();
        }
        Self::run(dir, rpc, config).await
    }

    /// Runs a node in `dir` (already set up) with `config` on the chain `rpc` serves.
    async fn run(dir: &Path, rpc: FakeRpc, config: NodeConfig) -> Self {
        save_config(dir, &config);
        let (stop, task) = spawn_node(dir, config.clone());
        let addr_file = dir.join(oracle::daemon::HTTP_ADDR_FILE);
        eventually("the node's HTTP address", || {
            std::fs::read_to_string(&addr_file).is_ok_and(|addr| !addr.trim().is_empty())
        })
        .await;
        let addr = std::fs::read_to_string(&addr_file)
            .unwrap()
            .trim()
            .to_string();
        Self {
            rpc,
            config,
            addr,
            stop,
            task,
        }
    }

    /// Stops the node and starts it again with `config` (its operator's fix), on the same chain.
    async fn restart(self, dir: &Path, config: NodeConfig) -> Self {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
        Self::run(dir, self.rpc, config).await
    }

    async fn health(&self) -> HealthReport {
        oracle::commands::status::fetch_json(&self.addr, "/health")
            .await
            .unwrap()
    }

    /// Polls `/health` until `wanted` holds (at most 20 s) and returns that report.
    async fn health_until(
        &self,
        what: &str,
        wanted: impl Fn(&HealthReport) -> bool,
    ) -> HealthReport {
        let started = Instant::now();
        loop {
            let health = self.health().await;
            if wanted(&health) {
                return health;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no {what}: {health:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for `checks` more standing checks (reads of this node's entry).
    async fn checks(&self, checks: usize) {
        let read = self.rpc.calls("get_node");
        eventually("more standing checks", || {
            self.rpc.calls("get_node") >= read + checks
        })
        .await;
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// What `oracle-node status` prints for the node in `dir`.
async fn printed_status(dir: &Path) -> String {
    let home = dir.to_path_buf();
    let status = tokio::task::spawn_blocking(move || {
        oracle_node(["status".as_ref(), "--home".as_ref(), home.as_os_str()])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(status.status.success(), "{status:?}");
    String::from_utf8(status.stdout).unwrap()
}

fn is_jailed_until(health: &HealthReport, until: u64) -> bool {
    health.status == "degraded"
        && health.standing == Standing::Jailed
        && health.jailed_until == Some(until)
        && health.missed_commits == 10
}

fn is_active_and_ok(health: &HealthReport) -> bool {
    health.status == "ok" && health.standing == Standing::Active && health.jailed_until.is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jailed_node_unjails_itself_once_when_its_jail_time_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::jailed(20, 10, MIN_STAKE);
    let node = Node::start(dir.path(), chain.clone()).await;
    node.health_until("jailed health", |h| is_jailed_until(h, 20))
        .await;
    node.checks(3).await;
    assert!(
        chain.unjails().is_empty(),
        "unjail_node sent before block 20"
    );
    assert!(is_jailed_until(&node.health().await, 20));
    let printed = printed_status(dir.path()).await;
    for line in [
        "status jailed (may call unjail_node from block 20)",
        "10 requests in a row passed without a commitment from this node",
        "a running node sends unjail_node itself from block 20",
        "daemon:    degraded — block 10, rpc reachable true, queue depth 0, standing jailed \
         (until block 20)",
    ] {
        assert!(printed.contains(line), "no `{line}` in:\n{printed}");
    }

    chain.height.store(20, Ordering::SeqCst);
    node.health_until("health once unjailed", is_active_and_ok)
        .await;
    node.checks(3).await;
    assert_eq!(chain.unjails().len(), 1, "exactly one unjail_node");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jailed_node_below_the_minimum_stake_sends_nothing_until_topped_up() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::jailed(5, 10, MIN_STAKE - 1);
    let node = Node::start(dir.path(), chain.clone()).await;
    let configs_read = node.rpc.calls("get_config");
    eventually("a few checks of the minimum stake", || {
        node.rpc.calls("get_config") >= configs_read + 3
    })
    .await;
    assert!(
        chain.unjails().is_empty(),
        "unjail_node sent below the minimum"
    );
    assert!(is_jailed_until(&node.health().await, 5));

    chain.stake.store(MIN_STAKE, Ordering::SeqCst);
    node.health_until("health once unjailed", is_active_and_ok)
        .await;
    node.checks(3).await;
    assert_eq!(chain.unjails().len(), 1, "exactly one unjail_node");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_unjail_is_sent_again_after_a_wait_that_doubles_with_each_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::jailed(5, 10, MIN_STAKE);
    chain.refusals_left.store(3, Ordering::SeqCst);
    let node = Node::start(dir.path(), chain.clone()).await;
    node.health_until("health once unjailed", is_active_and_ok)
        .await;
    node.checks(3).await;
    let unjails = chain.unjails();
    assert_eq!(unjails.len(), 4, "three refused ones, then the one taken");
    for (refusals, pair) in unjails.windows(2).enumerate() {
        let gap = pair[1].at - pair[0].at;
        let wait = Duration::from_millis(STANDING_INTERVAL_MS << refusals);
        assert!(
            gap >= wait,
            "sent again {gap:?} after refusal {}, not {wait:?}",
            refusals + 1
        );
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_unjail_shows_the_node_active_before_the_next_check() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::jailed(5, 10, MIN_STAKE);
    let setup = Setup {
        standing_interval_ms: 1500,
        ..Setup::default()
    };
    let node = Node::start_with(dir.path(), chain.clone(), setup).await;
    let health = node
        .health_until("health once unjailed", is_active_and_ok)
        .await;
    assert_eq!(health.missed_commits, 0, "unjail_node sets it back to 0");
    let unjails = chain.unjails();
    assert_eq!(unjails.len(), 1);
    assert_eq!(
        chain.entry_reads.load(Ordering::SeqCst),
        unjails[0].entry_reads,
        "active in /health before the entry was read again"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jailed_node_whose_engine_fails_unjails_only_once_an_inference_works() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::jailed(20, 10, MIN_STAKE);
    // Pending through the two failures and the inference that works; resolved for the submitter.
    let setup = Setup {
        fail_inferences: 2,
        job: Some(Job {
            pending_reads: 3,
            then: RequestPhase::Resolved,
        }),
        ..Setup::default()
    };
    let node = Node::start_with(dir.path(), chain.clone(), setup).await;
    node.health_until("a failing engine", |h| {
        h.engine_failures > 0 && is_jailed_until(h, 20)
    })
    .await;
    // Its jail time is over while its engine fails (1 s, then 2 s before the next tries).
    chain.height.store(20, Ordering::SeqCst);
    node.checks(3).await;
    assert!(
        chain.unjails().is_empty(),
        "unjail_node sent while the engine fails"
    );
    assert!(
        node.health().await.engine_failures > 0,
        "the engine still fails"
    );

    node.health_until("health once unjailed", is_active_and_ok)
        .await;
    node.checks(3).await;
    assert_eq!(chain.unjails().len(), 1, "exactly one unjail_node");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jailed_node_whose_engine_failed_to_the_end_unjails_once_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::jailed(20, 10, MIN_STAKE);
    // Pending for the first read and the one after the first failure; timed out at the next:
    // the job ends failing, and a jailed node gets no other job whose inference could work.
    let setup = Setup {
        fail_inferences: u32::MAX,
        job: Some(Job {
            pending_reads: 2,
            then: RequestPhase::TimedOut,
        }),
        ..Setup::default()
    };
    let node = Node::start_with(dir.path(), chain.clone(), setup).await;
    node.health_until("the job ended failing", |h| {
        h.queue_depth == 0 && h.engine_failures == 2 && is_jailed_until(h, 20)
    })
    .await;
    chain.height.store(20, Ordering::SeqCst);
    node.checks(3).await;
    assert!(
        chain.unjails().is_empty(),
        "unjail_node sent while the engine fails"
    );

    // The operator fixes the machine and restarts the node.
    let fixed = NodeConfig {
        fault_injection: FaultInjection::default(),
        ..node.config.clone()
    };
    let node = node.restart(dir.path(), fixed).await;
    node.health_until("health once unjailed", is_active_and_ok)
        .await;
    assert_eq!(chain.unjails().len(), 1, "exactly one unjail_node");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_entry_is_withdrawn_reports_itself_degraded() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::jailed(5, 10, MIN_STAKE);
    *chain.status.lock().unwrap() = NodeStatus::Active;
    let node = Node::start(dir.path(), chain.clone()).await;
    node.health_until("active health", is_active_and_ok).await;

    chain.withdrawn.store(true, Ordering::SeqCst);
    let health = node
        .health_until("unregistered health", |h| {
            h.standing == Standing::Unregistered
        })
        .await;
    assert_eq!(health.status, "degraded");
    assert!(chain.unjails().is_empty());
    node.stop().await;
}
