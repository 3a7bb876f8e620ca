//! sdk: what integrators and node operators link to talk to the oracle — NEAR keys in the
//! standard credentials format, attestation signing and verification, the mapping from on-chain
//! requests to deterministic engine runs (so anyone can re-execute and check a result), and the
//! chain client.
//!
//! It must never depend on the local chain's internals or on the node: it speaks to any
//! NEAR-compatible chain through public formats only.

pub mod attest;
pub mod inference;
pub mod keys;
