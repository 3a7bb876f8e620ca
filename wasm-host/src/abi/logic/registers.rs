//! `read_register`, `register_len`, `write_register`.

use super::Logic;
use crate::abi::{External, HostError, MemoryLike};
use crate::fees::Ext;

impl<E: External> Logic<E> {
    /// Copies register `register_id` into memory at `ptr`.
    pub fn read_register(
        &mut self,
        mem: &mut dyn MemoryLike,
        register_id: u64,
        ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        let data = self.register(register_id)?;
        self.write_memory(mem, ptr, &data)
    }

    /// Length of register `register_id`, or `u64::MAX` when it is unset.
    pub fn register_len(
        &mut self,
        _mem: &mut dyn MemoryLike,
        register_id: u64,
    ) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        Ok(self
            .registers
            .get(register_id)
            .map_or(u64::MAX, |data| data.len() as u64))
    }

    /// Sets register `register_id` to `data_len` bytes of memory at `data_ptr`.
    pub fn write_register(
        &mut self,
        mem: &mut dyn MemoryLike,
        register_id: u64,
        data_len: u64,
        data_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        let data = self.read_memory(mem, data_ptr, data_len)?;
        self.set_register(register_id, &data)
    }
}
