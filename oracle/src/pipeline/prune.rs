//! Pruning: every hour, the jobs that finished more than `journal_retention_hours` ago leave
//! the journal, so it stays as large as the recent work and no larger.

use super::Context;
use crate::journal::unix_now;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

const EVERY: Duration = Duration::from_secs(3600);

pub async fn run(ctx: Arc<Context>) {
    let retention = ctx.config.journal_retention_hours.saturating_mul(3600);
    loop {
        let cutoff = unix_now().saturating_sub(retention);
        let journal = ctx.journal.clone();
        match tokio::task::spawn_blocking(move || journal.prune_finished_before(cutoff)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(jobs)) => info!(jobs, "pruned finished jobs past the retention"),
            Ok(Err(e)) => return ctx.stop.fail(format_args!("pruning the journal: {e}")),
            Err(e) => return ctx.stop.fail(format_args!("pruning the journal: {e}")),
        }
        if !ctx.stop.sleep(EVERY).await {
            return;
        }
    }
}
