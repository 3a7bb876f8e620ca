//! The golden requests and their digests on the pinned model, shared by the CPU engine tests
//! and the GPU check (`cuda_engine.rs`): every device must produce these bits.

use kernels::engine::{Prompt, Request};
use kernels::model_cache::{ModelCache, DEFAULT_MODEL};
use kernels::sampling::SamplingParams;
use kernels::tokenizer::ChatMessage;

pub fn model_path() -> std::path::PathBuf {
    ModelCache::from_env()
        .with_progress(false)
        .ensure(&DEFAULT_MODEL)
        .expect("the default model (run `cargo xtask fetch-model`)")
}

pub fn chat(user: &str) -> Prompt {
    Prompt::Chat(vec![ChatMessage::new("user", user)])
}

pub fn requests() -> Vec<Request> {
    let sampled = SamplingParams {
        temperature: 0.8,
        top_k: 40,
        top_p: 0.9,
        max_tokens: 12,
        seed: 42,
    };
    let greedy = SamplingParams {
        max_tokens: 12,
        ..SamplingParams::default()
    };
    let make = |prompt: Prompt, params, id: &str| Request {
        prompt,
        params,
        stream_id: id.as_bytes().to_vec(),
        stop: Vec::new(),
        prefill_chunk: None,
        constraint: None,
    };
    vec![
        make(chat("What is the capital of France?"), greedy, "a"),
        make(chat("Write one sentence about the sea."), sampled, "b"),
        make(Prompt::Text("The quick brown fox".into()), sampled, "c"),
        make(
            chat("Is 17 a prime number? Answer yes or no, then explain why in detail."),
            greedy,
            "d",
        ),
    ]
}

/// Digests of fixed requests on the pinned model, under detspec-3 (computed by the engine; the
/// output tokens are those of detspec-1 and detspec-2). A change here is a change of the spec or a bug: every
/// node would disagree with older nodes.
pub const GOLDEN: [&str; 4] = [
    "83b0fd4405745be208e98d61570819e39ce658e2af1f6f1a237c7ee46d24f275",
    "0b7edfb568f1b03df97ea2b80ebb8dd7f83d2eefdf5ccb3127eae4e2e29a1cbf",
    "57291688609b624508d313430739f8279a6d09cb17bfcbb3930f7684fcb87224",
    "f216c92a23318bc3ab6b4cf32e379cbfe6616c1d82f9af8d068d95bb439a347b",
];
