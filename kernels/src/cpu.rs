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

/// True when this thread's float unit drops denormals (x86-64 FTZ or DAZ set).
pub fn flushes_denormals() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        mxcsr() & FLUSH_DENORMALS != 0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Makes this thread keep denormals (clears FTZ and DAZ); says when it had to.
pub fn keep_denormals() {
    #[cfg(target_arch = "x86_64")]
    {
        let csr = mxcsr();
        if csr & FLUSH_DENORMALS != 0 {
            tracing::warn!(
                mxcsr = csr,
                "denormals were flushed on this thread; keeping them"
            );
            set_mxcsr(csr & !FLUSH_DENORMALS);
        }
    }
}

/// Makes this thread flush denormals, as a `-ffast-math` library would (for tests).
#[cfg(all(test, target_arch = "x86_64"))]
pub fn flush_denormals() {
    set_mxcsr(mxcsr() | FLUSH_DENORMALS);
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::engine::{Engine, EngineError};
    use crate::matmul::Compute;
    use crate::quant::KernelPath;

    #[test]
    fn flushing_is_detected_and_pool_threads_keep_denormals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        crate::tiny_model::TinyModel::default()
            .write(&path)
            .unwrap();
        // A fresh thread, so the test harness's threads keep their mode.
        std::thread::spawn(move || {
            assert!(!flushes_denormals());
            flush_denormals();
            assert!(flushes_denormals());
            let tiny = f32::MIN_POSITIVE / 4.0;
            assert_eq!(std::hint::black_box(tiny) * 1.0, 0.0);
            // The pool's threads start from this thread's mode and clear it.
            let compute = Compute::new(KernelPath::Scalar, 2).unwrap();
            assert!(!compute
                .install(|| rayon::broadcast(|_| flushes_denormals()))
                .into_iter()
                .any(|f| f));
            match Engine::load(&path, KernelPath::Scalar, 1) {
                Err(e @ EngineError::DenormalsFlushed) => assert!(!e.is_caused_by_request()),
                other => panic!("{other:?}"),
            }
            keep_denormals();
            assert!(!flushes_denormals());
            assert_ne!(std::hint::black_box(tiny) * 1.0, 0.0);
            Engine::load(&path, KernelPath::Scalar, 1).unwrap();
        })
        .join()
        .unwrap();
    }
}
