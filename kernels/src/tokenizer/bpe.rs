//! Byte-pair merging: joins the symbols of one word pair by pair, lowest merge rank first.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// What a merge of two adjacent tokens gives.
#[derive(Debug, Clone, Copy)]
struct Merge {
    rank: u32,
    merged: u32,
}

/// The merge rules of a vocabulary, by the ids of the pair they join.
#[derive(Debug, Clone, Default)]
pub(crate) struct MergeTable {
    merges: HashMap<(u32, u32), Merge>,
}

/// A symbol of the word being merged, in a doubly linked list over the word's symbols.
#[derive(Debug, Clone, Copy)]
struct Symbol {
    id: u32,
    prev: Option<usize>,
    next: Option<usize>,
    /// False once merged into the symbol on its left.
    alive: bool,
}

/// A possible merge of the symbols at `left` and `right`, ordered by rank then position,
/// as llama.cpp orders them. It is stale once either symbol changed.
type Candidate = Reverse<(u32, usize, usize, u32, u32)>;

impl MergeTable {
    /// Adds the merge `left + right -> merged` with the given rank. An earlier rule for the same
    /// pair wins, as in llama.cpp.
    pub(crate) fn insert(&mut self, left: u32, right: u32, merged: u32, rank: u32) {
        self.merges
            .entry((left, right))
            .or_insert(Merge { rank, merged });
    }

    /// Merges the symbols of one word until no rule applies. At each step the pair with the
    /// lowest rank is merged, the leftmost one among equal ranks.
    pub(crate) fn apply(&self, ids: &[u32]) -> Vec<u32> {
        let mut symbols: Vec<Symbol> = (0..ids.len())
            .map(|i| Symbol {
                id: ids[i],
                prev: i.checked_sub(1),
                next: (i + 1 < ids.len()).then_some(i + 1),
                alive: true,
            })
            .collect();
        let mut queue = BinaryHeap::new();
        for left in 1..symbols.len() {
            self.push_candidate(&symbols, left - 1, &mut queue);
        }
        while let Some(Reverse((_, left, right, left_id, right_id))) = queue.pop() {
            let (l, r) = (symbols[left], symbols[right]);
            let current =
                l.alive && r.alive && l.next == Some(right) && l.id == left_id && r.id == right_id;
            if !current {
                continue;
            }
            let merged = self.merges[&(l.id, r.id)].merged;
            symbols[left].id = merged;
            symbols[left].next = r.next;
            symbols[right].alive = false;
            if let Some(next) = r.next {
                symbols[next].prev = Some(left);
            }
            if let Some(prev) = l.prev {
                self.push_candidate(&symbols, prev, &mut queue);
            }
            self.push_candidate(&symbols, left, &mut queue);
        }
        symbols
            .iter()
            .filter(|symbol| symbol.alive)
            .map(|symbol| symbol.id)
            .collect()
    }

    /// Queues the merge of the symbol at `left` with the one after it, if a rule exists.
    fn push_candidate(&self, symbols: &[Symbol], left: usize, queue: &mut BinaryHeap<Candidate>) {
        let Some(right) = symbols[left].next else {
            return;
        };
        let pair = (symbols[left].id, symbols[right].id);
        if let Some(merge) = self.merges.get(&pair) {
            queue.push(Reverse((merge.rank, left, right, pair.0, pair.1)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens 0..=3 are `a`, `b`, `c`, `d`; merges are given as (left, right, merged).
    fn table(rules: &[(u32, u32, u32)]) -> MergeTable {
        let mut table = MergeTable::default();
        for (rank, &(left, right, merged)) in rules.iter().enumerate() {
            table.insert(left, right, merged, rank as u32);
        }
        table
    }

    #[test]
    fn lowest_rank_merges_first() {
        // rank 0: b+c=10, rank 1: a+b=11. "abc" -> a, bc (a+b never applies).
        let rules = table(&[(1, 2, 10), (0, 1, 11)]);
        assert_eq!(rules.apply(&[0, 1, 2]), [0, 10]);
        // With the ranks swapped: ab, c.
        let rules = table(&[(0, 1, 11), (1, 2, 10)]);
        assert_eq!(rules.apply(&[0, 1, 2]), [11, 2]);
    }

    #[test]
    fn equal_ranks_merge_leftmost_first_and_results_merge_again() {
        // a+a=10, aa+a=11, aa+aa=12.
        let rules = table(&[(0, 0, 10), (10, 0, 11), (10, 10, 12)]);
        assert_eq!(rules.apply(&[0, 0, 0]), [11]);
        assert_eq!(rules.apply(&[0, 0, 0, 0]), [12]);
        // aa,a,a,a -> aa,aa,a (rank 0 before rank 1) -> aa,aaa.
        assert_eq!(rules.apply(&[0, 0, 0, 0, 0]), [10, 11]);
    }

    #[test]
    fn no_rules_or_no_symbols_leave_the_word_alone() {
        let rules = table(&[(0, 1, 10)]);
        assert_eq!(rules.apply(&[2, 3, 2]), [2, 3, 2]);
        assert_eq!(rules.apply(&[]), Vec::<u32>::new());
        assert_eq!(rules.apply(&[1, 0, 1]), [1, 10]);
    }

    #[test]
    fn the_first_rule_for_a_pair_wins() {
        let rules = table(&[(0, 1, 10), (0, 1, 11)]);
        assert_eq!(rules.apply(&[0, 1]), [10]);
    }
}
