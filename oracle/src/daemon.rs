//! Starting and stopping the node: keys, chain client, engine, journal, HTTP server and the
//! pipeline; graceful shutdown on SIGTERM or Ctrl-C (stop accepting, let the jobs in hand
//! finish their journal writes).

use crate::attestation::Deployment;
use crate::chain::OracleChain;
use crate::config::NodeConfig;
use crate::journal::Journal;
use crate::metrics::{Health, Metrics};
use crate::pipeline::{self, Context, Stop};
use crate::worker::{BatchPolicy, EngineWorker};
use crate::{engine, http};
use anyhow::{bail, Context as _, Result};
use sdk::keys::Credentials;
use sdk::rpc::{NearRpc, RetryPolicy};
use sdk::signer::Signer;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// File in the node's home where `run` writes the HTTP server's bound address.
pub const HTTP_ADDR_FILE: &str = "http.addr";
/// How long a stopping node waits for the jobs in hand.
const GRACE: Duration = Duration::from_secs(30);

/// The chain client the config describes: the account's signer over the RPC endpoints.
pub fn connect(home: &Path, config: &NodeConfig) -> Result<OracleChain> {
    let policy = RetryPolicy {
        attempts: config.rpc_attempts,
        request_timeout: Duration::from_secs(config.rpc_timeout_secs),
        ..RetryPolicy::default()
    };
    let rpc = NearRpc::new(config.rpc_urls.clone(), policy)?;
    let key_path = NodeConfig::path_in(home, &config.account_key);
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

fn announce_faults(config: &NodeConfig) {
    let faults = &config.fault_injection;
    if faults.is_off() {
        return;
    }
    for _ in 0..3 {
        warn!("!!! FAULT INJECTION IS ON — this node misbehaves on purpose: {faults:?} !!!");
    }
}

/// Runs the node in `home` until SIGTERM or Ctrl-C.
pub async fn run(home: &Path, config: NodeConfig) -> Result<()> {
    announce_faults(&config);
    let chain = connect(home, &config)?;
    let (_, attestation_key) =
        Credentials::read(&NodeConfig::path_in(home, &config.attestation_key))?;
    let stop = Stop::default();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            stop_signal().await;
            info!("stopping: no new jobs; finishing the ones in hand");
            stop.stop();
        }
    });
    let chain_id = loop {
        match chain.status().await {
            Ok(status) => break status.chain_id,
            Err(error) => {
                warn!(%error, "waiting for the chain");
                if !stop.sleep(Duration::from_secs(1)).await {
                    return Ok(());
                }
            }
        }
    };
    let (engine, model_id) = {
        let (home, config) = (home.to_path_buf(), config.clone());
        tokio::task::spawn_blocking(move || engine::load(&home, &config)).await??
    };
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::default());
    let worker = {
        let metrics = metrics.clone();
        EngineWorker::spawn(
            engine,
            BatchPolicy {
                max_batch: config.max_batch,
                window: Duration::from_millis(config.batch_window_ms),
                queue: config.max_batch * 2,
            },
            move |batch| {
                metrics.batch(
                    batch.jobs,
                    batch.generated_tokens,
                    batch.elapsed.as_secs_f64(),
                )
            },
        )
    };
    let journal_path = NodeConfig::path_in(home, &config.journal);
    let journal = Arc::new(
        Journal::open(&journal_path)
            .with_context(|| format!("opening the journal {}", journal_path.display()))?,
    );
    let shared = http::Shared {
        account_id: config.account_id.clone(),
        journal: journal.clone(),
        metrics: metrics.clone(),
        health: health.clone(),
    };
    let (addr, server) = http::bind(&config.http_addr, shared, {
        let stop = stop.clone();
        async move { stop.stopped().await }
    })
    .await
    .with_context(|| format!("binding the HTTP server to {}", config.http_addr))?;
    std::fs::write(home.join(HTTP_ADDR_FILE), addr.to_string())?;
    let server = tokio::spawn(server);
    info!(
        account = %config.account_id,
        contract = %config.oracle_contract,
        %chain_id,
        model = %model_id,
        http = %addr,
        "node running"
    );
    let deployment = Deployment {
        chain_id,
        oracle_contract: config.oracle_contract.clone(),
        node: config.account_id.clone(),
    };
    let ctx = Arc::new(Context::new(
        config,
        chain,
        journal,
        attestation_key,
        deployment,
        model_id,
        worker,
        metrics,
        health,
        stop.clone(),
    ));
    let pipeline = tokio::spawn(pipeline::run(ctx));
    stop.stopped().await;
    match tokio::time::timeout(GRACE, pipeline).await {
        Ok(result) => result??,
        Err(_) => warn!("jobs still running after {GRACE:?}; the journal resumes them"),
    }
    let _ = server.await;
    info!("stopped");
    Ok(())
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
