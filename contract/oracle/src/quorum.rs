//! Quorum counting and output handling: which result a committee agreed on, and how much of
//! the output is kept inline.

use oracle_protocol::Digest32;

/// What a node attested to: the engine's result digest and the SHA-256 of the output.
pub type Claim = (Digest32, Digest32);

/// The claim that at least `quorum` of `claims` share, if any (the first to get there when
/// several could, which a quorum of more than half rules out).
pub fn agreed_claim(claims: &[Claim], quorum: u32) -> Option<Claim> {
    claims
        .iter()
        .find(|candidate| {
            let votes = claims.iter().filter(|c| c == candidate).count();
            votes >= quorum as usize
        })
        .copied()
}

/// The claim a timed-out request pays for, if any: the one that most of `claims` share, when
/// at least two share it and no other claim has as many. A lone claim (a guess, or the one
/// honest answer among silent members) earns nothing, so a member cannot be paid for blocking a
/// quorum with an answer of its own; nor can a blocking group that only matches the other
/// revealers' number (with a quorum of just over half, the members that can block a quorum are
/// at least as many as the rest).
pub fn timeout_claim(claims: &[Claim]) -> Option<Claim> {
    let votes = |claim: &Claim| claims.iter().filter(|c| *c == claim).count();
    let (best, most) = claims
        .iter()
        .map(|claim| (*claim, votes(claim)))
        .max_by_key(|(_, n)| *n)?;
    let tied = claims.iter().any(|c| *c != best && votes(c) == most);
    (most >= 2 && !tied).then_some(best)
}

/// The longest prefix of `output` of at most `limit` bytes that ends on a character boundary,
/// and whether it is shorter than the output.
pub fn inline_prefix(output: &str, limit: u32) -> (&str, bool) {
    let limit = limit as usize;
    if output.len() <= limit {
        return (output, false);
    }
    let mut end = limit;
    while !output.is_char_boundary(end) {
        end -= 1;
    }
    (&output[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(digest: u8, output: u8) -> Claim {
        (Digest32([digest; 32]), Digest32([output; 32]))
    }

    #[test]
    fn a_quorum_needs_k_equal_claims() {
        let good = claim(1, 1);
        let bad = claim(2, 2);
        assert_eq!(agreed_claim(&[good, bad], 2), None);
        assert_eq!(agreed_claim(&[good, bad, good], 2), Some(good));
        assert_eq!(agreed_claim(&[bad, good, good, good], 3), Some(good));
        assert_eq!(agreed_claim(&[], 1), None);
    }

    #[test]
    fn same_digest_with_another_output_is_another_claim() {
        let a = claim(1, 1);
        let b = claim(1, 2);
        assert_eq!(agreed_claim(&[a, b], 2), None);
    }

    #[test]
    fn a_timeout_pays_the_largest_group_of_at_least_two_without_a_tie() {
        let (a, b, c) = (claim(1, 1), claim(2, 2), claim(1, 2));
        assert_eq!(timeout_claim(&[a, b, a]), Some(a));
        assert_eq!(timeout_claim(&[b, a, b, a, b, c]), Some(b));
        // A tie pays nobody; nor do lone claims.
        assert_eq!(timeout_claim(&[a, b, a, b]), None);
        assert_eq!(timeout_claim(&[a, c]), None);
        assert_eq!(timeout_claim(&[a]), None);
        assert_eq!(timeout_claim(&[]), None);
    }

    #[test]
    fn prefixes_end_on_character_boundaries() {
        assert_eq!(inline_prefix("hello", 10), ("hello", false));
        assert_eq!(inline_prefix("hello", 5), ("hello", false));
        assert_eq!(inline_prefix("hello", 3), ("hel", true));
        // "é" is two bytes: a limit inside it steps back before it.
        assert_eq!(inline_prefix("aé", 2), ("a", true));
        assert_eq!(inline_prefix("éé", 3), ("é", true));
    }
}
