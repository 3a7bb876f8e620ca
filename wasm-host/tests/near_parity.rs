//! Details where this runtime follows nearcore exactly: no gas reward for contracts (protocol 87+),
//! `abort`'s log line, method-name lists of function-call keys, and who acts on a new account.

use std::sync::Arc;
use wasm_host::abi::{AccessKeyPermission, Action, HostError};
use wasm_host::chain::{
    ActionError, Chain, ChainError, FinalStatus, ReceiptValidationError, ONE_NEAR, TGAS,
};
use wasm_host::engine::FunctionCallError;
use wasm_host::fees::Action as Fee;
use wasm_host::tx::ActionsValidationError;

fn chain_with_contract(wat: &str) -> Chain {
    let mut chain = Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    chain.create_account("c.test", 10 * ONE_NEAR).unwrap();
    let code = wat::parse_str(wat).unwrap();
    chain.deploy("c.test", code).unwrap().into_result().unwrap();
    chain
}

fn host_error(status: &FinalStatus) -> &HostError {
    match status {
        FinalStatus::Failure(ActionError::FunctionCall(FunctionCallError::Host(error))) => error,
        other => panic!("expected a host error, got {other:?}"),
    }
}

#[test]
fn a_failed_call_earns_the_contract_no_gas_reward_at_protocol_88() {
    // Protocol 87 set `burnt_gas_reward` to 0 (it was 3/10), on success and failure alike.
    let mut chain = chain_with_contract(
        r#"(module
            (func (export "go") (local $i i32)
                (loop $spin
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $spin (i32.lt_u (local.get $i) (i32.const 1000))))
                unreachable))"#,
    );
    assert_eq!(chain.fees().burnt_gas_reward().0, 0);
    let before = chain.balance("c.test");
    let result = chain
        .call("alice.test", "c.test", "go", "", 0, 10 * TGAS)
        .unwrap();
    assert!(matches!(result.status, FinalStatus::Failure(_)));
    let fees = chain.fees();
    let exec = fees.exec(Fee::new_action_receipt)
        + fees.exec(Fee::function_call_base)
        + 2 * fees.exec(Fee::function_call_byte);
    assert!(result.receipts[0].gas_burnt > exec, "the call burnt gas");
    assert_eq!(chain.balance("c.test"), before);
}

#[test]
fn abort_logs_with_nears_prefix() {
    // Message "hi" and file "f" as AssemblyScript lays them out: UTF-16 with a u32 byte length
    // just before.
    let mut chain = chain_with_contract(
        r#"(module
            (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "\04\00\00\00h\00i\00")
            (data (i32.const 16) "\02\00\00\00f\00")
            (func (export "go") (call $abort (i32.const 4) (i32.const 20) (i32.const 3) (i32.const 7))))"#,
    );
    let result = chain
        .call("alice.test", "c.test", "go", "", 0, 10 * TGAS)
        .unwrap();
    assert_eq!(
        result.logs(),
        vec![r#"ABORT: hi, filename: "f" line: 3 col: 7"#]
    );
    assert_eq!(
        host_error(&result.status),
        &HostError::GuestPanic(r#"hi, filename: "f" line: 3 col: 7"#.into())
    );
}

#[test]
fn an_empty_name_in_a_keys_method_list_fails_the_call() {
    // Adds a function-call key to c.test whose method list is `names` (at 64).
    let contract = |names: &str| {
        format!(
            r#"(module
            (import "env" "promise_batch_create" (func $create (param i64 i64) (result i64)))
            (import "env" "promise_batch_action_add_key_with_function_call"
                (func $add (param i64 i64 i64 i64 i64 i64 i64 i64 i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "c.test")
            (data (i32.const 16) "\00\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01")
            (data (i32.const 64) "{names}")
            (func (export "go")
                (call $add (call $create (i64.const 6) (i64.const 0))
                    (i64.const 33) (i64.const 16) (i64.const 0) (i64.const 128)
                    (i64.const 6) (i64.const 0) (i64.const {len}) (i64.const 64))))"#,
            len = names.len()
        )
    };
    let mut chain = chain_with_contract(&contract("a,,b"));
    let result = chain
        .call("alice.test", "c.test", "go", "", 0, 10 * TGAS)
        .unwrap();
    assert_eq!(host_error(&result.status), &HostError::EmptyMethodName);

    let mut chain = chain_with_contract(&contract("a,b"));
    let result = chain
        .call("alice.test", "c.test", "go", "", 0, 10 * TGAS)
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    let keys = &chain.account("c.test").unwrap().keys;
    assert_eq!(keys.len(), 1);
}

#[test]
fn a_call_creating_an_invalid_receipt_fails() {
    // `go` creates a receipt to c.test with `deploys` deploy-contract actions.
    let contract = |deploys: u32| {
        format!(
            r#"(module
            (import "env" "promise_batch_create" (func $create (param i64 i64) (result i64)))
            (import "env" "promise_batch_action_deploy_contract"
                (func $deploy (param i64 i64 i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "c.test")
            (data (i32.const 16) "\00asm\01\00\00\00")
            (func (export "go") (local $p i64) (local $i i32)
                (local.set $p (call $create (i64.const 6) (i64.const 0)))
                (loop $more
                    (call $deploy (local.get $p) (i64.const 8) (i64.const 16))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $more (i32.lt_u (local.get $i) (i32.const {deploys})))))
            (func (export "noop")))"#
        )
    };
    let mut chain = chain_with_contract(&contract(11));
    let result = chain
        .call("alice.test", "c.test", "go", "", 0, 100 * TGAS)
        .unwrap();
    assert_eq!(
        result.status,
        FinalStatus::Failure(ActionError::NewReceiptValidation(
            ReceiptValidationError::ActionsValidation(
                ActionsValidationError::TotalNumberOfDeployActionsExceeded {
                    number_of_deploy_actions: 11,
                    limit: 10
                }
            )
        ))
    );
    assert_eq!(result.receipts.len(), 2, "the call and its refund only");

    let mut chain = chain_with_contract(&contract(10));
    let result = chain
        .call("alice.test", "c.test", "go", "", 0, 100 * TGAS)
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
}

#[test]
fn the_creator_of_an_account_sets_it_up_in_the_same_receipt() {
    // As nearcore: after `CreateAccount` the receipt acts as the new account, which may get keys
    // and code; a deletion then acts as the predecessor again.
    let mut chain = Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    let mut key = vec![0];
    key.extend_from_slice(&[7; 32]);
    let code = wat::parse_str(r#"(module (func (export "noop")))"#).unwrap();
    let setup = vec![
        Action::CreateAccount,
        Action::Transfer { deposit: ONE_NEAR },
        Action::AddKey {
            public_key: key.clone(),
            nonce: 0,
            permission: AccessKeyPermission::FullAccess,
        },
        Action::DeployContract {
            code: Arc::new(code.clone()),
        },
    ];
    let result = chain
        .execute("alice.test", "sub.alice.test", setup)
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    let sub = chain.account("sub.alice.test").unwrap();
    assert!(sub.keys.contains_key(&key));
    assert_eq!(sub.code.as_deref(), Some(&code));

    let again = vec![
        Action::CreateAccount,
        Action::Transfer { deposit: ONE_NEAR },
        Action::DeleteAccount {
            beneficiary_id: "alice.test".parse().unwrap(),
        },
    ];
    let result = chain
        .execute("alice.test", "other.alice.test", again)
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    assert!(chain.account("other.alice.test").is_none());
}

#[test]
fn a_call_creating_a_receipt_with_an_invalid_action_fails() {
    // `go` sends c.test a receipt with one action built from `body` (promise `$p`; method
    // names at 64, 257 bytes of "a" then 2,009 bytes of ten 200-byte names).
    let contract = |body: &str| {
        let long_name = "a".repeat(257);
        let names = vec!["b".repeat(200); 10].join(",");
        format!(
            r#"(module
            (import "env" "promise_batch_create" (func $create (param i64 i64) (result i64)))
            (import "env" "promise_batch_action_function_call"
                (func $call (param i64 i64 i64 i64 i64 i64 i64)))
            (import "env" "promise_batch_action_add_key_with_function_call"
                (func $add (param i64 i64 i64 i64 i64 i64 i64 i64 i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "c.test")
            (data (i32.const 16) "noop")
            (data (i32.const 32) "\00\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01")
            (data (i32.const 128) "{long_name}")
            (data (i32.const 512) "{names}")
            (func (export "noop"))
            (func (export "go") (local $p i64)
                (local.set $p (call $create (i64.const 6) (i64.const 0)))
                {body}))"#
        )
    };
    let call = |args_len: u64, gas: u64| {
        format!(
            "(call $call (local.get $p) (i64.const 4) (i64.const 16) (i64.const {args_len}) \
             (i64.const 65536) (i64.const 96) (i64.const {gas}))"
        )
    };
    let add_key = |names_len: u64, names_ptr: u64| {
        format!(
            "(call $add (local.get $p) (i64.const 33) (i64.const 32) (i64.const 0) \
             (i64.const 96) (i64.const 6) (i64.const 0) (i64.const {names_len}) \
             (i64.const {names_ptr}))"
        )
    };
    // A call of the method named by the `len` bytes at 128 (nearcore checks the length with the
    // new receipt, after the call).
    let named = |len: u64| {
        format!(
            "(call $call (local.get $p) (i64.const {len}) (i64.const 128) (i64.const 0) \
             (i64.const 0) (i64.const 96) (i64.const {TGAS}))"
        )
    };
    let max_args = 4 << 20;
    let cases = [
        (named(256), None),
        (
            named(257),
            Some(
                ActionsValidationError::FunctionCallMethodNameLengthExceeded {
                    length: 257,
                    limit: 256,
                },
            ),
        ),
        (
            call(0, 0),
            Some(ActionsValidationError::FunctionCallZeroAttachedGas),
        ),
        (call(max_args, TGAS), None),
        (
            call(max_args + 1, TGAS),
            Some(
                ActionsValidationError::FunctionCallArgumentsLengthExceeded {
                    length: max_args + 1,
                    limit: max_args,
                },
            ),
        ),
        (add_key(256, 128), None),
        (
            add_key(257, 128),
            Some(ActionsValidationError::AddKeyMethodNameLengthExceeded {
                length: 257,
                limit: 256,
            }),
        ),
        (
            add_key(2009, 512),
            Some(
                ActionsValidationError::AddKeyMethodNamesNumberOfBytesExceeded {
                    total_number_of_bytes: 2010,
                    limit: 2000,
                },
            ),
        ),
    ];
    for (body, error) in cases {
        let mut chain = chain_with_contract(&contract(&body));
        let result = chain
            .call("alice.test", "c.test", "go", "", 0, 100 * TGAS)
            .unwrap();
        match error {
            Some(error) => {
                assert_eq!(
                    result.status,
                    FinalStatus::Failure(ActionError::NewReceiptValidation(
                        ReceiptValidationError::ActionsValidation(error)
                    )),
                    "{body}"
                );
                assert_eq!(result.receipts.len(), 2, "the call and its refund only");
                assert!(chain.account("c.test").unwrap().keys.is_empty());
            }
            None => assert_eq!(
                result.status,
                FinalStatus::SuccessValue(Vec::new()),
                "{body}"
            ),
        }
    }
    // An empty method name fails the call itself, as nearcore's host function does.
    let mut chain = chain_with_contract(&contract(&named(0)));
    let result = chain
        .call("alice.test", "c.test", "go", "", 0, 100 * TGAS)
        .unwrap();
    assert_eq!(host_error(&result.status), &HostError::EmptyMethodName);
}

#[test]
fn a_gas_charge_that_overflows_is_integer_overflow_and_burns_no_more() {
    // As nearcore's checked gas arithmetic: 2^56 bytes times the per-byte fee, 2^61 promise
    // indices times 8 bytes, overflow u64.
    for body in [
        "(call $sha256 (i64.const 0x0100000000000000) (i64.const 0) (i64.const 0))",
        "(drop (call $and (i64.const 0) (i64.const 0x2000000000000000)))",
    ] {
        let mut chain = chain_with_contract(&format!(
            r#"(module
            (import "env" "sha256" (func $sha256 (param i64 i64 i64)))
            (import "env" "promise_and" (func $and (param i64 i64) (result i64)))
            (memory (export "memory") 1)
            (func (export "go") {body}))"#
        ));
        let result = chain
            .call("alice.test", "c.test", "go", "", 0, 100 * TGAS)
            .unwrap();
        assert_eq!(
            host_error(&result.status),
            &HostError::IntegerOverflow,
            "{body}"
        );
        assert!(result.receipts[0].gas_burnt < 5 * TGAS, "{body}");
    }
}

#[test]
fn a_failed_receipt_burns_the_execution_fees_of_the_actions_that_ran_only() {
    // As nearcore's `apply_action_receipt`: the receipt's execution fee up front, each action's
    // as it runs, none after the one that failed; the refund gives the rest back.
    let mut chain = Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    chain.create_account("bob.test", 10 * ONE_NEAR).unwrap();
    let fees = chain.fees().clone();
    let alice = chain.balance("alice.test");
    let actions = vec![
        Action::FunctionCall {
            method_name: "x".into(),
            args: Vec::new(),
            deposit: 0,
            gas: 10 * TGAS,
        },
        Action::Transfer { deposit: ONE_NEAR },
    ];
    let result = chain.execute("alice.test", "bob.test", actions).unwrap();
    assert_eq!(
        result.status,
        FinalStatus::Failure(ActionError::CodeDoesNotExist("bob.test".parse().unwrap()))
    );
    let outcome = &result.receipts[0];
    assert_eq!(outcome.failed_action, Some(0));
    let burnt = fees.exec(Fee::new_action_receipt)
        + fees.exec(Fee::function_call_base)
        + fees.exec(Fee::function_call_byte);
    assert_eq!(outcome.gas_burnt, burnt);
    let exec_all = burnt + fees.exec(Fee::transfer);
    let unused = 10 * TGAS + exec_all - burnt;
    let paid = result.tx_gas_burnt + burnt + fees.refund_penalty(unused);
    assert_eq!(
        chain.balance("alice.test"),
        alice - u128::from(paid) * wasm_host::chain::GAS_PRICE
    );
    assert_eq!(chain.balance("bob.test"), 10 * ONE_NEAR);
}

#[test]
fn no_register_may_be_set_once_the_limit_of_registers_exists() {
    // Sets registers 0..100 (NEAR's `max_number_registers`), then register 0 again: nearcore
    // refuses even an overwrite at the limit, a bug kept in the protocol.
    let contract = |again: u64| {
        format!(
            r#"(module
            (import "env" "write_register" (func $w (param i64 i64 i64)))
            (memory (export "memory") 1)
            (func (export "go") (local $i i64)
                (block $done (loop $l
                    (br_if $done (i64.eq (local.get $i) (i64.const {again})))
                    (call $w (local.get $i) (i64.const 1) (i64.const 0))
                    (local.set $i (i64.add (local.get $i) (i64.const 1)))
                    (br $l)))
                (call $w (i64.const 0) (i64.const 1) (i64.const 0))))"#
        )
    };
    let mut chain = chain_with_contract(&contract(99));
    let result = chain
        .call("alice.test", "c.test", "go", "", 0, 100 * TGAS)
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    let mut chain = chain_with_contract(&contract(100));
    let result = chain
        .call("alice.test", "c.test", "go", "", 0, 100 * TGAS)
        .unwrap();
    assert!(matches!(
        host_error(&result.status),
        HostError::RegistersExceeded { count: 100, .. }
    ));
}

#[test]
fn refunds_are_listed_among_the_receipts_a_receipt_created() {
    // nearcore appends a deleted account's balance, the deposit refund and the gas refund to a
    // receipt's new receipts: its outcome's `receipt_ids` name them.
    let mut chain = Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    chain.create_account("bob.test", 10 * ONE_NEAR).unwrap();
    let refunds_of = |result: &wasm_host::chain::TxResult| {
        let ids: Vec<_> = result.receipts[1..].iter().map(|o| o.receipt_id).collect();
        assert_eq!(result.receipts[0].receipt_ids, ids);
        ids.len()
    };
    // A call to an account without code fails: the transfer's deposit and the gas come back.
    let failing = vec![
        Action::FunctionCall {
            method_name: "x".into(),
            args: Vec::new(),
            deposit: 0,
            gas: 10 * TGAS,
        },
        Action::Transfer { deposit: ONE_NEAR },
    ];
    let result = chain.execute("alice.test", "bob.test", failing).unwrap();
    assert!(matches!(result.status, FinalStatus::Failure(_)));
    assert_eq!(refunds_of(&result), 2, "deposit and gas refunds");

    // A deleted account's balance goes to its beneficiary, then the gas refund.
    let delete = vec![Action::DeleteAccount {
        beneficiary_id: "alice.test".parse().unwrap(),
    }];
    let result = chain.execute("bob.test", "bob.test", delete).unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    assert_eq!(refunds_of(&result), 2, "the balance and the gas refund");
}

#[test]
fn create_account_refuses_implicit_ids_and_short_top_level_names() {
    // nearcore's `check_account_existence` refuses `CreateAccount` on every implicit id kind at
    // protocol 88, whoever sends it; `action_create_account` keeps short top-level names for
    // the registrar.
    let mut chain = Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    chain.create_account("registrar", 100 * ONE_NEAR).unwrap();
    let create = || {
        vec![
            Action::CreateAccount,
            Action::Transfer { deposit: ONE_NEAR },
        ]
    };
    let implicit = [
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_string(),
        format!("0x{}", "ab".repeat(20)),
        format!("0s{}", "cd".repeat(20)),
        format!("0u{}0", "a".repeat(51)),
    ];
    for id in &implicit {
        let account: wasm_host::abi::AccountId = id.parse().unwrap();
        assert!(account.get_account_type().is_implicit(), "{id}");
        let result = chain.execute("registrar", id, create()).unwrap();
        assert_eq!(
            result.status,
            FinalStatus::Failure(ActionError::OnlyImplicitAccountCreationAllowed(account)),
            "{id}"
        );
        assert!(chain.account(id).is_none());
    }

    let result = chain.execute("alice.test", "short", create()).unwrap();
    assert_eq!(
        result.status,
        FinalStatus::Failure(ActionError::CreateAccountOnlyByRegistrar {
            account: "short".parse().unwrap(),
            registrar: "registrar".parse().unwrap(),
            predecessor: "alice.test".parse().unwrap(),
        })
    );
    let result = chain.execute("registrar", "short", create()).unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));

    let result = chain.execute("alice.test", "sub.short", create()).unwrap();
    assert_eq!(
        result.status,
        FinalStatus::Failure(ActionError::CreateAccountNotAllowed {
            account: "sub.short".parse().unwrap(),
            predecessor: "alice.test".parse().unwrap(),
        })
    );
}

#[test]
fn a_receipts_result_is_its_last_actions() {
    // nearcore's `ActionResult::merge` keeps the last action's result: a call returning "x"
    // followed by a transfer ends with an empty value.
    let mut chain = chain_with_contract(
        r#"(module
            (import "env" "value_return" (func $return (param i64 i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "x")
            (func (export "go") (call $return (i64.const 1) (i64.const 0))))"#,
    );
    let go = || Action::FunctionCall {
        method_name: "go".into(),
        args: Vec::new(),
        deposit: 0,
        gas: 10 * TGAS,
    };
    let result = chain.execute("alice.test", "c.test", vec![go()]).unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(b"x".to_vec()));
    let actions = vec![go(), Action::Transfer { deposit: 1 }];
    let result = chain.execute("alice.test", "c.test", actions).unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    let actions = vec![Action::Transfer { deposit: 1 }, go()];
    let result = chain.execute("alice.test", "c.test", actions).unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(b"x".to_vec()));
}

#[test]
fn invalid_account_ids_fail_the_host_call_at_once() {
    // Protocol 83 on (account id validity rules version 2): nearcore's host functions parse
    // the account ids they read and fail with `InvalidAccountId`, a function-call key's
    // receiver included; nothing of the call's promises survives.
    let contract = |body: &str| {
        format!(
            r#"(module
            (import "env" "promise_batch_create" (func $create (param i64 i64) (result i64)))
            (import "env" "promise_batch_then" (func $then (param i64 i64 i64) (result i64)))
            (import "env" "promise_set_refund_to" (func $refund_to (param i64 i64 i64)))
            (import "env" "promise_batch_action_delete_account"
                (func $delete (param i64 i64 i64)))
            (import "env" "promise_batch_action_add_key_with_function_call"
                (func $add (param i64 i64 i64 i64 i64 i64 i64 i64 i64)))
            (import "env" "validator_stake" (func $stake (param i64 i64 i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "c.test")
            (data (i32.const 16) "NOT VALID")
            (data (i32.const 32) "\00\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01")
            (data (i32.const 80) "NOT-ID!")
            (func (export "go") (local $p i64)
                {body}))"#
        )
    };
    let create = |at: u64, len: u64| {
        format!("(local.set $p (call $create (i64.const {len}) (i64.const {at})))")
    };
    let bodies = [
        create(16, 9),
        format!(
            "{} (drop (call $then (local.get $p) (i64.const 9) (i64.const 16)))",
            create(0, 6)
        ),
        format!(
            "{} (call $refund_to (local.get $p) (i64.const 9) (i64.const 16))",
            create(0, 6)
        ),
        format!(
            "{} (call $delete (local.get $p) (i64.const 9) (i64.const 16))",
            create(0, 6)
        ),
        format!(
            "{} (call $add (local.get $p) (i64.const 33) (i64.const 32) (i64.const 0) \
             (i64.const 0) (i64.const 9) (i64.const 16) (i64.const 0) (i64.const 0))",
            create(0, 6)
        ),
        "(call $stake (i64.const 7) (i64.const 80) (i64.const 128))".to_string(),
    ];
    for body in bodies {
        let mut chain = chain_with_contract(&contract(&body));
        let result = chain
            .call("alice.test", "c.test", "go", "", 0, 100 * TGAS)
            .unwrap();
        assert_eq!(
            host_error(&result.status),
            &HostError::InvalidAccountId,
            "{body}"
        );
        assert_eq!(result.receipts.len(), 2, "the call and its refund only");
        assert!(chain.account("c.test").unwrap().keys.is_empty(), "{body}");
    }
}

#[test]
fn a_function_call_key_for_an_invalid_receiver_is_refused_in_a_transaction() {
    // nearcore's `validate_access_key_permission`: the receiver must be a valid account id.
    let mut chain = chain_with_contract("(module)");
    let key = Action::AddKey {
        public_key: [vec![0], vec![1; 32]].concat(),
        nonce: 0,
        permission: AccessKeyPermission::FunctionCall {
            allowance: None,
            receiver_id: "NOT VALID".into(),
            method_names: Vec::new(),
        },
    };
    let error = chain.execute("c.test", "c.test", vec![key]).unwrap_err();
    assert!(
        matches!(
            &error,
            ChainError::InvalidActions(ActionsValidationError::InvalidAccountId { account_id })
                if account_id == "NOT VALID"
        ),
        "{error:?}"
    );
    assert!(chain.account("c.test").unwrap().keys.is_empty());
}

#[test]
fn a_non_utf8_method_name_fails_the_call_after_its_fees() {
    // nearcore checks a method name is UTF-8 when it appends the function call, after paying
    // the action's fees: `InvalidMethodName`, the fees' burnt part burnt with the failed call.
    let contract = |name: &str| {
        format!(
            r#"(module
            (import "env" "promise_batch_create" (func $create (param i64 i64) (result i64)))
            (import "env" "promise_batch_action_function_call"
                (func $call (param i64 i64 i64 i64 i64 i64 i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "c.test")
            (data (i32.const 8) "{name}")
            (func (export "go")
                (call $call (call $create (i64.const 6) (i64.const 0))
                    (i64.const 1) (i64.const 8) (i64.const 0) (i64.const 0) (i64.const 64)
                    (i64.const 5000000000000))
                unreachable))"#
        )
    };
    let burnt = |name: &str| {
        let mut chain = chain_with_contract(&contract(name));
        let result = chain
            .call("alice.test", "c.test", "go", "", 0, 100 * TGAS)
            .unwrap();
        (result.status, result.receipts[0].gas_burnt)
    };
    let (status, invalid_burnt) = burnt("\\ff");
    assert_eq!(host_error(&status), &HostError::InvalidMethodName);
    // A valid name of one byte gets as far (its call then traps): the same gas burnt, and
    // the one instruction (`unreachable`) it runs after the call.
    let (status, valid_burnt) = burnt("a");
    assert!(
        matches!(
            status,
            FinalStatus::Failure(ActionError::FunctionCall(FunctionCallError::Trap(_)))
        ),
        "{status:?}"
    );
    let op = wasm_host::fees::Fees::default().regular_op();
    assert_eq!(invalid_burnt + op, valid_burnt);
}

#[test]
fn instructions_cost_what_nears_finite_wasm_table_says() {
    // Since protocol 84 (finite-wasm): one regular op for every instruction but `block`, `end`
    // and `else`; the bulk ones 26,328,192 gas (32 ops) plus 822,756 (one op) per byte.
    let mut chain = chain_with_contract(
        r#"(module
            (memory 1)
            (func (export "a") i32.const 0 i32.const 0 i32.const 0 memory.fill)
            (func (export "b") i32.const 0 i32.const 0 i32.const 0 drop drop drop)
            (func (export "c") i32.const 0 i32.const 0 i32.const 65536 memory.fill)
            (func (export "d") (block nop) (loop nop) i32.const 0 drop))"#,
    );
    let mut burnt = |method: &str| {
        let result = chain
            .call("alice.test", "c.test", method, "", 0, 10 * TGAS)
            .unwrap();
        assert!(
            matches!(result.status, FinalStatus::SuccessValue(_)),
            "{:?}",
            result.status
        );
        result.receipts[0].gas_burnt
    };
    let (a, b, c, d) = (burnt("a"), burnt("b"), burnt("c"), burnt("d"));
    let op = chain.fees().regular_op();
    assert_eq!(op, 822_756);
    // a: 3 constants and a fill (32); b: 3 constants and 3 drops.
    assert_eq!(a - b, 29 * op);
    // c fills 65,536 bytes more than a.
    assert_eq!(c - a, 65_536 * op);
    // d: a free block and its end, a charged loop, 2 nops, a constant and a drop: 5, against
    // b's 6.
    assert_eq!(b - d, op);
}

#[test]
fn an_account_of_at_most_770_bytes_needs_no_balance() {
    // NEP-448 (nearcore's `check_storage_stake`): a new account with a key and no deposit is
    // allowed; one that stores more than 770 bytes must pay for all of them.
    let mut chain = Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    let mut key = vec![0];
    key.extend_from_slice(&[7; 32]);
    let keyed = vec![
        Action::CreateAccount,
        Action::AddKey {
            public_key: key,
            nonce: 0,
            permission: AccessKeyPermission::FullAccess,
        },
    ];
    let result = chain
        .execute("alice.test", "zero.alice.test", keyed)
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    let zero = chain.account("zero.alice.test").unwrap();
    assert_eq!(zero.balance, 0);
    assert!(zero.storage_usage <= 770, "{}", zero.storage_usage);

    // 800 bytes of data make the code alone larger than the limit.
    let padded = wat::parse_str(format!(
        r#"(module (memory 1) (data (i32.const 0) "{}") (func (export "noop")))"#,
        "x".repeat(800)
    ))
    .unwrap();
    let coded = vec![
        Action::CreateAccount,
        Action::DeployContract {
            code: Arc::new(padded),
        },
    ];
    let result = chain
        .execute("alice.test", "big.alice.test", coded)
        .unwrap();
    assert!(
        matches!(
            result.status,
            FinalStatus::Failure(ActionError::LackBalanceForState { .. })
        ),
        "{:?}",
        result.status
    );
}

#[test]
fn a_lone_transfer_creates_a_near_implicit_account_with_its_key() {
    // As nearcore: a receipt whose only action is a transfer to a missing 64-hex account creates
    // it, with a full-access key whose public key is the id; the transfer pays for the account
    // and the key (send and execution fees), whether the account existed or not.
    let mut chain = chain_with_contract(
        r#"(module
            (import "env" "promise_batch_create" (func $create (param i64 i64) (result i64)))
            (import "env" "promise_batch_action_transfer" (func $transfer (param i64 i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "1111111111111111111111111111111111111111111111111111111111111111")
            (data (i32.const 64) "\00\00\00\a1\ed\cc\ce\1b\c2\d3\00\00\00\00\00\00")
            (func (export "pay")
                (call $transfer (call $create (i64.const 64) (i64.const 0)) (i64.const 64))))"#,
    );
    let implicit = "2222222222222222222222222222222222222222222222222222222222222222";
    let result = chain
        .execute(
            "alice.test",
            implicit,
            vec![Action::Transfer { deposit: ONE_NEAR }],
        )
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    let account = chain.account(implicit).unwrap();
    assert_eq!(account.balance, ONE_NEAR);
    let mut key = vec![0];
    key.extend([0x22; 32]);
    assert!(matches!(
        account.keys.get(&key).map(|k| &k.permission),
        Some(AccessKeyPermission::FullAccess)
    ));
    let fees = chain.fees();
    let exec = fees.exec(Fee::new_action_receipt)
        + fees.exec(Fee::transfer)
        + fees.exec(Fee::create_account)
        + fees.exec(Fee::add_full_access_key);
    assert_eq!(result.receipts[0].gas_burnt, exec);
    assert_eq!(
        fees.transfer_exec(&implicit.parse::<wasm_host::abi::AccountId>().unwrap()),
        exec - fees.exec(Fee::new_action_receipt)
    );

    // A contract paying one: 1 NEAR from its balance.
    let paid = chain
        .call("alice.test", "c.test", "pay", "", 0, 10 * TGAS)
        .unwrap();
    assert_eq!(paid.status, FinalStatus::SuccessValue(Vec::new()));
    let payee = "1111111111111111111111111111111111111111111111111111111111111111";
    assert_eq!(chain.account(payee).unwrap().balance, ONE_NEAR);

    // Not with another action in the receipt: the account must exist for that.
    let other = "3333333333333333333333333333333333333333333333333333333333333333";
    let two = vec![
        Action::Transfer { deposit: ONE_NEAR },
        Action::Transfer { deposit: ONE_NEAR },
    ];
    let result = chain.execute("alice.test", other, two).unwrap();
    assert!(
        matches!(
            result.status,
            FinalStatus::Failure(ActionError::AccountDoesNotExist(_))
        ),
        "{:?}",
        result.status
    );
    assert!(chain.account(other).is_none());
}

#[test]
fn each_call_pays_for_its_frame() {
    // finite-wasm charges a function's frame on entry: ceil((64 + its parameters and locals,
    // in bytes) / 8) regular ops.
    let mut chain = chain_with_contract(
        r#"(module
            (memory 1)
            (func $bare)
            (func $framed (param i64) (local i32 i32 i64))
            (func (export "a") call $bare)
            (func (export "b") i64.const 0 call $framed)
            (func (export "c") nop)
            (func (export "d") call $bare call $bare))"#,
    );
    let mut burnt = |method: &str| {
        let result = chain
            .call("alice.test", "c.test", method, "", 0, 10 * TGAS)
            .unwrap();
        assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
        result.receipts[0].gas_burnt
    };
    let (a, b, c, d) = (burnt("a"), burnt("b"), burnt("c"), burnt("d"));
    let op = chain.fees().regular_op();
    // a: the call and $bare's 64-byte frame (8); c: a nop.
    assert_eq!(a - c, 8 * op);
    // b: a constant, the call and $framed's 64 + 8 + 4 + 4 + 8 = 88-byte frame (11).
    assert_eq!(b - c, 12 * op);
    // d: a second call of $bare.
    assert_eq!(d - a, 9 * op);
}
