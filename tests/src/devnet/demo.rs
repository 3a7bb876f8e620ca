//! The devnet's demo: a question through the example dApp, a claim to the vault, both answered
//! by the three nodes, then both verified by re-running the model locally.

use super::{step, vault, Devnet, EngineSetup};
use crate::cluster::{Deployment, DAPP, ONE_NEAR, ORACLE, USER};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use kernels::engine::Engine;
use kernels::model_cache::resolve_model;
use kernels::quant::KernelPath;
use oracle_protocol::{RequestPhase, RequestView};
use sdk::oracle::{OracleClient, Verification};
use sdk::rpc::{TxStatus, TxWait};
use serde_json::{json, Value};
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

/// A transaction the demo sent and waits on.
struct Sent {
    hash: String,
    signer: &'static str,
    /// What it does, for errors.
    what: &'static str,
}

pub async fn run(devnet: &mut Devnet, max_tokens: u32) -> Result<DemoReport> {
    let client = OracleClient::new(devnet.deployment.rpc.clone(), ORACLE);

    step(&format!("{USER} asks the example dApp: {QUESTION:?}"));
    let ask = Sent {
        hash: devnet.deployment.ask(QUESTION, max_tokens).await?,
        signer: USER,
        what: "the question to the dApp",
    };
    let dapp_state = wait_for(
        devnet,
        Some(&ask),
        "the dApp's answer",
        async |deployment| {
            let question = deployment
                .view(DAPP, "get_question", json!({"question_id": 0}))
                .await
                .unwrap_or(Value::Null);
            let waiting = question.is_null() || question["answer"] == json!("waiting");
            Ok((!waiting).then_some(question))
        },
    )
    .await?;
    let request_id = dapp_state["answer"]["answered"]["oracle_request_id"]
        .as_u64()
        .with_context(|| format!("the dApp holds no answer: {dapp_state}"))?;
    let request = all_attested(devnet, &client, request_id).await?;
    let question = QuestionOutcome {
        question: QUESTION.into(),
        request,
        dapp_state,
    };

    step(&format!(
        "{USER} files a claim to the vault: {} NEAR, {CLAIM_EVIDENCE:?}",
        CLAIM_AMOUNT / ONE_NEAR
    ));
    let vault_before = vault::state(&devnet.deployment).await?;
    let file_claim = Sent {
        hash: vault::file_claim(&devnet.deployment, USER, CLAIM_AMOUNT, CLAIM_EVIDENCE).await?,
        signer: USER,
        what: "the claim to the vault",
    };
    let claim = wait_for(
        devnet,
        Some(&file_claim),
        "the vault's verdict",
        async |deployment| Ok(vault::settled_claim(deployment, 0).await),
    )
    .await?;
    let vault_after = vault::state(&devnet.deployment).await?;
    let claim_request_id = claim["oracle_request_id"]
        .as_u64()
        .with_context(|| format!("the claim was never judged by the oracle: {claim}"))?;
    let claim = ClaimOutcome {
        recipient: USER.into(),
        amount: CLAIM_AMOUNT,
        evidence: CLAIM_EVIDENCE.into(),
        claim,
        request: all_attested(devnet, &client, claim_request_id).await?,
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
            .nodes()
            .iter()
            .map(|(node, engine)| (node.account.clone(), engine.clone()))
            .collect(),
        question,
        claim,
        verifications,
        verifier_engine: format!("{} kernels, {threads} threads", kernels.name()),
    })
}

/// Waits until `settled` gives a value (it answers `None` while the value is not there, or a
/// view failed: the chain busy; an error ends the wait). Every turn it also checks that `sent`
/// has not failed and that every devnet process still runs, and fails saying which did (naming
/// the log of a process that exited), or after [`ANSWER_TIMEOUT`] saying `awaited` did not
/// come.
async fn wait_for<T>(
    devnet: &mut Devnet,
    sent: Option<&Sent>,
    awaited: &str,
    mut settled: impl AsyncFnMut(&Deployment) -> Result<Option<T>>,
) -> Result<T> {
    let started = Instant::now();
    loop {
        if let Some(value) = settled(&devnet.deployment).await? {
            return Ok(value);
        }
        devnet.check_running()?;
        if let Some(sent) = sent {
            check_not_failed(&devnet.deployment, sent).await?;
        }
        if started.elapsed() > ANSWER_TIMEOUT {
            bail!("no {awaited} after {ANSWER_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// An error carrying the chain's error when transaction `sent` failed (its outcome so far).
async fn check_not_failed(deployment: &Deployment, sent: &Sent) -> Result<()> {
    // Not found yet, or the chain busy: nothing known against it.
    if let Ok(outcome) = deployment
        .rpc
        .tx_status(&sent.hash, sent.signer, TxWait::Included)
        .await
    {
        if let TxStatus::Failure(error) = outcome.status {
            bail!("{} (transaction {}) failed: {error}", sent.what, sent.hash);
        }
    }
    Ok(())
}

/// Request `request_id` once every committee member attested (with the devnet's quorum of the
/// whole committee, by the time the answer is out).
async fn all_attested(
    devnet: &mut Devnet,
    client: &OracleClient,
    request_id: u64,
) -> Result<RequestView> {
    let awaited = format!("attestation from every committee member on request {request_id}");
    wait_for(devnet, None, &awaited, async |_| {
        let Ok(request) = client.get_request(request_id).await else {
            return Ok(None);
        };
        if request.status == RequestPhase::TimedOut {
            bail!(
                "request {request_id} timed out (200 blocks) with {} of {} attestations: the \
                 slowest engine took longer than that; give it more time with longer blocks",
                request.attestations.len(),
                request.committee.len()
            );
        }
        let complete = request.attestations.len() == request.committee.len();
        Ok(complete.then_some(request))
    })
    .await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{deploy, Localnet, OracleSettings, OWNER, TGAS};
    use sdk::wire::{Action, FunctionCallAction};

    /// A question sent without the dApp's storage deposit fails at once, and the check says so
    /// with the contract's error instead of waiting for an answer that cannot come.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_question_is_reported_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let accounts: Vec<String> = [OWNER, ORACLE, DAPP, USER].map(String::from).to_vec();
        let localnet = Localnet::start(&dir.path().join("chain"), 100, &accounts).unwrap();
        let settings = OracleSettings {
            committee_size: 1,
            quorum: 1,
        };
        let deployment = deploy(&localnet, settings).await.unwrap();
        let action = Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: "ask".into(),
            args: serde_json::to_vec(&json!({"question": QUESTION})).unwrap(),
            gas: 200 * TGAS,
            deposit: 0,
        }));
        let sent = Sent {
            hash: deployment.user.submit(DAPP, vec![action]).await.unwrap(),
            signer: USER,
            what: "the question to the dApp",
        };
        let started = Instant::now();
        let error = loop {
            if let Err(error) = check_not_failed(&deployment, &sent).await {
                break error.to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no failure seen"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            error.starts_with("the question to the dApp (transaction"),
            "{error}"
        );
        assert!(error.contains("attach at least"), "{error}");
    }
}
