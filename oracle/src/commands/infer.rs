//! `oracle-node infer`: what a local run of a prompt is bound to. With `--home`, the node's own
//! setup (its model, kernels, threads, oracle contract, and the chain id its RPC reports), so
//! the run gives the digest that node would attest; without, the defaults. Flags win over both.

use crate::config::NodeConfig;
use crate::daemon::retry_policy;
use anyhow::{Context, Result};
use sdk::rpc::NearRpc;
use std::path::PathBuf;

/// The chain id a run outside any node home is bound to by default.
pub const DEFAULT_CHAIN_ID: &str = "localnet";

/// What `infer` was asked, flags left out as `None`.
#[derive(Debug, Default)]
pub struct InferArgs {
    pub home: Option<PathBuf>,
    pub model: Option<PathBuf>,
    pub chain_id: Option<String>,
    pub oracle_contract: Option<String>,
    /// 0: every core.
    pub threads: Option<usize>,
}

/// How `infer` runs: the engine as `config` describes it (paths relative to `home`), bound to
/// `chain_id` and `config.oracle_contract`.
#[derive(Debug)]
pub struct InferSetup {
    pub home: PathBuf,
    pub config: NodeConfig,
    pub chain_id: String,
}

/// The setup `args` ask for.
pub async fn setup(args: InferArgs) -> Result<InferSetup> {
    let (home, mut config) = match &args.home {
        Some(home) => (home.clone(), NodeConfig::load(home)?),
        None => (PathBuf::from("."), NodeConfig::new("infer.local".into())),
    };
    if let Some(model) = &args.model {
        // Relative to where the command runs, not to the node home.
        config.model = Some(std::path::absolute(model).context("resolving --model")?);
    }
    if let Some(contract) = args.oracle_contract {
        config.oracle_contract = contract;
    }
    if let Some(threads) = args.threads {
        config.threads = threads;
    }
    let chain_id = match (args.chain_id, &args.home) {
        (Some(chain_id), _) => chain_id,
        (None, Some(_)) => chain_id_of(&config).await?,
        (None, None) => DEFAULT_CHAIN_ID.to_string(),
    };
    Ok(InferSetup {
        home,
        config,
        chain_id,
    })
}

/// The chain id the node's RPC endpoints report.
async fn chain_id_of(config: &NodeConfig) -> Result<String> {
    let rpc = NearRpc::new(config.rpc_urls.clone(), retry_policy(config))?;
    let status = rpc
        .status()
        .await
        .context("asking the node's RPC for its chain id (or pass --chain-id)")?;
    Ok(status.chain_id)
}
