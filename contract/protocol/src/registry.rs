//! What the oracle's registry views return to clients — `get_config`, `get_info`, `get_model`/
//! `list_models`, `get_node`/`list_nodes` — in the contract's JSON shapes (amounts as decimal
//! strings, keys as `ed25519:<base58>`).

use crate::ids::ModelId;
use crate::json_numbers::u128_string;
use serde::{Deserialize, Serialize};

/// The oracle's settings (`get_config`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleConfig {
    pub committee_size: u32,
    pub quorum: u32,
    #[serde(with = "u128_string")]
    pub min_stake: u128,
    pub unbonding_blocks: u64,
    pub slash_bps: u32,
    pub reporter_bps: u32,
    pub max_output_bytes: u32,
    pub max_inline_output_bytes: u32,
    pub retention_blocks: u64,
}

/// Counters and balances of the oracle (`get_info`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleInfo {
    pub owner: String,
    pub state_version: u32,
    pub next_request_id: u64,
    pub pending_requests: u32,
    pub nodes: u32,
    pub models: u32,
    /// Slashed stake held for the owner (yoctoNEAR).
    #[serde(with = "u128_string")]
    pub treasury: u128,
}

/// A registered model (`get_model`, `list_models`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelView {
    pub model_id: ModelId,
    pub name: String,
    /// The determinism spec nodes run it under, e.g. `detspec-1`.
    pub spec_version: String,
    pub max_input_bytes: u32,
    pub max_output_tokens: u32,
    /// Fee per request, yoctoNEAR.
    #[serde(with = "u128_string")]
    pub price: u128,
}

/// Whether a node may be chosen for new committees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    Active,
    /// Left; its stake can be withdrawn from block `unlocks_at`.
    Unbonding {
        unlocks_at: u64,
    },
}

/// A registered node (`get_node`, `list_nodes`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    pub account_id: String,
    /// The ed25519 key its attestations are signed with, `ed25519:<base58>`.
    pub attestation_key: String,
    pub models: Vec<ModelId>,
    #[serde(with = "u128_string")]
    pub stake: u128,
    pub status: NodeStatus,
    pub registered_at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_the_contracts() {
        let node: NodeView = serde_json::from_str(
            r#"{"account_id":"node0.test","attestation_key":"ed25519:11111111111111111111111111111111",
            "models":["0101010101010101010101010101010101010101010101010101010101010101"],
            "stake":"5000","status":{"unbonding":{"unlocks_at":9}},"registered_at":3}"#,
        )
        .unwrap();
        assert_eq!(node.stake, 5000);
        assert_eq!(node.status, NodeStatus::Unbonding { unlocks_at: 9 });
        assert_eq!(serde_json::to_value(NodeStatus::Active).unwrap(), "active");
        let config: OracleConfig = serde_json::from_str(
            r#"{"committee_size":3,"quorum":2,"min_stake":"5","unbonding_blocks":1000,"slash_bps":1000,
            "reporter_bps":5000,"max_output_bytes":4096,"max_inline_output_bytes":1024,"retention_blocks":100}"#,
        )
        .unwrap();
        assert_eq!((config.quorum, config.min_stake), (2, 5));
    }
}
