//! A node at work: its block producer and its JSON-RPC server, stopped in order — the producer
//! first (it finishes the accepted work and closes the node), the server once the node has
//! closed, so that clients are answered through the closing blocks.

use super::{serve, RpcConfig};
use crate::node::{run_producer, BlockMode, Node};
use crate::store::StoreError;
use std::future::Future;
use std::sync::Arc;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

/// A node that stopped other than when asked to.
#[derive(Debug, Error)]
pub enum RunError {
    #[error("block production stopped: {0}")]
    Producer(#[from] StoreError),
    #[error("block producer failed: {0}")]
    ProducerPanicked(String),
    #[error("RPC server: {0}")]
    Server(#[from] std::io::Error),
    #[error("RPC server failed: {0}")]
    ServerPanicked(String),
}

/// Produces blocks in `mode` and serves JSON-RPC on `listener` until `stop` completes (or the
/// producer fails). On stop the node accepts no more transactions (the server answers new ones
/// with "shutting down"), produces the accepted work and closes; the server stops only then, so
/// whoever polls an accepted transaction reaches it until its last block.
pub async fn run_node(
    node: Arc<Node>,
    listener: TcpListener,
    mode: BlockMode,
    config: RpcConfig,
    stop: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let (stopping, stopped) = watch::channel(false);
    let mut producer = tokio::spawn(run_producer(node.clone(), mode, stopped));
    let closing = node.clone();
    let server = tokio::spawn(serve(node.clone(), listener, config, async move {
        closing.closed().await;
    }));
    let produced = tokio::select! {
        () = stop => {
            info!("stopping");
            None
        }
        result = &mut producer => Some(result),
    };
    stopping.send_replace(true);
    let produced = match produced {
        Some(result) => result,
        None => producer.await,
    };
    // The producer closes the node as it stops; closing again covers one that panicked, so
    // that the server stops all the same.
    node.close();
    let served = server.await;
    produced.map_err(|e| RunError::ProducerPanicked(e.to_string()))??;
    served.map_err(|e| RunError::ServerPanicked(e.to_string()))??;
    Ok(())
}
