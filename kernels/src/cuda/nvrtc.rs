//! The kernels compiled by NVRTC (loaded at run time by cudarc) with the options SPEC.md
//! requires: no contraction into FMA, IEEE division and square root, no flush-to-zero, no fast
//! math. Needs NVRTC (`libnvrtc.so.12`), not a GPU.

use super::ptx_audit::audit;
use super::source::source;
use crate::device::{DeviceError, Result};
use cudarc::nvrtc::result as nvrtc;
use cudarc::nvrtc::sys::nvrtcProgram;
use std::ffi::{c_char, CStr, CString};

/// The options every compilation of the kernels gets, before the architecture.
pub const NVRTC_OPTIONS: [&str; 4] = [
    "--ftz=false",
    "--prec-sqrt=true",
    "--prec-div=true",
    "--fmad=false",
];

/// What NVRTC made of the kernels.
#[derive(Debug, Clone)]
pub struct NvrtcOutput {
    pub ptx: String,
    /// The compile log (warnings; with `--ptxas-options=-v` and a real `sm_XY` architecture,
    /// the assembler's report of each kernel's registers and shared memory).
    pub log: String,
}

/// Compiles the kernels for `arch` — a virtual `compute_XY` (PTX only) or a real `sm_XY`
/// (NVRTC then also assembles machine code, so the assembler's errors show) — with
/// [`NVRTC_OPTIONS`] and then `extra_options`.
pub fn nvrtc_compile(arch: &str, extra_options: &[&str]) -> Result<NvrtcOutput> {
    // SAFETY: this only tries to open the library (cudarc would panic on first use).
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(DeviceError::Missing(
            "NVRTC (libnvrtc, part of the CUDA toolkit ≥ 12.4)",
        ));
    }
    let failed = |what: &str, e: nvrtc::NvrtcError| {
        DeviceError::Backend(format!("NVRTC ({what}) for {arch}: {e:?}"))
    };
    let code = CString::new(source()).expect("the kernel source has no NUL byte");
    let program = Program(nvrtc::create_program(&code, None).map_err(|e| failed("create", e))?);
    let architecture = format!("--gpu-architecture={arch}");
    let options: Vec<&str> = NVRTC_OPTIONS
        .iter()
        .copied()
        .chain([architecture.as_str()])
        .chain(extra_options.iter().copied())
        .collect();
    // SAFETY: `program` was created above and is destroyed only when it drops, after these.
    let compiled = unsafe { nvrtc::compile_program(program.0, &options) };
    let log = text(unsafe { nvrtc::get_program_log(program.0) }.map_err(|e| failed("log", e))?);
    if let Err(e) = compiled {
        return Err(DeviceError::Backend(format!(
            "NVRTC cannot compile the kernels for {arch} ({e:?}):\n{log}"
        )));
    }
    let ptx = text(unsafe { nvrtc::get_ptx(program.0) }.map_err(|e| failed("PTX", e))?);
    Ok(NvrtcOutput { ptx, log })
}

/// The kernels' PTX for the virtual architecture `arch` (`compute_90` for an H100/H200), after
/// it passed the [`audit`].
pub fn compile_ptx(arch: &str) -> Result<String> {
    let ptx = nvrtc_compile(arch, &[])?.ptx;
    audit(&ptx).map_err(|e| DeviceError::Backend(format!("NVRTC for {arch}: {e}")))?;
    Ok(ptx)
}

/// An NVRTC program, destroyed on drop.
struct Program(nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: created by `create_program`, destroyed once, here.
        let _ = unsafe { nvrtc::destroy_program(self.0) };
    }
}

/// NVRTC's NUL-terminated text as a string.
fn text(bytes: Vec<c_char>) -> String {
    let bytes: Vec<u8> = bytes.into_iter().map(|b| b as u8).collect();
    CStr::from_bytes_until_nul(&bytes)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned())
}
