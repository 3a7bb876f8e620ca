//! What every stage of the pipeline shares: the config, the chain, the journal, the keys,
//! metrics and health, and the stop signal. (The engine is not part of it: the submitter runs
//! before the model has loaded.)

use crate::attestation::Deployment;
use crate::chain::OracleChain;
use crate::config::NodeConfig;
use crate::health::Health;
use crate::journal::{Finished, Journal, JournalError};
use crate::metrics::Metrics;
use sdk::keys::SecretKey;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{error, info, warn};

/// The stop signal: set once, seen by every stage. A stop caused by a fatal error (a journal
/// that cannot be written, a stage that died) carries that error, so the daemon exits with it
/// instead of reporting a clean stop.
#[derive(Clone)]
pub struct Stop {
    sender: Arc<watch::Sender<bool>>,
    failure: Arc<Mutex<Option<String>>>,
}

impl Default for Stop {
    fn default() -> Self {
        Self {
            sender: Arc::new(watch::channel(false).0),
            failure: Arc::new(Mutex::new(None)),
        }
    }
}

impl Stop {
    /// A clean stop (SIGTERM, Ctrl-C).
    pub fn stop(&self) {
        self.sender.send_replace(true);
    }

    /// Stops the node because of `error`, which the daemon returns (the first one wins).
    pub fn fail(&self, error: impl std::fmt::Display) {
        let message = error.to_string();
        error!(error = %message, "fatal: stopping the node");
        self.failure
            .lock()
            .expect("not poisoned")
            .get_or_insert(message);
        self.stop();
    }

    /// The fatal error the node stopped on, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().expect("not poisoned").clone()
    }

    pub fn is_stopped(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once stopped.
    pub async fn stopped(&self) {
        let mut receiver = self.sender.subscribe();
        let _ = receiver.wait_for(|stopped| *stopped).await;
    }

    /// Sleeps `duration`; `false` when the stop came first.
    pub async fn sleep(&self, duration: Duration) -> bool {
        tokio::select! {
            _ = self.stopped() => false,
            _ = tokio::time::sleep(duration) => true,
        }
    }
}

/// When a job was taken up and its request made (for the latency metrics).
#[derive(Debug, Clone, Copy)]
struct Started {
    at: Instant,
    created_at_block: u64,
}

pub struct Context {
    pub config: NodeConfig,
    pub chain: OracleChain,
    pub journal: Arc<Journal>,
    pub attestation_key: SecretKey,
    pub deployment: Deployment,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub stop: Stop,
    started: Mutex<HashMap<u64, Started>>,
    /// Requests this node answered that may hold a commitment never revealed, each with the
    /// block from which to look at it again (`cleanup.rs`).
    pub(super) cleanups: Mutex<BTreeMap<u64, u64>>,
    /// Inference runs failed so far by the `fail_inferences` fault injection.
    injected_engine_failures: AtomicU32,
}

impl Context {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: NodeConfig,
        chain: OracleChain,
        journal: Arc<Journal>,
        attestation_key: SecretKey,
        deployment: Deployment,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
        stop: Stop,
    ) -> Self {
        Self {
            config,
            chain,
            journal,
            attestation_key,
            deployment,
            metrics,
            health,
            stop,
            started: Mutex::new(HashMap::new()),
            cleanups: Mutex::new(BTreeMap::new()),
            injected_engine_failures: AtomicU32::new(0),
        }
    }

    pub fn account(&self) -> &str {
        self.chain.account()
    }

    /// Notes that request `request_id` (made at block `created_at_block`) is being worked on.
    pub fn note_started(&self, request_id: u64, created_at_block: u64) {
        self.started
            .lock()
            .expect("not poisoned")
            .entry(request_id)
            .or_insert(Started {
                at: Instant::now(),
                created_at_block,
            });
    }

    /// Whether the `fail_inferences` fault injection fails this inference run (counted: it
    /// fails as many as it says, then none). `Some(n)`: this is the `n`th injected failure.
    pub fn inject_engine_failure(&self) -> Option<u32> {
        let limit = self.config.fault_injection.fail_inferences;
        self.injected_engine_failures
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |failed| {
                (failed < limit).then_some(failed + 1)
            })
            .ok()
            .map(|failed| failed + 1)
    }

    /// Journals the end of a job and updates the counters.
    pub fn finish(&self, request_id: u64, finished: Finished) -> Result<(), JournalError> {
        self.journal.record_finished(request_id, finished.clone())?;
        self.health.in_flight.fetch_sub(1, Ordering::Relaxed);
        let started = self
            .started
            .lock()
            .expect("not poisoned")
            .remove(&request_id);
        self.metrics.finished(finished.label());
        match &finished {
            Finished::Attested => {
                if let Some(started) = started {
                    let height = self.health.last_block_height.load(Ordering::Relaxed);
                    self.metrics.attested(
                        height.saturating_sub(started.created_at_block),
                        started.at.elapsed().as_secs_f64(),
                    );
                }
                info!(request_id, "attested");
            }
            Finished::Late(reason) => info!(request_id, reason, "late: not attesting"),
            Finished::Refused(reason) => warn!(request_id, reason, "refused: not retrying"),
            Finished::Missed(reason) => info!(request_id, reason, "missed"),
        }
        if matches!(finished, Finished::Attested | Finished::Late(_)) {
            self.cleanups
                .lock()
                .expect("not poisoned")
                .insert(request_id, 0);
        }
        Ok(())
    }
}
