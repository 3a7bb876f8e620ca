//! The oracle's settings: committee size and quorum, stake, unbonding, slashing, output limits
//! and how long finished requests are kept. Set at `new`, changed by the owner.

use near_sdk::json_types::U128;
use near_sdk::near;

/// Blocks a NEAR yield waits for its resume before it times out (protocol 88:
/// `yield_timeout_length_in_blocks`).
pub const YIELD_TIMEOUT_BLOCKS: u64 = 200;
/// Largest committee a request may have.
pub const MAX_COMMITTEE_SIZE: u32 = 32;
/// Largest output a node may submit (bytes); NEAR caps a call's arguments at 4 MiB.
pub const MAX_OUTPUT_BYTES_CAP: u32 = 256 * 1024;
/// Largest output prefix kept in state and returned inline to the dApp (bytes).
pub const MAX_INLINE_OUTPUT_CAP: u32 = 16 * 1024;
/// 100% in basis points.
pub const BPS_DENOMINATOR: u32 = 10_000;

/// The settings, as stored and as JSON.
#[near(serializers = [borsh, json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Nodes chosen per request (n).
    pub committee_size: u32,
    /// Matching attestations that resolve a request (k); more than half of n.
    pub quorum: u32,
    /// Least stake (yoctoNEAR) a node must hold to be chosen.
    pub min_stake: U128,
    /// Blocks between `unregister_node` and `withdraw_stake`; longer than a request can stay
    /// open or slashable, so a node cannot escape its slashing.
    pub unbonding_blocks: u64,
    /// Part of its stake a node loses per offence, in basis points.
    pub slash_bps: u32,
    /// Part of a slashed amount paid to whoever reported equivocation, in basis points.
    pub reporter_bps: u32,
    /// Longest output a node may submit, in bytes.
    pub max_output_bytes: u32,
    /// Longest output prefix stored and returned inline, in bytes.
    pub max_inline_output_bytes: u32,
    /// Blocks a finished request stays (late attestations can still be slashed) before anyone
    /// may clean it up.
    pub retention_blocks: u64,
}

impl Config {
    /// Checks every field; the error names the field and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        if self.committee_size == 0 || self.committee_size > MAX_COMMITTEE_SIZE {
            return Err(format!(
                "committee_size must be 1 to {MAX_COMMITTEE_SIZE}, got {}",
                self.committee_size
            ));
        }
        if self.quorum * 2 <= self.committee_size || self.quorum > self.committee_size {
            return Err(format!(
                "quorum must be more than half of committee_size and at most committee_size \
                 ({}), got {}",
                self.committee_size, self.quorum
            ));
        }
        if self.min_stake.0 == 0 {
            return Err("min_stake must be positive".to_string());
        }
        let slashable_window = YIELD_TIMEOUT_BLOCKS + self.retention_blocks;
        if self.unbonding_blocks <= slashable_window {
            return Err(format!(
                "unbonding_blocks must exceed the yield timeout plus retention_blocks \
                 ({slashable_window}), got {}",
                self.unbonding_blocks
            ));
        }
        for (name, bps) in [
            ("slash_bps", self.slash_bps),
            ("reporter_bps", self.reporter_bps),
        ] {
            if bps > BPS_DENOMINATOR {
                return Err(format!(
                    "{name} must be at most {BPS_DENOMINATOR}, got {bps}"
                ));
            }
        }
        if self.max_output_bytes == 0 || self.max_output_bytes > MAX_OUTPUT_BYTES_CAP {
            return Err(format!(
                "max_output_bytes must be 1 to {MAX_OUTPUT_BYTES_CAP}, got {}",
                self.max_output_bytes
            ));
        }
        if self.max_inline_output_bytes == 0
            || self.max_inline_output_bytes > MAX_INLINE_OUTPUT_CAP
            || self.max_inline_output_bytes > self.max_output_bytes
        {
            return Err(format!(
                "max_inline_output_bytes must be 1 to min({MAX_INLINE_OUTPUT_CAP}, \
                 max_output_bytes), got {}",
                self.max_inline_output_bytes
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            committee_size: 4,
            quorum: 3,
            min_stake: U128(10u128.pow(24)),
            unbonding_blocks: 1000,
            slash_bps: 1000,
            reporter_bps: 5000,
            max_output_bytes: 8192,
            max_inline_output_bytes: 1024,
            retention_blocks: 100,
        }
    }

    #[test]
    fn a_sound_config_is_accepted() {
        assert_eq!(config().validate(), Ok(()));
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
                    min_stake: U128(0),
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
        ];
        for (bad, field) in cases {
            let err = bad.validate().unwrap_err();
            assert!(err.starts_with(field), "{field}: {err}");
        }
    }
}
