//! NEAR's limits on a contract's code (protocol 84 and later): function types, locals (also at
//! most one per `min_contract_size_per_local` bytes of code, protocol 87), parameters, body sizes,
//! each function's operand stack and blocks, counted over the module as it is read.

use super::stack::ModuleTypes;
use super::PrepareError;
use near_parameters::vm::LimitConfig;
use wasmparser::{FunctionBody, Operator};

/// The limits, `u64::MAX` where the protocol sets none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CodeLimits {
    types: u64,
    locals: u64,
    contract_size_per_local: Option<u64>,
    function_body_size: u64,
    params_per_function: u64,
    params_per_contract: u64,
    blocks_per_function: u64,
    blocks_per_contract: u64,
    operand_stack_bytes_per_function: u64,
}

impl CodeLimits {
    pub(super) fn from_config(config: &LimitConfig) -> Self {
        let limit = |value: Option<u64>| value.unwrap_or(u64::MAX);
        Self {
            types: limit(config.max_types_per_contract),
            locals: limit(config.max_locals_per_contract),
            contract_size_per_local: config.min_contract_size_per_local.filter(|&n| n > 0),
            function_body_size: limit(config.max_function_body_size),
            params_per_function: limit(config.max_params_per_function),
            params_per_contract: limit(config.max_params_per_contract),
            blocks_per_function: limit(config.max_blocks_per_function),
            blocks_per_contract: limit(config.max_blocks_per_contract),
            operand_stack_bytes_per_function: limit(config.max_operand_stack_bytes_per_function),
        }
    }
}

/// Running totals of one module against [`CodeLimits`].
pub(super) struct CodeTally<'a> {
    limits: &'a CodeLimits,
    /// Locals allowed for a contract of this size.
    local_limit: u64,
    locals: u64,
    params: u64,
    blocks: u64,
    /// Index of the next function in the function section, and of the next body.
    next_function: u64,
    next_body: u64,
}

impl<'a> CodeTally<'a> {
    /// Tallies a contract of `code_len` bytes.
    pub(super) fn new(limits: &'a CodeLimits, code_len: u64) -> Self {
        let by_size = limits
            .contract_size_per_local
            .map_or(u64::MAX, |bytes| code_len / bytes);
        Self {
            limits,
            local_limit: limits.locals.min(by_size),
            locals: 0,
            params: 0,
            blocks: 0,
            next_function: 0,
            next_body: 0,
        }
    }

    /// The type section declares `count` types.
    pub(super) fn types(&mut self, count: u64) -> Result<(), PrepareError> {
        let limit = self.limits.types;
        if count > limit {
            return Err(PrepareError::TooManyTypes { count, limit });
        }
        Ok(())
    }

    /// The next function of the function section takes `params` parameters.
    pub(super) fn function_type(&mut self, params: u64) -> Result<(), PrepareError> {
        let function = self.next_function;
        self.next_function += 1;
        let limit = self.limits.params_per_function;
        if params > limit {
            let count = params;
            return Err(PrepareError::TooManyParamsInFunction {
                function,
                count,
                limit,
            });
        }
        self.params = self.params.saturating_add(params);
        let limit = self.limits.params_per_contract;
        if self.params > limit {
            let count = self.params;
            return Err(PrepareError::TooManyParams { count, limit });
        }
        Ok(())
    }

    /// The next function body: its size, its declared locals, its operand stack (finite-wasm's
    /// simulation, [`super::stack`]) and its blocks (`block`, `loop` and `if` instructions).
    pub(super) fn body(
        &mut self,
        body: &FunctionBody<'_>,
        module: &ModuleTypes,
    ) -> Result<(), PrepareError> {
        let invalid = |e: wasmparser::BinaryReaderError| PrepareError::Invalid(e.to_string());
        let function = self.next_body;
        self.next_body += 1;
        let size = body.range().len() as u64;
        let limit = self.limits.function_body_size;
        if size > limit {
            return Err(PrepareError::FunctionBodyTooLarge {
                function,
                size,
                limit,
            });
        }
        for local in body.get_locals_reader().map_err(invalid)? {
            let (count, _) = local.map_err(invalid)?;
            self.locals = self.locals.saturating_add(u64::from(count));
        }
        let limit = self.local_limit;
        if self.locals > limit {
            let count = self.locals;
            return Err(PrepareError::TooManyLocals { count, limit });
        }
        let operands = module.stack_need(function as u32, body)?.operands;
        let limit = self.limits.operand_stack_bytes_per_function;
        if operands > limit {
            return Err(PrepareError::OperandStackTooLarge {
                function,
                bytes: operands,
                limit,
            });
        }
        let mut blocks = 0u64;
        let mut operators = body.get_operators_reader().map_err(invalid)?;
        while !operators.eof() {
            let operator = operators.read().map_err(invalid)?;
            if matches!(
                operator,
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. }
            ) {
                blocks += 1;
            }
        }
        let limit = self.limits.blocks_per_function;
        if blocks > limit {
            let count = blocks;
            return Err(PrepareError::TooManyBlocksInFunction {
                function,
                count,
                limit,
            });
        }
        self.blocks = self.blocks.saturating_add(blocks);
        let limit = self.limits.blocks_per_contract;
        if self.blocks > limit {
            let count = self.blocks;
            return Err(PrepareError::TooManyBlocks { count, limit });
        }
        Ok(())
    }
}
