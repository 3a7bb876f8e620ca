//! `oracle-node register`: stake and register the node with the oracle contract, naming its
//! attestation key and the model it serves. Idempotent: an account already registered with this
//! node's attestation key and model is reported as such and nothing is sent; one registered
//! with another key or for other models is an error that says which.

use crate::chain::ONE_NEAR;
use crate::config::NodeConfig;
use crate::daemon::{check_keys_apart, connect, read_attestation_key};
use crate::startup::{check_model, check_registration};
use anyhow::{bail, Result};
use kernels::model_cache::{resolve_model, sha256_file};
use oracle_protocol::NodeView;
use oracle_protocol::{Digest32, ModelId};
use sdk::rpc::TxStatus;
use std::path::Path;

/// What `register` did.
#[derive(Debug)]
pub enum Registered {
    /// The node was registered now (transaction hash), serving `model_id`.
    Now { tx_hash: String, model_id: ModelId },
    /// The account was registered before, with this node's key and model; nothing was sent.
    Already(NodeView),
}

/// The model the config serves, by id (SHA-256 of the file; fetched first if it is the default
/// model and missing).
pub fn served_model(home: &Path, config: &NodeConfig) -> Result<ModelId> {
    let explicit = config
        .model
        .as_ref()
        .map(|p| NodeConfig::path_in(home, p))
        .transpose()?;
    let path = resolve_model(explicit.as_deref())?;
    Ok(Digest32(sha256_file(&path, true)?))
}

/// Registers the node with a deposit of `stake_near` NEAR (the entry's storage is paid from it;
/// the rest is the stake, which must reach the contract's `min_stake`).
pub async fn register(home: &Path, config: &NodeConfig, stake_near: u128) -> Result<Registered> {
    let chain = connect(home, config)?;
    let key = read_attestation_key(home, config)?;
    check_keys_apart(&key, &chain, config)?;
    if let Some(node) = chain.get_node(&config.account_id).await? {
        // Registered before: fine only if the entry is the one this node would register.
        check_registration(
            Some(&node),
            &config.account_id,
            &config.oracle_contract,
            &key.public_key(),
        )?;
        check_model(&node, served_model(home, config)?)?;
        return Ok(Registered::Already(node));
    }
    let model_id = served_model(home, config)?;
    let Some(deposit) = stake_near.checked_mul(ONE_NEAR) else {
        bail!("--stake {stake_near} NEAR is too large");
    };
    let outcome = chain
        .register_node(&key.public_key().to_string(), &[model_id], deposit)
        .await?;
    match outcome.status {
        TxStatus::SuccessValue(_) => Ok(Registered::Now {
            tx_hash: outcome.tx_hash,
            model_id,
        }),
        TxStatus::Failure(error) => bail!("register_node failed: {error}"),
        other => bail!("register_node did not finish: {other:?}"),
    }
}
