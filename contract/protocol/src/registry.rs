//! What the oracle's registry views return to clients — `get_config`, `get_info`, `get_model`/
//! `list_models`, `get_node`/`list_nodes` — in the contract's JSON shapes (amounts as decimal
//! strings, keys as `ed25519:<base58>`). The contract returns exactly these types, so the
//! clients' reading and the contract's writing cannot drift apart. The settings and a node's
//! status are also part of the contract's state, hence their borsh form.

use crate::ids::ModelId;
use crate::json_numbers::u128_string;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The oracle's settings (`new`, `update_config`, `get_config`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
pub struct OracleConfig {
    /// Nodes chosen per request (n).
    pub committee_size: u32,
    /// Matching attestations that resolve a request (k); more than half of n.
    pub quorum: u32,
    /// Least stake (yoctoNEAR) a node must hold to be chosen.
    #[serde(with = "u128_string")]
    pub min_stake: u128,
    /// Blocks between `unregister_node` and `withdraw_stake`; longer than a request can stay
    /// open or slashable, so a node cannot escape its slashing (at most 2 000 000).
    pub unbonding_blocks: u64,
    /// Part of its stake a node loses per offence, in basis points.
    pub slash_bps: u32,
    /// Reward of whoever reported equivocation, in basis points of the slashed `slash_bps`
    /// share; taken from the equivocating node on top of that share.
    pub reporter_bps: u32,
    /// Longest output a node may submit, in bytes.
    pub max_output_bytes: u32,
    /// Longest output prefix stored and returned inline, in bytes.
    pub max_inline_output_bytes: u32,
    /// Blocks a finished request stays (late attestations can still be slashed) before anyone
    /// may clean it up, counted from when its outcome reached the requester's callback, with
    /// the value of that moment (at most 1 000 000).
    pub retention_blocks: u64,
    /// Blocks from a request's creation after which its reveal phase opens even if some
    /// committee members never committed (it opens sooner once every member has). Commitments
    /// are taken until then, attestations from then on. 1 to 150: a request's 200 blocks less
    /// at least 50 left to reveal. Default (absent from JSON): 40.
    #[serde(default = "default_commit_window_blocks")]
    pub commit_window_blocks: u64,
    /// Requests in a row a committee member may let pass without committing (or, on a timeout,
    /// revealing) before it is jailed: taken off committees until it calls `unjail_node`,
    /// `jail_blocks` later at the earliest. 1 to 1000. Default (absent from JSON): 10.
    #[serde(default = "default_max_missed_commits")]
    pub max_missed_commits: u32,
    /// Blocks a jailed node waits before it may call `unjail_node` (at most 1 000 000).
    /// Default (absent from JSON): 1000.
    #[serde(default = "default_jail_blocks")]
    pub jail_blocks: u64,
}

/// `commit_window_blocks` when a config's JSON leaves it out.
pub const DEFAULT_COMMIT_WINDOW_BLOCKS: u64 = 40;

fn default_commit_window_blocks() -> u64 {
    DEFAULT_COMMIT_WINDOW_BLOCKS
}

/// `max_missed_commits` when a config's JSON leaves it out.
pub const DEFAULT_MAX_MISSED_COMMITS: u32 = 10;

fn default_max_missed_commits() -> u32 {
    DEFAULT_MAX_MISSED_COMMITS
}

/// `jail_blocks` when a config's JSON leaves it out.
pub const DEFAULT_JAIL_BLOCKS: u64 = 1000;

fn default_jail_blocks() -> u64 {
    DEFAULT_JAIL_BLOCKS
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
    /// Fee per byte of input on top of `price`, yoctoNEAR (0 when absent).
    #[serde(with = "u128_string", default)]
    pub price_per_input_byte: u128,
    /// Fee per token of the request's `max_tokens` on top of `price`, yoctoNEAR (0 when
    /// absent).
    #[serde(with = "u128_string", default)]
    pub price_per_output_token: u128,
}

/// Whether a node may be chosen for new committees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    Active,
    /// Left; its stake can be withdrawn from block `unlocks_at`.
    Unbonding {
        unlocks_at: u64,
    },
    /// Taken off committees: it let `max_missed_commits` requests in a row pass without
    /// committing, or slashing took its stake below the minimum. From block `until`, with at
    /// least the minimum stake, it may call `unjail_node` to serve again.
    Jailed {
        until: u64,
    },
}

impl core::fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NodeStatus::Active => f.write_str("active"),
            NodeStatus::Unbonding { unlocks_at } => {
                write!(f, "unbonding (stake unlocks at block {unlocks_at})")
            }
            NodeStatus::Jailed { until } => {
                write!(f, "jailed (may call unjail_node from block {until})")
            }
        }
    }
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
    /// Requests in a row it was on the committee of and let pass without committing or, on a
    /// timeout, revealing (reset by a reveal or by `unjail_node`).
    #[serde(default)]
    pub missed_commits: u32,
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
        assert_eq!(
            node.missed_commits, 0,
            "absent from an older contract's answer"
        );
        assert_eq!(
            serde_json::to_value(NodeStatus::Jailed { until: 7 }).unwrap(),
            serde_json::json!({"jailed": {"until": 7}})
        );
        assert_eq!(serde_json::to_value(NodeStatus::Active).unwrap(), "active");
        let config: OracleConfig = serde_json::from_str(
            r#"{"committee_size":3,"quorum":2,"min_stake":"5","unbonding_blocks":1000,"slash_bps":1000,
            "reporter_bps":5000,"max_output_bytes":4096,"max_inline_output_bytes":1024,"retention_blocks":100}"#,
        )
        .unwrap();
        assert_eq!((config.quorum, config.min_stake), (2, 5));
        assert_eq!(
            config.commit_window_blocks, DEFAULT_COMMIT_WINDOW_BLOCKS,
            "a config without commit_window_blocks gets the default"
        );
        assert_eq!(
            (config.max_missed_commits, config.jail_blocks),
            (DEFAULT_MAX_MISSED_COMMITS, DEFAULT_JAIL_BLOCKS)
        );
    }

    #[test]
    fn state_layout_is_pinned() {
        // The contract stores these; their borsh bytes must never change under it.
        assert_eq!(borsh::to_vec(&NodeStatus::Active).unwrap(), [0]);
        assert_eq!(
            borsh::to_vec(&NodeStatus::Unbonding { unlocks_at: 9 }).unwrap(),
            [1, 9, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            borsh::to_vec(&NodeStatus::Jailed { until: 9 }).unwrap(),
            [2, 9, 0, 0, 0, 0, 0, 0, 0]
        );
        let config = OracleConfig {
            committee_size: 3,
            quorum: 2,
            min_stake: 5,
            unbonding_blocks: 1000,
            slash_bps: 1000,
            reporter_bps: 5000,
            max_output_bytes: 4096,
            max_inline_output_bytes: 1024,
            retention_blocks: 100,
            commit_window_blocks: 40,
            max_missed_commits: 10,
            jail_blocks: 1000,
        };
        let bytes = borsh::to_vec(&config).unwrap();
        assert_eq!(bytes.len(), 4 + 4 + 16 + 8 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8);
        assert_eq!(&bytes[56..64], &40u64.to_le_bytes());
        assert_eq!(&bytes[64..68], &10u32.to_le_bytes());
        assert_eq!(&bytes[68..76], &1000u64.to_le_bytes());
        assert_eq!(&bytes[8..24], &5u128.to_le_bytes());
        assert_eq!(borsh::from_slice::<OracleConfig>(&bytes).unwrap(), config);
    }
}
