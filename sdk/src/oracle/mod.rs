//! The integrator's view of the oracle contract: typed views (oracle-protocol's types), asking
//! a model and waiting for the answer, and checking an answer offline ([`verify`]).

mod client;
mod error;
mod pending;
pub mod verify;

pub use client::{NewRequest, OracleClient, REQUEST_GAS};
pub use error::OracleError;
pub use pending::PendingRequest;
pub use verify::{Verification, VerifyError};
