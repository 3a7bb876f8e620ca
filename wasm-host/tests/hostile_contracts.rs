//! Contracts and transactions that try to break the chain: it must neither panic nor mint tokens,
//! and every transaction must settle as it would on NEAR.

use std::sync::Arc;
use wasm_host::abi::{AccessKeyPermission, Action};
use wasm_host::chain::{ActionError, Chain, ChainError, FinalStatus, ONE_NEAR, TGAS};

/// Deploys `wat` on a new account `c.test` (10 NEAR).
fn chain_with_contract(wat: &str) -> Chain {
    let mut chain = Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    chain.create_account("c.test", 10 * ONE_NEAR).unwrap();
    let code = wat::parse_str(wat).unwrap();
    chain
        .deploy("c.test", code)
        .unwrap()
        .into_result()
        .expect("deploy succeeds");
    chain
}

#[test]
fn gas_weights_that_overflow_u64_share_the_unused_gas() {
    // Two weighted calls back to c.test's `noop`, weights u64::MAX (-1) and 2.
    let mut chain = chain_with_contract(
        r#"(module
            (import "env" "promise_batch_create" (func $create (param i64 i64) (result i64)))
            (import "env" "promise_batch_action_function_call_weight"
                (func $call (param i64 i64 i64 i64 i64 i64 i64 i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "c.test")
            (data (i32.const 16) "noop")
            (func (export "noop"))
            (func (export "go") (local $p i64)
                (local.set $p (call $create (i64.const 6) (i64.const 0)))
                (call $call (local.get $p) (i64.const 4) (i64.const 16) (i64.const 0)
                    (i64.const 0) (i64.const 32) (i64.const 0) (i64.const -1))
                (call $call (local.get $p) (i64.const 4) (i64.const 16) (i64.const 0)
                    (i64.const 0) (i64.const 32) (i64.const 0) (i64.const 2))))"#,
    );
    let before = chain.balance("alice.test") + chain.balance("c.test");
    let result = chain
        .call("alice.test", "c.test", "go", "", 0, 100 * TGAS)
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    // `go` passed all its unused gas on, but gets back the price difference of the gas it
    // burnt (bought at the purchase price, burnt at the block's).
    assert_eq!(
        result.receipts.len(),
        4,
        "go, the weighted receipt, the refund of each"
    );
    // Gas was only paid for, never minted: the two accounts hold no more than before.
    assert!(chain.balance("alice.test") + chain.balance("c.test") < before);
    // The chain goes on producing blocks.
    chain.produce_block();
}

#[test]
fn deleting_an_account_for_a_missing_beneficiary_settles_and_burns_the_balance() {
    let mut chain = Chain::new();
    chain.create_account("bob.test", 5 * ONE_NEAR).unwrap();
    let delete = Action::DeleteAccount {
        beneficiary_id: "ghost.test".parse().unwrap(),
    };
    let result = chain.execute("bob.test", "bob.test", vec![delete]).unwrap();
    // As on NEAR: the deletion succeeds; the balance sent to the missing account is burnt.
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    assert!(chain.account("bob.test").is_none());
    assert!(chain.account("ghost.test").is_none());
    assert!(!chain.has_pending_work());
}

#[test]
fn deposits_whose_sum_overflows_are_refused() {
    let mut chain = Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    chain.create_account("bob.test", ONE_NEAR).unwrap();
    let half = Action::Transfer { deposit: 1 << 127 };
    let refused = chain.submit("alice.test", "bob.test", vec![half.clone(), half]);
    assert_eq!(refused, Err(ChainError::CostOverflow));
    let call = |gas| Action::FunctionCall {
        method_name: "m".into(),
        args: Vec::new(),
        deposit: 0,
        gas,
    };
    let refused = chain.submit("alice.test", "bob.test", vec![call(u64::MAX), call(2)]);
    assert!(matches!(
        refused,
        Err(ChainError::InvalidActions(
            wasm_host::tx::ActionsValidationError::IntegerOverflow
        ))
    ));
    let delete_then_transfer = vec![
        Action::DeleteAccount {
            beneficiary_id: "alice.test".parse().unwrap(),
        },
        Action::Transfer { deposit: 1 },
    ];
    assert!(matches!(
        chain.submit("alice.test", "alice.test", delete_then_transfer),
        Err(ChainError::InvalidActions(
            wasm_host::tx::ActionsValidationError::DeleteActionMustBeFinal
        ))
    ));
    assert_eq!(chain.balance("alice.test"), 100 * ONE_NEAR);
}

#[test]
fn a_gas_refund_to_a_signer_that_deleted_itself_settles() {
    let mut chain = chain_with_contract(r#"(module (func (export "noop")))"#);
    let call = Action::FunctionCall {
        method_name: "noop".into(),
        args: Vec::new(),
        deposit: 0,
        gas: 10 * TGAS,
    };
    let delete = Action::DeleteAccount {
        beneficiary_id: "alice.test".parse().unwrap(),
    };
    let alice = chain.balance("alice.test");
    let result = chain
        .execute("c.test", "c.test", vec![call, delete])
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    assert!(chain.account("c.test").is_none());
    // The balance went to the beneficiary; the unused gas, refunded to the deleted signer, is
    // burnt.
    assert!(chain.balance("alice.test") > alice);
    assert!(!chain.has_pending_work());
}

/// An ed25519 public key, borsh-encoded.
fn key(byte: u8) -> Vec<u8> {
    let mut key = vec![0];
    key.extend_from_slice(&[byte; 32]);
    key
}

#[test]
fn a_signer_cannot_delete_rekey_or_redeploy_another_account() {
    let mut chain = chain_with_contract(r#"(module (func (export "noop")))"#);
    chain.create_account("bob.test", 100 * ONE_NEAR).unwrap();
    let own_key = Action::AddKey {
        public_key: key(1),
        nonce: 0,
        permission: AccessKeyPermission::FullAccess,
    };
    let result = chain
        .execute("bob.test", "bob.test", vec![own_key])
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    let bob = chain.account("bob.test").unwrap().clone();
    let code = chain.account("c.test").unwrap().code.clone();
    let attacks = [
        (
            "bob.test",
            Action::DeleteAccount {
                beneficiary_id: "alice.test".parse().unwrap(),
            },
        ),
        (
            "bob.test",
            Action::AddKey {
                public_key: key(2),
                nonce: 0,
                permission: AccessKeyPermission::FullAccess,
            },
        ),
        ("bob.test", Action::DeleteKey { public_key: key(1) }),
        (
            "c.test",
            Action::DeployContract {
                code: Arc::new(wat::parse_str("(module)").unwrap()),
            },
        ),
    ];
    for (victim, attack) in attacks {
        let alice = chain.balance("alice.test");
        let result = chain
            .execute("alice.test", victim, vec![attack.clone()])
            .unwrap();
        // As nearcore's `check_actor_permissions`: only the account itself may do these.
        assert_eq!(
            result.status,
            FinalStatus::Failure(ActionError::ActorNoPermission {
                account: victim.parse().unwrap(),
                actor: "alice.test".parse().unwrap(),
            }),
            "{attack:?}"
        );
        assert!(chain.balance("alice.test") < alice, "alice only paid fees");
    }
    assert_eq!(chain.account("bob.test"), Some(&bob));
    assert_eq!(chain.account("c.test").unwrap().code, code);
}

#[test]
fn a_contract_cannot_delete_another_account() {
    // `go` sends bob.test a receipt deleting it, its balance to c.test.
    let mut chain = chain_with_contract(
        r#"(module
            (import "env" "promise_batch_create" (func $create (param i64 i64) (result i64)))
            (import "env" "promise_batch_action_delete_account"
                (func $delete (param i64 i64 i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "bob.test")
            (data (i32.const 16) "c.test")
            (func (export "go")
                (call $delete (call $create (i64.const 8) (i64.const 0))
                    (i64.const 6) (i64.const 16))))"#,
    );
    chain.create_account("bob.test", 100 * ONE_NEAR).unwrap();
    let result = chain
        .call("alice.test", "c.test", "go", "", 0, 10 * TGAS)
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    let deletion = result
        .receipts
        .iter()
        .find(|o| o.executor_id.as_str() == "bob.test")
        .expect("the deletion ran");
    assert_eq!(
        deletion.status,
        wasm_host::chain::ExecutionStatus::Failure(ActionError::ActorNoPermission {
            account: "bob.test".parse().unwrap(),
            actor: "c.test".parse().unwrap(),
        })
    );
    assert_eq!(chain.balance("bob.test"), 100 * ONE_NEAR);
}

#[test]
fn an_empty_method_name_fails_before_the_contract_is_loaded() {
    let mut chain = chain_with_contract(r#"(module (func (export "noop")))"#);
    let mut call = |method: &str| {
        let result = chain
            .call("alice.test", "c.test", method, "", 0, 10 * TGAS)
            .unwrap();
        let FinalStatus::Failure(error) = &result.status else {
            panic!("calling {method:?} should fail: {:?}", result.status);
        };
        (error.to_string(), result.receipts[0].gas_burnt)
    };
    let (empty, empty_burnt) = call("");
    let (missing, missing_burnt) = call("nope");
    assert_eq!(empty, "the method name is empty");
    assert_eq!(missing, "method `nope` not found in contract `c.test`");
    // As in nearcore, no contract loading fee for the empty name: only the action's fees.
    let loading = wasm_host::fees::Fees::default().ext(wasm_host::fees::Ext::contract_loading_base);
    assert!(
        missing_burnt - empty_burnt > loading,
        "{empty_burnt} vs {missing_burnt}"
    );
}
