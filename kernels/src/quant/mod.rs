//! Quantized weights and activations (SPEC.md §3): the GGUF block formats, activation
//! quantization, and matrix products whose every output is the spec's exact fold.

mod activation;
mod blocks;
mod format;
mod matrix;
pub(crate) mod packed;
mod reference;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;
pub use activation::QuantizedActivations;
pub use blocks::{decode_block, BlockWeights, Coefficients};
pub use format::WeightFormat;
pub use matrix::{QMatrix, QuantError};
pub use packed::PackedMatrix;
pub use reference::{dequantize_row, reference_row_dot};

/// Which implementation computes quantized products. All give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelPath {
    /// The scalar reference, straight from SPEC.md, over the file's own block bytes.
    Scalar,
    /// AVX2 (256-bit, `pmaddubsw`), over the repacked layout.
    Avx2,
    /// AVX-512 with VNNI (`vpdpbusd`), over the repacked layout.
    Avx512Vnni,
}

impl KernelPath {
    /// The fastest path this CPU supports.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vnni")
            {
                return KernelPath::Avx512Vnni;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("f16c")
            {
                return KernelPath::Avx2;
            }
        }
        KernelPath::Scalar
    }

    /// Every path this CPU can run, the scalar reference first.
    pub fn supported() -> Vec<KernelPath> {
        [KernelPath::Scalar, KernelPath::Avx2, KernelPath::Avx512Vnni]
            .into_iter()
            .filter(|p| p.is_supported())
            .collect()
    }

    /// Whether this CPU can run `self`.
    pub fn is_supported(self) -> bool {
        match self {
            KernelPath::Scalar => true,
            KernelPath::Avx2 => matches!(
                KernelPath::detect(),
                KernelPath::Avx2 | KernelPath::Avx512Vnni
            ),
            KernelPath::Avx512Vnni => KernelPath::detect() == KernelPath::Avx512Vnni,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KernelPath::Scalar => "scalar",
            KernelPath::Avx2 => "avx2",
            KernelPath::Avx512Vnni => "avx512-vnni",
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
