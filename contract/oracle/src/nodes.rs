//! The node registry: operators stake to serve models, name the ed25519 key their attestations
//! are signed with, and get their stake back only after an unbonding delay. (Jailing and
//! `unjail_node`: `liveness.rs`.)
//!
//! When a stake unlocks. A node that unregisters at block U stays on the committees of the
//! requests made up to U, and a resolved one among them slashes it at its cleanup if it
//! committed and never revealed (`slashing.rs`, 3). So it may withdraw only once each of those
//! requests can be cleaned up and the cleanup has had `CLEANUP_MARGIN_BLOCKS` to land. Such a
//! request has finished by U + `YIELD_TIMEOUT_BLOCKS` (`config.rs`) and becomes cleanable the
//! `retention_blocks` *of the moment it finished* later. The stake unlocks at the latest of:
//!
//! - U + `unbonding_blocks`, fixed at U: enough for every request that finished, or finishes,
//!   under the `retention_blocks` in force at U, since `unbonding_blocks` exceeds
//!   [`slashable_window`] of it (`config.rs`);
//! - the contract's [`UnlockFloor`], which each change of `retention_blocks` at block X raises to
//!   X + [`slashable_window`] of the larger of the old and new value
//!   ([`unlock_floor_after_retention_change`]): a request that finished before X under the old
//!   retention is cleanable by X + old, one that finishes from X on under the new retention —
//!   made by X, as every request of a node that unregistered before X was — by X +
//!   `YIELD_TIMEOUT_BLOCKS` + new, both at least `CLEANUP_MARGIN_BLOCKS` before the floor
//!   (a later change covers the requests finishing under its own value the same way). So
//!   lowering the retention and `unbonding_blocks` cannot free a node before an older request
//!   with a long retention is cleanable, nor can raising the retention make a request cleanable
//!   after the stake of a node on it unlocked. The floor holds only the nodes such a change can
//!   concern: those registered by the latest change, whose stake would unlock after the first
//!   change since the floor last passed (a node concerned by a change at X unregistered at
//!   X − `YIELD_TIMEOUT_BLOCKS` or later, so its stake unlocks after X; a change whose floor
//!   passed holds nobody any more). It is at most about 1 000 300 blocks after the change that
//!   set it, and holds a node only if it would otherwise unlock earlier;
//! - for a node unregistering while jailed, its jail's end, so that withdrawing and
//!   registering again (a fresh, active node) cannot come before the jailing would have ended.
//!
//! `unregister_node` stores the latest of the three it knows then as `unlocks_at`;
//! `withdraw_stake` and the views (`get_node`) also apply a floor raised since.

use crate::active_nodes::LIST_ENTRY_BYTES;
use crate::config::slashable_window;
use crate::events::Event;
use crate::storage::{cost_of, send};
use crate::{OracleContract, OracleContractExt};
use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::{env, near, require, AccountId, CurveType, PublicKey};
use oracle_protocol::{is_weak_ed25519_key, ModelId, NodeStatus, NodeView};

/// Bytes a node's record grows by when it is jailed or unbonds (`Jailed { until }` and
/// `Unbonding { unlocks_at }` take 9 bytes, `Active`, as registered, 1): paid at registration
/// with the rest of the record, so a later status change never takes storage the node did not
/// pay for.
const STATUS_GROWTH_BYTES: u64 = 8;

/// Most models one node may serve.
pub const MAX_MODELS_PER_NODE: usize = 16;

/// A registered node as stored.
#[near(serializers = [borsh])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The ed25519 key its attestations are signed with (32 bytes).
    pub attestation_key: [u8; 32],
    pub models: Vec<ModelId>,
    /// yoctoNEAR at stake (slashing takes from it).
    pub stake: u128,
    /// yoctoNEAR paid for the entry's storage, returned on withdrawal.
    pub storage_deposit: u128,
    pub status: NodeStatus,
    pub registered_at: u64,
}

/// What changes of `retention_blocks` hold unbonding stakes to (the module's comment).
#[near(serializers = [borsh])]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnlockFloor {
    /// The block held stakes unlock at the earliest.
    pub block: u64,
    /// The block of the first change since the floor last passed: a stake that unlocks by then
    /// was on no request a change since concerns.
    pub since: u64,
    /// The block of the latest change: a node registered after it was on no request made
    /// before it.
    pub raised_at: u64,
}

impl UnlockFloor {
    /// Raises the floor to `block` for a change at block `now`.
    pub fn raise(&mut self, now: u64, block: u64) {
        if self.block <= now {
            self.since = now;
        }
        self.block = self.block.max(block);
        self.raised_at = now;
    }

    /// The block from which a node registered at `registered_at`, whose stake unlocks at
    /// `unlocks_at` by itself, may withdraw.
    pub fn holds_until(&self, registered_at: u64, unlocks_at: u64) -> u64 {
        if registered_at <= self.raised_at && unlocks_at > self.since {
            unlocks_at.max(self.block)
        } else {
            unlocks_at
        }
    }
}

/// `account_id`'s `node`, with its `missed_commits` in a row, as views and events show it (the
/// protocol's `NodeView`); an unbonding node's `unlocks_at` is the block it may withdraw from,
/// `unlock_floor` (the contract's) included.
pub fn node_view(
    account_id: &AccountId,
    node: &Node,
    missed_commits: u32,
    unlock_floor: &UnlockFloor,
) -> NodeView {
    let key = PublicKey::from_parts(CurveType::ED25519, node.attestation_key.to_vec())
        .unwrap_or_else(|_| env::abort());
    let status = match node.status {
        NodeStatus::Unbonding { unlocks_at } => NodeStatus::Unbonding {
            unlocks_at: unlock_floor.holds_until(node.registered_at, unlocks_at),
        },
        ref status => status.clone(),
    };
    NodeView {
        account_id: account_id.to_string(),
        attestation_key: String::from(&key),
        models: node.models.clone(),
        stake: node.stake,
        status,
        registered_at: node.registered_at,
        missed_commits,
    }
}

#[near]
impl OracleContract {
    /// Registers the caller as a node serving `models`, signing attestations with
    /// `attestation_key` (`ed25519:<base58>`), a key no other registered node uses. The attached
    /// deposit pays the entry's storage; the rest is the stake, which must reach the configured
    /// minimum.
    #[payable]
    pub fn register_node(&mut self, attestation_key: PublicKey, models: Vec<ModelId>) -> NodeView {
        let account = env::predecessor_account_id();
        require!(
            !self.nodes.contains_key(&account),
            format!("{account} is already registered as a node")
        );
        require!(
            attestation_key.curve_type() == CurveType::ED25519,
            "attestation_key must be an ed25519 key"
        );
        require!(
            !models.is_empty() && models.len() <= MAX_MODELS_PER_NODE,
            format!("a node serves 1 to {MAX_MODELS_PER_NODE} models")
        );
        for (i, model) in models.iter().enumerate() {
            require!(
                self.models.contains_key(model),
                format!("model {model} is not registered")
            );
            require!(
                !models[..i].contains(model),
                format!("model {model} is listed twice")
            );
        }
        let key: [u8; 32] = attestation_key.as_bytes()[1..]
            .try_into()
            .unwrap_or_else(|_| env::panic_str("an ed25519 key is 32 bytes"));
        require!(
            !is_weak_ed25519_key(&key),
            "attestation_key is a weak ed25519 key (a point of small order, for which one \
             signature verifies for any message); generate a fresh key (oracle-node init does)"
        );
        if let Some(holder) = self.attestation_keys.get(&key) {
            env::panic_str(&format!(
                "attestation key {} is already used by node {holder}; each node needs its own",
                String::from(&attestation_key)
            ));
        }
        // Seats of jailed nodes a full list gives up are freed first (and the nodes it jails
        // written), so that the bytes they free or add are not counted on this node's bill.
        self.make_room(&models);
        self.active_nodes.flush();
        self.nodes.flush();
        // Lists this node joins rather than creates: their entries, paid by nobody listed now
        // once their creators leave, are on this node's bill too (`LIST_ENTRY_BYTES`).
        let joined_lists = models
            .iter()
            .filter(|model| self.active_nodes.contains_key(*model))
            .count() as u64;
        let before = env::storage_usage();
        let mut node = Node {
            attestation_key: key,
            models,
            stake: 0,
            storage_deposit: 0,
            status: NodeStatus::Active,
            registered_at: env::block_height(),
        };
        self.nodes.insert(account.clone(), node.clone());
        self.nodes.flush();
        self.attestation_keys.insert(key, account.clone());
        self.attestation_keys.flush();
        self.activate_node(&account, &node.models);
        self.active_nodes.flush();
        self.missed_commits
            .insert(account.clone(), crate::liveness::LivenessRecord::default());
        self.missed_commits.flush();
        let storage_deposit = cost_of(
            env::storage_usage().saturating_sub(before)
                + STATUS_GROWTH_BYTES
                + joined_lists * LIST_ENTRY_BYTES,
        );
        let attached = env::attached_deposit().as_yoctonear();
        let min_stake = self.config.min_stake;
        require!(
            attached >= storage_deposit.saturating_add(min_stake),
            format!(
                "attach at least {} yoctoNEAR: the minimum stake {min_stake} plus {storage_deposit} \
                 for storage",
                storage_deposit.saturating_add(min_stake)
            )
        );
        node.stake = attached - storage_deposit;
        node.storage_deposit = storage_deposit;
        self.nodes.insert(account.clone(), node.clone());
        let view = node_view(&account, &node, 0, &self.unlock_floor);
        Event::NodeRegistered.emit(&view);
        view
    }

    /// Adds the attached deposit to the caller's stake (active or jailed: a node jailed for a
    /// stake below the minimum tops it up before `unjail_node`).
    #[payable]
    pub fn add_stake(&mut self) -> U128 {
        let account = env::predecessor_account_id();
        let node = self.node_mut(&account);
        require!(
            !matches!(node.status, NodeStatus::Unbonding { .. }),
            "an unbonding node cannot add stake"
        );
        node.stake += env::attached_deposit().as_yoctonear();
        let stake = node.stake;
        Event::NodeStakeAdded.emit(json!({
            "node": account,
            "added": U128(env::attached_deposit().as_yoctonear()),
            "stake": U128(stake),
        }));
        U128(stake)
    }

    /// Stops the caller (active or jailed) being chosen for committees; its stake unlocks after
    /// `unbonding_blocks`, and not before the `unlock_floor` a change of `retention_blocks` set
    /// nor, for a jailed node, before its jailing ends (the module's comment). It stays
    /// answerable (and slashable) for requests it already serves. Returns the block its stake
    /// unlocks at (a later change of `retention_blocks` may still hold it longer: `get_node`).
    pub fn unregister_node(&mut self) -> u64 {
        let account = env::predecessor_account_id();
        let now = env::block_height();
        let unbonded_at = now
            .checked_add(self.config.unbonding_blocks)
            .unwrap_or_else(|| {
                env::panic_str(&format!(
                    "block {now} plus unbonding_blocks {} overflows",
                    self.config.unbonding_blocks
                ))
            });
        let unlock_floor = self.unlock_floor;
        let node = self.node_mut(&account);
        let jailed_until = match node.status {
            NodeStatus::Active => 0,
            NodeStatus::Jailed { until } => until,
            NodeStatus::Unbonding { .. } => {
                env::panic_str(&format!("{account} is already unbonding"))
            }
        };
        let unlocks_at =
            unlock_floor.holds_until(node.registered_at, unbonded_at.max(jailed_until));
        node.status = NodeStatus::Unbonding { unlocks_at };
        let models = node.models.clone();
        self.deactivate_node(&account, &models);
        Event::NodeUnbonding.emit(json!({ "node": account, "unlocks_at": unlocks_at }));
        unlocks_at
    }

    /// Once unbonded — from its `unlocks_at`, and not before the `unlock_floor` (raised since
    /// it unregistered if `retention_blocks` changed: the module's comment) — removes the
    /// caller's node (its attestation key is free again) and sends back its stake and storage
    /// deposit.
    pub fn withdraw_stake(&mut self) -> U128 {
        let account = env::predecessor_account_id();
        let node = self.node_mut(&account).clone();
        let NodeStatus::Unbonding { unlocks_at } = node.status else {
            env::panic_str("call unregister_node first; stake unlocks after the unbonding delay")
        };
        let now = env::block_height();
        let withdrawable_from = self
            .unlock_floor
            .holds_until(node.registered_at, unlocks_at);
        if now < withdrawable_from {
            let held = if withdrawable_from > unlocks_at {
                " (retention_blocks changed: stakes are held until the requests made before can \
                 be cleaned up)"
            } else {
                ""
            };
            env::panic_str(&format!(
                "stake unlocks at block {withdrawable_from}{held}; now is block {now}"
            ));
        }
        self.nodes.remove(&account);
        self.attestation_keys.remove(&node.attestation_key);
        self.missed_commits.remove(&account);
        let amount = node.stake + node.storage_deposit;
        send(&account, amount);
        Event::NodeWithdrawn.emit(json!({ "node": account, "amount": U128(amount) }));
        U128(amount)
    }
}

/// The `unlock_floor` a change of `retention_blocks` from `old_retention` to `new_retention` at
/// block `now` calls for: every request made by `now` can be cleaned up
/// `CLEANUP_MARGIN_BLOCKS` before it, under either value (the module's comment).
pub fn unlock_floor_after_retention_change(
    now: u64,
    old_retention: u64,
    new_retention: u64,
) -> u64 {
    now.saturating_add(slashable_window(old_retention.max(new_retention)))
}

impl OracleContract {
    /// Raises the `unlock_floor` for a change of `retention_blocks` from `old_retention` to
    /// `new_retention` now (nothing when it does not change).
    pub(crate) fn note_retention_change(&mut self, old_retention: u64, new_retention: u64) {
        if old_retention != new_retention {
            let now = env::block_height();
            let floor = unlock_floor_after_retention_change(now, old_retention, new_retention);
            self.unlock_floor.raise(now, floor);
        }
    }

    pub(crate) fn node_mut(&mut self, account: &AccountId) -> &mut Node {
        self.nodes
            .get_mut(account)
            .unwrap_or_else(|| env::panic_str(&format!("{account} is not a registered node")))
    }
}

#[cfg(test)]
mod tests {
    use super::{UnlockFloor, STATUS_GROWTH_BYTES};
    use near_sdk::borsh;
    use oracle_protocol::NodeStatus;

    #[test]
    fn the_status_growth_reserved_at_registration_is_the_widest_statuses_over_active() {
        let len = |status: NodeStatus| borsh::to_vec(&status).unwrap().len() as u64;
        let active = len(NodeStatus::Active);
        assert_eq!(
            len(NodeStatus::Jailed { until: 0 }) - active,
            STATUS_GROWTH_BYTES
        );
        assert_eq!(
            len(NodeStatus::Unbonding { unlocks_at: 0 }) - active,
            STATUS_GROWTH_BYTES
        );
    }

    #[test]
    fn the_unlock_floor_holds_only_the_stakes_a_retention_change_concerns() {
        let mut floor = UnlockFloor::default();
        assert_eq!(floor.holds_until(0, 10), 10, "no change, no hold");
        floor.raise(1_000, 2_000);
        // Registered by the change, unlocking after it: held.
        assert_eq!(floor.holds_until(500, 1_500), 2_000);
        assert_eq!(floor.holds_until(1_000, 1_500), 2_000);
        assert_eq!(floor.holds_until(500, 2_500), 2_500, "unlocks later anyway");
        // Registered after it, or unlocked by it: free.
        assert_eq!(floor.holds_until(1_001, 1_500), 1_500);
        assert_eq!(floor.holds_until(500, 1_000), 1_000);
        // A second change before the floor passed: the first change still counts.
        floor.raise(1_500, 1_800);
        assert_eq!(floor.holds_until(500, 1_200), 2_000);
        assert_eq!(
            floor.holds_until(1_200, 1_600),
            2_000,
            "concerned by the second"
        );
        // Once the floor passed, a change holds only what it concerns.
        floor.raise(3_000, 4_000);
        assert_eq!(floor.holds_until(500, 2_900), 2_900);
        assert_eq!(floor.holds_until(500, 3_100), 4_000);
    }
}
