//! Chain calls that outlast an unreachable RPC: transient failures are retried with
//! exponential backoff until they succeed or the node stops.

use super::Context;
use sdk::rpc::ChainError;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tracing::warn;

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const LONGEST_BACKOFF: Duration = Duration::from_secs(5);

/// Why a retried call gave up.
#[derive(Debug)]
pub enum GaveUp {
    /// The node is stopping.
    Stopped,
    /// A failure that retrying cannot fix.
    Failed(ChainError),
}

/// Whether another try may succeed: the endpoints are down or slow.
pub fn is_transient(error: &ChainError) -> bool {
    error.is_retryable()
        || matches!(
            error,
            ChainError::AllEndpointsFailed { .. } | ChainError::Timeout { .. }
        )
}

/// Runs `call` until it succeeds, fails for good, or the node stops; counts failures as RPC
/// errors of `operation`.
pub async fn retry<T, F, Fut>(ctx: &Context, operation: &str, mut call: F) -> Result<T, GaveUp>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ChainError>>,
{
    let mut backoff = FIRST_BACKOFF;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if is_transient(&error) => {
                ctx.metrics.rpc_error(operation);
                ctx.health.rpc_reachable.store(false, Ordering::Relaxed);
                warn!(operation, %error, retry_in = ?backoff, "chain unreachable");
                if !ctx.stop.sleep(backoff).await {
                    return Err(GaveUp::Stopped);
                }
                backoff = (backoff * 2).min(LONGEST_BACKOFF);
            }
            Err(error) => {
                ctx.metrics.rpc_error(operation);
                return Err(GaveUp::Failed(error));
            }
        }
    }
}
