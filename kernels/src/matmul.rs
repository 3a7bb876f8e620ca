//! Matrix products on a thread pool. Threads split output rows (16-row groups), never a row's
//! fold, so the thread count cannot change a bit (SPEC.md §3.3).

use crate::quant::{
    dequantize_row, reference_row_dot, KernelPath, PackedMatrix, QMatrix, QuantizedActivations,
    WeightFormat,
};
use crate::reduce::dot16;
use rayon::prelude::*;
use std::sync::OnceLock;

/// A weight matrix ready for products on one kernel path.
#[derive(Debug)]
pub enum Weight {
    /// As in the file: used by the scalar path, and for F32/F16 matrices on every path.
    Plain(QMatrix),
    /// Repacked for the SIMD paths.
    Packed(PackedMatrix),
}

impl Weight {
    pub fn rows(&self) -> usize {
        match self {
            Weight::Plain(m) => m.rows(),
            Weight::Packed(m) => m.rows(),
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Weight::Plain(m) => m.cols(),
            Weight::Packed(m) => m.cols(),
        }
    }

    pub fn format(&self) -> WeightFormat {
        match self {
            Weight::Plain(m) => m.format(),
            Weight::Packed(m) => m.format(),
        }
    }

    /// Row `r` as f32 (SPEC.md §3.1 / §3.4).
    pub fn dequantize_row(&self, r: usize) -> Vec<f32> {
        match self {
            Weight::Plain(m) => dequantize_row(m.format(), m.row_bytes(r), m.cols()),
            Weight::Packed(m) => m.dequantize_row(r),
        }
    }
}

/// Input vectors for products: the f32 values, quantized once on first use and shared by every
/// product that reads them (q/k/v, gate/up).
pub struct Input<'a> {
    values: &'a [f32],
    len: usize,
    quantized: OnceLock<QuantizedActivations>,
}

impl<'a> Input<'a> {
    /// `values` holds `values.len() / len` vectors of `len` elements.
    pub fn new(values: &'a [f32], len: usize) -> Self {
        Self {
            values,
            len,
            quantized: OnceLock::new(),
        }
    }

    pub fn tokens(&self) -> usize {
        self.values.len() / self.len
    }

    fn quantized(&self) -> &QuantizedActivations {
        self.quantized
            .get_or_init(|| QuantizedActivations::quantize(self.values, self.len))
    }
}

/// The kernel path and the thread pool products run on.
pub struct Compute {
    path: KernelPath,
    pool: rayon::ThreadPool,
    threads: usize,
}

impl std::fmt::Debug for Compute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Compute({}, {} threads)", self.path.name(), self.threads)
    }
}

/// Why a [`Compute`] could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    #[error("kernel path {0} is not supported by this CPU")]
    Unsupported(&'static str),
    #[error(
        "this CPU has no hardware fused multiply-add (x86-64 without the FMA extension, or an \
         architecture other than x86-64 and AArch64): a software fmaf is not correctly rounded \
         for every subnormal result (rust-lang/compiler-builtins#1262), so results could \
         differ from other machines' (SPEC.md §0)"
    )]
    NoHardwareFma,
    #[error("cannot start {threads} threads: {reason}")]
    Threads { threads: usize, reason: String },
}

/// A raw output pointer shared by threads that write disjoint rows.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: every task writes a disjoint set of rows.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// Taking `self` whole keeps closures capturing the `Send` wrapper, not the raw field.
    fn get(self) -> *mut f32 {
        self.0
    }
}

impl Compute {
    /// Refuses a CPU without hardware FMA (see [`ComputeError::NoHardwareFma`]) and a path the
    /// CPU cannot run.
    pub fn new(path: KernelPath, threads: usize) -> Result<Self, ComputeError> {
        Self::new_with_fma(path, threads, crate::cpu::has_hardware_fma())
    }

    fn new_with_fma(
        path: KernelPath,
        threads: usize,
        hardware_fma: bool,
    ) -> Result<Self, ComputeError> {
        if !hardware_fma {
            return Err(ComputeError::NoHardwareFma);
        }
        if !path.is_supported() {
            return Err(ComputeError::Unsupported(path.name()));
        }
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("kernels-{i}"))
            // SPEC.md §0's float mode (denormals kept, round to nearest-even), whatever mode
            // the spawning thread was in; the scalar path runs the portable builds of every op.
            .start_handler(move |_| {
                crate::cpu::use_spec_float_mode();
                crate::cpu::use_portable_builds_only(path == KernelPath::Scalar);
            })
            .build()
            .map_err(|e| ComputeError::Threads {
                threads,
                reason: e.to_string(),
            })?;
        Ok(Self {
            path,
            pool,
            threads,
        })
    }

    pub fn path(&self) -> KernelPath {
        self.path
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` on this compute's thread pool.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }

    /// Prepares a matrix for this path: SIMD paths repack block-quantized matrices.
    pub fn prepare(&self, matrix: QMatrix) -> Weight {
        if self.path != KernelPath::Scalar && matrix.format().is_quantized() {
            Weight::Packed(PackedMatrix::pack(&matrix))
        } else {
            Weight::Plain(matrix)
        }
    }

    /// `out[t·rows + r] = Σ_k W[r, k] · x_t[k]` for every token `t` of `input`.
    pub fn matmul(&self, weight: &Weight, input: &Input<'_>) -> Vec<f32> {
        assert_eq!(weight.cols(), input.len, "matmul shape mismatch");
        let rows = weight.rows();
        let tokens = input.tokens();
        let mut out = vec![0f32; tokens * rows];
        let ptr = OutPtr(out.as_mut_ptr());
        match weight {
            Weight::Packed(w) => {
                let acts = input.quantized();
                let groups = w.groups();
                let chunk = groups.div_ceil(self.threads * 4).max(1);
                let path = self.path;
                self.pool.install(|| {
                    (0..groups.div_ceil(chunk)).into_par_iter().for_each(|c| {
                        let range = c * chunk..((c + 1) * chunk).min(groups);
                        // SAFETY: the path was checked at construction; `out` holds
                        // tokens × rows floats and tasks write disjoint groups of rows.
                        unsafe { packed_product(path, w, acts, range, ptr.get(), rows) };
                    })
                });
            }
            Weight::Plain(m) => {
                let chunk = rows.div_ceil(self.threads * 4).max(1);
                self.pool.install(|| {
                    (0..rows.div_ceil(chunk)).into_par_iter().for_each(|c| {
                        for r in c * chunk..((c + 1) * chunk).min(rows) {
                            for t in 0..tokens {
                                let v = plain_row_dot(m, r, input, t);
                                // SAFETY: (t, r) is in bounds and written by this task only.
                                unsafe { *ptr.get().add(t * rows + r) = v };
                            }
                        }
                    })
                });
            }
        }
        out
    }
}

fn plain_row_dot(m: &QMatrix, r: usize, input: &Input<'_>, t: usize) -> f32 {
    if m.format().is_quantized() {
        reference_row_dot(m.format(), m.row_bytes(r), input.quantized(), t)
    } else {
        let row = dequantize_row(m.format(), m.row_bytes(r), m.cols());
        dot16(&row, &input.values[t * input.len..(t + 1) * input.len])
    }
}

/// # Safety
/// `path` must be supported by the CPU and `out` must hold `acts.tokens() × stride` floats.
// Elsewhere than on x86-64 no path packs matrices, so nothing reaches here.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
unsafe fn packed_product(
    path: KernelPath,
    w: &PackedMatrix,
    acts: &QuantizedActivations,
    groups: std::ops::Range<usize>,
    out: *mut f32,
    stride: usize,
) {
    match path {
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx512Vnni => crate::quant::x86::matmul_avx512(w, acts, groups, out, stride),
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx2 => crate::quant::x86::matmul_avx2(w, acts, groups, out, stride),
        _ => unreachable!("packed matrices exist only on SIMD paths"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_without_hardware_fma_is_refused() {
        match Compute::new_with_fma(KernelPath::Scalar, 1, false) {
            Err(e @ ComputeError::NoHardwareFma) => {
                assert!(e.to_string().contains("compiler-builtins#1262"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert!(Compute::new_with_fma(KernelPath::Scalar, 1, true).is_ok());
        // The machines this crate runs on have it.
        assert!(crate::cpu::has_hardware_fma());
    }
}
