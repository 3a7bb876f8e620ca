//! The watcher: each poll interval, reads the chain's head and pages through the pending
//! requests; a request whose committee includes this node, for the model it serves, that it
//! has not attested, is journaled as accepted (exactly once: the journal refuses a second
//! entry) and handed to the compute stage — unless the node already holds `max_in_flight`
//! unfinished jobs, in which case it waits for the next round (back-pressure). A page that
//! cannot be read is read again in smaller pages, and a single request that cannot be read is
//! skipped ([`super::pages`]), so one oversized page never hides the requests after it.

use super::pages::{Next, PageCursor};
use super::{is_transient, ComputeJob, Context};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

pub async fn run(ctx: Arc<Context>, jobs: mpsc::Sender<ComputeJob>) {
    let interval = Duration::from_millis(ctx.config.poll_interval_ms);
    // A stopped node takes no new work: a stop during a round ends it (a job journaled as
    // accepted and not handed on yet is resumed at the next start).
    while !ctx.stop.is_stopped() {
        let polled = tokio::select! {
            biased;
            _ = ctx.stop.stopped() => return,
            polled = poll(&ctx, &jobs) => polled,
        };
        if let Err(e) = polled {
            ctx.stop.fail(format_args!("the journal failed: {e}"));
        }
        if !ctx.stop.sleep(interval).await {
            return;
        }
    }
}

/// One look at the chain.
async fn poll(ctx: &Context, jobs: &mpsc::Sender<ComputeJob>) -> anyhow::Result<()> {
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
    let mut cursor = PageCursor::new(ctx.config.page_size);
    let mut next = cursor.start();
    while let Next::Read { from, limit } = next {
        if ctx.health.in_flight.load(Ordering::Relaxed) >= ctx.config.max_in_flight {
            debug!("at capacity; accepting nothing more this round");
            return Ok(());
        }
        let page = match ctx.chain.pending_page(from, limit).await {
            Ok(page) => page,
            Err(error) => {
                ctx.metrics.rpc_error("list_pending_requests");
                let (skipped, then) = cursor.read_failed(is_transient(&error));
                match skipped {
                    Some(index) => {
                        ctx.metrics.unreadable_request();
                        warn!(%error, index, "skipping a pending request that cannot be read");
                    }
                    None if then == Next::Done => {
                        warn!(%error, from, limit, "cannot list pending requests")
                    }
                    None => debug!(%error, from, limit, "cannot read this page; reading less"),
                }
                next = then;
                continue;
            }
        };
        next = cursor.read_ok(page.len());
        for view in page {
            if !view.on_committee(ctx.account())
                || view.model_id != ctx.model_id
                || view.has_attested(ctx.account())
                || ctx.health.in_flight.load(Ordering::Relaxed) >= ctx.config.max_in_flight
            {
                continue;
            }
            let request_id = view.request_id;
            if !ctx.journal.accept(request_id, &ctx.model_id.to_hex())? {
                continue;
            }
            ctx.health.in_flight.fetch_add(1, Ordering::Relaxed);
            ctx.note_started(request_id, view.created_at);
            info!(request_id, created_at = view.created_at, "accepted");
            let job = ComputeJob {
                request_id,
                view: Some(view),
            };
            if jobs.send(job).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}
