//! The whole oracle flow in one process, for real: the contracts on the in-process NEAR chain
//! (wasm-host), staked nodes each running its own engine configuration on a real model, and the
//! example dApp. A user asks the dApp a question; the oracle picks a committee; each committee
//! node reads the request, runs the model, signs and submits its attestation; the quorum resolves
//! the request and the dApp's callback stores the answer. `cargo xtask devnet` runs it on the
//! default model and prints what happens; the end-to-end tests check it.

use crate::layout::contract_crates;
use anyhow::{bail, Context, Result};
use kernels::engine::Engine;
use kernels::quant::KernelPath;
use oracle_protocol::{AttestationMessage, Digest32, ModelId, RequestParams};
use sdk::inference::{engine_request, RequestKey};
use sdk::keys::SecretKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;
use wasm_host::abi::Action;
use wasm_host::chain::{Chain, FinalStatus, TxResult, CHAIN_ID, ONE_NEAR, TGAS};

const OWNER: &str = "owner.test";
const ORACLE: &str = "oracle.test";
const DAPP: &str = "dapp.test";
const USER: &str = "alice.test";

/// A node: its account, attestation key and engine.
struct Node {
    account: String,
    key: SecretKey,
    engine: Engine,
}

/// One committee node's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAnswer {
    pub account: String,
    pub text: String,
    pub result_digest: Digest32,
    /// What `submit_attestation` returned (`recorded`, `resolved`, `agreed`).
    pub outcome: String,
}

/// What the flow produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub request_id: u64,
    pub answers: Vec<NodeAnswer>,
    /// The dApp's stored question and answer (`get_question`).
    pub dapp_state: Value,
}

/// Runs the flow: `model_path` is the GGUF, `model_id` its SHA-256, `nodes` one engine
/// configuration (kernel path, threads) per node; `say` receives a line per step.
pub fn run_in_process(
    model_path: &Path,
    model_id: ModelId,
    nodes: &[(KernelPath, usize)],
    question: &str,
    say: &mut dyn FnMut(String),
) -> Result<Outcome> {
    let wasm = |package: &str| -> Result<Vec<u8>> {
        let contract = contract_crates()?
            .into_iter()
            .find(|c| c.package == package)
            .with_context(|| format!("no contract crate {package}"))?;
        let path = contract.built_wasm();
        std::fs::read(&path).with_context(|| {
            format!(
                "{}: build the contracts first (cargo xtask build-contracts)",
                path.display()
            )
        })
    };
    say("deploy the oracle and the example dApp on the in-process NEAR chain".into());
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
        "model_id": model_id, "name": model_name(model_path),
        "spec_version": kernels::SPEC_VERSION, "max_input_bytes": 4096,
        "max_output_tokens": 256, "price": (ONE_NEAR / 100).to_string(),
    }});
    let registered = succeed(&mut chain, OWNER, ORACLE, "register_model", model, ONE_NEAR)?;
    say(format!("  model registered: {model_id}"));
    say(format!("  register_model gas: {}", tgas(&registered)));
    chain.deploy(DAPP, wasm("example-dapp")?)?;
    succeed(
        &mut chain,
        DAPP,
        DAPP,
        "new",
        json!({"oracle": ORACLE, "model_id": model_id}),
        0,
    )?;

    say("start the nodes, each with its own engine configuration, and stake them".into());
    let configurations = nodes;
    let mut nodes = Vec::new();
    for (index, &(path, threads)) in configurations.iter().enumerate() {
        let account = format!("node{index}.test");
        let key = SecretKey::from_seed([index as u8 + 1; 32]);
        chain.create_account(&account, 100 * ONE_NEAR)?;
        let args = json!({
            "attestation_key": key.public_key().to_string(),
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
        let engine = Engine::load(model_path, path, threads)?;
        say(format!(
            "  {account}: {} kernels, {threads} thread(s), attestation key {}",
            path.name(),
            key.public_key()
        ));
        nodes.push(Node {
            account,
            key,
            engine,
        });
    }

    say(format!("{USER} asks the dApp: {question:?}"));
    let estimate = view(
        &chain,
        ORACLE,
        "estimate_fee",
        json!({"model_id": model_id, "params": {"temperature_milli": 0, "top_k": 0,
            "top_p_milli": 1000, "max_tokens": 32, "seed": "0"}, "input_bytes": question.len()}),
    )?;
    let deposit: u128 = estimate["total"]
        .as_str()
        .context("estimate_fee.total")?
        .parse()?;
    let ask = Action::FunctionCall {
        method_name: "ask".into(),
        args: json!({"question": question, "max_tokens": 32})
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
    say(format!(
        "  request {request_id} created; committee {committee:?}; fee paid {deposit} yoctoNEAR"
    ));

    say("each committee member runs the model, signs and attests".into());
    let key = RequestKey {
        chain_id: CHAIN_ID,
        oracle_contract: ORACLE,
        request_id,
    };
    let mut answers = Vec::new();
    for node in nodes.iter().filter(|n| committee.contains(&n.account)) {
        let generation = node
            .engine
            .generate(&engine_request(&key, &input, &params)?)?;
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
        let outcome_text = String::from_utf8_lossy(&success_value(&outcome))
            .trim_matches('"')
            .to_string();
        say(format!(
            "  {}: {:?}\n    digest {result_digest}  attestation gas {}  -> {outcome_text}",
            node.account,
            generation.text,
            tgas(&outcome),
        ));
        answers.push(NodeAnswer {
            account: node.account.clone(),
            text: generation.text,
            result_digest,
            outcome: outcome_text,
        });
    }
    if answers
        .windows(2)
        .any(|w| w[0].result_digest != w[1].result_digest)
    {
        bail!("the nodes disagree: determinism is broken");
    }

    say("the quorum resolved the request; the dApp's callback has the answer".into());
    chain.advance_blocks(3);
    let asked = chain.tx_result(&ask_tx);
    say(format!("  ask transaction: {:?}", asked.status_message()));
    let stored = view(&chain, DAPP, "get_question", json!({"question_id": 0}))?;
    say(format!("  dApp state: {stored}"));
    if stored["answer"]["answered"].is_null() {
        bail!("the dApp did not receive the answer: {stored}");
    }
    say(format!(
        "every node agreed bit for bit ({} nodes, digest {}): a quorum is a hash comparison",
        answers.len(),
        answers[0].result_digest
    ));
    Ok(Outcome {
        request_id,
        answers,
        dapp_state: stored,
    })
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

fn model_name(path: &Path) -> String {
    path.file_stem().map_or_else(
        || "model".into(),
        |s| s.to_string_lossy().chars().take(64).collect(),
    )
}
