//! Yield/resume: a callback receipt that waits for data the contract itself supplies later
//! (`promise_yield_resume`), or for the timeout.

use super::Logic;
use crate::abi::{External, HostError, MemoryLike};
use crate::fees::{Action as Fee, Ext};

impl<E: External> Logic<E> {
    /// Creates a callback to `method_name` on the current account that waits for a resume; writes
    /// its data id (32 bytes) to the register and returns its promise index.
    #[allow(clippy::too_many_arguments)]
    pub fn promise_yield_create(
        &mut self,
        mem: &mut dyn MemoryLike,
        method_name_len: u64,
        method_name_ptr: u64,
        arguments_len: u64,
        arguments_ptr: u64,
        gas: u64,
        gas_weight: u64,
        register_id: u64,
    ) -> Result<u64, HostError> {
        self.charge(Ext::base)?;
        self.forbid_in_view("promise_yield_create")?;
        self.charge(Ext::yield_create_base)?;
        let method_name = self.read_method_name(mem, method_name_len, method_name_ptr)?;
        let args = self.memory_or_register(mem, arguments_ptr, arguments_len)?;
        let bytes = (method_name.len() + args.len()) as u64;
        self.charge_n(Ext::yield_create_byte, bytes)?;
        self.gas.deduct(0, gas)?;
        self.pay_new_receipt(true, &[true])?;
        let data_id = self.ext.generate_data_id();
        let receiver_id = self.context.current_account_id.clone();
        let receipt = self.new_receipt(receiver_id, vec![data_id], Some(data_id));
        let promise = self.push_promise(super::Promise::Receipt(receipt))?;
        // The callback is a function call action like any other, and pays its action fees.
        self.pay_action(Fee::function_call_base, 1, true)?;
        self.pay_action(Fee::function_call_byte, bytes, true)?;
        let method_name = super::promises::method_name_text(method_name)?;
        self.push_function_call(receipt, method_name, args, 0, gas, gas_weight);
        self.set_register(register_id, &data_id)?;
        Ok(promise)
    }

    /// Delivers `payload` to the yield `data_id` of the current account: 1 if it was waiting, 0
    /// if not (unknown, or its resume or timeout already arrived). As on NEAR, a yield created
    /// by an earlier receipt waits until its first resume arrives, so every resume sent before
    /// that returns 1 (only the first to arrive is delivered); a yield this very call created is
    /// resolved at once and only once.
    pub fn promise_yield_resume(
        &mut self,
        mem: &mut dyn MemoryLike,
        data_id_len: u64,
        data_id_ptr: u64,
        payload_len: u64,
        payload_ptr: u64,
    ) -> Result<u32, HostError> {
        self.charge(Ext::base)?;
        // nearcore names the host function by its old name here.
        self.forbid_in_view("promise_submit_data")?;
        self.charge(Ext::yield_resume_base)?;
        self.charge_n(Ext::yield_resume_byte, payload_len)?;
        let data_id = self.memory_or_register(mem, data_id_ptr, data_id_len)?;
        let payload = self.memory_or_register(mem, payload_ptr, payload_len)?;
        let limit = self.fees.limits().max_yield_payload_size;
        if payload.len() as u64 > limit {
            return Err(HostError::YieldPayloadLength {
                length: payload.len() as u64,
                limit,
            });
        }
        let data_id: [u8; 32] = data_id.try_into().map_err(|_| HostError::DataIdMalformed)?;
        if !self.ext.yield_pending(&data_id) {
            // Created here: its callback becomes an ordinary receipt waiting for this payload
            // (nearcore's `checked_resolve_promise_yield`), no longer a yield.
            let Some(created) = self
                .receipts
                .iter_mut()
                .find(|r| r.yield_data_id == Some(data_id))
            else {
                return Ok(0);
            };
            created.yield_data_id = None;
        }
        self.resumes.push((data_id, payload));
        Ok(1)
    }
}
