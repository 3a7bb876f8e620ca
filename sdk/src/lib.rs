//! sdk: what integrators and node operators link to talk to the oracle — NEAR keys in the
//! standard credentials format, attestation signing and verification, the mapping from on-chain
//! requests to deterministic engine runs (so anyone can re-execute and check a result), and the
//! chain client: a NEAR JSON-RPC client with endpoint failover ([`rpc::NearRpc`]) and a signer
//! that manages its key's nonce ([`signer::Signer`]); the wire format is `near-wire`.
//!
//! It must never depend on the local chain's internals or on the node: it speaks to any
//! NEAR-compatible chain through public formats only (wasm-host is a test-only dependency).

pub mod attest;
pub mod inference;
pub mod keys;
pub mod oracle;
pub mod rpc;
pub mod signer;

pub use near_wire as wire;
