//! The watcher: each poll interval, reads the chain's head and pages through this node's
//! assignments (`list_pending_assignments`: ids and models only, a few bytes per pending
//! request whatever its input); each one for the model it serves that the journal does not
//! hold yet is read whole (`get_request`), checked (on the committee, not attested, this
//! model), journaled as accepted (exactly once: the journal refuses a second entry) and handed
//! to the compute stage — unless the node already holds `max_in_flight` jobs not committed yet
//! (to compute or commit; those waiting for their reveal phase do not count) or four times that
//! unfinished in all, in which case it waits for the next round (back-pressure). A request whose view the contract
//! refuses to give (a view that fails on chain fails alike for everyone) is skipped at once;
//! one whose view an endpoint could not serve (an error other than an unreachable chain) is
//! read again each round, and after `READ_ROUNDS` rounds in a row — warned each time, counted
//! once — only every `READ_ROUNDS` rounds, while it stays listed (the endpoint may recover before
//! the request ends); it never hides the requests after it. The listed requests whose full view
//! says they are not this node's to answer are remembered while they stay listed, so later
//! rounds do not read them again; an unreachable chain ends the round.

use super::{is_transient, ComputeJob, Context};
use oracle_protocol::{ModelId, RequestView};
use sdk::rpc::ChainError;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Watches for requests for `model_id`, the model this node serves.
pub async fn run(ctx: Arc<Context>, model_id: ModelId, jobs: mpsc::Sender<ComputeJob>) {
    let interval = Duration::from_millis(ctx.config.poll_interval_ms);
    let mut skipped = Skipped::default();
    // A stopped node takes no new work: a stop during a round ends it (a job journaled as
    // accepted and not handed on yet is resumed at the next start).
    while !ctx.stop.is_stopped() {
        let polled = tokio::select! {
            biased;
            _ = ctx.stop.stopped() => return,
            polled = poll(&ctx, model_id, &jobs, &mut skipped) => polled,
        };
        if let Err(e) = polled {
            ctx.stop.fail(format_args!("the journal failed: {e}"));
        }
        if !ctx.stop.sleep(interval).await {
            return;
        }
    }
}

/// Rounds in a row in which a listed request's view could not be read (the chain reachable,
/// the view not refused by the contract: an endpoint syncing, overloaded, or answering
/// garbage) before the request is counted unreadable and read only every this many rounds.
pub const READ_ROUNDS: u32 = 3;

/// The listed requests the watcher passed over for good: their views were refused by the
/// contract, or said they are not this node's to answer (ended, not on the committee, already
/// attested, another model); and the reads that failed of the others. Kept across rounds while
/// they stay listed.
#[derive(Default)]
struct Skipped {
    ids: HashSet<u64>,
    failed_reads: HashMap<u64, FailedReads>,
}

/// A listed request whose view could not be read.
#[derive(Default)]
struct FailedReads {
    /// Rounds in a row its read failed.
    in_a_row: u32,
    /// Rounds to pass before it is read again.
    wait: u32,
}

impl Skipped {
    /// After a round that read the whole listing: forgets the ids no longer listed.
    fn keep_only(&mut self, listed: &HashSet<u64>) {
        self.ids.retain(|id| listed.contains(id));
        self.failed_reads.retain(|id, _| listed.contains(id));
    }

    /// Whether `request_id` is read this round: one whose reads failed `READ_ROUNDS` rounds in a
    /// row is read once every `READ_ROUNDS` rounds.
    fn read_this_round(&mut self, request_id: u64) -> bool {
        match self.failed_reads.get_mut(&request_id) {
            Some(failed) if failed.wait > 0 => {
                failed.wait -= 1;
                false
            }
            _ => true,
        }
    }

    /// Counts a round in which `request_id` could not be read; returns the rounds in a row.
    fn failed_read(&mut self, request_id: u64) -> u32 {
        let failed = self.failed_reads.entry(request_id).or_default();
        failed.in_a_row += 1;
        if failed.in_a_row >= READ_ROUNDS {
            failed.wait = READ_ROUNDS - 1;
        }
        failed.in_a_row
    }
}

/// One look at the chain.
async fn poll(
    ctx: &Context,
    model_id: ModelId,
    jobs: &mpsc::Sender<ComputeJob>,
    skipped: &mut Skipped,
) -> anyhow::Result<()> {
    match ctx.chain.status().await {
        Ok(status) => {
            ctx.health
                .last_block_height
                .store(status.latest_block_height, Ordering::Relaxed);
            ctx.health.rpc_reachable.store(true, Ordering::Relaxed);
        }
        Err(error) => {
            ctx.metrics.rpc_error("status");
            ctx.health.rpc_reachable.store(false, Ordering::Relaxed);
            warn!(%error, "chain unreachable");
            return Ok(());
        }
    }
    let mut listed = HashSet::new();
    let mut whole_listing = true;
    let mut from = Some(0);
    while let Some(index) = from {
        let page = match ctx
            .chain
            .assignments_page(index, ctx.config.page_size)
            .await
        {
            Ok(page) => page,
            Err(error) => {
                ctx.metrics.rpc_error("list_pending_assignments");
                warn!(%error, "cannot list this node's pending requests");
                return Ok(());
            }
        };
        // A next index that does not move forward would list the same page forever.
        from = page.next_index.filter(|&next| next > index);
        whole_listing &= from.is_some() || page.next_index.is_none();
        for assignment in page.assignments {
            listed.insert(assignment.request_id);
            if at_capacity(ctx)? {
                debug!("at capacity; accepting nothing more this round");
                return Ok(());
            }
            let request_id = assignment.request_id;
            if assignment.model_id != model_id
                || skipped.ids.contains(&request_id)
                || ctx.journal.contains(request_id)?
                || !skipped.read_this_round(request_id)
            {
                continue;
            }
            let view = match read_new(ctx, model_id, request_id).await {
                Read::View(view) => view,
                Read::Gone => continue,
                Read::Skip => {
                    skipped.ids.insert(request_id);
                    continue;
                }
                Read::Failed(error) => {
                    let rounds = skipped.failed_read(request_id);
                    if rounds < READ_ROUNDS {
                        warn!(%error, request_id, rounds, "cannot read an assigned request; reading it again next round");
                    } else {
                        if rounds == READ_ROUNDS {
                            ctx.metrics.unreadable_request();
                        }
                        warn!(%error, request_id, rounds, "cannot read an assigned request; reading it again in {READ_ROUNDS} rounds");
                    }
                    continue;
                }
                Read::EndRound => return Ok(()),
            };
            if !ctx.journal.accept(request_id, &model_id.to_hex())? {
                continue;
            }
            ctx.health.in_flight.fetch_add(1, Ordering::Relaxed);
            ctx.note_started(request_id, view.created_at);
            info!(request_id, created_at = view.created_at, "accepted");
            let job = ComputeJob {
                request_id,
                view: Some(*view),
            };
            if jobs.send(job).await.is_err() {
                return Ok(());
            }
        }
    }
    if whole_listing {
        skipped.keep_only(&listed);
    }
    Ok(())
}

/// Unfinished jobs at most, as a multiple of `max_in_flight`: jobs waiting for their reveal
/// phase hold no engine or commit place, but each reads its request every poll interval.
pub const UNFINISHED_PER_IN_FLIGHT: usize = 4;

/// Whether the node holds as many jobs as it takes: `max_in_flight` to compute or commit (jobs
/// waiting for the chain, their reveal phase say, do not count; nor do unreadable entries, which
/// it never resumes), or [`UNFINISHED_PER_IN_FLIGHT`] times that unfinished in all.
fn at_capacity(ctx: &Context) -> anyhow::Result<bool> {
    let max = ctx.config.max_in_flight;
    let unreadable = ctx.health.unreadable_uncommitted();
    let uncommitted = ctx.journal.uncommitted()?.saturating_sub(unreadable);
    Ok(uncommitted >= max as u64
        || ctx.health.in_flight.load(Ordering::Relaxed) >= max * UNFINISHED_PER_IN_FLIGHT)
}

/// What reading a newly listed assignment gave.
enum Read {
    /// A pending request for this node to answer.
    View(Box<RequestView>),
    /// The endpoint does not know it (it may lag behind the one that listed it): the next
    /// round reads it again if it is still listed.
    Gone,
    /// Never this node's to answer: it ended since the listing, is not this node's after all,
    /// or the contract refuses its view (so it does for every endpoint).
    Skip,
    /// The endpoint could not serve the view (and the chain is reachable): read again in the
    /// next round, and after `READ_ROUNDS` in a row every `READ_ROUNDS` rounds.
    Failed(ChainError),
    /// The chain cannot be reached: the next round reads it again.
    EndRound,
}

async fn read_new(ctx: &Context, model_id: ModelId, request_id: u64) -> Read {
    match ctx.chain.get_request(request_id).await {
        // The listing is a hint: the full view decides (a request may have ended since, or a
        // faulty endpoint listed another node's).
        Ok(Some(view))
            if view.is_pending()
                && view.on_committee(ctx.account())
                && !view.has_attested(ctx.account())
                && view.model_id == model_id =>
        {
            Read::View(Box::new(view))
        }
        Ok(Some(_)) => Read::Skip,
        Ok(None) => Read::Gone,
        Err(error) if is_transient(&error) => {
            ctx.metrics.rpc_error("get_request");
            warn!(%error, request_id, "cannot read a request assigned to this node");
            Read::EndRound
        }
        Err(error @ ChainError::ViewFailed { .. }) => {
            ctx.metrics.rpc_error("get_request");
            ctx.metrics.unreadable_request();
            warn!(%error, request_id, "skipping an assigned request whose view the contract refuses");
            Read::Skip
        }
        Err(error) => {
            ctx.metrics.rpc_error("get_request");
            Read::Failed(error)
        }
    }
}
