//! Executing one action receipt: its actions in order on a copy of the receiver's state, committed
//! only if all succeed and the balance covers the storage; refunds of unused gas and, on
//! failure, of deposits.

use super::account::{AccessKey, AccountInfo};
use super::outcome::{ActionError, ExecutionOutcome, ExecutionStatus};
use super::overlay::{apply_changes, StateOverlay};
use super::receipt::{ActionReceipt, Receipt, ReceiptKind, Refund};
use super::settle::{settle, GasUse, Settlement};
use super::storage_stake::storage_shortfall;
use super::validate::validate_new_receipt;
use super::{Chain, GAS_PRICE, SYSTEM_ACCOUNT};
use crate::abi::{
    AccessKeyPermission, AccountId, Action, DataDependency, PromiseResult, ReceiptSpec, ReturnData,
    VMContext,
};
use crate::fees::Action as Fee;
use near_account_id::AccountType;
use std::sync::Arc;

/// What running the actions produced, before it is committed.
struct Applied {
    info: Option<AccountInfo>,
    /// On whose behalf the actions run (nearcore's `actor_id`): the predecessor, or the receiver
    /// once an action created it. Only the receiver itself may deploy, change keys or delete.
    actor: AccountId,
    logs: Vec<String>,
    gas_burnt: u64,
    /// Gas burnt by function calls (wasm and host functions), which earns the contract a reward.
    call_gas_burnt: u64,
    gas_used: u64,
    return_data: ReturnData,
    new_receipts: Vec<ReceiptSpec>,
    /// Transfers from `system` it sends after the new receipts (a deleted account's balance, the
    /// deposit and gas refunds), as nearcore appends them to its new receipts.
    refunds: Vec<Refund>,
    resumes: Vec<([u8; 32], Vec<u8>)>,
}

impl Chain {
    /// Runs an action receipt whose inputs have all arrived, and routes what it produced.
    pub(super) fn apply_action(&mut self, receipt: Receipt, results: Vec<PromiseResult>) {
        let ReceiptKind::Action(action) = &receipt.kind else {
            unreachable!("only action receipts are applied");
        };
        // Every receipt prepaid the execution fees of all its actions; as nearcore does, it burns
        // the receipt's now and each action's as it runs, so a failure burns none of the actions
        // after it (the refund gives them back). A refund (from `system`) burns them too — its
        // outcome reports them as `gas_burnt` — but is free: nobody paid for its gas, its
        // `tokens_burnt` is 0 and it refunds nothing (nearcore's `apply_action_receipt`, where
        // only the tokens burnt treat a system receipt's gas as zero).
        let refund = receipt.predecessor_id.as_str() == SYSTEM_ACCOUNT;
        let fees = self.fees.clone();
        let exec = |fee| fees.exec(fee);
        let transfer = fees.transfer_exec(&receipt.receiver_id);
        let exec_fees = self.action_fees(&action.actions, exec, transfer);
        let receipt_fee = exec(Fee::new_action_receipt);
        self.touched.insert(receipt.receiver_id.clone());
        let mut applied = Applied {
            info: self
                .accounts
                .get(&receipt.receiver_id)
                .map(|a| a.info.clone()),
            actor: receipt.predecessor_id.clone(),
            logs: Vec::new(),
            gas_burnt: receipt_fee,
            call_gas_burnt: 0,
            gas_used: receipt_fee,
            return_data: ReturnData::None,
            new_receipts: Vec::new(),
            refunds: Vec::new(),
            resumes: Vec::new(),
        };
        // A snapshot: the account keeps its storage whatever happens while the actions run.
        let storage = self
            .accounts
            .get(&receipt.receiver_id)
            .map(|a| a.storage.clone())
            .unwrap_or_default();
        let pending = self.pending_yields_of(&receipt.receiver_id);
        let mut overlay = StateOverlay::new(storage, receipt.id, pending);
        let existed = applied.info.is_some();
        let results = Arc::new(results);
        let mut result = Ok(());
        let mut failed_action = None;
        for (index, item) in action.actions.iter().enumerate() {
            let fee = action_fee(item, exec, transfer);
            applied.gas_burnt += fee;
            applied.gas_used += fee;
            // The receipt's result is its last action's (nearcore's `ActionResult::merge`): a
            // function call's return value is dropped by any action after it.
            applied.return_data = ReturnData::None;
            result = self.apply_one(
                &receipt,
                action,
                index,
                item,
                &results,
                &mut applied,
                &mut overlay,
            );
            if result.is_err() {
                failed_action = Some(index as u64);
                break;
            }
        }
        if let (Ok(()), Some(info)) = (&result, &applied.info) {
            let per_byte = self.fees.storage_amount_per_byte();
            if storage_shortfall(info.balance, info.storage_usage, per_byte).is_some() {
                result = Err(ActionError::LackBalanceForState {
                    account: receipt.receiver_id.clone(),
                    needed: u128::from(info.storage_usage) * per_byte,
                    balance: info.balance,
                });
            }
        }
        let prepaid: u64 = action.actions.iter().map(Action::prepaid_gas).sum();
        let status = match result {
            Ok(()) => {
                for key in overlay.changed_keys() {
                    let entry = (receipt.receiver_id.clone(), key.clone());
                    self.dirty_storage.insert(entry);
                }
                let changes = overlay.into_changes();
                self.commit_account(&receipt.receiver_id, applied.info.take(), changes);
                None
            }
            Err(error) => {
                applied.gas_used = applied.gas_burnt;
                applied.new_receipts.clear();
                applied.refunds.clear();
                applied.resumes.clear();
                Some((error, failed_action))
            }
        };
        // NEP-642: gas bought at the receipt's price burns at the block's if that is lower.
        let burn_price = action.gas_price.min(GAS_PRICE);
        // As on NEAR, the contract earns its share of the gas its calls burnt whether the receipt
        // succeeded or not, if the account still exists.
        let reward = burnt_gas_reward(
            applied.call_gas_burnt,
            burn_price,
            self.fees.burnt_gas_reward(),
        );
        if let Some(account) = self.accounts.get_mut(&receipt.receiver_id) {
            account.info.balance += reward;
        }
        let settlement = if refund {
            Settlement::default()
        } else {
            settle(
                &self.fees,
                GasUse {
                    purchase_price: action.gas_price,
                    burn_price,
                    burnt: applied.gas_burnt,
                    unused: (prepaid + exec_fees).saturating_sub(applied.gas_used),
                    created_account: status.is_none()
                        && !existed
                        && self.accounts.contains_key(&receipt.receiver_id),
                },
            )
        };
        push_refunds(
            &receipt,
            action,
            &mut applied,
            status.is_some(),
            settlement.refund,
        );
        self.finish_receipt(receipt, applied, status, settlement.tokens_burnt);
    }

    /// Runs action `index` of the receipt.
    #[allow(clippy::too_many_arguments)]
    fn apply_one(
        &mut self,
        receipt: &Receipt,
        action: &ActionReceipt,
        index: usize,
        item: &Action,
        results: &Arc<Vec<PromiseResult>>,
        applied: &mut Applied,
        overlay: &mut StateOverlay,
    ) -> Result<(), ActionError> {
        let receiver = &receipt.receiver_id;
        if applied.info.is_none() {
            match item {
                Action::CreateAccount => {}
                Action::Transfer { deposit } if creates_near_implicit_account(receipt, action) => {
                    applied.info = Some(self.near_implicit_account(receiver, *deposit));
                    applied.actor = receiver.clone();
                    return Ok(());
                }
                _ => return Err(ActionError::AccountDoesNotExist(receiver.clone())),
            }
        }
        let owner_only = matches!(
            item,
            Action::DeployContract { .. }
                | Action::AddKey { .. }
                | Action::DeleteKey { .. }
                | Action::DeleteAccount { .. }
        );
        if owner_only && &applied.actor != receiver {
            return Err(ActionError::ActorNoPermission {
                account: receiver.clone(),
                actor: applied.actor.clone(),
            });
        }
        match item {
            Action::CreateAccount => {
                if applied.info.is_some() {
                    return Err(ActionError::AccountAlreadyExists(receiver.clone()));
                }
                self.may_create(&receipt.predecessor_id, receiver)?;
                applied.info = Some(AccountInfo::new(0, self.fees.storage_bytes_account()));
                // The new account's owner acts from here on (it may get keys and code).
                applied.actor = receiver.clone();
            }
            Action::DeployContract { code } => {
                let info = applied.info.as_mut().expect("account checked above");
                let old = info.code.as_ref().map_or(0, |c| c.len() as u64);
                info.storage_usage = info.storage_usage - old + code.len() as u64;
                info.code_hash = super::hash(code);
                info.code = Some(code.clone());
            }
            Action::Transfer { deposit } => {
                let info = applied.info.as_mut().expect("account checked above");
                info.balance += deposit;
                // A gas refund to its signer restores the allowance of the key that paid, as
                // nearcore's `try_refund_allowance` does.
                let system = receipt.predecessor_id.as_str() == SYSTEM_ACCOUNT;
                if system && &action.signer_id == receiver {
                    if let Some(AccessKey {
                        permission:
                            AccessKeyPermission::FunctionCall {
                                allowance: Some(allowance),
                                ..
                            },
                        ..
                    }) = info.keys.get_mut(&action.signer_public_key)
                    {
                        *allowance = allowance.saturating_add(*deposit);
                    }
                }
            }
            Action::AddKey {
                public_key,
                permission,
                ..
            } => {
                let info = applied.info.as_mut().expect("account checked above");
                if info.keys.contains_key(public_key) {
                    return Err(ActionError::AddKeyAlreadyExists {
                        account: receiver.clone(),
                        public_key: public_key.clone(),
                    });
                }
                // NEAR ignores the nonce given and starts a new key's at its block's height times
                // 10^6, so that a key deleted and added again cannot replay old transactions.
                let key = AccessKey {
                    nonce: (self.height - 1) * super::NONCE_RANGE_MULTIPLIER,
                    permission: permission.clone(),
                };
                info.storage_usage += self.key_storage_bytes(public_key, &key);
                info.keys.insert(public_key.clone(), key);
            }
            Action::DeleteKey { public_key } => {
                let info = applied.info.as_mut().expect("account checked above");
                let Some(key) = info.keys.remove(public_key) else {
                    return Err(ActionError::DeleteKeyDoesNotExist {
                        account: receiver.clone(),
                        public_key: public_key.clone(),
                    });
                };
                let bytes = self.key_storage_bytes(public_key, &key);
                info.storage_usage = info.storage_usage.saturating_sub(bytes);
            }
            Action::DeleteAccount { beneficiary_id } => {
                let info = applied.info.as_ref().expect("account checked above");
                let code = info.code.as_ref().map_or(0, |c| c.len() as u64);
                if info.storage_usage.saturating_sub(code) > MAX_ACCOUNT_DELETION_STORAGE_USAGE {
                    return Err(ActionError::DeleteAccountWithLargeState(receiver.clone()));
                }
                let info = applied.info.take().expect("account checked above");
                applied.refunds.push(Refund {
                    to: beneficiary_id.clone(),
                    amount: info.balance,
                    signer_key: None,
                });
                applied.actor = receipt.predecessor_id.clone();
            }
            Action::FunctionCall {
                method_name,
                args,
                deposit,
                gas,
            } => {
                return self.function_call(
                    receipt,
                    action,
                    index,
                    results,
                    applied,
                    overlay,
                    method_name,
                    args,
                    *deposit,
                    *gas,
                );
            }
        }
        Ok(())
    }

    /// Runs function call `index` (the action's index in the receipt).
    #[allow(clippy::too_many_arguments)]
    fn function_call(
        &mut self,
        receipt: &Receipt,
        action: &ActionReceipt,
        index: usize,
        results: &Arc<Vec<PromiseResult>>,
        applied: &mut Applied,
        overlay: &mut StateOverlay,
        method_name: &str,
        args: &[u8],
        deposit: u128,
        gas: u64,
    ) -> Result<(), ActionError> {
        let info = applied.info.as_mut().expect("account checked above");
        info.balance += deposit;
        let Some(code) = info.code.clone() else {
            let error = ActionError::CodeDoesNotExist(receipt.receiver_id.clone());
            return Err(error);
        };
        let context = VMContext {
            current_account_id: receipt.receiver_id.clone(),
            signer_account_id: action.signer_id.clone(),
            signer_account_pk: action.signer_public_key.clone(),
            predecessor_account_id: receipt.predecessor_id.clone(),
            refund_to_account_id: action
                .refund_to
                .clone()
                .unwrap_or(receipt.predecessor_id.clone()),
            input: Arc::new(args.to_vec()),
            promise_results: results.clone(),
            account_balance: info.balance,
            account_locked_balance: info.locked,
            storage_usage: info.storage_usage,
            attached_deposit: deposit,
            prepaid_gas: gas,
            view: false,
            output_data_receivers: action
                .output_data_receivers
                .iter()
                .map(|d| d.receiver_id.clone())
                .collect(),
            code_hash: info.code_hash,
            // Unique to this action of this receipt, as nearcore's `execute_function_call`.
            random_seed: super::action_random_seed(&receipt.id, self.height, index),
            ..self.block_context(&receipt.receiver_id)
        };
        let ext = std::mem::take(overlay);
        let run = self.engine.run(
            info.code_hash,
            &code,
            method_name,
            self.fees.clone(),
            context,
            ext,
        );
        *overlay = run.ext;
        let outcome = run.outcome;
        applied.logs.extend(outcome.logs);
        applied.gas_burnt += outcome.burnt_gas;
        applied.call_gas_burnt += outcome.burnt_gas;
        applied.gas_used += outcome.used_gas;
        if let Some(error) = run.error {
            return Err(ActionError::FunctionCall(error));
        }
        for spec in &outcome.receipts {
            validate_new_receipt(self.fees.limits(), spec)
                .map_err(ActionError::NewReceiptValidation)?;
        }
        info.balance = outcome.balance;
        info.storage_usage = outcome.storage_usage;
        applied.return_data = outcome.return_data;
        let offset = applied.new_receipts.len();
        applied.new_receipts.extend(outcome.receipts);
        if let ReturnData::ReceiptIndex(index) = &mut applied.return_data {
            *index += offset;
        }
        applied.resumes.extend(outcome.resumes);
        Ok(())
    }

    /// Sends what the receipt produced: new receipts, resumes, results to waiting receipts, and
    /// records its outcome.
    fn finish_receipt(
        &mut self,
        receipt: Receipt,
        mut applied: Applied,
        error: Option<(ActionError, Option<u64>)>,
        tokens_burnt: u128,
    ) {
        let logged = receipt.clone();
        let ReceiptKind::Action(action) = receipt.kind else {
            unreachable!("only action receipts are finished");
        };
        let mut receipt_ids = Vec::new();
        let mut ids = Vec::new();
        for (i, _) in applied.new_receipts.iter().enumerate() {
            ids.push(super::child_id(&receipt.id, i as u64));
        }
        let status = match (&error, &applied.return_data) {
            (Some((error, _)), _) => ExecutionStatus::Failure(error.clone()),
            (None, ReturnData::ReceiptIndex(index)) => {
                // The result is forwarded: whoever waited on this receipt now waits on that one.
                applied.new_receipts[*index]
                    .output_data_receivers
                    .extend(action.output_data_receivers.iter().cloned());
                ExecutionStatus::SuccessReceiptId(ids[*index])
            }
            (None, ReturnData::Value(value)) => ExecutionStatus::SuccessValue(value.clone()),
            (None, ReturnData::None) => ExecutionStatus::SuccessValue(Vec::new()),
        };
        for (spec, id) in applied.new_receipts.into_iter().zip(ids) {
            if let Some(data_id) = spec.yield_data_id {
                self.register_yield(data_id, receipt.receiver_id.clone(), receipt.id);
            }
            receipt_ids.push(id);
            self.send(
                Receipt {
                    id,
                    predecessor_id: receipt.receiver_id.clone(),
                    receiver_id: spec.receiver_id,
                    kind: ReceiptKind::Action(ActionReceipt {
                        signer_id: action.signer_id.clone(),
                        signer_public_key: action.signer_public_key.clone(),
                        gas_price: action.gas_price,
                        output_data_receivers: spec.output_data_receivers,
                        input_data_ids: spec.input_data_ids,
                        actions: spec.actions,
                        refund_to: spec.refund_to,
                    }),
                },
                &receipt.id,
            );
        }
        for (data_id, payload) in applied.resumes {
            // A yield in the state (created by an earlier receipt) gets a resume, delivered if
            // it is the first to arrive; one this call created and resumed was never registered:
            // its callback simply receives the payload as data.
            if let Some(resume) = self.resume_receipt(data_id, Some(payload.clone())) {
                self.next_block.push_back(resume);
            } else {
                let id = self.next_id(&receipt.id);
                let data = Receipt {
                    id,
                    predecessor_id: receipt.receiver_id.clone(),
                    receiver_id: receipt.receiver_id.clone(),
                    kind: ReceiptKind::Data {
                        data_id,
                        data: Some(payload),
                    },
                };
                self.send(data, &receipt.id);
            }
        }
        for refund in applied.refunds {
            if refund.amount == 0 {
                continue;
            }
            let id = self.next_id(&receipt.id);
            receipt_ids.push(id);
            self.send(refund.into_receipt(id), &receipt.id);
        }
        // As nearcore's `apply_action_receipt`: the call's receipts (its resumes among them)
        // and the refunds first, then the data for whoever waits on this receipt's result, so a
        // receipt this one started runs before a callback its result wakes in the same block.
        if !matches!(status, ExecutionStatus::SuccessReceiptId(_)) {
            let data = match &status {
                ExecutionStatus::SuccessValue(value) => Some(value.clone()),
                _ => None,
            };
            for DataDependency {
                data_id,
                receiver_id,
            } in &action.output_data_receivers
            {
                let id = self.next_id(&receipt.id);
                self.send(
                    Receipt {
                        id,
                        predecessor_id: receipt.receiver_id.clone(),
                        receiver_id: receiver_id.clone(),
                        kind: ReceiptKind::Data {
                            data_id: *data_id,
                            data: data.clone(),
                        },
                    },
                    &receipt.id,
                );
            }
        }
        let outcome = ExecutionOutcome {
            receipt_id: receipt.id,
            executor_id: receipt.receiver_id,
            predecessor_id: receipt.predecessor_id,
            block_height: self.height,
            logs: applied.logs,
            gas_burnt: applied.gas_burnt,
            tokens_burnt,
            status,
            failed_action: error.and_then(|(_, index)| index),
            receipt_ids,
        };
        self.record(logged, outcome);
    }

    /// Fees of a receipt with `actions`, one side of each (`fee` gives send or exec gas).
    pub(super) fn action_fees(
        &self,
        actions: &[Action],
        fee: impl Fn(Fee) -> u64,
        transfer: u64,
    ) -> u64 {
        let receipt = fee(Fee::new_action_receipt);
        actions
            .iter()
            .map(|item| action_fee(item, &fee, transfer))
            .fold(receipt, |total, gas| total + gas)
    }

    /// The NEAR-implicit account `id` (64 hex digits) a transfer of `deposit` creates, as
    /// nearcore's `action_implicit_account_creation_transfer`: the deposit, and a full-access
    /// key whose ed25519 public key is the id, its nonce starting at this block's.
    fn near_implicit_account(&self, id: &AccountId, deposit: u128) -> AccountInfo {
        let mut public_key = vec![0u8]; // ed25519
        public_key.extend(hex::decode(id.as_str()).expect("a NEAR-implicit id is 64 hex digits"));
        let key = AccessKey {
            nonce: (self.height - 1) * super::NONCE_RANGE_MULTIPLIER,
            permission: AccessKeyPermission::FullAccess,
        };
        let storage = self.fees.storage_bytes_account() + self.key_storage_bytes(&public_key, &key);
        let mut info = AccountInfo::new(deposit, storage);
        info.keys.insert(public_key, key);
        info
    }

    /// Storage an access key uses, as NEAR counts it: the borsh-encoded public key and access
    /// key, plus the per-record overhead.
    pub(super) fn key_storage_bytes(&self, public_key: &[u8], key: &AccessKey) -> u64 {
        let access_key = borsh::to_vec(key).expect("an access key serialises");
        (public_key.len() + access_key.len()) as u64 + self.fees.storage_bytes_record()
    }

    fn commit_account(
        &mut self,
        id: &AccountId,
        info: Option<AccountInfo>,
        changes: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    ) {
        match info {
            Some(info) => {
                let account = self.accounts.entry(id.clone()).or_default();
                account.info = info;
                apply_changes(&mut account.storage, changes);
            }
            None => {
                self.accounts.remove(id);
                self.cleared.insert(id.clone());
            }
        }
    }

    /// NEAR's rules (nearcore's `check_account_existence` and `action_create_account`): an
    /// implicit account (64 hex, `0x…`, `0s…`, `0u…`) is never created by `CreateAccount`; a
    /// sub-account is created by its parent; a top-level account by the registrar, or by anyone
    /// when its name is long enough.
    fn may_create(&self, predecessor: &AccountId, account: &AccountId) -> Result<(), ActionError> {
        if account.get_account_type().is_implicit() {
            return Err(ActionError::OnlyImplicitAccountCreationAllowed(
                account.clone(),
            ));
        }
        if account.is_top_level() {
            let registrar = self.fees.registrar_account_id();
            if account.len() < self.fees.min_top_level_account_length() && predecessor != registrar
            {
                return Err(ActionError::CreateAccountOnlyByRegistrar {
                    account: account.clone(),
                    registrar: registrar.clone(),
                    predecessor: predecessor.clone(),
                });
            }
            return Ok(());
        }
        if !account.is_sub_account_of(predecessor) {
            return Err(ActionError::CreateAccountNotAllowed {
                account: account.clone(),
                predecessor: predecessor.clone(),
            });
        }
        Ok(())
    }
}

/// Queues what a receipt gives back, after what it created (nearcore's order): on failure its
/// deposits (to `refund_to` or the predecessor), then its gas refund to the signer, whose key's
/// allowance it restores. A refund receipt is free and refunds nothing; its own failure burns
/// its amount, as on NEAR (sending it again would bounce it between the system and a missing
/// account forever).
fn push_refunds(
    receipt: &Receipt,
    action: &ActionReceipt,
    applied: &mut Applied,
    failed: bool,
    gas_refund: u128,
) {
    if failed {
        let deposits: u128 = action.actions.iter().map(Action::deposit).sum();
        if receipt.predecessor_id.as_str() == SYSTEM_ACCOUNT {
            if deposits > 0 {
                tracing::warn!(
                    receipt = %bs58::encode(receipt.id).into_string(),
                    receiver = %receipt.receiver_id,
                    amount = deposits,
                    "refund failed; its amount is burnt"
                );
            }
        } else {
            applied.refunds.push(Refund {
                to: action
                    .refund_to
                    .clone()
                    .unwrap_or(receipt.predecessor_id.clone()),
                amount: deposits,
                signer_key: None,
            });
        }
    }
    applied.refunds.push(Refund {
        to: action.signer_id.clone(),
        amount: gas_refund,
        signer_key: Some(action.signer_public_key.clone()),
    });
}

/// The reward a contract earns for the gas its function calls burnt, as nearcore's
/// `apply_action_receipt` computes it: the share `numerator / denominator` of the gas, rounded
/// down in gas units, then priced at `gas_price` (so `7` gas at 3/10 earns `2 * gas_price`, not
/// `2.1 * gas_price`). In u128, where nearcore's u64 product would overflow and panic.
fn burnt_gas_reward(gas: u64, gas_price: u128, (numerator, denominator): (u64, u64)) -> u128 {
    let reward_gas = u128::from(gas) * u128::from(numerator) / u128::from(denominator);
    reward_gas * gas_price
}

/// The most bytes an account may store besides its code and still be deleted (nearcore's
/// `Account::MAX_ACCOUNT_DELETION_STORAGE_USAGE`): deleting more would cost more than its fees.
pub const MAX_ACCOUNT_DELETION_STORAGE_USAGE: u64 = 10_000;

/// Whether `receipt` creates its missing receiver with a transfer (nearcore's
/// `check_account_existence`): a NEAR-implicit id (64 hex digits), the transfer the receipt's
/// only action, and not a refund. The other implicit kinds (`0x…` with its global wallet
/// contract, `0s…`, `0u…`) are not created here: such a transfer fails as sent to a missing
/// account.
fn creates_near_implicit_account(receipt: &Receipt, action: &ActionReceipt) -> bool {
    receipt.receiver_id.get_account_type() == AccountType::NearImplicitAccount
        && action.actions.len() == 1
        && receipt.predecessor_id.as_str() != SYSTEM_ACCOUNT
}

/// The fee of one action, one side (`fee` gives send or exec gas; `transfer` is a transfer's,
/// which depends on its receiver).
fn action_fee(item: &Action, fee: impl Fn(Fee) -> u64, transfer: u64) -> u64 {
    match item {
        Action::CreateAccount => fee(Fee::create_account),
        Action::DeployContract { code } => {
            fee(Fee::deploy_contract_base) + fee(Fee::deploy_contract_byte) * code.len() as u64
        }
        Action::FunctionCall {
            method_name, args, ..
        } => {
            fee(Fee::function_call_base)
                + fee(Fee::function_call_byte) * (method_name.len() + args.len()) as u64
        }
        Action::Transfer { .. } => transfer,
        Action::AddKey {
            permission: AccessKeyPermission::FullAccess,
            ..
        } => fee(Fee::add_full_access_key),
        Action::AddKey {
            permission: AccessKeyPermission::FunctionCall { method_names, .. },
            ..
        } => {
            let bytes: usize = method_names.iter().map(|m| m.len() + 1).sum();
            fee(Fee::add_function_call_key_base)
                + fee(Fee::add_function_call_key_byte) * bytes as u64
        }
        Action::DeleteKey { .. } => fee(Fee::delete_key),
        Action::DeleteAccount { .. } => fee(Fee::delete_account),
    }
}

#[cfg(test)]
mod tests {
    use super::burnt_gas_reward;

    #[test]
    fn the_gas_reward_is_rounded_down_in_gas_before_it_is_priced() {
        // nearcore's 3/10 (protocols before 87): 7 gas earn 2 gas, at 10^8 yoctoNEAR each.
        let price = 100_000_000;
        assert_eq!(burnt_gas_reward(7, price, (3, 10)), 2 * price);
        // 3 * gas divisible by 10: nothing to round.
        assert_eq!(burnt_gas_reward(10, price, (3, 10)), 3 * price);
        // Protocol 88's 0 earns nothing.
        assert_eq!(burnt_gas_reward(7, price, (0, 1)), 0);
        // No overflow where nearcore's u64 product would.
        let gas = u64::MAX / 2;
        let reward_gas = u128::from(gas) * 3 / 10;
        assert_eq!(burnt_gas_reward(gas, price, (3, 10)), reward_gas * price);
    }
}
