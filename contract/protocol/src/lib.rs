//! oracle-protocol: the byte-exact messages that the oracle contract, the oracle nodes and the
//! SDK must agree on — model ids, result digests, the domain-separated attestation message and
//! the commitment that precedes it, the request parameters, the request view clients read (with
//! every commitment and attestation's signature), the answer a dApp's callback receives, and the
//! event envelope.
//!
//! It compiles to wasm32 inside contracts, so it must never depend on near-sdk, an async runtime,
//! the inference engine or anything that touches floats or the operating system.

mod attestation;
mod commitment;
mod event;
mod ids;
pub mod json_numbers;
mod registry;
mod request;
mod response;
mod signature;
mod view;
mod weak_keys;

pub use attestation::{AttestationMessage, ATTESTATION_DOMAIN};
pub use commitment::{attestation_commitment, commitment_preimage, COMMITMENT_DOMAIN};
pub use event::{event_log_line, EVENT_LOG_PREFIX};
pub use ids::{Digest32, IdError, ModelId};
pub use registry::{
    ModelView, NodeStatus, NodeView, OracleConfig, OracleInfo, DEFAULT_COMMIT_WINDOW_BLOCKS,
    DEFAULT_JAIL_BLOCKS, DEFAULT_MAX_MISSED_COMMITS,
};
pub use request::{
    RequestCreated, RequestParams, SignedAttestation, SignedClaim, MAX_OUTPUT_SCHEMA_BYTES,
    MAX_TEMPERATURE_MILLI, TOP_P_ALL_MILLI,
};
pub use response::{OracleResponse, ResolvedOutput, ResponseStatus, MAX_INLINE_OUTPUT_CAP};
pub use signature::Signature64;
pub use view::{
    AttestationView, CommitmentView, FeeEstimate, PendingAssignment, PendingAssignments,
    RequestPhase, RequestView,
};
pub use weak_keys::is_weak_ed25519_key;

/// NEP-297 standard name of the oracle's events:
/// `EVENT_JSON:{"standard":"ai-oracle","version":"2.0.0","event":...,"data":[...]}`.
pub const EVENT_STANDARD: &str = "ai-oracle";
/// Version of the oracle's event formats (1.3.0: `refunded_to` in `request_timed_out`; 2.0.0:
/// the committee left `request_created` for `committee_drawn`).
pub const EVENT_VERSION: &str = "2.0.0";
