//! The standing check: every `standing_interval_ms` it reads this node's entry on chain
//! (`get_node`) and notes it for `/health`, tells the operator once of each new standing
//! (jailed, unbonding, unregistered, active again), and unjails a jailed node by itself: from
//! its `until` block, with a stake of at least the oracle's `min_stake`, it sends `unjail_node`
//! (a refusal is logged and tried again at the next check, never at once). A stake below the
//! minimum is the operator's to top up (`add_stake`): the node says so and sends nothing.

use super::retry::{retry, GaveUp};
use super::Context;
use crate::chain::{tx_hash, Sent};
use crate::health::{OnChain, Standing};
use crate::metrics::UnjailOutcome;
use oracle_protocol::{NodeStatus, NodeView};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

/// A jailed node's stake the operator was told is too low to unjail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LowStake {
    until: u64,
    stake: u128,
}

pub async fn run(ctx: Arc<Context>) {
    let interval = Duration::from_millis(ctx.config.standing_interval_ms);
    let mut low_stake_told = None;
    // The entry was read, noted and told at start: the first check comes one interval later.
    while ctx.stop.sleep(interval).await {
        let checked = tokio::select! {
            biased;
            _ = ctx.stop.stopped() => return,
            checked = check(&ctx, &mut low_stake_told) => checked,
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
             requests in a row pass without committing, or slashing took its stake below the \
             minimum); it still answers the requests it is on, and sends unjail_node itself from \
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
async fn check(ctx: &Context, low_stake_told: &mut Option<LowStake>) -> Result<(), GaveUp> {
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
        return Ok(());
    };
    let NodeStatus::Jailed { until } = node.status else {
        *low_stake_told = None;
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
        if *low_stake_told != Some(low) {
            tell_low_stake(ctx, node.stake, min_stake);
            *low_stake_told = Some(low);
        }
        return Ok(());
    }
    unjail(ctx, until).await
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

/// Sends `unjail_node` once and logs how it ended; the next check reads the outcome.
async fn unjail(ctx: &Context, until: u64) -> Result<(), GaveUp> {
    let signed = retry(ctx, "sign", || ctx.chain.sign_unjail()).await?;
    info!(tx = %tx_hash(&signed), until, "sending unjail_node");
    let retry_in = Duration::from_millis(ctx.config.standing_interval_ms);
    match ctx.chain.send(&signed).await {
        Ok(Sent::Accepted) => {
            ctx.metrics.unjail_sent(UnjailOutcome::Accepted);
            info!("unjailed: the oracle puts this node on new committees again");
        }
        Ok(Sent::Refused(reason)) => {
            ctx.metrics.unjail_sent(UnjailOutcome::Refused);
            warn!(%reason, ?retry_in, "the oracle refused unjail_node; trying again");
        }
        Err(error) => {
            ctx.metrics.rpc_error("send_tx");
            ctx.metrics.unjail_sent(UnjailOutcome::Unknown);
            warn!(
                %error,
                ?retry_in,
                "sending unjail_node failed; the next check reads whether it landed"
            );
        }
    }
    Ok(())
}
