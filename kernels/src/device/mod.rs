//! Running the llama forward pass on an accelerator: the [`Device`] trait (plain buffers,
//! copies and launches of the kernels of `kernels/cuda/`), and over it the model, its weights
//! and KV caches and the launches of each op — written once, for every device.
//!
//! Two devices implement it: the GPU (`crate::cuda::Gpu`, feature `cuda`: NVRTC and the driver
//! API) and the emulator (`crate::cuda::emulator::Emulator`: the same kernel sources compiled as C++
//! and run on the CPU thread by thread). So the whole GPU forward pass — the kernels and the
//! host code that drives them — is checked bit for bit against the CPU engine on any machine.

mod cache;
mod forward;
mod ops;
mod weights;

pub use cache::DeviceCache;
pub use forward::{DeviceItem, DeviceModel};

use crate::model::ModelError;
use std::any::Any;
use std::ops::Range;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DeviceError {
    #[error("{0} is not installed")]
    Missing(&'static str),
    #[error("the device failed: {0}")]
    Backend(String),
    #[error("the device backends need file-layout weights (load the model on the scalar path)")]
    NotPlain,
    #[error(
        "a launch of {items} work items of {per_item} threads overflows the kernels' int \
         thread indices (a step of too many tokens)"
    )]
    LaunchTooLarge { items: usize, per_item: u32 },
    #[error(transparent)]
    Model(#[from] ModelError),
}

pub type Result<T> = std::result::Result<T, DeviceError>;

/// A plain allocation of `len` bytes on a device. The handle is the device's own; a buffer
/// is only ever given back to the device that made it.
pub struct Buffer {
    len: usize,
    handle: Box<dyn Any + Send + Sync>,
}

impl Buffer {
    pub fn new<H: Any + Send + Sync>(len: usize, handle: H) -> Self {
        Self {
            len,
            handle: Box::new(handle),
        }
    }

    /// Bytes allocated.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Panics unless the bytes `range` lie inside the buffer (a caller's programming error,
    /// caught before any device reads or writes there).
    pub fn assert_contains(&self, range: &Range<usize>, what: &str) {
        assert!(
            range.start <= range.end && range.end <= self.len,
            "{what} past its buffer: bytes {range:?} of {}",
            self.len
        );
    }

    /// The device's handle.
    ///
    /// # Panics
    /// When the buffer was made by a device of another kind (a programming error).
    pub fn handle<H: Any>(&self) -> &H {
        self.handle
            .downcast_ref()
            .expect("a buffer is used only on the device that made it")
    }

    /// The device's handle, to write through.
    ///
    /// # Panics
    /// As [`Buffer::handle`].
    pub fn handle_mut<H: Any>(&mut self) -> &mut H {
        self.handle
            .downcast_mut()
            .expect("a buffer is used only on the device that made it")
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer({} bytes)", self.len)
    }
}

/// A kernel parameter: a pointer `offset` bytes into a buffer, or a scalar.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Ptr(&'a Buffer, usize),
    I32(i32),
    F32(f32),
}

impl<'a> Arg<'a> {
    /// A pointer to the start of `buffer`.
    pub fn buf(buffer: &'a Buffer) -> Self {
        Self::Ptr(buffer, 0)
    }

    /// A pointer to element `index` of a buffer of 4-byte values.
    pub fn at(buffer: &'a Buffer, index: usize) -> Self {
        Self::Ptr(buffer, index * 4)
    }

    /// A shape or count, as the kernels' `int` parameters.
    pub fn int(n: usize) -> Self {
        Self::I32(i32::try_from(n).expect("shape fits the kernels' int parameters"))
    }
}

/// A 1-D launch: `grid` blocks of `threads` threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchConfig {
    pub grid: u32,
    pub threads: u32,
}

/// Threads per block for every launch (a multiple of 32, at most attention's 256).
pub const THREADS: u32 = 128;
const _: () = assert!(THREADS.is_multiple_of(32) && THREADS <= 256);
/// The most blocks of a launch (kernels stride over the items beyond).
pub const MAX_GRID: u32 = 65_535;
/// A full grid's thread count: the stride of the kernels' loops over their items.
pub const MAX_STRIDE: usize = MAX_GRID as usize * THREADS as usize;

impl LaunchConfig {
    /// Blocks of [`THREADS`] threads covering `items` work items of `per_item` threads
    /// (kernels stride over the rest, so the cap never changes a result). The kernels index
    /// threads with `int` and stride by the launch's thread count: `items × per_item` plus that
    /// stride must fit one (the last stride computes an index past the end), else
    /// [`DeviceError::LaunchTooLarge`] (a step of at most
    /// [`DeviceModel::max_step_tokens`] tokens, which the engine keeps to, always fits).
    pub fn covering(items: usize, per_item: u32) -> Result<Self> {
        let per_block = (THREADS / per_item).max(1) as usize;
        let grid = items.div_ceil(per_block).clamp(1, MAX_GRID as usize);
        let stride = grid * THREADS as usize;
        if items
            .checked_mul(per_item as usize)
            .and_then(|threads| threads.checked_add(stride))
            .is_none_or(|end| end > i32::MAX as usize)
        {
            return Err(DeviceError::LaunchTooLarge { items, per_item });
        }
        Ok(Self {
            grid: grid as u32,
            threads: THREADS,
        })
    }
}

/// Every kernel the forward pass launches (defined in `kernels/cuda/*.cu`).
pub const KERNELS: [&str; 25] = [
    "q8a_quantize",
    "matvec_q8_0",
    "matvec_q4_0",
    "matvec_q4_1",
    "matvec_q4_k",
    "matvec_q6_k",
    "matmul_q8_0",
    "matmul_q4_0",
    "matmul_q4_1",
    "matmul_q4_k",
    "matmul_q6_k",
    "matvec_f32",
    "matvec_f16",
    "embed_f32",
    "embed_f16",
    "embed_q8_0",
    "embed_q4_0",
    "embed_q4_1",
    "embed_q4_k",
    "embed_q6_k",
    "rmsnorm",
    "add_assign",
    "silu_mul",
    "rope",
    "attention",
];

/// An accelerator that runs the kernels of `kernels/cuda/` in order, one stream: each
/// operation sees the effects of every earlier one.
pub trait Device: Send + Sync {
    /// What it is, for logs ("NVIDIA H200 (sm_90)").
    fn name(&self) -> &str;
    /// A buffer of `len` zero bytes.
    fn alloc_zeros(&self, len: usize) -> Result<Buffer>;
    /// A buffer of `len` bytes whose contents are unspecified: for an op's output that its
    /// kernel writes whole before anything reads it (the emulator fills it with `0xff`, so a
    /// byte read before it is written changes the tests' bits).
    fn alloc(&self, len: usize) -> Result<Buffer>;
    /// A buffer holding `bytes`.
    fn upload(&self, bytes: &[u8]) -> Result<Buffer>;
    /// The bytes `range` of `buffer`.
    fn download(&self, buffer: &Buffer, range: Range<usize>) -> Result<Vec<u8>>;
    /// Copies the bytes `src_range` of `src` to `dst` at byte `dst_at`.
    fn copy(
        &self,
        src: &Buffer,
        src_range: Range<usize>,
        dst: &Buffer,
        dst_at: usize,
    ) -> Result<()>;
    /// Launches `kernel` (one of [`KERNELS`]) with `args` in the order of its parameters.
    fn launch(&self, kernel: &str, config: LaunchConfig, args: &[Arg<'_>]) -> Result<()>;
}

/// Little-endian bytes of 4-byte values (f32 or i32), the devices' layout.
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn i32_bytes(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect()
}

pub fn i32s(bytes: &[u8]) -> Vec<i32> {
    bytes
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect()
}

/// The size a device that keeps freed buffers for reuse (the GPU) allocates for `len` bytes:
/// `len` rounded up to a sixteenth of the next power of two (at least 256 bytes), so that sizes
/// that grow a little every step (attention scores over a longer context) share a class, and
/// no allocation (the weights go through here too) is more than an eighth larger than asked.
pub fn size_class(len: usize) -> usize {
    const SMALLEST: usize = 256;
    let len = len.max(SMALLEST);
    let step = (len.next_power_of_two() / 16).max(SMALLEST);
    len.div_ceil(step) * step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_cover_the_request_within_an_eighth_and_group_nearby_sizes() {
        assert_eq!(size_class(0), 256);
        assert_eq!(size_class(1), 256);
        assert_eq!(size_class(257), 512);
        assert_eq!(size_class(1 << 20), 1 << 20);
        assert_eq!(size_class((1 << 20) + 1), (1 << 20) + (1 << 17));
        // Scores over a context one position longer: the same class.
        assert_eq!(size_class(9 * 700 * 4), size_class(9 * 701 * 4));
        // SmolLM2's feed-forward matrices (1536 × 576 in Q4_1), the worst case just past a
        // power of two, and every size up to 3 MiB in steps of 997 bytes.
        for len in [552_960, (1 << 19) + 1]
            .into_iter()
            .chain((1024..3 << 20).step_by(997))
        {
            let class = size_class(len);
            assert!(class >= len && class - len <= len / 8, "{len} → {class}");
        }
    }

    #[test]
    fn a_launch_past_the_int_thread_indices_is_an_error() {
        // The last stride of a full grid computes an index up to 65,535 × THREADS past the
        // end: that too must fit an int.
        let most_single = i32::MAX as usize - MAX_STRIDE;
        let most = (i32::MAX as usize - MAX_STRIDE) / 32;
        assert_eq!(LaunchConfig::covering(most, 32).unwrap().grid, 65_535);
        assert_eq!(LaunchConfig::covering(most_single, 1).unwrap().grid, 65_535);
        for (items, per_item) in [(most + 1, 32), (most_single + 1, 1), (usize::MAX, 2)] {
            match LaunchConfig::covering(items, per_item) {
                Err(DeviceError::LaunchTooLarge {
                    items: i,
                    per_item: p,
                }) => {
                    assert_eq!((i, p), (items, per_item))
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
