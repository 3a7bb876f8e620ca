//! Storage host functions: read, write, remove, has_key (and the deprecated iterators).

use super::Logic;
use crate::abi::{External, HostError, MemoryLike};
use crate::fees::Ext;

/// Values longer than this are not stored inline in nearcore's trie nodes: reading one costs
/// `storage_large_read_overhead_*` on top.
const INLINE_DISK_VALUE_THRESHOLD: u64 = 4000;

impl<E: External> Logic<E> {
    /// Writes a value under a key; returns 1 and puts the old value in the register if the key
    /// was set, else 0.
    pub fn storage_write(
        &mut self,
        mem: &mut dyn MemoryLike,
        key_len: u64,
        key_ptr: u64,
        value_len: u64,
        value_ptr: u64,
        register_id: u64,
    ) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("storage_write")?;
        self.charge(Ext::storage_write_base)?;
        let key = self.storage_key(mem, key_ptr, key_len)?;
        let value = self.memory_or_register(mem, value_ptr, value_len)?;
        let limit = self.fees.limits().max_length_storage_value;
        if value.len() as u64 > limit {
            return Err(HostError::ValueLengthExceeded {
                length: value.len() as u64,
                limit,
            });
        }
        self.charge_n(Ext::storage_write_key_byte, key.len() as u64)?;
        self.charge_n(Ext::storage_write_value_byte, value.len() as u64)?;
        match self.ext.storage_write(&key, &value) {
            Some(old) => {
                self.storage_usage = self.storage_usage - old.len() as u64 + value.len() as u64;
                self.charge_n(Ext::storage_write_evicted_byte, old.len() as u64)?;
                self.set_register(register_id, &old)?;
                Ok(1)
            }
            None => {
                self.storage_usage += (key.len() + value.len()) as u64 + self.record_bytes();
                Ok(0)
            }
        }
    }

    /// Reads a key's value into the register; returns 1 if it was set, else 0.
    pub fn storage_read(
        &mut self,
        mem: &mut dyn MemoryLike,
        key_len: u64,
        key_ptr: u64,
        register_id: u64,
    ) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        self.charge(Ext::storage_read_base)?;
        let key = self.storage_key(mem, key_ptr, key_len)?;
        self.charge_n(Ext::storage_read_key_byte, key.len() as u64)?;
        match self.ext.storage_read(&key) {
            Some(value) => {
                let len = value.len() as u64;
                self.charge_n(Ext::storage_read_value_byte, len)?;
                if len > INLINE_DISK_VALUE_THRESHOLD {
                    self.charge(Ext::storage_large_read_overhead_base)?;
                    self.charge_n(Ext::storage_large_read_overhead_byte, len)?;
                }
                self.set_register(register_id, &value)?;
                Ok(1)
            }
            None => Ok(0),
        }
    }

    /// Removes a key; returns 1 and puts its value in the register if it was set, else 0.
    pub fn storage_remove(
        &mut self,
        mem: &mut dyn MemoryLike,
        key_len: u64,
        key_ptr: u64,
        register_id: u64,
    ) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("storage_remove")?;
        self.charge(Ext::storage_remove_base)?;
        let key = self.storage_key(mem, key_ptr, key_len)?;
        self.charge_n(Ext::storage_remove_key_byte, key.len() as u64)?;
        match self.ext.storage_remove(&key) {
            Some(value) => {
                self.charge_n(Ext::storage_remove_ret_value_byte, value.len() as u64)?;
                self.set_register(register_id, &value)?;
                self.storage_usage -= (key.len() + value.len()) as u64 + self.record_bytes();
                Ok(1)
            }
            None => Ok(0),
        }
    }

    /// 1 if the key is set, else 0.
    pub fn storage_has_key(
        &mut self,
        mem: &mut dyn MemoryLike,
        key_len: u64,
        key_ptr: u64,
    ) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        self.charge(Ext::storage_has_key_base)?;
        let key = self.storage_key(mem, key_ptr, key_len)?;
        self.charge_n(Ext::storage_has_key_byte, key.len() as u64)?;
        Ok(u64::from(self.ext.storage_has_key(&key)))
    }

    /// Deprecated since protocol 47; always an error, as on NEAR.
    pub fn storage_iter_prefix(
        &mut self,
        _mem: &mut dyn MemoryLike,
        _prefix_len: u64,
        _prefix_ptr: u64,
    ) -> Result<u64, HostError> {
        Err(HostError::Deprecated("storage_iter_prefix"))
    }

    /// Deprecated since protocol 47; always an error, as on NEAR.
    pub fn storage_iter_range(
        &mut self,
        _mem: &mut dyn MemoryLike,
        _start_len: u64,
        _start_ptr: u64,
        _end_len: u64,
        _end_ptr: u64,
    ) -> Result<u64, HostError> {
        Err(HostError::Deprecated("storage_iter_range"))
    }

    /// Deprecated since protocol 47; always an error, as on NEAR.
    pub fn storage_iter_next(
        &mut self,
        _mem: &mut dyn MemoryLike,
        _iterator_id: u64,
        _key_register_id: u64,
        _value_register_id: u64,
    ) -> Result<u64, HostError> {
        Err(HostError::Deprecated("storage_iter_next"))
    }

    fn storage_key(
        &mut self,
        mem: &dyn MemoryLike,
        key_ptr: u64,
        key_len: u64,
    ) -> Result<Vec<u8>, HostError> {
        let key = self.memory_or_register(mem, key_ptr, key_len)?;
        let limit = self.fees.limits().max_length_storage_key;
        if key.len() as u64 > limit {
            return Err(HostError::KeyLengthExceeded {
                length: key.len() as u64,
                limit,
            });
        }
        Ok(key)
    }

    fn record_bytes(&self) -> u64 {
        self.fees.storage_bytes_record()
    }
}
