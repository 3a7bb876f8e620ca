//! Owner-only administration: models, settings, ownership and the treasury of slashed stake.
//! (Later governance takes the owner's place.)

use crate::config::{validate, Config};
use crate::events::Event;
use crate::models::{model_view, ModelRegistration, SizePricing};
use crate::storage::{charge_storage, send};
use crate::{OracleContract, OracleContractExt};
use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::{env, near, require, AccountId, Gas, NearToken, Promise};
use oracle_protocol::{ModelId, ModelView};

#[near]
impl OracleContract {
    /// Adds or replaces a model. The attached deposit pays for the storage the entry uses, and
    /// whatever is left over is refunded.
    #[payable]
    pub fn register_model(&mut self, model: ModelRegistration) -> ModelView {
        self.require_owner("register models");
        let registration = model.validate().unwrap_or_else(|e| env::panic_str(&e));
        let id = registration.id;
        let storage_before = env::storage_usage();
        self.models.insert(id, registration.info);
        self.models.flush();
        if registration.pricing == SizePricing::default() {
            self.model_pricing.remove(&id);
        } else {
            self.model_pricing.insert(id, registration.pricing);
        }
        self.model_pricing.flush();
        charge_storage(storage_before, env::storage_usage());
        let view = model_view(id, &self.models[&id], registration.pricing);
        Event::ModelRegistered.emit(&view);
        view
    }

    /// Removes a model: no new requests for it; requests already made can still resolve. The
    /// storage it used is released to the owner.
    pub fn remove_model(&mut self, model_id: ModelId) {
        self.require_owner("remove models");
        require!(
            self.models.contains_key(&model_id),
            format!("model {model_id} is not registered")
        );
        let before = env::storage_usage();
        self.models.remove(&model_id);
        self.models.flush();
        self.model_pricing.remove(&model_id);
        self.model_pricing.flush();
        let released = crate::storage::cost_of(before.saturating_sub(env::storage_usage()));
        send(&self.owner, released);
        Event::ModelRemoved.emit(json!({ "model_id": model_id, "released": U128(released) }));
    }

    /// Replaces the settings; requests already made keep their committee and quorum (and,
    /// once finished, the block they are cleanable from). A change of `retention_blocks` holds
    /// the stakes it concerns until the requests made so far can be cleaned up (`unlock_floor`:
    /// `nodes.rs`).
    pub fn update_config(&mut self, config: Config) {
        self.require_owner("update the config");
        validate(&config).unwrap_or_else(|e| env::panic_str(&e));
        self.note_retention_change(self.config.retention_blocks, config.retention_blocks);
        self.config = config;
        Event::ConfigUpdated.emit(&self.config);
    }

    /// Hands ownership to `new_owner`.
    pub fn set_owner(&mut self, new_owner: AccountId) {
        self.require_owner("change the owner");
        Event::OwnerChanged.emit(json!({ "old_owner": self.owner, "new_owner": new_owner }));
        self.owner = new_owner;
    }

    /// Sends `amount` of the slashed stake held in the treasury to `receiver_id`; a transfer
    /// that fails (no such account) puts it back in the treasury. Returns the promise of
    /// `on_treasury_withdrawal`'s answer: whether it was sent.
    pub fn withdraw_treasury(&mut self, receiver_id: AccountId, amount: U128) -> Promise {
        self.require_owner("withdraw from the treasury");
        require!(
            amount.0 <= self.treasury,
            format!(
                "the treasury holds {} yoctoNEAR; cannot withdraw {}",
                self.treasury, amount.0
            )
        );
        self.treasury -= amount.0;
        Promise::new(receiver_id.clone())
            .transfer(NearToken::from_yoctonear(amount.0))
            .then(
                Self::ext(env::current_account_id())
                    .with_static_gas(TREASURY_CALLBACK_GAS)
                    .on_treasury_withdrawal(receiver_id, amount),
            )
    }

    /// The treasury transfer's outcome: `treasury_withdrawn` when it arrived; otherwise the
    /// amount is back in the treasury (`treasury_withdrawal_failed`).
    #[private]
    pub fn on_treasury_withdrawal(&mut self, receiver_id: AccountId, amount: U128) -> bool {
        let sent = env::promise_result_checked(0, 0).is_ok();
        if sent {
            Event::TreasuryWithdrawn.emit(json!({ "receiver_id": receiver_id, "amount": amount }));
        } else {
            self.treasury += amount.0;
            Event::TreasuryWithdrawalFailed.emit(json!({
                "receiver_id": receiver_id,
                "amount": amount,
                "treasury": U128(self.treasury),
            }));
        }
        sent
    }
}

/// Gas for `on_treasury_withdrawal`.
const TREASURY_CALLBACK_GAS: Gas = Gas::from_tgas(5);

impl OracleContract {
    /// Panics unless the caller is the owner, naming what only the owner may do.
    pub(crate) fn require_owner(&self, action: &str) {
        require!(
            env::predecessor_account_id() == self.owner,
            format!("only the owner ({}) can {action}", self.owner)
        );
    }
}
