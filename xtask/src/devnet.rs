//! The main job. Until the RPC chain and the node daemons land, it runs the whole oracle flow in
//! one process, for real: the contracts on the in-process NEAR chain (wasm-host), three staked
//! nodes each with its own differently configured engine on the real model (SIMD on every core,
//! SIMD on one thread, the scalar reference), and the example dApp. A user asks the dApp a
//! question; the oracle picks a committee; each node reads the request, runs the model, signs an
//! attestation and submits it; the quorum resolves the request and the dApp's callback stores
//! the answer. The digests of the three nodes must agree bit for bit.

use crate::{contracts, fetch_model, step};
use anyhow::{bail, Context, Result};
use kernels::engine::Engine;
use kernels::model_cache::DEFAULT_MODEL;
use kernels::quant::KernelPath;
use oracle_protocol::{AttestationMessage, Digest32, ModelId, RequestParams};
use sdk::inference::{engine_request, RequestKey};
use sdk::keys::KeyPair;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wasm_host::abi::Action;
use wasm_host::chain::{Chain, FinalStatus, TxResult, CHAIN_ID, ONE_NEAR, TGAS};

const OWNER: &str = "owner.test";
const ORACLE: &str = "oracle.test";
const DAPP: &str = "dapp.test";
const USER: &str = "alice.test";
const QUESTION: &str = "What is the capital of France?";

/// A node: its account, attestation key and engine.
struct Node {
    account: String,
    key: KeyPair,
    engine: Engine,
}

pub fn run() -> Result<()> {
    let built = contracts::build_all()?;
    let model_path = fetch_model()?;
    let wasm = |package: &str| -> Result<Vec<u8>> {
        let contract = built
            .iter()
            .find(|c| c.package == package)
            .with_context(|| format!("{package} was not built"))?;
        Ok(std::fs::read(&contract.path)?)
    };
    let model_id: ModelId = DEFAULT_MODEL.sha256.parse()?;

    step("deploy the oracle and the example dApp on the in-process NEAR chain");
    let mut chain = Chain::new();
    for (account, near) in [(OWNER, 100), (ORACLE, 50), (DAPP, 50), (USER, 100)] {
        chain.create_account(account, near * ONE_NEAR)?;
    }
    chain.deploy(ORACLE, wasm("oracle-contract")?)?;
    let config = json!({
        "committee_size": 3, "quorum": 2, "min_stake": (5 * ONE_NEAR).to_string(),
        "unbonding_blocks": 1000, "slash_bps": 1000, "reporter_bps": 5000,
        "max_output_bytes": 4096, "max_inline_output_bytes": 1024, "retention_blocks": 100,
    });
    succeed(
        &mut chain,
        ORACLE,
        ORACLE,
        "new",
        json!({"owner": OWNER, "config": config}),
        0,
    )?;
    let model = json!({"model": {
        "model_id": model_id, "name": "SmolLM2-135M-Instruct Q4_1",
        "spec_version": kernels::SPEC_VERSION, "max_input_bytes": 4096,
        "max_output_tokens": 256, "price": (ONE_NEAR / 100).to_string(),
    }});
    let registered = succeed(&mut chain, OWNER, ORACLE, "register_model", model, ONE_NEAR)?;
    println!("  model registered: {}", model_id);
    println!("  register_model gas: {}", tgas(&registered));
    chain.deploy(DAPP, wasm("example-dapp")?)?;
    succeed(
        &mut chain,
        DAPP,
        DAPP,
        "new",
        json!({"oracle": ORACLE, "model_id": model_id}),
        0,
    )?;

    step("start three nodes, each with its own engine configuration, and stake them");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let configurations = [
        (KernelPath::detect(), threads),
        (KernelPath::detect(), 1),
        (KernelPath::Scalar, 1),
    ];
    let mut nodes = Vec::new();
    for (index, (path, threads)) in configurations.into_iter().enumerate() {
        let account = format!("node{index}.test");
        let key = KeyPair::from_seed([index as u8 + 1; 32]);
        chain.create_account(&account, 100 * ONE_NEAR)?;
        let args = json!({
            "attestation_key": key.public_key().to_near_string(),
            "models": [model_id],
        });
        succeed(
            &mut chain,
            &account,
            ORACLE,
            "register_node",
            args,
            10 * ONE_NEAR,
        )?;
        let engine = Engine::load(&model_path, path, threads)?;
        println!(
            "  {account}: {} kernels, {threads} thread(s), attestation key {}",
            path.name(),
            key.public_key().to_near_string()
        );
        nodes.push(Node {
            account,
            key,
            engine,
        });
    }

    step(&format!("{USER} asks the dApp: {QUESTION:?}"));
    let estimate = view(
        &chain,
        ORACLE,
        "estimate_fee",
        json!({"model_id": model_id, "params": {"temperature_milli": 0, "top_k": 0,
            "top_p_milli": 1000, "max_tokens": 32, "seed": "0"}, "input_bytes": QUESTION.len()}),
    )?;
    let deposit: u128 = estimate["total"]
        .as_str()
        .context("estimate_fee.total")?
        .parse()?;
    let ask = Action::FunctionCall {
        method_name: "ask".into(),
        args: json!({"question": QUESTION, "max_tokens": 32})
            .to_string()
            .into_bytes(),
        deposit,
        gas: 200 * TGAS,
    };
    let ask_tx = chain.submit(USER, DAPP, vec![ask])?;
    chain.advance_blocks(3);
    let pending = view(&chain, ORACLE, "list_pending_requests", json!({}))?;
    let request_id = pending[0]["request_id"]
        .as_u64()
        .context("the oracle has no pending request")?;
    let request = view(
        &chain,
        ORACLE,
        "get_request",
        json!({"request_id": request_id}),
    )?;
    let committee: Vec<String> = serde_json::from_value(request["committee"].clone())?;
    let params: RequestParams = serde_json::from_value(request["params"].clone())?;
    let input = request["input"]
        .as_str()
        .context("request input")?
        .to_string();
    println!(
        "  request {request_id} created; committee {committee:?}; fee paid {deposit} yoctoNEAR"
    );

    step("each committee member runs the model, signs and attests");
    let key = RequestKey {
        chain_id: CHAIN_ID,
        oracle_contract: ORACLE,
        request_id,
    };
    let mut digests = Vec::new();
    for node in nodes.iter().filter(|n| committee.contains(&n.account)) {
        let generation = node
            .engine
            .generate(&engine_request(&key, &input, &params))?;
        let result_digest = Digest32(generation.digest);
        let message = AttestationMessage {
            chain_id: CHAIN_ID.into(),
            oracle_contract: ORACLE.into(),
            request_id,
            model_id,
            result_digest,
            output_hash: Digest32(Sha256::digest(generation.text.as_bytes()).into()),
        };
        let signature = hex::encode(sdk::attest::sign(&node.key, &message));
        let args = json!({
            "request_id": request_id, "output": generation.text,
            "result_digest": result_digest, "signature": signature,
        });
        let outcome = succeed(
            &mut chain,
            &node.account,
            ORACLE,
            "submit_attestation",
            args,
            0,
        )?;
        println!(
            "  {}: {:?}\n    digest {result_digest}  attestation gas {}  -> {}",
            node.account,
            generation.text,
            tgas(&outcome),
            String::from_utf8_lossy(&success_value(&outcome)),
        );
        digests.push(result_digest);
    }
    if digests.windows(2).any(|w| w[0] != w[1]) {
        bail!("the nodes disagree: determinism is broken");
    }

    step("the quorum resolved the request; the dApp's callback has the answer");
    chain.advance_blocks(3);
    let asked = chain.tx_result(&ask_tx);
    println!("  ask transaction: {:?}", asked.status_message());
    let stored = view(&chain, DAPP, "get_question", json!({"question_id": 0}))?;
    println!("  dApp state: {stored}");
    if stored["answer"]["answered"].is_null() {
        bail!("the dApp did not receive the answer: {stored}");
    }
    println!(
        "every node agreed bit for bit ({} nodes, digest {}): a quorum is a hash comparison",
        digests.len(),
        digests[0]
    );
    Ok(())
}

fn succeed(
    chain: &mut Chain,
    signer: &str,
    receiver: &str,
    method: &str,
    args: Value,
    deposit: u128,
) -> Result<TxResult> {
    let result = chain.call(
        signer,
        receiver,
        method,
        args.to_string(),
        deposit,
        300 * TGAS,
    )?;
    if !matches!(result.status, FinalStatus::SuccessValue(_)) {
        bail!("{receiver}.{method} failed: {}", result.status_message());
    }
    Ok(result)
}

fn success_value(result: &TxResult) -> Vec<u8> {
    match &result.status {
        FinalStatus::SuccessValue(value) => value.clone(),
        _ => Vec::new(),
    }
}

fn view(chain: &Chain, account: &str, method: &str, args: Value) -> Result<Value> {
    let result = chain.view(account, method, args.to_string())?;
    Ok(result.json()?)
}

fn tgas(result: &TxResult) -> String {
    format!("{:.2} TGas", result.total_gas_burnt() as f64 / TGAS as f64)
}
