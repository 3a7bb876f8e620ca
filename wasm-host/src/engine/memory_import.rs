//! NEAR does not let a contract define its own memory: it replaces the contract's memory with an
//! import `env.memory` of 1024 initial and at most 2048 pages (64 KiB each). This rewrites a
//! prepared module that way.

use crate::prepare::PrepareError;
use wasm_encoder::{EntityType, ImportSection, MemoryType, Module, RawSection};
use wasmparser::{Parser, Payload, TypeRef};

/// Ids of the sections that come before the import section.
const TYPE_SECTION: u8 = 1;
const IMPORT_SECTION: u8 = 2;
const MEMORY_SECTION: u8 = 5;
const CUSTOM_SECTION: u8 = 0;

/// `wasm` with its memory section removed and `env.memory` (`initial`..=`maximum` pages)
/// imported after its function imports. Expects a module that passed [`crate::prepare`].
pub fn import_env_memory(wasm: &[u8], initial: u64, maximum: u64) -> Result<Vec<u8>, PrepareError> {
    let memory = EntityType::Memory(MemoryType {
        minimum: initial,
        maximum: Some(maximum),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let invalid = |e: wasmparser::BinaryReaderError| PrepareError::Invalid(e.to_string());
    let mut module = Module::new();
    let mut imported = false;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(invalid)?;
        if let Payload::ImportSection(reader) = &payload {
            let mut imports = ImportSection::new();
            for import in reader.clone() {
                let import = import.map_err(invalid)?;
                let TypeRef::Func(type_index) = import.ty else {
                    return Err(PrepareError::ForeignImport {
                        module: import.module.into(),
                        name: import.name.into(),
                    });
                };
                imports.import(import.module, import.name, EntityType::Function(type_index));
            }
            imports.import("env", "memory", memory);
            module.section(&imports);
            imported = true;
            continue;
        }
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        if id == MEMORY_SECTION {
            continue;
        }
        if !imported && id != CUSTOM_SECTION && id != TYPE_SECTION && id != IMPORT_SECTION {
            let mut imports = ImportSection::new();
            imports.import("env", "memory", memory);
            module.section(&imports);
            imported = true;
        }
        module.section(&RawSection {
            id,
            data: &wasm[range],
        });
    }
    if !imported {
        let mut imports = ImportSection::new();
        imports.import("env", "memory", memory);
        module.section(&imports);
    }
    Ok(module.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory_imports(wasm: &[u8]) -> Vec<(u64, Option<u64>)> {
        let mut found = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.unwrap() {
                Payload::ImportSection(reader) => {
                    for import in reader {
                        if let TypeRef::Memory(m) = import.unwrap().ty {
                            found.push((m.initial, m.maximum));
                        }
                    }
                }
                Payload::MemorySection(_) => panic!("memory section left in place"),
                _ => {}
            }
        }
        found
    }

    #[test]
    fn replaces_the_memory_with_an_import() {
        let wasm = wat::parse_str(
            r#"(module
                 (import "env" "input" (func (param i64)))
                 (memory 17) (export "memory" (memory 0))
                 (data (i32.const 8) "hi")
                 (func (export "main")))"#,
        )
        .unwrap();
        let rewritten = import_env_memory(&wasm, 1024, 2048).unwrap();
        wasmparser::validate(&rewritten).unwrap();
        assert_eq!(memory_imports(&rewritten), vec![(1024, Some(2048))]);
    }

    #[test]
    fn adds_an_import_section_when_there_is_none() {
        let wasm = wat::parse_str(r#"(module (func (export "main")))"#).unwrap();
        let rewritten = import_env_memory(&wasm, 1024, 2048).unwrap();
        wasmparser::validate(&rewritten).unwrap();
        assert_eq!(memory_imports(&rewritten), vec![(1024, Some(2048))]);
    }
}
