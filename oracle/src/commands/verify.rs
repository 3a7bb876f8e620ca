//! `oracle-node verify <request id>`: re-execute a resolved request with the local engine,
//! exactly as a node does, and compare with what the quorum agreed on.

use crate::config::NodeConfig;
use crate::daemon::retry_policy;
use crate::engine;
use anyhow::{bail, Result};
use oracle_protocol::Digest32;
use oracle_protocol::RequestView;
use sdk::inference::{engine_request, RequestKey};
use sdk::rpc::NearRpc;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The comparison.
#[derive(Debug)]
pub struct Verification {
    pub request_id: u64,
    pub on_chain_digest: Digest32,
    pub local_digest: Digest32,
    pub on_chain_output: String,
    pub local_output: String,
    /// Whether the output's hash matches too (always compared: the chain keeps the full hash).
    pub output_hash_matches: bool,
}

impl Verification {
    pub fn matches(&self) -> bool {
        self.on_chain_digest == self.local_digest && self.output_hash_matches
    }
}

pub async fn verify(home: &Path, config: &NodeConfig, request_id: u64) -> Result<Verification> {
    let rpc = NearRpc::new(config.rpc_urls.clone(), retry_policy(config))?;
    let chain_id = rpc.status().await?.chain_id;
    let view: Option<RequestView> = rpc
        .view_json(
            &config.oracle_contract,
            "get_request",
            &json!({"request_id": request_id}),
        )
        .await?;
    let Some(view) = view else {
        bail!(
            "request {request_id} does not exist on {}",
            config.oracle_contract
        );
    };
    if view.request_id != request_id {
        bail!(
            "asked for request {request_id}, the RPC endpoint returned request {}: the endpoint \
             is wrong; try another",
            view.request_id
        );
    }
    let Some(answer) = view.answer.clone() else {
        bail!(
            "request {request_id} is {}; only resolved requests can be verified",
            view.status
        );
    };
    let (engine, model_id) = {
        let (home, config) = (home.to_path_buf(), config.clone());
        tokio::task::spawn_blocking(move || engine::load(&home, &config)).await??
    };
    if model_id != view.model_id {
        bail!(
            "request {request_id} used model {}, but the local model is {model_id}",
            view.model_id
        );
    }
    let key = RequestKey {
        chain_id: &chain_id,
        oracle_contract: &config.oracle_contract,
        request_id,
    };
    let request = engine_request(&key, &view.input, &view.params)?;
    let generation = tokio::task::spawn_blocking(move || engine.generate(&request)).await??;
    let output_hash = Digest32(Sha256::digest(generation.text.as_bytes()).into());
    Ok(Verification {
        request_id,
        on_chain_digest: answer.result_digest,
        local_digest: Digest32(generation.digest),
        on_chain_output: answer.output,
        local_output: generation.text,
        output_hash_matches: output_hash == answer.output_hash,
    })
}
