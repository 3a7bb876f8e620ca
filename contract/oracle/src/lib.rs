//! oracle-contract: the on-chain half of the AI oracle, a near-sdk contract built to wasm32 and
//! run on the real NEAR runtime (protocol 88 feature set) or on our wasm-host.
//!
//! It must never depend on the inference engine, the node, an async runtime, or floating point
//! arithmetic: every value that decides consensus is an integer or bytes.

mod events;
mod models;

use near_sdk::store::IterableMap;
use near_sdk::{
    env, near, require, AccountId, BorshStorageKey, NearToken, PanicOnDefault, Promise,
};
use oracle_protocol::ModelId;

pub use models::{ModelInfo, ModelRegistration, ModelView};

#[near(contract_state)]
#[derive(PanicOnDefault)]
pub struct OracleContract {
    owner: AccountId,
    models: IterableMap<ModelId, ModelInfo>,
}

#[near]
impl OracleContract {
    #[init]
    pub fn new(owner: AccountId) -> Self {
        Self {
            owner,
            models: IterableMap::new(StorageKey::Models),
        }
    }

    pub fn owner(&self) -> AccountId {
        self.owner.clone()
    }

    /// Adds or replaces a model. Owner only; the attached deposit pays for the storage the entry
    /// uses, and whatever is left over is refunded.
    #[payable]
    pub fn register_model(&mut self, model: ModelRegistration) -> ModelView {
        require!(
            env::predecessor_account_id() == self.owner,
            "only the owner can register models"
        );
        let registration = model.validate().unwrap_or_else(|e| env::panic_str(&e));
        let id = registration.id;
        let storage_before = env::storage_usage();
        self.models.insert(id, registration.info);
        self.models.flush();
        let storage_after = env::storage_usage();
        charge_storage(storage_before, storage_after);
        let view = ModelView::new(id, &self.models[&id]);
        events::model_registered(&view);
        view
    }

    pub fn get_model(&self, model_id: ModelId) -> Option<ModelView> {
        self.models
            .get(&model_id)
            .map(|info| ModelView::new(model_id, info))
    }

    pub fn list_models(&self, from_index: Option<u32>, limit: Option<u32>) -> Vec<ModelView> {
        let (skip, take) = models::page(from_index, limit);
        self.models
            .iter()
            .skip(skip)
            .take(take)
            .map(|(id, info)| ModelView::new(*id, info))
            .collect()
    }
}

#[derive(BorshStorageKey)]
#[near]
enum StorageKey {
    Models,
}

/// The caller pays for every byte its call added; the rest of its deposit goes back to it.
fn charge_storage(storage_before: u64, storage_after: u64) {
    let added = storage_after.saturating_sub(storage_before);
    let cost = env::storage_byte_cost().saturating_mul(added as u128);
    let attached = env::attached_deposit();
    require!(
        attached >= cost,
        format!(
            "attach at least {} yoctoNEAR to pay for {added} bytes of storage",
            cost.as_yoctonear()
        )
    );
    let refund = attached.saturating_sub(cost);
    if refund > NearToken::from_yoctonear(0) {
        Promise::new(env::predecessor_account_id())
            .transfer(refund)
            .detach();
    }
}
