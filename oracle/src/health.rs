//! The node's live health, shared by its tasks, and the `/health` answer built from it: the
//! chain's reachability, the jobs in hand, whether the engine keeps failing on this machine (a
//! node whose engine fails computes nothing, so it misses every request it is on), and the
//! node's standing with the oracle (a jailed, unbonding or unregistered node gets no new work).

use oracle_protocol::{NodeStatus, NodeView};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most characters of an engine error `/health` keeps; a longer message is cut to this
/// length, ending in `…`.
pub const MAX_ENGINE_ERROR_CHARS: usize = 500;

/// How long one engine step may run before `/health` calls the engine stalled: a step holds at
/// most 2048 tokens, seconds of work even on the scalar kernels of a slow machine.
pub const ENGINE_STALL_AFTER: Duration = Duration::from_secs(300);

/// When the engine's step in progress started (none while it is idle): the engine worker sets
/// it around each step, `/health` reads it, so an engine that hangs (a kernel that never
/// returns, a dead device) shows instead of a node that looks healthy while missing every
/// request.
#[derive(Debug, Default)]
pub struct StepClock {
    started: Mutex<Option<Instant>>,
}

impl StepClock {
    /// Runs `work` with the clock running; it stops however `work` ends, a panic included.
    pub fn time<T>(&self, work: impl FnOnce() -> T) -> T {
        struct Stopping<'a>(&'a StepClock);
        impl Drop for Stopping<'_> {
            fn drop(&mut self) {
                *self.0.started.lock().expect("not poisoned") = None;
            }
        }
        *self.started.lock().expect("not poisoned") = Some(Instant::now());
        let _stopping = Stopping(self);
        work()
    }

    /// How long the step in progress has run; `None` while idle.
    pub fn running_for(&self) -> Option<Duration> {
        self.started
            .lock()
            .expect("not poisoned")
            .map(|started| started.elapsed())
    }
}

/// The node's live state, shared by its tasks.
#[derive(Debug, Default)]
pub struct Health {
    /// Latest block height seen by the watcher.
    pub last_block_height: AtomicU64,
    /// Whether the last look at the chain got an answer.
    pub rpc_reachable: AtomicBool,
    /// Jobs accepted (or resumed) and not finished.
    pub in_flight: AtomicUsize,
    /// How the engine fares on this machine.
    engine: Mutex<EngineState>,
    /// This node's entry on chain, as last read.
    on_chain: Mutex<OnChain>,
    /// The engine's step in progress.
    pub engine_step: Arc<StepClock>,
    /// Unfinished jobs in the journal this node cannot read, by request id.
    unreadable_jobs: Mutex<Vec<u64>>,
    /// How many of those the journal may count as accepted or computed.
    unreadable_uncommitted: AtomicU64,
}

/// Whether the oracle gives this node new work, from its entry on chain (`get_node`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Not read yet, or reported by a node from before this field.
    #[default]
    Unknown,
    /// Chosen for committees.
    Active,
    /// Taken off committees until it unjails (`jailed_until`).
    Jailed,
    /// Left the oracle: its stake unbonds; no new committees.
    Unbonding,
    /// Not registered (its stake was withdrawn, or it never registered).
    Unregistered,
}

impl Standing {
    /// Whether the oracle gives this node new work (or, unknown, it may).
    pub fn gets_work(self) -> bool {
        matches!(self, Standing::Active | Standing::Unknown)
    }
}

impl std::fmt::Display for Standing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Standing::Unknown => "unknown",
            Standing::Active => "active",
            Standing::Jailed => "jailed",
            Standing::Unbonding => "unbonding",
            Standing::Unregistered => "unregistered",
        })
    }
}

/// What `/health` tells of this node's entry on chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnChain {
    pub standing: Standing,
    /// While jailed: the block from which it may unjail.
    pub jailed_until: Option<u64>,
    /// Requests in a row it let pass without committing (or, on a timeout, revealing).
    pub missed_commits: u32,
}

impl OnChain {
    /// `node` (`get_node`'s answer: `None` when not registered) as `/health` tells it.
    pub fn of(node: Option<&NodeView>) -> Self {
        let Some(node) = node else {
            return OnChain {
                standing: Standing::Unregistered,
                ..OnChain::default()
            };
        };
        let (standing, jailed_until) = match node.status {
            NodeStatus::Active => (Standing::Active, None),
            NodeStatus::Unbonding { .. } => (Standing::Unbonding, None),
            NodeStatus::Jailed { until } => (Standing::Jailed, Some(until)),
        };
        OnChain {
            standing,
            jailed_until,
            missed_commits: node.missed_commits,
        }
    }
}

/// The jobs whose last inference failed on this machine, each with its failures in a row, the
/// failures of jobs that ended (their request timed out, say) before an inference of theirs
/// worked, and the last such error. Kept per job, so a job that keeps failing (a device fault
/// its inputs trigger, say) keeps the node degraded while other jobs succeed, and results
/// recorded out of the order the engine ran them cannot clear a failure they did not follow.
/// A job's end is no sign the engine works: its failures stay until an inference works.
#[derive(Debug, Default, Clone)]
struct EngineState {
    failing_jobs: BTreeMap<u64, u64>,
    ended_failing: u64,
    last_error: Option<String>,
}

impl EngineState {
    fn failures(&self) -> u64 {
        self.failing_jobs.values().sum::<u64>() + self.ended_failing
    }
}

/// The `/health` answer, with HTTP 200 when `ok` and 503 otherwise. Fields added after the
/// first release have serde defaults, so a reader of this version reads an older node's answer
/// (an older reader ignores them, but expects 200: it reports a degraded node's 503 as the
/// daemon not answering).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// `ok`; `degraded` when the chain cannot be reached (`rpc_reachable` false, also from the
    /// start until the first look at it), a job's last inference failed on this machine
    /// (`engine_failures` above 0, `engine_error` says why), the engine has been in one step
    /// for more than [`ENGINE_STALL_AFTER`] (`engine_step_seconds`), the journal holds
    /// unfinished jobs the node cannot read (`unreadable_jobs`) or the oracle gives this
    /// node no new work (`standing` jailed, unbonding or unregistered); `failed` when the node stopped
    /// on a fatal error (`error`) and is about to exit, whatever else holds.
    pub status: String,
    /// The fatal error, when `status` is `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub account_id: String,
    pub last_block_height: u64,
    pub rpc_reachable: bool,
    pub queue_depth: usize,
    /// Inference runs that failed because of this machine (device, threads, floating-point
    /// mode, a panic in the engine), counted for each job since its own last attempt that
    /// worked, over the jobs whose last attempt failed, plus those of jobs that ended (their
    /// request timed out or was answered by others) while failing, until any inference works
    /// again; 0 while the engine works. Failures caused by a request do not count.
    #[serde(default)]
    pub engine_failures: u64,
    /// The last of those failures, at most [`MAX_ENGINE_ERROR_CHARS`] characters; absent while
    /// `engine_failures` is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_error: Option<String>,
    /// How long the engine's step in progress has run, in whole seconds; absent while the
    /// engine is idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_step_seconds: Option<u64>,
    /// This node's standing with the oracle, as read at start and every
    /// `standing_interval_ms` since: `active`, `jailed`, `unbonding` or `unregistered`
    /// (`unknown` from a node that does not report it).
    #[serde(default)]
    pub standing: Standing,
    /// While jailed: the block from which it may unjail (the node sends `unjail_node` itself
    /// then, if its stake is at least the oracle's minimum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jailed_until: Option<u64>,
    /// Requests in a row this node was on the committee of and let pass without committing (or,
    /// on a timeout, revealing); the oracle jails it at its `max_missed_commits`.
    #[serde(default)]
    pub missed_commits: u32,
    /// The requests of the unfinished jobs in the journal this node cannot read (written by a
    /// newer version, or damaged): it resumes the others, not these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable_jobs: Vec<u64>,
}

impl Health {
    /// Notes that this machine failed job `request_id`'s inference (`WorkerError::Machine`);
    /// returns that job's failures in a row, this one included.
    pub fn engine_failed(&self, request_id: u64, error: impl std::fmt::Display) -> u64 {
        let mut engine = self.engine.lock().expect("not poisoned");
        engine.last_error = Some(bounded(error.to_string()));
        let failures = engine.failing_jobs.entry(request_id).or_insert(0);
        *failures += 1;
        *failures
    }

    /// Notes that job `request_id`'s inference worked on this machine. Ends its failures in a
    /// row (returned; 0 when it had none) and those of jobs that ended failing.
    pub fn engine_worked(&self, request_id: u64) -> u64 {
        let mut engine = self.engine.lock().expect("not poisoned");
        let ended = engine.failing_jobs.remove(&request_id).unwrap_or(0);
        engine.ended_failing = 0;
        if engine.failing_jobs.is_empty() {
            engine.last_error = None;
        }
        ended
    }

    /// Notes that job `request_id` ended without an inference that worked (its request ended
    /// on chain, or was refused by the engine): its failures, if any, stay counted until an
    /// inference works.
    pub fn engine_job_ended(&self, request_id: u64) {
        let mut engine = self.engine.lock().expect("not poisoned");
        if let Some(failures) = engine.failing_jobs.remove(&request_id) {
            engine.ended_failing += failures;
        }
    }

    /// Failures of this machine since the last inference that worked for each job, over the
    /// jobs whose last inference failed on it and those that ended failing.
    pub fn engine_failures(&self) -> u64 {
        self.engine.lock().expect("not poisoned").failures()
    }

    /// The last failure of this machine, while [`Self::engine_failures`] is above 0.
    pub fn engine_error(&self) -> Option<String> {
        self.engine.lock().expect("not poisoned").last_error.clone()
    }

    /// How many unfinished jobs of the journal this node cannot read its journal may count as
    /// accepted or computed ([`crate::journal::Journal::uncommitted`]).
    pub fn unreadable_uncommitted(&self) -> u64 {
        self.unreadable_uncommitted.load(Ordering::Relaxed)
    }

    /// Notes the unfinished jobs of the journal this node cannot read, by request id, and how
    /// many of them the journal may count as accepted or computed.
    pub fn note_unreadable_jobs(&self, request_ids: Vec<u64>, uncommitted: u64) {
        *self.unreadable_jobs.lock().expect("not poisoned") = request_ids;
        self.unreadable_uncommitted
            .store(uncommitted, Ordering::Relaxed);
    }

    /// Notes this node's entry on chain (`get_node`'s answer); returns what was noted before.
    pub fn note_on_chain(&self, node: Option<&NodeView>) -> OnChain {
        std::mem::replace(
            &mut *self.on_chain.lock().expect("not poisoned"),
            OnChain::of(node),
        )
    }

    /// This node's entry on chain, as last noted.
    pub fn on_chain(&self) -> OnChain {
        *self.on_chain.lock().expect("not poisoned")
    }

    /// The report, given the fatal error the node stopped on (if any). One engine failure is
    /// enough to be `degraded`: a job that failed is not computed until it succeeds, and a
    /// passing fault clears when the job's retry (after 1 s) works.
    pub fn report(&self, account_id: &str, failure: Option<String>) -> HealthReport {
        let rpc_reachable = self.rpc_reachable.load(Ordering::Relaxed);
        let engine = self.engine.lock().expect("not poisoned").clone();
        let engine_failures = engine.failures();
        let on_chain = self.on_chain();
        let step = self.engine_step.running_for();
        let stalled = step.is_some_and(|running| running > ENGINE_STALL_AFTER);
        let unreadable_jobs = self.unreadable_jobs.lock().expect("not poisoned").clone();
        let status = if failure.is_some() {
            "failed"
        } else if !rpc_reachable
            || engine_failures > 0
            || stalled
            || !on_chain.standing.gets_work()
            || !unreadable_jobs.is_empty()
        {
            "degraded"
        } else {
            "ok"
        };
        HealthReport {
            status: status.into(),
            error: failure,
            account_id: account_id.to_string(),
            last_block_height: self.last_block_height.load(Ordering::Relaxed),
            rpc_reachable,
            queue_depth: self.in_flight.load(Ordering::Relaxed),
            engine_failures,
            engine_error: engine.last_error,
            engine_step_seconds: step.map(|running| running.as_secs()),
            standing: on_chain.standing,
            jailed_until: on_chain.jailed_until,
            missed_commits: on_chain.missed_commits,
            unreadable_jobs,
        }
    }
}

/// `message`, cut to at most [`MAX_ENGINE_ERROR_CHARS`] characters.
fn bounded(message: String) -> String {
    if message.chars().count() <= MAX_ENGINE_ERROR_CHARS {
        return message;
    }
    let mut cut: String = message.chars().take(MAX_ENGINE_ERROR_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reachable() -> Health {
        let health = Health::default();
        health.rpc_reachable.store(true, Ordering::Relaxed);
        health
    }

    #[test]
    fn unreadable_unfinished_jobs_degrade() {
        let health = reachable();
        health.note_unreadable_jobs(vec![5], 0);
        let report = health.report("n.test", None);
        assert_eq!(
            (report.status.as_str(), report.unreadable_jobs),
            ("degraded", vec![5])
        );
    }

    #[test]
    fn an_engine_stuck_in_one_step_degrades() {
        let health = reachable();
        assert_eq!(health.report("n.test", None).engine_step_seconds, None);
        let busy = health.engine_step.time(|| health.report("n.test", None));
        assert_eq!(
            (busy.status.as_str(), busy.engine_step_seconds),
            ("ok", Some(0))
        );
        let stalled = health.engine_step.time(|| {
            let long_ago = Instant::now() - ENGINE_STALL_AFTER - Duration::from_secs(1);
            *health.engine_step.started.lock().unwrap() = Some(long_ago);
            health.report("n.test", None)
        });
        assert_eq!(stalled.status, "degraded");
        assert!(stalled.engine_step_seconds.unwrap() > ENGINE_STALL_AFTER.as_secs());
        // Stopped however the step ends: a panic too.
        let panicked = std::panic::catch_unwind(|| health.engine_step.time(|| panic!("lost")));
        assert!(panicked.is_err());
        let idle = health.report("n.test", None);
        assert_eq!(
            (idle.status.as_str(), idle.engine_step_seconds),
            ("ok", None)
        );
    }

    #[test]
    fn an_unreachable_chain_degrades_and_a_fatal_error_fails() {
        let health = Health::default();
        assert_eq!(health.report("n.test", None).status, "degraded");
        health.rpc_reachable.store(true, Ordering::Relaxed);
        let ok = health.report("n.test", None);
        assert_eq!(ok.status, "ok");
        assert_eq!((ok.engine_failures, ok.engine_error), (0, None));
        let failed = health.report("n.test", Some("the journal failed".into()));
        assert_eq!(failed.status, "failed");
        assert_eq!(failed.error.as_deref(), Some("the journal failed"));
    }

    #[test]
    fn a_failing_engine_degrades_until_an_inference_succeeds() {
        let health = reachable();
        assert_eq!(health.engine_failed(7, "CUDA_ERROR_LAUNCH_FAILED"), 1);
        assert_eq!(health.engine_failed(7, "denormals are flushed"), 2);
        let report = health.report("n.test", None);
        assert_eq!(report.status, "degraded");
        assert!(report.rpc_reachable);
        assert_eq!(report.engine_failures, 2);
        assert_eq!(
            report.engine_error.as_deref(),
            Some("denormals are flushed")
        );
        assert_eq!(health.engine_failures(), 2);

        assert_eq!(health.engine_worked(7), 2);
        let report = health.report("n.test", None);
        assert_eq!(report.status, "ok");
        assert_eq!((report.engine_failures, report.engine_error), (0, None));
        assert_eq!(health.engine_worked(7), 0, "nothing left to clear");
    }

    #[test]
    fn another_jobs_success_does_not_clear_a_job_that_keeps_failing() {
        let health = reachable();
        health.engine_failed(1, "the engine panicked: index out of bounds");
        // Job 2 ran (and worked) before job 1's failure was recorded, or job 1's input keeps
        // tripping the engine while job 2's does not: either way job 1 still fails.
        assert_eq!(health.engine_worked(2), 0);
        let report = health.report("n.test", None);
        assert_eq!(report.status, "degraded");
        assert_eq!(report.engine_failures, 1);
        assert!(report.engine_error.unwrap().contains("panicked"));
        health.engine_failed(1, "the engine panicked again");
        health.engine_failed(3, "CUDA_ERROR_LAUNCH_FAILED");
        assert_eq!(health.engine_failures(), 3);
        health.engine_worked(1);
        assert_eq!(health.report("n.test", None).status, "degraded");
        health.engine_worked(3);
        assert_eq!(health.report("n.test", None).status, "ok");
    }

    #[test]
    fn a_job_that_ended_failing_keeps_the_node_degraded_until_an_inference_works() {
        let health = reachable();
        health.engine_failed(4, "CUDA_ERROR_ILLEGAL_ADDRESS");
        health.engine_failed(4, "CUDA_ERROR_ILLEGAL_ADDRESS");
        health.engine_failed(5, "CUDA_ERROR_ILLEGAL_ADDRESS");
        // Job 4's request timed out while the engine failed it; job 6 ended without ever failing.
        health.engine_job_ended(4);
        health.engine_job_ended(6);
        let report = health.report("n.test", None);
        assert_eq!(report.status, "degraded");
        assert_eq!(report.engine_failures, 3);
        assert!(report.engine_error.unwrap().contains("ILLEGAL_ADDRESS"));
        // Job 5 works now: the engine works, so job 4's failures are cleared with it.
        assert_eq!(health.engine_worked(5), 1);
        let report = health.report("n.test", None);
        assert_eq!(report.status, "ok");
        assert_eq!((report.engine_failures, report.engine_error), (0, None));
        // An ended job's failures are also cleared by a job that never failed.
        health.engine_failed(8, "the engine panicked");
        health.engine_job_ended(8);
        assert_eq!(health.engine_failures(), 1);
        assert_eq!(health.engine_worked(9), 0);
        assert_eq!(health.report("n.test", None).status, "ok");
    }

    #[test]
    fn a_fatal_error_wins_over_a_failing_engine() {
        let health = reachable();
        health.engine_failed(1, "the engine panicked: index out of bounds");
        let report = health.report("n.test", Some("the journal failed".into()));
        assert_eq!(report.status, "failed");
        assert_eq!(report.error.as_deref(), Some("the journal failed"));
        assert_eq!(report.engine_failures, 1);
    }

    #[test]
    fn a_long_engine_error_is_cut() {
        let health = reachable();
        health.engine_failed(1, "é".repeat(MAX_ENGINE_ERROR_CHARS + 10));
        let error = health.report("n.test", None).engine_error.unwrap();
        assert_eq!(error.chars().count(), MAX_ENGINE_ERROR_CHARS);
        assert!(error.ends_with('…'));
        let exact = "x".repeat(MAX_ENGINE_ERROR_CHARS);
        health.engine_failed(1, &exact);
        assert_eq!(health.report("n.test", None).engine_error, Some(exact));
    }

    #[test]
    fn an_older_nodes_answer_still_reads() {
        let old = r#"{"status":"ok","account_id":"n.test","last_block_height":7,
            "rpc_reachable":true,"queue_depth":0}"#;
        let report: HealthReport = serde_json::from_str(old).unwrap();
        assert_eq!((report.engine_failures, report.engine_error), (0, None));
        assert_eq!(
            (report.standing, report.jailed_until, report.missed_commits),
            (Standing::Unknown, None, 0)
        );
        let healthy = serde_json::to_value(reachable().report("n.test", None)).unwrap();
        assert!(healthy.get("engine_error").is_none(), "{healthy}");
        assert!(healthy.get("jailed_until").is_none(), "{healthy}");
        assert_eq!(healthy["engine_failures"], 0);
        assert_eq!(healthy["standing"], "unknown");
    }

    fn entry(status: NodeStatus, missed_commits: u32) -> NodeView {
        NodeView {
            account_id: "n.test".into(),
            attestation_key: "ed25519:11111111111111111111111111111111".into(),
            models: Vec::new(),
            stake: 5,
            status,
            registered_at: 1,
            missed_commits,
        }
    }

    #[test]
    fn a_node_the_oracle_gives_no_work_is_degraded() {
        let health = reachable();
        let before = health.note_on_chain(Some(&entry(NodeStatus::Active, 3)));
        assert_eq!(before, OnChain::default());
        let report = health.report("n.test", None);
        assert_eq!(report.status, "ok");
        assert_eq!(
            (report.standing, report.jailed_until, report.missed_commits),
            (Standing::Active, None, 3)
        );

        health.note_on_chain(Some(&entry(NodeStatus::Jailed { until: 70 }, 10)));
        let report = health.report("n.test", None);
        assert_eq!(report.status, "degraded");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            (
                &json["standing"],
                &json["jailed_until"],
                &json["missed_commits"]
            ),
            (&"jailed".into(), &70.into(), &10.into()),
            "{json}"
        );
        assert_eq!(
            serde_json::from_value::<HealthReport>(json).unwrap(),
            report
        );

        let unbonding = NodeStatus::Unbonding { unlocks_at: 900 };
        let before = health.note_on_chain(Some(&entry(unbonding, 0)));
        assert_eq!(before.jailed_until, Some(70));
        let report = health.report("n.test", None);
        assert_eq!(
            (report.status.as_str(), report.standing),
            ("degraded", Standing::Unbonding)
        );
        assert_eq!(report.jailed_until, None);

        health.note_on_chain(None);
        let report = health.report("n.test", None);
        assert_eq!(
            (report.status.as_str(), report.standing),
            ("degraded", Standing::Unregistered)
        );

        health.note_on_chain(Some(&entry(NodeStatus::Active, 0)));
        assert_eq!(health.report("n.test", None).status, "ok");
        assert_eq!(
            health
                .report("n.test", Some("the journal failed".into()))
                .status,
            "failed"
        );
    }
}
