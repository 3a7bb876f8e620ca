//! Checks a contract's wasm the way NEAR's runtime does before it will run it: the accepted
//! feature set, imports that name real host functions with their exact signatures, and the
//! protocol's size limits. A module that passes here loads on NEAR (protocol 88).

mod code;
pub(crate) mod stack;

use crate::fees::Fees;
use crate::host_functions;
use code::{CodeLimits, CodeTally};
use stack::ModuleTypes;
use std::sync::OnceLock;
use thiserror::Error;
use wasmparser::{Parser, Payload, TypeRef, ValType, Validator, WasmFeatures};

/// Largest contract code NEAR accepts (4 MiB).
pub const MAX_CONTRACT_SIZE: usize = 4 * 1024 * 1024;
/// Memory NEAR gives a contract: 1024 pages initially, growing to at most 2048 (64 KiB pages).
pub const INITIAL_MEMORY_PAGES: u64 = 1024;
pub const MAX_MEMORY_PAGES: u64 = 2048;
/// At most this many functions per contract.
pub const MAX_FUNCTIONS: u64 = 10_000;
/// At most one table, with at most this many elements.
pub const MAX_TABLES: u32 = 1;
pub const MAX_TABLE_ELEMENTS: u64 = 10_000;

/// The wasm features NEAR protocol 88 accepts: MVP, mutable-globals, sign-ext,
/// nontrapping-fptoint, bulk-memory and reference-types. Everything else (multi-value, SIMD,
/// threads, tail calls, ...) is rejected.
pub fn near_features() -> WasmFeatures {
    WasmFeatures::FLOATS
        | WasmFeatures::GC_TYPES
        | WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::REFERENCE_TYPES
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PrepareError {
    #[error("contract is {0} bytes; NEAR accepts at most {MAX_CONTRACT_SIZE}")]
    TooLarge(usize),
    #[error("invalid wasm for NEAR (protocol 88 accepts MVP + mutable-globals, sign-ext, nontrapping-fptoint, bulk-memory, reference-types): {0}")]
    Invalid(String),
    #[error("import `{module}.{name}`: only functions from module `env` may be imported")]
    ForeignImport { module: String, name: String },
    #[error("import `env.{0}` is not a NEAR host function")]
    UnknownHostFunction(String),
    #[error("import `env.{name}` has signature {found}, the host function is {expected}")]
    WrongSignature {
        name: String,
        expected: String,
        found: String,
    },
    #[error(
        "contract declares memory of {0} initial pages; NEAR allows at most {MAX_MEMORY_PAGES}"
    )]
    MemoryTooLarge(u64),
    #[error("contract has {0} functions; NEAR allows at most {MAX_FUNCTIONS}")]
    TooManyFunctions(u64),
    #[error("contract has {0} tables; NEAR allows at most {MAX_TABLES}")]
    TooManyTables(u32),
    #[error("contract table has {0} initial elements; NEAR allows at most {MAX_TABLE_ELEMENTS}")]
    TableTooLarge(u64),
    #[error("contract declares {count} function types; NEAR allows at most {limit}")]
    TooManyTypes { count: u64, limit: u64 },
    #[error(
        "code section function {function} has a body of {size} bytes; NEAR allows at most {limit}"
    )]
    FunctionBodyTooLarge {
        function: u64,
        size: u64,
        limit: u64,
    },
    #[error("contract declares {count} locals; NEAR allows at most {limit}")]
    TooManyLocals { count: u64, limit: u64 },
    #[error(
        "code section function {function} takes {count} parameters; NEAR allows at most {limit}"
    )]
    TooManyParamsInFunction {
        function: u64,
        count: u64,
        limit: u64,
    },
    #[error("contract functions take {count} parameters in all; NEAR allows at most {limit}")]
    TooManyParams { count: u64, limit: u64 },
    #[error("code section function {function} has {count} blocks; NEAR allows at most {limit}")]
    TooManyBlocksInFunction {
        function: u64,
        count: u64,
        limit: u64,
    },
    #[error("contract has {count} blocks in all; NEAR allows at most {limit}")]
    TooManyBlocks { count: u64, limit: u64 },
    #[error(
        "code section function {function} needs {bytes} bytes of operand stack; NEAR allows at \
         most {limit}"
    )]
    OperandStackTooLarge {
        function: u64,
        bytes: u64,
        limit: u64,
    },
}

/// What a prepared contract looks like from the outside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContractSummary {
    /// Host functions it imports, in import order.
    pub imports: Vec<String>,
    /// Functions it exports (its methods).
    pub exports: Vec<String>,
}

/// The structural limits of the protocol this runtime follows, read once from its limit table.
fn code_limits() -> &'static CodeLimits {
    static LIMITS: OnceLock<CodeLimits> = OnceLock::new();
    LIMITS.get_or_init(|| CodeLimits::from_config(Fees::default().limits()))
}

/// Validates `wasm` against NEAR's feature set, imports and limits.
pub fn prepare(wasm: &[u8]) -> Result<ContractSummary, PrepareError> {
    if wasm.len() > MAX_CONTRACT_SIZE {
        return Err(PrepareError::TooLarge(wasm.len()));
    }
    Validator::new_with_features(near_features())
        .validate_all(wasm)
        .map_err(|e| PrepareError::Invalid(e.to_string()))?;

    let mut summary = ContractSummary::default();
    let mut types: Vec<Option<(Vec<ValType>, Vec<ValType>)>> = Vec::new();
    let mut functions = 0u64;
    let mut tables = 0u32;
    let mut tally = CodeTally::new(code_limits(), wasm.len() as u64);
    let mut module = ModuleTypes::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let invalid = |e: wasmparser::BinaryReaderError| PrepareError::Invalid(e.to_string());
        match payload.map_err(invalid)? {
            Payload::TypeSection(reader) => {
                tally.types(u64::from(reader.count()))?;
                for group in reader.into_iter_err_on_gc_types() {
                    let ty = group.map_err(invalid)?;
                    types.push(Some((ty.params().to_vec(), ty.results().to_vec())));
                    module.add_type(ty);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader {
                    let import = import.map_err(invalid)?;
                    check_import(&import, &types)?;
                    if let TypeRef::Func(type_index) = import.ty {
                        module.add_function(type_index, true);
                    }
                    functions += 1;
                    summary.imports.push(import.name.to_string());
                }
            }
            Payload::FunctionSection(reader) => {
                functions += u64::from(reader.count());
                for type_index in reader {
                    let type_index = type_index.map_err(invalid)?;
                    module.add_function(type_index, false);
                    let params = types
                        .get(type_index as usize)
                        .and_then(Option::as_ref)
                        .map_or(0, |(params, _)| params.len() as u64);
                    tally.function_type(params)?;
                }
            }
            Payload::CodeSectionEntry(body) => tally.body(&body, &module)?,
            Payload::GlobalSection(reader) => {
                for global in reader {
                    module.add_global(global.map_err(invalid)?.ty.content_type);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table.map_err(invalid)?;
                    module.add_table(table.ty.element_type);
                    tables += 1;
                    if table.ty.initial > MAX_TABLE_ELEMENTS {
                        return Err(PrepareError::TableTooLarge(table.ty.initial));
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(invalid)?;
                    if memory.initial > MAX_MEMORY_PAGES {
                        return Err(PrepareError::MemoryTooLarge(memory.initial));
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(invalid)?;
                    if export.kind == wasmparser::ExternalKind::Func {
                        summary.exports.push(export.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    if functions > MAX_FUNCTIONS {
        return Err(PrepareError::TooManyFunctions(functions));
    }
    if tables > MAX_TABLES {
        return Err(PrepareError::TooManyTables(tables));
    }
    Ok(summary)
}

fn check_import(
    import: &wasmparser::Import<'_>,
    types: &[Option<(Vec<ValType>, Vec<ValType>)>],
) -> Result<(), PrepareError> {
    let TypeRef::Func(type_index) = import.ty else {
        return Err(PrepareError::ForeignImport {
            module: import.module.into(),
            name: import.name.into(),
        });
    };
    if import.module != "env" {
        return Err(PrepareError::ForeignImport {
            module: import.module.into(),
            name: import.name.into(),
        });
    }
    let host = host_functions::lookup(import.name)
        .ok_or_else(|| PrepareError::UnknownHostFunction(import.name.into()))?;
    let (params, results) = types
        .get(type_index as usize)
        .and_then(Option::as_ref)
        .ok_or_else(|| PrepareError::Invalid(format!("import type {type_index} is missing")))?;
    if *params != host.params || *results != host.results {
        return Err(PrepareError::WrongSignature {
            name: import.name.into(),
            expected: signature(&host.params, &host.results),
            found: signature(params, results),
        });
    }
    Ok(())
}

fn signature(params: &[ValType], results: &[ValType]) -> String {
    let list = |types: &[ValType]| {
        types
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}

#[cfg(test)]
mod tests;
