//! What a question's record costs: the asker pays, at `ask`, for the record at its largest —
//! the question, the longest asker account and the longest answer the dApp keeps — so the
//! dApp's storage never grows on its own money, whatever the answer turns out to be.

use near_sdk::env;

/// Longest question `ask` accepts (the oracle's model may accept less; it then refuses).
pub const MAX_QUESTION_BYTES: usize = 2048;
/// Longest answer text kept: the oracle's output (a longer one is kept as a prefix, marked
/// `truncated`, its `output_hash` naming the whole) or a failure's reason.
pub const MAX_STORED_ANSWER_BYTES: usize = 1024;

/// Bytes NEAR counts for each stored key-value pair besides its key and value.
const RECORD_OVERHEAD_BYTES: u64 = 40;
/// Key of a question: the map's prefix byte and the borsh id.
const KEY_BYTES: u64 = 1 + 8;
/// Longest account id, so the price does not depend on who asks.
const MAX_ACCOUNT_BYTES: u64 = 64;
/// A record's fixed part in borsh: the asker (length + at most 64 bytes), the question's length
/// prefix, the storage deposit (u128), the block it was asked at (u64) and the answer's variant
/// tag.
const FIXED_RECORD_BYTES: u64 = 4 + MAX_ACCOUNT_BYTES + 4 + 16 + 8 + 1;
/// The largest answer's fields in borsh, the larger of `Answered` (output, truncated flag,
/// 64-character hex hash, request id) and `Failed` (reason, optional request id: at most
/// 4 + 1,024 + 1 + 8 bytes, 68 fewer than `Answered`).
const ANSWER_BYTES: u64 = 4 + MAX_STORED_ANSWER_BYTES as u64 + 1 + (4 + 64) + 8;

/// Bytes reserved for a question of `question_bytes` bytes and its answer.
pub fn bytes_for(question_bytes: usize) -> u64 {
    KEY_BYTES + RECORD_OVERHEAD_BYTES + FIXED_RECORD_BYTES + question_bytes as u64 + ANSWER_BYTES
}

/// yoctoNEAR that `ask` keeps for a question of `question_bytes` bytes.
pub fn deposit_for(question_bytes: usize) -> u128 {
    env::storage_byte_cost()
        .as_yoctonear()
        .saturating_mul(u128::from(bytes_for(question_bytes)))
}

/// `text` cut to at most `max` bytes on a character boundary; true when it was cut.
pub fn bounded(mut text: String, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    (text, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_cut_on_a_character_boundary() {
        assert_eq!(bounded("abc".into(), 3), ("abc".into(), false));
        assert_eq!(bounded("abcd".into(), 3), ("abc".into(), true));
        // "é" is 2 bytes: 3 bytes hold one of them, not one and a half.
        assert_eq!(bounded("éé".into(), 3), ("é".into(), true));
    }

    #[test]
    fn the_reserve_grows_with_the_question() {
        assert_eq!(bytes_for(10) - bytes_for(0), 10);
        assert!(bytes_for(0) > MAX_STORED_ANSWER_BYTES as u64);
    }
}
