//! Function-call errors as nearcore prints them with `{:?}`, which its RPC puts in the text of a
//! failed `call_function` query (`wasm execution failed with error: …`).

use super::outcome::prepare_error_name;
use crate::abi::HostError;
use crate::engine::FunctionCallError;

/// `error` as nearcore's `FunctionCallError` debug text, e.g.
/// `HostError(ProhibitedInView { method_name: "storage_write" })`.
pub fn function_call_error_debug(error: &FunctionCallError) -> String {
    match error {
        FunctionCallError::Prepare { error, .. } => {
            format!(
                "CompilationError(PrepareError({}))",
                prepare_error_name(error)
            )
        }
        FunctionCallError::Compile { message, .. } => {
            format!("CompilationError(WasmerCompileError {{ msg: {message:?} }})")
        }
        FunctionCallError::MethodEmptyName => "MethodResolveError(MethodEmptyName)".into(),
        FunctionCallError::MethodNotFound { .. } => "MethodResolveError(MethodNotFound)".into(),
        FunctionCallError::MethodInvalidSignature { .. } => {
            "MethodResolveError(MethodInvalidSignature)".into()
        }
        FunctionCallError::Host(error) => format!("HostError({})", host_error_debug(error)),
        FunctionCallError::Trap(trap) => format!("WasmTrap({trap:?})"),
    }
}

/// A host error as nearcore's `HostError` debug text. Where this runtime keeps less than
/// nearcore does (the log length reached, the number of dependencies, an import it does not
/// support), the text shows what it keeps.
fn host_error_debug(error: &HostError) -> String {
    match error {
        HostError::GasExceeded => "GasExceeded".into(),
        HostError::GasLimitExceeded => "GasLimitExceeded".into(),
        HostError::IntegerOverflow => "IntegerOverflow".into(),
        // nearcore reports register limits as memory access violations too.
        HostError::Memory(_) | HostError::RegistersExceeded { .. } => {
            "MemoryAccessViolation".into()
        }
        HostError::InvalidRegisterId(id) => format!("InvalidRegisterId {{ register_id: {id} }}"),
        HostError::BadUtf8 => "BadUTF8".into(),
        HostError::BadUtf16 => "BadUTF16".into(),
        HostError::GuestPanic(message) => format!("GuestPanic {{ panic_msg: {message:?} }}"),
        HostError::ProhibitedInView { method } => {
            format!("ProhibitedInView {{ method_name: {method:?} }}")
        }
        HostError::InvalidPromiseIndex(index) => {
            format!("InvalidPromiseIndex {{ promise_idx: {index} }}")
        }
        HostError::InvalidPromiseResultIndex(index) => {
            format!("InvalidPromiseResultIndex {{ result_idx: {index} }}")
        }
        HostError::CannotAppendActionToJointPromise => "CannotAppendActionToJointPromise".into(),
        HostError::CannotReturnJointPromise => "CannotReturnJointPromise".into(),
        HostError::CannotSetRefundToOnJointPromise => "CannotSetRefundToOnJointPromise".into(),
        // The promise that fails is the first past the limit: its index is the limit.
        HostError::NumberPromisesExceeded { limit } => {
            format!("NumberPromisesExceeded {{ number_of_promises: {limit}, limit: {limit} }}")
        }
        HostError::InvalidAccountId => "InvalidAccountId".into(),
        HostError::EmptyMethodName => "EmptyMethodName".into(),
        HostError::InvalidMethodName => "InvalidMethodName".into(),
        HostError::InvalidPublicKey => "InvalidPublicKey".into(),
        HostError::NumberOfLogsExceeded { limit } => {
            format!("NumberOfLogsExceeded {{ limit: {limit} }}")
        }
        HostError::TotalLogLengthExceeded { limit } => {
            format!("TotalLogLengthExceeded {{ limit: {limit} }}")
        }
        HostError::KeyLengthExceeded { length, limit } => {
            format!("KeyLengthExceeded {{ length: {length}, limit: {limit} }}")
        }
        HostError::ValueLengthExceeded { length, limit } => {
            format!("ValueLengthExceeded {{ length: {length}, limit: {limit} }}")
        }
        HostError::ReturnedValueLengthExceeded { length, limit } => {
            format!("ReturnedValueLengthExceeded {{ length: {length}, limit: {limit} }}")
        }
        HostError::ContractSizeExceeded { length, limit } => {
            format!("ContractSizeExceeded {{ size: {length}, limit: {limit} }}")
        }
        HostError::BalanceExceeded { .. } => "BalanceExceeded".into(),
        HostError::NumberInputDataDependenciesExceeded { limit } => {
            format!("NumberInputDataDependenciesExceeded {{ limit: {limit} }}")
        }
        HostError::YieldPayloadLength { length, limit } => {
            format!("YieldPayloadLength {{ length: {length}, limit: {limit} }}")
        }
        HostError::DataIdMalformed => "DataIdMalformed".into(),
        HostError::Ed25519VerifyInvalidInput(message) => {
            format!("Ed25519VerifyInvalidInput {{ msg: {message:?} }}")
        }
        HostError::Deprecated(method) => format!("Deprecated {{ method_name: {method:?} }}"),
        HostError::Unsupported(method) => format!("Unsupported {{ method_name: {method:?} }}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::WasmTrap;

    #[test]
    fn errors_print_as_nearcores_debug_text() {
        let text = |error: HostError| function_call_error_debug(&FunctionCallError::Host(error));
        assert_eq!(
            text(HostError::ProhibitedInView {
                method: "storage_write"
            }),
            r#"HostError(ProhibitedInView { method_name: "storage_write" })"#
        );
        assert_eq!(
            text(HostError::GuestPanic("say \"no\"".into())),
            r#"HostError(GuestPanic { panic_msg: "say \"no\"" })"#
        );
        assert_eq!(text(HostError::GasExceeded), "HostError(GasExceeded)");
        assert_eq!(
            text(HostError::InvalidAccountId),
            "HostError(InvalidAccountId)"
        );
        assert_eq!(
            text(HostError::InvalidMethodName),
            "HostError(InvalidMethodName)"
        );
        let not_found = FunctionCallError::MethodNotFound {
            method: "x".into(),
            account: "c.test".into(),
        };
        assert_eq!(
            function_call_error_debug(&not_found),
            "MethodResolveError(MethodNotFound)"
        );
        assert_eq!(
            function_call_error_debug(&FunctionCallError::Trap(WasmTrap::Unreachable)),
            "WasmTrap(Unreachable)"
        );
    }
}
