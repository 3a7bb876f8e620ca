//! NEAR's checks of a list of actions (nearcore's `validate_actions_with_mode` in its strictest
//! mode, `NewReceipt`): the same for a transaction's actions and for a receipt a contract created.
//! An invalid transaction is refused; an invalid new receipt fails the call that made it.

use super::outcome::ReceiptValidationError;
use crate::abi::{AccessKeyPermission, AccountId, Action, ReceiptSpec};
use crate::tx::ActionsValidationError;
use near_parameters::vm::LimitConfig;

/// Checks a receipt a call created, as nearcore's `validate_receipt` does: its receiver and
/// refund account are valid account ids (the host functions read them unvalidated, as nearcore's
/// do), then its actions, and a `DeleteAccount`'s beneficiary.
pub(super) fn validate_new_receipt(
    limits: &LimitConfig,
    receipt: &ReceiptSpec,
) -> Result<(), ReceiptValidationError> {
    let invalid = |id: &AccountId| AccountId::validate(id.as_str()).is_err();
    if invalid(&receipt.receiver_id) {
        let account_id = receipt.receiver_id.to_string();
        return Err(ReceiptValidationError::InvalidReceiverId { account_id });
    }
    if let Some(refund_to) = receipt.refund_to.as_ref().filter(|id| invalid(id)) {
        let account_id = refund_to.to_string();
        return Err(ReceiptValidationError::InvalidRefundTo { account_id });
    }
    validate_actions(limits, &receipt.actions)
        .map_err(ReceiptValidationError::ActionsValidation)?;
    for action in &receipt.actions {
        if let Action::DeleteAccount { beneficiary_id } = action {
            if invalid(beneficiary_id) {
                let account_id = beneficiary_id.to_string();
                return Err(ReceiptValidationError::InvalidAccountId { account_id });
            }
        }
    }
    Ok(())
}

/// Checks, in nearcore's order: at most `max_actions_per_receipt` actions and
/// `max_deploy_actions_per_receipt` deploys; then each action (a `DeleteAccount` only last,
/// code size, a function call's gas, method name and arguments, a key's method names); then the
/// gas the calls attach together.
pub(super) fn validate_actions(
    limits: &LimitConfig,
    actions: &[Action],
) -> Result<(), ActionsValidationError> {
    let count = actions.len() as u64;
    if count > limits.max_actions_per_receipt {
        return Err(ActionsValidationError::TotalNumberOfActionsExceeded {
            total_number_of_actions: count,
            limit: limits.max_actions_per_receipt,
        });
    }
    let deploys = actions
        .iter()
        .filter(|a| matches!(a, Action::DeployContract { .. }))
        .count() as u64;
    if deploys > limits.max_deploy_actions_per_receipt {
        return Err(ActionsValidationError::TotalNumberOfDeployActionsExceeded {
            number_of_deploy_actions: deploys,
            limit: limits.max_deploy_actions_per_receipt,
        });
    }
    for (index, action) in actions.iter().enumerate() {
        if matches!(action, Action::DeleteAccount { .. }) && index + 1 < actions.len() {
            return Err(ActionsValidationError::DeleteActionMustBeFinal);
        }
        validate_action(limits, action)?;
    }
    let total_gas =
        Action::total_prepaid_gas(actions).ok_or(ActionsValidationError::IntegerOverflow)?;
    let limit = limits.max_total_prepaid_gas.as_gas();
    if total_gas > limit {
        return Err(ActionsValidationError::TotalPrepaidGasExceeded {
            total_prepaid_gas: total_gas,
            limit,
        });
    }
    Ok(())
}

fn validate_action(limits: &LimitConfig, action: &Action) -> Result<(), ActionsValidationError> {
    match action {
        Action::DeployContract { code } if code.len() as u64 > limits.max_contract_size => {
            Err(ActionsValidationError::ContractSizeExceeded {
                size: code.len() as u64,
                limit: limits.max_contract_size,
            })
        }
        Action::FunctionCall {
            method_name,
            args,
            gas,
            ..
        } => {
            if *gas == 0 {
                return Err(ActionsValidationError::FunctionCallZeroAttachedGas);
            }
            let length = method_name.len() as u64;
            if length > limits.max_length_method_name {
                return Err(
                    ActionsValidationError::FunctionCallMethodNameLengthExceeded {
                        length,
                        limit: limits.max_length_method_name,
                    },
                );
            }
            let length = args.len() as u64;
            if length > limits.max_arguments_length {
                return Err(
                    ActionsValidationError::FunctionCallArgumentsLengthExceeded {
                        length,
                        limit: limits.max_arguments_length,
                    },
                );
            }
            Ok(())
        }
        Action::AddKey {
            permission: AccessKeyPermission::FunctionCall { method_names, .. },
            ..
        } => {
            let mut total_number_of_bytes = 0;
            for name in method_names {
                let length = name.len() as u64;
                if length > limits.max_length_method_name {
                    return Err(ActionsValidationError::AddKeyMethodNameLengthExceeded {
                        length,
                        limit: limits.max_length_method_name,
                    });
                }
                // Each name counts with a terminating byte.
                total_number_of_bytes += length + 1;
            }
            if total_number_of_bytes > limits.max_number_bytes_method_names {
                return Err(
                    ActionsValidationError::AddKeyMethodNamesNumberOfBytesExceeded {
                        total_number_of_bytes,
                        limit: limits.max_number_bytes_method_names,
                    },
                );
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fees::Fees;
    use std::sync::Arc;

    fn call(method_name: &str, args: usize, gas: u64) -> Action {
        Action::FunctionCall {
            method_name: method_name.into(),
            args: vec![0; args],
            deposit: 0,
            gas,
        }
    }

    fn key_for(method_names: Vec<String>) -> Action {
        Action::AddKey {
            public_key: vec![0; 33],
            nonce: 0,
            permission: AccessKeyPermission::FunctionCall {
                allowance: None,
                receiver_id: "c.test".into(),
                method_names,
            },
        }
    }

    #[test]
    fn counts_deploys_and_delete_must_be_final() {
        let fees = Fees::default();
        let deploy = Action::DeployContract {
            code: Arc::new(Vec::new()),
        };
        assert_eq!(
            validate_actions(fees.limits(), &vec![deploy.clone(); 10]),
            Ok(())
        );
        assert_eq!(
            validate_actions(fees.limits(), &vec![deploy; 11]),
            Err(ActionsValidationError::TotalNumberOfDeployActionsExceeded {
                number_of_deploy_actions: 11,
                limit: 10
            })
        );
        let transfer = Action::Transfer { deposit: 1 };
        assert_eq!(
            validate_actions(fees.limits(), &vec![transfer.clone(); 101]),
            Err(ActionsValidationError::TotalNumberOfActionsExceeded {
                total_number_of_actions: 101,
                limit: 100
            })
        );
        let delete = Action::DeleteAccount {
            beneficiary_id: "a.test".parse().unwrap(),
        };
        assert_eq!(
            validate_actions(fees.limits(), &[delete.clone(), transfer.clone()]),
            Err(ActionsValidationError::DeleteActionMustBeFinal)
        );
        assert_eq!(validate_actions(fees.limits(), &[transfer, delete]), Ok(()));
    }

    #[test]
    fn checks_each_action_in_order_then_the_total_gas() {
        let limits = Fees::default().limits().clone();
        let check = |actions: &[Action]| validate_actions(&limits, actions);
        assert_eq!(
            check(&[call("m", 0, 0)]),
            Err(ActionsValidationError::FunctionCallZeroAttachedGas)
        );
        // An invalid action before a misplaced deletion is what nearcore reports.
        let delete = Action::DeleteAccount {
            beneficiary_id: "a.test".parse().unwrap(),
        };
        assert_eq!(
            check(&[call("m", 0, 0), delete, Action::Transfer { deposit: 1 }]),
            Err(ActionsValidationError::FunctionCallZeroAttachedGas)
        );
        assert_eq!(
            check(&[call(&"m".repeat(257), 0, 1)]),
            Err(
                ActionsValidationError::FunctionCallMethodNameLengthExceeded {
                    length: 257,
                    limit: 256
                }
            )
        );
        assert_eq!(check(&[call("m", 4 << 20, 1)]), Ok(()));
        assert_eq!(
            check(&[call("m", (4 << 20) + 1, 1)]),
            Err(
                ActionsValidationError::FunctionCallArgumentsLengthExceeded {
                    length: (4 << 20) + 1,
                    limit: 4 << 20
                }
            )
        );
        assert_eq!(check(&[key_for(vec!["a".repeat(256)])]), Ok(()));
        assert_eq!(
            check(&[key_for(vec!["a".repeat(257)])]),
            Err(ActionsValidationError::AddKeyMethodNameLengthExceeded {
                length: 257,
                limit: 256
            })
        );
        // Ten names of 200 bytes: 2,010 bytes with their terminators.
        assert_eq!(
            check(&[key_for(vec!["a".repeat(200); 10])]),
            Err(
                ActionsValidationError::AddKeyMethodNamesNumberOfBytesExceeded {
                    total_number_of_bytes: 2010,
                    limit: 2000
                }
            )
        );
        let peta = limits.max_total_prepaid_gas.as_gas();
        assert_eq!(check(&[call("m", 0, peta)]), Ok(()));
        assert_eq!(
            check(&[call("m", 0, peta), call("m", 0, 1)]),
            Err(ActionsValidationError::TotalPrepaidGasExceeded {
                total_prepaid_gas: peta + 1,
                limit: peta
            })
        );
        assert_eq!(
            check(&[call("m", 0, u64::MAX), call("m", 0, 1)]),
            Err(ActionsValidationError::IntegerOverflow)
        );
    }
}
