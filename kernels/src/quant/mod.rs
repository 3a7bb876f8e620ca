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

/// The environment variable that lists (comma-separated [`KernelPath::name`]s) the paths tests
/// must compare: a CPU without one of them fails [`KernelPath::to_compare`] instead of skipping
/// it.
pub const REQUIRE_PATHS_ENV: &str = "KERNELS_REQUIRE_PATHS";

/// Which implementation computes quantized products and runs the forward pass's other ops
/// (the scalar path runs their portable builds, the SIMD paths their AVX2+FMA builds). All give
/// the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelPath {
    /// The scalar reference, straight from SPEC.md, over the file's own block bytes; every
    /// other op in its portable build.
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

    /// Every path, the scalar reference first.
    pub const ALL: [KernelPath; 3] = [KernelPath::Scalar, KernelPath::Avx2, KernelPath::Avx512Vnni];

    /// Every path this CPU can run, the scalar reference first.
    pub fn supported() -> Vec<KernelPath> {
        KernelPath::ALL
            .into_iter()
            .filter(|p| p.is_supported())
            .collect()
    }

    /// The paths a test compares: every supported one. A path this CPU lacks is skipped with a
    /// line on stderr saying so — unless [`REQUIRE_PATHS_ENV`] names it, which makes the CPU's
    /// lack of it a failure (so a CI machine that has the paths cannot silently compare the
    /// scalar path with itself).
    ///
    /// # Panics
    /// When a required path is missing, or the variable names no path.
    pub fn to_compare() -> Vec<KernelPath> {
        let required = std::env::var(REQUIRE_PATHS_ENV).unwrap_or_default();
        let required: Vec<KernelPath> = required
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| {
                KernelPath::from_name(name).unwrap_or_else(|| {
                    panic!("{REQUIRE_PATHS_ENV} names `{name}`, not a kernel path (scalar, avx2, avx512-vnni)")
                })
            })
            .collect();
        for path in KernelPath::ALL {
            if path.is_supported() {
                continue;
            }
            assert!(
                !required.contains(&path),
                "{REQUIRE_PATHS_ENV} requires the {} path, which this CPU lacks",
                path.name()
            );
            eprintln!(
                "skipped: CPU lacks the {} path (set {REQUIRE_PATHS_ENV} to fail instead)",
                path.name()
            );
        }
        KernelPath::supported()
    }

    /// The path called `name` ([`KernelPath::name`]).
    pub fn from_name(name: &str) -> Option<KernelPath> {
        KernelPath::ALL.into_iter().find(|p| p.name() == name)
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
