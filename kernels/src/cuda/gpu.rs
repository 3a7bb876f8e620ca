//! One GPU as a [`Device`]: its context and stream, and the kernel module compiled for it by
//! NVRTC with the options SPEC.md requires (no contraction into FMA, IEEE division and square
//! root, no flush-to-zero, no fast math). Buffers are plain device allocations, kept by size
//! class when freed for the next of the same class.

use super::nvrtc::compile_ptx;
use crate::device::{size_class, Arg, Buffer, Device, DeviceError, LaunchConfig, Result, KERNELS};
use cudarc::driver::{
    result as driver, sys, CudaContext, CudaEvent, CudaFunction, CudaSlice, CudaStream, DevicePtr,
    PushKernelArg,
};
use cudarc::nvrtc::Ptx;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Arc, Mutex};

pub struct Gpu {
    stream: Arc<CudaStream>,
    functions: HashMap<&'static str, CudaFunction>,
    name: String,
    pool: Arc<Pool>,
    profile: Option<Profile>,
}

/// Set (not empty), the GPU times every kernel launch and prints the totals per kernel to
/// stderr when it is dropped: where a step's time goes.
pub const PROFILE_ENV: &str = "DET_CUDA_PROFILE";

/// Set (not empty), freed buffers are not kept for reuse: every buffer is a fresh allocation,
/// so that compute-sanitizer's initcheck sees a byte read before it is written (a reused
/// buffer holds what an earlier kernel wrote).
pub const NO_POOL_ENV: &str = "DET_CUDA_NO_POOL";

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// Launches timed between two events on the stream. The pairs are read (which waits for
/// them) every [`Profile::FOLD_EVERY`] launches and at the end, so that a long run keeps a
/// bounded number of events.
#[derive(Default)]
struct Profile {
    state: Mutex<ProfileState>,
}

#[derive(Default)]
struct ProfileState {
    pending: Vec<(&'static str, CudaEvent, CudaEvent)>,
    by_kernel: BTreeMap<&'static str, (usize, f64)>,
    unreadable: bool,
}

impl ProfileState {
    fn fold(&mut self) {
        for (kernel, start, end) in self.pending.drain(..) {
            match start.elapsed_ms(&end) {
                Ok(ms) => {
                    let entry = self.by_kernel.entry(kernel).or_default();
                    entry.0 += 1;
                    entry.1 += f64::from(ms);
                }
                Err(_) => self.unreadable = true,
            }
        }
    }
}

impl Profile {
    const FOLD_EVERY: usize = 4096;

    fn from_env() -> Option<Self> {
        env_set(PROFILE_ENV).then(Self::default)
    }

    fn record(&self, kernel: &'static str, start: CudaEvent, end: CudaEvent) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.pending.push((kernel, start, end));
        if state.pending.len() >= Self::FOLD_EVERY {
            state.fold();
        }
    }

    fn report(&self) -> String {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.fold();
        if state.unreadable {
            return format!("{PROFILE_ENV}: the GPU's timing events could not be read\n");
        }
        let launches: usize = state.by_kernel.values().map(|(count, _)| count).sum();
        let total: f64 = state.by_kernel.values().map(|(_, ms)| ms).sum();
        let mut rows: Vec<_> = state.by_kernel.iter().collect();
        rows.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
        let mut out = format!(
            "GPU time by kernel ({PROFILE_ENV}): {launches} launches, {total:.2} ms\n\
             {:<14} {:>9} {:>11} {:>7} {:>9}\n",
            "kernel", "launches", "total ms", "share", "mean µs"
        );
        for (kernel, &(count, ms)) in rows {
            out += &format!(
                "{kernel:<14} {count:>9} {ms:>11.3} {:>6.1}% {:>9.1}\n",
                100.0 * ms / total.max(f64::MIN_POSITIVE),
                1000.0 * ms / count as f64
            );
        }
        out
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        if let Some(profile) = &self.profile {
            eprint!("{}", profile.report());
        }
    }
}

/// The most bytes of freed allocations [`Pool`] keeps for reuse.
const POOL_BYTES: usize = 512 << 20;

/// Freed allocations, by size class, kept for the next of the same class. A step allocates the
/// same sizes as the step before it (hundreds of buffers, each an allocation, a free and often
/// a memset: driver calls that cost more than the step's kernels); reusing them costs none.
/// Reuse is safe without synchronization because everything runs on one stream, in order: a
/// kernel writing a reused buffer runs after every kernel that used it before.
struct Pool {
    free: Mutex<PoolState>,
    /// False under [`NO_POOL_ENV`].
    keeps: bool,
}

#[derive(Default)]
struct PoolState {
    by_class: HashMap<usize, Vec<CudaSlice<u8>>>,
    bytes: usize,
}

impl Pool {
    fn from_env() -> Self {
        Self {
            free: Mutex::default(),
            keeps: !env_set(NO_POOL_ENV),
        }
    }

    /// Frees every kept allocation (in stream order), for an allocation that failed.
    fn clear(&self) {
        let mut state = self.free.lock().unwrap_or_else(|e| e.into_inner());
        state.by_class.clear();
        state.bytes = 0;
    }

    fn take(&self, class: usize) -> Option<CudaSlice<u8>> {
        let mut state = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let slice = state.by_class.get_mut(&class)?.pop()?;
        state.bytes -= class;
        Some(slice)
    }

    fn give(&self, slice: CudaSlice<u8>) {
        let class = slice.len();
        let mut state = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if self.keeps && state.bytes + class <= POOL_BYTES {
            state.bytes += class;
            state.by_class.entry(class).or_default().push(slice);
        }
        // Otherwise the slice is dropped here: freed, in stream order.
    }
}

/// A buffer's allocation, back to the pool when the buffer is dropped.
struct Pooled {
    slice: Option<CudaSlice<u8>>,
    pool: Arc<Pool>,
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(slice) = self.slice.take() {
            self.pool.give(slice);
        }
    }
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu({})", self.name)
    }
}

fn failed(e: impl std::fmt::Display) -> DeviceError {
    DeviceError::Backend(e.to_string())
}

impl Gpu {
    /// Opens GPU `ordinal` and compiles the kernels for it.
    pub fn new(ordinal: usize) -> Result<Self> {
        // SAFETY: this only tries to open the library (cudarc would panic on first use).
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(DeviceError::Missing(
                "the CUDA driver library (libcuda: no NVIDIA driver on this machine)",
            ));
        }
        let ctx = CudaContext::new(ordinal).map_err(failed)?;
        // SAFETY: every operation runs on the one default stream, in order.
        unsafe { ctx.disable_event_tracking() };
        let (major, minor) = ctx.compute_capability().map_err(failed)?;
        let ptx = compile_ptx(&format!("compute_{major}{minor}"))?;
        let module = ctx.load_module(Ptx::from_src(ptx)).map_err(failed)?;
        let mut functions = HashMap::new();
        for name in KERNELS {
            functions.insert(name, module.load_function(name).map_err(failed)?);
        }
        Ok(Self {
            stream: ctx.default_stream(),
            name: format!("{} (sm_{major}{minor})", ctx.name().map_err(failed)?),
            functions,
            pool: Arc::new(Pool::from_env()),
            profile: Profile::from_env(),
        })
    }

    /// A buffer's allocation, to write through.
    fn slice_mut(buffer: &mut Buffer) -> &mut CudaSlice<u8> {
        buffer
            .handle_mut::<Pooled>()
            .slice
            .as_mut()
            .expect("a live buffer holds its allocation")
    }

    fn slice<'a>(&self, buffer: &'a Buffer) -> &'a CudaSlice<u8> {
        buffer
            .handle::<Pooled>()
            .slice
            .as_ref()
            .expect("a live buffer holds its allocation")
    }

    /// An allocation of at least `len` bytes (contents unspecified), from the pool when it
    /// holds one of the size class.
    fn allocate(&self, len: usize) -> Result<Buffer> {
        let class = size_class(len);
        // SAFETY: the contents are unspecified, as `Device::alloc` says; `alloc_zeros` and
        // `upload` write them before returning.
        let fresh = || unsafe { self.stream.alloc::<u8>(class) };
        let slice = match self.pool.take(class) {
            Some(slice) => slice,
            // Out of memory with buffers kept: free them and try once more.
            None => fresh()
                .or_else(|_| {
                    self.pool.clear();
                    fresh()
                })
                .map_err(failed)?,
        };
        let pooled = Pooled {
            slice: Some(slice),
            pool: self.pool.clone(),
        };
        Ok(Buffer::new(len, pooled))
    }

    /// The device address `offset` bytes into `buffer`.
    fn address(&self, buffer: &Buffer, offset: usize) -> u64 {
        buffer.assert_contains(&(offset..offset), "kernel argument");
        let (ptr, _sync) = self.slice(buffer).device_ptr(&self.stream);
        ptr + offset as u64
    }
}

impl Device for Gpu {
    fn name(&self) -> &str {
        &self.name
    }

    fn alloc_zeros(&self, len: usize) -> Result<Buffer> {
        let mut buffer = self.allocate(len)?;
        self.stream
            .memset_zeros(Self::slice_mut(&mut buffer))
            .map_err(failed)?;
        Ok(buffer)
    }

    fn alloc(&self, len: usize) -> Result<Buffer> {
        self.allocate(len)
    }

    fn upload(&self, bytes: &[u8]) -> Result<Buffer> {
        let mut buffer = self.allocate(bytes.len())?;
        if !bytes.is_empty() {
            let mut head = Self::slice_mut(&mut buffer).slice_mut(0..bytes.len());
            self.stream.memcpy_htod(bytes, &mut head).map_err(failed)?;
        }
        Ok(buffer)
    }

    fn download(&self, buffer: &Buffer, range: Range<usize>) -> Result<Vec<u8>> {
        buffer.assert_contains(&range, "download");
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .stream
            .clone_dtoh(&self.slice(buffer).slice(range))
            .map_err(failed)?;
        self.stream.synchronize().map_err(failed)?;
        Ok(out)
    }

    fn copy(
        &self,
        src: &Buffer,
        src_range: Range<usize>,
        dst: &Buffer,
        dst_at: usize,
    ) -> Result<()> {
        src.assert_contains(&src_range, "copy source");
        dst.assert_contains(&(dst_at..dst_at + src_range.len()), "copy destination");
        if src_range.is_empty() {
            return Ok(());
        }
        let (from, to) = (
            self.address(src, src_range.start),
            self.address(dst, dst_at),
        );
        // SAFETY: both ranges lie inside live allocations of this context (checked above), and
        // the copy is ordered on the one stream.
        unsafe { driver::memcpy_dtod_async(to, from, src_range.len(), self.stream.cu_stream()) }
            .map_err(failed)
    }

    fn launch(&self, kernel: &str, config: LaunchConfig, args: &[Arg<'_>]) -> Result<()> {
        let (&name, function) = self
            .functions
            .get_key_value(kernel)
            .unwrap_or_else(|| panic!("no kernel `{kernel}`"));
        // The values the launch points at, one slot per argument, alive until it is queued.
        let pointers: Vec<u64> = args
            .iter()
            .map(|a| match a {
                Arg::Ptr(buffer, offset) => self.address(buffer, *offset),
                _ => 0,
            })
            .collect();
        let mut builder = self.stream.launch_builder(function);
        for (arg, pointer) in args.iter().zip(&pointers) {
            match arg {
                Arg::Ptr(..) => builder.arg(pointer),
                Arg::I32(v) => builder.arg(v),
                Arg::F32(v) => builder.arg(v),
            };
        }
        let config = cudarc::driver::LaunchConfig {
            grid_dim: (config.grid, 1, 1),
            block_dim: (config.threads, 1, 1),
            shared_mem_bytes: 0,
        };
        let timed = |stream: &CudaStream| {
            stream
                .record_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
                .map_err(failed)
        };
        let start = self
            .profile
            .as_ref()
            .map(|_| timed(&self.stream))
            .transpose()?;
        // SAFETY: `args` follow the kernel's parameters (the ops in `crate::device` are the
        // only callers, and the emulator checks the same argument lists against the kernels'
        // C signatures in every test run); pointers stay inside their buffers.
        unsafe { builder.launch(config) }.map_err(failed)?;
        if let (Some(profile), Some(start)) = (&self.profile, start) {
            profile.record(name, start, timed(&self.stream)?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_without_cuda_gets_an_error_not_a_panic() {
        // SAFETY: only tries to open the library.
        let present = unsafe { cudarc::driver::sys::is_culib_present() };
        match Gpu::new(0) {
            Err(DeviceError::Missing(_)) => assert!(!present),
            _ => assert!(present),
        }
    }
}
