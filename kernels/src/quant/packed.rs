//! The repacked layout the SIMD kernels read: rows in groups of 16 (one SIMD lane per row),
//! each 32-element block's weights interleaved so that one 32-bit lane holds four consecutive
//! weights of its row. Repacking only moves bytes; the arithmetic stays SPEC.md §3.3's.
//!
//! Stored weights are unsigned: `u = w + offset` (`Q8_0`: 128, `Q4_0`: 8, `Q6_K`: 32, others
//! 0), and the kernels compute `I = Σ u·a − offset·S` exactly.

use super::blocks::{decode_block, Coefficients};
use super::format::WeightFormat;
use super::matrix::QMatrix;

/// Rows per group: one per 32-bit lane of a 512-bit register.
pub const GROUP: usize = 16;

/// How a block's 32 weights are stored for one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntLayout {
    /// 4-bit values, 256 bytes per group and block: for step `s` in 0..4, 16 lanes × 4 bytes;
    /// byte `i` of lane `l` holds element `4s + i` in its low nibble and `16 + 4s + i` in its
    /// high nibble.
    Nibbles,
    /// 8-bit values, 512 bytes per group and block: for step `s` in 0..8, 16 lanes × 4 bytes;
    /// byte `i` of lane `l` is element `4s + i`.
    Bytes,
}

impl IntLayout {
    pub fn bytes_per_block(self) -> usize {
        match self {
            IntLayout::Nibbles => 256,
            IntLayout::Bytes => 512,
        }
    }
}

/// Per (group, block) coefficients, 16 lanes each, in the order the kernels load them.
#[derive(Debug, Clone, PartialEq)]
pub enum PackedCoefficients {
    /// f16 bits of the block scale (`Q8_0`, `Q4_0`).
    Scale { scale: Vec<u16> },
    /// f16 bits of scale and min (`Q4_1`).
    ScaleAddMin { scale: Vec<u16>, min: Vec<u16> },
    /// f32 `f32(d)·f32(sc)` and `f32(dmin)·f32(mn)` (`Q4_K`).
    ScaleSubMin { scale: Vec<f32>, min: Vec<f32> },
    /// f16 bits of `d`, and the two 16-element sub-block scales (`Q6_K`): `sc[32·i .. 32·i+16]`
    /// are the low halves' scales of block `i`'s 16 lanes, the next 16 the high halves'.
    HalfScales { scale: Vec<u16>, sc: Vec<i8> },
}

/// A block-quantized matrix in the repacked layout.
#[derive(Debug, Clone)]
pub struct PackedMatrix {
    format: WeightFormat,
    rows: usize,
    cols: usize,
    layout: IntLayout,
    offset: i32,
    ints: Vec<u8>,
    coefficients: PackedCoefficients,
}

impl PackedMatrix {
    /// Repacks a block-quantized matrix. Rows beyond a multiple of 16 are padded with zeros.
    pub fn pack(matrix: &QMatrix) -> Self {
        let format = matrix.format();
        assert!(
            format.is_quantized(),
            "only block-quantized matrices are packed"
        );
        let (rows, cols) = (matrix.rows(), matrix.cols());
        let (layout, offset) = match format {
            WeightFormat::Q8_0 => (IntLayout::Bytes, 128),
            WeightFormat::Q6K => (IntLayout::Bytes, 32),
            WeightFormat::Q4_0 => (IntLayout::Nibbles, 8),
            _ => (IntLayout::Nibbles, 0),
        };
        let groups = rows.div_ceil(GROUP);
        let blocks = cols / 32;
        let lanes = groups * blocks * GROUP;
        let mut ints = vec![0u8; groups * blocks * layout.bytes_per_block()];
        let mut scale16 = vec![0u16; lanes];
        let mut min16 = vec![0u16; lanes];
        let mut scale32 = vec![0f32; lanes];
        let mut min32 = vec![0f32; lanes];
        let mut half_scales = vec![0i8; 2 * lanes];
        let f16_bits = |v: f32| half::f16::from_f32(v).to_bits();
        for r in 0..rows {
            let (g, lane) = (r / GROUP, r % GROUP);
            let row = matrix.row_bytes(r);
            for b in 0..blocks {
                let block = decode_block(format, row, b);
                let gb = g * blocks + b;
                let base = gb * layout.bytes_per_block();
                for j in 0..32 {
                    let u = (block.ints[j] as i32 + offset) as u8;
                    match layout {
                        IntLayout::Bytes => {
                            ints[base + (j / 4) * 64 + lane * 4 + j % 4] = u;
                        }
                        IntLayout::Nibbles => {
                            let (s, i, high) = ((j % 16) / 4, j % 4, j >= 16);
                            let at = base + s * 64 + lane * 4 + i;
                            ints[at] |= if high { u << 4 } else { u };
                        }
                    }
                }
                let at = gb * GROUP + lane;
                // f16 coefficients came from f16 in the file, so the round trip is exact.
                match block.coefficients {
                    Coefficients::Scale { scale } => scale16[at] = f16_bits(scale),
                    Coefficients::ScaleAddMin { scale, min } => {
                        scale16[at] = f16_bits(scale);
                        min16[at] = f16_bits(min);
                    }
                    Coefficients::ScaleSubMin { scale, min } => {
                        scale32[at] = scale;
                        min32[at] = min;
                    }
                    Coefficients::HalfScales {
                        scale,
                        sc_lo,
                        sc_hi,
                    } => {
                        scale16[at] = f16_bits(scale);
                        half_scales[gb * 2 * GROUP + lane] = sc_lo;
                        half_scales[gb * 2 * GROUP + GROUP + lane] = sc_hi;
                    }
                }
            }
        }
        let coefficients = match format {
            WeightFormat::Q8_0 | WeightFormat::Q4_0 => PackedCoefficients::Scale { scale: scale16 },
            WeightFormat::Q4_1 => PackedCoefficients::ScaleAddMin {
                scale: scale16,
                min: min16,
            },
            WeightFormat::Q4K => PackedCoefficients::ScaleSubMin {
                scale: scale32,
                min: min32,
            },
            WeightFormat::Q6K => PackedCoefficients::HalfScales {
                scale: scale16,
                sc: half_scales,
            },
            WeightFormat::F32 | WeightFormat::F16 => unreachable!("checked above"),
        };
        Self {
            format,
            rows,
            cols,
            layout,
            offset,
            ints,
            coefficients,
        }
    }

    pub fn format(&self) -> WeightFormat {
        self.format
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn groups(&self) -> usize {
        self.rows.div_ceil(GROUP)
    }

    pub fn blocks(&self) -> usize {
        self.cols / 32
    }

    pub fn layout(&self) -> IntLayout {
        self.layout
    }

    pub fn offset(&self) -> i32 {
        self.offset
    }

    /// The packed weights of group `g`, block `b`.
    #[inline(always)]
    pub fn ints(&self, g: usize, b: usize) -> &[u8] {
        let size = self.layout.bytes_per_block();
        let at = (g * self.blocks() + b) * size;
        &self.ints[at..at + size]
    }

    pub fn coefficients(&self) -> &PackedCoefficients {
        &self.coefficients
    }

    /// Row `r` dequantized per SPEC.md §3.1 (for embedding lookup).
    pub fn dequantize_row(&self, r: usize) -> Vec<f32> {
        let (g, lane) = (r / GROUP, r % GROUP);
        let f16 = |bits: u16| half::f16::from_bits(bits).to_f32();
        let mut out = Vec::with_capacity(self.cols);
        for b in 0..self.blocks() {
            let ints = self.ints(g, b);
            let at = (g * self.blocks() + b) * GROUP + lane;
            for j in 0..32 {
                let u = match self.layout {
                    IntLayout::Bytes => ints[(j / 4) * 64 + lane * 4 + j % 4],
                    IntLayout::Nibbles => {
                        let byte = ints[((j % 16) / 4) * 64 + lane * 4 + j % 4];
                        if j >= 16 {
                            byte >> 4
                        } else {
                            byte & 0x0f
                        }
                    }
                };
                let w = (u as i32 - self.offset) as f32;
                out.push(match &self.coefficients {
                    PackedCoefficients::Scale { scale } => f16(scale[at]) * w,
                    PackedCoefficients::ScaleAddMin { scale, min } => {
                        f16(scale[at]) * w + f16(min[at])
                    }
                    PackedCoefficients::ScaleSubMin { scale, min } => scale[at] * w - min[at],
                    PackedCoefficients::HalfScales { scale, sc } => {
                        let gb = g * self.blocks() + b;
                        let s = sc[gb * 2 * GROUP + if j < 16 { 0 } else { GROUP } + lane];
                        f16(scale[at]) * s as f32 * w
                    }
                });
            }
        }
        out
    }
}
