//! Chain calls that outlast an unreachable RPC: transient failures are retried with
//! exponential backoff until they succeed or the node stops. [`Backoff`] is the pause the
//! stages also use between rounds of a job that failed.

use super::{Context, Stop};
use sdk::rpc::ChainError;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tracing::warn;

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const LONGEST_BACKOFF: Duration = Duration::from_secs(5);

/// Capped exponential pauses: each one twice the last, at most `longest`.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    longest: Duration,
}

impl Backoff {
    pub fn new(first: Duration, longest: Duration) -> Self {
        Self {
            next: first,
            longest,
        }
    }

    /// The next pause.
    pub fn next(&self) -> Duration {
        self.next
    }

    /// Sleeps the next pause and doubles it; `false` when the node stopped first.
    pub async fn pause(&mut self, stop: &Stop) -> bool {
        let slept = stop.sleep(self.next).await;
        self.next = (self.next * 2).min(self.longest);
        slept
    }
}

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
    let mut backoff = Backoff::new(FIRST_BACKOFF, LONGEST_BACKOFF);
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if is_transient(&error) => {
                ctx.metrics.rpc_error(operation);
                ctx.health.rpc_reachable.store(false, Ordering::Relaxed);
                warn!(operation, %error, retry_in = ?backoff.next(), "chain unreachable");
                if !backoff.pause(&ctx.stop).await {
                    return Err(GaveUp::Stopped);
                }
            }
            Err(error) => {
                ctx.metrics.rpc_error(operation);
                return Err(GaveUp::Failed(error));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pauses_double_up_to_the_cap_and_end_on_stop() {
        let stop = Stop::default();
        let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(5));
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(backoff.next().as_millis());
            assert!(backoff.pause(&stop).await);
        }
        assert_eq!(seen, [1, 2, 4, 5, 5]);
        stop.stop();
        assert!(!backoff.pause(&stop).await);
    }
}
