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
/// How long an answer (and every committee member's attestation) may take at least.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);
/// Blocks a request lives before it times out: the oracle's yield timeout.
const REQUEST_LIFETIME_BLOCKS: u32 = 200;

/// How long the demo waits for an answer on a chain of `block_time` blocks: the request's whole
/// life and a minute more, and never under [`ANSWER_TIMEOUT`] — longer blocks (for a slow
/// machine) lengthen the wait with them.
fn answer_timeout(block_time: Duration) -> Duration {
    (block_time * REQUEST_LIFETIME_BLOCKS + Duration::from_secs(60)).max(ANSWER_TIMEOUT)
}

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
    let dapp_state = wait_for(devnet, Some(&ask), "the dApp's answer", dapp_answer).await?;
    if let Some(reason) = dapp_state["answer"]["failed"]["reason"].as_str() {
        bail!(
            "the dApp's question failed: {reason}. A request that timed out had nodes too slow \
             for the chain: run the devnet again with longer blocks (--block-time-ms, say 2000)"
        );
    }
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
        async |deployment| {
            let claim = vault::claim(deployment, 0).await;
            Ok(look_at(claim, "get_claim", vault::settled))
        },
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

/// One look at an awaited value.
enum Look<T> {
    /// It came.
    Came(T),
    /// Not yet: what was seen instead (the value so far, or why a view failed).
    NotYet(String),
}

/// What a view gave, as a look for a value that came once `came` holds for it. A failed view
/// (`method`'s error: the chain busy) is not an error, only not yet.
fn look_at(view: Result<Value>, method: &str, came: impl Fn(&Value) -> bool) -> Look<Value> {
    match view {
        Ok(value) if came(&value) => Look::Came(value),
        Ok(value) => Look::NotYet(value.to_string()),
        Err(error) => Look::NotYet(format!("{method} failed: {error:#}")),
    }
}

/// The dApp's question 0, once it is no longer waiting (`null` while it is not stored, or
/// after the dApp deleted it).
async fn dapp_answer(deployment: &Deployment) -> Result<Look<Value>> {
    let question = deployment
        .view(DAPP, "get_question", json!({"question_id": 0}))
        .await;
    Ok(look_at(question, "get_question", |question| {
        !question.is_null() && question["answer"] != json!("waiting")
    }))
}

/// Waits until `look` sees the value come ([`answer_timeout`] at most); every turn it also
/// checks that every devnet process still runs (naming the log of one that exited) and that
/// `sent` has not failed. See [`wait_on`].
async fn wait_for<T>(
    devnet: &mut Devnet,
    sent: Option<&Sent>,
    awaited: &str,
    look: impl AsyncFnMut(&Deployment) -> Result<Look<T>>,
) -> Result<T> {
    let Devnet {
        deployment,
        processes,
        block_time,
        ..
    } = devnet;
    let waited = Waited {
        sent,
        awaited,
        timeout: answer_timeout(*block_time),
    };
    wait_on(deployment, || processes.check_running(), &waited, look).await
}

/// What [`wait_on`] waits for.
struct Waited<'a> {
    /// The transaction whose effect is awaited, if any.
    sent: Option<&'a Sent>,
    /// What is awaited, for errors.
    awaited: &'a str,
    timeout: Duration,
}

/// Waits until `look` sees the value come (an error from it ends the wait). Every turn it
/// also runs `running` (an error ends the wait) and checks the transaction `waited.sent`: a
/// failure ends the wait with the chain's error, and so does its successful end followed by a
/// look that still finds nothing — with its return value, which says why (a dApp's `Failed`
/// answer, say). After `waited.timeout` it fails with what it saw last.
async fn wait_on<T>(
    deployment: &Deployment,
    mut running: impl FnMut() -> Result<()>,
    waited: &Waited<'_>,
    mut look: impl AsyncFnMut(&Deployment) -> Result<Look<T>>,
) -> Result<T> {
    let awaited = waited.awaited;
    let started = Instant::now();
    // The transaction's return value, once it finished successfully.
    let mut returned: Option<String> = None;
    loop {
        let last_seen = match look(deployment).await? {
            Look::Came(value) => return Ok(value),
            Look::NotYet(seen) => seen,
        };
        if let (Some(sent), Some(value)) = (waited.sent, &returned) {
            bail!(
                "{} (transaction {}) finished, returning {value}, but {awaited} did not come; \
                 last seen: {last_seen}",
                sent.what,
                sent.hash
            );
        }
        running()?;
        if let Some(sent) = waited.sent {
            returned = finished(deployment, sent).await?;
        }
        if started.elapsed() > waited.timeout {
            bail!(
                "{awaited} did not come after {:?}; last seen: {last_seen}",
                waited.timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Transaction `sent`'s return value once it finished successfully (`None` while it runs, is
/// not found yet, or the chain is busy); an error carrying the chain's error when it failed.
async fn finished(deployment: &Deployment, sent: &Sent) -> Result<Option<String>> {
    let Ok(outcome) = deployment
        .rpc
        .tx_status(&sent.hash, sent.signer, TxWait::Included)
        .await
    else {
        return Ok(None);
    };
    match outcome.status {
        TxStatus::Failure(error) => {
            bail!("{} (transaction {}) failed: {error}", sent.what, sent.hash)
        }
        TxStatus::SuccessValue(value) => Ok(Some(String::from_utf8_lossy(&value).into_owned())),
        TxStatus::NotStarted | TxStatus::Started => Ok(None),
    }
}

/// Request `request_id` once every committee member attested (with the devnet's quorum of the
/// whole committee, by the time the answer is out).
async fn all_attested(
    devnet: &mut Devnet,
    client: &OracleClient,
    request_id: u64,
) -> Result<RequestView> {
    let awaited = format!("an attestation from every committee member on request {request_id}");
    wait_for(devnet, None, &awaited, async |_| {
        let request = match client.get_request(request_id).await {
            Ok(request) => request,
            Err(error) => return Ok(Look::NotYet(format!("get_request failed: {error}"))),
        };
        if request.status == RequestPhase::TimedOut {
            bail!(
                "request {request_id} timed out (200 blocks) with {} of {} attestations: the \
                 slowest engine took longer than that; give it more time with longer blocks",
                request.attestations.len(),
                request.committee.len()
            );
        }
        let (attested, committee) = (request.attestations.len(), request.committee.len());
        // An empty committee is one not drawn yet (a block after the request).
        if committee > 0 && attested == committee {
            return Ok(Look::Came(request));
        }
        Ok(Look::NotYet(format!(
            "{attested} of {committee} attested, status {:?}",
            request.status
        )))
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

    #[test]
    fn the_wait_for_an_answer_grows_with_the_block_time() {
        // The default 500 ms blocks: a request lives 100 s, the floor holds.
        assert_eq!(answer_timeout(Duration::from_millis(500)), ANSWER_TIMEOUT);
        // 2 s blocks: a request lives 400 s, waited for with a minute more.
        assert_eq!(
            answer_timeout(Duration::from_secs(2)),
            Duration::from_secs(460)
        );
    }

    /// A chain with the oracle (committee 1, no node running) and the dApp deployed.
    async fn chain(dir: &std::path::Path) -> (Localnet, Deployment) {
        let accounts: Vec<String> = [OWNER, ORACLE, DAPP, USER].map(String::from).to_vec();
        let localnet = Localnet::start(&dir.join("chain"), 100, &accounts).unwrap();
        let settings = OracleSettings {
            committee_size: 1,
            quorum: 1,
        };
        let deployment = deploy(&localnet, settings).await.unwrap();
        (localnet, deployment)
    }

    /// `alice.test` asks the dApp, attaching `deposit`.
    async fn ask(deployment: &Deployment, deposit: u128) -> Sent {
        let action = Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: "ask".into(),
            args: serde_json::to_vec(&json!({"question": QUESTION})).unwrap(),
            gas: 200 * TGAS,
            deposit,
        }));
        Sent {
            hash: deployment.user.submit(DAPP, vec![action]).await.unwrap(),
            signer: USER,
            what: "the question to the dApp",
        }
    }

    /// A question sent without the dApp's storage deposit fails at once, and the check says so
    /// with the contract's error instead of waiting for an answer that cannot come.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_question_is_reported_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let (_localnet, deployment) = chain(dir.path()).await;
        let sent = ask(&deployment, 0).await;
        let started = Instant::now();
        let error = loop {
            if let Err(error) = finished(&deployment, &sent).await {
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

    /// A question the oracle refuses (no fee attached, only the dApp's storage) succeeds as a
    /// transaction while the dApp deletes it: the wait ends at once with the dApp's answer,
    /// which says why, instead of waiting for an answer that cannot come.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_question_ends_the_wait_with_the_dapps_answer() {
        let dir = tempfile::tempdir().unwrap();
        let (_localnet, deployment) = chain(dir.path()).await;
        let storage: String = deployment
            .view(
                DAPP,
                "question_storage_deposit",
                json!({"question_bytes": QUESTION.len()}),
            )
            .await
            .unwrap()
            .as_str()
            .unwrap()
            .into();
        let sent = ask(&deployment, storage.parse().unwrap()).await;
        let waited = Waited {
            sent: Some(&sent),
            awaited: "the dApp's answer",
            timeout: Duration::from_secs(60),
        };
        let started = Instant::now();
        let error = wait_on(&deployment, || Ok(()), &waited, dapp_answer)
            .await
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < Duration::from_secs(30), "{error}");
        assert!(
            error.starts_with("the question to the dApp (transaction"),
            "{error}"
        );
        assert!(error.contains("finished, returning {\"failed\""), "{error}");
        assert!(
            error.ends_with("but the dApp's answer did not come; last seen: null"),
            "{error}"
        );
    }

    /// Without the value, the timeout says what was seen last.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_timeout_says_what_it_saw_last() {
        let dir = tempfile::tempdir().unwrap();
        let (_localnet, deployment) = chain(dir.path()).await;
        let waited = Waited {
            sent: None,
            awaited: "question 0",
            timeout: Duration::from_millis(500),
        };
        let error = wait_on(&deployment, || Ok(()), &waited, dapp_answer)
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "question 0 did not come after 500ms; last seen: null"
        );
    }
}
