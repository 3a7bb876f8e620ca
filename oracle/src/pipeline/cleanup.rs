//! Cleaning up what guessers left: a member that committed to a resolved request and never
//! revealed is slashed when the request is cleaned up, and only if that happens before its stake
//! unlocks, so the oracle pays whoever calls `cleanup_request` the reporter's reward. This node
//! watches the requests it attested to (or was late on): every `standing_interval_ms` it reads
//! the ones due, forgets those that timed out, were cleaned up, or hold no unrevealed
//! commitment, waits for the block the view names as `cleanable_at`, and then sends
//! `cleanup_request`. The watch list lives in memory: a restart forgets it (a cleanup is
//! anyone's to make; nothing is owed to this node).

use super::retry::{retry, GaveUp};
use super::Context;
use crate::chain::{tx_hash, Sent};
use oracle_protocol::RequestPhase;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

/// The oracle's least `retention_blocks`: a request resolved at block `b` (or still pending at
/// `b`) cannot be cleaned up before `b` + this, so it is looked at again no sooner.
const LEAST_RETENTION_BLOCKS: u64 = 50;
/// Blocks before a request that could not be read, or cleaned up, is tried again.
const RETRY_AFTER_BLOCKS: u64 = 20;

pub async fn run(ctx: Arc<Context>) {
    let interval = Duration::from_millis(ctx.config.standing_interval_ms);
    while ctx.stop.sleep(interval).await {
        let swept = tokio::select! {
            biased;
            _ = ctx.stop.stopped() => return,
            swept = sweep(&ctx) => swept,
        };
        match swept {
            Ok(()) => {}
            Err(GaveUp::Stopped) => return,
            Err(GaveUp::Failed(error)) => {
                warn!(%error, retry_in = ?interval, "cannot look at the requests to clean up");
            }
        }
    }
}

/// What to do with a watched request after reading it.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Nothing to clean up here, ever.
    Forget,
    /// Look again from this block.
    LookFrom(u64),
    /// Clean it up now.
    CleanUp,
}

/// Looks at each watched request that is due at the chain's head.
async fn sweep(ctx: &Context) -> Result<(), GaveUp> {
    let head = retry(ctx, "status", || ctx.chain.status())
        .await?
        .latest_block_height;
    let due: Vec<u64> = ctx
        .cleanups
        .lock()
        .expect("not poisoned")
        .iter()
        .filter(|(_, &from)| from <= head)
        .map(|(&id, _)| id)
        .collect();
    for request_id in due {
        let view = match retry(ctx, "get_request", || ctx.chain.get_request(request_id)).await {
            Ok(view) => view,
            Err(GaveUp::Stopped) => return Err(GaveUp::Stopped),
            Err(GaveUp::Failed(error)) => {
                // One unreadable request holds up none of the others.
                warn!(request_id, %error, "cannot read a request to clean up; trying later");
                let mut cleanups = ctx.cleanups.lock().expect("not poisoned");
                cleanups.insert(request_id, head + RETRY_AFTER_BLOCKS);
                continue;
            }
        };
        let next = match &view {
            None => Next::Forget,
            Some(view) => next_step(view, head),
        };
        let next = match next {
            Next::CleanUp => clean_up(ctx, request_id, head).await,
            other => other,
        };
        let mut cleanups = ctx.cleanups.lock().expect("not poisoned");
        match next {
            Next::LookFrom(block) => cleanups.insert(request_id, block),
            _ => cleanups.remove(&request_id),
        };
    }
    Ok(())
}

/// What the view of a watched request at block `head` calls for.
fn next_step(view: &oracle_protocol::RequestView, head: u64) -> Next {
    match view.status {
        // A timed-out request slashes nobody at its cleanup.
        RequestPhase::TimedOut => Next::Forget,
        RequestPhase::Pending => Next::LookFrom(head + LEAST_RETENTION_BLOCKS),
        RequestPhase::Resolved if view.unrevealed_commitments().is_empty() => Next::Forget,
        RequestPhase::Resolved => match view.cleanable_at {
            // The answer has not reached the requester's callback yet.
            None => Next::LookFrom(head + LEAST_RETENTION_BLOCKS),
            Some(at) if at > head => Next::LookFrom(at),
            Some(_) => Next::CleanUp,
        },
    }
}

/// Sends `cleanup_request` for `request_id` at block `head`: forgotten once the chain took it
/// or refused it (cleaned up by someone else first, most likely); looked at again
/// [`RETRY_AFTER_BLOCKS`] later when it could not be sent.
async fn clean_up(ctx: &Context, request_id: u64, head: u64) -> Next {
    let later = Next::LookFrom(head + RETRY_AFTER_BLOCKS);
    let signed = match ctx.chain.sign_cleanup(request_id).await {
        Ok(signed) => signed,
        Err(error) => {
            warn!(request_id, %error, "cannot sign cleanup_request; trying later");
            return later;
        }
    };
    let hash = tx_hash(&signed);
    match ctx.chain.send(&signed).await {
        Ok(Sent::Accepted) => {
            ctx.metrics.cleanup();
            info!(
                request_id,
                tx = %hash,
                "cleaned up a request holding a commitment never revealed: its member is \
                 slashed, and this node gets the reporter's reward"
            );
            Next::Forget
        }
        Ok(Sent::Refused(reason)) if reason.contains("does not exist") => {
            debug!(request_id, "cleaned up by someone else first");
            Next::Forget
        }
        Ok(Sent::Refused(reason)) => {
            warn!(request_id, tx = %hash, %reason, "the oracle refused cleanup_request");
            Next::Forget
        }
        Err(error) => {
            warn!(request_id, tx = %hash, %error, "cleanup_request failed; trying later");
            later
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oracle_protocol::{CommitmentView, Digest32, RequestView};

    fn resolved(committed: &[&str], attested: &[&str], cleanable_at: Option<u64>) -> RequestView {
        let mut view: RequestView = serde_json::from_value(serde_json::json!({
            "request_id": 5, "model_id": "01".repeat(32), "requester": "dapp.test",
            "storage_refund_to": "dapp.test", "input": "q",
            "params": {"temperature_milli": 0, "top_k": 0, "top_p_milli": 1000,
                "max_tokens": 8, "seed": "0"},
            "fee": "1", "storage_deposit": "1", "committee": ["a.test", "b.test", "c.test"],
            "quorum": 2, "attested": [], "attestations": [], "slashed": [],
            "created_at": 1, "expires_at": 201, "status": "resolved", "answer": null,
        }))
        .unwrap();
        view.commitments = committed
            .iter()
            .map(|node| CommitmentView {
                node: node.to_string(),
                commitment: Digest32([0; 32]),
            })
            .collect();
        view.attested = attested.iter().map(|n| n.to_string()).collect();
        view.cleanable_at = cleanable_at;
        view
    }

    #[test]
    fn only_a_resolved_request_with_a_commitment_never_revealed_is_cleaned_up() {
        let all = ["a.test", "b.test", "c.test"];
        let two = ["a.test", "b.test"];
        assert_eq!(
            next_step(&resolved(&all, &all, Some(90)), 100),
            Next::Forget
        );
        assert_eq!(
            next_step(&resolved(&all, &two, Some(90)), 100),
            Next::CleanUp
        );
        assert_eq!(
            next_step(&resolved(&all, &two, Some(100)), 100),
            Next::CleanUp
        );
        assert_eq!(
            next_step(&resolved(&all, &two, Some(150)), 100),
            Next::LookFrom(150)
        );
        // Not delivered to the requester yet: no cleanup block, and none for 50 blocks.
        assert_eq!(
            next_step(&resolved(&all, &two, None), 100),
            Next::LookFrom(150)
        );
        // Slashed already (by an equivocation report, say): nothing left to slash.
        let mut slashed = resolved(&all, &two, Some(90));
        slashed.slashed = vec!["c.test".into()];
        assert_eq!(next_step(&slashed, 100), Next::Forget);
        let mut timed_out = resolved(&all, &two, Some(90));
        timed_out.status = RequestPhase::TimedOut;
        assert_eq!(next_step(&timed_out, 100), Next::Forget);
    }
}
