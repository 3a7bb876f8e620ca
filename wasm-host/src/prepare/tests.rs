use super::*;

fn wasm(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("test module parses")
}

const MINIMAL: &str = r#"
(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "value_return" (func $ret (param i64 i64)))
  (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
  (import "env" "promise_yield_resume" (func $resume (param i64 i64 i64 i64) (result i32)))
  (memory 17)
  (table 1 funcref)
  (global $g (mut i32) (i32.const 0))
  (func (export "hello")
    i64.const 0
    call $input
    i32.const 1
    i32.extend8_s
    global.set $g
    i32.const 0 i32.const 0 i32.const 0 memory.fill))
"#;

#[test]
fn a_module_in_nears_feature_set_is_accepted() {
    let summary = prepare(&wasm(MINIMAL)).unwrap();
    assert_eq!(
        summary.imports,
        vec!["input", "value_return", "abort", "promise_yield_resume"]
    );
    assert_eq!(summary.exports, vec!["hello"]);
}

#[test]
fn rejected_features() {
    let cases = [
        ("simd", "(module (func (result v128) v128.const i64x2 0 0))"),
        (
            "multi-value",
            "(module (func (result i32 i32) i32.const 0 i32.const 1))",
        ),
        (
            "threads",
            "(module (memory 1 1 shared) (func (drop (i32.atomic.load (i32.const 0)))))",
        ),
        ("tail calls", "(module (func $f return_call $f))"),
    ];
    for (name, text) in cases {
        let err = prepare(&wasm(text)).unwrap_err();
        assert!(matches!(err, PrepareError::Invalid(_)), "{name}: {err}");
    }
}

#[test]
fn imports_must_be_env_host_functions_with_exact_signatures() {
    let foreign = r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))"#;
    assert!(matches!(
        prepare(&wasm(foreign)),
        Err(PrepareError::ForeignImport { .. })
    ));
    let unknown = r#"(module (import "env" "launch_missiles" (func)))"#;
    assert_eq!(
        prepare(&wasm(unknown)),
        Err(PrepareError::UnknownHostFunction("launch_missiles".into()))
    );
    let wrong = r#"(module (import "env" "input" (func (param i32))))"#;
    let err = prepare(&wasm(wrong)).unwrap_err();
    assert!(matches!(err, PrepareError::WrongSignature { .. }), "{err}");
    assert!(err.to_string().contains("(i64) -> ()"), "{err}");
    let memory = r#"(module (import "env" "memory" (memory 1)))"#;
    assert!(matches!(
        prepare(&wasm(memory)),
        Err(PrepareError::ForeignImport { .. })
    ));
}

#[test]
fn limits() {
    assert_eq!(
        prepare(&wasm("(module (memory 2049))")),
        Err(PrepareError::MemoryTooLarge(2049))
    );
    assert_eq!(
        prepare(&wasm("(module (table 10001 funcref))")),
        Err(PrepareError::TableTooLarge(10001))
    );
    let too_big = vec![0u8; MAX_CONTRACT_SIZE + 1];
    assert_eq!(
        prepare(&too_big),
        Err(PrepareError::TooLarge(MAX_CONTRACT_SIZE + 1))
    );
    assert!(matches!(
        prepare(b"\0asm\x01\0\0\0\x01"),
        Err(PrepareError::Invalid(_))
    ));
}
