//! The wasm engine: compiles prepared contracts with wasmtime (Cranelift), imports `env.memory`
//! the way NEAR does, links the host functions to [`Logic`], and meters instructions with
//! wasmtime fuel priced as NEAR prices them ([`op_cost`]), converted to gas at NEAR's
//! `wasm_regular_op_cost`.

mod cache;
mod error;
mod frame_charge;
mod link;
mod memory_import;
mod op_cost;
mod stack_limit;

pub use cache::MODULE_CACHE_CAPACITY;
pub use error::{FunctionCallError, WasmTrap};
pub use memory_import::import_env_memory;

use crate::abi::{CryptoHash, External, HostError, Logic, MemoryError, VMContext, VMOutcome};
use crate::fees::Fees;
use crate::prepare::{prepare, INITIAL_MEMORY_PAGES, MAX_MEMORY_PAGES};
use cache::LruCache;
use std::sync::Mutex;
use wasmtime::{Extern, Instance, Linker, Memory, MemoryType, Module, Store, Trap};

/// Host state of a running contract, kept in the wasmtime store.
pub struct Host<E> {
    logic: Logic<E>,
    memory: Option<Memory>,
    /// Fuel wasm had after the last host call (or at the start).
    fuel_at_sync: u64,
    /// The host error that stopped the contract, if one did.
    error: Option<HostError>,
}

/// Largest native stack wasmtime lets a contract use, in bytes: a backstop. NEAR's own limit
/// (`max_stack_height`, [`stack_limit`]) is a quarter of this in finite-wasm's count of frames
/// and operands, and stops a contract first unless its native frames are over four times what
/// finite-wasm counts for them (then the call fails with `WasmTrap(StackOverflow)`).
const MAX_WASM_STACK: usize = 1024 * 1024;

/// Compiles and runs contracts; the [`MODULE_CACHE_CAPACITY`] most recently used compiled
/// modules are cached by code hash.
pub struct Engine<E: 'static> {
    engine: wasmtime::Engine,
    linker: Linker<Host<E>>,
    modules: Mutex<LruCache<Module>>,
    /// Held while a module is compiled: views run outside the chain lock, and many callers
    /// asking for the same uncached code at once must pay for one compilation, not one each.
    compiling: Mutex<()>,
}

/// A finished call: what it did, why it failed (if it did), and the account state handed back.
pub struct RunResult<E> {
    pub outcome: VMOutcome,
    pub error: Option<FunctionCallError>,
    pub ext: E,
}

impl<E: External + 'static> Engine<E> {
    /// An engine with NEAR's wasm feature set, fuel metering and NaN canonicalisation.
    pub fn new() -> Result<Self, wasmtime::Error> {
        // The prices of the protocol this runtime follows (`fees::PROTOCOL_VERSION`), whose
        // `wasm_regular_op_cost` converts fuel to gas in every run.
        let operator_cost =
            op_cost::near_operator_cost(&Fees::default()).map_err(wasmtime::Error::msg)?;
        let mut config = wasmtime::Config::new();
        config
            .consume_fuel(true)
            .operator_cost(operator_cost)
            .wasm_multi_value(false)
            // For the stack limit's bookkeeping only: `prepare` refuses SIMD and multiple
            // memories in contracts.
            .wasm_simd(true)
            .wasm_multi_memory(true)
            .wasm_relaxed_simd(false)
            .wasm_bulk_memory(true)
            .cranelift_nan_canonicalization(true)
            .max_wasm_stack(MAX_WASM_STACK);
        let engine = wasmtime::Engine::new(&config)?;
        let linker = link::linker(&engine)?;
        Ok(Self {
            engine,
            linker,
            modules: Mutex::new(LruCache::new(MODULE_CACHE_CAPACITY)),
            compiling: Mutex::new(()),
        })
    }

    /// Checks `code` against NEAR's rules and compiles it (once per code hash).
    pub fn compile(
        &self,
        account: &str,
        code_hash: CryptoHash,
        code: &[u8],
    ) -> Result<Module, FunctionCallError> {
        if let Some(module) = self.cached(&code_hash) {
            return Ok(module);
        }
        let _compiling = self.compiling.lock().expect("compile lock");
        if let Some(module) = self.cached(&code_hash) {
            return Ok(module);
        }
        let refused = |error| FunctionCallError::Prepare {
            account: account.to_string(),
            error,
        };
        prepare(code).map_err(refused)?;
        let wasm =
            import_env_memory(code, INITIAL_MEMORY_PAGES, MAX_MEMORY_PAGES).map_err(refused)?;
        let wasm = frame_charge::charge_frames(&wasm).map_err(refused)?;
        let wasm = stack_limit::limit_stack(&wasm).map_err(refused)?;
        let module = Module::new(&self.engine, &wasm).map_err(|e| FunctionCallError::Compile {
            account: account.to_string(),
            message: e.to_string(),
        })?;
        self.modules
            .lock()
            .expect("module cache")
            .insert(code_hash, module.clone());
        Ok(module)
    }

    fn cached(&self, code_hash: &CryptoHash) -> Option<Module> {
        self.modules.lock().expect("module cache").get(code_hash)
    }

    /// Runs `method` of `code` in `context` over the account state `ext`.
    pub fn run(
        &self,
        code_hash: CryptoHash,
        code: &[u8],
        method: &str,
        fees: Fees,
        context: VMContext,
        ext: E,
    ) -> RunResult<E> {
        let account = context.current_account_id.to_string();
        let stack_height = u64::from(fees.limits().max_stack_height);
        let mut logic = Logic::new(fees, context, ext);
        if method.is_empty() {
            // nearcore refuses an empty name before it charges for loading the contract.
            return finish(logic, Some(FunctionCallError::MethodEmptyName));
        }
        let prepared = logic
            .charge_contract_loading(code.len() as u64)
            .map_err(FunctionCallError::Host)
            .and_then(|()| self.compile(&account, code_hash, code));
        let module = match prepared {
            Ok(module) => module,
            Err(error) => return finish(logic, Some(error)),
        };
        let not_found = || FunctionCallError::MethodNotFound {
            method: method.to_string(),
            account: account.clone(),
        };
        match module.get_export(method) {
            Some(wasmtime::ExternType::Func(ty)) => {
                if ty.params().len() != 0 || ty.results().len() != 0 {
                    let error = FunctionCallError::MethodInvalidSignature {
                        method: method.to_string(),
                        account,
                    };
                    return finish(logic, Some(error));
                }
            }
            _ => return finish(logic, Some(not_found())),
        }
        let fuel = logic.remaining_wasm_ops();
        let host = Host {
            logic,
            memory: None,
            fuel_at_sync: fuel,
            error: None,
        };
        let mut store = Store::new(&self.engine, host);
        let error = self
            .call(&mut store, &module, method, fuel, stack_height)
            .err();
        finish(store.into_data().logic, error)
    }

    fn call(
        &self,
        store: &mut Store<Host<E>>,
        module: &Module,
        method: &str,
        fuel: u64,
        stack_height: u64,
    ) -> Result<(), FunctionCallError> {
        store.set_fuel(fuel).map_err(trap)?;
        let memory_type =
            MemoryType::new(INITIAL_MEMORY_PAGES as u32, Some(MAX_MEMORY_PAGES as u32));
        let memory = Memory::new(&mut *store, memory_type).map_err(trap)?;
        store.data_mut().memory = Some(memory);
        let stack_budget = stack_budget(&mut *store, stack_height).map_err(trap)?;
        let mut imports: Vec<Extern> = Vec::new();
        for import in module.imports() {
            let item = if import.module() == stack_limit::STACK_MODULE
                && import.name() == stack_limit::STACK_MEMORY
            {
                Extern::Memory(stack_budget)
            } else if import.name() == "memory" {
                Extern::Memory(memory)
            } else {
                self.linker
                    .get(&mut *store, import.module(), import.name())
                    .map_err(trap)?
            };
            imports.push(item);
        }
        let result = Instance::new(&mut *store, module, &imports).and_then(|instance| {
            let function = instance.get_typed_func::<(), ()>(&mut *store, method)?;
            function.call(&mut *store, ())
        });
        let remaining = store.get_fuel().unwrap_or(0);
        let host = store.data_mut();
        if let Some(error) = host.error.take() {
            return Err(FunctionCallError::Host(error));
        }
        match result {
            Ok(()) => {
                let ops = host.fuel_at_sync.saturating_sub(remaining);
                host.logic
                    .burn_wasm_ops(ops)
                    .map_err(FunctionCallError::Host)
            }
            Err(error) if error.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) => {
                Err(FunctionCallError::Host(host.logic.exhaust_gas()))
            }
            Err(error) => {
                let ops = host.fuel_at_sync.saturating_sub(remaining);
                let _ = host.logic.burn_wasm_ops(ops);
                // Only the stack limit's entry check leaves the budget negative, and it traps
                // at once when it does.
                if remaining_stack(store, stack_budget) < 0 {
                    return Err(FunctionCallError::Host(HostError::Memory(
                        MemoryError::StackExhausted {
                            limit: stack_height,
                        },
                    )));
                }
                Err(trap(error))
            }
        }
    }
}

/// The stack budget of one call ([`stack_limit`]): NEAR's `max_stack_height` (`stack_height`)
/// in both `i64` lanes of the first 16 bytes of a one-page memory.
fn stack_budget<T>(store: &mut Store<T>, stack_height: u64) -> wasmtime::Result<Memory> {
    let memory = Memory::new(&mut *store, MemoryType::new(1, Some(1)))?;
    let bytes = stack_height.to_le_bytes();
    memory.write(&mut *store, 0, &[bytes, bytes].concat())?;
    Ok(memory)
}

/// What is left of the stack budget (negative once a call was refused its stack).
fn remaining_stack<T>(store: &Store<T>, budget: Memory) -> i64 {
    let mut bytes = [0u8; 8];
    match budget.read(store, 0, &mut bytes) {
        Ok(()) => i64::from_le_bytes(bytes),
        Err(_) => 0,
    }
}

fn trap(error: wasmtime::Error) -> FunctionCallError {
    match error.downcast_ref::<Trap>() {
        Some(trap) => FunctionCallError::Trap(trap.into()),
        None => {
            tracing::warn!(%error, "the contract stopped on an error that is no wasm trap");
            FunctionCallError::Trap(WasmTrap::GenericTrap)
        }
    }
}

fn finish<E: External>(logic: Logic<E>, error: Option<FunctionCallError>) -> RunResult<E> {
    let (outcome, ext) = logic.finish(error.is_some());
    RunResult {
        outcome,
        error,
        ext,
    }
}
