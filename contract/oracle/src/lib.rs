//! oracle-contract: the on-chain half of the AI oracle, a near-sdk contract built to wasm32 and
//! run on the real NEAR runtime (protocol 88 feature set) or on our wasm-host.
//!
//! A dApp calls `request`; the contract picks a committee of staked nodes from the block's random
//! seed and yields. Committee nodes first commit to their signed attestations (a hash), then,
//! once every member has committed or the commit window has passed, reveal them; when a quorum
//! agrees on a result,
//! the yield is resumed with the request id, the dApp's callback receives the answer, each
//! agreeing node is paid a seat's share of the fee (late agreeing members too; the rest goes
//! back at cleanup) and disagreeing members are slashed. Without a quorum the
//! yield times out and the fee goes back to the request's refund account (less the shares of the
//! largest group of equal reveals).
//! Members that keep letting requests pass without committing (or, on a timeout, revealing) are
//! jailed (off committees until they ask to serve again).
//!
//! It must never depend on the inference engine, the node, an async runtime, or floating point
//! arithmetic: every value that decides consensus is an integer or bytes.

mod active_nodes;
mod admin;
mod attestations;
mod commitments;
mod committee;
mod config;
mod events;
mod fees;
mod finish;
mod held_fees;
mod liveness;
mod log_budget;
mod models;
mod nodes;
mod quorum;
mod requests;
mod slashing;
mod storage;
mod upgrade;
mod views;

use near_sdk::store::{IterableMap, IterableSet, LookupMap};
use near_sdk::{env, near, AccountId, BorshStorageKey, PanicOnDefault};
use oracle_protocol::ModelId;

pub use config::Config;
pub use models::{ModelInfo, ModelRegistration};
pub use nodes::Node;
pub use requests::Request;

#[near(contract_state)]
#[derive(PanicOnDefault)]
pub struct OracleContract {
    /// Layout version of this state; it leads the borsh bytes so `migrate` can read it first.
    version: u32,
    owner: AccountId,
    config: Config,
    models: IterableMap<ModelId, ModelInfo>,
    nodes: IterableMap<AccountId, Node>,
    /// The active nodes of each model, in registration order (committee selection reads these).
    active_nodes: LookupMap<ModelId, Vec<AccountId>>,
    /// Which node each attestation key belongs to: a key serves one node at a time.
    attestation_keys: LookupMap<[u8; 32], AccountId>,
    requests: LookupMap<u64, Request>,
    /// Each request's commit phase (apart from the request, whose layout predates it).
    commit_phases: LookupMap<u64, commitments::CommitPhase>,
    /// Request inputs, apart from the request so attestations do not load them.
    inputs: LookupMap<u64, String>,
    /// Ids of requests still waiting for a quorum.
    pending: IterableSet<u64>,
    /// Each node's requests in a row let pass without committing or, on a timeout, revealing
    /// (`liveness.rs`).
    missed_commits: LookupMap<AccountId, liveness::LivenessRecord>,
    /// Each model's fees by size, when it has any (apart from the model, whose layout predates
    /// them).
    model_pricing: LookupMap<ModelId, models::SizePricing>,
    /// What each resolved request still holds of its fee for late agreeing members
    /// (`held_fees.rs`).
    held_fees: LookupMap<u64, u128>,
    next_request_id: u64,
    /// The `slash_bps` share of every slash (reporters' rewards are taken from the node on
    /// top), withdrawable by the owner (yoctoNEAR).
    treasury: u128,
    /// What changes of `retention_blocks` hold unbonding stakes to: when every request made
    /// until then can be cleaned up, with room for that cleanup (`nodes.rs`,
    /// [`nodes::unlock_floor_after_retention_change`]).
    unlock_floor: nodes::UnlockFloor,
}

#[near]
impl OracleContract {
    #[init]
    pub fn new(owner: AccountId, config: Config) -> Self {
        config::validate(&config).unwrap_or_else(|e| env::panic_str(&e));
        Self {
            version: upgrade::STATE_VERSION,
            owner,
            config,
            models: IterableMap::new(StorageKey::Models),
            nodes: IterableMap::new(StorageKey::Nodes),
            active_nodes: LookupMap::new(StorageKey::ActiveNodes),
            attestation_keys: LookupMap::new(StorageKey::AttestationKeys),
            requests: LookupMap::new(StorageKey::Requests),
            commit_phases: LookupMap::new(StorageKey::CommitPhases),
            inputs: LookupMap::new(StorageKey::Inputs),
            pending: IterableSet::new(StorageKey::Pending),
            missed_commits: LookupMap::new(StorageKey::MissedCommits),
            model_pricing: LookupMap::new(StorageKey::ModelPricing),
            held_fees: LookupMap::new(StorageKey::HeldFees),
            next_request_id: 0,
            treasury: 0,
            unlock_floor: nodes::UnlockFloor::default(),
        }
    }
}

#[derive(BorshStorageKey)]
#[near]
enum StorageKey {
    Models,
    Nodes,
    Requests,
    Inputs,
    Pending,
    AttestationKeys,
    ActiveNodes,
    CommitPhases,
    MissedCommits,
    ModelPricing,
    HeldFees,
}
