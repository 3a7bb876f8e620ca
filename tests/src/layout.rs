//! Where things are in this repository.

use std::path::{Path, PathBuf};

/// The workspace root (the folder holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// Where `cargo xtask build-contracts` puts each contract's wasm, as `<crate_name>.wasm`.
pub fn contracts_dir() -> PathBuf {
    workspace_root().join("target").join("contracts")
}

/// A contract crate under `contract/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractCrate {
    /// The cargo package name, e.g. `oracle-contract`.
    pub package: String,
    pub dir: PathBuf,
}

impl ContractCrate {
    /// File name of its built wasm: the package name with `-` turned into `_`, as cargo names it.
    pub fn wasm_file_name(&self) -> String {
        format!("{}.wasm", self.package.replace('-', "_"))
    }

    pub fn built_wasm(&self) -> PathBuf {
        contracts_dir().join(self.wasm_file_name())
    }
}

/// Every crate under `contract/` that builds a wasm contract (a `cdylib`), sorted by name.
pub fn contract_crates() -> std::io::Result<Vec<ContractCrate>> {
    let mut crates = Vec::new();
    for entry in std::fs::read_dir(workspace_root().join("contract"))? {
        let dir = entry?.path();
        let manifest = match std::fs::read_to_string(dir.join("Cargo.toml")) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !manifest.contains("\"cdylib\"") {
            continue;
        }
        let package = manifest
            .lines()
            .find_map(|line| {
                let value = line.trim().strip_prefix("name")?.trim().strip_prefix('=')?;
                Some(value.trim().trim_matches('"').to_string())
            })
            .ok_or_else(|| std::io::Error::other(format!("{}: no package name", dir.display())))?;
        crates.push(ContractCrate { package, dir });
    }
    crates.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(crates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_oracle_contract_and_skips_libraries() {
        let crates = contract_crates().unwrap();
        let names: Vec<_> = crates.iter().map(|c| c.package.as_str()).collect();
        assert!(names.contains(&"oracle-contract"), "{names:?}");
        assert!(!names.contains(&"oracle-protocol"), "{names:?}");
        let oracle = crates
            .iter()
            .find(|c| c.package == "oracle-contract")
            .unwrap();
        assert_eq!(oracle.wasm_file_name(), "oracle_contract.wasm");
    }
}
