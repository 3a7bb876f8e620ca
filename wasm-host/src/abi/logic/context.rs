//! Host functions that describe the call: accounts, input, block, balances, gas, seed.

use super::Logic;
use crate::abi::{External, HostError, MemoryLike};
use crate::fees::Ext;

impl<E: External> Logic<E> {
    /// The contract's own account id, into a register.
    pub fn current_account_id(
        &mut self,
        _mem: &mut dyn MemoryLike,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        let id = self.context.current_account_id.as_bytes().to_vec();
        self.set_register(register_id, &id)
    }

    /// The transaction's signer, into a register (not in views).
    pub fn signer_account_id(
        &mut self,
        _mem: &mut dyn MemoryLike,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("signer_account_id")?;
        let id = self.context.signer_account_id.as_bytes().to_vec();
        self.set_register(register_id, &id)
    }

    /// The signer's public key (borsh), into a register (not in views).
    pub fn signer_account_pk(
        &mut self,
        _mem: &mut dyn MemoryLike,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("signer_account_pk")?;
        let pk = self.context.signer_account_pk.clone();
        self.set_register(register_id, &pk)
    }

    /// The account that sent this receipt, into a register (not in views).
    pub fn predecessor_account_id(
        &mut self,
        _mem: &mut dyn MemoryLike,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("predecessor_account_id")?;
        let id = self.context.predecessor_account_id.as_bytes().to_vec();
        self.set_register(register_id, &id)
    }

    /// Where refunds of this receipt go, into a register (not in views).
    pub fn refund_to_account_id(
        &mut self,
        _mem: &mut dyn MemoryLike,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("refund_to_account_id")?;
        let id = self.context.refund_to_account_id.as_bytes().to_vec();
        self.set_register(register_id, &id)
    }

    /// The call's arguments, into a register.
    pub fn input(&mut self, _mem: &mut dyn MemoryLike, register_id: u64) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        let input = self.context.input.clone();
        self.set_register(register_id, &input)
    }

    /// The chain id, into a register.
    pub fn chain_id(
        &mut self,
        _mem: &mut dyn MemoryLike,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        let id = self.context.chain_id.clone().into_bytes();
        self.set_register(register_id, &id)
    }

    /// Which code runs: 1 (a local contract) with its hash in the register.
    pub fn current_contract_code(
        &mut self,
        _mem: &mut dyn MemoryLike,
        register_id: u64,
    ) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        let hash = self.context.code_hash;
        self.set_register(register_id, &hash)?;
        Ok(1)
    }

    /// The block height.
    pub fn block_index(&mut self, _mem: &mut dyn MemoryLike) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        Ok(self.context.block_height)
    }

    /// The block timestamp, nanoseconds.
    pub fn block_timestamp(&mut self, _mem: &mut dyn MemoryLike) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        Ok(self.context.block_timestamp)
    }

    /// The epoch height.
    pub fn epoch_height(&mut self, _mem: &mut dyn MemoryLike) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        Ok(self.context.epoch_height)
    }

    /// Bytes of state the account uses now.
    pub fn storage_usage(&mut self, _mem: &mut dyn MemoryLike) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        Ok(self.storage_usage)
    }

    /// The account's balance now (u128 little-endian at `balance_ptr`).
    pub fn account_balance(
        &mut self,
        mem: &mut dyn MemoryLike,
        balance_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        let balance = self.balance;
        self.write_memory(mem, balance_ptr, &balance.to_le_bytes())
    }

    /// The account's locked balance (u128 little-endian at `balance_ptr`).
    pub fn account_locked_balance(
        &mut self,
        mem: &mut dyn MemoryLike,
        balance_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        let locked = self.context.account_locked_balance;
        self.write_memory(mem, balance_ptr, &locked.to_le_bytes())
    }

    /// The deposit attached to the call (u128 little-endian at `balance_ptr`).
    pub fn attached_deposit(
        &mut self,
        mem: &mut dyn MemoryLike,
        balance_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        let deposit = self.context.attached_deposit;
        self.write_memory(mem, balance_ptr, &deposit.to_le_bytes())
    }

    /// Gas attached to the call (not in views).
    pub fn prepaid_gas(&mut self, _mem: &mut dyn MemoryLike) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("prepaid_gas")?;
        Ok(self.context.prepaid_gas)
    }

    /// Gas used so far (not in views).
    pub fn used_gas(&mut self, _mem: &mut dyn MemoryLike) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("used_gas")?;
        Ok(self.gas.used())
    }

    /// The block's random seed, into a register.
    pub fn random_seed(
        &mut self,
        _mem: &mut dyn MemoryLike,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        let seed = self.context.random_seed.clone();
        self.set_register(register_id, &seed)
    }

    /// A validator's stake: the in-process chain has no validators, so always 0. The account id
    /// is read as nearcore reads it: from memory or a register, charged as UTF-8, and (under
    /// protocol 88's rules) an invalid one is `InvalidAccountId`.
    pub fn validator_stake(
        &mut self,
        mem: &mut dyn MemoryLike,
        account_id_len: u64,
        account_id_ptr: u64,
        stake_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.read_account_id(mem, account_id_len, account_id_ptr)?;
        self.charge(Ext::validator_stake_base)?;
        self.write_memory(mem, stake_ptr, &0u128.to_le_bytes())
    }

    /// Total stake of the validators: 0 on the in-process chain.
    pub fn validator_total_stake(
        &mut self,
        mem: &mut dyn MemoryLike,
        stake_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.charge(Ext::validator_total_stake_base)?;
        self.write_memory(mem, stake_ptr, &0u128.to_le_bytes())
    }
}
