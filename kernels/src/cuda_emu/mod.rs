//! The CUDA kernels (`kernels/cuda/*.cu`) checked on the CPU: the same sources compiled as C++
//! under `kernels/cuda/emulate.h`, which runs the grid, blocks, threads, barriers and warp
//! shuffles sequentially, and compared bit for bit with the Rust reference. Needs only a C++
//! compiler (`g++`, or `$CXX`); it runs in the normal `cargo test`.

mod harness;
mod ops_tests;
mod quant_tests;
