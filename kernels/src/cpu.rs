//! What this CPU can do, detected once, and the floating-point mode SPEC.md §0 needs.

use std::sync::OnceLock;

/// True when AVX2 and FMA are available (x86-64 only).
pub fn has_avx2_fma() -> bool {
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// The MXCSR bits that drop denormals, against SPEC.md §0: flush-to-zero (15) and
/// denormals-are-zero (6). A library built with `-ffast-math` may set them.
#[cfg(target_arch = "x86_64")]
const FLUSH_DENORMALS: u32 = (1 << 15) | (1 << 6);
/// MXCSR's rounding control (bits 13–14); 0 is round-to-nearest-even, SPEC.md §0's only
/// rounding. `fesetround` changes it.
#[cfg(target_arch = "x86_64")]
const ROUNDING_CONTROL: u32 = 0b11 << 13;
/// Every MXCSR bit SPEC.md §0 needs clear.
#[cfg(target_arch = "x86_64")]
const OFF_SPEC: u32 = FLUSH_DENORMALS | ROUNDING_CONTROL;

#[cfg(target_arch = "x86_64")]
fn mxcsr() -> u32 {
    let mut csr = 0u32;
    // SAFETY: `stmxcsr` stores the 32-bit MXCSR at the address of `csr`.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
    }
    csr
}

#[cfg(target_arch = "x86_64")]
fn set_mxcsr(csr: u32) {
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

/// True when this thread's float mode is not SPEC.md §0's: it drops denormals (x86-64 FTZ or
/// DAZ set) or rounds otherwise than to nearest-even.
pub fn float_mode_off_spec() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        mxcsr() & OFF_SPEC != 0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Puts this thread in SPEC.md §0's float mode (clears FTZ, DAZ and the rounding control);
/// says when it had to.
pub fn use_spec_float_mode() {
    #[cfg(target_arch = "x86_64")]
    {
        let csr = mxcsr();
        if csr & OFF_SPEC != 0 {
            tracing::warn!(
                mxcsr = csr,
                "this thread flushed denormals or rounded otherwise than to nearest; reset"
            );
            set_mxcsr(csr & !OFF_SPEC);
        }
    }
}

/// Makes this thread flush denormals, as a `-ffast-math` library would (for tests).
#[cfg(all(test, target_arch = "x86_64"))]
pub fn flush_denormals() {
    set_mxcsr(mxcsr() | FLUSH_DENORMALS);
}

/// Makes this thread round toward zero, as `fesetround(FE_TOWARDZERO)` would (for tests).
#[cfg(all(test, target_arch = "x86_64"))]
pub fn round_toward_zero() {
    set_mxcsr(mxcsr() | ROUNDING_CONTROL);
}

#[cfg(all(test, target_arch = "x86_64"))]
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
