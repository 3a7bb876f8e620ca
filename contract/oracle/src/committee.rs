//! Choosing a request's committee: every eligible node is ranked by
//! `sha256(random_seed ‖ request_id (u64 LE) ‖ account id)` and the lowest `n` ranks serve.
//! Anyone can recompute the choice from the block's seed; no node can choose to be picked.

/// The `size` candidates with the lowest rank, in rank order (ties broken by account id).
/// `hash` is SHA-256 (the host's in the contract).
pub fn select<'a>(
    seed: &[u8],
    request_id: u64,
    candidates: impl IntoIterator<Item = &'a str>,
    size: usize,
    hash: impl Fn(&[u8]) -> [u8; 32],
) -> Vec<&'a str> {
    let mut ranked: Vec<([u8; 32], &str)> = candidates
        .into_iter()
        .map(|account| {
            let mut preimage = Vec::with_capacity(seed.len() + 8 + account.len());
            preimage.extend_from_slice(seed);
            preimage.extend_from_slice(&request_id.to_le_bytes());
            preimage.extend_from_slice(account.as_bytes());
            (hash(&preimage), account)
        })
        .collect();
    ranked.sort_unstable();
    ranked.into_iter().take(size).map(|(_, a)| a).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn sha256(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    const NODES: [&str; 6] = ["a.test", "b.test", "c.test", "d.test", "e.test", "f.test"];

    #[test]
    fn the_choice_is_deterministic_and_independent_of_candidate_order() {
        let first = select(&[1; 32], 7, NODES, 4, sha256);
        let mut reversed = NODES;
        reversed.reverse();
        assert_eq!(select(&[1; 32], 7, reversed, 4, sha256), first);
        assert_eq!(first.len(), 4);
        let mut unique = first.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 4);
    }

    #[test]
    fn the_choice_follows_the_rank_formula() {
        let chosen = select(&[9; 32], 3, NODES, 1, sha256);
        let best = NODES
            .iter()
            .min_by_key(|account| {
                let mut preimage = vec![9; 32];
                preimage.extend_from_slice(&3u64.to_le_bytes());
                preimage.extend_from_slice(account.as_bytes());
                sha256(&preimage)
            })
            .unwrap();
        assert_eq!(chosen, vec![*best]);
    }

    #[test]
    fn seed_and_request_change_the_committee() {
        let committees: std::collections::BTreeSet<Vec<&str>> = (0..20u8)
            .map(|i| select(&[i; 32], u64::from(i), NODES, 3, sha256))
            .collect();
        assert!(committees.len() > 5, "{committees:?}");
    }

    #[test]
    fn fewer_candidates_than_seats_gives_all_of_them() {
        assert_eq!(select(&[0; 32], 0, ["x.test"], 3, sha256), vec!["x.test"]);
    }
}
