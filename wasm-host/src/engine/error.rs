//! Why a function call failed.

use crate::abi::HostError;
use crate::prepare::PrepareError;
use thiserror::Error;

/// A function call that did not complete.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FunctionCallError {
    #[error("contract of `{account}` was refused: {error}")]
    Prepare {
        account: String,
        error: PrepareError,
    },
    #[error("contract of `{account}` failed to compile: {message}")]
    Compile { account: String, message: String },
    #[error("method `{method}` not found in contract `{account}`")]
    MethodNotFound { method: String, account: String },
    #[error(
        "method `{method}` of contract `{account}` must take no parameters and return nothing"
    )]
    MethodInvalidSignature { method: String, account: String },
    #[error("{0}")]
    Host(#[from] HostError),
    #[error("wasm execution trapped: {0}")]
    Trap(String),
}
