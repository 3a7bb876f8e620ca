//! Yield/resume: a yielded request answered by a later transaction, or timing out after 200
//! blocks.

mod common;

use common::{chain_with, GAS};
use serde_json::json;
use wasm_host::chain::FinalStatus;

/// A chain whose account `y.test` runs the wasm module `code`.
fn chain_with_module(code: Vec<u8>) -> wasm_host::chain::Chain {
    let mut chain = chain_with(&[]);
    chain
        .create_account("y.test", 10 * wasm_host::chain::ONE_NEAR)
        .unwrap();
    chain.deploy("y.test", code).unwrap().into_result().unwrap();
    chain
}

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
    // The timeout is sent at the end of the expiry block and arrives in the next one.
    chain.advance_blocks(created + timeout - chain.block_height());
    assert_eq!(chain.tx_result(&request.tx_id).status, FinalStatus::Pending);
    chain.advance_blocks(1);
    let request = chain.tx_result(&request.tx_id);
    assert_eq!(request.json::<String>(), "timeout");
    assert_eq!(
        request.receipts.last().unwrap().block_height,
        created + timeout + 1
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
fn a_resume_sent_in_the_expiry_block_arrives_before_the_timeout() {
    let mut chain = chain_with(&[("yield.test", "test_yield")]);
    let request = chain
        .call("alice.test", "yield.test", "request", "{}", 0, GAS)
        .unwrap();
    let created = request.receipts[0].block_height;
    let timeout = chain.fees().limits().yield_timeout_length_in_blocks;
    // A submitted transaction is in the next block, and its receipt runs in the block after:
    // the expiry block.
    chain.advance_blocks(created + timeout - 2 - chain.block_height());
    let respond = chain
        .call(
            "alice.test",
            "yield.test",
            "respond",
            json!({"id": 0, "answer": "just in time"}).to_string(),
            0,
            GAS,
        )
        .unwrap();
    assert_eq!(respond.receipts[0].block_height, created + timeout);
    assert!(respond.json::<bool>());
    chain.advance_blocks(2);
    let request = chain.tx_result(&request.tx_id);
    assert_eq!(request.json::<String>(), "just in time");
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
    let mut chain = chain_with_module(code);
    let result = chain
        .call("alice.test", "y.test", "go", "", 0, GAS)
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    assert!(result.logs().contains(&"hi"), "logs: {:?}", result.logs());
}

#[test]
fn every_resume_sent_while_a_yield_waits_succeeds_and_the_first_to_arrive_is_delivered() {
    // `y` yields to `cb` and keeps the data id under "k"; `r` resumes it twice with its input (from
    // memory: a payload length of u64::MAX overflows its per-byte fee, as on NEAR) and returns
    // the two results as digits; `cb` logs the payload it received.
    let code = wat::parse_str(
        r#"(module
            (import "env" "promise_yield_create"
                (func $yield (param i64 i64 i64 i64 i64 i64 i64) (result i64)))
            (import "env" "promise_yield_resume" (func $resume (param i64 i64 i64 i64) (result i32)))
            (import "env" "storage_write" (func $write (param i64 i64 i64 i64 i64) (result i64)))
            (import "env" "storage_read" (func $read (param i64 i64 i64) (result i64)))
            (import "env" "input" (func $input (param i64)))
            (import "env" "promise_result" (func $result (param i64 i64) (result i64)))
            (import "env" "read_register" (func $read_register (param i64 i64)))
            (import "env" "register_len" (func $len (param i64) (result i64)))
            (import "env" "log_utf8" (func $log (param i64 i64)))
            (import "env" "value_return" (func $return (param i64 i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "cb")
            (data (i32.const 8) "k")
            (func (export "y")
                (drop (call $yield (i64.const 2) (i64.const 0) (i64.const 0) (i64.const 0)
                    (i64.const 5000000000000) (i64.const 0) (i64.const 1)))
                (drop (call $write (i64.const 1) (i64.const 8) (i64.const -1) (i64.const 1)
                    (i64.const 0))))
            (func $resume_with_input (result i32)
                (call $resume (i64.const -1) (i64.const 0) (call $len (i64.const 2))
                    (i64.const 256)))
            (func (export "r")
                (drop (call $read (i64.const 1) (i64.const 8) (i64.const 0)))
                (call $input (i64.const 2))
                (call $read_register (i64.const 2) (i64.const 256))
                (i32.store8 (i32.const 16) (i32.add (i32.const 48) (call $resume_with_input)))
                (i32.store8 (i32.const 17) (i32.add (i32.const 48) (call $resume_with_input)))
                (call $return (i64.const 2) (i64.const 16)))
            (func (export "cb")
                (if (i64.ne (call $result (i64.const 0) (i64.const 3)) (i64.const 1))
                    (then unreachable))
                (call $read_register (i64.const 3) (i64.const 128))
                (call $log (call $len (i64.const 3)) (i64.const 128))))"#,
    )
    .unwrap();
    let mut chain = chain_with_module(code);
    let yielded = chain.call("alice.test", "y.test", "y", "", 0, GAS).unwrap();
    assert_eq!(yielded.status, FinalStatus::SuccessValue(Vec::new()));
    chain.advance_blocks(2);

    // Two resuming transactions in one block: each of the four resumes finds the yield waiting.
    let call = |payload: &str| wasm_host::abi::Action::FunctionCall {
        method_name: "r".into(),
        args: payload.as_bytes().to_vec(),
        deposit: 0,
        gas: GAS,
    };
    let first = chain
        .submit("alice.test", "y.test", vec![call("first")])
        .unwrap();
    let second = chain
        .submit("alice.test", "y.test", vec![call("second")])
        .unwrap();
    // The transactions' block, their calls, the resume's callback, one spare.
    chain.advance_blocks(4);
    for tx in [first, second] {
        assert_eq!(chain.tx_result(&tx).into_result().unwrap(), b"11");
    }
    // Only the first resume to arrive reached the callback.
    let yielded = chain.tx_result(&yielded.tx_id);
    assert_eq!(yielded.logs(), vec!["first"]);

    // The yield is gone now.
    let late = chain
        .call("alice.test", "y.test", "r", "late", 0, GAS)
        .unwrap();
    assert_eq!(late.into_result().unwrap(), b"00");
}
