//! NEAR's runtime fee and limit tables, as nearcore ships them: loaded from the `near-parameters`
//! crate (its `parameters.yaml` plus the per-version diffs), never retyped here.

use near_parameters::vm::LimitConfig;
use near_parameters::{ActionCosts, ExtCosts, RuntimeConfig, RuntimeConfigStore};
use std::sync::Arc;

pub use near_parameters::{ActionCosts as Action, ExtCosts as Ext};

/// The protocol version whose rules and fees this runtime follows.
pub const PROTOCOL_VERSION: u32 = 88;

/// Fees and limits of one protocol version, with the lookups the runtime needs.
#[derive(Debug, Clone)]
pub struct Fees {
    config: Arc<RuntimeConfig>,
}

impl Default for Fees {
    fn default() -> Self {
        Self::for_protocol(PROTOCOL_VERSION)
    }
}

impl Fees {
    /// The tables of `protocol_version`, as nearcore's `RuntimeConfigStore` resolves them.
    pub fn for_protocol(protocol_version: u32) -> Self {
        let store = RuntimeConfigStore::new(None);
        Self {
            config: store.get_config(protocol_version).clone(),
        }
    }

    /// Gas of one host-function cost parameter.
    pub fn ext(&self, cost: ExtCosts) -> u64 {
        self.config.wasm_config.ext_costs.gas_cost(cost).as_gas()
    }

    /// Gas of one wasm instruction.
    pub fn regular_op(&self) -> u64 {
        u64::from(self.config.wasm_config.regular_op_cost)
    }

    /// Gas of a bulk memory or table instruction (`memory.copy`, `table.fill`, ...): a base, plus
    /// a charge per byte or element it touches.
    pub fn linear_op(&self) -> (u64, u64) {
        let wasm = &self.config.wasm_config;
        (wasm.linear_op_base_cost, wasm.linear_op_unit_cost)
    }

    /// Send fee of a transfer to `receiver`. One to an implicit account also pays for the
    /// account it may create (and a NEAR-implicit one for its full-access key), whether or not
    /// the account exists: nearcore's `transfer_send_fee`.
    pub fn transfer_send(&self, sir: bool, receiver: &near_account_id::AccountIdRef) -> u64 {
        let wasm = &self.config.wasm_config;
        near_parameters::transfer_send_fee(
            &self.config.fees,
            sir,
            wasm.eth_implicit_accounts,
            wasm.universal_accounts,
            receiver.get_account_type(),
        )
        .gas
        .as_gas()
    }

    /// Execution fee of a transfer to `receiver` (nearcore's `transfer_exec_fee`).
    pub fn transfer_exec(&self, receiver: &near_account_id::AccountIdRef) -> u64 {
        let wasm = &self.config.wasm_config;
        near_parameters::transfer_exec_fee(
            &self.config.fees,
            wasm.eth_implicit_accounts,
            wasm.universal_accounts,
            receiver.get_account_type(),
        )
        .gas
        .as_gas()
    }

    /// Send fee of an action (`sir`: sender is receiver).
    pub fn send(&self, cost: ActionCosts, sir: bool) -> u64 {
        self.config.fees.fee(cost).send_fee(sir).gas.as_gas()
    }

    /// Execution fee of an action.
    pub fn exec(&self, cost: ActionCosts) -> u64 {
        self.config.fees.fee(cost).exec_fee().gas.as_gas()
    }

    /// The whole runtime configuration as nearcore's RPC shows it (`runtime_config` of
    /// `EXPERIMENTAL_protocol_config`).
    pub fn runtime_config_view(&self) -> near_parameters::view::RuntimeConfigView {
        RuntimeConfig::clone(&self.config).into()
    }

    /// The protocol's limits (registers, logs, sizes, yields, gas).
    pub fn limits(&self) -> &LimitConfig {
        &self.config.wasm_config.limit_config
    }

    /// YoctoNEAR that must be held per byte of storage used.
    pub fn storage_amount_per_byte(&self) -> u128 {
        self.config.storage_amount_per_byte().as_yoctonear()
    }

    /// Storage bytes counted for an account record, and for each key/value record on top of the
    /// bytes of key and value.
    pub fn storage_bytes_account(&self) -> u64 {
        self.config.fees.storage_usage_config.num_bytes_account
    }

    /// Extra storage bytes counted per key/value record.
    pub fn storage_bytes_record(&self) -> u64 {
        self.config.fees.storage_usage_config.num_extra_bytes_record
    }

    /// The share of a function call's burnt gas that goes to the contract, as (numerator,
    /// denominator).
    pub fn burnt_gas_reward(&self) -> (u64, u64) {
        let ratio = self.config.fees.burnt_gas_reward;
        (*ratio.numer() as u64, *ratio.denom() as u64)
    }

    /// Gas withheld from a refund of `unused` gas (NEP-536 refund penalty).
    pub fn refund_penalty(&self, unused: u64) -> u64 {
        self.config
            .fees
            .gas_penalty_for_gas_refund(near_primitives_core::types::Gas::from_gas(unused))
            .as_gas()
    }

    /// The least price gas attached to a receipt is bought at (NEP-642, protocol 85): a
    /// transaction buys its receipt's gas at the block's gas price or this, whichever is higher.
    pub fn min_gas_purchase_price(&self) -> u128 {
        self.config.min_gas_purchase_price.as_yoctonear()
    }

    /// What creating an account costs in all (NEP-642): the creating receipt's signer pays it,
    /// out of the gas refund, on top of the `create_account` execution gas already burnt.
    pub fn account_creation_charge(&self) -> u128 {
        self.config.account_creation_charge.as_yoctonear()
    }

    /// The account that may create top-level accounts of any length.
    pub fn registrar_account_id(&self) -> &near_account_id::AccountId {
        &self.config.account_creation_config.registrar_account_id
    }

    /// Shortest top-level account name anyone may create (shorter ones belong to the registrar).
    pub fn min_top_level_account_length(&self) -> usize {
        usize::from(
            self.config
                .account_creation_config
                .min_allowed_top_level_account_length,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_88_values_come_from_nearcores_tables() {
        let fees = Fees::default();
        assert_eq!(fees.regular_op(), 822_756);
        assert_eq!(fees.limits().max_yield_payload_size, 1024);
        assert_eq!(fees.limits().yield_timeout_length_in_blocks, 200);
        assert_eq!(fees.limits().max_number_logs, 100);
        assert_eq!(fees.limits().max_length_returned_data, 4 * 1024 * 1024);
        assert_eq!(fees.storage_amount_per_byte(), 10_u128.pow(19));
        assert_eq!(fees.min_gas_purchase_price(), 1_000_000_000);
        assert_eq!(fees.account_creation_charge(), 7 * 10_u128.pow(21));
        assert!(fees.ext(Ext::base) > 0);
        assert!(fees.send(Action::function_call_base, false) > 0);
    }
}
