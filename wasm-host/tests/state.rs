//! Storage, state, NEP-297 events, deposits, panics rolling back, gas exhaustion, refunds.

mod common;

use common::{chain_with, GAS};
use serde_json::json;
use wasm_host::abi::{Action, HostError};
use wasm_host::chain::{ActionError, FinalStatus, ONE_NEAR, TGAS};
use wasm_host::engine::FunctionCallError;

fn status_chain() -> wasm_host::chain::Chain {
    chain_with(&[("status.test", "test_status")])
}

fn args(value: serde_json::Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// As on NEAR: a transaction whose signer is its receiver runs in the block that includes it
/// (a local receipt); any other runs in the block after.
#[test]
fn only_a_local_receipt_runs_in_the_block_that_includes_its_transaction() {
    let mut chain = status_chain();
    for (signer, delay) in [("status.test", 1), ("alice.test", 2)] {
        let start = chain.block_height();
        let set = chain
            .call(
                signer,
                "status.test",
                "set_status",
                args(json!({"message": signer})),
                0,
                GAS,
            )
            .unwrap();
        assert!(matches!(set.status, FinalStatus::SuccessValue(_)));
        assert_eq!(set.receipts[0].block_height, start + delay, "{signer}");
    }
}

#[test]
fn storage_writes_persist_and_views_read_them() {
    let mut chain = status_chain();
    let usage_before = chain.account("status.test").unwrap().storage_usage;
    let set = chain
        .call(
            "alice.test",
            "status.test",
            "set_status",
            args(json!({"message": "hello"})),
            0,
            GAS,
        )
        .unwrap();
    assert_eq!(set.status, FinalStatus::SuccessValue(Vec::new()));
    let usage_after = chain.account("status.test").unwrap().storage_usage;
    assert!(
        usage_after > usage_before,
        "{usage_before} -> {usage_after}"
    );

    let view = chain
        .view(
            "status.test",
            "get_status",
            args(json!({"account_id": "alice.test"})),
        )
        .unwrap();
    assert_eq!(view.json::<Option<String>>().unwrap(), Some("hello".into()));
    let writes = chain.view("status.test", "writes", "{}").unwrap();
    assert_eq!(writes.json::<u64>().unwrap(), 1);

    let cleared = chain
        .call("alice.test", "status.test", "clear_status", "{}", 0, GAS)
        .unwrap();
    assert!(cleared.json::<bool>());
    let view = chain
        .view(
            "status.test",
            "get_status",
            args(json!({"account_id": "alice.test"})),
        )
        .unwrap();
    assert_eq!(view.json::<Option<String>>().unwrap(), None);
}

#[test]
fn views_cannot_change_state() {
    let chain = status_chain();
    let error = chain
        .view("status.test", "set_status", args(json!({"message": "x"})))
        .unwrap_err();
    assert!(
        error.to_string().contains("not allowed in view calls"),
        "{error}"
    );
}

#[test]
fn nep297_events_are_logged() {
    let mut chain = status_chain();
    let result = chain
        .call(
            "alice.test",
            "status.test",
            "set_status",
            args(json!({"message": "hi"})),
            0,
            GAS,
        )
        .unwrap();
    let logs = result.logs();
    assert_eq!(logs.len(), 1);
    let event = logs[0].strip_prefix("EVENT_JSON:").expect("NEP-297 prefix");
    let event: serde_json::Value = serde_json::from_str(event).unwrap();
    assert_eq!(event["standard"], "status");
    assert_eq!(event["version"], "1.0.0");
    assert_eq!(event["event"], "status_set");
    assert_eq!(event["data"][0]["account_id"], "alice.test");
    assert_eq!(event["data"][0]["message"], "hi");
}

#[test]
fn a_panic_rolls_back_state_but_keeps_logs_and_burns_gas() {
    let mut chain = status_chain();
    let result = chain
        .call(
            "alice.test",
            "status.test",
            "set_status_then_fail",
            args(json!({"message": "doomed"})),
            0,
            GAS,
        )
        .unwrap();
    match &result.status {
        FinalStatus::Failure(ActionError::FunctionCall(FunctionCallError::Host(
            HostError::GuestPanic(message),
        ))) => assert_eq!(message, "failing on purpose"),
        other => panic!("expected a guest panic, got {other:?}"),
    }
    assert_eq!(result.logs().len(), 1, "logs of a failed call are kept");
    assert!(result.receipts[0].gas_burnt > 0);
    let view = chain
        .view(
            "status.test",
            "get_status",
            args(json!({"account_id": "alice.test"})),
        )
        .unwrap();
    assert_eq!(view.json::<Option<String>>().unwrap(), None);
    assert_eq!(
        chain
            .view("status.test", "writes", "{}")
            .unwrap()
            .json::<u64>()
            .unwrap(),
        0
    );
}

#[test]
fn a_failed_call_refunds_its_deposit() {
    let mut chain = status_chain();
    let before = chain.balance("alice.test");
    let result = chain
        .call(
            "alice.test",
            "status.test",
            "no_such_method",
            "{}",
            ONE_NEAR,
            GAS,
        )
        .unwrap();
    let FinalStatus::Failure(error) = &result.status else {
        panic!("expected failure, got {:?}", result.status);
    };
    assert_eq!(
        error.to_string(),
        "method `no_such_method` not found in contract `status.test`"
    );
    let spent = before - chain.balance("alice.test");
    // Only gas was spent: the deposit and the unused gas came back.
    assert!(spent < ONE_NEAR / 100, "spent {spent}");
    assert!(
        result.receipts.len() >= 2,
        "refund receipts ran: {:?}",
        result.receipts
    );
}

#[test]
fn deposits_are_kept_by_payable_methods_and_unused_gas_is_refunded() {
    let mut chain = status_chain();
    let alice = chain.balance("alice.test");
    let contract = chain.balance("status.test");
    let result = chain
        .call(
            "alice.test",
            "status.test",
            "deposit",
            "{}",
            2 * ONE_NEAR,
            300 * TGAS,
        )
        .unwrap();
    assert_eq!(result.json::<String>(), (2 * ONE_NEAR).to_string());
    let burnt: u128 = result.total_gas_burnt() as u128 * wasm_host::chain::GAS_PRICE;
    let spent = alice - chain.balance("alice.test");
    // Alice paid the deposit and the gas burnt; nearly all of the 300 TGas came back.
    assert!(spent >= 2 * ONE_NEAR + burnt, "spent {spent}");
    assert!(
        spent < 2 * ONE_NEAR + burnt + ONE_NEAR / 1000,
        "spent {spent}"
    );
    assert!(chain.balance("status.test") >= contract + 2 * ONE_NEAR);
}

#[test]
fn transfers_from_a_contract_arrive_in_a_later_block() {
    let mut chain = status_chain();
    chain.create_account("bob.test", ONE_NEAR).unwrap();
    let start = chain.block_height();
    let result = chain
        .call(
            "alice.test",
            "status.test",
            "send",
            args(json!({"receiver_id": "bob.test", "amount": ONE_NEAR.to_string()})),
            0,
            GAS,
        )
        .unwrap();
    assert!(
        matches!(result.status, FinalStatus::SuccessValue(_)),
        "{:?}",
        result.status
    );
    assert_eq!(chain.balance("bob.test"), 2 * ONE_NEAR);
    let transfer = result
        .receipts
        .iter()
        .find(|o| o.executor_id.as_str() == "bob.test")
        .unwrap();
    // The transaction in start + 1, its call in start + 2, the transfer in start + 3.
    assert_eq!(transfer.block_height, start + 3);
}

#[test]
fn gas_exhaustion_fails_the_call_and_rolls_back() {
    let mut chain = status_chain();
    let result = chain
        .call(
            "alice.test",
            "status.test",
            "burn",
            args(json!({"rounds": 100_000_000u64})),
            0,
            5 * TGAS,
        )
        .unwrap();
    assert_eq!(
        result.status,
        FinalStatus::Failure(ActionError::FunctionCall(FunctionCallError::Host(
            HostError::GasExceeded
        )))
    );
    assert_eq!(result.status_message(), "exceeded prepaid gas");
    // All the prepaid gas burnt, plus the execution fees.
    assert!(result.receipts[0].gas_burnt >= 5 * TGAS);
    assert_eq!(
        chain
            .view("status.test", "writes", "{}")
            .unwrap()
            .json::<u64>()
            .unwrap(),
        0
    );

    let ok = chain
        .call(
            "alice.test",
            "status.test",
            "burn",
            args(json!({"rounds": 1000})),
            0,
            5 * TGAS,
        )
        .unwrap();
    assert!(matches!(ok.status, FinalStatus::SuccessValue(_)));
}

#[test]
fn storage_must_be_covered_by_the_balance() {
    let mut chain = wasm_host::chain::Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    chain.create_account("poor.test", 3 * ONE_NEAR).unwrap();
    chain
        .deploy("poor.test", common::contract("test_status"))
        .unwrap();
    chain
        .call("poor.test", "poor.test", "new", "{}", 0, GAS)
        .unwrap();
    // 300 kB more at 1e19 yoctoNEAR per byte needs 3 NEAR more than the account holds.
    let result = chain
        .call(
            "alice.test",
            "poor.test",
            "store_blob",
            args(json!({"bytes": 300_000u64})),
            0,
            300 * TGAS,
        )
        .unwrap();
    assert!(
        matches!(
            result.status,
            FinalStatus::Failure(ActionError::LackBalanceForState { .. })
        ),
        "{:?}",
        result.status
    );
    assert!(chain.storage_value("poor.test", b"blob").is_none());
    let result = chain
        .call(
            "alice.test",
            "poor.test",
            "store_blob",
            args(json!({"bytes": 1_000u64})),
            0,
            300 * TGAS,
        )
        .unwrap();
    assert!(
        matches!(result.status, FinalStatus::SuccessValue(_)),
        "{:?}",
        result.status
    );
    assert_eq!(
        chain.storage_value("poor.test", b"blob").unwrap().len(),
        1_000
    );
}

#[test]
fn a_prepared_view_runs_on_its_snapshot_while_the_chain_moves_on() {
    let mut chain = status_chain();
    let set = |chain: &mut wasm_host::chain::Chain, message: &str| {
        chain
            .call(
                "alice.test",
                "status.test",
                "set_status",
                args(json!({ "message": message })),
                0,
                GAS,
            )
            .unwrap()
            .into_result()
            .unwrap();
    };
    set(&mut chain, "old");
    let get = args(json!({"account_id": "alice.test"}));
    let snapshot = chain
        .prepare_view("status.test", "get_status", get.clone())
        .unwrap();
    // The chain is free: blocks run and the state changes before the view does.
    set(&mut chain, "new");
    let old = snapshot.run().unwrap();
    assert_eq!(old.json::<Option<String>>().unwrap(), Some("old".into()));
    let new = chain.view("status.test", "get_status", get).unwrap();
    assert_eq!(new.json::<Option<String>>().unwrap(), Some("new".into()));
}

#[test]
fn warming_up_compiles_every_deployed_contract() {
    let chain = chain_with(&[("status.test", "test_status"), ("yield.test", "test_yield")]);
    // Accounts without code (alice.test and the rest) are not counted.
    assert_eq!(chain.warm_modules(), 2);
}

#[test]
fn an_account_storing_more_than_10_kb_besides_its_code_cannot_be_deleted() {
    // As nearcore (`DeleteAccountWithLargeState`): its code does not count, its state does.
    let mut chain = wasm_host::chain::Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    for (account, blob) in [("small.test", 1_000u64), ("large.test", 20_000)] {
        chain.create_account(account, 10 * ONE_NEAR).unwrap();
        chain
            .deploy(account, common::contract("test_status"))
            .unwrap();
        chain.call(account, account, "new", "{}", 0, GAS).unwrap();
        let stored = chain
            .call(
                account,
                account,
                "store_blob",
                args(json!({"bytes": blob})),
                0,
                GAS,
            )
            .unwrap();
        assert!(
            matches!(stored.status, FinalStatus::SuccessValue(_)),
            "{:?}",
            stored.status
        );
    }
    let delete = || {
        vec![Action::DeleteAccount {
            beneficiary_id: "alice.test".parse().unwrap(),
        }]
    };
    let small = chain.execute("small.test", "small.test", delete()).unwrap();
    assert_eq!(small.status, FinalStatus::SuccessValue(Vec::new()));
    assert!(chain.account("small.test").is_none());
    let large = chain.execute("large.test", "large.test", delete()).unwrap();
    assert!(
        matches!(
            large.status,
            FinalStatus::Failure(ActionError::DeleteAccountWithLargeState(_))
        ),
        "{:?}",
        large.status
    );
    assert!(chain.account("large.test").is_some());
}
