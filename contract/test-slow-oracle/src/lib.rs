//! test-slow-oracle: stands in for the oracle to test what a dApp does when its answer comes
//! late. `estimate_fee` and `request` take the oracle's arguments and answer as it does, but
//! only after `rounds` chained yields that are never resumed (each times out after 200 blocks):
//! `estimate_fee` with a fixed price, `request` (keeping its deposit) with a resolved answer
//! whose output is the scripted `output` — or, after `claim_timeouts`, a timed-out answer that
//! claims to have refunded more than it was sent (a lying oracle: it keeps the deposit).
//!
//! A test contract only: it must never be deployed as an oracle, and depends on nothing but
//! near-sdk and oracle-dapp's wire types.

use near_sdk::json_types::U128;
use near_sdk::{
    env, near, require, AccountId, Gas, GasWeight, PanicOnDefault, Promise, PromiseOrValue,
};
use oracle_dapp::{
    Digest32, FeeEstimate, ModelId, OracleResponse, RequestParams, ResolvedOutput, ResponseStatus,
};

/// Gas kept back in each round for its own work; the rest goes to the next round's callback.
const ROUND_GAS: Gas = Gas::from_tgas(5);

#[near(contract_state)]
#[derive(PanicOnDefault)]
pub struct SlowOracle {
    /// The price `estimate_fee` quotes and `request` requires.
    price: u128,
    /// Yields each `estimate_fee` waits out before answering.
    estimate_rounds: u32,
    /// Yields each `request` waits out before answering.
    request_rounds: u32,
    /// The output every request resolves to.
    output: String,
    next_request_id: u64,
    /// When set, every request times out instead, claiming this much was refunded.
    claimed_refund: Option<u128>,
}

#[near]
impl SlowOracle {
    #[init]
    pub fn new(price: U128, estimate_rounds: u32, request_rounds: u32, output: String) -> Self {
        Self {
            price: price.0,
            estimate_rounds,
            request_rounds,
            output,
            next_request_id: 0,
            claimed_refund: None,
        }
    }

    /// From now on every request times out (after its yields), its answer claiming that
    /// `refunded` yoctoNEAR went back — none does: the deposit stays here.
    pub fn claim_timeouts(&mut self, refunded: U128) {
        self.claimed_refund = Some(refunded.0);
    }

    /// Changes the price `request` requires from now on (a price rise between a dApp's
    /// `estimate_fee` and its `request` makes the oracle refuse the request).
    pub fn set_price(&mut self, price: U128) {
        self.price = price.0;
    }

    /// The price (as it is now), quoted after `estimate_rounds` yields.
    pub fn estimate_fee(
        &mut self,
        model_id: ModelId,
        params: RequestParams,
        input_bytes: Option<u32>,
        storage_refund_to: Option<AccountId>,
    ) -> PromiseOrValue<FeeEstimate> {
        let _ = (model_id, params, input_bytes, storage_refund_to);
        estimate_after(U128(self.price), self.estimate_rounds)
    }

    /// Keeps the deposit (at least the price) and resolves to `output` after `request_rounds`
    /// yields.
    #[payable]
    pub fn request(
        &mut self,
        model_id: ModelId,
        input: String,
        params: RequestParams,
        storage_refund_to: Option<AccountId>,
    ) -> PromiseOrValue<OracleResponse> {
        let _ = (model_id, input, params, storage_refund_to);
        let attached = env::attached_deposit().as_yoctonear();
        require!(
            attached >= self.price,
            format!("attach at least {} yoctoNEAR", self.price)
        );
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        self.answer_after(request_id, self.request_rounds)
    }

    /// One yield of `estimate_fee` (quoting `price`, the price when it was called) timed out.
    #[private]
    pub fn on_estimate_round(
        &mut self,
        price: U128,
        rounds_left: u32,
    ) -> PromiseOrValue<FeeEstimate> {
        require!(
            env::promise_result_checked(0, 0).is_err(),
            "nothing resumes these yields"
        );
        estimate_after(price, rounds_left)
    }

    /// One yield of request `request_id` timed out.
    #[private]
    pub fn on_request_round(
        &mut self,
        request_id: u64,
        rounds_left: u32,
    ) -> PromiseOrValue<OracleResponse> {
        require!(
            env::promise_result_checked(0, 0).is_err(),
            "nothing resumes these yields"
        );
        self.answer_after(request_id, rounds_left)
    }
}

impl SlowOracle {
    fn answer_after(&self, request_id: u64, rounds: u32) -> PromiseOrValue<OracleResponse> {
        if let (0, Some(refunded)) = (rounds, self.claimed_refund) {
            return PromiseOrValue::Value(OracleResponse {
                request_id,
                status: ResponseStatus::TimedOut {
                    message: format!("request {request_id} timed out"),
                    refunded,
                    refunded_to: None,
                },
            });
        }
        if rounds == 0 {
            let output_hash = Digest32(env::sha256_array(self.output.as_bytes()));
            return PromiseOrValue::Value(OracleResponse {
                request_id,
                status: ResponseStatus::Resolved(ResolvedOutput {
                    output: self.output.clone(),
                    output_truncated: false,
                    output_bytes: self.output.len() as u32,
                    result_digest: output_hash,
                    output_hash,
                }),
            });
        }
        let args =
            near_sdk::serde_json::json!({ "request_id": request_id, "rounds_left": rounds - 1 });
        PromiseOrValue::Promise(wait("on_request_round", args))
    }
}

/// `price` quoted after `rounds` yields.
fn estimate_after(price: U128, rounds: u32) -> PromiseOrValue<FeeEstimate> {
    if rounds == 0 {
        return PromiseOrValue::Value(FeeEstimate {
            fee: price.0,
            storage: 0,
            storage_bytes: 0,
            total: price.0,
        });
    }
    let args = near_sdk::serde_json::json!({ "price": price, "rounds_left": rounds - 1 });
    PromiseOrValue::Promise(wait("on_estimate_round", args))
}

/// A yield nobody resumes, calling `callback(args)` when it times out with all the gas this
/// call has left but `ROUND_GAS`.
fn wait(callback: &str, args: near_sdk::serde_json::Value) -> Promise {
    let gas = env::prepaid_gas()
        .saturating_sub(env::used_gas())
        .saturating_sub(ROUND_GAS);
    Promise::new_yield(callback, args.to_string(), gas, GasWeight(0)).0
}
