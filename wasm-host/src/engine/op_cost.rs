//! NEAR's price of each wasm instruction as wasmtime fuel, one unit being one
//! `wasm_regular_op_cost`. Since protocol 84 NEAR meters contracts with finite-wasm (nearcore's
//! `prepare_v3`): every instruction costs one regular op except `block`, `end` and `else`,
//! which are free, and the bulk instructions (`memory.copy`/`fill`/`init`, `table.copy`/`fill`/
//! `init`) cost `wasm_linear_op_base_cost` plus `wasm_linear_op_unit_cost` per byte or element.
//! wasmtime's own default differs (free `nop`, `drop`, `loop`, `return`, `unreachable`; bulk
//! instructions one unit plus one per byte), so the table is set here from the fee parameters.
//! The few SIMD instructions of the stack limit's bookkeeping ([`super::stack_limit`]) are free:
//! NEAR refuses SIMD in contracts, so only the bookkeeping ever runs them.

use crate::fees::Fees;
use wasmtime::OperatorCost;

/// The fuel table of `fees`, or why its bulk-instruction prices are not whole numbers of
/// regular ops that fit wasmtime's table (at most 255 each).
pub fn near_operator_cost(fees: &Fees) -> Result<OperatorCost, String> {
    let regular = fees.regular_op();
    let (base, unit) = fees.linear_op();
    let in_ops = |gas: u64, what: &str| -> Result<u8, String> {
        if !gas.is_multiple_of(regular) {
            return Err(format!(
                "{what} ({gas} gas) is not a whole number of regular ops ({regular} gas)"
            ));
        }
        u8::try_from(gas / regular)
            .map_err(|_| format!("{what} ({gas} gas) is more than 255 regular ops"))
    };
    let base = in_ops(base, "wasm_linear_op_base_cost")?;
    let unit = in_ops(unit, "wasm_linear_op_unit_cost")?;

    let mut cost = OperatorCost::new();
    // What wasmtime leaves free and finite-wasm charges.
    cost.Nop = 1;
    cost.Drop = 1;
    cost.Loop = 1;
    cost.Unreachable = 1;
    cost.Return = 1;
    // Free in both.
    cost.Block = 0;
    cost.End = 0;
    cost.Else = 0;
    // The stack limit's bookkeeping ([`super::stack_limit`]): SIMD, which no contract may
    // contain (NEAR refuses it), so free.
    cost.V128Const = 0;
    cost.I32x4ExtractLane = 0;
    cost.V128Load = 0;
    cost.V128Store = 0;
    cost.I64x2Sub = 0;
    cost.I64x2Add = 0;
    cost.I64x2ShrS = 0;
    cost.MemoryCopy = base;
    cost.MemoryFill = base;
    cost.MemoryInit = base;
    cost.TableCopy = base;
    cost.TableFill = base;
    cost.TableInit = base;
    let variable = &mut cost.variable;
    variable.memory_copy_per_byte = unit;
    variable.memory_fill_per_byte = unit;
    variable.memory_init_per_byte = unit;
    variable.table_copy_per_element = unit;
    variable.table_fill_per_element = unit;
    variable.table_init_per_element = unit;
    // finite-wasm charges `memory.grow` and `table.grow` one regular op, whatever they grow by.
    variable.memory_grow_per_page = 0;
    variable.table_grow_per_element = 0;
    Ok(cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_88_prices_bulk_instructions_at_32_ops_plus_one_per_byte() {
        let cost = near_operator_cost(&Fees::default()).unwrap();
        assert_eq!(
            (cost.MemoryCopy, cost.variable.memory_copy_per_byte),
            (32, 1)
        );
        assert_eq!(
            (cost.TableFill, cost.variable.table_fill_per_element),
            (32, 1)
        );
        assert_eq!((cost.Block, cost.End, cost.Else), (0, 0, 0));
        assert_eq!((cost.Drop, cost.Loop, cost.I32Add, cost.Call), (1, 1, 1, 1));
        // The stack limit turns each `return` into a `br`: they must cost the same.
        assert_eq!((cost.Return, cost.Br), (1, 1));
        // What the stack limit adds.
        assert_eq!(
            [
                cost.V128Const,
                cost.I32x4ExtractLane,
                cost.V128Load,
                cost.V128Store,
                cost.I64x2Sub,
                cost.I64x2Add,
                cost.I64x2ShrS
            ],
            [0; 7]
        );
    }
}
