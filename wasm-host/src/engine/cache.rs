//! The compiled-module cache: bounded by count, the least recently used module leaving first.

use crate::abi::CryptoHash;
use std::collections::HashMap;

/// Compiled modules kept at most (a module of a large contract takes a few MB).
pub const MODULE_CACHE_CAPACITY: usize = 64;

/// Values by code hash, at most `capacity` of them; each knows when it was last used.
pub struct LruCache<V> {
    capacity: usize,
    entries: HashMap<CryptoHash, (V, u64)>,
    clock: u64,
}

impl<V: Clone> LruCache<V> {
    /// An empty cache holding at most `capacity` values (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            clock: 0,
        }
    }

    /// The value for `hash`, now the most recently used.
    pub fn get(&mut self, hash: &CryptoHash) -> Option<V> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(hash).map(|(value, used)| {
            *used = clock;
            value.clone()
        })
    }

    /// Keeps `value` for `hash`, dropping the least recently used value if the cache is full.
    pub fn insert(&mut self, hash: CryptoHash, value: V) {
        self.clock += 1;
        if !self.entries.contains_key(&hash) && self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(hash, _)| *hash);
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(hash, (value, self.clock));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_value_leaves_first() {
        let mut cache = LruCache::new(2);
        cache.insert([1; 32], "one");
        cache.insert([2; 32], "two");
        // Using 1 makes 2 the oldest.
        assert_eq!(cache.get(&[1; 32]), Some("one"));
        cache.insert([3; 32], "three");
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&[2; 32]), None);
        assert_eq!(cache.get(&[1; 32]), Some("one"));
        assert_eq!(cache.get(&[3; 32]), Some("three"));
        // Replacing a kept value evicts nothing.
        cache.insert([3; 32], "three again");
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&[1; 32]), Some("one"));
    }
}
