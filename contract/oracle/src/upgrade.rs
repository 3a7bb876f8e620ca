//! Upgrades. The state starts with a `version: u32`; `upgrade` deploys new code and calls its
//! `migrate`, which reads that version first and converts the old layout. To change the layout:
//! copy today's struct here as `OracleContractV1`, bump `STATE_VERSION`, and add a `1 =>` arm
//! that reads `OracleContractV1` and builds the new state.

use crate::events::Event;
use crate::{OracleContract, OracleContractExt};
use near_sdk::serde_json::json;
use near_sdk::{env, near, Gas, NearToken, Promise};

/// Layout version of the state this code reads and writes.
pub const STATE_VERSION: u32 = 1;
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
        let state: Self = match version {
            STATE_VERSION => near_sdk::borsh::from_slice(&raw)
                .unwrap_or_else(|_| env::panic_str("the state does not match layout version 1")),
            other => env::panic_str(&format!(
                "state version {other} is unknown to this code (it reads {STATE_VERSION})"
            )),
        };
        Event::StateMigrated.emit(json!({ "from": version, "to": STATE_VERSION }));
        state
    }
}
