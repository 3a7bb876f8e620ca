//! Starting and stopping the node: keys, chain client, engine, journal, HTTP server and the
//! pipeline; graceful shutdown on SIGTERM or Ctrl-C (stop accepting, let the jobs in hand
//! finish their journal writes; during startup, stop at once; a second signal exits at once).
//! Before any work it checks the node's registration (`startup`) and says at once if the oracle
//! gives it no new work (jailed, unbonding) or if it is registered for models it does not serve
//! (the oracle would jail it for missing their requests); a fatal error later (the journal fails, the
//! pipeline dies) stops the node and is returned, so the process exits non-zero instead of
//! idling with a healthy `/health`.

use crate::attestation::Deployment;
use crate::chain::OracleChain;
use crate::config::NodeConfig;
use crate::health::Health;
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::pipeline::{self, Context, Stop};
use crate::signals::StopSignals;
use crate::worker::{BatchPolicy, EngineWorker};
use crate::{engine, http, startup};
use anyhow::{anyhow, bail, Context as _, Result};
use oracle_protocol::NodeView;
use sdk::keys::{Credentials, SecretKey};
use sdk::rpc::{ChainStatus, NearRpc, RetryPolicy};
use sdk::signer::Signer;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

/// File in the node's home where `run` writes the HTTP server's bound address.
pub const HTTP_ADDR_FILE: &str = "http.addr";
/// File in the node's home that a running node holds locked, so that a second `run` on the same
/// home fails at once (before the model loads) instead of at the journal.
pub const LOCK_FILE: &str = "run.lock";
/// How long a stopping node waits for the jobs in hand.
const GRACE: Duration = Duration::from_secs(30);
/// How long a stopping node waits for the HTTP requests in hand: a client stalled in the middle
/// of one would otherwise hold the exit up for ever.
const HTTP_GRACE: Duration = Duration::from_secs(3);

/// The RPC retry policy the config describes.
pub fn retry_policy(config: &NodeConfig) -> RetryPolicy {
    RetryPolicy {
        attempts: config.rpc_attempts,
        request_timeout: Duration::from_secs(config.rpc_timeout_secs),
        ..RetryPolicy::default()
    }
}

/// The attestation key the config names.
pub fn read_attestation_key(home: &Path, config: &NodeConfig) -> Result<SecretKey> {
    let path = NodeConfig::path_in(home, &config.attestation_key)?;
    let (_, key) = Credentials::read(&path)
        .with_context(|| format!("reading the attestation key {}", path.display()))?;
    Ok(key)
}

/// Refuses an attestation key that is the account key of `chain` (the same key in another
/// file: `NodeConfig::check` only sees that the paths differ). Attestations are signed with a
/// key of their own, never with the account's full-access key.
pub fn check_keys_apart(key: &SecretKey, chain: &OracleChain, config: &NodeConfig) -> Result<()> {
    if key.public_key() == chain.public_key() {
        bail!(
            "the attestation key {} holds the account key (that of {}): the node must not sign \
             attestations with its full-access account key. Generate a separate one \
             (`oracle-node init --home <new dir> --account-id {}` writes one there as \
             keys/attestation.json), point attestation_key at it, and register the node with it \
             (a node registered with this key must unregister first)",
            config.attestation_key.display(),
            config.account_key.display(),
            config.account_id
        );
    }
    Ok(())
}

/// The chain client the config describes: the account's signer over the RPC endpoints.
pub fn connect(home: &Path, config: &NodeConfig) -> Result<OracleChain> {
    let rpc = NearRpc::new(config.rpc_urls.clone(), retry_policy(config))?;
    let key_path = NodeConfig::path_in(home, &config.account_key)?;
    let signer = Signer::from_credentials_file(rpc, &key_path)
        .with_context(|| format!("reading the account key {}", key_path.display()))?;
    if signer.account_id().as_str() != config.account_id {
        bail!(
            "{} holds a key of {}, but the config's account_id is {}",
            key_path.display(),
            signer.account_id(),
            config.account_id
        );
    }
    Ok(OracleChain::new(
        signer,
        &config.oracle_contract,
        config.attestation_tgas,
    )?)
}

/// Holds the node's home for one running node; released when dropped (or when the process
/// ends, however it ends).
#[derive(Debug)]
pub struct HomeLock {
    _file: std::fs::File,
}

/// Locks `home` for this process, or fails saying another node runs with it (and where its
/// HTTP server is, if it wrote [`HTTP_ADDR_FILE`]).
pub fn lock_home(home: &Path) -> Result<HomeLock> {
    let path = home.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("creating the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let addr = std::fs::read_to_string(home.join(HTTP_ADDR_FILE))
                .map(|addr| format!(" (its HTTP server: http://{})", addr.trim()))
                .unwrap_or_default();
            bail!(
                "another oracle-node is already running with the home {}{addr}: stop it first, \
                 or use another --home",
                home.display()
            );
        }
        Err(std::fs::TryLockError::Error(error))
            if error.kind() == std::io::ErrorKind::Unsupported =>
        {
            warn!(%error, "cannot lock {}: nothing stops a second node on this home", path.display());
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("locking {}", path.display()));
        }
    }
    Ok(HomeLock { _file: file })
}

fn announce_faults(config: &NodeConfig) {
    let faults = &config.fault_injection;
    if faults.is_off() {
        return;
    }
    for _ in 0..3 {
        warn!("!!! FAULT INJECTION IS ON — this node misbehaves on purpose: {faults:?} !!!");
    }
}

/// The error a node stops on when `failure` ended it.
fn fatal(failure: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("the node stopped on a fatal error: {failure}")
}

/// Runs the node in `home` until SIGTERM or Ctrl-C. A second signal while it stops exits the
/// process at once (code 130): the journal resumes the jobs in hand at the next start.
pub async fn run(home: &Path, config: NodeConfig) -> Result<()> {
    let mut signals = StopSignals::listen()?;
    run_until(home, config, async move {
        signals.next().await;
        tokio::spawn(async move {
            signals.next().await;
            warn!("second signal: exiting now; the journal resumes the jobs in hand");
            std::process::exit(130);
        });
    })
    .await
}

/// Runs `work` unless the node is stopped first (`None`): startup steps that can take long (a
/// slow endpoint, loading the model) never hold a stop up.
async fn unless_stopped<T>(stop: &Stop, work: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        biased;
        _ = stop.stopped() => None,
        done = work => Some(done),
    }
}

/// Waits for the chain; `None` if the node was stopped first.
async fn wait_for_chain(chain: &OracleChain, stop: &Stop) -> Option<ChainStatus> {
    loop {
        match chain.status().await {
            Ok(status) => return Some(status),
            Err(error) => {
                warn!(%error, "waiting for the chain");
                if !stop.sleep(Duration::from_secs(1)).await {
                    return None;
                }
            }
        }
    }
}

/// Reads `what` from the chain with `read`, waiting out transient failures; `Ok(None)` if the
/// node was stopped first.
async fn read_at_start<T, F>(
    what: &str,
    stop: &Stop,
    mut read: impl FnMut() -> F,
) -> Result<Option<T>>
where
    F: Future<Output = Result<T, sdk::rpc::ChainError>>,
{
    loop {
        let Some(answer) = unless_stopped(stop, read()).await else {
            return Ok(None);
        };
        match answer {
            Ok(value) => return Ok(Some(value)),
            Err(error) if pipeline::is_transient(&error) => {
                warn!(%error, "waiting for the chain to read {what}");
                if !stop.sleep(Duration::from_secs(1)).await {
                    return Ok(None);
                }
            }
            Err(error) => return Err(error).context(format!("reading {what}")),
        }
    }
}

/// Runs the node in `home` until `shutdown` resolves (a clean stop) or a fatal error stops it
/// (returned as the error: the process exits non-zero).
pub async fn run_until(
    home: &Path,
    config: NodeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let _lock = lock_home(home)?;
    announce_faults(&config);
    let chain = connect(home, &config)?;
    let attestation_key = read_attestation_key(home, &config)?;
    let stop = Stop::default();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            shutdown.await;
            info!("stopping: no new jobs; finishing the ones in hand");
            stop.stop();
        }
    });
    let Some(Some(status)) = unless_stopped(&stop, wait_for_chain(&chain, &stop)).await else {
        return Ok(());
    };
    let policy = retry_policy(&config);
    let common = startup::common_chain_id(&config.rpc_urls, &policy);
    let Some(common) = unless_stopped(&stop, common).await else {
        return Ok(());
    };
    let chain_id = common?.unwrap_or(status.chain_id);
    // An endpoint that did not answer now is checked when failover first reaches it.
    chain.rpc().pin_chain_id(&chain_id)?;
    let Some(node) = read_at_start("this node's registration", &stop, || {
        chain.get_node(&config.account_id)
    })
    .await?
    else {
        return Ok(());
    };
    let node = startup::check_registration(
        node.as_ref(),
        &config.account_id,
        &config.oracle_contract,
        &attestation_key.public_key(),
    )?
    .clone();
    // A jailed or unbonding node runs (it still answers the requests it is on, and the
    // standing check unjails a jailed one), but the operator hears of it at once.
    pipeline::announce_standing(Some(&node));
    // Before the model loads: a journal of another deployment is refused at once.
    let journal_path = NodeConfig::path_in(home, &config.journal)?;
    let journal = Arc::new(
        Journal::open(&journal_path)
            .with_context(|| format!("opening the journal {}", journal_path.display()))?,
    );
    journal
        .bind_deployment(&chain_id, &config.oracle_contract, &config.account_id)
        .with_context(|| format!("the journal {}", journal_path.display()))?;
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::default());
    health.note_on_chain(Some(&node));
    let deployment = Deployment {
        chain_id: chain_id.clone(),
        oracle_contract: config.oracle_contract.clone(),
        node: config.account_id.clone(),
    };
    let ctx = Arc::new(Context::new(
        config.clone(),
        chain,
        journal.clone(),
        attestation_key,
        deployment,
        metrics.clone(),
        health.clone(),
        stop.clone(),
    ));
    // Before the model loads: a committed job's reveal needs no engine, and its reveal phase
    // does not wait for a model to load.
    let submitter =
        pipeline::start_submitter(ctx.clone()).map_err(|error| fatal(format_args!("{error:#}")))?;
    let started = async {
        // Refused here, not before: what an older version committed to with that key is
        // revealed before the node exits (below); nothing new is signed with it.
        check_keys_apart(&ctx.attestation_key, &ctx.chain, &config)?;
        let Some(served) = load_engine(home, &config, &ctx, &node).await? else {
            return Ok(None);
        };
        let http = start_http(home, &config, &journal, &metrics, &health, &stop).await?;
        Ok(Some((served, http)))
    }
    .await;
    let (served, (server_stop, server, addr)) = match started {
        Ok(Some(started)) => started,
        Err(error) if !stop.is_stopped() => {
            // A reveal needs no engine: what this node committed to is revealed before it exits.
            error!(
                "the node cannot start: {error:#}; revealing the jobs it committed to first \
                 (a signal stops at once)"
            );
            if let Err(failure) = submitter.finish_committed(&ctx).await {
                error!("{failure:#}");
            }
            stop.stop();
            return Err(error);
        }
        ended => {
            stop.stop();
            match tokio::time::timeout(GRACE, submitter.join()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => stop.fail(format_args!("{error:#}")),
                Err(_) => warn!("jobs still running after {GRACE:?}; the journal resumes them"),
            }
            if let Some(failure) = stop.failure() {
                return Err(fatal(failure));
            }
            if let Ok(None) = ended {
                info!("stopped while starting");
            }
            return ended.map(|_| ());
        }
    };
    info!(
        account = %config.account_id,
        contract = %config.oracle_contract,
        %chain_id,
        model = %served.model_id,
        http = %addr,
        "node running"
    );
    let ended = supervise(tokio::spawn(pipeline::run(ctx, served, submitter)), &stop).await;
    server_stop.stop();
    stop_http(server).await;
    // No stale address for `status` (or a second `run`) to point at.
    let _ = std::fs::remove_file(home.join(HTTP_ADDR_FILE));
    if let Err(error) = ended {
        stop.fail(format_args!("{error:#}"));
    }
    match stop.failure() {
        Some(failure) => {
            error!(%failure, "stopped on a fatal error");
            Err(fatal(failure))
        }
        None => {
            info!("stopped");
            Ok(())
        }
    }
}

/// Waits at most [`HTTP_GRACE`] for the stopped HTTP server to finish the requests in hand, then
/// ends it.
async fn stop_http(mut server: JoinHandle<std::io::Result<()>>) {
    if tokio::time::timeout(HTTP_GRACE, &mut server).await.is_err() {
        warn!("HTTP requests still open after {HTTP_GRACE:?}: no longer waiting for them");
        server.abort();
        let _ = server.await;
    }
}

/// Starts the HTTP server (`/health`, `/metrics`, `/jobs`) and writes its address to the home.
/// It outlives the pipeline, so `/health` reports a failing node until it exits: it stops with
/// the returned [`Stop`].
async fn start_http(
    home: &Path,
    config: &NodeConfig,
    journal: &Arc<Journal>,
    metrics: &Arc<Metrics>,
    health: &Arc<Health>,
    stop: &Stop,
) -> Result<(Stop, JoinHandle<std::io::Result<()>>, std::net::SocketAddr)> {
    let server_stop = Stop::default();
    let shared = http::Shared {
        account_id: config.account_id.clone(),
        journal: journal.clone(),
        metrics: metrics.clone(),
        health: health.clone(),
        stop: stop.clone(),
    };
    let (addr, server) = http::bind(&config.http_addr, shared, {
        let server_stop = server_stop.clone();
        async move { server_stop.stopped().await }
    })
    .await
    .map_err(|error| {
        anyhow!(
            "cannot listen on http_addr {} ({error}): another program (or node) may use it; \
             set http_addr in config.toml (or ORACLE_NODE_HTTP_ADDR) to a free address, port 0 \
             for any free port",
            config.http_addr
        )
    })?;
    std::fs::write(home.join(HTTP_ADDR_FILE), addr.to_string())?;
    Ok((server_stop, tokio::spawn(server), addr))
}

/// Loads the model and checks it against the chain (this node's registration, the model's entry
/// and its spec version), then starts the engine worker; `Ok(None)` if the node was stopped
/// first.
async fn load_engine(
    home: &Path,
    config: &NodeConfig,
    ctx: &Context,
    node: &NodeView,
) -> Result<Option<pipeline::Served>> {
    let loading = {
        let (home, config) = (home.to_path_buf(), config.clone());
        tokio::task::spawn_blocking(move || engine::load(&home, &config))
    };
    let Some(loaded) = unless_stopped(&ctx.stop, loading).await else {
        return Ok(None);
    };
    let (engine, model_id) = loaded??;
    startup::check_chat_template(engine.tokenizer(), model_id)?;
    startup::check_model(node, model_id)?;
    if let Some(warning) = startup::unserved_models_warning(node, model_id) {
        warn!("{warning}");
    }
    let Some(model) = read_at_start("the served model's entry", &ctx.stop, || {
        ctx.chain.get_model(&model_id)
    })
    .await?
    else {
        return Ok(None);
    };
    startup::check_spec(
        model.as_ref(),
        model_id,
        &config.oracle_contract,
        kernels::SPEC_VERSION,
    )?;
    let metrics = ctx.metrics.clone();
    let worker = EngineWorker::spawn(
        engine,
        BatchPolicy {
            max_batch: config.max_batch,
            window: Duration::from_millis(config.batch_window_ms),
            queue: config.max_batch * 2,
        },
        ctx.health.engine_step.clone(),
        move |batch| {
            metrics.batch(
                batch.jobs,
                batch.generated_tokens,
                batch.elapsed.as_secs_f64(),
            )
        },
    );
    Ok(Some(pipeline::Served { model_id, worker }))
}

/// Waits for the pipeline: until the stop signal (then at most [`GRACE`] for the jobs in hand),
/// or until it ends by itself, which is an error — a node without its pipeline must not sit
/// idle and look healthy.
async fn supervise(mut pipeline: JoinHandle<Result<()>>, stop: &Stop) -> Result<()> {
    let ended = tokio::select! {
        _ = stop.stopped() => None,
        ended = &mut pipeline => Some(ended),
    };
    let ended = match ended {
        Some(ended) if !stop.is_stopped() => {
            return match ended {
                Ok(Ok(())) => Err(anyhow!("the pipeline ended while the node was running")),
                Ok(Err(error)) => Err(error.context("the pipeline failed")),
                Err(join) => Err(anyhow!("the pipeline died: {join}")),
            };
        }
        Some(ended) => ended,
        None => match tokio::time::timeout(GRACE, pipeline).await {
            Ok(ended) => ended,
            Err(_) => {
                warn!("jobs still running after {GRACE:?}; the journal resumes them");
                return Ok(());
            }
        },
    };
    match ended {
        Ok(result) => result,
        Err(join) => Err(anyhow!("the pipeline died: {join}")),
    }
}
