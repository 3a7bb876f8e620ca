//! The devnet's demo: a question through the example dApp, a claim to the vault, both answered
//! by the three nodes, then both verified by re-running the model locally.

use super::{step, vault, Devnet, EngineSetup};
use crate::cluster::{ONE_NEAR, ORACLE, USER};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use kernels::engine::Engine;
use kernels::model_cache::resolve_model;
use kernels::quant::KernelPath;
use oracle_protocol::{RequestPhase, RequestView};
use sdk::oracle::{OracleClient, Verification};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const QUESTION: &str = "What is the capital of France?";
pub const CLAIM_EVIDENCE: &str = "My order A-1001 never arrived. Please refund it.";
pub const CLAIM_AMOUNT: u128 = ONE_NEAR;
/// How long an answer (and every committee member's attestation) may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// The question to the example dApp and what came of it.
#[derive(Debug, Clone)]
pub struct QuestionOutcome {
    pub question: String,
    /// The oracle's request, once every committee member attested.
    pub request: RequestView,
    /// The dApp's stored question and answer (`get_question`).
    pub dapp_state: Value,
}

/// The claim to the vault and what came of it.
#[derive(Debug, Clone)]
pub struct ClaimOutcome {
    pub recipient: String,
    pub amount: u128,
    pub evidence: String,
    /// The settled claim (`get_claim`).
    pub claim: Value,
    /// The oracle's request that judged it, once every committee member attested.
    pub request: RequestView,
    /// `get_vault` before the claim and after it settled.
    pub vault_before: Value,
    pub vault_after: Value,
}

/// Everything the demo did.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// Each node's account and engine.
    pub engines: Vec<(String, EngineSetup)>,
    pub question: QuestionOutcome,
    pub claim: ClaimOutcome,
    /// Both requests, each verified (signatures, committee, quorum, output hash) and re-run on
    /// a local engine to the same digest.
    pub verifications: Vec<Verification>,
    /// The local engine's configuration for the re-execution.
    pub verifier_engine: String,
}

pub async fn run(devnet: &Devnet, max_tokens: u32) -> Result<DemoReport> {
    let deployment = &devnet.deployment;
    let client = OracleClient::new(deployment.rpc.clone(), ORACLE);

    step(&format!("{USER} asks the example dApp: {QUESTION:?}"));
    deployment.ask(QUESTION, max_tokens).await?;
    let dapp_state = deployment.wait_answer(0, ANSWER_TIMEOUT).await?;
    let request_id = dapp_state["answer"]["answered"]["oracle_request_id"]
        .as_u64()
        .with_context(|| format!("the dApp holds no answer: {dapp_state}"))?;
    let request = all_attested(&client, request_id).await?;
    let question = QuestionOutcome {
        question: QUESTION.into(),
        request,
        dapp_state,
    };

    step(&format!(
        "{USER} files a claim to the vault: {} NEAR, {CLAIM_EVIDENCE:?}",
        CLAIM_AMOUNT / ONE_NEAR
    ));
    let vault_before = vault::state(deployment).await?;
    vault::file_claim(deployment, USER, CLAIM_AMOUNT, CLAIM_EVIDENCE).await?;
    let claim = vault::wait_settled(deployment, 0, ANSWER_TIMEOUT).await?;
    let vault_after = vault::state(deployment).await?;
    let claim_request_id = claim["oracle_request_id"]
        .as_u64()
        .with_context(|| format!("the claim was never judged by the oracle: {claim}"))?;
    let claim = ClaimOutcome {
        recipient: USER.into(),
        amount: CLAIM_AMOUNT,
        evidence: CLAIM_EVIDENCE.into(),
        claim,
        request: all_attested(&client, claim_request_id).await?,
        vault_before,
        vault_after,
    };

    step("verify both answers: signatures, committee, quorum, output hash, and re-execution");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernels = KernelPath::detect();
    let engine = Arc::new(load_engine(kernels, threads).await?);
    let mut verifications = Vec::new();
    for id in [request_id, claim_request_id] {
        verifications.push(
            client
                .verify_by_reexecution(id, engine.clone())
                .await
                .with_context(|| format!("verifying request {id}"))?,
        );
    }
    Ok(DemoReport {
        engines: devnet
            .nodes
            .iter()
            .map(|(node, engine)| (node.account.clone(), engine.clone()))
            .collect(),
        question,
        claim,
        verifications,
        verifier_engine: format!("{} kernels, {threads} threads", kernels.name()),
    })
}

/// Request `request_id` once every committee member attested (with the devnet's quorum of the
/// whole committee, by the time the answer is out).
async fn all_attested(client: &OracleClient, request_id: u64) -> Result<RequestView> {
    let started = Instant::now();
    loop {
        let request = client.get_request(request_id).await?;
        if request.attestations.len() == request.committee.len() {
            return Ok(request);
        }
        if request.status == RequestPhase::TimedOut {
            bail!(
                "request {request_id} timed out (200 blocks) with {} of {} attestations: the \
                 slowest engine took longer than that; give it more time with longer blocks",
                request.attestations.len(),
                request.committee.len()
            );
        }
        if started.elapsed() > ANSWER_TIMEOUT {
            bail!(
                "request {request_id}: {} of {} committee members attested after {ANSWER_TIMEOUT:?}",
                request.attestations.len(),
                request.committee.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The default model on `kernels` with `threads`, loaded behind a spinner.
async fn load_engine(kernels: KernelPath, threads: usize) -> Result<Engine> {
    let path = resolve_model(None)?;
    let spinner = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("  {spinner} {msg} ({elapsed})").expect("valid template"),
    );
    spinner.set_message(format!("loading {} for the re-execution", path.display()));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let engine = tokio::task::spawn_blocking(move || Engine::load(&path, kernels, threads))
        .await?
        .context("loading the model")?;
    spinner.finish_and_clear();
    Ok(engine)
}
