//! Why a host function stopped a contract.

use super::memory::MemoryError;
use thiserror::Error;

/// An error raised by a host function; it aborts the call and rolls its state back.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostError {
    #[error("exceeded prepaid gas")]
    GasExceeded,
    #[error("exceeded the maximum amount of gas allowed to burn per contract")]
    GasLimitExceeded,
    /// A gas charge overflowed u64 (e.g. a length times a per-byte fee); nothing more is burnt.
    #[error("integer overflow")]
    IntegerOverflow,
    #[error("{0}")]
    Memory(#[from] MemoryError),
    #[error("register {0} is not set")]
    InvalidRegisterId(u64),
    #[error("registers would hold more than the limit of {limit} bytes or {count} registers")]
    RegistersExceeded { limit: u64, count: u64 },
    #[error("string is not valid UTF-8")]
    BadUtf8,
    #[error("string is not valid UTF-16")]
    BadUtf16,
    #[error("smart contract panicked: {0}")]
    GuestPanic(String),
    #[error("{method} is not allowed in view calls")]
    ProhibitedInView { method: &'static str },
    #[error("promise index {0} does not exist")]
    InvalidPromiseIndex(u64),
    #[error("promise result index {0} does not exist")]
    InvalidPromiseResultIndex(u64),
    #[error("actions can only be appended to a non-joint promise")]
    CannotAppendActionToJointPromise,
    #[error("a joint promise cannot be returned")]
    CannotReturnJointPromise,
    #[error("a joint promise has no receipt to send refunds elsewhere")]
    CannotSetRefundToOnJointPromise,
    #[error("a contract may create at most {limit} promises per call")]
    NumberPromisesExceeded { limit: u64 },
    #[error("an account id is not valid")]
    InvalidAccountId,
    #[error("a method name is empty")]
    EmptyMethodName,
    #[error("a method name is not UTF-8")]
    InvalidMethodName,
    #[error("public key is invalid")]
    InvalidPublicKey,
    #[error("more than {limit} logs")]
    NumberOfLogsExceeded { limit: u64 },
    #[error("logs exceed {limit} bytes in total")]
    TotalLogLengthExceeded { limit: u64 },
    #[error("storage key of {length} bytes exceeds the limit of {limit}")]
    KeyLengthExceeded { length: u64, limit: u64 },
    #[error("storage value of {length} bytes exceeds the limit of {limit}")]
    ValueLengthExceeded { length: u64, limit: u64 },
    #[error("returned value of {length} bytes exceeds the limit of {limit}")]
    ReturnedValueLengthExceeded { length: u64, limit: u64 },
    #[error("contract code of {length} bytes exceeds the limit of {limit}")]
    ContractSizeExceeded { length: u64, limit: u64 },
    #[error("attaching {amount} yoctoNEAR exceeds the account's remaining balance of {balance}")]
    BalanceExceeded { amount: u128, balance: u128 },
    #[error("more than {limit} data dependencies")]
    NumberInputDataDependenciesExceeded { limit: u64 },
    #[error("yield payload of {length} bytes exceeds the limit of {limit}")]
    YieldPayloadLength { length: u64, limit: u64 },
    #[error("data id must be 32 bytes")]
    DataIdMalformed,
    #[error("ed25519_verify: {0}")]
    Ed25519VerifyInvalidInput(&'static str),
    #[error("host function `{0}` is deprecated")]
    Deprecated(&'static str),
    #[error("host function `{0}` is not supported by wasm-host")]
    Unsupported(&'static str),
}
