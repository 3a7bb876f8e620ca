//! Shared setup of the integration tests: built contracts and a chain with accounts.

#![allow(dead_code)]

use std::path::PathBuf;
use wasm_host::chain::{Chain, ONE_NEAR, TGAS};

/// Gas for test calls.
pub const GAS: u64 = 100 * TGAS;

/// The wasm `cargo xtask build-contracts` built for crate `name` (underscored).
pub fn contract(name: &str) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("wasm-host sits in the workspace root")
        .to_path_buf();
    let path = root
        .join("target")
        .join("contracts")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `cargo xtask build-contracts` first",
            path.display()
        )
    })
}

/// A chain with `alice.test` (100 NEAR) and, for each `(account, contract)`, an account holding
/// 50 NEAR with the contract deployed and initialised with `new` (no arguments).
pub fn chain_with(contracts: &[(&str, &str)]) -> Chain {
    let mut chain = Chain::new();
    chain.create_account("alice.test", 100 * ONE_NEAR).unwrap();
    for (account, name) in contracts {
        chain.create_account(account, 50 * ONE_NEAR).unwrap();
        let deployed = chain.deploy(account, contract(name)).unwrap();
        deployed.into_result().expect("deploy succeeds");
        chain
            .call(account, account, "new", "{}", 0, GAS)
            .unwrap()
            .into_result()
            .expect("init succeeds");
    }
    chain
}
