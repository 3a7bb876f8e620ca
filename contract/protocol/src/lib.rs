//! oracle-protocol: the byte-exact messages that the oracle contract, the oracle nodes and the
//! SDK must agree on — model ids, result digests and the domain-separated attestation message.
//!
//! It compiles to wasm32 inside contracts, so it must never depend on near-sdk, an async runtime,
//! the inference engine or anything that touches floats or the operating system.

mod attestation;
mod ids;

pub use attestation::{AttestationMessage, ATTESTATION_DOMAIN};
pub use ids::{Digest32, IdError, ModelId};
