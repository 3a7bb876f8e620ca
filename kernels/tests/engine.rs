//! The engine on the real model (SmolLM2-135M-Instruct Q4_1): answers that make sense, logits
//! close to llama.cpp's, and identical bits across kernel paths, thread counts, batch
//! compositions and prompt chunking. Golden digests pin the whole pipeline.

use kernels::engine::{Engine, Finish, Generation, Request};
use kernels::model::{BatchItem, KvCache};
use kernels::quant::KernelPath;
use kernels::sampling::SamplingParams;
use serde_json::Value;
use std::sync::OnceLock;

mod golden;

use golden::{chat, model_path, requests, GOLDEN};

fn engine(path: KernelPath, threads: usize) -> Engine {
    Engine::load(&model_path(), path, threads).unwrap()
}

/// The fastest path on 2 threads, shared by the tests of this file.
fn default_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| engine(KernelPath::detect(), 2))
}

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/smollm2-llamacpp.json")).unwrap()
}

fn first_logits(engine: &Engine, prompt: &[u32]) -> Vec<f32> {
    let config = &engine.model().config;
    let mut cache = KvCache::new(config.layers, config.kv_width());
    let mut items = [BatchItem {
        cache: &mut cache,
        tokens: prompt,
        want_logits: true,
    }];
    let mut out = engine
        .model()
        .forward(engine.compute(), &mut items, false)
        .unwrap();
    out.logits.remove(0).unwrap()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn the_capital_of_france_is_paris() {
    let request = Request::chat(
        "What is the capital of France?",
        SamplingParams::default(),
        b"paris",
    );
    let generation = default_engine().generate(&request).unwrap();
    assert!(generation.text.contains("Paris"), "{}", generation.text);
}

#[test]
fn a_generation_ends_on_its_end_token_a_stop_string_or_max_tokens() {
    let engine = default_engine();
    let tokenizer = engine.tokenizer();
    let ask = |max_tokens: u32, stop: &[&str]| {
        let params = SamplingParams {
            max_tokens,
            ..SamplingParams::default()
        };
        let mut request = Request::chat("What is the capital of France?", params, b"ends");
        request.stop = stop.iter().map(|s| s.to_string()).collect();
        engine.generate(&request).unwrap()
    };
    let text_of = |tokens: &[u32]| String::from_utf8(tokenizer.decode(tokens).unwrap()).unwrap();
    // The whole answer: its last token ends the generation and is not in the text.
    let whole = ask(64, &[]);
    assert_eq!(whole.finish, Finish::EndOfGeneration, "{}", whole.text);
    let (last, answer) = whole.output_tokens.split_last().unwrap();
    assert!(tokenizer.end_of_generation_ids().contains(last));
    assert!(answer.len() >= 3, "{}", whole.text);
    assert_eq!(whole.text, text_of(answer));
    // Cut by max_tokens: the same first tokens.
    let short = ask(3, &[]);
    assert_eq!(short.finish, Finish::Length);
    assert_eq!(short.output_tokens, answer[..3]);
    assert_eq!(short.text, text_of(&answer[..3]));
    // A stop string across two tokens (the last byte of the second token and the first of the
    // third): the text ends before its first occurrence, the generation at the token that
    // completed it, and the stop strings enter the digest.
    let second = tokenizer.token_bytes(answer[1]).unwrap();
    let third = tokenizer.token_bytes(answer[2]).unwrap();
    let stop = String::from_utf8(vec![*second.last().unwrap(), third[0]]).unwrap();
    let stopped = ask(64, &["never in this answer \u{1}", &stop]);
    assert_eq!(stopped.finish, Finish::StopString(1), "{stop:?}");
    let at = whole.text.find(&stop).unwrap();
    assert_eq!(stopped.text, whole.text[..at]);
    let taken = stopped.output_tokens.len();
    assert!(taken <= 3 && stopped.output_tokens == answer[..taken]);
    assert!(text_of(&answer[..taken]).contains(&stop));
    assert!(!text_of(&answer[..taken - 1]).contains(&stop));
    let unstopped = ask(taken as u32, &[]);
    assert_eq!(unstopped.output_tokens, stopped.output_tokens);
    assert_ne!(unstopped.digest, stopped.digest);
}

#[test]
fn logits_and_greedy_text_are_close_to_llama_cpp() {
    let engine = default_engine();
    for case in vectors()["chat"].as_array().unwrap() {
        let user = case["user"].as_str().unwrap();
        let prompt = engine.prompt_tokens(&chat(user)).unwrap();
        let expected_ids: Vec<u32> = case["prompt_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(prompt, expected_ids, "{user}");
        let logits = first_logits(engine, &prompt);
        let top = case["first_step_top10"].as_array().unwrap();
        for entry in top {
            let id = entry["id"].as_u64().unwrap() as usize;
            let theirs = entry["logit"].as_f64().unwrap() as f32;
            assert!(
                (logits[id] - theirs).abs() < 1.0,
                "{user}: logit of {id} is {} vs llama.cpp {theirs}",
                logits[id]
            );
        }
        let gap = top[0]["logit"].as_f64().unwrap() - top[1]["logit"].as_f64().unwrap();
        if gap > 1.0 {
            let ours = kernels::sampling::argmax(&logits);
            assert_eq!(ours as u64, top[0]["id"].as_u64().unwrap(), "{user}");
        }
    }
    // The first case's greedy answer has no near-tie: it must match llama.cpp's exactly.
    let case = &vectors()["chat"][0];
    let request = Request {
        prompt: chat(case["user"].as_str().unwrap()),
        params: SamplingParams {
            max_tokens: 16,
            ..SamplingParams::default()
        },
        stream_id: b"vector".to_vec(),
        stop: Vec::new(),
        prefill_chunk: None,
        constraint: None,
    };
    let generation = engine.generate(&request).unwrap();
    assert_eq!(generation.text, case["greedy_text"].as_str().unwrap());
}

fn digests(results: Vec<Result<Generation, kernels::engine::EngineError>>) -> Vec<[u8; 32]> {
    results.into_iter().map(|r| r.unwrap().digest).collect()
}

#[test]
fn batch_composition_and_prompt_chunking_do_not_change_bits() {
    let engine = default_engine();
    let requests = requests();
    let alone: Vec<[u8; 32]> = requests
        .iter()
        .map(|r| engine.generate(r).unwrap().digest)
        .collect();
    // All four together.
    assert_eq!(digests(engine.generate_batch(&requests)), alone);
    // Three, in another order.
    let three = vec![
        requests[3].clone(),
        requests[0].clone(),
        requests[2].clone(),
    ];
    assert_eq!(
        digests(engine.generate_batch(&three)),
        vec![alone[3], alone[0], alone[2]]
    );
    // Eight: every request twice, the copies fed token by token or in chunks of 5.
    let mut eight = requests.clone();
    for (i, r) in requests.iter().enumerate() {
        eight.push(Request {
            prefill_chunk: Some(if i % 2 == 0 { 1 } else { 5 }),
            ..r.clone()
        });
    }
    let got = digests(engine.generate_batch(&eight));
    assert_eq!(&got[..4], &alone[..]);
    assert_eq!(&got[4..], &alone[..]);
    // A limit of 7 tokens per forward step (a node sets one to bound its memory) spreads the
    // batch's prompts over many steps.
    let limited = Engine::load(&model_path(), KernelPath::detect(), 2)
        .unwrap()
        .with_max_step_tokens(std::num::NonZeroUsize::new(7).unwrap());
    assert_eq!(digests(limited.generate_batch(&requests)), alone);
    // Other stream ids draw other samples but greedy outputs stay.
    let renamed = Request {
        stream_id: b"other".to_vec(),
        ..requests[1].clone()
    };
    assert_ne!(engine.generate(&renamed).unwrap().digest, alone[1]);
}

#[test]
fn kernel_paths_and_thread_counts_give_identical_bits() {
    let base = default_engine();
    let prompt = base.prompt_tokens(&chat("Name three colors.")).unwrap();
    let reference_logits = bits(&first_logits(base, &prompt));
    let request = Request {
        params: SamplingParams {
            max_tokens: 4,
            ..requests()[1].params
        },
        ..requests()[1].clone()
    };
    let reference_digest = base.generate(&request).unwrap().digest;
    let mut others = vec![
        engine(KernelPath::detect(), 1),
        engine(KernelPath::detect(), 4),
    ];
    others.extend(
        KernelPath::to_compare()
            .into_iter()
            .filter(|&path| path != KernelPath::detect())
            .map(|path| engine(path, 2)),
    );
    for other in &others {
        assert_eq!(
            bits(&first_logits(other, &prompt)),
            reference_logits,
            "{other:?}"
        );
        assert_eq!(
            other.generate(&request).unwrap().digest,
            reference_digest,
            "{other:?}"
        );
    }
}

#[test]
fn layer_traces_are_reproducible_and_sensitive() {
    let engine = default_engine();
    let prompt = engine.prompt_tokens(&chat("Hello")).unwrap();
    let trace = |tokens: &[u32]| {
        let config = &engine.model().config;
        let mut cache = KvCache::new(config.layers, config.kv_width());
        let mut items = [BatchItem {
            cache: &mut cache,
            tokens,
            want_logits: true,
        }];
        engine
            .model()
            .forward(engine.compute(), &mut items, true)
            .unwrap()
            .traces
            .remove(0)
    };
    let a = trace(&prompt);
    assert_eq!(a.len(), engine.model().config.layers);
    assert_eq!(trace(&prompt), a);
    let mut changed = prompt.clone();
    *changed.last_mut().unwrap() = 100;
    let b = trace(&changed);
    assert!(a.iter().zip(&b).all(|(x, y)| x != y));
}

#[test]
fn golden_digests() {
    let engine = default_engine();
    let got: Vec<String> = requests()
        .iter()
        .map(|r| hex::encode(engine.generate(r).unwrap().digest))
        .collect();
    assert_eq!(got, GOLDEN, "golden digests changed");
}

#[test]
fn a_model_path_that_is_not_a_regular_file_is_refused_at_once() {
    // A directory; and a device that would be read forever.
    let dir = tempfile::tempdir().unwrap();
    for path in [dir.path(), std::path::Path::new("/dev/zero")] {
        if !path.exists() {
            continue;
        }
        let err = Engine::load(path, KernelPath::Scalar, 1).unwrap_err();
        assert!(
            err.to_string().contains("not a regular file"),
            "{}: {err}",
            path.display()
        );
    }
}

#[test]
fn detinfer_refuses_bad_sampling_flags_before_it_reads_the_model() {
    for (flag, says) in [
        ("--max-tokens=0", "max_tokens must be at least 1"),
        ("--temperature=-1", "temperature must be 0"),
        ("--top-p=2", "top_p"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_detinfer"))
            .args(["--model", "/nonexistent/model.gguf", flag, "hi"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag}");
        assert!(stderr.contains(says), "{flag}: {stderr}");
        assert!(
            !stderr.contains("/nonexistent"),
            "{flag} read the model: {stderr}"
        );
    }
}
