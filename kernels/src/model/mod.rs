//! The llama-architecture model: configuration, weights loaded from GGUF, the KV cache, and the
//! batched forward pass of SPEC.md §4–6.

mod config;
mod forward;
mod gguf;
mod kv_cache;
mod load;
mod metadata_scan;
mod rope;

pub use config::{LlamaConfig, MAX_CONTEXT};
pub use forward::{BatchItem, ForwardOutput};
pub use gguf::read_header;
pub use kv_cache::KvCache;
pub use load::{LayerWeights, LlamaModel, ModelSource};
pub use rope::Rope;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("cannot read model {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("not a readable GGUF file: {0}")]
    Gguf(String),
    #[error("architecture `{0}` is not supported (only `llama` is)")]
    UnsupportedArchitecture(String),
    #[error("the model uses {0}, which the engine does not implement")]
    UnsupportedFeature(String),
    #[error("GGUF metadata `{0}` is missing")]
    MissingMetadata(String),
    #[error("GGUF metadata `{key}` is malformed: {reason}")]
    BadMetadata { key: String, reason: &'static str },
    #[error("inconsistent model configuration: {0}")]
    BadConfig(String),
    #[error("tensor `{0}` is missing")]
    MissingTensor(String),
    #[error("tensor `{name}` has shape {got:?}, expected {expected:?}")]
    BadShape {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("tensor `{name}` has type {dtype}, which the engine does not support (F32, F16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K)")]
    UnsupportedTensorType { name: String, dtype: String },
    #[error("tensor `{name}` lies outside the file (truncated or corrupted): {reason}")]
    TensorOutOfBounds { name: String, reason: String },
    #[error(
        "tensors `{first}` and `{second}` share bytes of the file; each tensor must have its own"
    )]
    OverlappingTensors { first: String, second: String },
    #[error("non-finite value in {0}")]
    NonFinite(&'static str),
    #[error("position {position} exceeds the model's context length {context}")]
    ContextOverflow { position: usize, context: usize },
    #[error("token id {id} is outside the vocabulary of {vocab}")]
    TokenOutOfRange { id: u32, vocab: usize },
}
