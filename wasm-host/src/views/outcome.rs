//! Views of transactions, receipts, outcomes and their errors, and the final outcome of a
//! transaction (`broadcast_tx_commit`, `tx`, `EXPERIMENTAL_tx_status`).

use super::state::permission_view;
use super::{base64, hash58, public_key_text};
use crate::abi::{Action, CryptoHash, HostError};
use crate::chain::{
    ActionError, ExecutionOutcome, ExecutionStatus, Receipt, ReceiptKind, ReceiptValidationError,
};
use crate::engine::FunctionCallError;
use crate::prepare::PrepareError;
use crate::tx::SignedTransaction;
use serde_json::{json, Value};

/// An action as NEAR shows it.
fn action_view(action: &Action) -> Value {
    match action {
        Action::CreateAccount => json!("CreateAccount"),
        // nearcore shows the code's SHA-256, not the code (which may be megabytes).
        Action::DeployContract { code } => {
            json!({"DeployContract": {"code": base64(&crate::chain::hash(code))}})
        }
        Action::FunctionCall {
            method_name,
            args,
            deposit,
            gas,
        } => json!({"FunctionCall": {
            "method_name": method_name,
            "args": base64(args),
            "gas": gas,
            "deposit": deposit.to_string(),
        }}),
        Action::Transfer { deposit } => json!({"Transfer": {"deposit": deposit.to_string()}}),
        Action::AddKey {
            public_key,
            nonce,
            permission,
        } => json!({"AddKey": {
            "public_key": public_key_text(public_key),
            "access_key": {"nonce": nonce, "permission": permission_view(permission)},
        }}),
        Action::DeleteKey { public_key } => {
            json!({"DeleteKey": {"public_key": public_key_text(public_key)}})
        }
        Action::DeleteAccount { beneficiary_id } => {
            json!({"DeleteAccount": {"beneficiary_id": beneficiary_id}})
        }
    }
}

/// A signed transaction as NEAR shows it (`SignedTransactionView`).
pub fn tx_view(signed: &SignedTransaction) -> Value {
    let tx = &signed.transaction;
    let actions: Vec<Value> = tx
        .actions
        .iter()
        .map(|a| action_view(&Action::from(a)))
        .collect();
    json!({
        "signer_id": tx.signer_id,
        "public_key": tx.public_key.to_string(),
        "nonce": tx.nonce,
        "receiver_id": tx.receiver_id,
        "actions": actions,
        "priority_fee": 0,
        "signature": signed.signature.to_string(),
        "hash": hash58(&signed.hash()),
    })
}

/// An action receipt as NEAR shows it (`ReceiptView`).
pub fn receipt_view(receipt: &Receipt) -> Value {
    let body = match &receipt.kind {
        ReceiptKind::Action(action) => json!({"Action": {
            "signer_id": action.signer_id,
            "signer_public_key": public_key_text(&action.signer_public_key),
            "gas_price": action.gas_price.to_string(),
            "output_data_receivers": action.output_data_receivers.iter().map(|d| json!({
                "data_id": hash58(&d.data_id),
                "receiver_id": d.receiver_id,
            })).collect::<Vec<_>>(),
            "input_data_ids": action.input_data_ids.iter().map(hash58).collect::<Vec<_>>(),
            "actions": action.actions.iter().map(action_view).collect::<Vec<_>>(),
            "is_promise_yield": false,
        }}),
        ReceiptKind::Data { data_id, data } | ReceiptKind::PromiseResume { data_id, data } => {
            json!({"Data": {
                "data_id": hash58(data_id),
                "data": data.as_deref().map(base64),
                "is_promise_resume": matches!(receipt.kind, ReceiptKind::PromiseResume { .. }),
            }})
        }
    };
    json!({
        "predecessor_id": receipt.predecessor_id,
        "receiver_id": receipt.receiver_id,
        "receipt_id": hash58(&receipt.id),
        "receipt": body,
        "priority": 0,
    })
}

/// NEAR's message for the host errors clients match on; this runtime's wording otherwise.
fn host_error_message(error: &HostError) -> String {
    match error {
        HostError::GuestPanic(message) => format!("Smart contract panicked: {message}"),
        HostError::GasExceeded => "Exceeded the prepaid gas.".into(),
        HostError::GasLimitExceeded => {
            "Exceeded the maximum amount of gas allowed to burn per contract.".into()
        }
        HostError::IntegerOverflow => "Integer overflow.".into(),
        other => other.to_string(),
    }
}

/// NEAR's `PrepareError` name closest to why a contract was refused.
pub(super) fn prepare_error_name(error: &PrepareError) -> &'static str {
    match error {
        PrepareError::TooLarge(_) | PrepareError::Invalid(_) => "Deserialization",
        PrepareError::ForeignImport { .. }
        | PrepareError::UnknownHostFunction(_)
        | PrepareError::WrongSignature { .. } => "Instantiate",
        PrepareError::MemoryTooLarge(_) => "Memory",
        PrepareError::TooManyFunctions(_) => "TooManyFunctions",
        PrepareError::TooManyTables(_) => "TooManyTables",
        PrepareError::TableTooLarge(_) => "TooManyTableElements",
        PrepareError::TooManyTypes { .. } => "TooManyTypes",
        PrepareError::FunctionBodyTooLarge { .. } => "FunctionBodyTooLarge",
        PrepareError::TooManyLocals { .. } => "TooManyLocals",
        PrepareError::TooManyParamsInFunction { .. } => "TooManyParamsPerFunction",
        PrepareError::TooManyParams { .. } => "TooManyParamsPerContract",
        PrepareError::TooManyBlocksInFunction { .. } => "TooManyBlocksPerFunction",
        PrepareError::TooManyBlocks { .. } => "TooManyBlocksPerContract",
        PrepareError::OperandStackTooLarge { .. } => "OperandStackTooLarge",
    }
}

/// A function call's failure as NEAR shows it (`FunctionCallErrorSer`).
fn function_call_error_view(error: &FunctionCallError) -> Value {
    match error {
        FunctionCallError::Prepare { error, .. } => {
            json!({"CompilationError": {"PrepareError": prepare_error_name(error)}})
        }
        FunctionCallError::Compile { message, .. } => {
            json!({"CompilationError": {"WasmerCompileError": {"msg": message}}})
        }
        FunctionCallError::MethodEmptyName => json!({"MethodResolveError": "MethodEmptyName"}),
        FunctionCallError::MethodNotFound { .. } => json!({"MethodResolveError": "MethodNotFound"}),
        FunctionCallError::MethodInvalidSignature { .. } => {
            json!({"MethodResolveError": "MethodInvalidSignature"})
        }
        FunctionCallError::Host(error) => json!({"ExecutionError": host_error_message(error)}),
        FunctionCallError::Trap(trap) => {
            json!({"ExecutionError": format!("WebAssembly trap: {trap}")})
        }
    }
}

/// Why a new receipt was refused, as NEAR shows it (`ReceiptValidationError`).
fn receipt_validation_error_view(error: &ReceiptValidationError) -> Value {
    match error {
        ReceiptValidationError::InvalidReceiverId { account_id } => {
            json!({"InvalidReceiverId": {"account_id": account_id}})
        }
        ReceiptValidationError::InvalidRefundTo { account_id } => {
            json!({"InvalidRefundTo": {"account_id": account_id}})
        }
        ReceiptValidationError::ActionsValidation(error) => json!({"ActionsValidation": error}),
    }
}

/// A failed receipt's error as NEAR shows it: `{"ActionError": {"index", "kind"}}`.
pub fn action_error_view(error: &ActionError, index: Option<u64>) -> Value {
    let kind = match error {
        ActionError::AccountDoesNotExist(id) => {
            json!({"AccountDoesNotExist": {"account_id": id}})
        }
        ActionError::AccountAlreadyExists(id) => {
            json!({"AccountAlreadyExists": {"account_id": id}})
        }
        ActionError::DeleteAccountWithLargeState(id) => {
            json!({"DeleteAccountWithLargeState": {"account_id": id}})
        }
        ActionError::CreateAccountNotAllowed {
            account,
            predecessor,
        } => json!({"CreateAccountNotAllowed": {
            "account_id": account,
            "predecessor_id": predecessor,
        }}),
        ActionError::CreateAccountOnlyByRegistrar {
            account,
            registrar,
            predecessor,
        } => json!({"CreateAccountOnlyByRegistrar": {
            "account_id": account,
            "registrar_account_id": registrar,
            "predecessor_id": predecessor,
        }}),
        ActionError::OnlyImplicitAccountCreationAllowed(id) => {
            json!({"OnlyImplicitAccountCreationAllowed": {"account_id": id}})
        }
        ActionError::ActorNoPermission { account, actor } => json!({"ActorNoPermission": {
            "account_id": account,
            "actor_id": actor,
        }}),
        ActionError::CodeDoesNotExist(id) => json!({"FunctionCallError": {
            "CompilationError": {"CodeDoesNotExist": {"account_id": id}},
        }}),
        ActionError::AddKeyAlreadyExists {
            account,
            public_key,
        } => json!({"AddKeyAlreadyExists": {
            "account_id": account,
            "public_key": public_key_text(public_key),
        }}),
        ActionError::DeleteKeyDoesNotExist {
            account,
            public_key,
        } => json!({"DeleteKeyDoesNotExist": {
            "account_id": account,
            "public_key": public_key_text(public_key),
        }}),
        ActionError::LackBalanceForState {
            account,
            needed,
            balance,
        } => json!({"LackBalanceForState": {
            "account_id": account,
            "amount": needed.saturating_sub(*balance).to_string(),
        }}),
        ActionError::FunctionCall(error) => {
            json!({"FunctionCallError": function_call_error_view(error)})
        }
        ActionError::NewReceiptValidation(error) => {
            json!({"NewReceiptValidationError": receipt_validation_error_view(error)})
        }
    };
    json!({"ActionError": {"index": index, "kind": kind}})
}

/// An outcome's status as NEAR shows it.
fn status_view(outcome: &ExecutionOutcome) -> Value {
    match &outcome.status {
        ExecutionStatus::SuccessValue(value) => json!({"SuccessValue": base64(value)}),
        ExecutionStatus::SuccessReceiptId(id) => json!({"SuccessReceiptId": hash58(id)}),
        ExecutionStatus::Failure(error) => {
            json!({"Failure": action_error_view(error, outcome.failed_action)})
        }
    }
}

/// A receipt's outcome as NEAR shows it (`ExecutionOutcomeWithIdView`).
pub fn outcome_view(outcome: &ExecutionOutcome, block_hash: &CryptoHash) -> Value {
    json!({
        "proof": [],
        "block_hash": hash58(block_hash),
        "id": hash58(&outcome.receipt_id),
        "outcome": {
            "logs": outcome.logs,
            "receipt_ids": outcome.receipt_ids.iter().map(hash58).collect::<Vec<_>>(),
            "gas_burnt": outcome.gas_burnt,
            "tokens_burnt": outcome.tokens_burnt.to_string(),
            "executor_id": outcome.executor_id,
            "status": status_view(outcome),
            "metadata": {"version": 1, "gas_profile": null},
        },
    })
}

/// The outcome of a transaction's conversion into its receipt.
fn conversion_view(
    signed: &SignedTransaction,
    receipt_id: &CryptoHash,
    gas_burnt: u64,
    block_hash: &CryptoHash,
) -> Value {
    let gas_price = crate::chain::GAS_PRICE;
    json!({
        "proof": [],
        "block_hash": hash58(block_hash),
        "id": hash58(&signed.hash()),
        "outcome": {
            "logs": [],
            "receipt_ids": [hash58(receipt_id)],
            "gas_burnt": gas_burnt,
            "tokens_burnt": (u128::from(gas_burnt) * gas_price).to_string(),
            "executor_id": signed.transaction.signer_id,
            "status": {"SuccessReceiptId": hash58(receipt_id)},
            "metadata": {"version": 1, "gas_profile": null},
        },
    })
}

/// Where a transaction stands, read from the outcome views of its receipts.
#[derive(Debug, Clone, PartialEq)]
pub enum OutcomeStatus {
    /// A receipt on its path has not run yet.
    Started,
    /// Finished with this status view (`{"SuccessValue": …}` or `{"Failure": …}`).
    Done(Value),
}

/// Follows `SuccessReceiptId` from `first` through `outcome` (receipt id → outcome view, or
/// the error that kept it from being read, which is returned).
pub fn status_of<E>(
    first: &CryptoHash,
    outcome: impl Fn(&CryptoHash) -> Result<Option<Value>, E>,
) -> Result<OutcomeStatus, E> {
    let mut current = *first;
    loop {
        let Some(view) = outcome(&current)? else {
            return Ok(OutcomeStatus::Started);
        };
        let status = &view["outcome"]["status"];
        match status["SuccessReceiptId"]
            .as_str()
            .and_then(super::parse_hash58)
        {
            Some(next) => current = next,
            None => return Ok(OutcomeStatus::Done(status.clone())),
        }
    }
}

/// The outcome views of a transaction's receipts in the order nearcore's RPC lists them
/// (`Chain::get_recursive_transaction_results`, `receipts_outcome`): depth first from its first
/// receipt `first`, each outcome followed by those of its `receipt_ids` in order (so a refund
/// comes right after the receipt that sent it, before the receipts a later block ran). A receipt
/// whose outcome is not in yet is left out, and what it leads to with it, as nearcore does while
/// a transaction runs. `outcome` reads a receipt's outcome view (or the error kept, which is
/// returned). A loop, not recursion: a chain of receipts of any length cannot exhaust the stack.
pub fn outcomes_depth_first<E>(
    first: &CryptoHash,
    mut outcome: impl FnMut(&CryptoHash) -> Result<Option<Value>, E>,
) -> Result<Vec<(CryptoHash, Value)>, E> {
    let mut ordered = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![*first];
    while let Some(id) = stack.pop() {
        // Receipt ids are unique: a repeat could only come from a corrupt store.
        if !seen.insert(id) {
            continue;
        }
        let Some(view) = outcome(&id)? else {
            continue;
        };
        let children: Vec<CryptoHash> = view["outcome"]["receipt_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|child| child.as_str().and_then(super::parse_hash58))
            .collect();
        // Reversed onto the stack, so the first child comes off first.
        stack.extend(children.into_iter().rev());
        ordered.push((id, view));
    }
    Ok(ordered)
}

/// A transaction's final outcome (`FinalExecutionOutcomeView`, with `final_execution_status`;
/// with `receipts` for `EXPERIMENTAL_tx_status`). Every block is final at once here, so a
/// finished transaction is `EXECUTED` while receipts of it (refunds) are still to run —
/// `settled` is false —, and `FINAL` after.
#[allow(clippy::too_many_arguments)]
pub fn final_outcome_view(
    signed: &SignedTransaction,
    receipt_id: &CryptoHash,
    gas_burnt: u64,
    block_hash: &CryptoHash,
    status: &OutcomeStatus,
    settled: bool,
    receipts_outcome: Vec<Value>,
    receipts: Option<Vec<Value>>,
) -> Value {
    let (status, execution) = match status {
        OutcomeStatus::Started => (json!("Started"), "INCLUDED_FINAL"),
        OutcomeStatus::Done(status) if settled => (status.clone(), "FINAL"),
        OutcomeStatus::Done(status) => (status.clone(), "EXECUTED"),
    };
    let mut view = json!({
        "final_execution_status": execution,
        "status": status,
        "transaction": tx_view(signed),
        "transaction_outcome": conversion_view(signed, receipt_id, gas_burnt, block_hash),
        "receipts_outcome": receipts_outcome,
    });
    if let Some(receipts) = receipts {
        view["receipts"] = Value::Array(receipts);
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{Chain, ONE_NEAR};

    #[test]
    fn deploys_show_the_codes_hash_as_nearcore_does() {
        let code = vec![0, 97, 115, 109, 1, 0, 0, 0];
        let view = action_view(&Action::DeployContract {
            code: std::sync::Arc::new(code.clone()),
        });
        let hash = crate::chain::hash(&code);
        assert_eq!(view, json!({"DeployContract": {"code": base64(&hash)}}));
    }

    #[test]
    fn refused_new_receipts_show_as_nearcores_receipt_validation_errors() {
        let view = |error| action_error_view(&ActionError::NewReceiptValidation(error), Some(0));
        let kind = |error| view(error)["ActionError"]["kind"]["NewReceiptValidationError"].clone();
        let account_id = "NOT VALID".to_string();
        assert_eq!(
            kind(ReceiptValidationError::InvalidReceiverId {
                account_id: account_id.clone()
            }),
            json!({"InvalidReceiverId": {"account_id": "NOT VALID"}})
        );
        assert_eq!(
            kind(ReceiptValidationError::ActionsValidation(
                crate::tx::ActionsValidationError::InvalidAccountId { account_id }
            )),
            json!({"ActionsValidation": {"InvalidAccountId": {"account_id": "NOT VALID"}}})
        );
        assert_eq!(
            kind(ReceiptValidationError::ActionsValidation(
                crate::tx::ActionsValidationError::FunctionCallZeroAttachedGas
            )),
            json!({"ActionsValidation": "FunctionCallZeroAttachedGas"})
        );
    }

    #[test]
    fn statuses_follow_receipt_ids_to_the_end() {
        let mut views = std::collections::HashMap::new();
        views.insert(
            [1; 32],
            json!({"outcome": {"status": {"SuccessReceiptId": hash58(&[2; 32])}}}),
        );
        let lookup = |views: &std::collections::HashMap<CryptoHash, Value>, id: &CryptoHash| {
            Ok::<_, ()>(views.get(id).cloned())
        };
        assert_eq!(
            status_of(&[1; 32], |id| lookup(&views, id)).unwrap(),
            OutcomeStatus::Started
        );
        views.insert(
            [2; 32],
            json!({"outcome": {"status": {"SuccessValue": "AQ=="}}}),
        );
        assert_eq!(
            status_of(&[1; 32], |id| lookup(&views, id)).unwrap(),
            OutcomeStatus::Done(json!({"SuccessValue": "AQ=="}))
        );
    }

    #[test]
    fn receipt_outcomes_are_listed_depth_first_as_nearcore_lists_them() {
        // 1 sent 2 and 3; 2 sent 4 (which has not run yet) and 5; 3 sent 6.
        let node = |children: &[u8]| {
            let ids: Vec<String> = children.iter().map(|c| hash58(&[*c; 32])).collect();
            json!({"outcome": {"receipt_ids": ids}})
        };
        let views: std::collections::HashMap<CryptoHash, Value> = [
            (1, node(&[2, 3])),
            (2, node(&[4, 5])),
            (3, node(&[6])),
            (5, node(&[])),
            (6, node(&[])),
        ]
        .into_iter()
        .map(|(id, view)| ([id; 32], view))
        .collect();
        let ordered = outcomes_depth_first(&[1; 32], |id| Ok::<_, ()>(views.get(id).cloned()));
        let ids: Vec<u8> = ordered.unwrap().iter().map(|(id, _)| id[0]).collect();
        // Execution order would be 1, 2, 3, 5, 6 (5 and 6 ran in the same block).
        assert_eq!(ids, [1, 2, 5, 3, 6]);
    }

    #[test]
    fn failures_carry_the_action_index_and_nears_kind() {
        let mut chain = Chain::new();
        chain.create_account("alice.test", 10 * ONE_NEAR).unwrap();
        let result = chain
            .call("alice.test", "alice.test", "nothing", "", 0, 10u64.pow(13))
            .unwrap();
        let view = outcome_view(&result.receipts[0], &[0; 32]);
        assert_eq!(
            view["outcome"]["status"],
            json!({"Failure": {"ActionError": {"index": 0, "kind": {"FunctionCallError": {
                "CompilationError": {"CodeDoesNotExist": {"account_id": "alice.test"}}
            }}}}})
        );
    }

    #[test]
    fn actor_no_permission_has_nears_shape() {
        let error = ActionError::ActorNoPermission {
            account: "bob.test".parse().unwrap(),
            actor: "alice.test".parse().unwrap(),
        };
        assert_eq!(
            action_error_view(&error, Some(0)),
            json!({"ActionError": {"index": 0, "kind": {"ActorNoPermission": {
                "account_id": "bob.test",
                "actor_id": "alice.test",
            }}}})
        );
    }

    #[test]
    fn host_errors_clients_match_on_read_as_nears() {
        let message = |error| host_error_message(&error);
        assert_eq!(message(HostError::GasExceeded), "Exceeded the prepaid gas.");
        assert_eq!(message(HostError::IntegerOverflow), "Integer overflow.");
        assert_eq!(
            message(HostError::GuestPanic("no".into())),
            "Smart contract panicked: no"
        );
    }
}
