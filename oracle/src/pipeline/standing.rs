//! The standing check: every `standing_interval_ms` it reads this node's entry on chain
//! (`get_node`) and notes it for `/health`, tells the operator once of each new standing
//! (jailed, unbonding, unregistered, active again), and unjails a jailed node by itself: from
//! its `until` block, with a stake of at least the oracle's `min_stake` and an engine that works
//! on this machine, it sends `unjail_node`, and notes the node active at once when the oracle
//! takes it. A refusal is logged and tried again later, never at once: one check interval after
//! the first refusal, the wait doubling after each further one in a row, at most
//! [`LONGEST_UNJAIL_WAIT`] (each refused call costs gas). A stake below the minimum is the
//! operator's to top up (`add_stake`): the node says so and sends nothing. While the engine
//! fails (`Health::engine_failures` above 0: failures only an inference that works, or a
//! restart, clears) it says so once and sends nothing: unjailed, it would miss its requests and
//! be jailed again.

use super::retry::{retry, GaveUp};
use super::Context;
use crate::chain::{tx_hash, Sent};
use crate::health::{OnChain, Standing};
use crate::metrics::UnjailOutcome;
use oracle_protocol::{NodeStatus, NodeView};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// The longest wait between two `unjail_node` calls after refusals in a row (unless the check
/// interval is longer: never sooner than the next check).
const LONGEST_UNJAIL_WAIT: Duration = Duration::from_secs(3600);

/// A jailed node's stake the operator was told is too low to unjail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LowStake {
    until: u64,
    stake: u128,
}

/// The `unjail_node` calls the oracle refused in a row for the jailing that ends at `until`,
/// and when the next one may be sent.
#[derive(Debug, Clone, Copy)]
struct Refused {
    until: u64,
    times: u32,
    next: Instant,
}

/// What the check remembers of a jailing between two checks; forgotten once the node is no
/// longer jailed.
#[derive(Debug, Default)]
struct Memory {
    low_stake_told: Option<LowStake>,
    engine_failing_told: bool,
    refused: Option<Refused>,
}

impl Memory {
    /// The refusals in a row of the jailing that ends at `until`.
    fn refused(&self, until: u64) -> Option<Refused> {
        self.refused.filter(|refused| refused.until == until)
    }
}

/// The wait after `times` (at least 1) `unjail_node` calls refused in a row: `interval`
/// doubled `times - 1` times, at most [`LONGEST_UNJAIL_WAIT`] (or `interval`, if longer).
fn wait_after_refusals(interval: Duration, times: u32) -> Duration {
    let doublings = times.saturating_sub(1).min(31);
    interval
        .saturating_mul(1 << doublings)
        .min(LONGEST_UNJAIL_WAIT.max(interval))
}

pub async fn run(ctx: Arc<Context>) {
    let interval = Duration::from_millis(ctx.config.standing_interval_ms);
    let mut memory = Memory::default();
    // The entry was read, noted and told at start: the first check comes one interval later.
    while ctx.stop.sleep(interval).await {
        let checked = tokio::select! {
            biased;
            _ = ctx.stop.stopped() => return,
            checked = check(&ctx, &mut memory) => checked,
        };
        match checked {
            Ok(()) => {}
            Err(GaveUp::Stopped) => return,
            Err(GaveUp::Failed(error)) => {
                warn!(%error, retry_in = ?interval, "cannot check this node's standing");
            }
        }
    }
}

/// Tells the operator what this node's entry on chain (`None`: not registered) means for its
/// work when the oracle gives it none; nothing while it is active.
pub fn announce(node: Option<&NodeView>) {
    let Some(node) = node else {
        warn!(
            "this node is not registered with the oracle any more (its stake was withdrawn): it \
             gets no new work; register it again (`oracle-node register`) to serve"
        );
        return;
    };
    match node.status {
        NodeStatus::Active => {}
        NodeStatus::Jailed { until } => warn!(
            until,
            missed_commits = node.missed_commits,
            stake = %node.stake,
            "this node is jailed: the oracle puts it on no new committee (it let too many \
             requests in a row pass without committing or, on a timeout, revealing, or slashing \
             took its stake below the minimum); it still answers the requests it is on, and sends unjail_node itself from \
             block {until} if its stake is at least the oracle's min_stake: keep it running"
        ),
        NodeStatus::Unbonding { unlocks_at } => warn!(
            unlocks_at,
            "this node is unbonding (unregister_node was called): it gets no new work; its stake \
             can be withdrawn from block {unlocks_at}"
        ),
    }
}

/// One check: reads and notes the entry, tells a change, unjails when it may.
async fn check(ctx: &Context, memory: &mut Memory) -> Result<(), GaveUp> {
    let node = retry(ctx, "get_node", || ctx.chain.get_node(ctx.account())).await?;
    let before = ctx.health.note_on_chain(node.as_ref());
    let now = OnChain::of(node.as_ref());
    if (before.standing, before.jailed_until) != (now.standing, now.jailed_until) {
        if now.standing == Standing::Active && before.standing != Standing::Unknown {
            info!("this node is active again: the oracle puts it on new committees");
        }
        announce(node.as_ref());
    }
    let Some(node) = node else {
        *memory = Memory::default();
        return Ok(());
    };
    let NodeStatus::Jailed { until } = node.status else {
        *memory = Memory::default();
        return Ok(());
    };
    let height = retry(ctx, "status", || ctx.chain.status())
        .await?
        .latest_block_height;
    if height < until {
        debug!(height, until, "jailed: too early to unjail");
        return Ok(());
    }
    let min_stake = retry(ctx, "get_config", || ctx.chain.get_config())
        .await?
        .min_stake;
    if node.stake < min_stake {
        let low = LowStake {
            until,
            stake: node.stake,
        };
        if memory.low_stake_told != Some(low) {
            tell_low_stake(ctx, node.stake, min_stake);
            memory.low_stake_told = Some(low);
        }
        return Ok(());
    }
    let failures = ctx.health.engine_failures();
    if failures > 0 {
        if !memory.engine_failing_told {
            tell_engine_failing(failures, ctx.health.engine_error());
            memory.engine_failing_told = true;
        }
        return Ok(());
    }
    memory.engine_failing_told = false;
    if let Some(refused) = memory.refused(until) {
        if Instant::now() < refused.next {
            debug!(
                refusals = refused.times,
                "unjail_node was refused: waiting before sending it again"
            );
            return Ok(());
        }
    }
    unjail(ctx, &node, until, memory).await
}

fn tell_low_stake(ctx: &Context, stake: u128, min_stake: u128) {
    let missing = min_stake - stake;
    warn!(
        stake = %stake,
        min_stake = %min_stake,
        "this jailed node's stake is below the oracle's min_stake, so it cannot unjail: add at \
         least {missing} yoctoNEAR with the oracle's add_stake, a payable call without \
         arguments from the node's account (e.g. `near call {} add_stake '{{}}' --accountId {} \
         --depositYocto {missing}`); the node unjails itself at the next check after that",
        ctx.chain.contract(),
        ctx.account()
    );
}

fn tell_engine_failing(failures: u64, error: Option<String>) {
    warn!(
        failures,
        error = error.as_deref().unwrap_or_default(),
        "this jailed node does not unjail while its engine fails on this machine: it would miss \
         its requests and be jailed again; fix the machine (`/health`'s engine_error says what \
         failed) and restart the node, which starts with no failures and unjails itself at its \
         first check (or it unjails at a check after an inference of a job it is still on works)"
    );
}

/// Sends `unjail_node` once and logs how it ended: taken, the node is noted active at once; a
/// refusal sets the wait before the next call; an unknown outcome is read at the next check.
async fn unjail(
    ctx: &Context,
    node: &NodeView,
    until: u64,
    memory: &mut Memory,
) -> Result<(), GaveUp> {
    let signed = retry(ctx, "sign", || ctx.chain.sign_unjail()).await?;
    info!(tx = %tx_hash(&signed), until, "sending unjail_node");
    let interval = Duration::from_millis(ctx.config.standing_interval_ms);
    match ctx.chain.send(&signed).await {
        Ok(Sent::Accepted) => {
            ctx.metrics.unjail_sent(UnjailOutcome::Accepted);
            memory.refused = None;
            // What the contract's unjail_node made of the entry.
            ctx.health.note_on_chain(Some(&NodeView {
                status: NodeStatus::Active,
                missed_commits: 0,
                ..node.clone()
            }));
            info!("unjailed: the oracle puts this node on new committees again");
        }
        Ok(Sent::Refused(reason)) => {
            ctx.metrics.unjail_sent(UnjailOutcome::Refused);
            let times = memory.refused(until).map_or(1, |refused| refused.times + 1);
            let retry_in = wait_after_refusals(interval, times);
            memory.refused = Some(Refused {
                until,
                times,
                next: Instant::now() + retry_in,
            });
            warn!(
                %reason,
                refusals_in_a_row = times,
                ?retry_in,
                "the oracle refused unjail_node; sending it again in {retry_in:?} (the wait \
                 doubles with each refusal in a row, up to {LONGEST_UNJAIL_WAIT:?})"
            );
        }
        Err(error) => {
            ctx.metrics.rpc_error("send_tx");
            ctx.metrics.unjail_sent(UnjailOutcome::Unknown);
            warn!(
                %error,
                retry_in = ?interval,
                "sending unjail_node failed; the next check reads whether it landed"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_after_refusals_doubles_from_the_interval_up_to_an_hour() {
        let interval = Duration::from_secs(10);
        let waits: Vec<u64> = (1..=4)
            .map(|times| wait_after_refusals(interval, times).as_secs())
            .collect();
        assert_eq!(waits, [10, 20, 40, 80]);
        assert_eq!(wait_after_refusals(interval, 9), Duration::from_secs(2560));
        assert_eq!(wait_after_refusals(interval, 10), LONGEST_UNJAIL_WAIT);
        assert_eq!(wait_after_refusals(interval, u32::MAX), LONGEST_UNJAIL_WAIT);
        let slow = Duration::from_secs(7200);
        assert_eq!(
            wait_after_refusals(slow, 1),
            slow,
            "never before the next check"
        );
        assert_eq!(wait_after_refusals(slow, 5), slow);
    }

    #[test]
    fn refusals_count_for_their_own_jailing_only() {
        let memory = Memory {
            refused: Some(Refused {
                until: 70,
                times: 3,
                next: Instant::now(),
            }),
            ..Memory::default()
        };
        assert_eq!(memory.refused(70).map(|refused| refused.times), Some(3));
        assert!(
            memory.refused(1070).is_none(),
            "a new jailing starts afresh"
        );
    }
}
