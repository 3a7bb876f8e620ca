//! Decoding one 32-element block of a weight row into exact integers and the float coefficients
//! the spec applies to them (SPEC.md §3.1, §3.3). The reference product and the repacker both
//! start from here, so there is one definition of every format.

use super::format::WeightFormat;

/// One 32-element block of a quantized row, as the spec's fold consumes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockWeights {
    /// The integer weights `w[j]` whose products with the activations are summed exactly.
    /// `Q8_0`: `q`; `Q4_0`: `nib − 8`; `Q4_1`/`Q4_K`: `nib`; `Q6_K`: `q6 − 32`.
    pub ints: [i8; 32],
    pub coefficients: Coefficients,
}

/// The float side of a block (SPEC.md §3.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Coefficients {
    /// `acc = fma(scale × d_a, f32(I), acc)` (`Q8_0`, `Q4_0`).
    Scale { scale: f32 },
    /// `acc = fma(scale × d_a, f32(I), acc)`, then `acc = fma(min × d_a, f32(S), acc)` (`Q4_1`).
    ScaleAddMin { scale: f32, min: f32 },
    /// `acc = fma(scale × d_a, f32(I), acc)`, then `acc = fma(−(min × d_a), f32(S), acc)`
    /// (`Q4_K`; `scale = f32(d) × f32(sc)`, `min = f32(dmin) × f32(mn)`).
    ScaleSubMin { scale: f32, min: f32 },
    /// `I = sc_lo × I_lo + sc_hi × I_hi` over the two 16-element halves, then
    /// `acc = fma(scale × d_a, f32(I), acc)` (`Q6_K`; `scale = f32(d)`).
    HalfScales { scale: f32, sc_lo: i8, sc_hi: i8 },
}

pub fn f16_at(bytes: &[u8], at: usize) -> f32 {
    half::f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// Decodes block `b` (32 elements) of `row`, a row of `format` in GGUF's block layout.
/// Panics if `format` is not block-quantized or `row` is too short (callers check shapes).
pub fn decode_block(format: WeightFormat, row: &[u8], b: usize) -> BlockWeights {
    match format {
        WeightFormat::Q8_0 => {
            let block = &row[b * 34..(b + 1) * 34];
            let mut ints = [0i8; 32];
            for (j, w) in ints.iter_mut().enumerate() {
                *w = block[2 + j] as i8;
            }
            BlockWeights {
                ints,
                coefficients: Coefficients::Scale {
                    scale: f16_at(block, 0),
                },
            }
        }
        WeightFormat::Q4_0 | WeightFormat::Q4_1 => {
            let size = format.block_bytes();
            let block = &row[b * size..(b + 1) * size];
            let qs = &block[size - 16..];
            let offset = if format == WeightFormat::Q4_0 { 8 } else { 0 };
            let mut ints = [0i8; 32];
            for j in 0..16 {
                ints[j] = (qs[j] & 0x0f) as i8 - offset;
                ints[j + 16] = (qs[j] >> 4) as i8 - offset;
            }
            let scale = f16_at(block, 0);
            let coefficients = if format == WeightFormat::Q4_0 {
                Coefficients::Scale { scale }
            } else {
                Coefficients::ScaleAddMin {
                    scale,
                    min: f16_at(block, 2),
                }
            };
            BlockWeights { ints, coefficients }
        }
        WeightFormat::Q4K => {
            let block = &row[(b / 8) * 144..(b / 8 + 1) * 144];
            let sub = b % 8;
            let (sc, mn) = q4k_scale_min(&block[4..16], sub);
            let half = sub / 2;
            let qs = &block[16 + 32 * half..16 + 32 * half + 32];
            let mut ints = [0i8; 32];
            for (j, w) in ints.iter_mut().enumerate() {
                *w = if sub.is_multiple_of(2) {
                    qs[j] & 0x0f
                } else {
                    qs[j] >> 4
                } as i8;
            }
            BlockWeights {
                ints,
                coefficients: Coefficients::ScaleSubMin {
                    scale: f16_at(block, 0) * sc as f32,
                    min: f16_at(block, 2) * mn as f32,
                },
            }
        }
        WeightFormat::Q6K => {
            let block = &row[(b / 8) * 210..(b / 8 + 1) * 210];
            let (ql, qh, scales) = (&block[..128], &block[128..192], &block[192..208]);
            let t = b % 8;
            let mut ints = [0i8; 32];
            for (j, w) in ints.iter_mut().enumerate() {
                *w = q6k_value(ql, qh, 32 * t + j) - 32;
            }
            BlockWeights {
                ints,
                coefficients: Coefficients::HalfScales {
                    scale: f16_at(block, 208),
                    sc_lo: scales[2 * t] as i8,
                    sc_hi: scales[2 * t + 1] as i8,
                },
            }
        }
        WeightFormat::F32 | WeightFormat::F16 => {
            panic!(
                "decode_block is for block-quantized formats, not {}",
                format.name()
            )
        }
    }
}

/// The 6-bit scale and min of sub-block `j` (0..8) of a `Q4_K` super-block (llama.cpp's
/// `get_scale_min_k4` packing).
fn q4k_scale_min(scales: &[u8], j: usize) -> (u8, u8) {
    if j < 4 {
        (scales[j] & 63, scales[j + 4] & 63)
    } else {
        (
            (scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4),
            (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4),
        )
    }
}

/// The 6-bit value (0..64) of element `i` (0..256) of a `Q6_K` super-block.
fn q6k_value(ql: &[u8], qh: &[u8], i: usize) -> i8 {
    let (n, r) = (i / 128, i % 128);
    let (quarter, l) = (r / 32, r % 32);
    let low = ql[64 * n + l + 32 * (quarter % 2)];
    let low = if quarter < 2 { low & 0x0f } else { low >> 4 };
    let high = (qh[32 * n + l] >> (2 * quarter)) & 3;
    (low | (high << 4)) as i8
}
