//! The oracle contract's methods a dApp calls, and `ask`, which sends a request.

use near_sdk::{ext_contract, AccountId, Gas, NearToken, Promise};
use oracle_protocol::{FeeEstimate, ModelId, OracleResponse, RequestParams};

/// Gas to attach to the oracle's `request`: its checks (about 5 TGas) plus the 25 TGas it
/// reserves for its committee's draw and the 40 TGas for its yield callback, with margin.
pub const REQUEST_GAS: Gas = Gas::from_tgas(80);

/// The oracle contract's interface (`ext_oracle::ext(oracle)...`). The trait itself is never
/// implemented: only the `ext_oracle` module the macro generates from it is used.
#[allow(dead_code)]
#[ext_contract(ext_oracle)]
pub trait Oracle {
    /// Asks `model_id` to complete `input`; answers (through a yield) with an `OracleResponse`.
    /// Attach at least `estimate_fee(...).total`. The excess goes at once, a timed-out
    /// request's fee (less what its largest group of equal reveals earned) at the timeout, and
    /// the request's storage deposit with the fee no committee member earned at cleanup, to
    /// `storage_refund_to` (default: the caller), sent by the oracle.
    fn request(
        &mut self,
        model_id: ModelId,
        input: String,
        params: RequestParams,
        storage_refund_to: Option<AccountId>,
    ) -> OracleResponse;

    /// The deposit `request` needs for `params`, an input of `input_bytes` bytes and the
    /// `storage_refund_to` account it will name; fails with the reason when such a request
    /// would be refused.
    fn estimate_fee(
        &self,
        model_id: ModelId,
        params: RequestParams,
        input_bytes: Option<u32>,
        storage_refund_to: Option<AccountId>,
    ) -> FeeEstimate;
}

/// Sends `request(model_id, input, params)` to `oracle` with `deposit` and `gas`; when the
/// oracle refuses it the deposit comes back to this contract, and so do a timed-out request's
/// fee, and the request's storage deposit and the fee no committee member earned, on cleanup. Chain a callback with `.then(...)`; read its result with
/// [`crate::answer`].
pub fn ask(
    oracle: AccountId,
    model_id: ModelId,
    input: String,
    params: RequestParams,
    deposit: NearToken,
    gas: Gas,
) -> Promise {
    request(oracle, model_id, input, params, None, deposit, gas)
}

/// [`ask`] on behalf of `payer`, the account whose money `deposit` is: the whole deposit when
/// the oracle refuses the request goes back to `payer` (the receipt's refund account), and so
/// does the request's storage deposit on cleanup and the fee of a request that times out
/// (`storage_refund_to`, the oracle sends both), never through this contract: there is nothing
/// to pass on (`TimedOut { refunded, refunded_to }` only reports it). Price it with
/// `estimate_fee(.., Some(payer))`, as the named account's bytes are paid for too.
pub fn ask_on_behalf_of(
    oracle: AccountId,
    model_id: ModelId,
    input: String,
    params: RequestParams,
    payer: AccountId,
    deposit: NearToken,
    gas: Gas,
) -> Promise {
    request(
        oracle,
        model_id,
        input,
        params,
        Some(payer.clone()),
        deposit,
        gas,
    )
    .refund_to(payer)
}

/// The oracle's `request` with `deposit` and `gas` attached.
fn request(
    oracle: AccountId,
    model_id: ModelId,
    input: String,
    params: RequestParams,
    storage_refund_to: Option<AccountId>,
    deposit: NearToken,
    gas: Gas,
) -> Promise {
    ext_oracle::ext(oracle)
        .with_attached_deposit(deposit)
        .with_static_gas(gas)
        .request(model_id, input, params, storage_refund_to)
}
