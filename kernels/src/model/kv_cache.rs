//! One sequence's cached keys and values: the exact f32 values of SPEC.md §4–5, position after
//! position.

/// Keys and values of every layer for one sequence.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    width: usize,
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    len: usize,
}

impl KvCache {
    /// An empty cache for `layers` layers of `width` values per position (key/value heads ×
    /// head size).
    pub fn new(layers: usize, width: usize) -> Self {
        Self {
            width,
            keys: vec![Vec::new(); layers],
            values: vec![Vec::new(); layers],
            len: 0,
        }
    }

    /// Positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn push(&mut self, layer: usize, key: &[f32], value: &[f32]) {
        debug_assert_eq!(key.len(), self.width);
        self.keys[layer].extend_from_slice(key);
        self.values[layer].extend_from_slice(value);
    }

    /// Marks the positions pushed for every layer as cached.
    pub(crate) fn commit(&mut self, positions: usize) {
        self.len += positions;
        debug_assert!(self.keys.iter().all(|k| k.len() == self.len * self.width));
    }

    /// Drops the positions pushed since the last commit.
    pub(crate) fn discard_uncommitted(&mut self) {
        let keep = self.len * self.width;
        for column in self.keys.iter_mut().chain(&mut self.values) {
            column.truncate(keep);
        }
    }

    pub(crate) fn keys(&self, layer: usize) -> &[f32] {
        &self.keys[layer]
    }

    pub(crate) fn values(&self, layer: usize) -> &[f32] {
        &self.values[layer]
    }
}
