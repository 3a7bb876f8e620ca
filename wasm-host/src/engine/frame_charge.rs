//! NEAR's charge for each function call's frame. nearcore's finite-wasm instrumentation
//! (`instrument_v3`) charges, on entry to every function a contract defines,
//! `ceil(frame / 8)` regular ops, where the frame is 64 bytes plus the sizes of its parameters
//! and locals (4 for i32/f32, 8 for i64/f64 and references, 16 for v128). wasmtime has no such
//! charge beyond the one unit of fuel it takes on entry to any function, so this rewrites each
//! function body to begin with that many `nop`s less one, which the fuel table
//! ([`super::op_cost`]) prices at one regular op each.

use crate::prepare::stack::{value_size, FRAME_BASE_BYTES};
use crate::prepare::PrepareError;
use wasm_encoder::{CodeSection, Function, Module, RawSection, ValType as EncodedType};
use wasmparser::{FunctionBody, Parser, Payload, ValType};

/// `wasm` with every defined function starting with its frame's charge (less the unit wasmtime
/// takes on entry) in `nop`s. Expects a
/// module that passed [`crate::prepare`].
pub fn charge_frames(wasm: &[u8]) -> Result<Vec<u8>, PrepareError> {
    let invalid = |e: wasmparser::BinaryReaderError| PrepareError::Invalid(e.to_string());
    let mut type_params: Vec<Vec<ValType>> = Vec::new();
    let mut function_types: Vec<u32> = Vec::new();
    let mut code: Option<(CodeSection, u32)> = None;
    let mut module = Module::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(invalid)?;
        match &payload {
            Payload::TypeSection(reader) => {
                for group in reader.clone().into_iter_err_on_gc_types() {
                    type_params.push(group.map_err(invalid)?.params().to_vec());
                }
            }
            Payload::FunctionSection(reader) => {
                for type_index in reader.clone() {
                    function_types.push(type_index.map_err(invalid)?);
                }
            }
            Payload::CodeSectionStart { count, .. } => {
                code = Some((CodeSection::new(), *count));
                if *count == 0 {
                    module.section(&CodeSection::new());
                    code = None;
                }
                continue;
            }
            Payload::CodeSectionEntry(body) => {
                let (section, left) = code.as_mut().expect("entries follow the section start");
                let defined = section.len() as usize;
                let params = function_types
                    .get(defined)
                    .and_then(|&t| type_params.get(t as usize))
                    .ok_or_else(|| {
                        PrepareError::Invalid(format!("function {defined} has no type"))
                    })?;
                section.function(&charged_body(wasm, body, params).map_err(invalid)?);
                *left -= 1;
                if *left == 0 {
                    let (section, _) = code.take().expect("just used");
                    module.section(&section);
                }
                continue;
            }
            _ => {}
        }
        if let Some((id, range)) = payload.as_section() {
            module.section(&RawSection {
                id,
                data: &wasm[range],
            });
        }
    }
    Ok(module.finish())
}

/// `body` with `ceil(frame / 8) - 1` `nop`s before its instructions (a frame is at least 64
/// bytes, so at least 7).
fn charged_body(
    wasm: &[u8],
    body: &FunctionBody,
    params: &[ValType],
) -> Result<Function, wasmparser::BinaryReaderError> {
    let mut locals = Vec::new();
    let mut frame = FRAME_BASE_BYTES + params.iter().map(|&t| value_size(t)).sum::<u64>();
    for local in body.get_locals_reader()? {
        let (count, ty) = local?;
        frame += u64::from(count) * value_size(ty);
        locals.push((count, encoded(ty)));
    }
    let mut function = Function::new(locals);
    for _ in 1..frame.div_ceil(8) {
        function.instructions().nop();
    }
    let instructions = body.get_operators_reader()?.original_position();
    function.raw(wasm[instructions..body.range().end].iter().copied());
    Ok(function)
}

/// `ty` as wasm-encoder names it.
pub(super) fn encoded(ty: ValType) -> EncodedType {
    match ty {
        ValType::I32 => EncodedType::I32,
        ValType::I64 => EncodedType::I64,
        ValType::F32 => EncodedType::F32,
        ValType::F64 => EncodedType::F64,
        ValType::V128 => EncodedType::V128,
        ValType::Ref(r) if r.is_func_ref() => EncodedType::FUNCREF,
        ValType::Ref(_) => EncodedType::EXTERNREF,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::Operator;

    /// The number of `nop`s each defined function of `wasm` starts with.
    fn leading_nops(wasm: &[u8]) -> Vec<usize> {
        let mut counts = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut operators = body.get_operators_reader().unwrap();
                let mut nops = 0;
                while let Operator::Nop = operators.read().unwrap() {
                    nops += 1;
                }
                counts.push(nops);
            }
        }
        counts
    }

    #[test]
    fn each_function_starts_with_its_frames_charge() {
        let wasm = wat::parse_str(
            r#"(module
                 (import "env" "input" (func (param i64)))
                 (func (export "a"))
                 (func (param i64) (local i32 i32) (local v128) local.get 0 drop)
                 (func (param i32) (local f64) nop))"#,
        )
        .unwrap();
        let charged = charge_frames(&wasm).unwrap();
        wasmparser::validate(&charged).unwrap();
        // 64 bytes: 8 ops; 64 + 8 + 4 + 4 + 16 = 96: 12; 64 + 4 + 8 = 76: 10 (rounded up);
        // each less the unit wasmtime takes. The third function's own nop stays.
        assert_eq!(leading_nops(&charged), vec![7, 11, 10]);
    }
}
