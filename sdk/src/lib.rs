//! sdk: what integrators and node operators link to talk to the oracle — NEAR keys in the
//! standard credentials format, attestation signing and verification, and the chain client.
//!
//! It must never depend on the inference engine or on the local chain's internals: it speaks to
//! any NEAR-compatible chain through public formats only.

pub mod attest;
pub mod keys;
