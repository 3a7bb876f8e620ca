//! `env::random_seed` as nearcore gives it: unique to each action of each receipt, mixed with the
//! block's random value (`create_random_seed` of the action hash), and for a view the seed of an
//! all-zero action hash.

use sha2::{Digest, Sha256};
use wasm_host::abi::{Action, CryptoHash};
use wasm_host::chain::{Chain, ExecutionStatus, FinalStatus, ONE_NEAR, TGAS};

/// `seed` returns the seed; `store_seed` writes it under the key its input names.
const SEED_CONTRACT: &str = r#"(module
    (import "env" "random_seed" (func $random_seed (param i64)))
    (import "env" "input" (func $input (param i64)))
    (import "env" "value_return" (func $value_return (param i64 i64)))
    (import "env" "read_register" (func $read_register (param i64 i64)))
    (import "env" "register_len" (func $register_len (param i64) (result i64)))
    (import "env" "storage_write"
        (func $storage_write (param i64 i64 i64 i64 i64) (result i64)))
    (memory (export "memory") 1)
    (func (export "seed")
        (call $random_seed (i64.const 0))
        (call $read_register (i64.const 0) (i64.const 0))
        (call $value_return (i64.const 32) (i64.const 0)))
    (func (export "store_seed")
        (call $random_seed (i64.const 0))
        (call $read_register (i64.const 0) (i64.const 0))
        (call $input (i64.const 1))
        (call $read_register (i64.const 1) (i64.const 64))
        (drop (call $storage_write
            (call $register_len (i64.const 1)) (i64.const 64)
            (i64.const 32) (i64.const 0)
            (i64.const 2)))))"#;

fn chain_with_seed_contract() -> Chain {
    let mut chain = Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    chain.create_account("c.test", 10 * ONE_NEAR).unwrap();
    let code = wat::parse_str(SEED_CONTRACT).unwrap();
    chain.deploy("c.test", code).unwrap().into_result().unwrap();
    chain
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().to_vec()
}

/// The block's random value: SHA-256 of its height (what the `block` view reports).
fn random_value(height: u64) -> Vec<u8> {
    sha256(&[&height.to_le_bytes()])
}

/// nearcore's seed for action `index` of receipt `receipt_id` run at `height`:
/// `create_random_seed(create_action_hash_from_receipt_id(..), random_value)`.
fn expected_seed(receipt_id: &CryptoHash, height: u64, index: u64) -> Vec<u8> {
    let salt = u64::MAX - index;
    let action_hash = sha256(&[receipt_id, &height.to_le_bytes(), &salt.to_le_bytes()]);
    sha256(&[&action_hash, &random_value(height)])
}

fn call(method: &str, args: &[u8]) -> Action {
    Action::FunctionCall {
        method_name: method.to_string(),
        args: args.to_vec(),
        deposit: 0,
        gas: 10 * TGAS,
    }
}

#[test]
fn two_receipts_of_one_block_get_different_seeds() {
    let mut chain = chain_with_seed_contract();
    let first = chain
        .submit("alice.test", "c.test", vec![call("seed", b"")])
        .unwrap();
    let second = chain
        .submit("alice.test", "c.test", vec![call("seed", b"")])
        .unwrap();
    while chain.in_flight(&first) || chain.in_flight(&second) {
        chain.produce_block();
    }
    let seed_of = |tx| {
        let result = chain.tx_result(&tx);
        let outcome = result.receipts[0].clone();
        let ExecutionStatus::SuccessValue(seed) = &outcome.status else {
            panic!("the call failed: {outcome:?}");
        };
        (seed.clone(), outcome)
    };
    let (seed1, outcome1) = seed_of(first);
    let (seed2, outcome2) = seed_of(second);
    assert_eq!(outcome1.block_height, outcome2.block_height, "one block");
    assert_eq!(seed1.len(), 32);
    assert_ne!(seed1, seed2);
    let height = outcome1.block_height;
    assert_eq!(seed1, expected_seed(&outcome1.receipt_id, height, 0));
    assert_eq!(seed2, expected_seed(&outcome2.receipt_id, height, 0));
}

#[test]
fn each_function_call_of_a_receipt_gets_its_own_seed() {
    let mut chain = chain_with_seed_contract();
    let result = chain
        .execute(
            "alice.test",
            "c.test",
            vec![call("store_seed", b"a"), call("store_seed", b"b")],
        )
        .unwrap();
    assert!(
        matches!(result.status, FinalStatus::SuccessValue(_)),
        "{:?}",
        result.status
    );
    let outcome = &result.receipts[0];
    let a = chain.storage_value("c.test", b"a").unwrap().to_vec();
    let b = chain.storage_value("c.test", b"b").unwrap().to_vec();
    assert_ne!(a, b);
    assert_eq!(
        a,
        expected_seed(&outcome.receipt_id, outcome.block_height, 0)
    );
    assert_eq!(
        b,
        expected_seed(&outcome.receipt_id, outcome.block_height, 1)
    );
}

#[test]
fn a_view_gets_the_seed_of_a_zero_action_hash_and_the_blocks_random_value() {
    let mut chain = chain_with_seed_contract();
    let height = chain.block_height();
    let seed = chain.view("c.test", "seed", "").unwrap().result;
    assert_eq!(seed, sha256(&[&[0; 32], &random_value(height)]));
    assert_eq!(chain.view("c.test", "seed", "").unwrap().result, seed);
    chain.produce_block();
    assert_ne!(chain.view("c.test", "seed", "").unwrap().result, seed);
}
