//! The watcher: each poll interval, reads the chain's head and pages through the pending
//! requests; a request whose committee includes this node, for the model it serves, that it
//! has not attested, is journaled as accepted (exactly once: the journal refuses a second
//! entry) and handed to the compute stage — unless the node already holds `max_in_flight`
//! unfinished jobs, in which case it waits for the next round (back-pressure).

use super::{ComputeJob, Context};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

pub async fn run(ctx: Arc<Context>, jobs: mpsc::Sender<ComputeJob>) {
    let interval = Duration::from_millis(ctx.config.poll_interval_ms);
    loop {
        if let Err(e) = poll(&ctx, &jobs).await {
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
    let page_size = ctx.config.page_size;
    let mut from = 0u32;
    loop {
        if ctx.health.in_flight.load(Ordering::Relaxed) >= ctx.config.max_in_flight {
            debug!("at capacity; accepting nothing more this round");
            return Ok(());
        }
        let page = match ctx.chain.pending_page(from, page_size).await {
            Ok(page) => page,
            Err(error) => {
                ctx.metrics.rpc_error("list_pending_requests");
                warn!(%error, "cannot list pending requests");
                return Ok(());
            }
        };
        let full = page.len() as u32 == page_size;
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
        if !full {
            return Ok(());
        }
        from += page_size;
    }
}
