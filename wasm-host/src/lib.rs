//! wasm-host: a NEAR-compatible contract runtime on wasmtime, and the local chain built on it —
//! the embedded default chain for development, tests and the devnet.
//!
//! It must never depend on the oracle's own crates (contract, engine, node, SDK): it runs any
//! NEAR contract, and knows nothing of what the contracts do.

pub mod abi;
pub mod chain;
pub mod engine;
pub mod fees;
pub mod host_functions;
pub mod node;
pub mod prepare;
pub mod rpc;
pub mod store;
pub use near_wire as tx;
pub mod views;
