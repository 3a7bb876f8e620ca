//! The block producer: a block every interval, or blocks whenever there is work (and, while
//! yields wait, at NEAR's pace so that they time out).

use super::Node;
use crate::store::StoreError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::info;

/// NEAR's block time: the pace of on-demand blocks while only yields wait.
pub const NEAR_BLOCK_TIME: Duration = Duration::from_secs(1);

/// When blocks are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockMode {
    /// One block every interval, work or not.
    Every(Duration),
    /// Blocks back to back while transactions or receipts wait; while only yields wait (for a
    /// resume or their timeout, counted in blocks), one block every `yield_pace`, so that a
    /// yield nobody resumes still times out; none otherwise.
    OnDemand { yield_pace: Duration },
}

impl BlockMode {
    /// Blocks on demand, at NEAR's pace while yields wait (a yield times out after its 200
    /// blocks in about 200 s, as on NEAR).
    pub const fn on_demand() -> Self {
        Self::OnDemand {
            yield_pace: NEAR_BLOCK_TIME,
        }
    }
}

async fn produce(node: &Arc<Node>) -> Result<(), StoreError> {
    let node = node.clone();
    tokio::task::spawn_blocking(move || node.produce_block().map(|_| ()))
        .await
        .expect("block production does not panic")
}

/// Blocks the producer makes at most on shutdown to finish the work already accepted.
const MAX_CLOSING_BLOCKS: u64 = 1_000;

/// Produces blocks until `shutdown` changes; stops on the first store failure. On shutdown
/// the node stops accepting transactions, blocks are produced while accepted transactions or
/// their receipts still wait (at most [`MAX_CLOSING_BLOCKS`]), and then the node is closed:
/// whoever still waits for a transaction is told the node is shutting down.
pub async fn run_producer(
    node: Arc<Node>,
    mode: BlockMode,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), StoreError> {
    info!(?mode, "producing blocks");
    let mut result = produce_until(&node, mode, &mut shutdown).await;
    // It waits for a block being committed: not on an async worker.
    let stopping = node.clone();
    tokio::task::spawn_blocking(move || stopping.stop_accepting())
        .await
        .expect("stopping does not panic");
    let mut closing_blocks = 0;
    while result.is_ok() && closing_blocks < MAX_CLOSING_BLOCKS && node.chain().has_pending_work() {
        result = produce(&node).await;
        closing_blocks += 1;
    }
    if closing_blocks > 0 {
        info!(
            blocks = closing_blocks,
            "produced the accepted work before stopping"
        );
    }
    node.close();
    result
}

async fn produce_until(
    node: &Arc<Node>,
    mode: BlockMode,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), StoreError> {
    if *shutdown.borrow() {
        return Ok(());
    }
    match mode {
        BlockMode::Every(period) => {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                tokio::select! {
                    _ = interval.tick() => produce(node).await?,
                    _ = shutdown.changed() => return Ok(()),
                }
            }
        }
        BlockMode::OnDemand { yield_pace } => loop {
            while node.chain().has_pending_work() {
                produce(node).await?;
            }
            let yields_wait = node.chain().has_pending_yields();
            tokio::select! {
                _ = node.work_arrived() => {}
                _ = tokio::time::sleep(yield_pace), if yields_wait => produce(node).await?,
                _ = shutdown.changed() => return Ok(()),
            }
        },
    }
}
