//! NEAR's checks of a list of actions (nearcore's `validate_actions_with_mode` in its strictest
//! mode, `NewReceipt`): the same for a transaction's actions and for a receipt a contract created.
//! An invalid transaction is refused; an invalid new receipt fails the call that made it.

use super::outcome::ReceiptValidationError;
use crate::abi::{AccessKeyPermission, AccountId, Action, ReceiptSpec};
use crate::tx::ActionsValidationError;
use near_parameters::vm::LimitConfig;
use near_primitives_core::config::AccountIdValidityRulesVersion;

/// Checks a receipt a call created, as nearcore's `validate_receipt` does: its receiver and
/// refund account are valid account ids (the host functions refuse invalid ones already under
/// protocol 88's rules), then its actions.
pub(super) fn validate_new_receipt(
    limits: &LimitConfig,
    receipt: &ReceiptSpec,
) -> Result<(), ReceiptValidationError> {
    if !is_valid(receipt.receiver_id.as_str()) {
        let account_id = receipt.receiver_id.to_string();
        return Err(ReceiptValidationError::InvalidReceiverId { account_id });
    }
    if let Some(refund_to) = receipt
        .refund_to
        .as_ref()
        .filter(|id| !is_valid(id.as_str()))
    {
        let account_id = refund_to.to_string();
        return Err(ReceiptValidationError::InvalidRefundTo { account_id });
    }
    validate_actions(limits, &receipt.actions).map_err(ReceiptValidationError::ActionsValidation)
}

fn is_valid(account_id: &str) -> bool {
    AccountId::validate(account_id).is_ok()
}

/// nearcore cuts an invalid key receiver to twice the longest account id in its error.
const SHOWN_RECEIVER_BYTES: usize = 2 * AccountId::MAX_LEN;

/// Checks, in nearcore's order: at most `max_actions_per_receipt` actions and
/// `max_deploy_actions_per_receipt` deploys; then each action (a `DeleteAccount` only last and
/// its beneficiary a valid id, code size, a function call's gas, method name and arguments, a
/// function-call key's receiver a valid id and its method names); then the gas the calls attach
/// together.
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
        Action::DeleteAccount { beneficiary_id } if !is_valid(beneficiary_id.as_str()) => {
            Err(ActionsValidationError::InvalidAccountId {
                account_id: beneficiary_id.to_string(),
            })
        }
        Action::AddKey {
            permission:
                AccessKeyPermission::FunctionCall {
                    receiver_id,
                    method_names,
                    ..
                },
            ..
        } => {
            // A key's receiver must be a valid id from the version 1 rules on (nearcore's
            // `validate_access_key_permission`).
            if limits.account_id_validity_rules_version != AccountIdValidityRulesVersion::V0
                && !is_valid(receiver_id)
            {
                return Err(ActionsValidationError::InvalidAccountId {
                    account_id: shown_receiver(receiver_id).to_string(),
                });
            }
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

/// The longest prefix of `receiver_id`, cut at a character boundary, within
/// [`SHOWN_RECEIVER_BYTES`].
fn shown_receiver(receiver_id: &str) -> &str {
    let mut end = receiver_id.len().min(SHOWN_RECEIVER_BYTES);
    while !receiver_id.is_char_boundary(end) {
        end -= 1;
    }
    &receiver_id[..end]
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
        key_to("c.test", method_names)
    }

    fn key_to(receiver_id: &str, method_names: Vec<String>) -> Action {
        Action::AddKey {
            public_key: vec![0; 33],
            nonce: 0,
            permission: AccessKeyPermission::FunctionCall {
                allowance: None,
                receiver_id: receiver_id.into(),
                method_names,
            },
        }
    }

    #[test]
    fn a_keys_receiver_and_a_beneficiary_must_be_valid_account_ids() {
        let limits = Fees::default().limits().clone();
        let invalid = |account_id: &str| {
            Err(ActionsValidationError::InvalidAccountId {
                account_id: account_id.into(),
            })
        };
        // The receiver is checked before the method names.
        let key = key_to("NOT VALID", vec!["a".repeat(257)]);
        assert_eq!(validate_actions(&limits, &[key]), invalid("NOT VALID"));
        // A long one is shown cut to 128 bytes, at a character boundary.
        let long = format!("{}é{}", "a".repeat(127), "b".repeat(200));
        let key = key_to(&long, Vec::new());
        assert_eq!(validate_actions(&limits, &[key]), invalid(&"a".repeat(127)));
        #[allow(deprecated)] // an id as a legacy host function read it
        let beneficiary_id = AccountId::new_unvalidated("NOT VALID".into());
        let delete = Action::DeleteAccount { beneficiary_id };
        assert_eq!(validate_actions(&limits, &[delete]), invalid("NOT VALID"));
        // Version 0 of the rules (before protocol 57) let a key name any receiver.
        let legacy = Fees::for_protocol(56).limits().clone();
        assert_eq!(
            legacy.account_id_validity_rules_version,
            AccountIdValidityRulesVersion::V0
        );
        let key = key_to("NOT VALID", Vec::new());
        assert_eq!(validate_actions(&legacy, &[key]), Ok(()));
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
