//! The CUDA backend (feature `cuda`): the kernels of `kernels/cuda/`, compiled at run time by
//! NVRTC with `--fmad=false` and no fast math, run through the driver API (cudarc, loaded
//! dynamically: building needs no CUDA toolkit). Every kernel computes SPEC.md's arithmetic in
//! its order, so a GPU node's bits equal a CPU node's; the same kernel bodies are checked on
//! the CPU under an emulator (`cuda_emu`, in every `cargo test`).
//!
//! Weights are uploaded as the file's own block bytes (plain device allocations); each
//! sequence's KV cache lives on the device. RoPE angles (f64, once per position) and sampling
//! run on the host with the CPU engine's own code.

mod cache;
mod forward;
mod gpu;
mod ops;
mod source;
mod weights;

pub use cache::DeviceCache;
pub use forward::{CudaModel, DeviceItem};
pub use gpu::Gpu;

use crate::model::ModelError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CudaError {
    #[error("{0} is not installed (no NVIDIA driver or CUDA runtime on this machine)")]
    Missing(&'static str),
    #[error("CUDA driver: {0}")]
    Driver(#[from] cudarc::driver::DriverError),
    #[error("NVRTC cannot compile the kernels: {0}")]
    Compile(#[from] cudarc::nvrtc::CompileError),
    #[error("the CUDA backend needs file-layout weights (load the model on the scalar path)")]
    NotPlain,
    #[error(transparent)]
    Model(#[from] ModelError),
}
