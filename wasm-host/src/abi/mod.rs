//! NEAR's host-function ABI: what each `env` function does and charges, written against a
//! [`MemoryLike`] and an [`External`] (the account's storage and the chain's yields), with no wasm
//! engine types. The engine calls into [`Logic`]; the chain supplies [`External`] and reads the
//! [`VMOutcome`].

mod context;
mod error;
mod external;
mod from_wire;
mod gas;
mod logic;
mod memory;
mod receipts;
mod registers;
mod types;

pub use context::VMContext;
pub use error::HostError;
pub use external::{External, StorageValue};
pub use gas::GasCounter;
pub use logic::{Logic, VMOutcome};
pub use memory::{MemoryError, MemoryLike};
pub use receipts::{DataDependency, ReceiptSpec};
pub use types::{
    AccessKeyPermission, AccountId, Action, Balance, CryptoHash, Gas, PromiseResult, ReturnData,
};
