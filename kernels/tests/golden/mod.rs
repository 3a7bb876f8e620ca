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

/// Digests of fixed requests on the pinned model, under detspec-1. A change here is a change of
/// the spec or a bug: every node would disagree with older nodes.
pub const GOLDEN: [&str; 4] = [
    "50c67181ced89cf75320e39e85af97d6589dc669f14c818bac743d01a1397afe",
    "a1fac641ebd7dd48b6dd5b7a35972d9919a90036be119bbfbcaefa8f6864628b",
    "c2fb4de8fa7adbe60675f06a83f5d8de03ef1c5b08e98d08137e4eb2f8d48140",
    "55c94c8c688f68d1e02ee23fe4c2605903413aa7953b3eb73cb9fd7273e8ef7a",
];
