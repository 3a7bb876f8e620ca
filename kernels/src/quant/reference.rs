//! The scalar reference of SPEC.md §3: plain loops over the file's own block bytes. Every other
//! path is tested against it bit for bit.

use super::activation::QuantizedActivations;
use super::blocks::{decode_block, f16_at, Coefficients};
use super::format::WeightFormat;

/// `Σ_k W[r, k] x[k]` for one row of a block-quantized matrix and one token of quantized
/// activations: the sequential fold over blocks of SPEC.md §3.3.
pub fn reference_row_dot(
    format: WeightFormat,
    row: &[u8],
    acts: &QuantizedActivations,
    token: usize,
) -> f32 {
    let mut acc = 0f32;
    for b in 0..acts.blocks_per_token() {
        let block = decode_block(format, row, b);
        let a = acts.block(token, b);
        let d_a = acts.scale(token, b);
        let dot = |range: std::ops::Range<usize>| -> i32 {
            range.map(|j| block.ints[j] as i32 * a[j] as i32).sum()
        };
        match block.coefficients {
            Coefficients::Scale { scale } => {
                acc = (scale * d_a).mul_add(dot(0..32) as f32, acc);
            }
            Coefficients::ScaleAddMin { scale, min } => {
                acc = (scale * d_a).mul_add(dot(0..32) as f32, acc);
                acc = (min * d_a).mul_add(acts.sum(token, b) as f32, acc);
            }
            Coefficients::ScaleSubMin { scale, min } => {
                acc = (scale * d_a).mul_add(dot(0..32) as f32, acc);
                acc = (-(min * d_a)).mul_add(acts.sum(token, b) as f32, acc);
            }
            Coefficients::HalfScales {
                scale,
                sc_lo,
                sc_hi,
            } => {
                let int = sc_lo as i32 * dot(0..16) + sc_hi as i32 * dot(16..32);
                acc = (scale * d_a).mul_add(int as f32, acc);
            }
        }
    }
    acc
}

/// Row `row` of a matrix in `format`, dequantized to f32 (SPEC.md §3.1): for embedding lookup
/// and for checks.
pub fn dequantize_row(format: WeightFormat, row: &[u8], len: usize) -> Vec<f32> {
    match format {
        WeightFormat::F32 => row[..len * 4]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        WeightFormat::F16 => (0..len).map(|i| f16_at(row, 2 * i)).collect(),
        _ => {
            let mut out = Vec::with_capacity(len);
            for b in 0..len / 32 {
                let block = decode_block(format, row, b);
                for j in 0..32 {
                    let w = block.ints[j] as f32;
                    out.push(match block.coefficients {
                        Coefficients::Scale { scale } => scale * w,
                        Coefficients::ScaleAddMin { scale, min } => scale * w + min,
                        Coefficients::ScaleSubMin { scale, min } => scale * w - min,
                        Coefficients::HalfScales {
                            scale,
                            sc_lo,
                            sc_hi,
                        } => scale * (if j < 16 { sc_lo } else { sc_hi }) as f32 * w,
                    });
                }
            }
            out
        }
    }
}
