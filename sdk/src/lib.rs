//! sdk: what integrators and node operators link to talk to the oracle —
//! - [`rpc::NearRpc`]: a NEAR JSON-RPC client over HTTP(S) with endpoint failover and backoff;
//! - [`signer::Signer`]: signs and sends transactions for one key, managing its nonce;
//! - [`oracle::OracleClient`]: the oracle contract's typed views, paid requests followed to
//!   their answer, and offline verification of answers (signatures, committee, quorum, output
//!   hash) or verification by re-running the model;
//! - [`keys`], [`attest`], [`inference`]: NEAR keys and credentials files, attestation signing
//!   and checking, and the one mapping from on-chain requests to deterministic engine runs;
//! - the `oracle-client` command built on them. NEAR's wire format is `near-wire` ([`wire`]).
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
