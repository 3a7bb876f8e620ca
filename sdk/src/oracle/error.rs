//! Why an oracle operation failed.

use crate::rpc::ChainError;
use std::time::Duration;
use thiserror::Error;

/// A failed oracle operation; the message says what to do.
#[derive(Debug, Error)]
pub enum OracleError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(
        "this client cannot send: build it with OracleClient::with_signer (or pass --credentials)"
    )]
    NoSigner,
    #[error("request {request_id} does not exist on {contract} (wrong id, or it was cleaned up)")]
    UnknownRequest { request_id: u64, contract: String },
    #[error("asked for request {asked}, the RPC endpoint returned request {returned}: the endpoint is wrong; try another")]
    WrongRequest { asked: u64, returned: u64 },
    #[error("transaction {tx_hash} failed: {error}")]
    RequestFailed { tx_hash: String, error: String },
    #[error(
        "request transaction {tx_hash} was sent and paid, but its request id could not be \
         found: {source}; look it up by its hash before asking again"
    )]
    RequestIdUnknown {
        tx_hash: String,
        source: Box<OracleError>,
    },
    #[error("transaction {tx_hash} created no request on {contract} within {waited:?}; look it up by hash")]
    NoRequestCreated {
        tx_hash: String,
        contract: String,
        waited: Duration,
    },
    #[error("request {request_id} was not answered within {waited:?}; it is still open: wait again, or check that its committee nodes are running")]
    WaitTimeout { request_id: u64, waited: Duration },
    #[error("the oracle's answer to transaction {tx_hash} is not an OracleResponse: {message}")]
    BadResponse { tx_hash: String, message: String },
    #[error(
        "no node can run this request ({0}): it would only wait out its timeout; nothing was sent"
    )]
    Unservable(#[from] crate::inference::InvalidOutputSchema),
}
