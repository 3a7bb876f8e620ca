//! What a call hands back: its return value, logs, and panics.

use super::Logic;
use crate::abi::{External, HostError, MemoryLike, ReturnData};
use crate::fees::{Action, Ext};

impl<E: External> Logic<E> {
    /// Sets the call's return value. Each callback waiting on the result pays, now, for the data
    /// receipt carrying it.
    pub fn value_return(
        &mut self,
        mem: &mut dyn MemoryLike,
        value_len: u64,
        value_ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        let value = self.memory_or_register(mem, value_ptr, value_len)?;
        let length = value.len() as u64;
        let limit = self.fees.limits().max_length_returned_data;
        if length > limit {
            return Err(HostError::ReturnedValueLengthExceeded { length, limit });
        }
        let mut burn = 0u64;
        for receiver in &self.context.output_data_receivers {
            let sir = receiver == &self.context.current_account_id;
            let per_byte = self.fees.send(Action::new_data_receipt_byte, sir)
                + self.fees.exec(Action::new_data_receipt_byte);
            burn = per_byte
                .checked_mul(length)
                .and_then(|gas| gas.checked_add(burn))
                .ok_or(HostError::IntegerOverflow)?;
        }
        self.gas.burn(burn)?;
        self.return_data = ReturnData::Value(value);
        Ok(())
    }

    /// Aborts the call: "explicit guest panic".
    pub fn panic(&mut self, _mem: &mut dyn MemoryLike) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        Err(HostError::GuestPanic("explicit guest panic".into()))
    }

    /// Aborts the call with a UTF-8 message.
    pub fn panic_utf8(
        &mut self,
        mem: &mut dyn MemoryLike,
        len: u64,
        ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        let message = self.read_utf8(mem, len, ptr)?;
        Err(HostError::GuestPanic(message))
    }

    /// AssemblyScript's abort: message and file name are UTF-16 strings whose byte length is
    /// stored just before them. Logs "ABORT: " and the text, which it panics with.
    pub fn abort(
        &mut self,
        mem: &mut dyn MemoryLike,
        msg_ptr: u32,
        filename_ptr: u32,
        line: u32,
        col: u32,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        if msg_ptr < 4 || filename_ptr < 4 {
            return Err(HostError::BadUtf16);
        }
        self.check_log_count()?;
        let msg_len = self.read_u32(mem, u64::from(msg_ptr) - 4)?;
        let filename_len = self.read_u32(mem, u64::from(filename_ptr) - 4)?;
        let message = self.read_utf16(mem, msg_len, u64::from(msg_ptr))?;
        let filename = self.read_utf16(mem, filename_len, u64::from(filename_ptr))?;
        let text = format!("{message}, filename: \"{filename}\" line: {line} col: {col}");
        self.charge_log(&text)?;
        self.push_log(format!("ABORT: {text}"))?;
        Err(HostError::GuestPanic(text))
    }

    /// Logs a UTF-8 string.
    pub fn log_utf8(
        &mut self,
        mem: &mut dyn MemoryLike,
        len: u64,
        ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.check_log_count()?;
        let message = self.read_utf8(mem, len, ptr)?;
        self.charge_log(&message)?;
        self.push_log(message)
    }

    /// Logs a UTF-16LE string.
    pub fn log_utf16(
        &mut self,
        mem: &mut dyn MemoryLike,
        len: u64,
        ptr: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::base)?;
        self.check_log_count()?;
        let message = self.read_utf16(mem, len, ptr)?;
        self.charge_log(&message)?;
        self.push_log(message)
    }

    fn read_u32(&mut self, mem: &dyn MemoryLike, ptr: u64) -> Result<u64, HostError> {
        let bytes = self.read_memory(mem, ptr, 4)?;
        Ok(u64::from(u32::from_le_bytes(
            bytes.try_into().expect("read 4 bytes"),
        )))
    }

    fn check_log_count(&self) -> Result<(), HostError> {
        let limit = self.fees.limits().max_number_logs;
        if self.logs.len() as u64 >= limit {
            return Err(HostError::NumberOfLogsExceeded { limit });
        }
        Ok(())
    }

    fn charge_log(&mut self, message: &str) -> Result<(), HostError> {
        self.charge(Ext::log_base)?;
        self.charge_n(Ext::log_byte, message.len() as u64)
    }

    /// Adds a log line, within the total length allowed (nearcore's `checked_push_log`).
    fn push_log(&mut self, message: String) -> Result<(), HostError> {
        self.total_log_length += message.len() as u64;
        if self.total_log_length > self.fees.limits().max_total_log_length {
            return Err(self.log_length_exceeded());
        }
        self.logs.push(message);
        Ok(())
    }
}
