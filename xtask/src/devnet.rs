//! The main job. Until the RPC chain, the nodes and the SDK land, it runs everything that
//! exists, for real: builds and checks the contracts, deploys the oracle contract on the
//! in-process NEAR chain and registers the model by its SHA-256, then answers a demo question
//! on two differently configured engines ("nodes": SIMD on all cores, and the scalar reference
//! on one thread) and shows that their result digests agree bit for bit.

use crate::{contracts, fetch_model, step};
use anyhow::{bail, Context, Result};
use kernels::engine::{Engine, Request};
use kernels::model_cache::DEFAULT_MODEL;
use kernels::quant::KernelPath;
use kernels::sampling::SamplingParams;
use wasm_host::chain::Chain;

const NEAR: u128 = 10u128.pow(24);
const TGAS: u64 = 10u64.pow(12);
const QUESTION: &str = "What is the capital of France?";

pub fn run() -> Result<()> {
    let built = contracts::build_all()?;
    let model = fetch_model()?;

    step("deploy the oracle contract on the in-process chain");
    let oracle = built
        .iter()
        .find(|c| c.package == "oracle-contract")
        .context("oracle-contract was not built")?;
    let mut chain = Chain::new();
    chain.create_account("owner.test", 100 * NEAR)?;
    chain.create_account("oracle.test", 50 * NEAR)?;
    chain.deploy("oracle.test", std::fs::read(&oracle.path)?)?;
    let init = chain.call(
        "owner.test",
        "oracle.test",
        "new",
        r#"{"owner":"owner.test"}"#,
        0,
        30 * TGAS,
    )?;
    check(&init, "new")?;
    let registration = serde_json::json!({ "model": {
        "model_id": DEFAULT_MODEL.sha256,
        "name": "SmolLM2-135M-Instruct Q4_1",
        "spec_version": kernels::SPEC_VERSION,
        "max_input_bytes": 4096,
        "max_output_tokens": 256,
        "price": (NEAR / 100).to_string(),
    }});
    let registered = chain.call(
        "owner.test",
        "oracle.test",
        "register_model",
        registration.to_string(),
        NEAR / 10,
        30 * TGAS,
    )?;
    check(&registered, "register_model")?;
    for log in registered.logs() {
        println!("  log: {log}");
    }
    let view = chain.view("oracle.test", "list_models", "{}")?;
    println!("  list_models -> {}", String::from_utf8_lossy(&view.result));
    println!(
        "  gas burnt by register_model: {:.3} TGas",
        registered.total_gas_burnt() as f64 / TGAS as f64
    );

    step("answer a question on two differently configured engines");
    let request = Request::chat(
        QUESTION,
        SamplingParams {
            max_tokens: 32,
            ..SamplingParams::default()
        },
        b"devnet-demo-1",
    );
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let configurations = [(KernelPath::detect(), threads), (KernelPath::Scalar, 1)];
    let mut digests = Vec::new();
    for (path, threads) in configurations {
        let engine = Engine::load(&model, path, threads)?;
        let generation = engine.generate(&request)?;
        println!(
            "  node ({} kernels, {threads} threads): {:?}\n    digest {}  ({} prompt tokens, {} generated, {:.1} tok/s)",
            path.name(),
            generation.text,
            hex::encode(generation.digest),
            generation.prompt_tokens.len(),
            generation.output_tokens.len(),
            generation.output_tokens.len() as f64 / generation.timings.decode.as_secs_f64().max(1e-9)
        );
        digests.push(generation.digest);
    }
    if digests.windows(2).any(|w| w[0] != w[1]) {
        bail!("the two engines disagree: determinism is broken");
    }
    println!("both nodes agree bit for bit: a quorum is a hash comparison");
    Ok(())
}

fn check(result: &wasm_host::chain::TxResult, method: &str) -> Result<()> {
    if result.clone().into_result().is_err() {
        bail!("{method} failed: {}", result.status_message());
    }
    Ok(())
}
