//! One sequence's KV cache on the device: per layer, positions of key/value-head × head-size
//! f32 values, exactly the values the CPU caches (SPEC.md §4–6). Grows by doubling.

use super::{Buffer, Device, Result};

#[derive(Debug)]
pub struct DeviceCache {
    /// f32 values per position and layer.
    width: usize,
    keys: Vec<Buffer>,
    values: Vec<Buffer>,
    capacity: usize,
    len: usize,
}

impl DeviceCache {
    /// An empty cache of `width` values per position and layer; memory comes with
    /// [`DeviceCache::reserve`].
    pub fn new(width: usize) -> Self {
        Self {
            width,
            keys: Vec::new(),
            values: Vec::new(),
            capacity: 0,
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

    /// Makes room for `positions` positions in every layer.
    pub(super) fn reserve(
        &mut self,
        device: &dyn Device,
        layers: usize,
        positions: usize,
    ) -> Result<()> {
        if positions <= self.capacity && self.keys.len() == layers {
            return Ok(());
        }
        let capacity = positions.max(2 * self.capacity).max(64);
        let bytes = capacity * self.width * 4;
        let grow = |old: &mut Vec<Buffer>| -> Result<()> {
            for l in 0..layers {
                let new = device.alloc_zeros(bytes)?;
                if let Some(old) = old.get(l) {
                    device.copy(old, 0..old.len(), &new, 0)?;
                }
                if l < old.len() {
                    old[l] = new;
                } else {
                    old.push(new);
                }
            }
            Ok(())
        };
        grow(&mut self.keys)?;
        grow(&mut self.values)?;
        self.capacity = capacity;
        Ok(())
    }

    /// Layer `layer`'s keys and values.
    pub(super) fn layer(&self, layer: usize) -> (&Buffer, &Buffer) {
        (&self.keys[layer], &self.values[layer])
    }

    pub(super) fn commit(&mut self, positions: usize) {
        self.len += positions;
    }
}
