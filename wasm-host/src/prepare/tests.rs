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

/// A module of `functions`, each `(type, locals, body)`: the type an index into `types`
/// (parameter counts, all i32), the locals a count of i32s, the body its instructions before `end`.
fn module(types: &[u32], functions: &[(u32, u32, &[wasm_encoder::Instruction<'_>])]) -> Vec<u8> {
    padded_module(types, functions, 0)
}

/// [`module`] with a custom section of `padding` bytes.
fn padded_module(
    types: &[u32],
    functions: &[(u32, u32, &[wasm_encoder::Instruction<'_>])],
    padding: usize,
) -> Vec<u8> {
    use wasm_encoder::{
        CodeSection, CustomSection, Function, FunctionSection, Module, TypeSection, ValType,
    };
    let mut type_section = TypeSection::new();
    for &params in types {
        type_section
            .ty()
            .function(vec![ValType::I32; params as usize], []);
    }
    let mut function_section = FunctionSection::new();
    let mut code = CodeSection::new();
    for (ty, locals, body) in functions {
        function_section.function(*ty);
        let locals = (*locals > 0).then_some((*locals, ValType::I32));
        let mut function = Function::new(locals);
        for instruction in *body {
            function.instruction(instruction);
        }
        function.instruction(&wasm_encoder::Instruction::End);
        code.function(&function);
    }
    let mut module = Module::new();
    module.section(&type_section);
    if !functions.is_empty() {
        module.section(&function_section);
        module.section(&code);
    }
    if padding > 0 {
        let data = vec![0; padding];
        module.section(&CustomSection {
            name: "padding".into(),
            data: data.into(),
        });
    }
    module.finish()
}

/// NEAR's limits are the protocol's: checked against the limit table, not retyped.
#[test]
fn code_limits_come_from_the_protocols_limit_table() {
    let config = Fees::default();
    let limits = config.limits();
    assert_eq!(limits.max_types_per_contract, Some(1024));
    assert_eq!(limits.max_function_body_size, Some(196_608));
    assert_eq!(limits.max_locals_per_contract, Some(1_000_000));
    assert_eq!(limits.min_contract_size_per_local, Some(2));
    assert_eq!(limits.max_params_per_function, Some(64));
    assert_eq!(limits.max_params_per_contract, Some(50_000));
    assert_eq!(limits.max_blocks_per_function, Some(5_000));
    assert_eq!(limits.max_blocks_per_contract, Some(50_000));
    assert_eq!(limits.max_operand_stack_bytes_per_function, Some(8_192));
    assert_eq!(limits.max_stack_height, 262_144);
    assert_eq!(limits.max_deploy_actions_per_receipt, 10);
    assert_eq!(
        limits.max_functions_number_per_contract,
        Some(MAX_FUNCTIONS)
    );
    assert_eq!(limits.max_tables_per_contract, Some(MAX_TABLES));
    assert_eq!(
        limits.max_elements_per_contract_table,
        Some(MAX_TABLE_ELEMENTS as usize)
    );
}

#[test]
fn type_count_limit() {
    assert!(prepare(&module(&[0; 1024], &[])).is_ok());
    assert_eq!(
        prepare(&module(&[0; 1025], &[])),
        Err(PrepareError::TooManyTypes {
            count: 1025,
            limit: 1024
        })
    );
}

#[test]
fn function_body_size_limit() {
    // A body is its locals vector (1 byte here), its instructions and `end`.
    let nops = |count: usize| vec![wasm_encoder::Instruction::Nop; count];
    let at_limit = nops(196_608 - 2);
    assert!(prepare(&module(&[0], &[(0, 0, &at_limit)])).is_ok());
    let over = nops(196_608 - 1);
    assert_eq!(
        prepare(&module(&[0], &[(0, 0, &over)])),
        Err(PrepareError::FunctionBodyTooLarge {
            function: 0,
            size: 196_609,
            limit: 196_608
        })
    );
}

#[test]
fn locals_limit_counts_the_whole_contract() {
    // wasmparser allows 50,000 locals per function, so spread them over functions; pad the
    // contract to 2.5 MB so that the per-size limit (one local per 2 bytes) allows more.
    let functions = |count: usize| vec![(0, 50_000, &[][..]); count];
    assert!(prepare(&padded_module(&[0], &functions(20), 2_500_000)).is_ok());
    assert_eq!(
        prepare(&padded_module(&[0], &functions(21), 2_500_000)),
        Err(PrepareError::TooManyLocals {
            count: 1_050_000,
            limit: 1_000_000
        })
    );
}

#[test]
fn locals_are_limited_to_one_per_two_bytes_of_code() {
    let code = padded_module(&[0], &[(0, 50_000, &[])], 100_000);
    let limit = code.len() as u64 / 2;
    assert!(prepare(&code).is_ok());
    let code = padded_module(&[0], &[(0, 50_000, &[])], 90_000);
    let limit_small = code.len() as u64 / 2;
    assert!(limit_small < 50_000 && 50_000 <= limit);
    assert_eq!(
        prepare(&code),
        Err(PrepareError::TooManyLocals {
            count: 50_000,
            limit: limit_small
        })
    );
}

#[test]
fn params_limits_per_function_and_per_contract() {
    assert!(prepare(&module(&[64], &[(0, 0, &[])])).is_ok());
    assert_eq!(
        prepare(&module(&[65], &[(0, 0, &[])])),
        Err(PrepareError::TooManyParamsInFunction {
            function: 0,
            count: 65,
            limit: 64
        })
    );
    // 781 functions of 64 parameters: 49,984; one more: 50,048.
    assert!(prepare(&module(&[64], &vec![(0, 0, &[][..]); 781])).is_ok());
    assert_eq!(
        prepare(&module(&[64], &vec![(0, 0, &[][..]); 782])),
        Err(PrepareError::TooManyParams {
            count: 50_048,
            limit: 50_000
        })
    );
}

#[test]
fn block_limits_per_function_and_per_contract() {
    use wasm_encoder::{BlockType, Instruction};
    let blocks = |count: usize| {
        let mut body = Vec::new();
        for _ in 0..count {
            body.push(Instruction::Block(BlockType::Empty));
            body.push(Instruction::End);
        }
        body
    };
    let (at_limit, over) = (blocks(5_000), blocks(5_001));
    assert!(prepare(&module(&[0], &[(0, 0, &at_limit)])).is_ok());
    assert_eq!(
        prepare(&module(&[0], &[(0, 0, &over)])),
        Err(PrepareError::TooManyBlocksInFunction {
            function: 0,
            count: 5_001,
            limit: 5_000
        })
    );
    assert!(prepare(&module(&[0], &vec![(0, 0, &at_limit[..]); 10])).is_ok());
    assert_eq!(
        prepare(&module(&[0], &vec![(0, 0, &at_limit[..]); 11])),
        Err(PrepareError::TooManyBlocks {
            count: 55_000,
            limit: 50_000
        })
    );
}

#[test]
fn operand_stack_limit_per_function() {
    use wasm_encoder::Instruction;
    // `count` i64 constants on the stack at once: 8 bytes each.
    let pushes = |count: usize| {
        let mut body = vec![Instruction::I64Const(0); count];
        body.extend(vec![Instruction::Drop; count]);
        body
    };
    let (at_limit, over) = (pushes(1_024), pushes(1_025));
    assert!(prepare(&module(&[0], &[(0, 0, &at_limit)])).is_ok());
    let err = prepare(&module(&[0], &[(0, 0, &[]), (0, 0, &over)])).unwrap_err();
    assert_eq!(
        err,
        PrepareError::OperandStackTooLarge {
            function: 1,
            bytes: 8200,
            limit: 8192
        }
    );
}
