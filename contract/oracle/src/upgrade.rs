//! Upgrades. The state starts with a `version: u32`; `upgrade` deploys new code and calls its
//! `migrate`, which reads that version first and converts the old layout. To change the layout:
//! copy today's struct here as `OracleContractV<n>`, bump `STATE_VERSION`, and add an `<n> =>`
//! arm that reads it and builds the new state.
//!
//! Version 2 added commit–reveal: `commit_window_blocks` in the settings (a version 1 state
//! gets the default) and the `commit_phases` map. Requests are stored apart and keep their
//! layout. A request made before the upgrade has no stored commit phase, and that marks it: it
//! finishes under version 1's rules, its attestations taken without commitments
//! (`commitments.rs`), so nothing is written for it and no storage goes unpaid.
//!
//! Version 3 added liveness: `max_missed_commits` and `jail_blocks` in the settings (a version
//! 1 or 2 state gets the defaults) and the `missed_commits` map, empty after the upgrade: a
//! node registered before pays its entry from its stake when its first miss is counted
//! (`liveness.rs`); and the `model_pricing` map, empty: models registered before charge their
//! flat price only, until the owner registers them again with fees by size; and the
//! `held_fees` map, empty: requests made before pay their whole fee to their quorum, or refund
//! it whole when they time out, as then (`held_fees.rs`).
//!
//! Version 4 added the `unlock_floor` (`nodes.rs`): holding nobody after the upgrade, as changes of
//! `retention_blocks` made before it were not recorded (unless the migration raises the
//! retention itself, which sets it as `update_config` would).

use crate::commitments::CommitPhase;
use crate::config::{MIN_COMMIT_WINDOW_BLOCKS, MIN_JAIL_BLOCKS, MIN_RETENTION_BLOCKS};
use crate::events::Event;
use crate::liveness::LivenessRecord;
use crate::models::{ModelInfo, SizePricing};
use crate::nodes::Node;
use crate::requests::Request;
use crate::{OracleContract, OracleContractExt, StorageKey};
use near_sdk::serde_json::json;
use near_sdk::store::{IterableMap, IterableSet, LookupMap};
use near_sdk::{env, near, AccountId, Gas, NearToken, Promise};
use oracle_protocol::{
    ModelId, OracleConfig, DEFAULT_COMMIT_WINDOW_BLOCKS, DEFAULT_JAIL_BLOCKS,
    DEFAULT_MAX_MISSED_COMMITS,
};

/// Layout version of the state this code reads and writes.
pub const STATE_VERSION: u32 = 4;
/// Gas for `migrate` after the new code is deployed.
const MIGRATE_GAS: Gas = Gas::from_tgas(50);
/// Where near-sdk keeps the contract's state.
const STATE_KEY: &[u8] = b"STATE";

#[near]
impl OracleContract {
    /// Deploys the wasm passed as the raw call arguments (not JSON) and calls its `migrate`.
    /// Owner only.
    pub fn upgrade(&self) -> Promise {
        self.require_owner("upgrade the contract");
        let code = env::input().unwrap_or_default();
        near_sdk::require!(
            !code.is_empty(),
            "pass the new wasm as the call's arguments"
        );
        Promise::new(env::current_account_id())
            .deploy_contract(code)
            .function_call(
                "migrate",
                Vec::new(),
                NearToken::from_yoctonear(0),
                MIGRATE_GAS,
            )
    }

    /// Converts the stored state to this code's layout. Only the contract itself may call it
    /// (as `upgrade` does, right after deploying).
    #[private]
    #[init(ignore_state)]
    pub fn migrate() -> Self {
        let raw = env::storage_read(STATE_KEY)
            .unwrap_or_else(|| env::panic_str("there is no state to migrate"));
        let version = raw
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or_else(|| env::panic_str("the state is too short to hold a version"));
        let mut state: Self = match version {
            1 => near_sdk::borsh::from_slice::<OracleContractV1>(&raw)
                .unwrap_or_else(|_| env::panic_str("the state does not match layout version 1"))
                .into_version_2()
                .into_version_3()
                .into_current(),
            2 => near_sdk::borsh::from_slice::<OracleContractV2>(&raw)
                .unwrap_or_else(|_| env::panic_str("the state does not match layout version 2"))
                .into_version_3()
                .into_current(),
            3 => near_sdk::borsh::from_slice::<OracleContractV3>(&raw)
                .unwrap_or_else(|_| env::panic_str("the state does not match layout version 3"))
                .into_current(),
            STATE_VERSION => near_sdk::borsh::from_slice(&raw)
                .unwrap_or_else(|_| env::panic_str("the state does not match layout version 4")),
            other => env::panic_str(&format!(
                "state version {other} is unknown to this code (it reads {STATE_VERSION})"
            )),
        };
        let retention_before = state.config.retention_blocks;
        let raised = raise_to_todays_minimums(&mut state.config);
        state.note_retention_change(retention_before, state.config.retention_blocks);
        crate::config::validate(&state.config).unwrap_or_else(|e| {
            env::panic_str(&format!(
                "the migrated settings are not valid under this code: {e}; correct them with \
                 update_config under the old code first"
            ))
        });
        Event::StateMigrated
            .emit(json!({ "from": version, "to": STATE_VERSION, "raised": raised }));
        state
    }
}

/// Raises the settings older code allowed to this code's minimums — a `retention_blocks` under
/// [`MIN_RETENTION_BLOCKS`] (a cleanup that slashes members still within their reveal time), a
/// `commit_window_blocks` under [`MIN_COMMIT_WINDOW_BLOCKS`] (every request would time out), a
/// `jail_blocks` under [`MIN_JAIL_BLOCKS`] (a jailing that ends as it starts) — and
/// `unbonding_blocks` past the slashable window they make; returns the names raised.
fn raise_to_todays_minimums(config: &mut OracleConfig) -> Vec<&'static str> {
    let mut raised = Vec::new();
    if config.retention_blocks < MIN_RETENTION_BLOCKS {
        config.retention_blocks = MIN_RETENTION_BLOCKS;
        raised.push("retention_blocks");
    }
    if config.commit_window_blocks < MIN_COMMIT_WINDOW_BLOCKS {
        config.commit_window_blocks = MIN_COMMIT_WINDOW_BLOCKS;
        raised.push("commit_window_blocks");
    }
    if config.jail_blocks < MIN_JAIL_BLOCKS {
        config.jail_blocks = MIN_JAIL_BLOCKS;
        raised.push("jail_blocks");
    }
    let slashable_window = crate::config::slashable_window(config.retention_blocks);
    if config.unbonding_blocks <= slashable_window {
        config.unbonding_blocks = slashable_window + 1;
        raised.push("unbonding_blocks");
    }
    raised
}

/// The settings of layout version 1: version 2's without `commit_window_blocks`.
#[near(serializers = [borsh])]
struct ConfigV1 {
    committee_size: u32,
    quorum: u32,
    min_stake: u128,
    unbonding_blocks: u64,
    slash_bps: u32,
    reporter_bps: u32,
    max_output_bytes: u32,
    max_inline_output_bytes: u32,
    retention_blocks: u64,
}

/// The state of layout version 1: version 2's without `commit_phases`.
#[near(serializers = [borsh])]
struct OracleContractV1 {
    version: u32,
    owner: AccountId,
    config: ConfigV1,
    models: IterableMap<ModelId, ModelInfo>,
    nodes: IterableMap<AccountId, Node>,
    active_nodes: LookupMap<ModelId, Vec<AccountId>>,
    attestation_keys: LookupMap<[u8; 32], AccountId>,
    requests: LookupMap<u64, Request>,
    inputs: LookupMap<u64, String>,
    pending: IterableSet<u64>,
    next_request_id: u64,
    treasury: u128,
}

impl OracleContractV1 {
    fn into_version_2(self) -> OracleContractV2 {
        let c = self.config;
        OracleContractV2 {
            version: 2,
            owner: self.owner,
            config: ConfigV2 {
                committee_size: c.committee_size,
                quorum: c.quorum,
                min_stake: c.min_stake,
                unbonding_blocks: c.unbonding_blocks,
                slash_bps: c.slash_bps,
                reporter_bps: c.reporter_bps,
                max_output_bytes: c.max_output_bytes,
                max_inline_output_bytes: c.max_inline_output_bytes,
                retention_blocks: c.retention_blocks,
                commit_window_blocks: DEFAULT_COMMIT_WINDOW_BLOCKS,
            },
            models: self.models,
            nodes: self.nodes,
            active_nodes: self.active_nodes,
            attestation_keys: self.attestation_keys,
            requests: self.requests,
            commit_phases: LookupMap::new(StorageKey::CommitPhases),
            inputs: self.inputs,
            pending: self.pending,
            next_request_id: self.next_request_id,
            treasury: self.treasury,
        }
    }
}

/// The settings of layout version 2: today's without `max_missed_commits` and `jail_blocks`.
#[near(serializers = [borsh])]
struct ConfigV2 {
    committee_size: u32,
    quorum: u32,
    min_stake: u128,
    unbonding_blocks: u64,
    slash_bps: u32,
    reporter_bps: u32,
    max_output_bytes: u32,
    max_inline_output_bytes: u32,
    retention_blocks: u64,
    commit_window_blocks: u64,
}

/// The state of layout version 2: version 3's without `missed_commits`, `model_pricing` and
/// `held_fees`.
#[near(serializers = [borsh])]
struct OracleContractV2 {
    version: u32,
    owner: AccountId,
    config: ConfigV2,
    models: IterableMap<ModelId, ModelInfo>,
    nodes: IterableMap<AccountId, Node>,
    active_nodes: LookupMap<ModelId, Vec<AccountId>>,
    attestation_keys: LookupMap<[u8; 32], AccountId>,
    requests: LookupMap<u64, Request>,
    commit_phases: LookupMap<u64, CommitPhase>,
    inputs: LookupMap<u64, String>,
    pending: IterableSet<u64>,
    next_request_id: u64,
    treasury: u128,
}

impl OracleContractV2 {
    fn into_version_3(self) -> OracleContractV3 {
        let c = self.config;
        OracleContractV3 {
            version: 3,
            owner: self.owner,
            config: OracleConfig {
                committee_size: c.committee_size,
                quorum: c.quorum,
                min_stake: c.min_stake,
                unbonding_blocks: c.unbonding_blocks,
                slash_bps: c.slash_bps,
                reporter_bps: c.reporter_bps,
                max_output_bytes: c.max_output_bytes,
                max_inline_output_bytes: c.max_inline_output_bytes,
                retention_blocks: c.retention_blocks,
                commit_window_blocks: c.commit_window_blocks,
                max_missed_commits: DEFAULT_MAX_MISSED_COMMITS,
                jail_blocks: DEFAULT_JAIL_BLOCKS,
            },
            models: self.models,
            nodes: self.nodes,
            active_nodes: self.active_nodes,
            attestation_keys: self.attestation_keys,
            requests: self.requests,
            commit_phases: self.commit_phases,
            inputs: self.inputs,
            pending: self.pending,
            missed_commits: LookupMap::new(StorageKey::MissedCommits),
            model_pricing: LookupMap::new(StorageKey::ModelPricing),
            held_fees: LookupMap::new(StorageKey::HeldFees),
            next_request_id: self.next_request_id,
            treasury: self.treasury,
        }
    }
}

/// The state of layout version 3: today's without `unlock_floor`.
#[near(serializers = [borsh])]
struct OracleContractV3 {
    version: u32,
    owner: AccountId,
    config: OracleConfig,
    models: IterableMap<ModelId, ModelInfo>,
    nodes: IterableMap<AccountId, Node>,
    active_nodes: LookupMap<ModelId, Vec<AccountId>>,
    attestation_keys: LookupMap<[u8; 32], AccountId>,
    requests: LookupMap<u64, Request>,
    commit_phases: LookupMap<u64, CommitPhase>,
    inputs: LookupMap<u64, String>,
    pending: IterableSet<u64>,
    missed_commits: LookupMap<AccountId, LivenessRecord>,
    model_pricing: LookupMap<ModelId, SizePricing>,
    held_fees: LookupMap<u64, u128>,
    next_request_id: u64,
    treasury: u128,
}

impl OracleContractV3 {
    fn into_current(self) -> OracleContract {
        OracleContract {
            version: STATE_VERSION,
            owner: self.owner,
            config: self.config,
            models: self.models,
            nodes: self.nodes,
            active_nodes: self.active_nodes,
            attestation_keys: self.attestation_keys,
            requests: self.requests,
            commit_phases: self.commit_phases,
            inputs: self.inputs,
            pending: self.pending,
            missed_commits: self.missed_commits,
            model_pricing: self.model_pricing,
            held_fees: self.held_fees,
            next_request_id: self.next_request_id,
            treasury: self.treasury,
            unlock_floor: crate::nodes::UnlockFloor::default(),
        }
    }
}
