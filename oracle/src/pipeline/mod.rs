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
//! chain for `/health` and unjails a jailed node once it may.

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

use crate::journal::JobState;
use crate::worker::EngineWorker;
use anyhow::{Context as _, Result};
use oracle_protocol::ModelId;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::info;

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

/// The submitter, started before the model loads: the journaled jobs that need no engine —
/// computed, committed, submitted — go on at once, so a node restarted during a reveal phase
/// reveals while its model loads. The accepted ones wait for [`run`].
pub struct Submitter {
    jobs: mpsc::Sender<u64>,
    stage: JoinHandle<()>,
    resuming: JoinHandle<()>,
    accepted: Vec<u64>,
}

/// Starts the submitter and resumes the journal's unfinished jobs that need no engine.
pub fn start_submitter(ctx: Arc<Context>) -> Result<Submitter> {
    let (jobs, queue) = mpsc::channel(ctx.config.max_in_flight);
    let stage = tokio::spawn(submit::stage(ctx.clone(), queue));
    let unfinished = ctx
        .journal
        .unfinished()
        .context("reading the journal's unfinished jobs")?;
    ctx.health
        .in_flight
        .fetch_add(unfinished.len(), Ordering::Relaxed);
    if !unfinished.is_empty() {
        info!(jobs = unfinished.len(), "resuming unfinished jobs");
    }
    let (accepted, submittable): (Vec<_>, Vec<_>) = unfinished
        .into_iter()
        .partition(|job| matches!(job.state, JobState::Accepted));
    let resuming = {
        let jobs = jobs.clone();
        tokio::spawn(async move {
            for job in submittable {
                if jobs.send(job.request_id).await.is_err() {
                    break;
                }
            }
        })
    };
    Ok(Submitter {
        jobs,
        stage,
        resuming,
        accepted: accepted.into_iter().map(|job| job.request_id).collect(),
    })
}

impl Submitter {
    /// Waits for the submitter to end after a stop that came before [`run`] (while the model
    /// loaded).
    pub async fn join(self) {
        self.resuming.abort();
        drop(self.jobs);
        let _ = self.stage.await;
    }
}

/// Runs the rest of the pipeline with the loaded engine, `served`, beside `submitter`, until
/// `ctx`'s stop signal; then stops taking work, lets the jobs in hand finish their journal
/// writes, and returns.
pub async fn run(ctx: Arc<Context>, served: Served, submitter: Submitter) -> Result<()> {
    let (compute_tx, compute_rx) = mpsc::channel(ctx.config.max_in_flight);
    let model_id = served.model_id;
    let computing = tokio::spawn(compute::stage(
        ctx.clone(),
        Arc::new(served),
        compute_rx,
        submitter.jobs.clone(),
    ));
    let resume = {
        let compute_tx = compute_tx.clone();
        let accepted = submitter.accepted;
        tokio::spawn(async move {
            for request_id in accepted {
                let job = ComputeJob {
                    request_id,
                    view: None,
                };
                if compute_tx.send(job).await.is_err() {
                    break;
                }
            }
        })
    };
    drop(submitter.jobs);
    let pruning = tokio::spawn(prune::run(ctx.clone()));
    let checking_standing = tokio::spawn(standing::run(ctx.clone()));
    let watching = tokio::spawn(watcher::run(ctx.clone(), model_id, compute_tx));
    watching.await?;
    pruning.await?;
    checking_standing.await?;
    resume.abort();
    submitter.resuming.abort();
    computing.await?;
    submitter.stage.await?;
    info!("pipeline stopped");
    Ok(())
}
