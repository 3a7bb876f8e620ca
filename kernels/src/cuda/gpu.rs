//! One GPU: its context and stream, and the kernel module compiled for it by NVRTC with the
//! options SPEC.md requires (no contraction into FMA, IEEE division and square root, no
//! flush-to-zero, no fast math).

use super::{source::source, CudaError};
use cudarc::driver::{CudaContext, CudaFunction, CudaStream, LaunchConfig};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions};
use std::collections::HashMap;
use std::sync::Arc;

/// Every kernel the backend launches.
pub(super) const KERNELS: [&str; 20] = [
    "q8a_quantize",
    "matvec_q8_0",
    "matvec_q4_0",
    "matvec_q4_1",
    "matvec_q4_k",
    "matvec_q6_k",
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

/// Threads per block for every launch (a multiple of 32, at most attention's 256).
pub(super) const THREADS: u32 = 128;

pub struct Gpu {
    pub(super) stream: Arc<CudaStream>,
    functions: HashMap<&'static str, CudaFunction>,
    name: String,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu({})", self.name)
    }
}

impl Gpu {
    /// Opens GPU `ordinal` and compiles the kernels for it.
    pub fn new(ordinal: usize) -> Result<Self, CudaError> {
        // SAFETY: these only try to open the libraries (cudarc would panic on first use).
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(CudaError::Missing("the CUDA driver library (libcuda)"));
        }
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            return Err(CudaError::Missing("NVRTC (libnvrtc)"));
        }
        let ctx = CudaContext::new(ordinal)?;
        let (major, minor) = ctx.compute_capability()?;
        let options = CompileOptions {
            fmad: Some(false),
            ftz: Some(false),
            prec_div: Some(true),
            prec_sqrt: Some(true),
            use_fast_math: Some(false),
            options: vec![format!("--gpu-architecture=compute_{major}{minor}")],
            ..Default::default()
        };
        let module = ctx.load_module(compile_ptx_with_opts(source(), options)?)?;
        let mut functions = HashMap::new();
        for name in KERNELS {
            functions.insert(name, module.load_function(name)?);
        }
        Ok(Self {
            stream: ctx.default_stream(),
            name: format!("{} (sm_{major}{minor})", ctx.name()?),
            functions,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn function(&self, name: &str) -> &CudaFunction {
        &self.functions[name]
    }
}

/// A launch of blocks of [`THREADS`] threads covering `items` work items of `per_item` threads
/// (kernels stride over the rest, so the cap never changes a result).
pub(super) fn launch_config(items: usize, per_item: u32) -> LaunchConfig {
    let per_block = (THREADS / per_item).max(1) as usize;
    let blocks = items.div_ceil(per_block).clamp(1, 65_535) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
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
            Err(CudaError::Missing(_)) => assert!(!present),
            _ => assert!(present),
        }
    }
}
