//! The per-model index of active nodes: committee selection reads the nodes that serve the
//! requested model and have not left, never the whole registry, so idle nodes of other models
//! cannot make a request run out of gas. Each model has at most `MAX_ACTIVE_NODES_PER_MODEL`
//! listed nodes, which bounds the gas of selection. A jailed node stays listed (jailing must not
//! rewrite the lists) but is never chosen, and gives up its seat when a new node needs it.

use crate::OracleContract;
use near_sdk::{env, AccountId};
use oracle_protocol::{ModelId, NodeStatus};

/// Most active nodes one model may have (README: gas of `request` at this cap).
pub const MAX_ACTIVE_NODES_PER_MODEL: usize = 100;

/// Bytes a model's list takes besides its seats: NEAR's 40 per storage record, the key (the
/// map's one-byte prefix and the 32-byte model id) and the list's 4-byte length. The list
/// lives while any node is listed, whoever created it, so every node pays for it at
/// registration (`register_node`) and gets it back at withdrawal: the contract never does.
pub const LIST_ENTRY_BYTES: u64 = 40 + 1 + 32 + 4;

impl OracleContract {
    /// Drops the nodes no longer active from each of `models`' lists that is full (jailed ones
    /// stay listed until a seat is needed). A list still full of active nodes gives up the seat
    /// of one whose stake is below the minimum (the owner raised it: it is never chosen), which
    /// is jailed for its stake, as a slash below the minimum does: topped up, it unjails into
    /// a free seat. One per call, so the gas and logs of a call stay bounded.
    pub(crate) fn make_room(&mut self, models: &[ModelId]) {
        let min_stake = self.config.min_stake;
        for model in models {
            let Some(active) = self.active_nodes.get(model) else {
                continue;
            };
            if active.len() < MAX_ACTIVE_NODES_PER_MODEL {
                continue;
            }
            let listed = active.len();
            let mut kept: Vec<AccountId> = active
                .iter()
                .filter(|listed| {
                    self.nodes
                        .get(*listed)
                        .is_some_and(|node| node.status == NodeStatus::Active)
                })
                .cloned()
                .collect();
            if kept.len() >= MAX_ACTIVE_NODES_PER_MODEL {
                let under_staked = kept.iter().position(|account| {
                    self.nodes
                        .get(account)
                        .is_some_and(|node| node.stake < min_stake)
                });
                if let Some(index) = under_staked {
                    let account = kept.remove(index);
                    self.jail_for_stake(&account);
                }
            }
            if kept.len() < listed {
                self.active_nodes.insert(*model, kept);
            }
        }
    }

    /// Lists `account` among the active nodes of each of `models` where it is not listed yet,
    /// making room first (`make_room`) on those lists only: a node that kept its seat (jailed
    /// and unjailed meanwhile) needs none, so its list is not read through nor anyone else's
    /// seat taken. Panics naming the first model that has no seat left.
    pub(crate) fn activate_node(&mut self, account: &AccountId, models: &[ModelId]) {
        let unlisted: Vec<ModelId> = models
            .iter()
            .filter(|model| {
                !self
                    .active_nodes
                    .get(*model)
                    .is_some_and(|active| active.contains(account))
            })
            .copied()
            .collect();
        self.make_room(&unlisted);
        for model in models {
            let mut active = self.active_nodes.get(model).cloned().unwrap_or_default();
            if active.contains(account) {
                continue;
            }
            if active.len() >= MAX_ACTIVE_NODES_PER_MODEL {
                env::panic_str(&format!(
                    "model {model} already has {MAX_ACTIVE_NODES_PER_MODEL} active nodes; a \
                     seat frees when one of them unregisters or is jailed"
                ));
            }
            active.push(account.clone());
            self.active_nodes.insert(*model, active);
        }
    }

    /// Takes `account` off the active nodes of each of `models`.
    pub(crate) fn deactivate_node(&mut self, account: &AccountId, models: &[ModelId]) {
        for model in models {
            let Some(active) = self.active_nodes.get_mut(model) else {
                continue;
            };
            active.retain(|listed| listed != account);
            if active.is_empty() {
                self.active_nodes.remove(model);
            }
        }
    }

    /// Accounts that may join a committee for `model`: its listed nodes that are active and hold
    /// at least the minimum stake (the owner may have raised it).
    pub(crate) fn eligible_nodes(&self, model: &ModelId) -> Vec<&AccountId> {
        let Some(active) = self.active_nodes.get(model) else {
            return Vec::new();
        };
        active
            .iter()
            .filter(|account| self.is_eligible(account))
            .collect()
    }

    /// How many nodes `model`'s list holds (jailed ones included).
    pub(crate) fn listed_nodes(&self, model: &ModelId) -> usize {
        self.active_nodes.get(model).map_or(0, Vec::len)
    }

    fn is_eligible(&self, account: &AccountId) -> bool {
        self.nodes.get(account).is_some_and(|node| {
            node.status == NodeStatus::Active && node.stake >= self.config.min_stake
        })
    }
}
