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
    #[error("the method name is empty")]
    MethodEmptyName,
    #[error("method `{method}` not found in contract `{account}`")]
    MethodNotFound { method: String, account: String },
    #[error(
        "method `{method}` of contract `{account}` must take no parameters and return nothing"
    )]
    MethodInvalidSignature { method: String, account: String },
    #[error("{0}")]
    Host(#[from] HostError),
    #[error("WebAssembly trap: {0}")]
    Trap(WasmTrap),
}

/// A wasm trap, named as nearcore names it (`WasmTrap`); `Display` gives nearcore's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WasmTrap {
    #[error("An `unreachable` opcode was executed.")]
    Unreachable,
    #[error("Call indirect incorrect signature trap.")]
    IncorrectCallIndirectSignature,
    #[error("Memory out of bounds trap.")]
    MemoryOutOfBounds,
    #[error("Call indirect out of bounds trap.")]
    CallIndirectOOB,
    #[error("An arithmetic exception, e.g. divided by zero.")]
    IllegalArithmetic,
    #[error("Indirect call to null.")]
    IndirectCallToNull,
    #[error("Stack overflow.")]
    StackOverflow,
    #[error("Generic trap.")]
    GenericTrap,
}

impl From<&wasmtime::Trap> for WasmTrap {
    fn from(trap: &wasmtime::Trap) -> Self {
        use wasmtime::Trap;
        match trap {
            Trap::UnreachableCodeReached => Self::Unreachable,
            Trap::BadSignature => Self::IncorrectCallIndirectSignature,
            Trap::MemoryOutOfBounds | Trap::HeapMisaligned => Self::MemoryOutOfBounds,
            Trap::TableOutOfBounds => Self::CallIndirectOOB,
            Trap::IntegerOverflow | Trap::IntegerDivisionByZero | Trap::BadConversionToInteger => {
                Self::IllegalArithmetic
            }
            Trap::IndirectCallToNull => Self::IndirectCallToNull,
            Trap::StackOverflow => Self::StackOverflow,
            _ => Self::GenericTrap,
        }
    }
}
