//! `oracle-node run`: a pipeline of small tokio tasks joined by bounded channels —
//! watcher (finds requests assigned to this node, journals them once) → compute (feeds the
//! engine worker, which batches) → submitter (signs, commits, waits for the reveal phase
//! without holding a commit place, journals, sends, confirms). Every transition is journaled
//! before the next step, so a restart resumes each job where it stopped: accepted jobs are
//! computed, computed ones committed, committed ones revealed (never committed again),
//! submitted ones checked on chain and then finished or sent again. The submitter starts before
//! the model loads ([`start_submitter`]): computed, committed and submitted jobs need no engine,
//! and a reveal phase does not wait for a model to load. Finished jobs past the
//! retention are pruned hourly. Beside them, the standing check reads this node's entry on
//! chain for `/health` and unjails a jailed node once it may, and the cleanup sweep cleans up
//! the requests this node answered that hold a commitment never revealed, for the reporter's
//! reward ([`cleanup`]).

mod cleanup;
mod compute;
mod context;
mod prune;
mod retry;
mod standing;
mod submit;
mod watcher;

pub use context::{Context, Stop};
pub use retry::is_transient;
pub use standing::announce as announce_standing;
pub use watcher::READ_ROUNDS;

use crate::journal::{self, JobState, JournalError};
use crate::worker::EngineWorker;
use anyhow::{Context as _, Result};
use oracle_protocol::ModelId;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

/// A job for the compute stage: the request, and its view when the watcher already has it.
#[derive(Debug)]
pub struct ComputeJob {
    pub request_id: u64,
    pub view: Option<oracle_protocol::RequestView>,
}

/// A job task that panicked stops the node with that error.
fn check_joined(ctx: &Context, ended: Result<(), tokio::task::JoinError>) {
    if let Err(e) = ended {
        if e.is_panic() {
            ctx.stop.fail(format_args!("a job task panicked: {e}"));
        }
    }
}

/// Why a job whose request asks for another model than `served`, the one this node serves,
/// ends (a job accepted before the node changed models): this node cannot compute it.
fn another_model(view: &oracle_protocol::RequestView, served: ModelId) -> String {
    format!(
        "the request asks for model {}, and this node now serves {served}",
        view.model_id
    )
}

/// The loaded engine: the model this node serves and the worker that runs it.
pub struct Served {
    pub model_id: ModelId,
    pub worker: EngineWorker,
}

/// The submitter, started before the model loads: the journaled jobs already committed to —
/// committed, submitted, and computed ones whose commitment the chain holds (it landed, the
/// node stopped before journaling it) — go on at once, so a node restarted during a reveal
/// phase reveals while its model loads. The others wait for [`run`], after the model's checks
/// passed: a node that fails to start commits to nothing new.
pub struct Submitter {
    jobs: mpsc::Sender<u64>,
    stage: JoinHandle<()>,
    /// Hands the committed jobs on; ends with the computed ones still to commit.
    resuming: JoinHandle<Vec<u64>>,
    accepted: Vec<u64>,
}

/// Starts the submitter and resumes the journal's committed and submitted jobs, and the
/// computed ones the chain holds a commitment of.
pub fn start_submitter(ctx: Arc<Context>) -> Result<Submitter> {
    let (jobs, queue) = mpsc::channel(ctx.config.max_in_flight);
    let stage = tokio::spawn(submit::stage(ctx.clone(), queue));
    let journal::Unfinished {
        jobs: unfinished,
        unreadable,
        unreadable_uncommitted,
    } = ctx
        .journal
        .unfinished()
        .context("reading the journal's unfinished jobs")?;
    let mut unreadable_ids = Vec::new();
    for error in unreadable {
        error!(
            "{error}; this node resumes the other jobs, not that one (`/health` is degraded): \
             if a newer oracle-node wrote it, run that version again to resume it (the entry \
             is kept)"
        );
        if let JournalError::Corrupted(request_id, _) = error {
            unreadable_ids.push(request_id);
        }
    }
    ctx.health
        .note_unreadable_jobs(unreadable_ids, unreadable_uncommitted);
    ctx.health
        .in_flight
        .fetch_add(unfinished.len(), Ordering::Relaxed);
    if !unfinished.is_empty() {
        info!(jobs = unfinished.len(), "resuming unfinished jobs");
    }
    let (mut accepted, mut computed, mut committed) = (Vec::new(), Vec::new(), Vec::new());
    for job in unfinished {
        match job.state {
            JobState::Accepted => accepted.push(job.request_id),
            JobState::Computed(_) => computed.push(job.request_id),
            _ => committed.push(job.request_id),
        }
    }
    let resuming = tokio::spawn(resume_committed(ctx, jobs.clone(), committed, computed));
    Ok(Submitter {
        jobs,
        stage,
        resuming,
        accepted,
    })
}

/// Sends `committed` to the submitter, then each of `computed` whose request holds this node's
/// commitment (journaled as committed first); returns the rest of `computed`, to commit once
/// the model passed its checks. One whose request cannot be read is left to that path too.
async fn resume_committed(
    ctx: Arc<Context>,
    queue: mpsc::Sender<u64>,
    committed: Vec<u64>,
    computed: Vec<u64>,
) -> Vec<u64> {
    send_all(queue.clone(), committed).await;
    let mut to_commit = Vec::new();
    for request_id in computed {
        match commitment_on_chain(&ctx, request_id).await {
            Some(Commitment::Landed) => {
                if !reveal_landed(&ctx, &queue, request_id).await {
                    return Vec::new();
                }
            }
            Some(Commitment::Never | Commitment::NotYet | Commitment::Unread(_)) => {
                to_commit.push(request_id)
            }
            None => return Vec::new(),
        }
    }
    to_commit
}

/// Where a computed job's commitment stands on chain.
enum Commitment {
    /// The request holds it.
    Landed,
    /// It never will: the request takes no more commitments (or is gone).
    Never,
    /// Not as of this read: one sent just before the node stopped may still land.
    NotYet,
    /// The request could not be read (an error retrying does not fix).
    Unread(sdk::rpc::ChainError),
}

/// Reads where `request_id`'s commitment by this node stands; `None` when the node stopped.
async fn commitment_on_chain(ctx: &Context, request_id: u64) -> Option<Commitment> {
    let view = retry::retry(ctx, "get_request", || ctx.chain.get_request(request_id)).await;
    Some(match view {
        Ok(Some(view)) if view.has_committed(ctx.account()) => Commitment::Landed,
        Ok(Some(view)) if view.reveal_open || !view.is_pending() => Commitment::Never,
        Ok(Some(_)) => Commitment::NotYet,
        Ok(None) => Commitment::Never,
        Err(retry::GaveUp::Failed(error)) => Commitment::Unread(error),
        Err(retry::GaveUp::Stopped) => return None,
    })
}

/// Reads in a row of a request that fail, after a failed start, before its job is left to the
/// next start: few when the contract refuses the view or its answer cannot be decoded (an
/// upgrade this node does not know), many for an endpoint's own trouble, which may pass.
const UNREAD_ROUNDS: u32 = 10;
const UNREAD_ROUNDS_OF_ENDPOINT: u32 = 300;

/// Journals `request_id`, whose commitment landed unjournaled, as committed and hands it to
/// the submitter to reveal; `false` when the node is stopping.
async fn reveal_landed(ctx: &Context, queue: &mpsc::Sender<u64>, request_id: u64) -> bool {
    if let Err(e) = ctx.journal.record_committed(request_id) {
        ctx.stop.fail(format_args!("the journal failed: {e}"));
        return false;
    }
    info!(
        request_id,
        "its commitment landed before the node stopped; revealing"
    );
    queue.send(request_id).await.is_ok()
}

/// After a start that failed: follows each of `computed` (no commitment of it on chain when
/// first read) until its request takes no more commitments — one sent just before the node
/// stopped may land late — and hands those whose commitment lands to the submitter to reveal.
/// A request that cannot be read [`UNREAD_ROUNDS`] (or, when the endpoint is at fault,
/// [`UNREAD_ROUNDS_OF_ENDPOINT`]) times in a row is left to the next start.
async fn follow_late_commitments(ctx: &Context, queue: &mpsc::Sender<u64>, computed: Vec<u64>) {
    let interval = std::time::Duration::from_millis(ctx.config.poll_interval_ms);
    let mut following: Vec<(u64, u32)> = computed.into_iter().map(|id| (id, 0)).collect();
    while !following.is_empty() {
        let mut still = Vec::new();
        for (request_id, unread) in following {
            match commitment_on_chain(ctx, request_id).await {
                Some(Commitment::Landed) => {
                    if !reveal_landed(ctx, queue, request_id).await {
                        return;
                    }
                }
                Some(Commitment::Never) => {}
                Some(Commitment::NotYet) => still.push((request_id, 0)),
                Some(Commitment::Unread(error))
                    if unread + 1
                        >= match error {
                            sdk::rpc::ChainError::ViewFailed { .. }
                            | sdk::rpc::ChainError::Decode { .. } => UNREAD_ROUNDS,
                            _ => UNREAD_ROUNDS_OF_ENDPOINT,
                        } =>
                {
                    warn!(
                        request_id, %error,
                        "cannot read the request of a computed job; leaving it to the next start"
                    );
                }
                Some(Commitment::Unread(_)) => still.push((request_id, unread + 1)),
                None => return,
            }
        }
        following = still;
        if !following.is_empty() && !ctx.stop.sleep(interval).await {
            return;
        }
    }
}

/// Sends each of `ids` to `queue`, in order, until it closes.
async fn send_all<T>(queue: mpsc::Sender<T>, ids: Vec<T>) {
    for id in ids {
        if queue.send(id).await.is_err() {
            break;
        }
    }
}

impl Submitter {
    /// After a start that failed (the model did not load or pass its checks): reveals what this
    /// node committed to — a reveal needs no engine, and a commitment left unrevealed is
    /// slashed — and confirms what it sent, then ends. Computed jobs not committed yet stay
    /// in the journal, but their requests are watched while they take commitments: one whose
    /// commitment, sent before the node stopped, lands late is revealed too. The stop signal
    /// cuts it short, as it does any job.
    pub async fn finish_committed(self, ctx: &Context) -> Result<()> {
        let not_committed = self
            .resuming
            .await
            .map_err(|e| anyhow::anyhow!("resuming the committed jobs failed: {e}"))?;
        if !not_committed.is_empty() {
            info!(
                jobs = not_committed.len(),
                "computed jobs not committed yet stay in the journal; watching their requests \
                 until they take no more commitments, in case one sent before the stop lands"
            );
            follow_late_commitments(ctx, &self.jobs, not_committed).await;
        }
        drop(self.jobs);
        self.stage
            .await
            .map_err(|e| anyhow::anyhow!("the submitter died: {e}"))
    }

    /// Waits for the submitter to end after a stop that came before [`run`] (the node did not
    /// start); a panic in it is an error.
    pub async fn join(self) -> Result<()> {
        self.resuming.abort();
        drop(self.jobs);
        self.stage
            .await
            .map_err(|e| anyhow::anyhow!("the submitter died: {e}"))
    }
}

/// Runs the rest of the pipeline with the loaded engine, `served`, beside `submitter`, until
/// `ctx`'s stop signal; then stops taking work, lets the jobs in hand finish their journal
/// writes, reveals the committed jobs whose reveal phase is open (one try each), and returns.
pub async fn run(ctx: Arc<Context>, served: Served, submitter: Submitter) -> Result<()> {
    let (compute_tx, compute_rx) = mpsc::channel(ctx.config.max_in_flight);
    let model_id = served.model_id;
    let computing = tokio::spawn(compute::stage(
        ctx.clone(),
        Arc::new(served),
        compute_rx,
        submitter.jobs.clone(),
    ));
    let accepted = submitter.accepted.into_iter().map(|request_id| ComputeJob {
        request_id,
        view: None,
    });
    let resume_computing = tokio::spawn(send_all(compute_tx.clone(), accepted.collect()));
    let computed = submitter.resuming.await?;
    let resume_committing = tokio::spawn(send_all(submitter.jobs, computed));
    let pruning = tokio::spawn(prune::run(ctx.clone()));
    let checking_standing = tokio::spawn(standing::run(ctx.clone()));
    let cleaning_up = tokio::spawn(cleanup::run(ctx.clone()));
    let watching = tokio::spawn(watcher::run(ctx.clone(), model_id, compute_tx));
    watching.await?;
    pruning.await?;
    checking_standing.await?;
    cleaning_up.await?;
    resume_computing.abort();
    resume_committing.abort();
    // The reveals first: inferences still running may take longer than the grace period.
    submitter.stage.await?;
    submit::reveal_open_at_stop(&ctx).await;
    computing.await?;
    info!("pipeline stopped");
    Ok(())
}
