//! Money arithmetic: what a request must deposit for its storage (its commitments and
//! attestations included: the requester pays for them up front, the nodes never do), how a fee
//! is shared among the committee's seats, and basis-point shares (slashing, reporter rewards).
//! Integers only.

use crate::config::BPS_DENOMINATOR;

/// Bytes reserved for a request's fixed fields (the requester's account id and the option tag
/// of its storage refund account included), its map keys and its pending-set entry, its
/// commit phase entry (the record's 40 bytes, a 9-byte key, the reveal block and the list's
/// length) and the entry of the fee it holds for late agreeing members.
pub const REQUEST_BASE_BYTES: u64 = 640 + COMMIT_PHASE_BYTES + HELD_FEE_BYTES;
/// Bytes of a request's commit phase entry before any commitment.
pub const COMMIT_PHASE_BYTES: u64 = 40 + 9 + 8 + 4;
/// Bytes of a resolved request's held fee entry (the record's 40, a 9-byte key, a u128).
pub const HELD_FEE_BYTES: u64 = 40 + 9 + 16;
/// Bytes reserved per committee seat: the member's account id in the committee list, its
/// commitment (account id, digest), its attestation record (account id, two digests, a 64-byte
/// signature) and a possible entry in the slashed list.
pub const PER_SEAT_BYTES: u64 = 4 * (4 + 64) + 3 * 32 + 64 + 16;
/// Bytes an `output_schema` takes besides its text: the option tag and the length prefix.
pub const SCHEMA_OVERHEAD_BYTES: u64 = 1 + 4;
/// Bytes a named storage refund account takes besides its text: the length prefix.
pub const REFUND_ACCOUNT_OVERHEAD_BYTES: u64 = 4;
/// Bytes reserved for the stored answer besides its output prefix (digests, lengths, flags).
pub const ANSWER_BASE_BYTES: u64 = 96;

/// Storage a request may use over its life, in bytes: it is paid up front by the requester and
/// released when the request is cleaned up. `schema_bytes` is the length of the request's
/// `output_schema` (0 without one); `refund_account_bytes` the length of the account it names
/// in `storage_refund_to` (0 without one).
pub fn request_storage_bytes(
    input_bytes: u32,
    schema_bytes: u32,
    refund_account_bytes: u32,
    committee_size: u32,
    inline_output: u32,
) -> u64 {
    let schema = if schema_bytes == 0 {
        0
    } else {
        SCHEMA_OVERHEAD_BYTES + u64::from(schema_bytes)
    };
    let refund_account = if refund_account_bytes == 0 {
        0
    } else {
        REFUND_ACCOUNT_OVERHEAD_BYTES + u64::from(refund_account_bytes)
    };
    REQUEST_BASE_BYTES
        + u64::from(input_bytes)
        + schema
        + refund_account
        + u64::from(committee_size) * PER_SEAT_BYTES
        + ANSWER_BASE_BYTES
        + u64::from(inline_output)
}

/// `amount × bps / 10 000`, rounded down, without overflow for any u128 amount.
pub fn bps_share(amount: u128, bps: u32) -> u128 {
    let denominator = u128::from(BPS_DENOMINATOR);
    let bps = u128::from(bps.min(BPS_DENOMINATOR));
    amount / denominator * bps + amount % denominator * bps / denominator
}

/// A committee seat's share of `fee`: equal parts for `seats` seats, rounded down (what is left
/// goes back to the request's refund account at cleanup).
pub fn seat_share(fee: u128, seats: usize) -> u128 {
    match seats {
        0 => 0,
        seats => fee / seats as u128,
    }
}

/// Splits `fee` equally among `recipients`, the remainder of the division to the first: how a
/// request made before held fees pays its quorum.
pub fn split_fee(fee: u128, recipients: usize) -> Vec<u128> {
    if recipients == 0 {
        return Vec::new();
    }
    let count = recipients as u128;
    let mut shares = vec![fee / count; recipients];
    shares[0] += fee % count;
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fee_splits_equally_with_the_remainder_to_the_first() {
        assert_eq!(split_fee(10, 3), vec![4, 3, 3]);
        assert_eq!(split_fee(9, 3), vec![3, 3, 3]);
        assert_eq!(split_fee(5, 0), Vec::<u128>::new());
        assert_eq!(split_fee(u128::MAX, 7).iter().sum::<u128>(), u128::MAX);
    }

    #[test]
    fn a_seat_gets_an_equal_share_rounded_down() {
        assert_eq!(seat_share(10, 3), 3);
        assert_eq!(seat_share(9, 3), 3);
        assert_eq!(seat_share(0, 2), 0);
        assert_eq!(seat_share(5, 0), 0);
        assert_eq!(seat_share(u128::MAX, 7), u128::MAX / 7);
    }

    #[test]
    fn bps_shares_round_down_and_never_overflow() {
        assert_eq!(bps_share(1_000, 1_000), 100);
        assert_eq!(bps_share(999, 1), 0);
        assert_eq!(bps_share(12_345, 10_000), 12_345);
        assert_eq!(bps_share(12_345, 20_000), 12_345);
        assert_eq!(bps_share(u128::MAX, 10_000), u128::MAX);
        assert_eq!(bps_share(u128::MAX, 5_000), u128::MAX / 2);
    }

    #[test]
    fn storage_grows_with_input_schema_refund_account_committee_and_inline_output() {
        let base = request_storage_bytes(0, 0, 0, 0, 0);
        assert_eq!(base, REQUEST_BASE_BYTES + ANSWER_BASE_BYTES);
        assert_eq!(request_storage_bytes(100, 0, 0, 0, 0), base + 100);
        assert_eq!(
            request_storage_bytes(0, 300, 0, 0, 0),
            base + SCHEMA_OVERHEAD_BYTES + 300
        );
        assert_eq!(
            request_storage_bytes(0, 0, 10, 0, 0),
            base + REFUND_ACCOUNT_OVERHEAD_BYTES + 10
        );
        assert_eq!(
            request_storage_bytes(0, 0, 0, 4, 0),
            base + 4 * PER_SEAT_BYTES
        );
        assert_eq!(request_storage_bytes(0, 0, 0, 0, 512), base + 512);
    }
}
