//! `oracle-node run`: a pipeline of small tokio tasks joined by bounded channels —
//! watcher (finds requests assigned to this node, journals them once) → compute (feeds the
//! engine worker, which batches) → submitter (signs, commits, waits for the reveal phase
//! without holding a commit place, journals, sends, confirms). Every transition is journaled
//! before the next step, so a restart resumes each job where it stopped: accepted jobs are
//! computed, computed ones committed, committed ones revealed (never committed again),
//! submitted ones checked on chain and then finished or sent again. Finished jobs past the
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
use anyhow::{Context as _, Result};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;
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

/// Why a job whose request asks for another model than the one this node serves ends (a job
/// journaled before the node changed models): this node cannot compute it.
fn another_model(view: &oracle_protocol::RequestView, ctx: &Context) -> String {
    format!(
        "the request asks for model {}, and this node now serves {}",
        view.model_id, ctx.model_id
    )
}

/// Runs the pipeline until `ctx`'s stop signal; then stops taking work, lets the jobs in hand
/// finish their journal writes, and returns.
pub async fn run(ctx: Arc<Context>) -> Result<()> {
    let capacity = ctx.config.max_in_flight;
    let (compute_tx, compute_rx) = mpsc::channel(capacity);
    let (submit_tx, submit_rx) = mpsc::channel(capacity);
    let computing = tokio::spawn(compute::stage(ctx.clone(), compute_rx, submit_tx.clone()));
    let submitting = tokio::spawn(submit::stage(ctx.clone(), submit_rx));

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
    let resume = {
        let (compute_tx, submit_tx) = (compute_tx.clone(), submit_tx);
        tokio::spawn(async move {
            for job in unfinished {
                let sent = match job.state {
                    JobState::Accepted => compute_tx
                        .send(ComputeJob {
                            request_id: job.request_id,
                            view: None,
                        })
                        .await
                        .is_ok(),
                    _ => submit_tx.send(job.request_id).await.is_ok(),
                };
                if !sent {
                    break;
                }
            }
        })
    };
    let pruning = tokio::spawn(prune::run(ctx.clone()));
    let checking_standing = tokio::spawn(standing::run(ctx.clone()));
    let watching = tokio::spawn(watcher::run(ctx.clone(), compute_tx));
    watching.await?;
    pruning.await?;
    checking_standing.await?;
    resume.abort();
    computing.await?;
    submitting.await?;
    info!("pipeline stopped");
    Ok(())
}
