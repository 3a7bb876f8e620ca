//! Every path against the scalar reference, bit for bit, for every format; decoders against
//! candle's independent GGML dequantization.

use super::*;
use crate::matmul::{Compute, Input, Weight};
use candle_core::quantized::{ggml_file::qtensor_from_ggml, GgmlDType};
use std::sync::Arc;

/// A small deterministic generator for test data.
pub(crate) struct Lcg(u64);

impl Lcg {
    pub(crate) fn new(seed: u64) -> Self {
        Lcg(seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1))
    }
    pub(crate) fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
    /// Uniform in [-1, 1).
    pub(crate) fn next_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    }
}

fn f16_bytes(v: f32) -> [u8; 2] {
    half::f16::from_f32(v).to_le_bytes()
}

/// Random but well-formed block bytes for a `rows × cols` matrix of `format`.
pub(crate) fn random_matrix_bytes(
    format: WeightFormat,
    rows: usize,
    cols: usize,
    rng: &mut Lcg,
) -> Vec<u8> {
    let blocks = rows * cols / format.block_len();
    let mut out = Vec::with_capacity(blocks * format.block_bytes());
    for _ in 0..blocks {
        let mut block: Vec<u8> = (0..format.block_bytes())
            .map(|_| rng.next_u32() as u8)
            .collect();
        let scale = 0.002 + 0.01 * rng.next_f32().abs();
        match format {
            WeightFormat::F32 => block.copy_from_slice(&rng.next_f32().to_le_bytes()),
            WeightFormat::F16 => block.copy_from_slice(&f16_bytes(rng.next_f32())),
            WeightFormat::Q8_0 | WeightFormat::Q4_0 => {
                block[..2].copy_from_slice(&f16_bytes(scale))
            }
            WeightFormat::Q4_1 => {
                block[..2].copy_from_slice(&f16_bytes(scale));
                block[2..4].copy_from_slice(&f16_bytes(-8.0 * scale));
            }
            WeightFormat::Q4K => {
                block[..2].copy_from_slice(&f16_bytes(scale / 16.0));
                block[2..4].copy_from_slice(&f16_bytes(scale / 8.0));
            }
            WeightFormat::Q6K => block[208..].copy_from_slice(&f16_bytes(scale / 32.0)),
        }
        out.extend_from_slice(&block);
    }
    out
}

fn matrix(format: WeightFormat, rows: usize, cols: usize, seed: u64) -> QMatrix {
    let bytes = random_matrix_bytes(format, rows, cols, &mut Lcg::new(seed));
    QMatrix::new(format, rows, cols, Arc::new(bytes), 0).unwrap()
}

fn activations(tokens: usize, cols: usize, seed: u64) -> Vec<f32> {
    let mut rng = Lcg::new(seed);
    (0..tokens * cols)
        .map(|i| rng.next_f32() * if i % 7 == 0 { 6.0 } else { 1.0 })
        .collect()
}

const FORMATS: [WeightFormat; 7] = WeightFormat::ALL;

#[test]
fn every_path_thread_count_and_batch_gives_the_reference_bits() {
    // 40 rows: two full groups of 16 and a partial one.
    let (rows, cols) = (40, 512);
    for format in FORMATS {
        let m = matrix(format, rows, cols, 7);
        let x = activations(8, cols, 11);
        let reference = Compute::new(KernelPath::Scalar, 1)
            .unwrap()
            .matmul(&Weight::Plain(m.clone()), &Input::new(&x, cols));
        for path in KernelPath::to_compare() {
            for threads in [1, 2, 4] {
                let compute = Compute::new(path, threads).unwrap();
                let w = compute.prepare(m.clone());
                let got = compute.matmul(&w, &Input::new(&x, cols));
                assert_eq!(
                    bits(&got),
                    bits(&reference),
                    "{format:?} {path:?} {threads} threads"
                );
                // Each token alone gives the same bits as inside the batch of 8.
                for t in [0, 3, 7] {
                    let alone = compute.matmul(&w, &Input::new(&x[t * cols..(t + 1) * cols], cols));
                    assert_eq!(
                        bits(&alone),
                        bits(&reference[t * rows..(t + 1) * rows]),
                        "{format:?} {path:?} token {t}"
                    );
                }
            }
        }
    }
}

#[test]
fn reference_follows_the_spec_fold() {
    // Q4_1 by hand for one row: fma(d·d_a, I, acc) then fma(m·d_a, S, acc), block by block.
    let m = matrix(WeightFormat::Q4_1, 1, 64, 3);
    let x = activations(1, 64, 5);
    let acts = QuantizedActivations::quantize(&x, 64);
    let row = m.row_bytes(0);
    let mut acc = 0f32;
    for b in 0..2 {
        let block = &row[b * 20..(b + 1) * 20];
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        let min = half::f16::from_le_bytes([block[2], block[3]]).to_f32();
        let a = acts.block(0, b);
        let mut int = 0i32;
        for j in 0..16 {
            int += (block[4 + j] & 15) as i32 * a[j] as i32
                + (block[4 + j] >> 4) as i32 * a[j + 16] as i32;
        }
        acc = (d * acts.scale(0, b)).mul_add(int as f32, acc);
        acc = (min * acts.scale(0, b)).mul_add(acts.sum(0, b) as f32, acc);
    }
    assert_eq!(
        reference_row_dot(WeightFormat::Q4_1, row, &acts, 0).to_bits(),
        acc.to_bits()
    );
}

#[test]
fn decoders_agree_with_candles_ggml_dequantization() {
    let (rows, cols) = (3, 512);
    for format in FORMATS {
        let m = matrix(format, rows, cols, 21);
        let dtype = match format {
            WeightFormat::F32 => GgmlDType::F32,
            WeightFormat::F16 => GgmlDType::F16,
            WeightFormat::Q8_0 => GgmlDType::Q8_0,
            WeightFormat::Q4_0 => GgmlDType::Q4_0,
            WeightFormat::Q4_1 => GgmlDType::Q4_1,
            WeightFormat::Q4K => GgmlDType::Q4K,
            WeightFormat::Q6K => GgmlDType::Q6K,
        };
        let all: Vec<u8> = (0..rows).flat_map(|r| m.row_bytes(r).to_vec()).collect();
        let candle = qtensor_from_ggml(dtype, &all, vec![rows, cols], &candle_core::Device::Cpu)
            .unwrap()
            .dequantize(&candle_core::Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let packed = format.is_quantized().then(|| PackedMatrix::pack(&m));
        for r in 0..rows {
            let ours = dequantize_row(format, m.row_bytes(r), cols);
            for (j, (a, b)) in ours.iter().zip(&candle[r * cols..]).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs().max(1e-3),
                    "{format:?} row {r} elem {j}: {a} vs {b}"
                );
            }
            if let Some(packed) = &packed {
                assert_eq!(
                    bits(&packed.dequantize_row(r)),
                    bits(&ours),
                    "{format:?} packed row {r}"
                );
            }
        }
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}
