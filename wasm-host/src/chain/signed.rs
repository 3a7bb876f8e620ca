//! Signed transactions checked as NEAR checks them before they become receipts: size, signature,
//! block hash, actions, signer, access key and its permission, nonce, cost and allowance.

use super::block::IncludedTx;
use super::storage_stake::storage_shortfall;
use super::{Chain, NONCE_RANGE_MULTIPLIER};
use crate::abi::{self, AccessKeyPermission};
use crate::tx::{Action, InvalidAccessKeyError, InvalidTxError, SignedTransaction};

/// What accepting a checked transaction changes: its signer's balance and key, and the fees
/// its conversion burns.
struct Accepted {
    actions: Vec<abi::Action>,
    send: abi::Gas,
    key_bytes: Vec<u8>,
    balance: abi::Balance,
    permission: AccessKeyPermission,
}

impl Chain {
    /// Checks a signed transaction and, if valid, charges its signer (fees, attached gas and
    /// deposits), bumps its key's nonce and queues it for the next block, which includes it (its
    /// receipt runs there when the signer is the receiver, in the block after otherwise). Returns
    /// its hash.
    pub fn submit_signed(
        &mut self,
        signed: &SignedTransaction,
    ) -> Result<[u8; 32], InvalidTxError> {
        let accepted = self.checked(signed)?;
        let tx = &signed.transaction;
        let signer = self
            .accounts
            .get_mut(&tx.signer_id)
            .expect("the check found the signer");
        let key = signer
            .info
            .keys
            .get_mut(&accepted.key_bytes)
            .expect("the check found the key");
        key.nonce = tx.nonce;
        key.permission = accepted.permission;
        signer.info.balance = accepted.balance;
        self.touched.insert(tx.signer_id.clone());
        let hash = signed.hash();
        let receipt_id = self.enqueue_transaction(
            hash,
            tx.signer_id.clone(),
            accepted.key_bytes,
            tx.receiver_id.clone(),
            accepted.actions,
            accepted.send,
        );
        self.incoming.push(IncludedTx {
            hash,
            signed: signed.clone(),
            receipt_id,
            gas_burnt: accepted.send,
        });
        Ok(hash)
    }

    /// Whether [`Chain::submit_signed`] would accept `signed` now, and if not why, changing
    /// nothing (nearcore's check-only validation of a transaction). A transaction the chain has
    /// accepted already is refused as its nonce is used: ask [`Chain::is_incoming`] (and the
    /// store) first.
    pub fn check_signed(&self, signed: &SignedTransaction) -> Result<(), InvalidTxError> {
        self.checked(signed).map(|_| ())
    }

    /// The checks of [`Chain::submit_signed`], in NEAR's order: what accepting `signed` changes.
    fn checked(&self, signed: &SignedTransaction) -> Result<Accepted, InvalidTxError> {
        let tx = &signed.transaction;
        let limits = self.fees.limits();
        let size = signed.to_bytes().len() as u64;
        if size > limits.max_transaction_size {
            let limit = limits.max_transaction_size;
            return Err(InvalidTxError::TransactionSizeExceeded { size, limit });
        }
        if !signed.verify_signature() {
            return Err(InvalidTxError::InvalidSignature);
        }
        match self.block_heights.get(&tx.block_hash) {
            Some(height) if self.height - height <= self.transaction_validity_period => {}
            _ => return Err(InvalidTxError::Expired),
        }
        let actions: Vec<abi::Action> = tx.actions.iter().map(abi::Action::from).collect();
        super::validate::validate_actions(limits, &actions)?;
        let sir = tx.signer_id == tx.receiver_id;
        let transfer_send = self.fees.transfer_send(sir, &tx.receiver_id);
        let send = self.action_fees(&actions, |fee| self.fees.send(fee, sir), transfer_send);
        let transfer_exec = self.fees.transfer_exec(&tx.receiver_id);
        let exec = self.action_fees(&actions, |fee| self.fees.exec(fee), transfer_exec);
        let prepaid =
            abi::Action::total_prepaid_gas(&actions).ok_or(InvalidTxError::CostOverflow)?;
        let deposits = abi::Action::total_deposit(&actions).ok_or(InvalidTxError::CostOverflow)?;
        let cost = self
            .tx_cost(send, exec, prepaid, deposits)
            .ok_or(InvalidTxError::CostOverflow)?;
        let per_byte = self.fees.storage_amount_per_byte();
        let signer =
            self.accounts
                .get(&tx.signer_id)
                .ok_or_else(|| InvalidTxError::SignerDoesNotExist {
                    signer_id: tx.signer_id.clone(),
                })?;
        let key_bytes = tx.public_key.to_bytes();
        let key = signer.info.keys.get(&key_bytes).ok_or_else(|| {
            InvalidAccessKeyError::AccessKeyNotFound {
                account_id: tx.signer_id.clone(),
                public_key: tx.public_key.to_string(),
            }
        })?;
        if tx.nonce <= key.nonce {
            let ak_nonce = key.nonce;
            return Err(InvalidTxError::InvalidNonce {
                tx_nonce: tx.nonce,
                ak_nonce,
            });
        }
        let upper_bound = (self.height + 1) * NONCE_RANGE_MULTIPLIER;
        if tx.nonce >= upper_bound {
            return Err(InvalidTxError::NonceTooLarge {
                tx_nonce: tx.nonce,
                upper_bound,
            });
        }
        let balance = signer.info.balance;
        let left = balance
            .checked_sub(cost)
            .ok_or_else(|| InvalidTxError::NotEnoughBalance {
                signer_id: tx.signer_id.clone(),
                balance,
                cost,
            })?;
        let mut permission = key.permission.clone();
        if let AccessKeyPermission::FunctionCall {
            allowance: Some(allowance),
            ..
        } = &mut permission
        {
            *allowance = allowance.checked_sub(cost).ok_or_else(|| {
                InvalidAccessKeyError::NotEnoughAllowance {
                    account_id: tx.signer_id.clone(),
                    public_key: tx.public_key.to_string(),
                    allowance: *allowance,
                    cost,
                }
            })?;
        }
        if let Some(amount) = storage_shortfall(left, signer.info.storage_usage, per_byte) {
            return Err(InvalidTxError::LackBalanceForState {
                signer_id: tx.signer_id.clone(),
                amount,
            });
        }
        if let AccessKeyPermission::FunctionCall {
            receiver_id,
            method_names,
            ..
        } = &permission
        {
            let [Action::FunctionCall(call)] = tx.actions.as_slice() else {
                return Err(InvalidAccessKeyError::RequiresFullAccess.into());
            };
            if call.deposit > 0 {
                return Err(InvalidAccessKeyError::DepositWithFunctionCall.into());
            }
            if tx.receiver_id.as_str() != receiver_id {
                return Err(InvalidAccessKeyError::ReceiverMismatch {
                    tx_receiver: tx.receiver_id.clone(),
                    ak_receiver: receiver_id.clone(),
                }
                .into());
            }
            if !method_names.is_empty() && !method_names.contains(&call.method_name) {
                return Err(InvalidAccessKeyError::MethodNameMismatch {
                    method_name: call.method_name.clone(),
                }
                .into());
            }
        }
        Ok(Accepted {
            actions,
            send,
            key_bytes,
            balance: left,
            permission,
        })
    }
}
