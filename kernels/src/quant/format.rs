//! The GGUF tensor types the engine reads, with their block geometry.

use candle_core::quantized::GgmlDType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightFormat {
    F32,
    F16,
    Q8_0,
    Q4_0,
    Q4_1,
    Q4K,
    Q6K,
}

impl WeightFormat {
    /// Every format the engine reads.
    pub const ALL: [WeightFormat; 7] = [
        WeightFormat::Q8_0,
        WeightFormat::Q4_0,
        WeightFormat::Q4_1,
        WeightFormat::Q4K,
        WeightFormat::Q6K,
        WeightFormat::F16,
        WeightFormat::F32,
    ];

    /// The format for a GGML type, or `None` when the engine does not support it.
    pub fn from_ggml(dtype: GgmlDType) -> Option<Self> {
        Some(match dtype {
            GgmlDType::F32 => WeightFormat::F32,
            GgmlDType::F16 => WeightFormat::F16,
            GgmlDType::Q8_0 => WeightFormat::Q8_0,
            GgmlDType::Q4_0 => WeightFormat::Q4_0,
            GgmlDType::Q4_1 => WeightFormat::Q4_1,
            GgmlDType::Q4K => WeightFormat::Q4K,
            GgmlDType::Q6K => WeightFormat::Q6K,
            _ => return None,
        })
    }

    /// Elements per block.
    pub fn block_len(self) -> usize {
        match self {
            WeightFormat::F32 | WeightFormat::F16 => 1,
            WeightFormat::Q8_0 | WeightFormat::Q4_0 | WeightFormat::Q4_1 => 32,
            WeightFormat::Q4K | WeightFormat::Q6K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            WeightFormat::F32 => 4,
            WeightFormat::F16 => 2,
            WeightFormat::Q8_0 => 34,
            WeightFormat::Q4_0 => 18,
            WeightFormat::Q4_1 => 20,
            WeightFormat::Q4K => 144,
            WeightFormat::Q6K => 210,
        }
    }

    /// True for the block-quantized formats (products use quantized activations, §3.3).
    pub fn is_quantized(self) -> bool {
        !matches!(self, WeightFormat::F32 | WeightFormat::F16)
    }

    pub fn name(self) -> &'static str {
        match self {
            WeightFormat::F32 => "F32",
            WeightFormat::F16 => "F16",
            WeightFormat::Q8_0 => "Q8_0",
            WeightFormat::Q4_0 => "Q4_0",
            WeightFormat::Q4_1 => "Q4_1",
            WeightFormat::Q4K => "Q4_K",
            WeightFormat::Q6K => "Q6_K",
        }
    }

    /// The suffix of this format's CUDA kernels (`matvec_<suffix>`, `embed_<suffix>` in
    /// `kernels/cuda/quant.cu`).
    pub fn cuda_suffix(self) -> &'static str {
        match self {
            WeightFormat::F32 => "f32",
            WeightFormat::F16 => "f16",
            WeightFormat::Q8_0 => "q8_0",
            WeightFormat::Q4_0 => "q4_0",
            WeightFormat::Q4_1 => "q4_1",
            WeightFormat::Q4K => "q4_k",
            WeightFormat::Q6K => "q6_k",
        }
    }
}
