//! NEAR's transaction format, written to match nearcore's borsh byte layout: keys and signatures,
//! actions with NEAR's indices, `Transaction` (V0) and `SignedTransaction`, their hash, the
//! `InvalidTxError` a chain answers with, and NEAR's credentials files.

mod credentials;
mod crypto;
mod error;
mod transaction;

pub use credentials::{Credentials, CredentialsError};
pub use crypto::{KeyError, PublicKey, SecretKey, Signature};
pub use error::{ActionsValidationError, InvalidAccessKeyError, InvalidTxError};
pub use transaction::{
    AccessKey, AccessKeyPermission, Action, FunctionCallAction, FunctionCallPermission,
    SignedTransaction, Transaction,
};
