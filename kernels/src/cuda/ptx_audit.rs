//! Reads the PTX that NVRTC made of the kernels and refuses any instruction that could break
//! SPEC.md's bits once the driver's assembler (ptxas) turns it into machine code.
//!
//! The compile options (`--fmad=false`, no fast math) and the source's explicit intrinsics are
//! meant to give exactly this, but they are a promise about one NVRTC; an operator's may be
//! another version. So the PTX itself is checked, on every GPU at start and in CI:
//! - floating-point `add`/`sub`/`mul`/`fma`/`mad`/`div`/`sqrt` carry `.rn` (PTX lets ptxas fuse
//!   a `mul.f32` and an `add.f32` into an fma; with a rounding modifier it may not);
//! - no float instruction is approximate or flushes (`.approx`, `.full`, `.ftz`, `.sat`, …),
//!   and none is outside the exact operations the spec uses (no `ex2`, `rcp`, `sin`, …);
//! - no atomics (`atom`, `red`): their order is the hardware's;
//! - warp shuffles and votes name their lanes (`.sync`);
//! - every kernel the backend loads is defined.

use crate::device::KERNELS;
use std::fmt;

/// Float-typed operations that are exact in IEEE-754 (given `.rn` where they round).
const EXACT_FLOAT_OPS: [&str; 15] = [
    "add", "sub", "mul", "fma", "mad", "div", "sqrt", // rounded: `.rn` required
    "mov", "ld", "st", "setp", "selp", "max", "min", "cvt",
];
/// Of those, the ones that round their result.
const ROUNDING_OPS: [&str; 7] = ["add", "sub", "mul", "fma", "mad", "div", "sqrt"];
/// Operations without rounding that are exact whatever the type.
const SIGN_OPS: [&str; 3] = ["abs", "neg", "testp"];
/// Modifiers that make a float operation approximate, flushing, clamping or NaN-propagating
/// in a way SPEC.md does not describe.
const FORBIDDEN_MODIFIERS: [&str; 7] = ["approx", "full", "ftz", "sat", "NaN", "xorsign", "relu"];
const FLOAT_TYPES: [&str; 8] = [
    "f16", "f16x2", "bf16", "bf16x2", "f32", "f32x2", "f64", "tf32",
];

/// What the audit saw in PTX that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtxSummary {
    /// `.entry` functions (kernels).
    pub entries: usize,
    /// Instructions on a floating-point type.
    pub float_instructions: usize,
}

/// One instruction the audit refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtxViolation {
    /// The `.entry` or `.func` it is in.
    pub function: String,
    /// 1-based line in the PTX.
    pub line: usize,
    pub instruction: String,
    pub why: &'static str,
}

/// PTX that would not compute the spec's bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtxAuditError {
    pub violations: Vec<PtxViolation>,
    /// Kernels of [`KERNELS`] the PTX does not define.
    pub missing_kernels: Vec<&'static str>,
}

impl fmt::Display for PtxAuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the PTX is not exact:")?;
        if !self.missing_kernels.is_empty() {
            write!(f, " it lacks kernels {}", self.missing_kernels.join(", "))?;
            if !self.violations.is_empty() {
                write!(f, ";")?;
            }
        }
        if !self.violations.is_empty() {
            write!(f, " {} instruction(s) refused", self.violations.len())?;
        }
        for v in self.violations.iter().take(10) {
            write!(
                f,
                "\n  line {} in {}: `{}`: {}",
                v.line, v.function, v.instruction, v.why
            )?;
        }
        if self.violations.len() > 10 {
            write!(f, "\n  … and {} more", self.violations.len() - 10)?;
        }
        Ok(())
    }
}

impl std::error::Error for PtxAuditError {}

/// Checks `ptx` (NVRTC's output for the kernels) against the rules of this module.
pub fn audit(ptx: &str) -> Result<PtxSummary, PtxAuditError> {
    let mut summary = PtxSummary {
        entries: 0,
        float_instructions: 0,
    };
    let mut entries = Vec::new();
    let mut violations = Vec::new();
    let mut function = String::from("(module scope)");
    let text = without_comments(ptx);
    let newlines: Vec<usize> = text.match_indices('\n').map(|(at, _)| at).collect();
    // 1-based line of a slice of `text`.
    let line_of = |part: &str| {
        let offset = part.as_ptr() as usize - text.as_ptr() as usize;
        newlines.partition_point(|&at| at < offset) + 1
    };
    for statement in statements(&text) {
        let Some((opened, instruction)) = instruction(statement) else {
            continue;
        };
        if let Some((name, is_entry)) = opened {
            if is_entry {
                summary.entries += 1;
                entries.push(name.to_string());
            }
            function = name.to_string();
        }
        let Some(opcode) = opcode(instruction) else {
            continue;
        };
        let parts: Vec<&str> = opcode.split('.').collect();
        let op = parts[0];
        let is_float = parts.iter().any(|p| FLOAT_TYPES.contains(p));
        summary.float_instructions += usize::from(is_float);
        if let Some(why) = refusal(op, &parts, is_float) {
            violations.push(PtxViolation {
                function: function.clone(),
                line: line_of(instruction),
                instruction: instruction.split_whitespace().collect::<Vec<_>>().join(" "),
                why,
            });
        }
    }
    let missing_kernels: Vec<&'static str> = KERNELS
        .into_iter()
        .filter(|k| !entries.iter().any(|e| e == k))
        .collect();
    if violations.is_empty() && missing_kernels.is_empty() {
        Ok(summary)
    } else {
        Err(PtxAuditError {
            violations,
            missing_kernels,
        })
    }
}

/// `ptx` with its `//` and `/* */` comments blanked out (newlines kept, so line numbers hold;
/// quoted text, such as a `.file` path, is left alone).
fn without_comments(ptx: &str) -> String {
    let mut out = String::with_capacity(ptx.len());
    let mut chars = ptx.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                out.push(c);
            }
            '/' if !quoted && chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if !quoted && chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The `;`-terminated statements of `ptx`, trimmed, without their `;`.
fn statements(ptx: &str) -> impl Iterator<Item = &str> {
    ptx.split(';')
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
}

/// The instruction a statement holds once the scope braces, labels and a function header in
/// front of it are taken off, with the function that header opens (its name, and whether it is
/// an `.entry`). `None` when nothing is left: a declaration or a bare brace.
fn instruction(mut statement: &str) -> Option<(Option<(&str, bool)>, &str)> {
    let mut opened = None;
    loop {
        statement = statement.trim_start();
        if let Some(rest) = statement
            .strip_prefix('{')
            .or_else(|| statement.strip_prefix('}'))
        {
            statement = rest;
        } else if let Some(header) = function_header(statement) {
            opened = Some(header);
            // The body starts after the header's `{`; a declaration (`.extern .func …;`) has none.
            statement = statement.split_once('{').map_or("", |(_, body)| body);
        } else if let Some(rest) = after_label(statement) {
            statement = rest;
        } else {
            break;
        }
    }
    (opened.is_some() || !statement.is_empty()).then_some((opened, statement))
}

/// `name:` at the start of a statement (a branch target), and what follows it.
fn after_label(statement: &str) -> Option<&str> {
    let (label, rest) = statement.split_once(':')?;
    let is_name = !label.is_empty()
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '%'));
    is_name.then_some(rest)
}

/// The function a `.entry` or `.func` header at the start of `statement` opens, and whether it
/// is an `.entry`.
fn function_header(statement: &str) -> Option<(&str, bool)> {
    if !statement.starts_with('.') {
        return None;
    }
    let head = statement.split('(').next().unwrap_or(statement);
    let is_entry = head.contains(".entry ");
    if !is_entry && !head.contains(".func ") && !statement.contains(".func (") {
        return None;
    }
    function_name(statement).map(|name| (name, is_entry))
}

/// Why an instruction is refused, if it is.
fn refusal(op: &str, parts: &[&str], is_float: bool) -> Option<&'static str> {
    if op == "atom" || op == "red" {
        return Some("an atomic: the order of its updates is the hardware's");
    }
    if (op == "shfl" || op == "vote") && !parts.contains(&"sync") {
        return Some("a warp operation without `.sync` and a lane mask");
    }
    if !is_float {
        return None;
    }
    if parts.iter().any(|p| FORBIDDEN_MODIFIERS.contains(p)) {
        return Some("an approximate, flushing, saturating or NaN-propagating float operation");
    }
    if ROUNDING_OPS.contains(&op) && !parts.contains(&"rn") {
        return Some(
            "a rounded float operation without `.rn` (ptxas may contract or approximate it)",
        );
    }
    if !EXACT_FLOAT_OPS.contains(&op) && !SIGN_OPS.contains(&op) {
        return Some("a float operation outside the exact ones SPEC.md uses");
    }
    None
}

/// The name of the function a `.entry` or `.func` line opens.
fn function_name(line: &str) -> Option<&str> {
    let rest = line
        .split_once(".entry ")
        .or_else(|| line.split_once(".func "))?
        .1
        .trim_start();
    // `.func (.param .b32 ret) name(` puts the return parameters first.
    let rest = match rest.strip_prefix('(') {
        Some(after) => after.split_once(')')?.1.trim_start(),
        None => rest,
    };
    let end = rest
        .find(|c: char| c == '(' || c.is_whitespace())
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|name| !name.is_empty())
}

/// The opcode of an instruction (after any `@%p` / `@!%p` guard), or `None` for a directive.
fn opcode(instruction: &str) -> Option<&str> {
    if instruction.starts_with('.') {
        return None;
    }
    let mut words = instruction.split_whitespace();
    let first = words.next()?;
    if first.starts_with('@') {
        words.next()
    } else {
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module defining every kernel, with `body` inside the first one.
    fn module(body: &str) -> String {
        let mut ptx = String::from(".version 8.8\n.target sm_90\n.address_size 64\n\n");
        for (i, name) in KERNELS.iter().enumerate() {
            ptx.push_str(&format!(
                ".visible .entry {name}(\n\t.param .u64 {name}_param_0\n)\n{{\n"
            ));
            if i == 0 {
                ptx.push_str(body);
            }
            ptx.push_str("\tret;\n}\n");
        }
        ptx
    }

    #[test]
    fn exact_instructions_pass() {
        let body = "\t.reg .f32 %f<9>;\n\
                    $L__BB0_1:\n\
                    \tld.global.f32 %f1, [%rd1];\n\
                    \tfma.rn.f32 %f2, %f1, %f1, %f1; // comment: ex2.approx.f32\n\
                    \tmul.rn.f32 %f3, %f2, %f1;\n\
                    \tadd.rn.f32 %f4, %f3, %f1;\n\
                    \tdiv.rn.f32 %f5, %f4, %f3;\n\
                    \tsqrt.rn.f32 %f6, %f5;\n\
                    \tmax.f32 %f7, %f6, %f5;\n\
                    \tcvt.rn.f32.s32 %f8, %r1;\n\
                    \tsetp.lt.f32 %p1, %f8, %f7;\n\
                    \t@%p1 bra $L__BB0_1;\n\
                    \tshfl.sync.bfly.b32 %r2, %r1, 8, 31, -1;\n\
                    \tst.global.f32 [%rd1], %f8;\n";
        let summary = audit(&module(body)).unwrap();
        assert_eq!(summary.entries, KERNELS.len());
        assert_eq!(summary.float_instructions, 10);
    }

    #[test]
    fn contractible_approximate_and_atomic_instructions_are_refused() {
        let body = "\tmul.f32 %f1, %f2, %f3;\n\
                    \t@!%p2 add.f32 %f4, %f1, %f3;\n\
                    \tex2.approx.ftz.f32 %f5, %f4;\n\
                    \trcp.rn.f32 %f6, %f5;\n\
                    \tdiv.full.f32 %f7, %f6, %f5;\n\
                    \tmax.NaN.f32 %f8, %f7, %f6;\n\
                    \tatom.global.add.u32 %r1, [%rd1], 1;\n\
                    \tred.global.add.f32 [%rd1], %f8;\n\
                    \tshfl.bfly.b32 %r2, %r1, 8, 31;\n";
        let error = audit(&module(body)).unwrap_err();
        let refused: Vec<(usize, &str)> = error
            .violations
            .iter()
            .map(|v| (v.line, v.instruction.as_str()))
            .collect();
        let first = 9; // the body's first line in `module`
        assert_eq!(
            refused,
            [
                (first, "mul.f32 %f1, %f2, %f3"),
                (first + 1, "@!%p2 add.f32 %f4, %f1, %f3"),
                (first + 2, "ex2.approx.ftz.f32 %f5, %f4"),
                (first + 3, "rcp.rn.f32 %f6, %f5"),
                (first + 4, "div.full.f32 %f7, %f6, %f5"),
                (first + 5, "max.NaN.f32 %f8, %f7, %f6"),
                (first + 6, "atom.global.add.u32 %r1, [%rd1], 1"),
                (first + 7, "red.global.add.f32 [%rd1], %f8"),
                (first + 8, "shfl.bfly.b32 %r2, %r1, 8, 31"),
            ]
        );
        assert!(error.violations.iter().all(|v| v.function == KERNELS[0]));
        assert!(error.missing_kernels.is_empty());
        let text = error.to_string();
        assert!(
            text.starts_with("the PTX is not exact: 9 instruction(s) refused"),
            "{text}"
        );
    }

    #[test]
    fn every_statement_is_read_whatever_surrounds_it() {
        let body = "\t{ .reg .b16 %rs<4>; add.f16 %rs3,%rs1,%rs2; }\n\
                    $L__BB0_3: mul.f32 %f1, %f2, %f3;\n\
                    \tadd.rn.f32 %f1, %f1, %f1; add.f32x2 %rd1, %rd2, %rd3;\n\
                    \t/* ex2.approx.f32 %f9, %f9;\n\
                    \t   still a comment */ fma.rn.ftz.f32x2 %rd4, %rd1, %rd2, %rd3;\n\
                    \tcall.uni (retval0),\n\
                    \t\texp_helper,\n\
                    \t\t(param0);\n\
                    \tmul.rn.f32 %f2, %f1, %f1\n\
                    \t;\n";
        let ptx = module(body).replace(
            ".address_size 64\n",
            ".address_size 64\n.file 1 \"/tmp/*/k.cu\"\n.extern .func (.param .b32 r) exp_helper (.param .b32 p);\n",
        );
        let error = audit(&ptx).unwrap_err();
        let refused: Vec<(usize, &str)> = error
            .violations
            .iter()
            .map(|v| (v.line, v.instruction.as_str()))
            .collect();
        let first = 11; // the body's first line: the module header has two more lines
        assert_eq!(
            refused,
            [
                (first, "add.f16 %rs3,%rs1,%rs2"),
                (first + 1, "mul.f32 %f1, %f2, %f3"),
                (first + 2, "add.f32x2 %rd1, %rd2, %rd3"),
                (first + 4, "fma.rn.ftz.f32x2 %rd4, %rd1, %rd2, %rd3"),
            ]
        );
        assert!(error.violations.iter().all(|v| v.function == KERNELS[0]));
        assert_eq!(
            audit(&module("\tmul.rn.f32 %f2, %f1, %f1\n\t;\n"))
                .unwrap()
                .float_instructions,
            1
        );
    }

    #[test]
    fn device_functions_are_checked_and_named() {
        let ptx = module("").replace(
            ".address_size 64\n",
            ".address_size 64\n.func  (.param .b32 func_retval0) exp_helper(\n)\n{\n\tex2.approx.f32 %f1, %f2;\n\tret;\n}\n",
        );
        let error = audit(&ptx).unwrap_err();
        assert_eq!(error.violations.len(), 1);
        assert_eq!(error.violations[0].function, "exp_helper");
    }

    #[test]
    fn a_missing_kernel_is_refused() {
        let ptx = module("").replace(".entry attention(", ".entry attention_v2(");
        let error = audit(&ptx).unwrap_err();
        assert_eq!(error.missing_kernels, ["attention"]);
        assert!(error.violations.is_empty());
        assert_eq!(
            error.to_string(),
            "the PTX is not exact: it lacks kernels attention"
        );
    }
}
