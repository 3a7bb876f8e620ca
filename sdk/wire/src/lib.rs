//! near-wire: NEAR's transaction wire format, written to match nearcore's borsh byte layout —
//! keys and signatures, actions with NEAR's indices, `Transaction` (V0) and `SignedTransaction`,
//! their hash, the `InvalidTxError` a chain answers with, and NEAR's credentials files. Both the
//! local chain (which checks transactions) and the SDK (which signs them) use it.
//!
//! It must never depend on a runtime (wasmtime, wasm-host) or on the oracle's crates: it is the
//! bare format, shared by every side that speaks NEAR.

mod credentials;
mod crypto;
mod error;
mod transaction;

pub use credentials::{Credentials, CredentialsError};
pub use crypto::{KeyError, PublicKey, SecretKey, Signature};
pub use error::{ActionsValidationError, InvalidAccessKeyError, InvalidTxError};
pub use near_account_id::AccountId;
pub use transaction::{
    AccessKey, AccessKeyPermission, Action, FunctionCallAction, FunctionCallPermission,
    SignedTransaction, Transaction,
};

/// An amount of yoctoNEAR (10^-24 NEAR).
pub type Balance = u128;
/// An amount of gas.
pub type Gas = u64;
/// A SHA-256 hash: block, transaction and receipt ids.
pub type CryptoHash = [u8; 32];
