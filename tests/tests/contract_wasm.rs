//! Every built contract must load on NEAR protocol 88: only the accepted wasm features, and only
//! imports that are NEAR host functions from `env` with their exact signatures.

use e2e_tests::layout::contract_crates;
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
        let summary = prepare(&wasm).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            summary.imports.iter().all(|name| !name.is_empty()),
            "{}",
            contract.package
        );
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
