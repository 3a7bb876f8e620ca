//! NEAR's limit on a contract's wasm stack (`max_stack_height`, 262,144 bytes since protocol 62):
//! every call of a function the contract defines, the called method included, takes the
//! function's frame (64 bytes plus its parameters and locals) and its most operand-stack bytes
//! from the budget until it returns, and a call the budget cannot cover fails with
//! `HostError(MemoryAccessViolation)`. Every function call action starts with the whole budget.

use wasm_host::abi::{HostError, MemoryError};
use wasm_host::chain::{ActionError, Chain, FinalStatus, ONE_NEAR, TGAS};
use wasm_host::engine::{FunctionCallError, WasmTrap};

const BUDGET: u64 = 262_144;

/// `$rec` takes 76 bytes a call: a frame of 64 + 4 (its `i32` parameter) and at most 8 bytes of
/// operands (`local.get` and `i32.const` before the `i32.sub`). Each method takes 96: a frame of
/// 64 + 28 (seven `i32` locals) and the 4 bytes of the depth it passes. 96 + 3,448 × 76 is the
/// budget exactly: `fits` recurses to depth 3,447 (3,448 calls of `$rec`) with nothing left,
/// `over` one call deeper, `less` one call less; two variants of `fits` need 4 bytes more.
const RECURSION: &str = r#"(module
    (table 1 funcref)
    (elem (i32.const 0) $by_return)
    (func $rec (param $n i32)
        (if (local.get $n)
            (then (call $rec (i32.sub (local.get $n) (i32.const 1))))))
    (func (export "fits") (local i32 i32 i32 i32 i32 i32 i32)
        (call $rec (i32.const 3447)))
    (func (export "over") (local i32 i32 i32 i32 i32 i32 i32)
        (call $rec (i32.const 3448)))
    (func (export "less") (local i32 i32 i32 i32 i32 i32 i32)
        (call $rec (i32.const 3446)))
    ;; `fits` with 4 bytes more: one more local, or one more operand under the depth.
    (func (export "fits_and_a_local") (local i32 i32 i32 i32 i32 i32 i32 i32)
        (call $rec (i32.const 3447)))
    (func (export "fits_and_an_operand") (local i32 i32 i32 i32 i32 i32 i32)
        (i32.const 0)
        (call $rec (i32.const 3447))
        (drop))

    (func (export "forever") (call $forever))
    (func $forever (call $forever))

    (func (export "trap") (call $trap_at (i32.const 3000)))
    (func $trap_at (param $n i32)
        (if (local.get $n)
            (then (call $trap_at (i32.sub (local.get $n) (i32.const 1))))
            (else unreachable)))

    (func $by_return (result i32) (return (i32.const 1)) )
    (func $by_br (result i32) (br 0 (i32.const 1)))
    (func $by_br_if (param i32) (result i32)
        (drop (br_if 0 (i32.const 1) (local.get 0)))
        (i32.const 2))
    (func $by_br_table (param i32)
        (block (br_table 0 1 (local.get 0))))
    ;; 5,000 rounds of calls that leave by every way there is: were the budget not given back
    ;; on each, it would run out within a few hundred rounds.
    (func (export "exits") (local $i i32)
        (loop $round
            (drop (call $by_return))
            (drop (call $by_br))
            (drop (call $by_br_if (i32.const 0)))
            (drop (call $by_br_if (i32.const 1)))
            (call $by_br_table (i32.const 0))
            (call $by_br_table (i32.const 1))
            (drop (call_indirect (result i32) (i32.const 0)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $round (i32.lt_u (local.get $i) (i32.const 5000))))))"#;

fn chain_with_contract(wat: &str) -> Chain {
    let mut chain = Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    chain.create_account("c.test", 10 * ONE_NEAR).unwrap();
    let code = wat::parse_str(wat).unwrap();
    chain.deploy("c.test", code).unwrap().into_result().unwrap();
    chain
}

/// Calls `method` of `c.test`: its status and the gas its receipt burnt.
fn call(chain: &mut Chain, method: &str) -> (FinalStatus, u64) {
    let result = chain
        .call("alice.test", "c.test", method, "", 0, 300 * TGAS)
        .unwrap();
    (result.status, result.receipts[0].gas_burnt)
}

fn assert_succeeded(status: &FinalStatus) {
    assert!(matches!(status, FinalStatus::SuccessValue(_)), "{status:?}");
}

fn assert_stack_exhausted(status: &FinalStatus) {
    assert!(
        matches!(
            status,
            FinalStatus::Failure(ActionError::FunctionCall(FunctionCallError::Host(
                HostError::Memory(MemoryError::StackExhausted { limit: BUDGET })
            )))
        ),
        "{status:?}"
    );
}

#[test]
fn recursion_may_use_the_whole_budget_and_not_a_byte_more() {
    let mut chain = chain_with_contract(RECURSION);
    let (status, _) = call(&mut chain, "fits");
    assert_succeeded(&status);
    for method in ["fits_and_a_local", "fits_and_an_operand", "over"] {
        let (status, _) = call(&mut chain, method);
        assert_stack_exhausted(&status);
    }
    let (status, _) = call(&mut chain, "over");
    // nearcore's text for the error.
    let FinalStatus::Failure(ActionError::FunctionCall(error)) = &status else {
        unreachable!()
    };
    assert_eq!(
        wasm_host::views::function_call_error_debug(error),
        "HostError(MemoryAccessViolation)"
    );
}

#[test]
fn unbounded_recursion_runs_out_of_budget_not_of_native_stack() {
    let mut chain = chain_with_contract(RECURSION);
    let (status, _) = call(&mut chain, "forever");
    assert_stack_exhausted(&status);
}

#[test]
fn a_failed_call_leaves_the_next_one_the_whole_budget() {
    let mut chain = chain_with_contract(RECURSION);
    for _ in 0..2 {
        let (status, _) = call(&mut chain, "over");
        assert_stack_exhausted(&status);
        let (status, _) = call(&mut chain, "fits");
        assert_succeeded(&status);
    }
    // A trap 3,000 calls deep.
    let (status, _) = call(&mut chain, "trap");
    assert!(
        matches!(
            status,
            FinalStatus::Failure(ActionError::FunctionCall(FunctionCallError::Trap(
                WasmTrap::Unreachable
            )))
        ),
        "{status:?}"
    );
    let (status, _) = call(&mut chain, "fits");
    assert_succeeded(&status);
}

#[test]
fn every_way_out_of_a_function_gives_its_stack_back() {
    let mut chain = chain_with_contract(RECURSION);
    let (status, _) = call(&mut chain, "exits");
    assert_succeeded(&status);
}

#[test]
fn the_limit_costs_no_gas() {
    // One call of `$rec` more costs its frame, ceil(68 / 8) = 9 regular ops, and its six
    // instructions (`local.get`, `if`, `local.get`, `i32.const`, `i32.sub`, `call`): 15 ops,
    // as on NEAR, with nothing for the stack bookkeeping.
    let mut chain = chain_with_contract(RECURSION);
    let (status, fits) = call(&mut chain, "fits");
    assert_succeeded(&status);
    let (status, less) = call(&mut chain, "less");
    assert_succeeded(&status);
    let op = chain.fees().regular_op();
    assert_eq!(fits - less, 15 * op);
    // A call refused its stack is charged for what ran up to its `call`, and nothing of the
    // refused function (nearcore checks the stack before it charges the frame): `over` pays
    // 3,448 full calls of `$rec` where `fits` pays 3,447 and a last one that only tests its
    // depth (9 + 2 ops).
    let (status, over) = call(&mut chain, "over");
    assert_stack_exhausted(&status);
    assert_eq!(over - fits, (15 - 11) * op);
}

/// `$nested` leaves through a `return` three blocks deep; `$flat` computes the same with one
/// `i32.const`. Both have the same frame (64 + 4 bytes: 9 ops), and each method's own code is
/// the same but for the function it calls (and their names are as long).
const RETURNS: &str = r#"(module
    (func $nested (param $x i32) (result i32)
        (block
            (loop
                (if (local.get $x)
                    (then (block (return (i32.const 7)))))))
        (i32.const 0))
    (func $flat (param $x i32) (result i32)
        (i32.const 7))
    (func (export "nest")
        (if (i32.ne (call $nested (i32.const 1)) (i32.const 7)) (then unreachable)))
    (func (export "flat")
        (if (i32.ne (call $flat (i32.const 1)) (i32.const 7)) (then unreachable))))"#;

#[test]
fn a_return_from_nested_blocks_costs_what_it_costs_on_near() {
    // `$nested` runs `block` (free), `loop`, `local.get`, `if`, `block` (free), `i32.const`
    // and `return`: five ops, four more than `$flat`'s `i32.const`.
    let mut chain = chain_with_contract(RETURNS);
    let (status, nested) = call(&mut chain, "nest");
    assert_succeeded(&status);
    let (status, flat) = call(&mut chain, "flat");
    assert_succeeded(&status);
    assert_eq!(nested - flat, 4 * chain.fees().regular_op());
}

#[test]
fn a_function_of_120_000_returns_runs() {
    // 120 KB of code, within NEAR's 196,608 bytes a function: all but the first `return` are
    // unreachable, and valid.
    let wat = format!(
        r#"(module (func (export "returns") {}))"#,
        "return ".repeat(120_000)
    );
    let mut chain = chain_with_contract(&wat);
    let (status, _) = call(&mut chain, "returns");
    assert_succeeded(&status);
}
