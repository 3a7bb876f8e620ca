//! The CUDA kernels of `kernels/cuda/` as [`crate::device::Device`]s.
//!
//! - On a GPU ([`Gpu`], feature `cuda`): compiled at run time by NVRTC with `--fmad=false` and
//!   no fast math, run through the driver API (cudarc, loaded dynamically: building needs no
//!   CUDA toolkit).
//! - On the CPU ([`emulator::Emulator`], always built, needs a C++ compiler): the same sources
//!   under an emulator of the grid, blocks, threads and warp shuffles.
//!
//! NVRTC's output is checked instruction by instruction before it is loaded ([`ptx_audit`]).
//!
//! Every kernel computes SPEC.md's arithmetic in its order, so a GPU node's bits equal a CPU
//! node's; the forward pass that drives them is `crate::device`'s, one for both.

pub mod emulator;
#[cfg(feature = "cuda")]
mod gpu;
#[cfg(feature = "cuda")]
pub mod nvrtc;
pub mod ptx_audit;
mod source;

#[cfg(feature = "cuda")]
pub use gpu::Gpu;
pub use source::source;
