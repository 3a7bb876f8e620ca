//! NEAR's checks of the receipts a contract creates (nearcore's `NewReceipt` validation mode):
//! an invalid one fails the call that made it.

use crate::abi::Action;
use crate::tx::ActionsValidationError;
use near_parameters::vm::LimitConfig;

/// Checks the actions of a receipt a contract created: how many, how many deploy contracts, and
/// that a `DeleteAccount` comes last. (The host functions that add actions check the rest.)
pub(super) fn validate_new_receipt(
    limits: &LimitConfig,
    actions: &[Action],
) -> Result<(), ActionsValidationError> {
    let deploys = actions
        .iter()
        .filter(|a| matches!(a, Action::DeployContract { .. }))
        .count();
    let delete_at = actions
        .iter()
        .position(|a| matches!(a, Action::DeleteAccount { .. }));
    validate_shape(limits, actions.len(), deploys, delete_at)
}

/// The checks every list of actions passes, a transaction's or a new receipt's: at most
/// `max_actions_per_receipt` actions (`count`), at most `max_deploy_actions_per_receipt` of them
/// deploys, and a `DeleteAccount` (at `delete_at`) only last.
pub(super) fn validate_shape(
    limits: &LimitConfig,
    count: usize,
    deploys: usize,
    delete_at: Option<usize>,
) -> Result<(), ActionsValidationError> {
    let (count, deploys) = (count as u64, deploys as u64);
    if count > limits.max_actions_per_receipt {
        return Err(ActionsValidationError::TotalNumberOfActionsExceeded {
            total_number_of_actions: count,
            limit: limits.max_actions_per_receipt,
        });
    }
    if deploys > limits.max_deploy_actions_per_receipt {
        return Err(ActionsValidationError::TotalNumberOfDeployActionsExceeded {
            number_of_deploy_actions: deploys,
            limit: limits.max_deploy_actions_per_receipt,
        });
    }
    if delete_at.is_some_and(|at| at + 1 != count as usize) {
        return Err(ActionsValidationError::DeleteActionMustBeFinal);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fees::Fees;
    use std::sync::Arc;

    #[test]
    fn counts_deploys_and_delete_must_be_final() {
        let fees = Fees::default();
        let deploy = Action::DeployContract {
            code: Arc::new(Vec::new()),
        };
        assert_eq!(
            validate_new_receipt(fees.limits(), &vec![deploy.clone(); 10]),
            Ok(())
        );
        assert_eq!(
            validate_new_receipt(fees.limits(), &vec![deploy; 11]),
            Err(ActionsValidationError::TotalNumberOfDeployActionsExceeded {
                number_of_deploy_actions: 11,
                limit: 10
            })
        );
        let transfer = Action::Transfer { deposit: 1 };
        assert_eq!(
            validate_new_receipt(fees.limits(), &vec![transfer.clone(); 101]),
            Err(ActionsValidationError::TotalNumberOfActionsExceeded {
                total_number_of_actions: 101,
                limit: 100
            })
        );
        let delete = Action::DeleteAccount {
            beneficiary_id: "a.test".parse().unwrap(),
        };
        assert_eq!(
            validate_new_receipt(fees.limits(), &[delete.clone(), transfer.clone()]),
            Err(ActionsValidationError::DeleteActionMustBeFinal)
        );
        assert_eq!(
            validate_new_receipt(fees.limits(), &[transfer, delete]),
            Ok(())
        );
    }
}
