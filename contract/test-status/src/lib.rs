//! test-status: a small contract for wasm-host's tests of storage, state, NEP-297 events,
//! deposits, panics that roll back, and gas exhaustion.
//!
//! A test contract only: it must never be deployed for real use, and depends on nothing but
//! near-sdk.

use near_sdk::json_types::U128;
use near_sdk::store::LookupMap;
use near_sdk::{env, near, AccountId, NearToken, PanicOnDefault, Promise};

#[near(contract_state)]
#[derive(PanicOnDefault)]
pub struct StatusContract {
    statuses: LookupMap<AccountId, String>,
    writes: u64,
}

#[near]
impl StatusContract {
    #[init]
    pub fn new() -> Self {
        Self {
            statuses: LookupMap::new(b"s"),
            writes: 0,
        }
    }

    /// Stores the caller's status and emits a NEP-297 `status_set` event.
    pub fn set_status(&mut self, message: String) {
        let account_id = env::predecessor_account_id();
        self.writes += 1;
        env::log_str(&format!(
            "EVENT_JSON:{{\"standard\":\"status\",\"version\":\"1.0.0\",\"event\":\"status_set\",\"data\":[{{\"account_id\":\"{account_id}\",\"message\":{message:?}}}]}}"
        ));
        self.statuses.insert(account_id, message);
    }

    pub fn get_status(&self, account_id: AccountId) -> Option<String> {
        self.statuses.get(&account_id).cloned()
    }

    /// Removes the caller's status; returns whether there was one.
    pub fn clear_status(&mut self) -> bool {
        self.statuses
            .remove(&env::predecessor_account_id())
            .is_some()
    }

    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// Writes a status, logs, then panics: nothing of it may survive.
    pub fn set_status_then_fail(&mut self, message: String) {
        self.set_status(message);
        env::panic_str("failing on purpose");
    }

    /// Accepts a deposit and returns it.
    #[payable]
    pub fn deposit(&mut self) -> U128 {
        U128(env::attached_deposit().as_yoctonear())
    }

    /// Sends `amount` yoctoNEAR to `receiver_id`.
    pub fn send(&mut self, receiver_id: AccountId, amount: U128) -> Promise {
        Promise::new(receiver_id).transfer(NearToken::from_yoctonear(amount.0))
    }

    /// Returns `value`, and sends `amount` yoctoNEAR to `receiver_id` on the side (a receipt
    /// nobody waits on).
    pub fn echo_and_send(&mut self, value: String, receiver_id: AccountId, amount: U128) -> String {
        Promise::new(receiver_id)
            .transfer(NearToken::from_yoctonear(amount.0))
            .detach();
        value
    }

    /// Spins for `rounds` hash rounds; with enough rounds it runs out of gas.
    pub fn burn(&mut self, rounds: u64) -> u64 {
        self.writes += 1;
        let mut acc = 0u64;
        for i in 0..rounds {
            acc = acc
                .wrapping_mul(6364136223846793005)
                .wrapping_add(i ^ (acc >> 33));
        }
        acc
    }

    /// Stores `bytes` bytes under one key (for storage staking tests).
    pub fn store_blob(&mut self, bytes: u64) {
        env::storage_write(b"blob", &vec![7u8; bytes as usize]);
    }

    /// Returns `value` unchanged (for callbacks and benchmarks).
    pub fn echo(&self, value: String) -> String {
        value
    }
}
