//! Constrained decoding (SPEC.md §7.1) through the whole engine: the output always parses and
//! fits its schema — on the real model for a vault verdict, and on tiny random models whose
//! only reason to write JSON is the mask — with the same bits across thread counts and batch
//! compositions, and the schema in the digest.

use kernels::constrain::{Automaton, ConstraintError, Schema, TokenIndex};
use kernels::engine::{Engine, EngineError, Finish, Generation, Prompt, Request};
use kernels::model_cache::{ModelCache, DEFAULT_MODEL};
use kernels::quant::KernelPath;
use kernels::sampling::SamplingParams;
use kernels::tiny_model::TinyModel;
use serde_json::{json, Value};

const MAX_REASON: usize = 100;

fn verdict_schema() -> Schema {
    Schema::from_json_schema(&json!({
        "type": "object",
        "properties": {
            "decision": {"type": "string", "enum": ["approve", "reject"]},
            "amount": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
            "reason": {"type": "string", "maxLength": MAX_REASON}
        },
        "required": ["decision", "amount", "reason"]
    }))
    .unwrap()
}

/// Checks that the text is a canonical verdict: parsed by serde_json, fitting the schema, and
/// written exactly as serde_json writes it compactly in schema order.
fn assert_verdict(g: &Generation) {
    assert_eq!(g.finish, Finish::Complete, "{}", g.text);
    let value: Value = serde_json::from_str(&g.text).unwrap_or_else(|e| panic!("{e}: {}", g.text));
    let object = value.as_object().unwrap();
    assert_eq!(object.len(), 3, "{}", g.text);
    let decision = object["decision"].as_str().unwrap();
    assert!(["approve", "reject"].contains(&decision), "{}", g.text);
    let amount = object["amount"].as_i64().unwrap();
    assert!((0..=1_000_000).contains(&amount), "{}", g.text);
    let reason = object["reason"].as_str().unwrap();
    assert!(reason.chars().count() <= MAX_REASON, "{}", g.text);
    let canonical = format!(
        r#"{{"decision":{},"amount":{amount},"reason":{}}}"#,
        serde_json::to_string(decision).unwrap(),
        serde_json::to_string(reason).unwrap()
    );
    assert_eq!(g.text, canonical);
}

fn sampled(max_tokens: u32, seed: u64) -> SamplingParams {
    SamplingParams {
        temperature: 0.8,
        top_k: 40,
        top_p: 0.95,
        max_tokens,
        seed,
    }
}

fn greedy(max_tokens: u32) -> SamplingParams {
    SamplingParams {
        max_tokens,
        ..SamplingParams::default()
    }
}

fn digests(results: Vec<Result<Generation, EngineError>>) -> Vec<[u8; 32]> {
    results.into_iter().map(|r| r.unwrap().digest).collect()
}

// ---- Tiny random models -------------------------------------------------------------------

fn tiny_request(seed: u64, params: SamplingParams) -> Request {
    Request {
        prompt: Prompt::Text(format!("the cat {seed} is here")),
        params,
        stream_id: format!("tiny-{seed}").into_bytes(),
        stop: Vec::new(),
        prefill_chunk: None,
        constraint: Some(verdict_schema()),
    }
}

#[test]
fn random_weights_still_write_valid_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    for model_seed in [1, 2, 3] {
        let path = dir.path().join(format!("tiny-{model_seed}.gguf"));
        TinyModel {
            seed: model_seed,
            ..TinyModel::default()
        }
        .write(&path)
        .unwrap();
        let one = Engine::load(&path, KernelPath::detect(), 1).unwrap();
        let three = Engine::load(&path, KernelPath::detect(), 3).unwrap();
        // Greedy and sampled; 90 tokens is less than the longest verdict (the reason must
        // close in time), 200 is more.
        let requests: Vec<Request> = (0..4)
            .map(|seed| {
                let params = SamplingParams {
                    temperature: 30.0,
                    top_k: 0,
                    top_p: 1.0,
                    ..sampled(90 + 110 * (seed % 2) as u32, seed)
                };
                tiny_request(seed, params)
            })
            .chain([tiny_request(9, greedy(200))])
            .collect();
        let unconstrained = Request {
            constraint: None,
            ..tiny_request(5, sampled(40, 5))
        };
        let alone: Vec<Generation> = requests.iter().map(|r| one.generate(r).unwrap()).collect();
        for g in &alone {
            assert_verdict(g);
            assert!(g.output_tokens.len() <= 200);
        }
        let alone_digests: Vec<[u8; 32]> = alone.iter().map(|g| g.digest).collect();
        let mut batch = requests.clone();
        batch.insert(2, unconstrained.clone());
        let mut batched = digests(three.generate_batch(&batch));
        assert_eq!(
            batched.remove(2),
            one.generate(&unconstrained).unwrap().digest
        );
        assert_eq!(batched, alone_digests, "model {model_seed}");
    }
}

#[test]
fn a_schema_longer_than_max_tokens_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    TinyModel::default().write(&path).unwrap();
    let engine = Engine::load(&path, KernelPath::detect(), 1).unwrap();
    let err = engine.generate(&tiny_request(1, greedy(10))).unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Constraint(ConstraintError::TooFewTokens {
                needed: 44,
                max_tokens: 10
            })
        ),
        "{err}"
    );
}

// ---- The real model -----------------------------------------------------------------------

fn real_engine(threads: usize) -> Engine {
    let path = ModelCache::from_env()
        .with_progress(false)
        .ensure(&DEFAULT_MODEL)
        .expect("the default model (run `cargo xtask fetch-model`)");
    Engine::load(&path, KernelPath::detect(), threads).unwrap()
}

const CLAIM: &str = "You judge insurance claims for a NEAR vault. Policy: losses from a \
    smart-contract exploit are covered up to 1000 NEAR. Claim: my vault lost 500 NEAR in an \
    exploit, and the transaction logs confirm it. Reply in JSON with decision (approve or \
    reject), amount (NEAR to pay) and reason.";

fn verdict_request(params: SamplingParams, id: &[u8]) -> Request {
    Request::chat(CLAIM, params, id).with_constraint(verdict_schema())
}

#[test]
fn the_real_model_judges_a_claim_in_schema_with_stable_bits() {
    let two = real_engine(2);
    let requests = [
        verdict_request(greedy(64), b"verdict-greedy"),
        verdict_request(sampled(64, 7), b"verdict-sampled"),
    ];
    let alone: Vec<Generation> = requests.iter().map(|r| two.generate(r).unwrap()).collect();
    for g in &alone {
        assert_verdict(g);
    }
    let alone: Vec<[u8; 32]> = alone.iter().map(|g| g.digest).collect();
    // One thread; batched with an unconstrained request, in another order.
    let one = real_engine(1);
    assert_eq!(
        requests
            .iter()
            .map(|r| one.generate(r).unwrap().digest)
            .collect::<Vec<_>>(),
        alone
    );
    let plain = Request::chat("Name three colors.", sampled(12, 3), b"plain");
    let plain_alone = two.generate(&plain).unwrap().digest;
    let batch = [requests[1].clone(), plain.clone(), requests[0].clone()];
    assert_eq!(
        digests(two.generate_batch(&batch)),
        [alone[1], plain_alone, alone[0]]
    );
    // Without the constraint, another result; with another schema, another digest.
    let free = Request {
        constraint: None,
        ..requests[0].clone()
    };
    assert_ne!(two.generate(&free).unwrap().digest, alone[0]);
    let wider = Schema::from_json_schema(&json!({
        "type": "object",
        "properties": {
            "decision": {"type": "string", "enum": ["approve", "reject"]},
            "amount": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
            "reason": {"type": "string", "maxLength": MAX_REASON + 1}
        },
        "required": ["decision", "amount", "reason"]
    }))
    .unwrap();
    let g = two
        .generate(&requests[0].clone().with_constraint(wider))
        .unwrap();
    assert_ne!(g.digest, alone[0]);
}

#[test]
fn the_mask_is_exactly_the_tokens_whose_bytes_advance() {
    let engine = real_engine(1);
    let tokenizer = engine.tokenizer();
    let index = TokenIndex::new(tokenizer);
    let schema = verdict_schema();
    let automaton = Automaton::new(&schema).unwrap();
    // A reason one character short of its maxLength: a token of two plain characters must
    // be refused even where its bytes would fit the budget.
    let nearly_full = format!(
        r#"{{"decision":"reject","amount":12,"reason":"{}"#,
        "a".repeat(MAX_REASON - 1)
    );
    for (prefix, budget) in [
        ("", 100),
        (r#"{"decision":""#, 100),
        (r#"{"decision":"reject","amount":"#, 100),
        (r#"{"decision":"reject","amount":12"#, 100),
        (r#"{"decision":"reject","amount":12,"reason":""#, 100),
        (r#"{"decision":"reject","amount":12,"reason":"ab\"#, 100),
        (r#"{"decision":"reject","amount":12,"reason":"a"#, 3),
        (r#"{"decision":"reject","amount":12,"reason":"a"#, 1),
        (nearly_full.as_str(), 100),
    ] {
        let state = automaton
            .advance_all(automaton.start(), prefix.as_bytes())
            .unwrap();
        let brute: Vec<u32> = (0..tokenizer.vocab_size() as u32)
            .filter(|&id| !tokenizer.token_type(id).unwrap().is_special())
            .filter(|id| !tokenizer.end_of_generation_ids().contains(id))
            .filter(|&id| {
                let bytes = tokenizer.token_bytes(id).unwrap();
                !bytes.is_empty()
                    && automaton
                        .advance_all(state, bytes)
                        .is_some_and(|s| automaton.bytes_to_go(s) <= budget)
            })
            .collect();
        let allowed = index.allowed(&automaton, state, budget);
        assert_eq!(allowed, brute, "{prefix} {budget}");
        assert!(!allowed.is_empty(), "{prefix} {budget}");
        if prefix == nearly_full {
            let two_letters = tokenizer.encode("ab", false);
            assert_eq!(two_letters.len(), 1, "`ab` is one token");
            assert!(!allowed.contains(&two_letters[0]));
            let one_letter = tokenizer.encode("b", false);
            assert!(allowed.contains(&one_letter[0]));
        }
    }
}
