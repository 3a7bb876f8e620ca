//! How much wasm stack a function needs, as nearcore counts it (protocol 62 and later): the
//! `max_stack` analysis of finite-wasm 0.6 (`finite-wasm/src/max_stack/{mod,instruction_visit}.rs`)
//! with nearcore's sizes (`SimpleMaxStackCfg` in `near-vm-runner/src/prepare/prepare_v3.rs`).
//!
//! A function's need is its frame, 64 bytes plus its parameters and locals, and the most bytes
//! its operand stack holds at once. Values are 4 bytes (`i32`, `f32`), 8 (`i64`, `f64`,
//! references) or 16 (`v128`). The operand stack is not the validator's but finite-wasm's
//! simulation of it, followed here rule for rule, quirks included:
//!
//! * once a frame is stack-polymorphic (after `unreachable`, `br`, `br_table`, `return`),
//!   nothing pushed or popped in it counts until the frame ends; an `end` pops back to the
//!   frame's height under the enclosing frame's polymorphism, then pushes the block's results;
//! * `call_indirect` pops the callee's parameters but not its table index, so the simulated
//!   stack stays 4 bytes higher until the enclosing block ends;
//! * `br_if` pops only its condition, `local.tee` and `memory.grow` leave the size as it is,
//!   unary operators and `extend*_s` keep their operand, binary ones pop one of two.
//!
//! nearcore rejects a contract whose function needs more operand stack than the protocol's
//! `max_operand_stack_bytes_per_function` (8,192 bytes since protocol 84), and at run time
//! charges each call the whole need against `max_stack_height` (262,144 bytes).

use super::PrepareError;
use wasmparser::{BlockType, FuncType, FunctionBody, Operator, RefType, ValType};

/// Bytes finite-wasm counts for a frame besides its parameters and locals ("rough accounting for
/// rip, rbp and some registers spilled").
pub const FRAME_BASE_BYTES: u64 = 64;

/// The bytes nearcore counts for a value of type `ty`.
pub fn value_size(ty: ValType) -> u64 {
    match ty {
        ValType::I32 | ValType::F32 => 4,
        ValType::I64 | ValType::F64 | ValType::Ref(_) => 8,
        ValType::V128 => 16,
    }
}

/// What a defined function needs of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackNeed {
    /// 64 bytes plus the sizes of its parameters and locals.
    pub frame: u64,
    /// The most bytes its (simulated) operand stack holds at once.
    pub operands: u64,
}

impl StackNeed {
    /// What a call of the function takes from the stack budget (nearcore's `stack_charge`).
    pub fn total(&self) -> u64 {
        self.frame.saturating_add(self.operands)
    }
}

/// The parts of a module the analysis looks up, gathered as its sections are read.
#[derive(Debug, Default, Clone)]
pub struct ModuleTypes {
    types: Vec<FuncType>,
    /// The type index of every function, imported ones first.
    functions: Vec<u32>,
    imported_functions: u32,
    globals: Vec<ValType>,
    tables: Vec<RefType>,
}

impl ModuleTypes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_type(&mut self, ty: FuncType) {
        self.types.push(ty);
    }

    /// The next function (imports come before the function section) has type `type_index`.
    pub fn add_function(&mut self, type_index: u32, imported: bool) {
        self.functions.push(type_index);
        if imported {
            self.imported_functions += 1;
        }
    }

    pub fn add_global(&mut self, ty: ValType) {
        self.globals.push(ty);
    }

    pub fn add_table(&mut self, element: RefType) {
        self.tables.push(element);
    }

    /// The type of the `defined`-th function of the code section.
    pub fn defined_type(&self, defined: u32) -> Result<&FuncType, PrepareError> {
        let index = self.imported_functions.saturating_add(defined);
        self.functions
            .get(index as usize)
            .and_then(|&ty| self.types.get(ty as usize))
            .ok_or_else(|| PrepareError::Invalid(format!("function {index} has no type")))
    }

    fn type_of(&self, type_index: u32) -> Result<&FuncType, StackError> {
        self.types
            .get(type_index as usize)
            .ok_or(StackError::Index("type", type_index))
    }

    fn function_type(&self, function: u32) -> Result<&FuncType, StackError> {
        let ty = *self
            .functions
            .get(function as usize)
            .ok_or(StackError::Index("function", function))?;
        self.type_of(ty)
    }

    /// The stack need of `body`, the `defined`-th function of the code section.
    pub fn stack_need(
        &self,
        defined: u32,
        body: &FunctionBody<'_>,
    ) -> Result<StackNeed, PrepareError> {
        let params = self.defined_type(defined)?.params();
        self.analyze(params, body).map_err(|error| {
            let function = self.imported_functions.saturating_add(defined);
            PrepareError::Invalid(format!("function {function}: {error}"))
        })
    }

    fn analyze(
        &self,
        params: &[ValType],
        body: &FunctionBody<'_>,
    ) -> Result<StackNeed, StackError> {
        // Locals as runs of one type: (index past the run's last local, type).
        let mut locals: Vec<(u32, ValType)> = Vec::new();
        let mut count = 0u32;
        let mut frame = FRAME_BASE_BYTES;
        let mut add = |n: u32, ty: ValType| -> Result<(), StackError> {
            if n == 0 {
                return Ok(());
            }
            count = count.checked_add(n).ok_or(StackError::TooManyLocals)?;
            locals.push((count, ty));
            frame = frame.saturating_add(u64::from(n).saturating_mul(value_size(ty)));
            Ok(())
        };
        for &param in params {
            add(1, param)?;
        }
        for local in body.get_locals_reader()? {
            let (n, ty) = local?;
            add(n, ty)?;
        }
        let mut state = Simulation::new(self, &locals);
        let mut operators = body.get_operators_reader()?;
        while !operators.eof() {
            let operator = operators.read()?;
            state.visit(&operator)?;
        }
        Ok(StackNeed {
            frame,
            operands: state.max_size,
        })
    }
}

/// Why the analysis stopped (finite-wasm's own errors become nearcore's `Deserialization`).
#[derive(Debug, thiserror::Error)]
enum StackError {
    #[error("{0}")]
    Read(#[from] wasmparser::BinaryReaderError),
    #[error("{0} index {1} out of range")]
    Index(&'static str, u32),
    #[error("too many locals")]
    TooManyLocals,
    #[error("operand stack analysis popped an empty stack")]
    EmptyStack,
    #[error("`else` or `end` without a block")]
    NoFrame,
    #[error("operator {0} is outside NEAR's feature set")]
    Unsupported(String),
}

/// One block's entry in finite-wasm's frame stack.
#[derive(Debug, Clone)]
struct Frame {
    /// Operand count when the frame was entered (its parameters excluded).
    height: usize,
    block_type: BlockType,
    polymorphic: bool,
}

/// finite-wasm's `FunctionState` and `Visitor`.
struct Simulation<'a> {
    module: &'a ModuleTypes,
    locals: &'a [(u32, ValType)],
    /// Sizes of the operands on the simulated stack.
    operands: Vec<u8>,
    size: u64,
    max_size: u64,
    frames: Vec<Frame>,
    current: Frame,
}

impl<'a> Simulation<'a> {
    fn new(module: &'a ModuleTypes, locals: &'a [(u32, ValType)]) -> Self {
        Self {
            module,
            locals,
            operands: Vec::new(),
            size: 0,
            max_size: 0,
            frames: Vec::new(),
            current: Frame {
                height: 0,
                block_type: BlockType::Empty,
                polymorphic: false,
            },
        }
    }

    fn push(&mut self, ty: ValType) {
        if !self.current.polymorphic {
            let size = value_size(ty);
            self.operands.push(size as u8);
            self.size += size;
            self.max_size = self.max_size.max(self.size);
        }
    }

    fn pop(&mut self) -> Result<(), StackError> {
        self.pop_many(1)
    }

    fn pop_many(&mut self, count: usize) -> Result<(), StackError> {
        if count == 0 || self.current.polymorphic {
            return Ok(());
        }
        let split = self
            .operands
            .len()
            .checked_sub(count)
            .ok_or(StackError::EmptyStack)?;
        let popped: u64 = self.operands.drain(split..).map(u64::from).sum();
        self.size -= popped;
        Ok(())
    }

    fn block_types(
        &self,
        block_type: BlockType,
    ) -> Result<(Vec<ValType>, Vec<ValType>), StackError> {
        Ok(match block_type {
            BlockType::Empty => (Vec::new(), Vec::new()),
            BlockType::Type(result) => (Vec::new(), vec![result]),
            BlockType::FuncType(index) => {
                let ty = self.module.type_of(index)?;
                (ty.params().to_vec(), ty.results().to_vec())
            }
        })
    }

    fn new_frame(&mut self, block_type: BlockType, shift: usize) -> Result<(), StackError> {
        let height = self
            .operands
            .len()
            .checked_sub(shift)
            .ok_or(StackError::EmptyStack)?;
        let frame = Frame {
            height,
            block_type,
            polymorphic: self.current.polymorphic,
        };
        self.frames
            .push(std::mem::replace(&mut self.current, frame));
        Ok(())
    }

    /// Leaves the current frame, popping back to its height under the enclosing frame's
    /// polymorphism. `None` at the function's own `end`.
    fn end_frame(&mut self) -> Result<Option<Frame>, StackError> {
        let Some(outer) = self.frames.pop() else {
            return Ok(None);
        };
        let frame = std::mem::replace(&mut self.current, outer);
        let extra = self
            .operands
            .len()
            .checked_sub(frame.height)
            .ok_or(StackError::EmptyStack)?;
        self.pop_many(extra)?;
        Ok(Some(frame))
    }

    fn call(&mut self, ty: &FuncType) -> Result<(), StackError> {
        self.pop_many(ty.params().len())?;
        for &result in ty.results() {
            self.push(result);
        }
        Ok(())
    }

    fn local(&self, index: u32) -> Result<ValType, StackError> {
        let run = self.locals.partition_point(|&(end, _)| end <= index);
        self.locals
            .get(run)
            .map(|&(_, ty)| ty)
            .ok_or(StackError::Index("local", index))
    }

    fn visit(&mut self, operator: &Operator<'_>) -> Result<(), StackError> {
        use Operator as O;
        match *operator {
            O::Unreachable | O::Br { .. } | O::BrTable { .. } | O::Return => {
                self.current.polymorphic = true;
            }
            O::Nop | O::DataDrop { .. } | O::ElemDrop { .. } | O::LocalTee { .. } => {}
            O::MemoryGrow { .. } => {}
            O::Block { blockty } | O::Loop { blockty } => {
                let (params, _) = self.block_types(blockty)?;
                self.new_frame(blockty, params.len())?;
            }
            O::If { blockty } => {
                self.pop()?;
                let (params, _) = self.block_types(blockty)?;
                self.new_frame(blockty, params.len())?;
            }
            O::Else => {
                let frame = self.end_frame()?.ok_or(StackError::NoFrame)?;
                let (params, _) = self.block_types(frame.block_type)?;
                self.new_frame(frame.block_type, 0)?;
                for param in params {
                    self.push(param);
                }
            }
            O::End => {
                if let Some(frame) = self.end_frame()? {
                    let (_, results) = self.block_types(frame.block_type)?;
                    for result in results {
                        self.push(result);
                    }
                }
            }
            O::BrIf { .. } => self.pop()?,
            O::Call { function_index } => {
                let ty = self.module.function_type(function_index)?;
                self.call(ty)?;
            }
            // finite-wasm leaves the table index on its stack.
            O::CallIndirect { type_index, .. } => {
                let ty = self.module.type_of(type_index)?;
                self.call(ty)?;
            }
            O::Drop | O::LocalSet { .. } | O::GlobalSet { .. } => self.pop()?,
            O::Select | O::TypedSelect { .. } => self.pop_many(2)?,
            O::LocalGet { local_index } => {
                let ty = self.local(local_index)?;
                self.push(ty);
            }
            O::GlobalGet { global_index } => {
                let ty = *self
                    .module
                    .globals
                    .get(global_index as usize)
                    .ok_or(StackError::Index("global", global_index))?;
                self.push(ty);
            }
            O::TableGet { table } => {
                let ty = *self
                    .module
                    .tables
                    .get(table as usize)
                    .ok_or(StackError::Index("table", table))?;
                self.pop()?;
                self.push(ValType::Ref(ty));
            }
            O::TableSet { .. } => self.pop_many(2)?,
            O::TableSize { .. } | O::MemorySize { .. } => self.push(ValType::I32),
            O::TableGrow { .. } => {
                self.pop_many(2)?;
                self.push(ValType::I32);
            }
            O::TableFill { .. }
            | O::TableCopy { .. }
            | O::TableInit { .. }
            | O::MemoryFill { .. }
            | O::MemoryCopy { .. }
            | O::MemoryInit { .. } => self.pop_many(3)?,
            O::RefNull { .. } | O::RefFunc { .. } => self.push(ValType::FUNCREF),
            O::I32Const { .. } => self.push(ValType::I32),
            O::I64Const { .. } => self.push(ValType::I64),
            O::F32Const { .. } => self.push(ValType::F32),
            O::F64Const { .. } => self.push(ValType::F64),

            // Loads: [i32] -> [t].
            O::I32Load { .. }
            | O::I32Load8S { .. }
            | O::I32Load8U { .. }
            | O::I32Load16S { .. }
            | O::I32Load16U { .. } => self.convert(ValType::I32)?,
            O::I64Load { .. }
            | O::I64Load8S { .. }
            | O::I64Load8U { .. }
            | O::I64Load16S { .. }
            | O::I64Load16U { .. }
            | O::I64Load32S { .. }
            | O::I64Load32U { .. } => self.convert(ValType::I64)?,
            O::F32Load { .. } => self.convert(ValType::F32)?,
            O::F64Load { .. } => self.convert(ValType::F64)?,
            // Stores: [i32 t] -> [].
            O::I32Store { .. }
            | O::I32Store8 { .. }
            | O::I32Store16 { .. }
            | O::I64Store { .. }
            | O::I64Store8 { .. }
            | O::I64Store16 { .. }
            | O::I64Store32 { .. }
            | O::F32Store { .. }
            | O::F64Store { .. } => self.pop_many(2)?,

            // unop: [t] -> [t], nothing changes.
            O::I32Clz
            | O::I32Ctz
            | O::I32Popcnt
            | O::I64Clz
            | O::I64Ctz
            | O::I64Popcnt
            | O::F32Abs
            | O::F32Neg
            | O::F32Sqrt
            | O::F32Ceil
            | O::F32Floor
            | O::F32Trunc
            | O::F32Nearest
            | O::F64Abs
            | O::F64Neg
            | O::F64Sqrt
            | O::F64Ceil
            | O::F64Floor
            | O::F64Trunc
            | O::F64Nearest => {}

            // binop: [t t] -> [t], one pop.
            O::I32Add
            | O::I32Sub
            | O::I32Mul
            | O::I32DivS
            | O::I32DivU
            | O::I32RemS
            | O::I32RemU
            | O::I32And
            | O::I32Or
            | O::I32Xor
            | O::I32Shl
            | O::I32ShrS
            | O::I32ShrU
            | O::I32Rotl
            | O::I32Rotr
            | O::I64Add
            | O::I64Sub
            | O::I64Mul
            | O::I64DivS
            | O::I64DivU
            | O::I64RemS
            | O::I64RemU
            | O::I64And
            | O::I64Or
            | O::I64Xor
            | O::I64Shl
            | O::I64ShrS
            | O::I64ShrU
            | O::I64Rotl
            | O::I64Rotr
            | O::F32Add
            | O::F32Sub
            | O::F32Mul
            | O::F32Div
            | O::F32Min
            | O::F32Max
            | O::F32Copysign
            | O::F64Add
            | O::F64Sub
            | O::F64Mul
            | O::F64Div
            | O::F64Min
            | O::F64Max
            | O::F64Copysign => self.pop()?,

            // testop: [t] -> [i32].
            O::I32Eqz | O::I64Eqz | O::RefIsNull => self.convert(ValType::I32)?,

            // relop: [t t] -> [i32].
            O::I32Eq
            | O::I32Ne
            | O::I32LtS
            | O::I32LtU
            | O::I32GtS
            | O::I32GtU
            | O::I32LeS
            | O::I32LeU
            | O::I32GeS
            | O::I32GeU
            | O::I64Eq
            | O::I64Ne
            | O::I64LtS
            | O::I64LtU
            | O::I64GtS
            | O::I64GtU
            | O::I64LeS
            | O::I64LeU
            | O::I64GeS
            | O::I64GeU
            | O::F32Eq
            | O::F32Ne
            | O::F32Lt
            | O::F32Gt
            | O::F32Le
            | O::F32Ge
            | O::F64Eq
            | O::F64Ne
            | O::F64Lt
            | O::F64Gt
            | O::F64Le
            | O::F64Ge => {
                self.pop_many(2)?;
                self.push(ValType::I32);
            }

            // cvtop: [t1] -> [t2].
            O::I32WrapI64
            | O::I32Extend8S
            | O::I32Extend16S
            | O::I32TruncF32S
            | O::I32TruncF32U
            | O::I32TruncF64S
            | O::I32TruncF64U
            | O::I32TruncSatF32S
            | O::I32TruncSatF32U
            | O::I32TruncSatF64S
            | O::I32TruncSatF64U
            | O::I32ReinterpretF32 => self.convert(ValType::I32)?,
            O::I64Extend8S
            | O::I64Extend16S
            | O::I64Extend32S
            | O::I64ExtendI32S
            | O::I64ExtendI32U
            | O::I64TruncF32S
            | O::I64TruncF32U
            | O::I64TruncF64S
            | O::I64TruncF64U
            | O::I64TruncSatF32S
            | O::I64TruncSatF32U
            | O::I64TruncSatF64S
            | O::I64TruncSatF64U
            | O::I64ReinterpretF64 => self.convert(ValType::I64)?,
            O::F32DemoteF64
            | O::F32ConvertI32S
            | O::F32ConvertI32U
            | O::F32ConvertI64S
            | O::F32ConvertI64U
            | O::F32ReinterpretI32 => self.convert(ValType::F32)?,
            O::F64PromoteF32
            | O::F64ConvertI32S
            | O::F64ConvertI32U
            | O::F64ConvertI64S
            | O::F64ConvertI64U
            | O::F64ReinterpretI64 => self.convert(ValType::F64)?,

            ref other => return Err(StackError::Unsupported(format!("{other:?}"))),
        }
        Ok(())
    }

    /// [t1] -> [t2].
    fn convert(&mut self, result: ValType) -> Result<(), StackError> {
        self.pop()?;
        self.push(result);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{Parser, Payload};

    /// The stack need of each defined function of `text`.
    fn needs(text: &str) -> Vec<StackNeed> {
        let wasm = wat::parse_str(text).unwrap();
        let mut module = ModuleTypes::new();
        let mut found = Vec::new();
        for payload in Parser::new(0).parse_all(&wasm) {
            match payload.unwrap() {
                Payload::TypeSection(reader) => {
                    for ty in reader.into_iter_err_on_gc_types() {
                        module.add_type(ty.unwrap());
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader {
                        if let wasmparser::TypeRef::Func(ty) = import.unwrap().ty {
                            module.add_function(ty, true);
                        }
                    }
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        module.add_function(ty.unwrap(), false);
                    }
                }
                Payload::GlobalSection(reader) => {
                    for global in reader {
                        module.add_global(global.unwrap().ty.content_type);
                    }
                }
                Payload::TableSection(reader) => {
                    for table in reader {
                        module.add_table(table.unwrap().ty.element_type);
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let defined = found.len() as u32;
                    found.push(module.stack_need(defined, &body).unwrap());
                }
                _ => {}
            }
        }
        found
    }

    fn operands(text: &str) -> Vec<u64> {
        needs(text).iter().map(|need| need.operands).collect()
    }

    #[test]
    fn frames_count_64_bytes_and_every_parameter_and_local() {
        let found = needs(
            r#"(module
                 (func)
                 (func (param i32 i64) (local f32 f64 v128 funcref)))"#,
        );
        assert_eq!(found[0].frame, 64);
        assert_eq!(found[1].frame, 64 + 4 + 8 + 4 + 8 + 16 + 8);
    }

    #[test]
    fn the_deepest_point_of_the_operand_stack_counts() {
        let found = operands(
            r#"(module
                 (func i64.const 1 i32.const 2 f64.const 3 drop drop drop i32.const 1 drop)
                 (func (param i64) local.get 0 local.get 0 i64.add local.get 0 i64.lt_u drop)
                 (func (result i64) i32.const 0 i64.load i32.const 0 i64.load32_u i64.mul))"#,
        );
        // 8 + 4 + 8; 8 + 8; 4 -> 8, 8 + 4 -> 8 + 8.
        assert_eq!(found, vec![20, 16, 16]);
    }

    #[test]
    fn unreachable_code_pushes_nothing_until_its_block_ends() {
        let found = operands(
            r#"(module
                 (func (result i64)
                   (block (result i64)
                     i32.const 0
                     unreachable
                     i64.const 1 i64.const 2 i64.const 3 i64.add i64.add)
                   i64.const 4
                   i64.add))"#,
        );
        // The i32 (4), the block's i64 result with the next constant (16).
        assert_eq!(found, vec![16]);
    }

    #[test]
    fn call_indirect_leaves_its_table_index_on_the_stack() {
        let found = operands(
            r#"(module
                 (type $t (func (param i64) (result i64)))
                 (table 1 funcref)
                 (func (type $t) local.get 0)
                 (func
                   i64.const 1 i32.const 0 call_indirect (type $t)
                   i64.const 2 i64.add drop))"#,
        );
        // 8 + 4 before the call, which pops one value (the index, not the argument) and pushes
        // its result: 8 + 8, then 8 + 8 + 8.
        assert_eq!(found, vec![8, 24]);
    }

    #[test]
    fn calls_pop_parameters_and_push_results() {
        let found = operands(
            r#"(module
                 (import "env" "f" (func $f (param i64 i64 i64) (result i32)))
                 (func i64.const 0 i64.const 0 i64.const 0 call $f i32.const 1 drop drop))"#,
        );
        assert_eq!(found, vec![24]);
    }

    #[test]
    fn if_else_start_each_branch_at_the_height_of_the_if() {
        let found = operands(
            r#"(module
                 (global $g (mut f64) (f64.const 0))
                 (func (param i32) (result i64)
                   local.get 0
                   (if (result i64)
                     (then i64.const 1)
                     (else global.get $g drop i64.const 2 i64.const 3 i64.add))))"#,
        );
        // The condition (4); in the else branch 8 + 8.
        assert_eq!(found, vec![16]);
    }
}
