//! NEAR caps the logs of one receipt at 16 KiB and 100 lines (`max_total_log_length`,
//! `max_number_logs`); a receipt that passes either fails as a whole. Every event goes through
//! [`record`], so a call that logs an unknown number of events (a relayed bundle: each entry
//! logs, the one that resolves its request logs the whole resolution) can ask [`fits`] before
//! each step whether the most that step could log still fits.
//!
//! The per-event maxima below are the longest lines each event can write: 64-character account
//! ids (the longest NEAR has), `u64::MAX` heights and ids, `u128::MAX` amounts, the longest
//! reason names. The tests check them against the events' real encoding.

use std::cell::Cell;

/// NEAR's `max_total_log_length`: bytes of logs one receipt may write.
const MAX_LOG_BYTES: usize = 16 * 1024;
/// NEAR's `max_number_logs`: log lines one receipt may write.
const MAX_LOG_LINES: usize = 100;

/// Longest `attestation_submitted` line.
const ATTESTATION_SUBMITTED: usize = 368;
/// Longest `request_resolved` line without its payments.
const REQUEST_RESOLVED: usize = 373;
/// Most one payment adds to `request_resolved` (with the comma before it).
const RESOLVED_PAYMENT: usize = 127;
/// Longest `late_fee_paid` line.
const LATE_FEE_PAID: usize = 296;
/// Longest `node_slashed` line (one with a reporter).
const NODE_SLASHED: usize = 480;
/// Longest `node_jailed` line.
const NODE_JAILED: usize = 320;

/// What one step may log at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LogCost {
    pub bytes: usize,
    pub lines: usize,
}

impl LogCost {
    pub const NOTHING: LogCost = LogCost { bytes: 0, lines: 0 };

    /// An attestation to a pending request with `committee` members and `quorum`: its own
    /// event and, when it completes the quorum, the resolution's — `quorum` payments, and for
    /// each other member (a dissenter, or a member that never committed) at most a slashing
    /// and a jailing.
    pub fn resolving_attestation(committee: usize, quorum: usize) -> LogCost {
        let others = committee.saturating_sub(quorum);
        LogCost {
            bytes: ATTESTATION_SUBMITTED
                + REQUEST_RESOLVED
                + quorum * RESOLVED_PAYMENT
                + others * (NODE_SLASHED + NODE_JAILED),
            lines: 2 + 2 * others,
        }
    }

    /// An attestation to a resolved request: its own event and either a late fee or a
    /// slashing that may jail.
    pub const LATE_ATTESTATION: LogCost = LogCost {
        bytes: ATTESTATION_SUBMITTED + max(LATE_FEE_PAID, NODE_SLASHED + NODE_JAILED),
        lines: 3,
    };
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

thread_local! {
    /// Bytes and lines logged so far by this receipt (one contract call per wasm instance).
    static LOGGED: Cell<LogCost> = const { Cell::new(LogCost::NOTHING) };
}

/// Counts a line about to be logged.
pub(crate) fn record(line: &str) {
    LOGGED.with(|logged| {
        let so_far = logged.get();
        logged.set(LogCost {
            bytes: so_far.bytes + line.len(),
            lines: so_far.lines + 1,
        });
    });
}

/// Whether `more` still fits in this receipt's logs after what it logged so far.
pub(crate) fn fits(more: LogCost) -> bool {
    let so_far = LOGGED.with(Cell::get);
    so_far.bytes + more.bytes <= MAX_LOG_BYTES && so_far.lines + more.lines <= MAX_LOG_LINES
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MAX_COMMITTEE_SIZE;
    use near_sdk::json_types::U128;
    use near_sdk::serde_json::{json, Value};
    use oracle_protocol::{event_log_line, Digest32, EVENT_STANDARD, EVENT_VERSION};

    const ACCOUNT: &str = "a123456789b123456789c123456789d123456789e123456789f123456789g123";

    fn line_len(event: &str, data: Value) -> usize {
        event_log_line(EVENT_STANDARD, EVENT_VERSION, event, &data)
            .unwrap()
            .len()
    }

    fn resolved(payments: usize) -> usize {
        let paid: Vec<Value> = (0..payments)
            .map(|_| json!({"node": ACCOUNT, "amount": U128(u128::MAX)}))
            .collect();
        line_len(
            "request_resolved",
            json!({
                "request_id": u64::MAX,
                "result_digest": Digest32([0xff; 32]),
                "output_hash": Digest32([0xff; 32]),
                "output_truncated": false,
                "paid": paid,
                "held": U128(u128::MAX),
            }),
        )
    }

    #[test]
    fn each_maximum_is_its_events_longest_line() {
        assert_eq!(ACCOUNT.len(), 64);
        let attestation = json!({
            "request_id": u64::MAX,
            "node": ACCOUNT,
            "result_digest": Digest32([0xff; 32]),
            "output_hash": Digest32([0xff; 32]),
        });
        assert_eq!(
            line_len("attestation_submitted", attestation),
            ATTESTATION_SUBMITTED
        );
        assert_eq!(resolved(0), REQUEST_RESOLVED);
        assert_eq!(resolved(1) - resolved(0), RESOLVED_PAYMENT - 1);
        assert_eq!(resolved(3) - resolved(2), RESOLVED_PAYMENT);
        let late = json!({
            "request_id": u64::MAX,
            "node": ACCOUNT,
            "amount": U128(u128::MAX),
            "held": U128(u128::MAX),
        });
        assert_eq!(line_len("late_fee_paid", late), LATE_FEE_PAID);
        let slashed = json!({
            "node": ACCOUNT,
            "request_id": u64::MAX,
            "reason": "committed_without_reveal",
            "amount": U128(u128::MAX),
            "remaining_stake": U128(u128::MAX),
            "reporter": ACCOUNT,
            "reporter_reward": U128(u128::MAX),
        });
        assert_eq!(line_len("node_slashed", slashed), NODE_SLASHED);
        let jailed = json!({
            "node": ACCOUNT,
            "reason": "stake_below_minimum",
            "until": u64::MAX,
            "missed_commits": u32::MAX,
            "jailings": u32::MAX,
            "stake": U128(u128::MAX),
        });
        assert_eq!(line_len("node_jailed", jailed), NODE_JAILED);
    }

    #[test]
    fn one_resolving_attestation_fits_in_a_receipt_on_any_valid_committee() {
        for committee in 1..=MAX_COMMITTEE_SIZE as usize {
            for quorum in committee / 2 + 1..=committee {
                let cost = LogCost::resolving_attestation(committee, quorum);
                assert!(fits(cost), "{committee}/{quorum}: {cost:?}");
            }
        }
        assert!(fits(LogCost::LATE_ATTESTATION));
    }

    #[test]
    fn what_was_logged_counts_against_the_limits() {
        assert!(fits(LogCost {
            bytes: MAX_LOG_BYTES,
            lines: MAX_LOG_LINES
        }));
        record("12345");
        assert!(!fits(LogCost {
            bytes: MAX_LOG_BYTES - 4,
            lines: 1
        }));
        assert!(fits(LogCost {
            bytes: MAX_LOG_BYTES - 5,
            lines: MAX_LOG_LINES - 1
        }));
        assert!(!fits(LogCost {
            bytes: 0,
            lines: MAX_LOG_LINES
        }));
    }
}
