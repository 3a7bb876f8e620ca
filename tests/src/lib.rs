//! e2e-tests: end-to-end tests across the workspace's crates, the few facts about the
//! repository's layout that the tests and the build tool share (where contracts are and where
//! their built wasm lands), the multi-process test network (`cluster`) with the check that the
//! binaries it starts are up to date with their sources (`freshness`), and the devnet that the
//! main command runs and the tests check (`devnet`).
//!
//! It must never be a dependency of a product crate: only tests and `xtask` use it. It must
//! never depend on the contract crates' code (it runs their built wasm, through the chain).

pub mod cluster;
pub mod devnet;
pub mod freshness;
pub mod layout;
pub mod process;
