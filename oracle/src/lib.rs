//! oracle: the node daemon an operator runs — it watches the chain for requests assigned to it,
//! runs the deterministic engine, signs attestations and submits them, surviving restarts.
//!
//! It must never depend on the local chain's internals (it talks to any chain over NEAR RPC
//! through the sdk's one chain client) nor on anything that makes the engine's output depend
//! on the machine.

pub mod attestation;
pub mod chain;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod health;
pub mod http;
pub mod init;
pub mod journal;
pub mod metrics;
pub mod pipeline;
mod signals;
pub mod startup;
pub mod worker;
