//! Every built contract must load on NEAR protocol 88: only the accepted wasm features, and only
//! imports that are NEAR host functions from `env` with their exact signatures. And its bytes do
//! not depend on where it was built: no path of the build machine's is in them.

use e2e_tests::layout::{contract_crates, workspace_root};
use std::path::PathBuf;
use wasm_host::prepare::prepare;

#[test]
fn every_contract_validates_under_nears_feature_set() {
    let crates = contract_crates().unwrap();
    assert!(
        !crates.is_empty(),
        "no contract crates found under contract/"
    );
    for contract in crates {
        let path = contract.built_wasm();
        let wasm = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build the contracts first with `cargo xtask build-contracts`",
                path.display()
            )
        });
        // `prepare` refuses an import that is not an `env` host function with its signature.
        let summary = prepare(&wasm).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            !summary.exports.is_empty(),
            "{} exports no methods",
            contract.package
        );
    }
}

#[test]
fn the_oracle_contract_exports_its_methods() {
    let oracle = contract_crates()
        .unwrap()
        .into_iter()
        .find(|c| c.package == "oracle-contract")
        .expect("oracle-contract exists");
    let wasm = std::fs::read(oracle.built_wasm()).expect("run `cargo xtask build-contracts`");
    let summary = prepare(&wasm).unwrap();
    for method in [
        "new",
        "register_model",
        "get_model",
        "list_models",
        "owner",
        "request",
        "on_request_finished",
        "estimate_fee",
        "commit_attestation",
        "submit_attestation",
        "submit_attestation_bundle",
        "report_equivocation",
        "register_node",
        "get_request",
        "list_pending_requests",
        "list_pending_assignments",
        "migrate",
    ] {
        assert!(
            summary.exports.iter().any(|e| e == method),
            "missing export {method}: {:?}",
            summary.exports
        );
    }
    // It verifies with NEAR's own hashing and storage host functions, not in-wasm code.
    assert!(summary.imports.iter().any(|i| i == "storage_write"));
}

/// The contracts are built with `--remap-path-prefix` for the checkout and the cargo home, so
/// the source paths panic messages embed are `/build/...` and `/cargo/...`: none of the build
/// machine's own paths (the checkout, the cargo home, the home folder) is in any wasm.
#[test]
fn no_contract_embeds_a_path_of_the_build_machine() {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|home| home.join(".cargo")));
    let machine_paths: Vec<PathBuf> = [Some(workspace_root()), cargo_home, home]
        .into_iter()
        .flatten()
        // A home of `/` would be in every path, not a sign of one.
        .filter(|path| path.as_os_str().len() > 1)
        .collect();
    assert!(!machine_paths.is_empty());
    for contract in contract_crates().unwrap() {
        let path = contract.built_wasm();
        let wasm = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build the contracts first with `cargo xtask build-contracts`",
                path.display()
            )
        });
        for machine_path in &machine_paths {
            let needle = machine_path.as_os_str().as_encoded_bytes();
            assert!(
                !wasm.windows(needle.len()).any(|window| window == needle),
                "{} embeds {}: its bytes depend on where it was built",
                path.display(),
                machine_path.display()
            );
        }
    }
}
