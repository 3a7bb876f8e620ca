//! The block producer: a block every interval, or blocks whenever there is work.

use super::Node;
use crate::store::StoreError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::info;

/// When blocks are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockMode {
    /// One block every interval, work or not.
    Every(Duration),
    /// Blocks back to back while transactions or receipts wait, none otherwise.
    OnDemand,
}

async fn produce(node: &Arc<Node>) -> Result<(), StoreError> {
    let node = node.clone();
    tokio::task::spawn_blocking(move || node.produce_block().map(|_| ()))
        .await
        .expect("block production does not panic")
}

/// Produces blocks until `shutdown` turns true; stops on the first store failure.
pub async fn run_producer(
    node: Arc<Node>,
    mode: BlockMode,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), StoreError> {
    info!(?mode, "producing blocks");
    let mut interval = match mode {
        BlockMode::Every(period) => {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            Some(interval)
        }
        BlockMode::OnDemand => None,
    };
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        match interval.as_mut() {
            Some(interval) => {
                tokio::select! {
                    _ = interval.tick() => produce(&node).await?,
                    _ = shutdown.changed() => return Ok(()),
                }
            }
            None => {
                while node.chain().has_pending_work() {
                    produce(&node).await?;
                }
                tokio::select! {
                    _ = node.work_arrived() => {}
                    _ = shutdown.changed() => return Ok(()),
                }
            }
        }
    }
}
