//! test-cross: calls test-status contracts on other accounts, with callbacks that read the
//! results, `promise_and` joins, and transfers.
//!
//! A test contract only: it must never be deployed for real use, and depends on nothing but
//! near-sdk.

use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::{env, near, AccountId, Gas, NearToken, PanicOnDefault, Promise};

const CALL_GAS: Gas = Gas::from_tgas(10);
const CALLBACK_GAS: Gas = Gas::from_tgas(10);
/// Longest result a callback reads.
const MAX_RESULT_LEN: usize = 1024;

#[near(contract_state)]
#[derive(PanicOnDefault)]
pub struct CrossContract {
    last_results: Vec<Option<String>>,
}

#[near]
impl CrossContract {
    #[init]
    pub fn new() -> Self {
        Self {
            last_results: Vec::new(),
        }
    }

    /// Asks `target` to echo `value`, then records the answer in `on_results`.
    pub fn echo_via(&mut self, target: AccountId, value: String) -> Promise {
        Self::echo_promise(target, value).then(Self::callback())
    }

    /// Asks `target` to echo `value` while it sends `amount` to `receiver_id` on the side, then
    /// records the answer in `on_results`.
    pub fn echo_and_send_via(
        &mut self,
        target: AccountId,
        value: String,
        receiver_id: AccountId,
        amount: U128,
    ) -> Promise {
        let args = json!({ "value": value, "receiver_id": receiver_id, "amount": amount });
        Promise::new(target)
            .function_call(
                "echo_and_send",
                args.to_string().into_bytes(),
                NearToken::from_yoctonear(0),
                CALL_GAS,
            )
            .then(Self::callback())
    }

    /// Asks two contracts at once, joined with `promise_and`, then records both answers.
    pub fn echo_both(&mut self, first: AccountId, second: AccountId, value: String) -> Promise {
        Self::echo_promise(first, value.clone())
            .and(Self::echo_promise(second, value))
            .then(Self::callback())
    }

    /// Calls a method of `target` that panics; the callback sees the failure.
    pub fn call_failing(&mut self, target: AccountId) -> Promise {
        Promise::new(target)
            .function_call(
                "set_status_then_fail",
                json!({ "message": "doomed" }).to_string().into_bytes(),
                NearToken::from_yoctonear(0),
                CALL_GAS,
            )
            .then(Self::callback())
    }

    /// Forwards the attached deposit to `target`'s payable `deposit` method.
    #[payable]
    pub fn forward_deposit(&mut self, target: AccountId) -> Promise {
        Promise::new(target).function_call(
            "deposit",
            b"{}".to_vec(),
            env::attached_deposit(),
            CALL_GAS,
        )
    }

    /// Sends `amount` yoctoNEAR to `receiver_id`.
    pub fn send(&mut self, receiver_id: AccountId, amount: U128) -> Promise {
        Promise::new(receiver_id).transfer(NearToken::from_yoctonear(amount.0))
    }

    /// Records every promise result (`None` for a failed one) and returns them.
    #[private]
    pub fn on_results(&mut self) -> Vec<Option<String>> {
        self.last_results = (0..env::promise_results_count())
            .map(|i| {
                env::promise_result_checked(i, MAX_RESULT_LEN)
                    .ok()
                    .and_then(|bytes| near_sdk::serde_json::from_slice(&bytes).ok())
            })
            .collect();
        self.last_results.clone()
    }

    pub fn last_results(&self) -> Vec<Option<String>> {
        self.last_results.clone()
    }
}

impl CrossContract {
    fn echo_promise(target: AccountId, value: String) -> Promise {
        Promise::new(target).function_call(
            "echo",
            json!({ "value": value }).to_string().into_bytes(),
            NearToken::from_yoctonear(0),
            CALL_GAS,
        )
    }

    fn callback() -> Promise {
        Promise::new(env::current_account_id()).function_call(
            "on_results",
            Vec::new(),
            NearToken::from_yoctonear(0),
            CALLBACK_GAS,
        )
    }
}
