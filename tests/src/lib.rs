//! e2e-tests: end-to-end tests across the workspace's crates, and the few facts about the
//! repository's layout that the tests and the build tool share (where contracts are and where
//! their built wasm lands).
//!
//! It must never be a dependency of a product crate: only tests and `xtask` use it.

pub mod layout;
