//! The node's Prometheus metrics (`/metrics`): counters and histograms the pipeline feeds, and
//! gauges read from the journal and the live health state when scraped.

use crate::health::{Health, Standing};
use crate::journal::Journal;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, linear_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StandingLabel {
    standing: String,
}

/// How an `unjail_node` transaction this node sent ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnjailOutcome {
    /// The oracle unjailed the node.
    Accepted,
    /// The oracle refused (too early, stake below the minimum, no free seat, ...).
    Refused,
    /// Its outcome could not be read (the next standing check sees whether it landed).
    Unknown,
}

impl UnjailOutcome {
    fn label(self) -> &'static str {
        match self {
            UnjailOutcome::Accepted => "accepted",
            UnjailOutcome::Refused => "refused",
            UnjailOutcome::Unknown => "unknown",
        }
    }
}

/// Every standing, for the `standing` state set.
const STANDINGS: [Standing; 5] = [
    Standing::Unknown,
    Standing::Active,
    Standing::Jailed,
    Standing::Unbonding,
    Standing::Unregistered,
];

/// The node's Prometheus metrics.
pub struct Metrics {
    registry: Registry,
    jobs: Family<StateLabel, Gauge>,
    journal_jobs: Gauge,
    finished: Family<StateLabel, Counter>,
    commitments: Counter,
    latency_blocks: Histogram,
    latency_seconds: Histogram,
    tokens_per_second: Gauge<f64, AtomicU64>,
    generated_tokens: Counter,
    batch_size: Histogram,
    rpc_errors: Family<OperationLabel, Counter>,
    unreadable_requests: Counter,
    engine_errors: Counter,
    engine_unrecovered_failures: Gauge,
    last_block_height: Gauge,
    queue_depth: Gauge,
    unjail_calls: Family<OutcomeLabel, Counter>,
    cleanups: Counter,
    standing: Family<StandingLabel, Gauge>,
    missed_commits: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("oracle_node");
        let metrics = Self {
            jobs: Family::default(),
            journal_jobs: Gauge::default(),
            finished: Family::default(),
            commitments: Counter::default(),
            latency_blocks: Histogram::new(exponential_buckets(1.0, 2.0, 9)),
            latency_seconds: Histogram::new(exponential_buckets(0.25, 2.0, 12)),
            tokens_per_second: Gauge::default(),
            generated_tokens: Counter::default(),
            batch_size: Histogram::new(linear_buckets(1.0, 1.0, 16)),
            rpc_errors: Family::default(),
            unreadable_requests: Counter::default(),
            engine_errors: Counter::default(),
            engine_unrecovered_failures: Gauge::default(),
            last_block_height: Gauge::default(),
            queue_depth: Gauge::default(),
            unjail_calls: Family::default(),
            cleanups: Counter::default(),
            standing: Family::default(),
            missed_commits: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register("jobs", "Jobs in the journal by state", metrics.jobs.clone());
        registry.register(
            "journal_jobs",
            "Jobs in the journal",
            metrics.journal_jobs.clone(),
        );
        registry.register(
            "jobs_finished",
            "Jobs finished since start, by result (attested, late, refused, missed)",
            metrics.finished.clone(),
        );
        registry.register(
            "commitments",
            "Commitments to attestations this node's transactions put on chain since start",
            metrics.commitments.clone(),
        );
        registry.register(
            "request_latency_blocks",
            "Blocks from a request's creation to this node's attestation",
            metrics.latency_blocks.clone(),
        );
        registry.register(
            "job_latency_seconds",
            "Seconds from accepting a job to its attestation being on chain",
            metrics.latency_seconds.clone(),
        );
        registry.register(
            "tokens_per_second",
            "Tokens sampled per second in the engine's last step",
            metrics.tokens_per_second.clone(),
        );
        registry.register(
            "generated_tokens",
            "Tokens generated since start",
            metrics.generated_tokens.clone(),
        );
        registry.register(
            "batch_size",
            "Requests in each engine step (continuous batching)",
            metrics.batch_size.clone(),
        );
        registry.register(
            "rpc_errors",
            "Failed chain RPC operations, by operation",
            metrics.rpc_errors.clone(),
        );
        registry.register(
            "unreadable_requests",
            "Pending requests the watcher could not read (each counted once)",
            metrics.unreadable_requests.clone(),
        );
        registry.register(
            "engine_errors",
            "Inference runs this machine failed (device, threads, panics); the jobs are retried",
            metrics.engine_errors.clone(),
        );
        registry.register(
            "engine_unrecovered_failures",
            "Inference runs this machine failed that no success has cleared yet, summed over the \
             jobs whose last run failed (each since its own last success) and the jobs that \
             ended failing (until any inference works); 0: the engine works; above 0: /health \
             is degraded",
            metrics.engine_unrecovered_failures.clone(),
        );
        registry.register(
            "last_block_height",
            "Latest block height the node has seen",
            metrics.last_block_height.clone(),
        );
        registry.register(
            "queue_depth",
            "Jobs accepted and not finished",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "unjail_calls",
            "unjail_node transactions this node sent since start, by outcome (accepted, refused, \
             unknown)",
            metrics.unjail_calls.clone(),
        );
        registry.register(
            "cleanups",
            "Requests this node cleaned up since start because they held a commitment never \
             revealed (each slashes its member and pays this node the reporter's reward)",
            metrics.cleanups.clone(),
        );
        registry.register(
            "standing",
            "This node's standing with the oracle as last read: 1 for the current one (active, \
             jailed, unbonding, unregistered, unknown), 0 for the others",
            metrics.standing.clone(),
        );
        registry.register(
            "missed_commits",
            "Requests in a row this node let pass without committing or, on a timeout, revealing \
             (the oracle jails it at its max_missed_commits)",
            metrics.missed_commits.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    pub fn batch(&self, jobs: usize, generated_tokens: usize, seconds: f64) {
        self.batch_size.observe(jobs as f64);
        self.generated_tokens.inc_by(generated_tokens as u64);
        self.tokens_per_second
            .set(generated_tokens as f64 / seconds.max(1e-9));
    }

    pub fn rpc_error(&self, operation: &str) {
        self.rpc_errors
            .get_or_create(&OperationLabel {
                operation: operation.to_string(),
            })
            .inc();
    }

    /// The watcher skipped a pending request it could not read, even alone.
    pub fn unreadable_request(&self) {
        self.unreadable_requests.inc();
    }

    /// The engine failed a job on this machine (it is tried again).
    pub fn engine_error(&self) {
        self.engine_errors.inc();
    }

    /// A job finished: `result` is `attested`, `late`, `refused` or `missed`.
    pub fn finished(&self, result: &str) {
        self.finished
            .get_or_create(&StateLabel {
                state: result.to_string(),
            })
            .inc();
    }

    /// This node's commitment to its attestation landed on chain.
    pub fn committed(&self) {
        self.commitments.inc();
    }

    /// This node cleaned up a request holding a commitment never revealed.
    pub fn cleanup(&self) {
        self.cleanups.inc();
    }

    /// This node sent an `unjail_node` transaction, which ended as `outcome`.
    pub fn unjail_sent(&self, outcome: UnjailOutcome) {
        self.unjail_calls
            .get_or_create(&OutcomeLabel {
                outcome: outcome.label().to_string(),
            })
            .inc();
    }

    /// This node's attestation landed `blocks` blocks after the request was made, `seconds`
    /// after the node accepted it.
    pub fn attested(&self, blocks: u64, seconds: f64) {
        self.latency_blocks.observe(blocks as f64);
        self.latency_seconds.observe(seconds);
    }

    /// The Prometheus text exposition, with the journal's counts (kept by the journal, so
    /// reading them is cheap) read now.
    pub fn render(&self, journal: &Journal, health: &Health) -> String {
        if let Ok(counts) = journal.counts() {
            for state in ["accepted", "computed", "committed", "submitted", "finished"] {
                // Finished jobs are counted by ending (`finished (attested)`, ...).
                let count: u64 = counts
                    .iter()
                    .filter(|(key, _)| key.split(' ').next() == Some(state))
                    .map(|(_, count)| count)
                    .sum();
                self.jobs
                    .get_or_create(&StateLabel {
                        state: state.to_string(),
                    })
                    .set(count as i64);
            }
            self.journal_jobs.set(counts.values().sum::<u64>() as i64);
        }
        self.last_block_height
            .set(health.last_block_height.load(Ordering::Relaxed) as i64);
        self.queue_depth
            .set(health.in_flight.load(Ordering::Relaxed) as i64);
        self.engine_unrecovered_failures
            .set(health.engine_failures() as i64);
        let on_chain = health.on_chain();
        for standing in STANDINGS {
            self.standing
                .get_or_create(&StandingLabel {
                    standing: standing.to_string(),
                })
                .set(i64::from(standing == on_chain.standing));
        }
        self.missed_commits.set(i64::from(on_chain.missed_commits));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric_with_the_journal_counts() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("j.redb")).unwrap();
        journal.accept(1, "m").unwrap();
        journal.accept(2, "m").unwrap();
        let metrics = Metrics::new();
        metrics.batch(2, 40, 2.0);
        metrics.rpc_error("poll");
        metrics.attested(3, 1.5);
        metrics.engine_error();
        metrics.unreadable_request();
        metrics.unjail_sent(UnjailOutcome::Refused);
        metrics.unjail_sent(UnjailOutcome::Refused);
        metrics.unjail_sent(UnjailOutcome::Accepted);
        let health = Health::default();
        health.note_on_chain(Some(&oracle_protocol::NodeView {
            account_id: "n.test".into(),
            attestation_key: "ed25519:11111111111111111111111111111111".into(),
            models: Vec::new(),
            stake: 5,
            status: oracle_protocol::NodeStatus::Jailed { until: 9 },
            registered_at: 1,
            missed_commits: 10,
        }));
        health.last_block_height.store(77, Ordering::Relaxed);
        health.engine_failed(1, "CUDA_ERROR_LAUNCH_FAILED");
        health.engine_failed(1, "CUDA_ERROR_LAUNCH_FAILED");
        let text = metrics.render(&journal, &health);
        for line in [
            "oracle_node_jobs{state=\"accepted\"} 2",
            "oracle_node_journal_jobs 2",
            "oracle_node_tokens_per_second 20.0",
            "oracle_node_generated_tokens_total 40",
            "oracle_node_rpc_errors_total{operation=\"poll\"} 1",
            "oracle_node_last_block_height 77",
            "oracle_node_request_latency_blocks_count 1",
            "oracle_node_batch_size_count 1",
            "oracle_node_engine_errors_total 1",
            "oracle_node_unreadable_requests_total 1",
            "oracle_node_engine_unrecovered_failures 2",
            "oracle_node_unjail_calls_total{outcome=\"refused\"} 2",
            "oracle_node_unjail_calls_total{outcome=\"accepted\"} 1",
            "oracle_node_standing{standing=\"jailed\"} 1",
            "oracle_node_standing{standing=\"active\"} 0",
            "oracle_node_missed_commits 10",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        health.engine_worked(1);
        let text = metrics.render(&journal, &health);
        assert!(
            text.contains("oracle_node_engine_unrecovered_failures 0"),
            "{text}"
        );
    }
}
