//! What this CPU can do (detected once), which builds of the ops compiled twice a thread runs,
//! and the floating-point mode SPEC.md §0 needs.

use std::cell::Cell;
#[cfg(target_arch = "x86_64")]
use std::sync::OnceLock;

/// True when AVX2 and FMA are available.
#[cfg(target_arch = "x86_64")]
pub fn has_avx2_fma() -> bool {
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    })
}

thread_local! {
    /// Set on the threads of a scalar-path pool: they run the portable builds only.
    static PORTABLE_BUILDS_ONLY: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread runs the AVX2+FMA builds of the ops compiled twice (`reduce`, `ops`,
/// activation quantization): when the CPU has them, except on the threads of a
/// [`KernelPath::Scalar`](crate::quant::KernelPath::Scalar) pool, which run the portable builds
/// (the same bits by SPEC.md; so the scalar path checks them).
#[cfg(any(test, target_arch = "x86_64"))]
pub fn avx2_fma_builds() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        has_avx2_fma() && !PORTABLE_BUILDS_ONLY.get()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Makes this thread run only the portable builds (`true`), or the fastest the CPU has.
pub fn use_portable_builds_only(portable: bool) {
    PORTABLE_BUILDS_ONLY.set(portable);
}

/// True when `f32::mul_add` is the hardware's fused multiply-add: on x86-64 with the FMA
/// extension, and always on AArch64 (where it is in the base instruction set). Elsewhere, and
/// on x86-64 without FMA, `mul_add` may be a software `fmaf`, which is not correctly rounded
/// for every subnormal result (rust-lang/compiler-builtins#1262): SPEC.md §0's `fma` could
/// silently give other bits.
pub fn has_hardware_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        cfg!(target_arch = "aarch64")
    }
}

/// The thread's float control register: MXCSR on x86-64.
#[cfg(target_arch = "x86_64")]
mod control {
    pub type Bits = u32;
    /// Flush-to-zero (15) and denormals-are-zero (6): what a library built with `-ffast-math`
    /// sets (crtfastmath.o).
    pub const FAST_MATH_FLUSH: Bits = (1 << 15) | (1 << 6);
    /// Every bit that drops denormals.
    pub const FLUSH_DENORMALS: Bits = FAST_MATH_FLUSH;
    /// Rounding control (bits 13–14); 0 is round-to-nearest-even. `fesetround` changes it.
    pub const ROUNDING_CONTROL: Bits = 0b11 << 13;

    pub fn read() -> Bits {
        let mut csr: Bits = 0;
        // SAFETY: `stmxcsr` stores the 32-bit MXCSR at the address of `csr`.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
        }
        csr
    }

    pub fn write(csr: Bits) {
        // SAFETY: `ldmxcsr` loads MXCSR from the address of `csr`; callers only toggle defined
        // bits of a value read from MXCSR.
        unsafe {
            std::arch::asm!(
                "ldmxcsr [{}]",
                in(reg) &csr,
                options(nostack, preserves_flags, readonly)
            );
        }
    }
}

/// The thread's float control register: FPCR on AArch64.
#[cfg(target_arch = "aarch64")]
mod control {
    pub type Bits = u64;
    /// FZ (24): single- and double-precision denormals flush to zero; what a library built
    /// with `-ffast-math` sets (crtfastmath.o).
    pub const FAST_MATH_FLUSH: Bits = 1 << 24;
    /// Every bit that drops denormals: FZ, FZ16 (19: half-precision ones) and FIZ (0,
    /// FEAT_AFP, reads as zero without it: denormal inputs).
    pub const FLUSH_DENORMALS: Bits = FAST_MATH_FLUSH | (1 << 19) | 1;
    /// RMode (bits 22–23); 0 is round-to-nearest-even. `fesetround` changes it.
    pub const ROUNDING_CONTROL: Bits = 0b11 << 22;

    pub fn read() -> Bits {
        let fpcr: Bits;
        // SAFETY: reading FPCR has no side effect.
        unsafe {
            std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags));
        }
        fpcr
    }

    pub fn write(fpcr: Bits) {
        // SAFETY: callers only toggle defined bits of a value read from FPCR.
        unsafe {
            std::arch::asm!("msr fpcr, {}", in(reg) fpcr, options(nomem, nostack, preserves_flags));
        }
    }
}

/// Every control bit SPEC.md §0 needs clear.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const OFF_SPEC: control::Bits = control::FLUSH_DENORMALS | control::ROUNDING_CONTROL;

/// True when this thread's float mode is not SPEC.md §0's: it drops denormals (x86-64 MXCSR
/// FTZ or DAZ, AArch64 FPCR FZ, FZ16 or FIZ set) or rounds otherwise than to nearest-even.
pub fn float_mode_off_spec() -> bool {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        control::read() & OFF_SPEC != 0
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// Puts this thread in SPEC.md §0's float mode (clears the flush and rounding-control bits);
/// says when it had to.
pub fn use_spec_float_mode() {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        let register = control::read();
        if register & OFF_SPEC != 0 {
            tracing::warn!(
                register,
                "this thread flushed denormals or rounded otherwise than to nearest; reset"
            );
            control::write(register & !OFF_SPEC);
        }
    }
}

/// Makes this thread flush denormals, as a `-ffast-math` library would (for tests).
#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn flush_denormals() {
    control::write(control::read() | control::FAST_MATH_FLUSH);
}

/// Makes this thread round toward zero, as `fesetround(FE_TOWARDZERO)` would (for tests): the
/// value 3 of x86-64's rounding control, 0b11 of AArch64's RMode.
#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn round_toward_zero() {
    control::write(control::read() | control::ROUNDING_CONTROL);
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;
    use crate::engine::{Engine, EngineError};
    use crate::matmul::Compute;
    use crate::quant::KernelPath;

    /// On a fresh thread (the test harness's keep their mode): `leave_spec` takes it out of
    /// SPEC.md §0's float mode, which `shows` (true) in arithmetic; then the mode is detected,
    /// the pool's threads (which start from it) reset it, the engine refuses to load on the
    /// thread, and once `use_spec_float_mode` reset it there, arithmetic is the spec's again
    /// and the engine loads.
    fn off_spec_mode_is_caught(leave_spec: fn(), shows: fn() -> bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        crate::tiny_model::TinyModel::default()
            .write(&path)
            .unwrap();
        std::thread::spawn(move || {
            assert!(!float_mode_off_spec() && !shows());
            leave_spec();
            assert!(float_mode_off_spec() && shows());
            let compute = Compute::new(KernelPath::Scalar, 2).unwrap();
            assert!(!compute
                .install(|| rayon::broadcast(|_| float_mode_off_spec()))
                .into_iter()
                .any(|off| off));
            match Engine::load(&path, KernelPath::Scalar, 1) {
                Err(e @ EngineError::FloatModeOffSpec) => assert!(!e.is_caused_by_request()),
                other => panic!("{other:?}"),
            }
            use_spec_float_mode();
            assert!(!float_mode_off_spec() && !shows());
            Engine::load(&path, KernelPath::Scalar, 1).unwrap();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn flushing_is_detected_and_pool_threads_keep_denormals() {
        off_spec_mode_is_caught(flush_denormals, || {
            std::hint::black_box(f32::MIN_POSITIVE / 4.0) * 1.0 == 0.0
        });
    }

    #[test]
    fn another_rounding_mode_is_detected_and_pool_threads_round_to_nearest() {
        // Nearest rounds 1 + 0.75 ulp up; toward zero truncates it.
        off_spec_mode_is_caught(round_toward_zero, || {
            std::hint::black_box(1.0f32) + std::hint::black_box(f32::EPSILON * 0.75) == 1.0
        });
    }
}
