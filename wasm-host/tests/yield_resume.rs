//! Yield/resume: a yielded request answered by a later transaction, or timing out after 200
//! blocks.

mod common;

use common::{chain_with, GAS};
use serde_json::json;
use wasm_host::chain::FinalStatus;

#[test]
fn a_yield_is_resumed_by_a_later_transaction() {
    let mut chain = chain_with(&[("yield.test", "test_yield")]);
    let request = chain
        .call("alice.test", "yield.test", "request", "{}", 0, GAS)
        .unwrap();
    assert_eq!(request.status, FinalStatus::Pending);
    assert_eq!(request.logs(), vec!["request 0 yielded"]);
    chain.advance_blocks(5);
    assert_eq!(chain.tx_result(&request.tx_id).status, FinalStatus::Pending);

    let respond = chain
        .call(
            "alice.test",
            "yield.test",
            "respond",
            json!({"id": 0, "answer": "42"}).to_string(),
            0,
            GAS,
        )
        .unwrap();
    assert!(respond.json::<bool>());
    chain.advance_blocks(2);
    let request = chain.tx_result(&request.tx_id);
    assert_eq!(request.json::<String>(), "42");
    let answer = chain
        .view("yield.test", "answer", json!({"id": 0}).to_string())
        .unwrap();
    assert_eq!(answer.json::<Option<String>>().unwrap(), Some("42".into()));

    // The first resume won: a second one finds nothing pending.
    let again = chain
        .call(
            "alice.test",
            "yield.test",
            "respond",
            json!({"id": 0, "answer": "43"}).to_string(),
            0,
            GAS,
        )
        .unwrap();
    assert!(!again.json::<bool>());
}

#[test]
fn a_yield_times_out_after_200_blocks() {
    let mut chain = chain_with(&[("yield.test", "test_yield")]);
    let request = chain
        .call("alice.test", "yield.test", "request", "{}", 0, GAS)
        .unwrap();
    let created = request.receipts[0].block_height;
    let timeout = chain.fees().limits().yield_timeout_length_in_blocks;
    assert_eq!(timeout, 200);
    chain.advance_blocks(created + timeout - 1 - chain.block_height());
    assert_eq!(chain.tx_result(&request.tx_id).status, FinalStatus::Pending);
    chain.advance_blocks(1);
    let request = chain.tx_result(&request.tx_id);
    assert_eq!(request.json::<String>(), "timeout");
    assert_eq!(
        request.receipts.last().unwrap().block_height,
        created + timeout
    );
    // Too late to resume now.
    let late = chain
        .call(
            "alice.test",
            "yield.test",
            "respond",
            json!({"id": 0, "answer": "x"}).to_string(),
            0,
            GAS,
        )
        .unwrap();
    assert!(!late.json::<bool>());
}

#[test]
fn a_yield_resumed_by_the_call_that_created_it_delivers_the_payload() {
    // `go` yields to `cb` and resumes it at once with "hi"; `cb` logs the payload it received.
    let code = wat::parse_str(
        r#"(module
            (import "env" "promise_yield_create"
                (func $yield (param i64 i64 i64 i64 i64 i64 i64) (result i64)))
            (import "env" "promise_yield_resume" (func $resume (param i64 i64 i64 i64) (result i32)))
            (import "env" "promise_result" (func $result (param i64 i64) (result i64)))
            (import "env" "log_utf8" (func $log (param i64 i64)))
            (import "env" "read_register" (func $read (param i64 i64)))
            (import "env" "register_len" (func $len (param i64) (result i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "cb")
            (data (i32.const 8) "hi")
            (func (export "go")
                (drop (call $yield (i64.const 2) (i64.const 0) (i64.const 0) (i64.const 0)
                    (i64.const 5000000000000) (i64.const 0) (i64.const 1)))
                (call $read (i64.const 1) (i64.const 64))
                (if (i32.ne (call $resume (i64.const 32) (i64.const 64) (i64.const 2) (i64.const 8))
                        (i32.const 1))
                    (then unreachable)))
            (func (export "cb")
                (if (i64.ne (call $result (i64.const 0) (i64.const 2)) (i64.const 1))
                    (then unreachable))
                (call $read (i64.const 2) (i64.const 128))
                (call $log (call $len (i64.const 2)) (i64.const 128))))"#,
    )
    .unwrap();
    let mut chain = chain_with(&[]);
    chain
        .create_account("y.test", 10 * wasm_host::chain::ONE_NEAR)
        .unwrap();
    chain.deploy("y.test", code).unwrap().into_result().unwrap();
    let result = chain
        .call("alice.test", "y.test", "go", "", 0, GAS)
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    assert!(result.logs().contains(&"hi"), "logs: {:?}", result.logs());
}
