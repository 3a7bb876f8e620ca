//! Promises: creating receipts, appending actions, joining, and reading dependency results.

use super::Logic;
use crate::abi::receipts::{DataDependency, ReceiptSpec};
use crate::abi::{
    AccessKeyPermission, AccountId, Action, External, HostError, MemoryLike, PromiseResult,
    ReturnData,
};
use crate::fees::{Action as Fee, Ext};
use std::sync::Arc;

/// A promise index's meaning: one receipt, or a join of several (`promise_and`).
#[derive(Debug, Clone)]
pub(crate) enum Promise {
    Receipt(usize),
    Joint(Vec<usize>),
}

impl<E: External> Logic<E> {
    /// A receipt to `account_id` calling a method: `promise_batch_create` plus a function call.
    #[allow(clippy::too_many_arguments)]
    pub fn promise_create(
        &mut self,
        mem: &mut dyn MemoryLike,
        account_id_len: u64,
        account_id_ptr: u64,
        method_name_len: u64,
        method_name_ptr: u64,
        arguments_len: u64,
        arguments_ptr: u64,
        amount_ptr: u64,
        gas: u64,
    ) -> Result<u64, HostError> {
        let promise = self.promise_batch_create(mem, account_id_len, account_id_ptr)?;
        let call = (
            method_name_len,
            method_name_ptr,
            arguments_len,
            arguments_ptr,
        );
        self.function_call(mem, promise, call, amount_ptr, gas, 0)?;
        Ok(promise)
    }

    /// A callback after `promise_idx`: `promise_batch_then` plus a function call.
    #[allow(clippy::too_many_arguments)]
    pub fn promise_then(
        &mut self,
        mem: &mut dyn MemoryLike,
        promise_idx: u64,
        account_id_len: u64,
        account_id_ptr: u64,
        method_name_len: u64,
        method_name_ptr: u64,
        arguments_len: u64,
        arguments_ptr: u64,
        amount_ptr: u64,
        gas: u64,
    ) -> Result<u64, HostError> {
        let promise = self.promise_batch_then(mem, promise_idx, account_id_len, account_id_ptr)?;
        let call = (
            method_name_len,
            method_name_ptr,
            arguments_len,
            arguments_ptr,
        );
        self.function_call(mem, promise, call, amount_ptr, gas, 0)?;
        Ok(promise)
    }

    /// A promise that completes when all the given promises (u64 indices in memory) complete.
    pub fn promise_and(
        &mut self,
        mem: &mut dyn MemoryLike,
        promise_idx_ptr: u64,
        promise_idx_count: u64,
    ) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_and")?;
        self.charge(Ext::promise_and_base)?;
        let bytes_len = promise_idx_count
            .checked_mul(8)
            .ok_or(HostError::IntegerOverflow)?;
        self.charge_n(Ext::promise_and_per_promise, bytes_len)?;
        let bytes = self.read_memory(mem, promise_idx_ptr, bytes_len)?;
        let limit = self.fees.limits().max_number_input_data_dependencies;
        let mut receipts = Vec::new();
        for chunk in bytes.chunks_exact(8) {
            let index = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
            match self.promise(index)? {
                Promise::Receipt(receipt) => receipts.push(receipt),
                Promise::Joint(joined) => receipts.extend(joined),
            }
            if receipts.len() as u64 > limit {
                return Err(HostError::NumberInputDataDependenciesExceeded { limit });
            }
        }
        self.push_promise(Promise::Joint(receipts))
    }

    /// A new receipt to `account_id`, with no actions yet.
    pub fn promise_batch_create(
        &mut self,
        mem: &mut dyn MemoryLike,
        account_id_len: u64,
        account_id_ptr: u64,
    ) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_batch_create")?;
        let receiver_id = self.read_account_id(mem, account_id_len, account_id_ptr)?;
        let sir = receiver_id == self.context.current_account_id;
        self.pay_new_receipt(sir, &[])?;
        let receipt = self.new_receipt(receiver_id, Vec::new(), None);
        self.push_promise(Promise::Receipt(receipt))
    }

    /// A new receipt to `account_id` that runs after `promise_idx` and receives its result(s).
    pub fn promise_batch_then(
        &mut self,
        mem: &mut dyn MemoryLike,
        promise_idx: u64,
        account_id_len: u64,
        account_id_ptr: u64,
    ) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_batch_then")?;
        let receiver_id = self.read_account_id(mem, account_id_len, account_id_ptr)?;
        let dependencies = match self.promise(promise_idx)? {
            Promise::Receipt(receipt) => vec![receipt],
            Promise::Joint(receipts) => receipts,
        };
        let sir = receiver_id == self.context.current_account_id;
        let deps_sir: Vec<bool> = dependencies
            .iter()
            .map(|&r| self.receipts[r].receiver_id == receiver_id)
            .collect();
        self.pay_new_receipt(sir, &deps_sir)?;
        let mut input_data_ids = Vec::with_capacity(dependencies.len());
        for dependency in dependencies {
            let data_id = self.ext.generate_data_id();
            self.receipts[dependency]
                .output_data_receivers
                .push(DataDependency {
                    data_id,
                    receiver_id: receiver_id.clone(),
                });
            input_data_ids.push(data_id);
        }
        let receipt = self.new_receipt(receiver_id, input_data_ids, None);
        self.push_promise(Promise::Receipt(receipt))
    }

    /// Sends the refunds of `promise_idx`'s receipt to another account.
    pub fn promise_set_refund_to(
        &mut self,
        mem: &mut dyn MemoryLike,
        promise_idx: u64,
        account_id_len: u64,
        account_id_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_set_refund_to")?;
        let refund_to = self.read_account_id(mem, account_id_len, account_id_ptr)?;
        let receipt = match self.promise(promise_idx)? {
            Promise::Receipt(receipt) => receipt,
            Promise::Joint(_) => return Err(HostError::CannotSetRefundToOnJointPromise),
        };
        self.receipts[receipt].refund_to = Some(refund_to);
        Ok(())
    }

    /// Appends creating the receiver account.
    pub fn promise_batch_action_create_account(
        &mut self,
        _mem: &mut dyn MemoryLike,
        promise_idx: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_batch_action_create_account")?;
        let (receipt, sir) = self.receipt_of(promise_idx)?;
        self.pay_action(Fee::create_account, 1, sir)?;
        self.receipts[receipt].actions.push(Action::CreateAccount);
        Ok(())
    }

    /// Appends deploying code on the receiver.
    pub fn promise_batch_action_deploy_contract(
        &mut self,
        mem: &mut dyn MemoryLike,
        promise_idx: u64,
        code_len: u64,
        code_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_batch_action_deploy_contract")?;
        let code = self.memory_or_register(mem, code_ptr, code_len)?;
        let length = code.len() as u64;
        let limit = self.fees.limits().max_contract_size;
        if length > limit {
            return Err(HostError::ContractSizeExceeded { length, limit });
        }
        let (receipt, sir) = self.receipt_of(promise_idx)?;
        self.pay_action(Fee::deploy_contract_base, 1, sir)?;
        self.pay_action(Fee::deploy_contract_byte, length, sir)?;
        let code = Arc::new(code);
        self.receipts[receipt]
            .actions
            .push(Action::DeployContract { code });
        Ok(())
    }

    /// Appends a function call with fixed gas.
    #[allow(clippy::too_many_arguments)]
    pub fn promise_batch_action_function_call(
        &mut self,
        mem: &mut dyn MemoryLike,
        promise_idx: u64,
        method_name_len: u64,
        method_name_ptr: u64,
        arguments_len: u64,
        arguments_ptr: u64,
        amount_ptr: u64,
        gas: u64,
    ) -> Result<(), HostError> {
        let call = (
            method_name_len,
            method_name_ptr,
            arguments_len,
            arguments_ptr,
        );
        self.function_call(mem, promise_idx, call, amount_ptr, gas, 0)
    }

    /// Appends a function call that also gets a `gas_weight` share of the gas left unused.
    #[allow(clippy::too_many_arguments)]
    pub fn promise_batch_action_function_call_weight(
        &mut self,
        mem: &mut dyn MemoryLike,
        promise_idx: u64,
        method_name_len: u64,
        method_name_ptr: u64,
        arguments_len: u64,
        arguments_ptr: u64,
        amount_ptr: u64,
        gas: u64,
        gas_weight: u64,
    ) -> Result<(), HostError> {
        let call = (
            method_name_len,
            method_name_ptr,
            arguments_len,
            arguments_ptr,
        );
        self.function_call(mem, promise_idx, call, amount_ptr, gas, gas_weight)
    }

    /// Appends a transfer of the u128 at `amount_ptr`.
    pub fn promise_batch_action_transfer(
        &mut self,
        mem: &mut dyn MemoryLike,
        promise_idx: u64,
        amount_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_batch_action_transfer")?;
        let deposit = self.read_u128(mem, amount_ptr)?;
        let (receipt, sir) = self.receipt_of(promise_idx)?;
        // A transfer to an implicit account pays for the account it may create.
        let receiver = &self.receipts[receipt].receiver_id;
        let burn = self.fees.transfer_send(sir, receiver);
        let exec = self.fees.transfer_exec(receiver);
        let used = burn.checked_add(exec).ok_or(HostError::IntegerOverflow)?;
        self.gas.deduct(burn, used)?;
        self.deduct_balance(deposit)?;
        self.receipts[receipt]
            .actions
            .push(Action::Transfer { deposit });
        Ok(())
    }

    /// Appends adding a full-access key.
    pub fn promise_batch_action_add_key_with_full_access(
        &mut self,
        mem: &mut dyn MemoryLike,
        promise_idx: u64,
        public_key_len: u64,
        public_key_ptr: u64,
        nonce: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_batch_action_add_key_with_full_access")?;
        let public_key = self.read_public_key(mem, public_key_len, public_key_ptr)?;
        let (receipt, sir) = self.receipt_of(promise_idx)?;
        self.pay_action(Fee::add_full_access_key, 1, sir)?;
        self.receipts[receipt].actions.push(Action::AddKey {
            public_key,
            nonce,
            permission: AccessKeyPermission::FullAccess,
        });
        Ok(())
    }

    /// Appends adding a function-call key: limited to `receiver_id` and the comma-separated
    /// method names, with an allowance (0 means unlimited).
    #[allow(clippy::too_many_arguments)]
    pub fn promise_batch_action_add_key_with_function_call(
        &mut self,
        mem: &mut dyn MemoryLike,
        promise_idx: u64,
        public_key_len: u64,
        public_key_ptr: u64,
        nonce: u64,
        allowance_ptr: u64,
        receiver_id_len: u64,
        receiver_id_ptr: u64,
        method_names_len: u64,
        method_names_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_batch_action_add_key_with_function_call")?;
        let public_key = self.read_public_key(mem, public_key_len, public_key_ptr)?;
        let allowance = self.read_u128(mem, allowance_ptr)?;
        let receiver_id = self.read_account_id(mem, receiver_id_len, receiver_id_ptr)?;
        let names = self.memory_or_register(mem, method_names_ptr, method_names_len)?;
        // As nearcore: no names means any method; otherwise none of them may be empty ("a,,b").
        let method_names: Vec<&[u8]> = if names.is_empty() {
            Vec::new()
        } else {
            names
                .split(|&byte| byte == b',')
                .map(|name| match name {
                    [] => Err(HostError::EmptyMethodName),
                    name => Ok(name),
                })
                .collect::<Result<_, _>>()?
        };
        let name_bytes: u64 = method_names.iter().map(|n| n.len() as u64 + 1).sum();
        let (receipt, sir) = self.receipt_of(promise_idx)?;
        self.pay_action(Fee::add_function_call_key_base, 1, sir)?;
        self.pay_action(Fee::add_function_call_key_byte, name_bytes, sir)?;
        let method_names = method_names
            .into_iter()
            .map(|name| method_name_text(name.to_vec()))
            .collect::<Result<_, _>>()?;
        self.receipts[receipt].actions.push(Action::AddKey {
            public_key,
            nonce,
            permission: AccessKeyPermission::FunctionCall {
                allowance: (allowance > 0).then_some(allowance),
                receiver_id: receiver_id.to_string(),
                method_names,
            },
        });
        Ok(())
    }

    /// Appends deleting a key.
    pub fn promise_batch_action_delete_key(
        &mut self,
        mem: &mut dyn MemoryLike,
        promise_idx: u64,
        public_key_len: u64,
        public_key_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_batch_action_delete_key")?;
        let public_key = self.read_public_key(mem, public_key_len, public_key_ptr)?;
        let (receipt, sir) = self.receipt_of(promise_idx)?;
        self.pay_action(Fee::delete_key, 1, sir)?;
        self.receipts[receipt]
            .actions
            .push(Action::DeleteKey { public_key });
        Ok(())
    }

    /// Appends deleting the receiver account, its balance going to a beneficiary.
    pub fn promise_batch_action_delete_account(
        &mut self,
        mem: &mut dyn MemoryLike,
        promise_idx: u64,
        beneficiary_id_len: u64,
        beneficiary_id_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_batch_action_delete_account")?;
        let beneficiary_id = self.read_account_id(mem, beneficiary_id_len, beneficiary_id_ptr)?;
        let (receipt, sir) = self.receipt_of(promise_idx)?;
        self.pay_action(Fee::delete_account, 1, sir)?;
        self.receipts[receipt]
            .actions
            .push(Action::DeleteAccount { beneficiary_id });
        Ok(())
    }

    /// How many dependency results this call received.
    pub fn promise_results_count(&mut self, _mem: &mut dyn MemoryLike) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_results_count")?;
        Ok(self.context.promise_results.len() as u64)
    }

    /// Dependency result `result_idx`: 1 with the value in the register, or 2 if it failed.
    pub fn promise_result(
        &mut self,
        _mem: &mut dyn MemoryLike,
        result_idx: u64,
        register_id: u64,
    ) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_result")?;
        let results = self.context.promise_results.clone();
        match results.get(result_idx as usize) {
            None => Err(HostError::InvalidPromiseResultIndex(result_idx)),
            Some(PromiseResult::Failed) => Ok(2),
            Some(PromiseResult::Successful(data)) => {
                self.set_register(register_id, data)?;
                Ok(1)
            }
        }
    }

    /// Makes the call's result that of `promise_idx`'s receipt.
    pub fn promise_return(
        &mut self,
        _mem: &mut dyn MemoryLike,
        promise_idx: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.charge(Ext::promise_return)?;
        self.forbid_in_view("promise_return")?;
        match self.promise(promise_idx)? {
            Promise::Receipt(receipt) => {
                self.return_data = ReturnData::ReceiptIndex(receipt);
                Ok(())
            }
            Promise::Joint(_) => Err(HostError::CannotReturnJointPromise),
        }
    }

    /// Appends a function call, `call` being method name and arguments as (len, ptr) pairs.
    pub(super) fn function_call(
        &mut self,
        mem: &dyn MemoryLike,
        promise_idx: u64,
        (method_len, method_ptr, args_len, args_ptr): (u64, u64, u64, u64),
        amount_ptr: u64,
        gas: u64,
        gas_weight: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_batch_action_function_call")?;
        let deposit = self.read_u128(mem, amount_ptr)?;
        let method_name = self.read_method_name(mem, method_len, method_ptr)?;
        let args = self.memory_or_register(mem, args_ptr, args_len)?;
        let (receipt, sir) = self.receipt_of(promise_idx)?;
        let bytes = (method_name.len() + args.len()) as u64;
        self.pay_action(Fee::function_call_base, 1, sir)?;
        self.pay_action(Fee::function_call_byte, bytes, sir)?;
        self.gas.deduct(0, gas)?;
        // Protocol 85's `one_yocto_on_promise`: exactly 1 yoctoNEAR on a call from an account
        // whose balance is zero is not taken from it (the protocol mints it), so a contract
        // with nothing can still make NEP-141's one-yocto calls.
        let subsidised = deposit == 1 && self.balance == 0;
        if !subsidised {
            self.deduct_balance(deposit)?;
        }
        let method_name = method_name_text(method_name)?;
        self.push_function_call(receipt, method_name, args, deposit, gas, gas_weight);
        Ok(())
    }

    pub(super) fn push_function_call(
        &mut self,
        receipt: usize,
        method_name: String,
        args: Vec<u8>,
        deposit: u128,
        gas: u64,
        gas_weight: u64,
    ) {
        let actions = &mut self.receipts[receipt].actions;
        if gas_weight > 0 {
            self.gas_weights.push((receipt, actions.len(), gas_weight));
        }
        actions.push(Action::FunctionCall {
            method_name,
            args,
            deposit,
            gas,
        });
    }

    /// A method name's bytes, as nearcore reads them: empty is `EmptyMethodName`; its length is
    /// checked with the new receipt after the call (`FunctionCallMethodNameLengthExceeded`), and
    /// whether it is UTF-8 only once the action's fees are paid ([`method_name_text`]).
    pub(super) fn read_method_name(
        &mut self,
        mem: &dyn MemoryLike,
        len: u64,
        ptr: u64,
    ) -> Result<Vec<u8>, HostError> {
        let name = self.memory_or_register(mem, ptr, len)?;
        if name.is_empty() {
            return Err(HostError::EmptyMethodName);
        }
        Ok(name)
    }

    /// Pays for a new receipt (and its data dependencies, `true` for same-receiver ones).
    pub(super) fn pay_new_receipt(
        &mut self,
        sir: bool,
        dependencies: &[bool],
    ) -> Result<(), HostError> {
        let mut burn = self.fees.send(Fee::new_action_receipt, sir);
        for &dep_sir in dependencies {
            burn += self.fees.send(Fee::new_data_receipt_base, dep_sir)
                + self.fees.exec(Fee::new_data_receipt_base);
        }
        let used = burn + self.fees.exec(Fee::new_action_receipt);
        self.gas.deduct(burn, used)
    }

    pub(super) fn new_receipt(
        &mut self,
        receiver_id: AccountId,
        input_data_ids: Vec<[u8; 32]>,
        yield_data_id: Option<[u8; 32]>,
    ) -> usize {
        self.receipts.push(ReceiptSpec {
            receiver_id,
            actions: Vec::new(),
            input_data_ids,
            output_data_receivers: Vec::new(),
            yield_data_id,
            refund_to: None,
        });
        self.receipts.len() - 1
    }

    pub(super) fn push_promise(&mut self, promise: Promise) -> Result<u64, HostError> {
        let limit = self.fees.limits().max_promises_per_function_call_action;
        if self.promises.len() as u64 >= limit {
            return Err(HostError::NumberPromisesExceeded { limit });
        }
        self.promises.push(promise);
        Ok(self.promises.len() as u64 - 1)
    }

    /// Gives the gas left unused to the weighted function calls, as nearcore does: each gets
    /// `unused * weight / total_weight` (computed in u128, so no weights can overflow), and the
    /// last also gets what rounding left over.
    pub(super) fn distribute_unused_gas(&mut self) {
        let total_weight: u128 = self
            .gas_weights
            .iter()
            .map(|&(_, _, w)| u128::from(w))
            .sum();
        let unused = self.gas.unused();
        if total_weight == 0 || unused == 0 {
            return;
        }
        let mut given: u64 = 0;
        let last = self.gas_weights.len() - 1;
        for (i, &(receipt, action, weight)) in self.gas_weights.iter().enumerate() {
            let share = if i == last {
                unused - given
            } else {
                let share = u128::from(unused) * u128::from(weight) / total_weight;
                u64::try_from(share).expect("a share of the unused gas fits in u64")
            };
            given += share;
            if let Action::FunctionCall { gas, .. } = &mut self.receipts[receipt].actions[action] {
                *gas += share;
            }
        }
        self.gas
            .deduct(0, unused)
            .expect("unused gas is within the prepaid gas");
    }

    fn promise(&self, promise_idx: u64) -> Result<Promise, HostError> {
        self.promises
            .get(promise_idx as usize)
            .cloned()
            .ok_or(HostError::InvalidPromiseIndex(promise_idx))
    }

    /// The receipt behind a (non-joint) promise, and whether it goes to the current account.
    fn receipt_of(&self, promise_idx: u64) -> Result<(usize, bool), HostError> {
        match self.promise(promise_idx)? {
            Promise::Receipt(receipt) => {
                let sir = self.receipts[receipt].receiver_id == self.context.current_account_id;
                Ok((receipt, sir))
            }
            Promise::Joint(_) => Err(HostError::CannotAppendActionToJointPromise),
        }
    }

    pub(super) fn pay_action(&mut self, fee: Fee, count: u64, sir: bool) -> Result<(), HostError> {
        let overflow = || HostError::IntegerOverflow;
        let burn = self
            .fees
            .send(fee, sir)
            .checked_mul(count)
            .ok_or_else(overflow)?;
        let exec = self
            .fees
            .exec(fee)
            .checked_mul(count)
            .ok_or_else(overflow)?;
        self.gas
            .deduct(burn, burn.checked_add(exec).ok_or_else(overflow)?)
    }

    fn deduct_balance(&mut self, amount: u128) -> Result<(), HostError> {
        self.balance = self
            .balance
            .checked_sub(amount)
            .ok_or(HostError::BalanceExceeded {
                amount,
                balance: self.balance,
            })?;
        Ok(())
    }

    /// A borsh-encoded public key: type 0 (ed25519, 32 bytes) or 1 (secp256k1, 64 bytes).
    fn read_public_key(
        &mut self,
        mem: &dyn MemoryLike,
        len: u64,
        ptr: u64,
    ) -> Result<Vec<u8>, HostError> {
        let key = self.memory_or_register(mem, ptr, len)?;
        match (key.first(), key.len()) {
            (Some(0), 33) | (Some(1), 65) => Ok(key),
            _ => Err(HostError::InvalidPublicKey),
        }
    }
}

/// A method name as text: nearcore checks it is UTF-8 when the action is appended, after its
/// fees are paid, and calls it `InvalidMethodName` if not.
pub(super) fn method_name_text(name: Vec<u8>) -> Result<String, HostError> {
    String::from_utf8(name).map_err(|_| HostError::InvalidMethodName)
}
