//! The compute stage: each accepted job's request becomes an engine request (the mapping every
//! node and verifier shares, `sdk::inference::engine_request`) and goes to the engine worker,
//! several at once so the worker can batch them; the result is journaled as computed and handed
//! to the submitter. A job whose request cannot be read, or that this machine failed to compute
//! (a device error, a panic), stays accepted and is tried again with backoff, until its request
//! ends on chain (timed out, or answered without this node: late); it holds a compute slot
//! only while the engine runs it — never while it waits, reads the chain or retries an
//! unreachable one — so failing jobs never hold the others up. A panic costs only the job
//! that panics alone: the worker re-runs a panicked batch job by job. A failure caused by the
//! request itself ends it as missed. Each run's outcome goes to the
//! node's health: a failure of this machine degrades `/health` until an inference succeeds.

use super::retry::{retry, Backoff, GaveUp};
use super::{another_model, check_joined, ComputeJob, Context, Served, Stop};
use crate::attestation;
use crate::config::CrashPoint;
use crate::journal::Finished;
use crate::worker::WorkerError;
use kernels::engine::{Generation, Request};
use oracle_protocol::RequestView;
use sdk::inference::{engine_request, RequestKey};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::{error, info, warn, Instrument};

/// Pauses between tries of a job that failed for a reason other than its request.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(60);
/// The longest pause between reads of a resumed job's request: short, like the submitter's,
/// since the request's 200-block window keeps running.
const LONGEST_READ_PAUSE: Duration = Duration::from_secs(5);

pub async fn stage(
    ctx: Arc<Context>,
    served: Arc<Served>,
    mut jobs: mpsc::Receiver<ComputeJob>,
    computed: mpsc::Sender<u64>,
) {
    let slots = Arc::new(Semaphore::new(ctx.config.max_batch * 2));
    let mut running = JoinSet::new();
    loop {
        // A stopped node starts no inference: the stop wins over a queued job and a free place.
        let job = tokio::select! {
            biased;
            _ = ctx.stop.stopped() => break,
            job = jobs.recv() => match job { Some(job) => job, None => break },
        };
        let mut slot = tokio::select! {
            biased;
            _ = ctx.stop.stopped() => break,
            slot = Slot::take(slots.clone()) => slot,
        };
        let (job_ctx, served, computed) = (ctx.clone(), served.clone(), computed.clone());
        let span = tracing::info_span!("compute", request_id = job.request_id);
        running.spawn(
            async move {
                let ctx = job_ctx;
                match compute(&ctx, &served, job, &mut slot).await {
                    Ok(Some(request_id)) => {
                        let _ = computed.send(request_id).await;
                    }
                    Ok(None) => {}
                    Err(e) => ctx.stop.fail(format_args!("the journal failed: {e}")),
                }
            }
            .instrument(span),
        );
        while let Some(ended) = running.try_join_next() {
            check_joined(&ctx, ended);
        }
    }
    while let Some(ended) = running.join_next().await {
        check_joined(&ctx, ended);
    }
}

/// A job's place among the jobs computed at once: taken when the job starts (so the stage
/// takes no more jobs than it has places), held while the engine runs it, given back while it
/// waits for anything else.
struct Slot {
    slots: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Slot {
    /// Waits for a free place.
    async fn take(slots: Arc<Semaphore>) -> Self {
        let permit = Self::acquire(&slots).await;
        Self {
            slots,
            permit: Some(permit),
        }
    }

    async fn acquire(slots: &Arc<Semaphore>) -> OwnedSemaphorePermit {
        slots
            .clone()
            .acquire_owned()
            .await
            .expect("the compute slots are never closed")
    }

    /// Gives the place back (if held) while the job waits.
    fn give_back(&mut self) {
        self.permit = None;
    }

    /// Holds a place again, waiting for a free one if it was given back; `false` when the
    /// node stopped (before or while waiting): no inference starts after the stop.
    async fn hold(&mut self, stop: &Stop) -> bool {
        if stop.is_stopped() {
            return false;
        }
        if self.permit.is_some() {
            return true;
        }
        tokio::select! {
            biased;
            _ = stop.stopped() => false,
            permit = Self::acquire(&self.slots) => {
                self.permit = Some(permit);
                true
            }
        }
    }
}

/// Reads the request of a resumed job until an answer comes (or the node stops: `None`).
async fn read_request(ctx: &Context, request_id: u64) -> Option<Option<RequestView>> {
    let mut backoff = Backoff::new(FIRST_PAUSE, LONGEST_READ_PAUSE);
    loop {
        match retry(ctx, "get_request", || ctx.chain.get_request(request_id)).await {
            Ok(view) => return Some(view),
            Err(GaveUp::Stopped) => return None,
            Err(GaveUp::Failed(e)) => {
                warn!(error = %e, retry_in = ?backoff.next(), "cannot read the request; trying again");
                if !backoff.pause(&ctx.stop).await {
                    return None;
                }
            }
        }
    }
}

/// The request (`None`: it no longer exists) while it still needs an answer from this node
/// (pending, not attested, and still open to its commitment); otherwise how the job ends.
fn still_needed(
    view: Option<RequestView>,
    ctx: &Context,
    served: &Served,
) -> Result<RequestView, Finished> {
    let Some(view) = view else {
        return Err(Finished::Missed("the request no longer exists".into()));
    };
    if view.has_attested(ctx.account()) {
        return Err(Finished::Attested);
    }
    if !view.is_pending() {
        return Err(Finished::Late(format!(
            "the request was {} before this node computed it",
            view.status
        )));
    }
    if view.model_id != served.model_id {
        return Err(Finished::Missed(another_model(&view, served.model_id)));
    }
    if view.reveal_open && !view.has_committed(ctx.account()) {
        // The contract takes no more commitments, so no attestation of this node either.
        return Err(Finished::Late(format!(
            "the commit phase closed (the reveal opened by block {}) before this node computed \
             the request",
            view.reveal_opens_at
        )));
    }
    Ok(view)
}

/// Runs `request` on the engine worker, unless the `fail_inferences` fault injection fails
/// this run as this machine's fault.
async fn infer(
    ctx: &Context,
    served: &Served,
    request: Request,
) -> Result<Generation, WorkerError> {
    if let Some(failure) = ctx.inject_engine_failure() {
        let limit = ctx.config.fault_injection.fail_inferences;
        warn!(failure, limit, "FAULT INJECTION: failing the inference");
        return Err(WorkerError::Machine(format!(
            "FAULT INJECTION: inference failure {failure} of {limit} (fail_inferences)"
        )));
    }
    served.worker.infer(request).await
}

/// Computes one job; `Some(request id)` when it is ready to submit.
async fn compute(
    ctx: &Context,
    served: &Served,
    job: ComputeJob,
    slot: &mut Slot,
) -> anyhow::Result<Option<u64>> {
    let request_id = job.request_id;
    let view = match job.view {
        Some(view) => Some(view),
        None => {
            slot.give_back();
            match read_request(ctx, request_id).await {
                Some(view) => view,
                None => return Ok(None),
            }
        }
    };
    if let Some(view) = &view {
        ctx.note_started(request_id, view.created_at);
    }
    let view = match still_needed(view, ctx, served) {
        Ok(view) => view,
        Err(ended) => {
            ctx.finish(request_id, ended)?;
            return Ok(None);
        }
    };
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
    let mut backoff = Backoff::new(FIRST_PAUSE, LONGEST_PAUSE);
    let generation = loop {
        if !slot.hold(&ctx.stop).await {
            return Ok(None);
        }
        match infer(ctx, served, request.clone()).await {
            Ok(generation) => {
                let failures = ctx.health.engine_worked(request_id);
                if failures > 0 {
                    info!(failures, "the engine works again for this job");
                }
                break generation;
            }
            Err(WorkerError::Stopped) => {
                if !ctx.stop.is_stopped() {
                    ctx.stop
                        .fail("the engine worker stopped while the node runs");
                }
                return Ok(None);
            }
            Err(WorkerError::Request(message)) => {
                // Deterministic: every honest node fails the same way; the request times out.
                ctx.health.engine_job_ended(request_id);
                ctx.finish(
                    request_id,
                    Finished::Missed(format!("inference failed: {message}")),
                )?;
                return Ok(None);
            }
            Err(error @ WorkerError::Machine(_)) => {
                ctx.metrics.engine_error();
                let failures = ctx.health.engine_failed(request_id, &error);
                warn!(%error, failures, retry_in = ?backoff.next(), "computing again");
                slot.give_back();
                if !backoff.pause(&ctx.stop).await {
                    return Ok(None);
                }
                // The request's window runs while this machine fails: a job whose request
                // ended (timed out, or answered by the others) is not computed again.
                match retry(ctx, "get_request", || ctx.chain.get_request(request_id)).await {
                    Ok(view) => {
                        if let Err(ended) = still_needed(view, ctx, served) {
                            ctx.health.engine_job_ended(request_id);
                            ctx.finish(request_id, ended)?;
                            return Ok(None);
                        }
                    }
                    Err(GaveUp::Stopped) => return Ok(None),
                    Err(GaveUp::Failed(e)) => {
                        warn!(error = %e, "cannot read the request; computing again anyway");
                    }
                }
            }
        }
    };
    let mut result = attestation::computed(generation.text, generation.digest);
    if ctx.config.fault_injection.corrupt_output {
        warn!("FAULT INJECTION: corrupting the output");
        result = attestation::corrupt(&result);
    }
    // Not the digest: the log says nothing of a result before its reveal (commit–reveal).
    info!(tokens = generation.output_tokens.len(), "computed");
    ctx.journal.record_computed(request_id, result)?;
    if ctx.config.fault_injection.crash_after == Some(CrashPoint::Compute) {
        error!("FAULT INJECTION: crash_after = compute; aborting");
        std::process::abort();
    }
    Ok(Some(request_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `future` is still pending after one poll (no timers: nothing races).
    async fn pending_after_one_poll(future: std::pin::Pin<&mut impl std::future::Future>) -> bool {
        tokio::select! {
            biased;
            _ = future => false,
            _ = std::future::ready(()) => true,
        }
    }

    #[tokio::test]
    async fn a_job_waiting_to_try_again_gives_its_slot_back() {
        let slots = Arc::new(Semaphore::new(1));
        let stop = Stop::default();
        let mut slot = Slot::take(slots.clone()).await;
        assert_eq!(slots.available_permits(), 0);
        assert!(slot.hold(&stop).await, "held already");
        slot.give_back();
        assert_eq!(slots.available_permits(), 1, "free while it waits");
        let other = Slot::take(slots.clone()).await;
        {
            let holding = slot.hold(&stop);
            tokio::pin!(holding);
            assert!(
                pending_after_one_poll(holding.as_mut()).await,
                "waits while another job computes"
            );
            drop(other);
            assert!(holding.await);
        }
        assert_eq!(slots.available_permits(), 0, "taken again to compute");
        slot.give_back();
        let _other = Slot::take(slots.clone()).await;
        stop.stop();
        assert!(!slot.hold(&stop).await, "a stop ends the wait");
    }

    #[tokio::test]
    async fn a_place_is_not_held_for_an_inference_once_the_node_stopped() {
        let stop = Stop::default();
        let mut slot = Slot::take(Arc::new(Semaphore::new(1))).await;
        assert!(slot.hold(&stop).await);
        stop.stop();
        assert!(!slot.hold(&stop).await, "even with the place in hand");
    }
}
