//! NEAR's limit on a contract's wasm stack (`max_stack_height`, 262,144 bytes since protocol 62).
//! nearcore's finite-wasm instrumentation (`instrument_v3`) charges, on entry to every function a
//! contract defines, the function's stack need ([`crate::prepare::stack`]: its frame plus its
//! most operand-stack bytes) against a budget that starts at `max_stack_height`, and gives it
//! back when the function returns. A call that would take the budget below zero fails with
//! `HostError(MemoryAccessViolation)` before its frame gas is charged. The budget belongs to one
//! instance: every call of a contract starts with the whole of it.
//!
//! nearcore keeps the budget in a mutable global, checked with `i64.sub128`. Here every wasm
//! instruction costs fuel at its operator's price ([`super::op_cost`]), and the contract's own
//! instructions must keep their prices, so the bookkeeping uses only operators no contract may
//! contain (SIMD), which the fuel table makes free:
//!
//! * the budget is an `i64` (in both lanes of a `v128`) at address 0 of a one-page memory the
//!   engine imports as `wasm-host.stack`, after `env.memory` (memory 1: a contract's code only
//!   ever names memory 0);
//! * on entry, before the frame charge's `nop`s: `budget -= need`, then a store to address
//!   `(budget >> 63) + 16`, which lies outside the page exactly when the budget went negative,
//!   so that the call traps (out of bounds) with the negative budget left behind for the engine
//!   to recognise;
//! * the body is wrapped in a `block` of the function's results so that every way out of it
//!   (falling off the end, a `br` to the function's label) reaches its end, after which
//!   `budget += need`; each `return` becomes a `br` to that block (the number of labels the
//!   body has open there), which the fuel table prices as a `return` (one regular op), so that
//!   it too leaves through the one give-back. (A give-back before each `return` would add some
//!   70 bytes a `return`: a body of 120,000 `return`s, within NEAR's 196,608 bytes, would
//!   outgrow the 7,654,321 bytes wasmtime compiles.)
//!
//! No instruction is added in the middle of a function (a `return` is only replaced), none of
//! those added costs fuel, and a `br` costs what the `return` it replaces cost, so gas is what
//! it was; a trap of the entry check saves no fuel, as nearcore charges nothing for a call
//! refused its stack.

use super::frame_charge::encoded;
use crate::prepare::stack::{ModuleTypes, StackNeed};
use crate::prepare::PrepareError;
use wasm_encoder::{
    BlockType, CodeSection, EntityType, Function, ImportSection, InstructionSink, MemArg,
    MemoryType, Module, RawSection,
};
use wasmparser::{FunctionBody, Operator, Parser, Payload, TypeRef, ValType};

/// The import the engine provides the stack budget's memory under.
pub const STACK_MODULE: &str = "wasm-host";
pub const STACK_MEMORY: &str = "stack";
/// Where the check's store lands when the budget holds (past the budget's 16 bytes).
const CHECK_OFFSET: u64 = 16;

const TYPE_SECTION: u8 = 1;
const IMPORT_SECTION: u8 = 2;
const MEMORY_SECTION: u8 = 5;
const CUSTOM_SECTION: u8 = 0;

/// `wasm` with the stack budget's memory imported and every defined function charging its
/// stack need on entry and giving it back on the way out. Expects a module that passed
/// [`crate::prepare`] with `env.memory` imported ([`super::import_env_memory`]); may run before
/// or after [`super::frame_charge`] (its `nop`s change no function's need).
pub fn limit_stack(wasm: &[u8]) -> Result<Vec<u8>, PrepareError> {
    let invalid = |e: wasmparser::BinaryReaderError| PrepareError::Invalid(e.to_string());
    let mut types = ModuleTypes::new();
    let mut stack_memory: Option<u32> = None;
    let mut code: Option<(CodeSection, u32)> = None;
    let mut module = Module::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(invalid)?;
        match &payload {
            Payload::TypeSection(reader) => {
                for ty in reader.clone().into_iter_err_on_gc_types() {
                    types.add_type(ty.map_err(invalid)?);
                }
            }
            Payload::ImportSection(reader) => {
                let mut imports = ImportSection::new();
                let mut memories = 0u32;
                for import in reader.clone() {
                    let import = import.map_err(invalid)?;
                    let entity = match import.ty {
                        TypeRef::Func(ty) => {
                            types.add_function(ty, true);
                            EntityType::Function(ty)
                        }
                        TypeRef::Memory(memory) => {
                            memories += 1;
                            EntityType::Memory(MemoryType {
                                minimum: memory.initial,
                                maximum: memory.maximum,
                                memory64: memory.memory64,
                                shared: memory.shared,
                                page_size_log2: memory.page_size_log2,
                            })
                        }
                        _ => {
                            return Err(PrepareError::Invalid(format!(
                                "import `{}.{}` is neither a function nor a memory",
                                import.module, import.name
                            )))
                        }
                    };
                    imports.import(import.module, import.name, entity);
                }
                imports.import(STACK_MODULE, STACK_MEMORY, stack_memory_type());
                stack_memory = Some(memories);
                module.section(&imports);
                continue;
            }
            Payload::FunctionSection(reader) => {
                for ty in reader.clone() {
                    types.add_function(ty.map_err(invalid)?, false);
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader.clone() {
                    types.add_global(global.map_err(invalid)?.ty.content_type);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader.clone() {
                    types.add_table(table.map_err(invalid)?.ty.element_type);
                }
            }
            Payload::CodeSectionStart { count, .. } => {
                if *count == 0 {
                    module.section(&CodeSection::new());
                } else {
                    code = Some((CodeSection::new(), *count));
                }
                continue;
            }
            Payload::CodeSectionEntry(body) => {
                let (section, left) = code.as_mut().expect("entries follow the section start");
                let defined = section.len();
                let memory = stack_memory.ok_or_else(|| {
                    PrepareError::Invalid("code before the import section".into())
                })?;
                let need = types.stack_need(defined, body)?;
                let results = types.defined_type(defined)?.results();
                section.function(&limited_body(wasm, body, need, results, memory)?);
                *left -= 1;
                if *left == 0 {
                    let (section, _) = code.take().expect("just used");
                    module.section(&section);
                }
                continue;
            }
            _ => {}
        }
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        if id == MEMORY_SECTION {
            // A defined memory would come after the imported ones and be renumbered.
            return Err(PrepareError::Invalid(
                "a contract's memory must be imported before its stack is limited".into(),
            ));
        }
        if stack_memory.is_none()
            && id != CUSTOM_SECTION
            && id != TYPE_SECTION
            && id != IMPORT_SECTION
        {
            let mut imports = ImportSection::new();
            imports.import(STACK_MODULE, STACK_MEMORY, stack_memory_type());
            module.section(&imports);
            stack_memory = Some(0);
        }
        module.section(&RawSection {
            id,
            data: &wasm[range],
        });
    }
    if stack_memory.is_none() {
        let mut imports = ImportSection::new();
        imports.import(STACK_MODULE, STACK_MEMORY, stack_memory_type());
        module.section(&imports);
    }
    Ok(module.finish())
}

/// One page, neither growing nor shared.
fn stack_memory_type() -> EntityType {
    EntityType::Memory(MemoryType {
        minimum: 1,
        maximum: Some(1),
        memory64: false,
        shared: false,
        page_size_log2: None,
    })
}

/// `body` charging `need` on entry, wrapped in a block of its `results`, giving `need` back
/// after the block; each `return` becomes a `br` to that block.
fn limited_body(
    wasm: &[u8],
    body: &FunctionBody,
    need: StackNeed,
    results: &[ValType],
    memory: u32,
) -> Result<Function, PrepareError> {
    let invalid = |e: wasmparser::BinaryReaderError| PrepareError::Invalid(e.to_string());
    let mut locals = Vec::new();
    for local in body.get_locals_reader().map_err(invalid)? {
        let (count, ty) = local.map_err(invalid)?;
        locals.push((count, encoded(ty)));
    }
    let block_type = match results {
        [] => BlockType::Empty,
        [result] => BlockType::Result(encoded(*result)),
        _ => {
            return Err(PrepareError::Invalid(
                "functions return at most one value".into(),
            ))
        }
    };
    // The charge in both lanes of a v128: two's-complement, the need is far below 2^63.
    let charge = need.total() as i64;
    let charge = ((charge as u64 as u128) << 64 | charge as u64 as u128) as i128;
    let mut function = Function::new(locals);
    charge_entry(&mut function.instructions(), charge, memory);
    function.instructions().block(block_type);
    let mut operators = body.get_operators_reader().map_err(invalid)?;
    let mut copied = operators.original_position();
    // The labels the body has open: the wrapper block is the one past them.
    let mut depth: u32 = 0;
    while !operators.eof() {
        let (operator, offset) = operators.read_with_offset().map_err(invalid)?;
        match operator {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => depth += 1,
            Operator::Return => {
                // Leaves through the wrapper block, whose end gives the need back: a `br`
                // costs what a `return` costs (one regular op, [`super::op_cost`]) and, as
                // it, takes the function's results from the top of the stack.
                function.raw(wasm[copied..offset].iter().copied());
                function.instructions().br(depth);
                copied = operators.original_position();
            }
            Operator::End if !operators.eof() => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| PrepareError::Invalid("an `end` closes no block".into()))?;
            }
            Operator::End => {
                function.raw(wasm[copied..offset].iter().copied());
                let mut sink = function.instructions();
                sink.end();
                give_back(&mut sink, charge, memory);
                sink.end();
                copied = operators.original_position();
            }
            _ => {}
        }
    }
    debug_assert_eq!(copied, body.range().end);
    Ok(function)
}

/// Pushes `value` as an `i32` with free operators.
fn i32_free(sink: &mut InstructionSink<'_>, value: i32) {
    sink.v128_const(i128::from(value)).i32x4_extract_lane(0);
}

fn budget(memory: u32) -> MemArg {
    MemArg {
        offset: 0,
        align: 4,
        memory_index: memory,
    }
}

/// `budget -= charge`, trapping out of bounds when it went negative.
fn charge_entry(sink: &mut InstructionSink<'_>, charge: i128, memory: u32) {
    update_budget(sink, charge, memory, InstructionSink::i64x2_sub);
    // 0 while the budget holds, 0xffff_ffff once it is negative: the store then lands 4 GiB
    // past the page's start.
    i32_free(sink, 0);
    sink.v128_load(budget(memory));
    i32_free(sink, 63);
    sink.i64x2_shr_s()
        .i32x4_extract_lane(0)
        .v128_const(0)
        .v128_store(MemArg {
            offset: CHECK_OFFSET,
            align: 4,
            memory_index: memory,
        });
}

/// `budget += charge`.
fn give_back(sink: &mut InstructionSink<'_>, charge: i128, memory: u32) {
    update_budget(sink, charge, memory, InstructionSink::i64x2_add);
}

/// `budget = budget <op> charge`, `op` a lane-wise `i64x2` add or subtract.
fn update_budget<'a>(
    sink: &mut InstructionSink<'a>,
    charge: i128,
    memory: u32,
    op: for<'s> fn(&'s mut InstructionSink<'a>) -> &'s mut InstructionSink<'a>,
) {
    i32_free(sink, 0);
    i32_free(sink, 0);
    sink.v128_load(budget(memory)).v128_const(charge);
    op(sink).v128_store(budget(memory));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::import_env_memory;

    /// The operators of the bookkeeping, each of which the fuel table prices at zero
    /// ([`super::super::op_cost`]).
    const FREE_OPERATORS: [&str; 7] = [
        "V128Const",
        "I32x4ExtractLane",
        "V128Load",
        "V128Store",
        "I64x2Sub",
        "I64x2Add",
        "I64x2ShrS",
    ];

    fn limited(text: &str) -> Vec<u8> {
        let wasm = wat::parse_str(text).unwrap();
        crate::prepare::prepare(&wasm).unwrap();
        let wasm = import_env_memory(&wasm, 1024, 2048).unwrap();
        let wasm = limit_stack(&wasm).unwrap();
        let mut features = crate::prepare::near_features();
        features |= wasmparser::WasmFeatures::SIMD | wasmparser::WasmFeatures::MULTI_MEMORY;
        wasmparser::Validator::new_with_features(features)
            .validate_all(&wasm)
            .unwrap();
        wasm
    }

    /// The names of the operators of each defined function of `wasm`.
    fn operators(wasm: &[u8]) -> Vec<Vec<String>> {
        let mut functions = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut names = Vec::new();
                let mut reader = body.get_operators_reader().unwrap();
                while !reader.eof() {
                    let operator = format!("{:?}", reader.read().unwrap());
                    let name = operator.split([' ', '{']).next().unwrap().to_string();
                    names.push(name);
                }
                functions.push(names);
            }
        }
        functions
    }

    #[test]
    fn the_stack_memory_is_imported_after_env_memory() {
        let wasm = limited(r#"(module (import "env" "input" (func (param i64))) (func))"#);
        let mut imports = Vec::new();
        for payload in Parser::new(0).parse_all(&wasm) {
            if let Payload::ImportSection(reader) = payload.unwrap() {
                for import in reader {
                    let import = import.unwrap();
                    imports.push(format!("{}.{}", import.module, import.name));
                }
            }
        }
        assert_eq!(imports, ["env.input", "env.memory", "wasm-host.stack"]);
    }

    #[test]
    fn only_free_operators_are_added_around_the_body_and_its_returns() {
        let wasm = limited(
            r#"(module
                 (func (param i32) (result i32)
                   (if (local.get 0) (then (return (i32.const 1))))
                   (br 0 (i32.const 2))))"#,
        );
        let functions = operators(&wasm);
        let added: Vec<&String> = functions[0]
            .iter()
            .filter(|name| {
                !["LocalGet", "If", "I32Const", "Return", "End", "Br", "Block"]
                    .contains(&name.as_str())
            })
            .collect();
        assert!(!added.is_empty());
        for name in added {
            assert!(FREE_OPERATORS.contains(&name.as_str()), "{name}");
        }
        // One block more than the body had, the `return` a `br` to it, and one give-back,
        // after the block.
        let count = |op: &str| functions[0].iter().filter(|name| *name == op).count();
        assert_eq!(count("Block"), 1);
        assert_eq!(count("Return"), 0);
        assert_eq!(count("Br"), 2);
        assert_eq!(count("I64x2Add"), 1);
        assert_eq!(count("I64x2Sub"), 1);
    }

    /// The `br` depth of each `return` of the first defined function of `wasm`, once limited.
    fn return_depths(text: &str) -> Vec<u32> {
        let wasm = limited(text);
        let mut depths = Vec::new();
        for payload in Parser::new(0).parse_all(&wasm) {
            if let Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut reader = body.get_operators_reader().unwrap();
                while !reader.eof() {
                    match reader.read().unwrap() {
                        Operator::Br { relative_depth } => depths.push(relative_depth),
                        Operator::Return => panic!("a `return` is left"),
                        _ => {}
                    }
                }
                return depths;
            }
        }
        unreachable!("no function")
    }

    #[test]
    fn each_return_leaves_through_the_wrapper_block_from_however_deep() {
        let depths = return_depths(
            r#"(module
                 (func (param i32) (result i32)
                   (return (i32.const 0))
                   (block
                     (loop
                       (if (local.get 0)
                         (then (return (i32.const 3)))
                         (else (block (return (i32.const 4)))))
                       (return (i32.const 2))))
                   (block (return (i32.const 1)))
                   (return (i32.const 0))))"#,
        );
        assert_eq!(depths, [0, 3, 4, 2, 1, 0]);
    }

    #[test]
    fn returns_add_no_more_than_a_byte_each() {
        let returns = 120_000;
        let text = format!(
            "(module (func (result i32) (i32.const 7) {}))",
            "return ".repeat(returns)
        );
        let original = wat::parse_str(&text).unwrap();
        let wasm = limited(&text);
        // `br 0` is two bytes where `return` was one; the entry charge, the give-back and the
        // two memories' imports are a few hundred bytes (where a give-back before each
        // `return` made 8.9 MB).
        assert!(
            wasm.len() <= original.len() + returns + 512,
            "{} bytes from {}",
            wasm.len(),
            original.len()
        );
    }
}
