//! Why a chain refuses a transaction, with NEAR's names and JSON form (nearcore
//! `core/primitives/src/errors.rs`: externally tagged variants, balances as decimal strings).

use crate::{AccountId, Balance};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Balances are written as decimal strings, as NEAR writes them.
mod dec {
    use crate::Balance;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Balance, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Balance, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// NEAR's `InvalidTxError`.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum InvalidTxError {
    #[error("{0}")]
    InvalidAccessKeyError(InvalidAccessKeyError),
    #[error("signer {signer_id} does not exist")]
    SignerDoesNotExist { signer_id: AccountId },
    #[error("transaction nonce {tx_nonce} must be larger than the access key's nonce {ak_nonce}")]
    InvalidNonce { tx_nonce: u64, ak_nonce: u64 },
    #[error("transaction nonce {tx_nonce} must be smaller than {upper_bound}")]
    NonceTooLarge { tx_nonce: u64, upper_bound: u64 },
    #[error("transaction is not signed with the given public key")]
    InvalidSignature,
    #[error(
        "{signer_id} does not have enough balance {balance} to cover the transaction cost {cost}"
    )]
    NotEnoughBalance {
        signer_id: AccountId,
        #[serde(with = "dec")]
        balance: Balance,
        #[serde(with = "dec")]
        cost: Balance,
    },
    #[error("{signer_id} would not have {amount} left to cover its state")]
    LackBalanceForState {
        signer_id: AccountId,
        #[serde(with = "dec")]
        amount: Balance,
    },
    #[error("transaction cost overflows")]
    CostOverflow,
    #[error("transaction's block hash is unknown or too old")]
    Expired,
    #[error("{0}")]
    ActionsValidation(ActionsValidationError),
    #[error("transaction of {size} bytes exceeds the limit of {limit}")]
    TransactionSizeExceeded { size: u64, limit: u64 },
    #[error(
        "shard {shard_id} is congested (level {congestion_level}) and takes no new \
         transactions for now: send it again later"
    )]
    ShardCongested {
        shard_id: u32,
        /// Between 0 and 1, as NEAR writes it.
        congestion_level: serde_json::Number,
    },
    #[error(
        "shard {shard_id} has missed {missed_chunks} chunks and takes no new transactions for \
         now: send it again later"
    )]
    ShardStuck { shard_id: u32, missed_chunks: u64 },
}

impl InvalidTxError {
    /// Whether the chain refused the transaction for its own state at the time (a congested or
    /// stuck shard), not for anything in it: the same transaction may be taken later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            InvalidTxError::ShardCongested { .. } | InvalidTxError::ShardStuck { .. }
        )
    }
}

/// NEAR's `InvalidAccessKeyError`.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum InvalidAccessKeyError {
    #[error("access key {public_key} does not exist on {account_id}")]
    AccessKeyNotFound {
        account_id: AccountId,
        public_key: String,
    },
    #[error("transaction receiver {tx_receiver} is not the key's receiver {ak_receiver}")]
    ReceiverMismatch {
        tx_receiver: AccountId,
        ak_receiver: String,
    },
    #[error("method {method_name} is not allowed by the access key")]
    MethodNameMismatch { method_name: String },
    #[error("the transaction needs a full access key")]
    RequiresFullAccess,
    #[error("access key {public_key} of {account_id} has allowance {allowance}, the transaction costs {cost}")]
    NotEnoughAllowance {
        account_id: AccountId,
        public_key: String,
        #[serde(with = "dec")]
        allowance: Balance,
        #[serde(with = "dec")]
        cost: Balance,
    },
    #[error("a function-call access key cannot attach a deposit")]
    DepositWithFunctionCall,
}

/// NEAR's `ActionsValidationError` (the checks this chain makes).
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum ActionsValidationError {
    #[error("DeleteAccount must be the last action")]
    DeleteActionMustBeFinal,
    #[error("total prepaid gas {total_prepaid_gas} exceeds the limit {limit}")]
    TotalPrepaidGasExceeded { total_prepaid_gas: u64, limit: u64 },
    #[error("{total_number_of_actions} actions exceed the limit {limit}")]
    TotalNumberOfActionsExceeded {
        total_number_of_actions: u64,
        limit: u64,
    },
    #[error("{number_of_deploy_actions} deploy actions exceed the limit {limit}")]
    TotalNumberOfDeployActionsExceeded {
        number_of_deploy_actions: u64,
        limit: u64,
    },
    #[error("contract of {size} bytes exceeds the limit {limit}")]
    ContractSizeExceeded { size: u64, limit: u64 },
    #[error("method name of {length} bytes exceeds the limit {limit}")]
    FunctionCallMethodNameLengthExceeded { length: u64, limit: u64 },
    #[error("arguments of {length} bytes exceed the limit {limit}")]
    FunctionCallArgumentsLengthExceeded { length: u64, limit: u64 },
    #[error("a function call must attach gas")]
    FunctionCallZeroAttachedGas,
    #[error("method names of {total_number_of_bytes} bytes exceed the limit {limit}")]
    AddKeyMethodNamesNumberOfBytesExceeded {
        total_number_of_bytes: u64,
        limit: u64,
    },
    #[error("a key's method name of {length} bytes exceeds the limit {limit}")]
    AddKeyMethodNameLengthExceeded { length: u64, limit: u64 },
    #[error("the actions' gas overflows")]
    IntegerOverflow,
    /// A function-call key's receiver or a deletion's beneficiary that is no valid account id
    /// (a key's receiver is cut to 128 bytes here, as nearcore does).
    #[error("`{account_id}` is not a valid account id")]
    InvalidAccountId { account_id: String },
}

impl From<InvalidAccessKeyError> for InvalidTxError {
    fn from(error: InvalidAccessKeyError) -> Self {
        InvalidTxError::InvalidAccessKeyError(error)
    }
}

impl From<ActionsValidationError> for InvalidTxError {
    fn from(error: ActionsValidationError) -> Self {
        InvalidTxError::ActionsValidation(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_is_nears() {
        let nonce = InvalidTxError::InvalidNonce {
            tx_nonce: 5,
            ak_nonce: 6,
        };
        assert_eq!(
            serde_json::to_value(&nonce).unwrap(),
            json!({"InvalidNonce": {"tx_nonce": 5, "ak_nonce": 6}})
        );
        assert_eq!(
            serde_json::to_value(InvalidTxError::Expired).unwrap(),
            json!("Expired")
        );
        let balance = InvalidTxError::NotEnoughBalance {
            signer_id: "a.test".parse().unwrap(),
            balance: 10u128.pow(30),
            cost: 1,
        };
        assert_eq!(
            serde_json::to_value(&balance).unwrap(),
            json!({"NotEnoughBalance": {"signer_id": "a.test", "balance": "1000000000000000000000000000000", "cost": "1"}})
        );
        let key: InvalidTxError = InvalidAccessKeyError::AccessKeyNotFound {
            account_id: "a.test".parse().unwrap(),
            public_key: "ed25519:1".into(),
        }
        .into();
        for error in [&nonce, &balance, &key, &InvalidTxError::Expired] {
            let text = serde_json::to_string(error).unwrap();
            assert_eq!(
                &serde_json::from_str::<InvalidTxError>(&text).unwrap(),
                error
            );
        }
        assert_eq!(
            serde_json::to_value(&key).unwrap(),
            json!({"InvalidAccessKeyError": {"AccessKeyNotFound": {"account_id": "a.test", "public_key": "ed25519:1"}}})
        );
        let invalid: InvalidTxError = ActionsValidationError::InvalidAccountId {
            account_id: "NOT VALID".into(),
        }
        .into();
        assert_eq!(
            serde_json::to_value(&invalid).unwrap(),
            json!({"ActionsValidation": {"InvalidAccountId": {"account_id": "NOT VALID"}}})
        );
    }
}
