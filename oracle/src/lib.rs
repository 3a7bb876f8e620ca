//! oracle: the node daemon an operator runs — it watches the chain for requests assigned to it,
//! runs the deterministic engine, signs attestations and submits them, surviving restarts.
//!
//! It must never depend on the local chain's internals (it talks to any chain over NEAR RPC
//! through the sdk) nor on anything that makes the engine's output depend on the machine.

pub mod config;
pub mod init;
pub mod journal;
pub mod worker;
