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
