//! One GPU as a [`Device`]: its context and stream, and the kernel module compiled for it by
//! NVRTC with the options SPEC.md requires (no contraction into FMA, IEEE division and square
//! root, no flush-to-zero, no fast math). Buffers are plain device allocations.

use super::nvrtc::compile_ptx;
use crate::device::{Arg, Buffer, Device, DeviceError, LaunchConfig, Result, KERNELS};
use cudarc::driver::{
    result as driver, CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, PushKernelArg,
};
use cudarc::nvrtc::Ptx;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

pub struct Gpu {
    stream: Arc<CudaStream>,
    functions: HashMap<&'static str, CudaFunction>,
    name: String,
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
        })
    }

    fn slice<'a>(&self, buffer: &'a Buffer) -> &'a CudaSlice<u8> {
        buffer.handle::<CudaSlice<u8>>()
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
        let slice = self.stream.alloc_zeros::<u8>(len.max(1)).map_err(failed)?;
        Ok(Buffer::new(len, slice))
    }

    fn upload(&self, bytes: &[u8]) -> Result<Buffer> {
        if bytes.is_empty() {
            return self.alloc_zeros(0);
        }
        let slice = self.stream.clone_htod(bytes).map_err(failed)?;
        Ok(Buffer::new(bytes.len(), slice))
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
        let function = self
            .functions
            .get(kernel)
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
        // SAFETY: `args` follow the kernel's parameters (the ops in `crate::device` are the
        // only callers, and the emulator checks the same argument lists against the kernels'
        // C signatures in every test run); pointers stay inside their buffers.
        unsafe { builder.launch(config) }.map_err(failed)?;
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
