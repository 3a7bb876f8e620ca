//! The compute stage: each accepted job's request becomes an engine request (the mapping every
//! node and verifier shares, `sdk::inference::engine_request`) and goes to the engine worker,
//! several at once so the worker can batch them; the result is journaled as computed and handed
//! to the submitter.

use super::retry::{retry, GaveUp};
use super::{ComputeJob, Context};
use crate::attestation;
use crate::config::CrashPoint;
use crate::journal::Finished;
use crate::worker::WorkerError;
use sdk::inference::{engine_request, RequestKey};
use std::sync::Arc;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tracing::{error, info, warn, Instrument};

pub async fn stage(
    ctx: Arc<Context>,
    mut jobs: mpsc::Receiver<ComputeJob>,
    computed: mpsc::Sender<u64>,
) {
    let slots = Arc::new(Semaphore::new(ctx.config.max_batch * 2));
    let mut running = JoinSet::new();
    loop {
        let job = tokio::select! {
            _ = ctx.stop.stopped() => break,
            job = jobs.recv() => match job { Some(job) => job, None => break },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let (ctx, computed) = (ctx.clone(), computed.clone());
        let span = tracing::info_span!("compute", request_id = job.request_id);
        running.spawn(
            async move {
                let _slot = slot;
                match compute(&ctx, job).await {
                    Ok(Some(request_id)) => {
                        let _ = computed.send(request_id).await;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        error!(error = %e, "journal failed; stopping");
                        ctx.stop.stop();
                    }
                }
            }
            .instrument(span),
        );
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

/// Computes one job; `Some(request id)` when it is ready to submit.
async fn compute(ctx: &Context, job: ComputeJob) -> anyhow::Result<Option<u64>> {
    let request_id = job.request_id;
    let view = match job.view {
        Some(view) => Some(view),
        None => match retry(ctx, "get_request", || ctx.chain.get_request(request_id)).await {
            Ok(view) => view,
            Err(GaveUp::Stopped) => return Ok(None),
            Err(GaveUp::Failed(e)) => {
                warn!(error = %e, "cannot read the request; will retry after a restart");
                return Ok(None);
            }
        },
    };
    let Some(view) = view else {
        ctx.finish(
            request_id,
            Finished::Missed("the request no longer exists".into()),
        )?;
        return Ok(None);
    };
    ctx.note_started(request_id, view.created_at);
    if view.has_attested(ctx.account()) {
        ctx.finish(request_id, Finished::Attested)?;
        return Ok(None);
    }
    if !view.is_pending() {
        let reason = format!(
            "the request was {} before this node computed it",
            view.status
        );
        ctx.finish(request_id, Finished::Late(reason))?;
        return Ok(None);
    }
    let key = RequestKey {
        chain_id: &ctx.deployment.chain_id,
        oracle_contract: &ctx.deployment.oracle_contract,
        request_id,
    };
    let request = match engine_request(&key, &view.input, &view.params) {
        Ok(request) => request,
        Err(e) => {
            // Every honest node refuses it the same way; the request times out and is refunded.
            ctx.finish(request_id, Finished::Missed(format!("bad request: {e}")))?;
            return Ok(None);
        }
    };
    let generation = match ctx.worker.infer(request).await {
        Ok(generation) => generation,
        Err(WorkerError::Stopped) => return Ok(None),
        Err(WorkerError::Inference(message)) => {
            // Deterministic: every honest node fails the same way; the request times out.
            ctx.finish(
                request_id,
                Finished::Missed(format!("inference failed: {message}")),
            )?;
            return Ok(None);
        }
    };
    let mut result = attestation::computed(generation.text, generation.digest);
    if ctx.config.fault_injection.corrupt_output {
        warn!("FAULT INJECTION: corrupting the output");
        result = attestation::corrupt(&result);
    }
    info!(
        digest = %result.result_digest,
        tokens = generation.output_tokens.len(),
        "computed"
    );
    ctx.journal.record_computed(request_id, result)?;
    if ctx.config.fault_injection.crash_after == Some(CrashPoint::Compute) {
        error!("FAULT INJECTION: crash_after = compute; aborting");
        std::process::abort();
    }
    Ok(Some(request_id))
}
