//! Links every `env` host function to [`Logic`]: implemented ones call it, the rest of the
//! protocol-88 list (BLS12-381, alt_bn128, secp256k1, P-256, ML-DSA, staking, global contracts,
//! state init, gas keys, yields by user id) fail with a clear "not supported" error.

use super::Host;
use crate::abi::{External, HostError, Logic, MemoryLike};
use crate::host_functions;
use std::collections::HashSet;
use wasmtime::{Caller, FuncType, Linker, Val, ValType};

/// Runs one host function: charges the wasm instructions executed since the last host call, runs
/// `f` on the guest memory, and refuels wasm with what gas is left.
fn host_call<E: External + 'static, R>(
    caller: &mut Caller<'_, Host<E>>,
    f: impl FnOnce(&mut Logic<E>, &mut dyn MemoryLike) -> Result<R, HostError>,
) -> wasmtime::Result<R> {
    let fuel = caller.get_fuel()?;
    let memory = caller
        .data()
        .memory
        .expect("memory is set before wasm runs");
    let (bytes, host) = memory.data_and_store_mut(&mut *caller);
    let mut bytes = bytes;
    let ops = host.fuel_at_sync.saturating_sub(fuel);
    let result = host
        .logic
        .burn_wasm_ops(ops)
        .and_then(|()| f(&mut host.logic, &mut bytes));
    let refuel = host.logic.remaining_wasm_ops();
    host.fuel_at_sync = refuel;
    let result = result.map_err(|error| {
        let message = error.to_string();
        host.error = Some(error);
        wasmtime::format_err!("{message}")
    });
    caller.set_fuel(refuel)?;
    result
}

macro_rules! link {
    ($linker:ident, $linked:ident; $( $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty; )*) => {
        $(
            $linker.func_wrap(
                "env",
                stringify!($name),
                |mut caller: Caller<'_, Host<E>>, $($arg: $ty),*| -> wasmtime::Result<$ret> {
                    host_call(&mut caller, |logic, mem| logic.$name(mem, $($arg),*))
                },
            )?;
            $linked.insert(stringify!($name));
        )*
    };
}

/// A linker with every host function of [`host_functions`] defined in module `env`.
pub fn linker<E: External + 'static>(
    engine: &wasmtime::Engine,
) -> wasmtime::Result<Linker<Host<E>>> {
    let mut linker = Linker::new(engine);
    let mut linked = HashSet::new();
    link! { linker, linked;
        read_register(register_id: u64, ptr: u64) -> ();
        register_len(register_id: u64) -> u64;
        write_register(register_id: u64, data_len: u64, data_ptr: u64) -> ();
        current_account_id(register_id: u64) -> ();
        current_contract_code(register_id: u64) -> u64;
        refund_to_account_id(register_id: u64) -> ();
        signer_account_id(register_id: u64) -> ();
        signer_account_pk(register_id: u64) -> ();
        predecessor_account_id(register_id: u64) -> ();
        input(register_id: u64) -> ();
        chain_id(register_id: u64) -> ();
        block_index() -> u64;
        block_timestamp() -> u64;
        epoch_height() -> u64;
        storage_usage() -> u64;
        account_balance(balance_ptr: u64) -> ();
        account_locked_balance(balance_ptr: u64) -> ();
        attached_deposit(balance_ptr: u64) -> ();
        prepaid_gas() -> u64;
        used_gas() -> u64;
        random_seed(register_id: u64) -> ();
        validator_stake(len: u64, ptr: u64, stake_ptr: u64) -> ();
        validator_total_stake(stake_ptr: u64) -> ();
        sha256(len: u64, ptr: u64, register_id: u64) -> ();
        keccak256(len: u64, ptr: u64, register_id: u64) -> ();
        keccak512(len: u64, ptr: u64, register_id: u64) -> ();
        sha3_256(len: u64, ptr: u64, register_id: u64) -> ();
        sha3_384(len: u64, ptr: u64, register_id: u64) -> ();
        sha3_512(len: u64, ptr: u64, register_id: u64) -> ();
        ripemd160(len: u64, ptr: u64, register_id: u64) -> ();
        ed25519_verify(sig_len: u64, sig_ptr: u64, msg_len: u64, msg_ptr: u64, pk_len: u64, pk_ptr: u64) -> u64;
        value_return(len: u64, ptr: u64) -> ();
        panic() -> ();
        panic_utf8(len: u64, ptr: u64) -> ();
        log_utf8(len: u64, ptr: u64) -> ();
        log_utf16(len: u64, ptr: u64) -> ();
        abort(msg_ptr: u32, filename_ptr: u32, line: u32, col: u32) -> ();
        promise_create(a_len: u64, a_ptr: u64, m_len: u64, m_ptr: u64, args_len: u64, args_ptr: u64, amount_ptr: u64, gas: u64) -> u64;
        promise_then(idx: u64, a_len: u64, a_ptr: u64, m_len: u64, m_ptr: u64, args_len: u64, args_ptr: u64, amount_ptr: u64, gas: u64) -> u64;
        promise_and(ptr: u64, count: u64) -> u64;
        promise_batch_create(a_len: u64, a_ptr: u64) -> u64;
        promise_batch_then(idx: u64, a_len: u64, a_ptr: u64) -> u64;
        promise_set_refund_to(idx: u64, a_len: u64, a_ptr: u64) -> ();
        promise_batch_action_create_account(idx: u64) -> ();
        promise_batch_action_deploy_contract(idx: u64, len: u64, ptr: u64) -> ();
        promise_batch_action_function_call(idx: u64, m_len: u64, m_ptr: u64, args_len: u64, args_ptr: u64, amount_ptr: u64, gas: u64) -> ();
        promise_batch_action_function_call_weight(idx: u64, m_len: u64, m_ptr: u64, args_len: u64, args_ptr: u64, amount_ptr: u64, gas: u64, weight: u64) -> ();
        promise_batch_action_transfer(idx: u64, amount_ptr: u64) -> ();
        promise_batch_action_add_key_with_full_access(idx: u64, pk_len: u64, pk_ptr: u64, nonce: u64) -> ();
        promise_batch_action_add_key_with_function_call(idx: u64, pk_len: u64, pk_ptr: u64, nonce: u64, allowance_ptr: u64, r_len: u64, r_ptr: u64, names_len: u64, names_ptr: u64) -> ();
        promise_batch_action_delete_key(idx: u64, pk_len: u64, pk_ptr: u64) -> ();
        promise_batch_action_delete_account(idx: u64, b_len: u64, b_ptr: u64) -> ();
        promise_yield_create(m_len: u64, m_ptr: u64, args_len: u64, args_ptr: u64, gas: u64, weight: u64, register_id: u64) -> u64;
        promise_yield_resume(id_len: u64, id_ptr: u64, payload_len: u64, payload_ptr: u64) -> u32;
        promise_results_count() -> u64;
        promise_result(idx: u64, register_id: u64) -> u64;
        promise_return(idx: u64) -> ();
        storage_write(k_len: u64, k_ptr: u64, v_len: u64, v_ptr: u64, register_id: u64) -> u64;
        storage_read(k_len: u64, k_ptr: u64, register_id: u64) -> u64;
        storage_remove(k_len: u64, k_ptr: u64, register_id: u64) -> u64;
        storage_has_key(k_len: u64, k_ptr: u64) -> u64;
        storage_iter_prefix(len: u64, ptr: u64) -> u64;
        storage_iter_range(s_len: u64, s_ptr: u64, e_len: u64, e_ptr: u64) -> u64;
        storage_iter_next(iter: u64, k_reg: u64, v_reg: u64) -> u64;
    }
    for function in host_functions::all() {
        if linked.contains(function.name) {
            continue;
        }
        let ty = FuncType::new(
            engine,
            function.params.iter().map(|t| val_type(*t)),
            function.results.iter().map(|t| val_type(*t)),
        );
        let name = function.name;
        linker.func_new(
            "env",
            name,
            ty,
            move |mut caller: Caller<'_, Host<E>>, _: &[Val], _: &mut [Val]| {
                host_call(&mut caller, |_, _| {
                    Err::<(), _>(HostError::Unsupported(name))
                })
            },
        )?;
    }
    Ok(linker)
}

fn val_type(ty: wasmparser::ValType) -> ValType {
    match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        other => unreachable!("host functions only take integers, not {other}"),
    }
}
