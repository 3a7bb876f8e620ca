//! The oracle's settings: committee size and quorum, stake, unbonding, slashing, output limits,
//! the commit window, how long finished requests are kept, and when silent nodes are jailed. Set at `new`, changed by the owner.

/// Blocks a NEAR yield waits for its resume before it times out (protocol 88:
/// `yield_timeout_length_in_blocks`).
pub const YIELD_TIMEOUT_BLOCKS: u64 = 200;
/// Largest committee a request may have.
pub const MAX_COMMITTEE_SIZE: u32 = 32;
/// Largest output a node may submit (bytes); NEAR caps a call's arguments at 4 MiB.
pub const MAX_OUTPUT_BYTES_CAP: u32 = 256 * 1024;
/// Largest output prefix kept in state and returned inline to the dApp (bytes): the protocol's,
/// which dApps read answers by.
pub use oracle_protocol::MAX_INLINE_OUTPUT_CAP;
/// Longest `retention_blocks` (about 11 days of 1-second blocks).
pub const MAX_RETENTION_BLOCKS: u64 = 1_000_000;
/// Shortest `retention_blocks`: a resolved request's cleanup slashes the members that committed
/// and have not revealed, so it must leave each of them at least the [`MIN_REVEAL_BLOCKS`] a
/// timed-out request does (the reveal phase opened before the quorum could resolve it) —
/// else whoever gets the fee back could clean up at once and slash an honest, late member.
pub const MIN_RETENTION_BLOCKS: u64 = MIN_REVEAL_BLOCKS;
/// Longest `unbonding_blocks`; it must also exceed [`slashable_window`].
pub const MAX_UNBONDING_BLOCKS: u64 = 2_000_000;
/// Blocks a request's reveal phase lasts at least: the yield timeout less the longest
/// `commit_window_blocks`.
pub const MIN_REVEAL_BLOCKS: u64 = 50;
/// Longest `commit_window_blocks`: a request's lifetime less [`MIN_REVEAL_BLOCKS`] left to
/// reveal.
pub const MAX_COMMIT_WINDOW_BLOCKS: u64 = YIELD_TIMEOUT_BLOCKS - MIN_REVEAL_BLOCKS;
/// Blocks between the latest a resolved request becomes cleanable at (its yield's timeout,
/// then `retention_blocks`) and the earliest a member that unregistered as it was made may
/// withdraw its stake: room for the cleanup that slashes an unrevealed commitment to land.
pub const CLEANUP_MARGIN_BLOCKS: u64 = 100;

/// The blocks `unbonding_blocks` must exceed: after the yield timeout and `retention_blocks`, a
/// request a node was on when it unregistered can be cleaned up, slashing it; the
/// [`CLEANUP_MARGIN_BLOCKS`] after that leave the cleanup room to land before it may withdraw.
pub fn slashable_window(retention_blocks: u64) -> u64 {
    YIELD_TIMEOUT_BLOCKS + retention_blocks + CLEANUP_MARGIN_BLOCKS
}

/// Shortest `commit_window_blocks` (counted from the request's block): a node sees its
/// assignment only after the committee's draw, a block after the request's at the earliest,
/// and needs a few blocks to read it and run the model, and two to land its commitment (the
/// block that includes the transaction, and the one its receipt runs in); a shorter window
/// closes the commit phase before honest members can commit, and every request times out.
pub const MIN_COMMIT_WINDOW_BLOCKS: u64 = 10;
/// Most `max_missed_commits`.
pub const MAX_MISSED_COMMITS_CAP: u32 = 1000;
/// Shortest `jail_blocks`: a jailing of 0 blocks would end as it starts (and never escalate),
/// so jailing would cost a silent node nothing but an `unjail_node` call.
pub const MIN_JAIL_BLOCKS: u64 = 1;
/// Longest `jail_blocks` (about 11 days of 1-second blocks).
pub const MAX_JAIL_BLOCKS: u64 = 1_000_000;
/// 100% in basis points.
pub const BPS_DENOMINATOR: u32 = 10_000;

/// The settings, as stored and as JSON: the protocol's type, so clients read what is written.
pub use oracle_protocol::OracleConfig as Config;

/// Checks every field of `config`; the error names the field and what is allowed.
pub fn validate(config: &Config) -> Result<(), String> {
    if config.committee_size == 0 || config.committee_size > MAX_COMMITTEE_SIZE {
        return Err(format!(
            "committee_size must be 1 to {MAX_COMMITTEE_SIZE}, got {}",
            config.committee_size
        ));
    }
    if config.quorum * 2 <= config.committee_size || config.quorum > config.committee_size {
        return Err(format!(
            "quorum must be more than half of committee_size and at most committee_size \
             ({}), got {}",
            config.committee_size, config.quorum
        ));
    }
    if config.min_stake == 0 {
        return Err("min_stake must be positive".to_string());
    }
    if !(MIN_RETENTION_BLOCKS..=MAX_RETENTION_BLOCKS).contains(&config.retention_blocks) {
        return Err(format!(
            "retention_blocks must be {MIN_RETENTION_BLOCKS} to {MAX_RETENTION_BLOCKS} (a \
             resolved request's cleanup slashes members that have not revealed: they get at \
             least {MIN_REVEAL_BLOCKS} blocks), got {}",
            config.retention_blocks
        ));
    }
    if config.unbonding_blocks > MAX_UNBONDING_BLOCKS {
        return Err(format!(
            "unbonding_blocks must be at most {MAX_UNBONDING_BLOCKS}, got {}",
            config.unbonding_blocks
        ));
    }
    let slashable_window = slashable_window(config.retention_blocks);
    if config.unbonding_blocks <= slashable_window {
        return Err(format!(
            "unbonding_blocks must exceed the yield timeout plus retention_blocks plus \
             {CLEANUP_MARGIN_BLOCKS} blocks for a cleanup to land ({slashable_window}), got {}",
            config.unbonding_blocks
        ));
    }
    for (name, bps) in [
        ("slash_bps", config.slash_bps),
        ("reporter_bps", config.reporter_bps),
    ] {
        if bps > BPS_DENOMINATOR {
            return Err(format!(
                "{name} must be at most {BPS_DENOMINATOR}, got {bps}"
            ));
        }
    }
    if config.max_output_bytes == 0 || config.max_output_bytes > MAX_OUTPUT_BYTES_CAP {
        return Err(format!(
            "max_output_bytes must be 1 to {MAX_OUTPUT_BYTES_CAP}, got {}",
            config.max_output_bytes
        ));
    }
    if config.max_inline_output_bytes == 0
        || config.max_inline_output_bytes > MAX_INLINE_OUTPUT_CAP
        || config.max_inline_output_bytes > config.max_output_bytes
    {
        return Err(format!(
            "max_inline_output_bytes must be 1 to min({MAX_INLINE_OUTPUT_CAP}, \
             max_output_bytes), got {}",
            config.max_inline_output_bytes
        ));
    }
    if config.commit_window_blocks < MIN_COMMIT_WINDOW_BLOCKS
        || config.commit_window_blocks > MAX_COMMIT_WINDOW_BLOCKS
    {
        return Err(format!(
            "commit_window_blocks must be {MIN_COMMIT_WINDOW_BLOCKS} to \
             {MAX_COMMIT_WINDOW_BLOCKS}: at least {MIN_COMMIT_WINDOW_BLOCKS} so that nodes have \
             time to run the model and commit, at most a request's {YIELD_TIMEOUT_BLOCKS} blocks \
             less {MIN_REVEAL_BLOCKS} left to reveal; got {}",
            config.commit_window_blocks
        ));
    }
    if config.max_missed_commits == 0 || config.max_missed_commits > MAX_MISSED_COMMITS_CAP {
        return Err(format!(
            "max_missed_commits must be 1 to {MAX_MISSED_COMMITS_CAP}, got {}",
            config.max_missed_commits
        ));
    }
    if !(MIN_JAIL_BLOCKS..=MAX_JAIL_BLOCKS).contains(&config.jail_blocks) {
        return Err(format!(
            "jail_blocks must be {MIN_JAIL_BLOCKS} to {MAX_JAIL_BLOCKS}, got {}",
            config.jail_blocks
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            committee_size: 4,
            quorum: 3,
            min_stake: 10u128.pow(24),
            unbonding_blocks: 1000,
            slash_bps: 1000,
            reporter_bps: 5000,
            max_output_bytes: 8192,
            max_inline_output_bytes: 1024,
            retention_blocks: 100,
            commit_window_blocks: 40,
            max_missed_commits: 10,
            jail_blocks: 1000,
        }
    }

    #[test]
    fn a_sound_config_is_accepted() {
        assert_eq!(validate(&config()), Ok(()));
        // Unbonding must outlast the yield timeout, the retention and the cleanup margin.
        let margin = |unbonding_blocks| Config {
            retention_blocks: 100,
            unbonding_blocks,
            ..config()
        };
        assert_eq!(validate(&margin(401)), Ok(()));
        assert!(validate(&margin(400))
            .unwrap_err()
            .contains("plus 100 blocks for a cleanup to land (400), got 400"));
        let longest = Config {
            retention_blocks: MAX_RETENTION_BLOCKS,
            unbonding_blocks: MAX_UNBONDING_BLOCKS,
            commit_window_blocks: MAX_COMMIT_WINDOW_BLOCKS,
            max_missed_commits: MAX_MISSED_COMMITS_CAP,
            jail_blocks: MAX_JAIL_BLOCKS,
            ..config()
        };
        assert_eq!(validate(&longest), Ok(()));
        let shortest = Config {
            commit_window_blocks: MIN_COMMIT_WINDOW_BLOCKS,
            jail_blocks: MIN_JAIL_BLOCKS,
            ..config()
        };
        assert_eq!(validate(&shortest), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (
                Config {
                    committee_size: 0,
                    ..config()
                },
                "committee_size",
            ),
            (
                Config {
                    quorum: 2,
                    ..config()
                },
                "quorum",
            ),
            (
                Config {
                    quorum: 5,
                    ..config()
                },
                "quorum",
            ),
            (
                Config {
                    min_stake: 0,
                    ..config()
                },
                "min_stake",
            ),
            (
                Config {
                    unbonding_blocks: 300,
                    ..config()
                },
                "unbonding_blocks",
            ),
            (
                Config {
                    unbonding_blocks: u64::MAX,
                    ..config()
                },
                "unbonding_blocks",
            ),
            (
                Config {
                    retention_blocks: MAX_RETENTION_BLOCKS + 1,
                    unbonding_blocks: MAX_UNBONDING_BLOCKS,
                    ..config()
                },
                "retention_blocks",
            ),
            (
                Config {
                    retention_blocks: u64::MAX,
                    ..config()
                },
                "retention_blocks",
            ),
            (
                Config {
                    retention_blocks: MIN_RETENTION_BLOCKS - 1,
                    ..config()
                },
                "retention_blocks",
            ),
            (
                Config {
                    slash_bps: 10_001,
                    ..config()
                },
                "slash_bps",
            ),
            (
                Config {
                    reporter_bps: 10_001,
                    ..config()
                },
                "reporter_bps",
            ),
            (
                Config {
                    max_output_bytes: MAX_OUTPUT_BYTES_CAP + 1,
                    ..config()
                },
                "max_output_bytes",
            ),
            (
                Config {
                    max_inline_output_bytes: 9000,
                    ..config()
                },
                "max_inline_output_bytes",
            ),
            (
                Config {
                    commit_window_blocks: 0,
                    ..config()
                },
                "commit_window_blocks",
            ),
            (
                Config {
                    commit_window_blocks: MIN_COMMIT_WINDOW_BLOCKS - 1,
                    ..config()
                },
                "commit_window_blocks",
            ),
            (
                Config {
                    commit_window_blocks: MAX_COMMIT_WINDOW_BLOCKS + 1,
                    ..config()
                },
                "commit_window_blocks",
            ),
            (
                Config {
                    max_missed_commits: 0,
                    ..config()
                },
                "max_missed_commits",
            ),
            (
                Config {
                    max_missed_commits: MAX_MISSED_COMMITS_CAP + 1,
                    ..config()
                },
                "max_missed_commits",
            ),
            (
                Config {
                    jail_blocks: MAX_JAIL_BLOCKS + 1,
                    ..config()
                },
                "jail_blocks",
            ),
            (
                Config {
                    jail_blocks: 0,
                    ..config()
                },
                "jail_blocks",
            ),
        ];
        for (bad, field) in cases {
            let err = validate(&bad).unwrap_err();
            assert!(err.starts_with(field), "{field}: {err}");
        }
    }
}
