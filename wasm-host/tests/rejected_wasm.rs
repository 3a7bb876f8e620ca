//! Contracts the real runtime refuses are refused here too, with a clear error.

use wasm_host::chain::{ActionError, Chain, FinalStatus, ONE_NEAR, TGAS};
use wasm_host::engine::FunctionCallError;
use wasm_host::prepare::PrepareError;

fn call_code(wat: &str) -> FinalStatus {
    let mut chain = Chain::new();
    chain.create_account("alice.test", 10 * ONE_NEAR).unwrap();
    chain.create_account("bad.test", 10 * ONE_NEAR).unwrap();
    chain
        .deploy("bad.test", wat::parse_str(wat).unwrap())
        .unwrap();
    chain
        .call("alice.test", "bad.test", "main", "", 0, 10 * TGAS)
        .unwrap()
        .status
}

fn prepare_error(status: FinalStatus) -> (PrepareError, String) {
    match status {
        FinalStatus::Failure(ActionError::FunctionCall(
            error @ FunctionCallError::Prepare { .. },
        )) => {
            let message = error.to_string();
            let FunctionCallError::Prepare { error, .. } = error else {
                unreachable!()
            };
            (error, message)
        }
        other => panic!("expected the contract to be refused, got {other:?}"),
    }
}

#[test]
fn an_unknown_import_is_refused() {
    let (error, message) = prepare_error(call_code(
        r#"(module (import "env" "teleport" (func (param i64))) (func (export "main")))"#,
    ));
    assert_eq!(error, PrepareError::UnknownHostFunction("teleport".into()));
    assert_eq!(
        message,
        "contract of `bad.test` was refused: import `env.teleport` is not a NEAR host function"
    );
}

#[test]
fn simd_is_refused() {
    let (error, message) = prepare_error(call_code(
        r#"(module (func (export "main") (drop (v128.const i64x2 0 0))))"#,
    ));
    assert!(matches!(error, PrepareError::Invalid(_)), "{error}");
    assert!(message.contains("SIMD"), "{message}");
}

#[test]
fn a_minimal_valid_contract_runs_with_memory_imported() {
    let status = call_code(
        r#"(module
             (import "env" "value_return" (func $ret (param i64 i64)))
             (memory 1)
             (data (i32.const 0) "ok")
             (func (export "main")
               ;; NEAR gives 1024 pages whatever the module declared.
               (if (i32.ne (memory.size) (i32.const 1024)) (then unreachable))
               (call $ret (i64.const 2) (i64.const 0))))"#,
    );
    assert_eq!(status, FinalStatus::SuccessValue(b"ok".to_vec()));
}

#[test]
fn an_unsupported_host_function_fails_clearly_when_called() {
    let status = call_code(
        r#"(module
             (import "env" "bls12381_p1_sum" (func $f (param i64 i64 i64) (result i64)))
             (func (export "main") (drop (call $f (i64.const 0) (i64.const 0) (i64.const 0)))))"#,
    );
    let FinalStatus::Failure(error) = status else {
        panic!("expected a failure");
    };
    assert_eq!(
        error.to_string(),
        "host function `bls12381_p1_sum` is not supported by wasm-host"
    );
}
