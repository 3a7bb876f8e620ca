//! The runtime's actions from the wire format's: what a signed transaction asks the chain to do.

use super::types::{AccessKeyPermission, Action};
use near_wire as wire;
use std::sync::Arc;

impl From<&wire::AccessKeyPermission> for AccessKeyPermission {
    fn from(permission: &wire::AccessKeyPermission) -> Self {
        match permission {
            wire::AccessKeyPermission::FullAccess => AccessKeyPermission::FullAccess,
            wire::AccessKeyPermission::FunctionCall(p) => AccessKeyPermission::FunctionCall {
                allowance: p.allowance,
                receiver_id: p.receiver_id.clone(),
                method_names: p.method_names.clone(),
            },
        }
    }
}

impl From<&wire::Action> for Action {
    fn from(action: &wire::Action) -> Self {
        match action {
            wire::Action::CreateAccount => Action::CreateAccount,
            wire::Action::DeployContract { code } => Action::DeployContract {
                code: Arc::new(code.clone()),
            },
            wire::Action::FunctionCall(call) => Action::FunctionCall {
                method_name: call.method_name.clone(),
                args: call.args.clone(),
                deposit: call.deposit,
                gas: call.gas,
            },
            wire::Action::Transfer { deposit } => Action::Transfer { deposit: *deposit },
            wire::Action::AddKey {
                public_key,
                access_key,
            } => Action::AddKey {
                public_key: public_key.to_bytes(),
                nonce: access_key.nonce,
                permission: (&access_key.permission).into(),
            },
            wire::Action::DeleteKey { public_key } => Action::DeleteKey {
                public_key: public_key.to_bytes(),
            },
            wire::Action::DeleteAccount { beneficiary_id } => Action::DeleteAccount {
                beneficiary_id: beneficiary_id.clone(),
            },
        }
    }
}
