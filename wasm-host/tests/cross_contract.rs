//! Cross-contract calls: callbacks with results, promise_and, failures seen by callbacks,
//! deposits forwarded and refunded.

mod common;

use common::{chain_with, GAS};
use serde_json::json;
use wasm_host::chain::{Chain, ExecutionStatus, FinalStatus, GAS_PRICE, ONE_NEAR, TGAS};
use wasm_host::fees::Action as Fee;

fn setup() -> Chain {
    chain_with(&[
        ("cross.test", "test_cross"),
        ("echo1.test", "test_status"),
        ("echo2.test", "test_status"),
    ])
}

fn args(value: serde_json::Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

#[test]
fn a_call_and_its_callback_run_in_later_blocks_with_the_result() {
    let mut chain = setup();
    let alice: near_account_id::AccountId = "alice.test".parse().unwrap();
    let alice_before = chain.balance("alice.test");
    let start = chain.block_height();
    let result = chain
        .call(
            "alice.test",
            "cross.test",
            "echo_via",
            args(json!({"target": "echo1.test", "value": "ping"})),
            0,
            200 * TGAS,
        )
        .unwrap();
    assert_eq!(
        result.json::<Vec<Option<String>>>(),
        vec![Some("ping".to_string())]
    );
    let height_of = |executor: &str, method_result: fn(&ExecutionStatus) -> bool| {
        result
            .receipts
            .iter()
            .find(|o| o.executor_id.as_str() == executor && method_result(&o.status))
            .map(|o| o.block_height)
            .unwrap()
    };
    let caller = height_of("cross.test", |s| {
        matches!(s, ExecutionStatus::SuccessReceiptId(_))
    });
    let callee = height_of("echo1.test", |_| true);
    let callback = height_of("cross.test", |s| {
        matches!(s, ExecutionStatus::SuccessValue(_))
    });
    // The transaction is in block start + 1; its receipt (alice is not the receiver) runs in
    // the block after, as on NEAR, and each receipt it leads to one block later.
    assert_eq!(
        (caller, callee, callback),
        (start + 2, start + 3, start + 4)
    );
    let stored = chain.view("cross.test", "last_results", "{}").unwrap();
    assert_eq!(
        stored.json::<Vec<Option<String>>>().unwrap(),
        vec![Some("ping".to_string())]
    );
    let fees = chain.fees();
    // A refund (one transfer) burns its execution fees, as nearcore reports them.
    let refund_exec = fees.exec(Fee::new_action_receipt) + fees.transfer_exec(&alice);
    let mut refunds = 0;
    for outcome in &result.receipts {
        // Refunds (from `system`) report the gas they burnt but are free: they burn no tokens.
        // Every other receipt burns gas and pays for it.
        if outcome.predecessor_id.as_str() == "system" {
            refunds += 1;
            assert_eq!(outcome.gas_burnt, refund_exec, "{outcome:?}");
            assert_eq!(outcome.tokens_burnt, 0, "{outcome:?}");
        } else {
            assert!(outcome.gas_burnt > 0, "{outcome:?}");
            assert!(outcome.tokens_burnt > 0, "{outcome:?}");
        }
    }
    assert!(refunds > 0, "the unused gas came back");
    // Alice paid what the transaction and its receipts burnt: nothing for the refunds.
    let paid = alice_before - chain.balance("alice.test");
    let tokens_burnt: u128 = result.receipts.iter().map(|o| o.tokens_burnt).sum();
    assert_eq!(
        paid,
        u128::from(result.tx_gas_burnt) * GAS_PRICE + tokens_burnt
    );
}

/// A receipt the callee starts on the side runs in the block its result wakes the caller's
/// callback in, and before it: nearcore sends a receipt's result after the receipts it made.
#[test]
fn a_receipt_the_callee_starts_runs_before_the_callback_its_result_wakes() {
    let mut chain = setup();
    let result = chain
        .call(
            "alice.test",
            "cross.test",
            "echo_and_send_via",
            args(json!({"target": "echo1.test", "value": "ping",
                "receiver_id": "echo2.test", "amount": "1"})),
            0,
            200 * TGAS,
        )
        .unwrap();
    assert_eq!(
        result.json::<Vec<Option<String>>>(),
        vec![Some("ping".to_string())]
    );
    let position = |executor: &str, wanted: fn(&ExecutionStatus) -> bool| {
        result
            .receipts
            .iter()
            .position(|o| {
                o.executor_id.as_str() == executor
                    && o.predecessor_id.as_str() != "system"
                    && wanted(&o.status)
            })
            .unwrap()
    };
    let transfer = position("echo2.test", |_| true);
    let callback = position("cross.test", |s| {
        matches!(s, ExecutionStatus::SuccessValue(_))
    });
    assert_eq!(
        result.receipts[transfer].block_height,
        result.receipts[callback].block_height
    );
    assert!(transfer < callback, "{:#?}", result.receipts);
}

#[test]
fn promise_and_joins_two_calls() {
    let mut chain = setup();
    let result = chain
        .call(
            "alice.test",
            "cross.test",
            "echo_both",
            args(json!({"first": "echo1.test", "second": "echo2.test", "value": "pong"})),
            0,
            200 * TGAS,
        )
        .unwrap();
    assert_eq!(
        result.json::<Vec<Option<String>>>(),
        vec![Some("pong".to_string()), Some("pong".to_string())]
    );
}

#[test]
fn a_callback_sees_a_failed_call_whose_state_was_rolled_back() {
    let mut chain = setup();
    let result = chain
        .call(
            "alice.test",
            "cross.test",
            "call_failing",
            args(json!({"target": "echo1.test"})),
            0,
            200 * TGAS,
        )
        .unwrap();
    assert_eq!(result.json::<Vec<Option<String>>>(), vec![None]);
    let failed = result
        .receipts
        .iter()
        .find(|o| o.executor_id.as_str() == "echo1.test")
        .unwrap();
    assert!(matches!(failed.status, ExecutionStatus::Failure(_)));
    let writes = chain.view("echo1.test", "writes", "{}").unwrap();
    assert_eq!(writes.json::<u64>().unwrap(), 0);
}

#[test]
fn a_forwarded_deposit_arrives_and_a_failed_one_is_refunded() {
    let mut chain = setup();
    let before = chain.balance("echo1.test");
    let result = chain
        .call(
            "alice.test",
            "cross.test",
            "forward_deposit",
            args(json!({"target": "echo1.test"})),
            ONE_NEAR,
            100 * TGAS,
        )
        .unwrap();
    assert_eq!(result.json::<String>(), ONE_NEAR.to_string());
    assert!(chain.balance("echo1.test") >= before + ONE_NEAR);

    // A call to an account that does not exist fails; the deposit goes back to cross.test.
    let cross_before = chain.balance("cross.test");
    let result = chain
        .call(
            "alice.test",
            "cross.test",
            "forward_deposit",
            args(json!({"target": "nobody.test"})),
            ONE_NEAR,
            100 * TGAS,
        )
        .unwrap();
    let FinalStatus::Failure(error) = &result.status else {
        panic!("expected a failure, got {:?}", result.status);
    };
    assert_eq!(error.to_string(), "account `nobody.test` does not exist");
    assert!(chain.balance("cross.test") >= cross_before + ONE_NEAR);
}

#[test]
fn unused_gas_of_a_chain_of_receipts_is_refunded_to_the_signer() {
    let mut chain = setup();
    let before = chain.balance("alice.test");
    let result = chain
        .call(
            "alice.test",
            "cross.test",
            "echo_via",
            args(json!({"target": "echo1.test", "value": "x"})),
            0,
            GAS,
        )
        .unwrap();
    let spent = before - chain.balance("alice.test");
    let burnt = u128::from(result.total_gas_burnt()) * wasm_host::chain::GAS_PRICE;
    assert_eq!(spent, burnt, "the signer pays exactly the gas burnt");
}
