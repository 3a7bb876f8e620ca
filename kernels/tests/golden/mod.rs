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

/// Digests of fixed requests on the pinned model, under detspec-2 (computed by the engine; the
/// output tokens are those of detspec-1). A change here is a change of the spec or a bug: every
/// node would disagree with older nodes.
pub const GOLDEN: [&str; 4] = [
    "9aca6534d8b92dc687099622bc2f57df6fcb95a6ede948f9d6a3d3a3d783254a",
    "025beab1cd329e67e6b1da3aa336f41d7744749f3b39e5a51e42085ab3e898d3",
    "f5bca6ceb62886db9eba30db488560688e3ebf3afb8c15369de1e5b645b76596",
    "0d832cde40dec2b109de325a9958026a7d9a817809ba733ef74274d6ea4dbe14",
];
