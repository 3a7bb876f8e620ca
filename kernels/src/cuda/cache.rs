//! One sequence's KV cache on the device: per layer, positions of key/value-head × head-size
//! f32 values, exactly the values the CPU caches (SPEC.md §4–6). Grows by doubling.

use super::{CudaError, Gpu};
use cudarc::driver::CudaSlice;

#[derive(Debug)]
pub struct DeviceCache {
    width: usize,
    keys: Vec<CudaSlice<f32>>,
    values: Vec<CudaSlice<f32>>,
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
        gpu: &Gpu,
        layers: usize,
        positions: usize,
    ) -> Result<(), CudaError> {
        if positions <= self.capacity && self.keys.len() == layers {
            return Ok(());
        }
        let capacity = positions.max(2 * self.capacity).max(64);
        let grow = |old: &mut Vec<CudaSlice<f32>>| -> Result<(), CudaError> {
            for l in 0..layers {
                let mut new = gpu.stream.alloc_zeros::<f32>(capacity * self.width)?;
                if let Some(old) = old.get(l) {
                    gpu.stream
                        .memcpy_dtod(old, &mut new.slice_mut(..old.len()))?;
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

    pub(super) fn layer_mut(&mut self, layer: usize) -> (&mut CudaSlice<f32>, &mut CudaSlice<f32>) {
        (&mut self.keys[layer], &mut self.values[layer])
    }

    pub(super) fn commit(&mut self, positions: usize) {
        self.len += positions;
    }
}
