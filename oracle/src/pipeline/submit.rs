//! The submitter: commit–reveal of each computed job's attestation. It signs the attestation,
//! commits to it (`commit_attestation` with `oracle_protocol::attestation_commitment` of the
//! signature) and journals the job as committed once the chain holds the commitment; then it
//! gives back its submitter place (at most `PARALLEL_SUBMISSIONS` jobs commit at once, and a
//! silent committee member can hold a reveal phase shut for the whole commit window, which must
//! not stop other jobs from committing) and waits, reading the request, until the reveal phase
//! opens (every member committed, or the commit window passed), and submits the attestation:
//! the signed transaction is journaled, sent, and how it ended journaled. A committed job
//! reveals even after its request resolved (the contract records an agreeing reveal unpaid and
//! penalises a commitment never revealed); it ends as late then. An output longer than the
//! oracle's `max_output_bytes` is never committed (the contract would refuse its reveal): the
//! job ends as missed. Exactly once from the contract's view: before (re)sending it reads the
//! request (already committed, even unjournaled and after a resolution → on to the reveal;
//! already attested → finished; not committed and resolved, or timed out → late, not sent;
//! commit phase closed → late; gone → missed; a job computed or committed before the node
//! changed models goes on all the same, signed for the request's model: its result is that
//! model's), a
//! journaled attestation transaction is first looked up on chain and, if unknown, resent as the
//! very same bytes (NEAR runs one transaction once), and the contract's "has already committed"
//! / "has already attested" count as success. A committed job is never committed again: the
//! signature is deterministic, so its reveal is re-derived from the journaled result. Chain
//! failures are retried with capped exponential backoff; a journal that cannot be read or
//! written stops the node (it could no longer promise exactly-once).

use super::retry::{is_transient, retry, Backoff, GaveUp};
use super::{check_joined, Context};
use crate::attestation;
use crate::chain::{tx_hash, AttestationArgs, Sent};
use crate::config::CrashPoint;
use crate::journal::{Computed, Finished, Job, JobState};
use base64::Engine as _;
use near_wire::{InvalidTxError, SignedTransaction};
use oracle_protocol::{attestation_commitment, ModelId, RequestPhase, RequestView};
use sdk::rpc::ChainError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::{error, info, warn, Instrument};

/// Jobs submitted at once.
const PARALLEL_SUBMISSIONS: usize = 16;
/// Pauses between rounds of a submission that failed. A request waits only 200 blocks for its
/// attestations, so the pauses stay short: a node back from an RPC outage must not sleep
/// through what is left of that window.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

pub async fn stage(ctx: Arc<Context>, mut jobs: mpsc::Receiver<u64>) {
    let slots = Arc::new(Semaphore::new(PARALLEL_SUBMISSIONS));
    let mut running = JoinSet::new();
    loop {
        let request_id = tokio::select! {
            _ = ctx.stop.stopped() => break,
            job = jobs.recv() => match job { Some(id) => id, None => break },
        };
        // A committed job (resumed after a restart) only waits for its reveal: no place.
        let slot = if is_committed(&ctx, request_id) {
            None
        } else {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            Some(slot)
        };
        let job_ctx = ctx.clone();
        running.spawn(
            async move {
                if let Err(e) = submit(&job_ctx, request_id, slot).await {
                    job_ctx
                        .stop
                        .fail(format_args!("request {request_id}: {e:#}"));
                }
            }
            .instrument(tracing::info_span!("submit", request_id)),
        );
        while let Some(ended) = running.try_join_next() {
            check_joined(&ctx, ended);
        }
    }
    while let Some(ended) = running.join_next().await {
        check_joined(&ctx, ended);
    }
}

/// Whether the journal holds `request_id` as committed (a journal that cannot be read is
/// reported by the job's own task).
fn is_committed(ctx: &Context, request_id: u64) -> bool {
    matches!(
        ctx.journal.get(request_id),
        Ok(Some(Job {
            state: JobState::Committed(_),
            ..
        }))
    )
}

/// What the chain says about a request before this node (re)sends.
enum Check {
    Done(Finished),
    /// The request still wants this node's attestation; its view.
    Send(Box<RequestView>),
}

/// Why a round of a submission ended without finishing the job.
#[derive(Debug)]
enum Stall {
    /// The node is stopping.
    Stopped,
    /// The chain failed; another round may succeed.
    Failed(ChainError),
    /// The journal failed or holds a damaged entry: nothing more can be done safely.
    Fatal(anyhow::Error),
}

impl From<GaveUp> for Stall {
    fn from(gave_up: GaveUp) -> Self {
        match gave_up {
            GaveUp::Stopped => Stall::Stopped,
            GaveUp::Failed(error) => Stall::Failed(error),
        }
    }
}

/// Drives one job from computed (or submitted) to finished. `slot`, its submitter place, is
/// given back as soon as the job is committed: waiting for the reveal phase (up to the whole
/// commit window, when a member is silent) must not keep other jobs from committing.
async fn submit(
    ctx: &Context,
    request_id: u64,
    mut slot: Option<OwnedSemaphorePermit>,
) -> anyhow::Result<()> {
    let mut backoff = Backoff::new(FIRST_PAUSE, LONGEST_PAUSE);
    while !ctx.stop.is_stopped() {
        let Some(job) = ctx.journal.get(request_id)? else {
            return Ok(());
        };
        let step = match job.state {
            JobState::Accepted | JobState::Finished(_) => return Ok(()),
            JobState::Computed(computed) => commit(ctx, request_id, &computed).await,
            JobState::Committed(computed) => {
                // The place goes back: the reveal phase may open only at the window's end.
                drop(slot.take());
                reveal(ctx, request_id, &computed).await
            }
            JobState::Submitted {
                computed,
                tx_hash,
                signed_tx,
                ..
            } => resume(ctx, request_id, &computed, &tx_hash, &signed_tx).await,
        };
        match step {
            Ok(Some(finished)) => {
                ctx.finish(request_id, finished)?;
                return Ok(());
            }
            // Committed: on to the reveal, at once.
            Ok(None) if is_committed(ctx, request_id) => continue,
            Ok(None) => {}
            Err(Stall::Stopped) => return Ok(()),
            Err(Stall::Fatal(e)) => return Err(e),
            Err(Stall::Failed(e)) => {
                warn!(error = %e, retry_in = ?backoff.next(), "submission failed; trying again");
                ctx.metrics.rpc_error("submit_attestation");
            }
        }
        if !backoff.pause(&ctx.stop).await {
            return Ok(());
        }
    }
    Ok(())
}

/// Which half of commit–reveal a job is in, as far as the request's end goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not committed as far as the journal knows: a request that timed out, or resolved
    /// without this node's commitment on chain, ends the job as late; one that holds the
    /// commitment (it landed, and the node stopped or the send failed before journaling it)
    /// goes on to the reveal, which the contract expects even after a resolution.
    Commit,
    /// Committed: the job reveals until the request times out or is cleaned up, even after it
    /// resolved (the contract records an agreeing reveal, unpaid, and penalises a member that
    /// committed and never revealed).
    Reveal,
}

/// Reads the request: whether this node still has something to send.
async fn check(ctx: &Context, request_id: u64, phase: Phase) -> Result<Check, Stall> {
    let view = retry(ctx, "get_request", || ctx.chain.get_request(request_id)).await?;
    Ok(match view {
        None => Check::Done(Finished::Missed("the request no longer exists".into())),
        Some(view) if view.has_attested(ctx.account()) => Check::Done(Finished::Attested),
        Some(view)
            if view.status == RequestPhase::TimedOut
                || (phase == Phase::Commit
                    && !view.is_pending()
                    && !view.has_committed(ctx.account())) =>
        {
            Check::Done(Finished::Late(format!(
                "the request was {} before this node attested",
                view.status
            )))
        }
        Some(view) => {
            ctx.note_started(request_id, view.created_at);
            Check::Send(Box::new(view))
        }
    })
}

/// How a reveal the contract accepted ends: attested, or late when the request had resolved
/// before it (the contract records it unpaid: as agreeing, or slashing this node when it
/// differs from the answer).
fn revealed(view: &RequestView, computed: &Computed, finished: Finished) -> Finished {
    match (&finished, &view.answer) {
        (Finished::Attested, Some(answer)) if !view.is_pending() => {
            let agrees = computed.result_digest.parse().ok() == Some(answer.result_digest)
                && computed.output_hash.parse().ok() == Some(answer.output_hash);
            Finished::Late(
                if agrees {
                    "the request was resolved before this node revealed; its reveal agrees \
                     with the answer (recorded, unpaid)"
                } else {
                    "the request was resolved before this node revealed; its reveal differs \
                     from the answer, and the contract slashed this node"
                }
                .into(),
            )
        }
        _ => finished,
    }
}

/// The signed attestation of `computed` for `request_id`, which asks for `model_id`
/// (deterministic: the same every time).
fn attestation_of(
    ctx: &Context,
    request_id: u64,
    model_id: ModelId,
    computed: &Computed,
) -> Result<AttestationArgs, Stall> {
    attestation::attest(
        &ctx.attestation_key,
        &ctx.deployment,
        request_id,
        model_id,
        computed,
        ctx.config.fault_injection.bad_signature,
    )
    .map_err(|e| Stall::Fatal(anyhow::anyhow!("the journaled result is damaged: {e}")))
}

/// Why the oracle would refuse `computed`, when its output is longer than the oracle's
/// `max_output_bytes`: the job ends as missed before anything is signed or sent.
async fn oversized(ctx: &Context, computed: &Computed) -> Result<Option<Finished>, Stall> {
    let config = retry(ctx, "get_config", || ctx.chain.get_config()).await?;
    let limit = config.max_output_bytes;
    let bytes = computed.output.len();
    Ok((bytes > limit as usize).then(|| {
        Finished::Missed(format!(
            "the output is {bytes} bytes and the oracle accepts at most {limit}: nothing to \
             commit or attest"
        ))
    }))
}

/// Commits to the job's attestation (unless the chain already holds this node's commitment)
/// and journals the job as committed (`Ok(None)`: the reveal comes next).
async fn commit(
    ctx: &Context,
    request_id: u64,
    computed: &Computed,
) -> Result<Option<Finished>, Stall> {
    let view = match check(ctx, request_id, Phase::Commit).await? {
        Check::Done(finished) => return Ok(Some(finished)),
        Check::Send(view) => view,
    };
    if !view.has_committed(ctx.account()) {
        if let Some(missed) = oversized(ctx, computed).await? {
            return Ok(Some(missed));
        }
        if view.reveal_open {
            return Ok(Some(commit_closed(&view)));
        }
        let args = attestation_of(ctx, request_id, view.model_id, computed)?;
        let commitment = attestation_commitment(&args.signature);
        let signed = retry(ctx, "sign", || {
            ctx.chain.sign_commitment(request_id, commitment)
        })
        .await?;
        info!(tx = %tx_hash(&signed), %commitment, "committing to the attestation");
        match send_commitment(ctx, request_id, &signed).await? {
            Some(Committing::Landed) => {}
            Some(Committing::Ended(finished)) => return Ok(Some(finished)),
            // Look again: the next round reads whether the commitment landed.
            None => return Ok(None),
        }
    }
    ctx.journal
        .record_committed(request_id)
        .map_err(|e| Stall::Fatal(e.into()))?;
    ctx.metrics.committed();
    if ctx.config.fault_injection.crash_after == Some(CrashPoint::Commit) {
        error!("FAULT INJECTION: crash_after = commit; aborting before the reveal");
        std::process::abort();
    }
    Ok(None)
}

/// Why a job whose request's commit phase closed before this node committed ends as late.
fn commit_closed(view: &RequestView) -> Finished {
    Finished::Late(format!(
        "the commit phase closed before this node committed ({} of {} members committed; the \
         reveal opened by block {})",
        view.commitments.len(),
        view.committee.len(),
        view.reveal_opens_at
    ))
}

/// How a commitment transaction ended.
enum Committing {
    /// The chain holds this node's commitment.
    Landed,
    /// The job ends here.
    Ended(Finished),
}

/// Sends a commitment transaction; `Ok(None)` means: look again. A refusal is checked against
/// the chain: the commitment may have landed after all (an earlier transaction), the commit
/// phase may have closed just before it (late), or the request ended.
async fn send_commitment(
    ctx: &Context,
    request_id: u64,
    signed: &SignedTransaction,
) -> Result<Option<Committing>, Stall> {
    match ctx.chain.send(signed).await {
        Ok(Sent::Accepted) => Ok(Some(Committing::Landed)),
        Ok(Sent::Refused(reason)) => {
            warn!(%reason, "the contract refused the commitment");
            Ok(Some(match check(ctx, request_id, Phase::Commit).await? {
                Check::Send(view) if view.has_committed(ctx.account()) => Committing::Landed,
                Check::Send(view) if view.reveal_open => Committing::Ended(commit_closed(&view)),
                Check::Done(finished) => Committing::Ended(finished),
                Check::Send(_) => Committing::Ended(Finished::Refused(reason)),
            }))
        }
        Err(error) if is_transient(&error) => {
            ctx.metrics.rpc_error("send_tx");
            warn!(%error, "sending the commitment failed; will look again");
            Ok(None)
        }
        Err(error) => Err(Stall::Failed(error)),
    }
}

/// Waits (reading the request every poll interval) until the reveal phase of a committed job
/// opens, then submits its attestation; ends the job if the request times out or goes first.
/// A request that resolved meanwhile is still revealed to.
async fn reveal(
    ctx: &Context,
    request_id: u64,
    computed: &Computed,
) -> Result<Option<Finished>, Stall> {
    let pause = Duration::from_millis(ctx.config.poll_interval_ms);
    loop {
        let view = match check(ctx, request_id, Phase::Reveal).await? {
            Check::Done(finished) => return Ok(Some(finished)),
            Check::Send(view) => view,
        };
        if view.reveal_open || !view.is_pending() {
            let sent = send_attestation(ctx, request_id, view.model_id, computed).await?;
            return Ok(sent.map(|finished| revealed(&view, computed, finished)));
        }
        if !ctx.stop.sleep(pause).await {
            return Err(Stall::Stopped);
        }
    }
}

/// At a stop, once the job tasks ended: one try at revealing each committed job whose reveal
/// phase is open now. The restarted node reveals the rest from the journal, but a node stopped
/// for longer than what is left of an open reveal phase would leave its commitment unrevealed.
pub async fn reveal_open_at_stop(ctx: &Context) {
    let committed: Vec<(u64, Computed)> = match ctx.journal.unfinished() {
        Ok(unfinished) => unfinished
            .jobs
            .into_iter()
            .filter_map(|job| match job.state {
                JobState::Committed(computed) => Some((job.request_id, computed)),
                _ => None,
            })
            .collect(),
        Err(error) => {
            warn!(%error, "cannot read the committed jobs to reveal before stopping");
            return;
        }
    };
    for (request_id, computed) in committed {
        let view = match check(ctx, request_id, Phase::Reveal).await {
            Ok(Check::Send(view)) if view.reveal_open || !view.is_pending() => view,
            _ => continue,
        };
        info!(
            request_id,
            "its reveal phase is open: revealing before the node stops"
        );
        // One try: a transaction sent and not confirmed is journaled, and the restarted node
        // looks it up.
        if let Ok(Some(finished)) =
            send_attestation(ctx, request_id, view.model_id, &computed).await
        {
            if let Err(error) = ctx.finish(request_id, revealed(&view, &computed, finished)) {
                warn!(request_id, %error, "cannot journal the reveal; the restart checks it");
            }
        }
    }
}

/// Checks the chain, signs a new attestation transaction, journals it, sends it.
async fn sign_and_send(
    ctx: &Context,
    request_id: u64,
    computed: &Computed,
) -> Result<Option<Finished>, Stall> {
    let view = match check(ctx, request_id, Phase::Reveal).await? {
        Check::Done(finished) => return Ok(Some(finished)),
        Check::Send(view) => view,
    };
    let sent = send_attestation(ctx, request_id, view.model_id, computed).await?;
    Ok(sent.map(|finished| revealed(&view, computed, finished)))
}

/// Signs a new attestation transaction for `request_id`, which asks for `model_id`, journals
/// it, sends it.
async fn send_attestation(
    ctx: &Context,
    request_id: u64,
    model_id: ModelId,
    computed: &Computed,
) -> Result<Option<Finished>, Stall> {
    let args = attestation_of(ctx, request_id, model_id, computed)?;
    let signed = retry(ctx, "sign", || ctx.chain.sign_attestation(&args)).await?;
    let hash = tx_hash(&signed);
    let bytes = base64::engine::general_purpose::STANDARD.encode(signed.to_bytes());
    let attempt = ctx
        .journal
        .record_submitted(request_id, &hash, &bytes)
        .map_err(|e| Stall::Fatal(e.into()))?;
    // The reveal: the result is public from now on.
    info!(tx = %hash, attempt, digest = %computed.result_digest, "submitting attestation");
    send(ctx, request_id, &signed).await
}

/// A journaled transaction: did it land? If the chain does not know it and the request still
/// wants this node's attestation, send the same bytes again (or a fresh one if they expired).
async fn resume(
    ctx: &Context,
    request_id: u64,
    computed: &Computed,
    tx_hash: &str,
    signed_tx: &str,
) -> Result<Option<Finished>, Stall> {
    let landed = retry(ctx, "tx_status", || ctx.chain.outcome(tx_hash)).await?;
    if let Some(sent) = landed {
        info!(tx = %tx_hash, "the journaled attestation transaction has landed");
        return conclude(ctx, request_id, sent).await.map(Some);
    }
    let view = match check(ctx, request_id, Phase::Reveal).await? {
        Check::Done(finished) => return Ok(Some(finished)),
        Check::Send(view) => view,
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(signed_tx)
        .ok()
        .and_then(|bytes| SignedTransaction::from_bytes(&bytes).ok());
    match decoded {
        Some(signed) => {
            info!(tx = %tx_hash, "sending the journaled attestation transaction again");
            match send(ctx, request_id, &signed).await {
                // Never included (its block hash expired, or its nonce went to another
                // transaction): sign anew.
                Err(Stall::Failed(ChainError::InvalidTx(
                    InvalidTxError::Expired | InvalidTxError::InvalidNonce { .. },
                ))) => sign_and_send(ctx, request_id, computed).await,
                other => Ok(other?.map(|finished| revealed(&view, computed, finished))),
            }
        }
        None => sign_and_send(ctx, request_id, computed).await,
    }
}

/// Sends `signed` and reads how it ended; `Ok(None)` means: look again (the next round checks
/// the chain before anything is sent anew), also after a refusal for the chain's state at the
/// time (a congested shard). Any other refused transaction (`InvalidTx`) is an error.
async fn send(
    ctx: &Context,
    request_id: u64,
    signed: &SignedTransaction,
) -> Result<Option<Finished>, Stall> {
    let sent = ctx.chain.send(signed).await;
    if ctx.config.fault_injection.crash_after == Some(CrashPoint::Submit) {
        error!("FAULT INJECTION: crash_after = submit; aborting before journaling the outcome");
        std::process::abort();
    }
    match sent {
        Ok(sent) => conclude(ctx, request_id, sent).await.map(Some),
        Err(error) if is_transient(&error) => {
            ctx.metrics.rpc_error("send_tx");
            warn!(%error, "sending failed; will look again");
            Ok(None)
        }
        // A refused nonce: the chain client signs the next one after the chain's.
        Err(error) => Err(Stall::Failed(error)),
    }
}

/// What a finished transaction means for the job.
async fn conclude(ctx: &Context, request_id: u64, sent: Sent) -> Result<Finished, Stall> {
    match sent {
        Sent::Accepted => Ok(Finished::Attested),
        Sent::Refused(reason) => {
            warn!(%reason, "the contract refused the attestation");
            Ok(match check(ctx, request_id, Phase::Reveal).await? {
                Check::Done(finished) => finished,
                Check::Send(_) => Finished::Refused(reason),
            })
        }
    }
}
