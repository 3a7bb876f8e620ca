//! [`Logic`]: the state of one function call as the host functions see it, and the helpers they
//! share (gas charges, guest memory, registers, strings). The host functions themselves are
//! grouped by topic in the submodules.

mod context;
mod crypto;
mod output;
mod promises;
mod registers;
mod storage;
mod yields;

use super::context::VMContext;
use super::error::HostError;
use super::external::External;
use super::gas::GasCounter;
use super::memory::{MemoryError, MemoryLike};
use super::receipts::ReceiptSpec;
use super::registers::Registers;
use super::types::{AccountId, Balance, CryptoHash, Gas, ReturnData};
use crate::fees::{Ext, Fees};
use near_primitives_core::config::AccountIdValidityRulesVersion;

pub(crate) use promises::Promise;

/// Host-side state of one function call.
pub struct Logic<E> {
    fees: Fees,
    context: VMContext,
    ext: E,
    gas: GasCounter,
    registers: Registers,
    logs: Vec<String>,
    total_log_length: u64,
    return_data: ReturnData,
    promises: Vec<Promise>,
    receipts: Vec<ReceiptSpec>,
    /// `(receipt, action, weight)` of function calls that share the unused gas.
    gas_weights: Vec<(usize, usize, u64)>,
    balance: Balance,
    storage_usage: u64,
    resumes: Vec<(CryptoHash, Vec<u8>)>,
}

/// What a function call did, for the chain to apply.
#[derive(Debug, Clone)]
pub struct VMOutcome {
    /// The account's balance after the call (deposits of new receipts taken out).
    pub balance: Balance,
    /// The account's storage usage after the call.
    pub storage_usage: u64,
    /// What the call returned.
    pub return_data: ReturnData,
    /// Gas burnt by the call (wasm, host functions, send fees of new receipts).
    pub burnt_gas: Gas,
    /// Gas burnt plus gas prepaid for the new receipts.
    pub used_gas: Gas,
    /// Log lines, in order.
    pub logs: Vec<String>,
    /// Receipts to send.
    pub receipts: Vec<ReceiptSpec>,
    /// Yields resumed: data id and payload.
    pub resumes: Vec<(CryptoHash, Vec<u8>)>,
}

impl<E: External> Logic<E> {
    /// Sets up a call in `context` over the account state `ext`.
    pub fn new(fees: Fees, context: VMContext, ext: E) -> Self {
        let max_burnt = fees.limits().max_gas_burnt.as_gas();
        let prepaid = if context.view {
            max_burnt
        } else {
            context.prepaid_gas
        };
        Self {
            gas: GasCounter::new(prepaid, max_burnt),
            balance: context.account_balance,
            storage_usage: context.storage_usage,
            fees,
            context,
            ext,
            registers: Registers::default(),
            logs: Vec::new(),
            total_log_length: 0,
            return_data: ReturnData::None,
            promises: Vec::new(),
            receipts: Vec::new(),
            gas_weights: Vec::new(),
            resumes: Vec::new(),
        }
    }

    /// The call's context.
    pub fn context(&self) -> &VMContext {
        &self.context
    }

    /// The gas counter.
    pub fn gas(&self) -> &GasCounter {
        &self.gas
    }

    /// Charges loading a contract of `code_len` bytes.
    pub fn charge_contract_loading(&mut self, code_len: u64) -> Result<(), HostError> {
        self.charge(Ext::contract_loading_base)?;
        self.charge_n(Ext::contract_loading_bytes, code_len)
    }

    /// Burns the gas of `ops` executed wasm instructions.
    pub fn burn_wasm_ops(&mut self, ops: u64) -> Result<(), HostError> {
        self.gas.burn(ops.saturating_mul(self.fees.regular_op()))
    }

    /// How many more wasm instructions the remaining gas pays for.
    pub fn remaining_wasm_ops(&self) -> u64 {
        self.gas.remaining() / self.fees.regular_op()
    }

    /// Burns everything left (wasm ran out of instructions) and says which limit was hit.
    pub fn exhaust_gas(&mut self) -> HostError {
        let rest = self.gas.remaining() + 1;
        match self.gas.burn(rest) {
            Err(error) => error,
            Ok(()) => HostError::GasExceeded,
        }
    }

    /// Ends the call. On success, gives unused gas to weighted function calls; on failure,
    /// keeps only the gas burnt and the logs.
    pub fn finish(mut self, failed: bool) -> (VMOutcome, E) {
        if failed {
            let outcome = VMOutcome {
                balance: self.context.account_balance,
                storage_usage: self.context.storage_usage,
                return_data: ReturnData::None,
                burnt_gas: self.gas.burnt(),
                used_gas: self.gas.burnt(),
                logs: self.logs,
                receipts: Vec::new(),
                resumes: Vec::new(),
            };
            return (outcome, self.ext);
        }
        self.distribute_unused_gas();
        let outcome = VMOutcome {
            balance: self.balance,
            storage_usage: self.storage_usage,
            return_data: self.return_data,
            burnt_gas: self.gas.burnt(),
            used_gas: self.gas.used(),
            logs: self.logs,
            receipts: self.receipts,
            resumes: self.resumes,
        };
        (outcome, self.ext)
    }

    fn charge(&mut self, cost: Ext) -> Result<(), HostError> {
        self.gas.burn(self.fees.ext(cost))
    }

    /// Charges `n` times `cost`; a product that overflows is `IntegerOverflow` (nearcore's
    /// `pay_per`), burning nothing.
    fn charge_n(&mut self, cost: Ext, n: u64) -> Result<(), HostError> {
        let gas = self
            .fees
            .ext(cost)
            .checked_mul(n)
            .ok_or(HostError::IntegerOverflow)?;
        self.gas.burn(gas)
    }

    fn forbid_in_view(&self, method: &'static str) -> Result<(), HostError> {
        if self.context.view {
            return Err(HostError::ProhibitedInView { method });
        }
        Ok(())
    }

    fn read_memory(
        &mut self,
        mem: &dyn MemoryLike,
        ptr: u64,
        len: u64,
    ) -> Result<Vec<u8>, HostError> {
        self.charge(Ext::read_memory_base)?;
        self.charge_n(Ext::read_memory_byte, len)?;
        let size = usize::try_from(len).map_err(|_| MemoryError::OutOfBounds { ptr, len })?;
        let mut buf = vec![0; size];
        mem.read(ptr, &mut buf)?;
        Ok(buf)
    }

    fn write_memory(
        &mut self,
        mem: &mut dyn MemoryLike,
        ptr: u64,
        data: &[u8],
    ) -> Result<(), HostError> {
        self.charge(Ext::write_memory_base)?;
        self.charge_n(Ext::write_memory_byte, data.len() as u64)?;
        Ok(mem.write(ptr, data)?)
    }

    fn read_u128(&mut self, mem: &dyn MemoryLike, ptr: u64) -> Result<u128, HostError> {
        let bytes = self.read_memory(mem, ptr, 16)?;
        Ok(u128::from_le_bytes(
            bytes.try_into().expect("read 16 bytes"),
        ))
    }

    fn set_register(&mut self, id: u64, data: &[u8]) -> Result<(), HostError> {
        self.charge(Ext::write_register_base)?;
        self.charge_n(Ext::write_register_byte, data.len() as u64)?;
        let limits = self.fees.limits();
        let (size, count, total) = (
            limits.max_register_size,
            limits.max_number_registers,
            limits.registers_memory_limit,
        );
        self.registers.set(id, data, size, count, total)
    }

    /// Register `id`'s bytes; reading one that does not exist costs nothing (as in nearcore).
    fn register(&mut self, id: u64) -> Result<Vec<u8>, HostError> {
        let data = self
            .registers
            .get(id)
            .ok_or(HostError::InvalidRegisterId(id))?
            .to_vec();
        self.charge(Ext::read_register_base)?;
        self.charge_n(Ext::read_register_byte, data.len() as u64)?;
        Ok(data)
    }

    /// Bytes at `ptr` of `len`, or, when `len` is `u64::MAX`, the content of register `ptr`.
    fn memory_or_register(
        &mut self,
        mem: &dyn MemoryLike,
        ptr: u64,
        len: u64,
    ) -> Result<Vec<u8>, HostError> {
        if len == u64::MAX {
            self.register(ptr)
        } else {
            self.read_memory(mem, ptr, len)
        }
    }

    /// An account id as nearcore reads it (`read_and_parse_account_id`): from memory or a
    /// register (`len` `u64::MAX`), charged as UTF-8 decoding (`BadUTF8` if it is not). Under
    /// the account id validity rules of protocol 83 on (version 2, as the limits say) it must be
    /// a valid id, else `InvalidAccountId` at once; older rules took it unvalidated, leaving it
    /// to the checks of the receipt it goes into.
    fn read_account_id(
        &mut self,
        mem: &dyn MemoryLike,
        len: u64,
        ptr: u64,
    ) -> Result<AccountId, HostError> {
        let bytes = self.memory_or_register(mem, ptr, len)?;
        self.charge(Ext::utf8_decoding_base)?;
        self.charge_n(Ext::utf8_decoding_byte, bytes.len() as u64)?;
        let text = String::from_utf8(bytes).map_err(|_| HostError::BadUtf8)?;
        match self.fees.limits().account_id_validity_rules_version {
            AccountIdValidityRulesVersion::V0 | AccountIdValidityRulesVersion::V1 => {
                #[allow(deprecated)] // nearcore's legacy rules: validated with the receipt
                Ok(AccountId::new_unvalidated(text))
            }
            AccountIdValidityRulesVersion::V2 => {
                text.parse().map_err(|_| HostError::InvalidAccountId)
            }
        }
    }

    /// A UTF-8 string at `ptr` of `len` bytes, or NUL-terminated when `len` is `u64::MAX`, at
    /// most what the log budget has left (nearcore's `get_utf8_string`: a longer `len` is refused
    /// before memory is read).
    fn read_utf8(&mut self, mem: &dyn MemoryLike, len: u64, ptr: u64) -> Result<String, HostError> {
        self.charge(Ext::utf8_decoding_base)?;
        let bytes = if len == u64::MAX {
            self.read_terminated(mem, ptr, 1)?
        } else {
            if len > self.log_budget() {
                return Err(self.log_length_exceeded());
            }
            self.read_memory(mem, ptr, len)?
        };
        self.charge_n(Ext::utf8_decoding_byte, bytes.len() as u64)?;
        String::from_utf8(bytes).map_err(|_| HostError::BadUtf8)
    }

    /// A UTF-16LE string at `ptr` of `len` bytes, or NUL-terminated when `len` is `u64::MAX`, at
    /// most what the log budget has left (nearcore's `get_utf16_string`).
    fn read_utf16(
        &mut self,
        mem: &dyn MemoryLike,
        len: u64,
        ptr: u64,
    ) -> Result<String, HostError> {
        self.charge(Ext::utf16_decoding_base)?;
        let bytes = if len == u64::MAX {
            self.read_terminated(mem, ptr, 2)?
        } else {
            self.read_memory(mem, ptr, len)?
        };
        if bytes.len() % 2 != 0 {
            return Err(HostError::BadUtf16);
        }
        if bytes.len() as u64 > self.log_budget() {
            return Err(self.log_length_exceeded());
        }
        self.charge_n(Ext::utf16_decoding_byte, bytes.len() as u64)?;
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).map_err(|_| HostError::BadUtf16)
    }

    /// Units of `width` bytes from `ptr` up to (not including) an all-zero unit; more than the
    /// log budget has left is `TotalLogLengthExceeded`. Each unit read is charged as a memory
    /// read.
    fn read_terminated(
        &mut self,
        mem: &dyn MemoryLike,
        ptr: u64,
        width: u64,
    ) -> Result<Vec<u8>, HostError> {
        let budget = self.log_budget();
        let mut bytes = Vec::new();
        loop {
            let at = ptr.saturating_add(bytes.len() as u64);
            let unit = self.read_memory(mem, at, width)?;
            if unit.iter().all(|b| *b == 0) {
                return Ok(bytes);
            }
            if bytes.len() as u64 + width > budget {
                return Err(self.log_length_exceeded());
            }
            bytes.extend_from_slice(&unit);
        }
    }

    /// Bytes of log (or panic message) the call may still write.
    fn log_budget(&self) -> u64 {
        let limit = self.fees.limits().max_total_log_length;
        limit.saturating_sub(self.total_log_length)
    }

    fn log_length_exceeded(&self) -> HostError {
        let limit = self.fees.limits().max_total_log_length;
        HostError::TotalLogLengthExceeded { limit }
    }
}

#[cfg(test)]
mod tests;
