//! Q8A quantization, every format's matrix product and embedding lookup: emulated kernels
//! against the Rust reference, bit for bit, on two launch geometries.

use super::harness::{bits, f32_bytes, f32s, i32_bytes, i32s, run, Param};
use crate::device::LaunchConfig;
use crate::matmul::{Compute, Input, Weight};
use crate::quant::tests::{random_matrix_bytes, Lcg};
use crate::quant::{dequantize_row, KernelPath, QMatrix, QuantizedActivations, WeightFormat};
use std::sync::Arc;

const GEOMETRIES: [LaunchConfig; 2] = [
    LaunchConfig {
        grid: 1,
        threads: 32,
    },
    LaunchConfig {
        grid: 3,
        threads: 128,
    },
];

const FORMATS: [WeightFormat; 7] = WeightFormat::ALL;

fn activations(tokens: usize, cols: usize, seed: u64) -> Vec<f32> {
    let mut rng = Lcg::new(seed);
    let mut x: Vec<f32> = (0..tokens * cols)
        .map(|i| rng.next_f32() * if i % 7 == 0 { 6.0 } else { 1.0 })
        .collect();
    // A zero block and exact ties of the rounding (x · 127/amax = k + 0.5).
    x[32..64].fill(0.0);
    x[64] = 127.0;
    x[65] = 0.5;
    x[66] = 1.5;
    x[67] = -2.5;
    x
}

/// The emulated `q8a_quantize`: integers, scales and block sums.
fn quantize(x: &[f32], launch: LaunchConfig) -> Vec<Vec<u8>> {
    let blocks = x.len() / 32;
    run(
        "q8a_quantize",
        launch,
        &[
            Param::In(&f32_bytes(x)),
            Param::Out(blocks * 32),
            Param::Out(blocks * 4),
            Param::Out(blocks * 4),
            Param::Int(blocks),
        ],
    )
    .split_off(1)
}

#[test]
fn q8a_matches_the_reference() {
    let (tokens, cols) = (3, 256);
    let mut x = activations(tokens, cols, 5);
    // Poisoned blocks: a NaN, and infinities of both signs.
    x[100] = f32::NAN;
    x[300] = f32::INFINITY;
    x[700] = f32::NEG_INFINITY;
    let reference = QuantizedActivations::quantize(&x, cols);
    for launch in GEOMETRIES {
        let out = quantize(&x, launch);
        let (scales, sums) = (f32s(&out[1]), i32s(&out[2]));
        for t in 0..tokens {
            for b in 0..cols / 32 {
                let at = t * cols / 32 + b;
                let q: Vec<i8> = out[0][at * 32..at * 32 + 32]
                    .iter()
                    .map(|&v| v as i8)
                    .collect();
                assert_eq!(q, reference.block(t, b), "token {t} block {b}");
                assert_eq!(scales[at].to_bits(), reference.scale(t, b).to_bits());
                assert_eq!(sums[at], reference.sum(t, b));
            }
        }
        assert!(scales[100 / 32].is_nan() && scales[700 / 32].is_nan());
    }
}

#[test]
fn q8a_blocks_too_small_to_scale_quantize_to_zeros_on_both() {
    // Block 0: its largest magnitude 1e-37 makes 127 / amax overflow (zeros met 0 × ∞ before
    // detspec-3); block 1: the smallest amax that still scales (2^-121 ≈ 3.8e-37) next to zeros.
    let mut x = vec![0f32; 64];
    x[3] = 1e-37;
    x[4] = -5e-38;
    x[32] = f32::from_bits(0x0300_0000);
    x[33] = -f32::from_bits(0x0300_0000) / 2.0;
    let reference = QuantizedActivations::quantize(&x, 64);
    assert_eq!(reference.block(0, 0), [0; 32]);
    assert_eq!(reference.scale(0, 0).to_bits(), 0);
    assert_eq!(reference.block(0, 1)[..2], [127, -64]);
    assert_eq!(reference.block(0, 1)[2..], [0; 30]);
    for launch in GEOMETRIES {
        let out = quantize(&x, launch);
        let (scales, sums) = (f32s(&out[1]), i32s(&out[2]));
        for b in 0..2 {
            let q: Vec<i8> = out[0][b * 32..b * 32 + 32]
                .iter()
                .map(|&v| v as i8)
                .collect();
            assert_eq!(q, reference.block(0, b), "block {b}");
            assert_eq!(scales[b].to_bits(), reference.scale(0, b).to_bits());
            assert_eq!(sums[b], reference.sum(0, b));
        }
    }
}

#[test]
fn every_format_product_matches_the_reference() {
    // 40 rows and 3 tokens: more items than warps in both geometries, and a ragged last pass.
    // 1536 columns (SmolLM2's down projection): 48 blocks a row, so the fold's second pass
    // over blocks takes 16 of them from the lanes' shuffles.
    // 37 tokens: three tiles of the tiled product, the last one ragged.
    for (rows, cols, tokens) in [(40, 512, 3), (5, 1536, 2), (6, 512, 37)] {
        products_match_the_reference(rows, cols, tokens);
    }
}

fn products_match_the_reference(rows: usize, cols: usize, tokens: usize) {
    let x = activations(tokens, cols, 11);
    for format in FORMATS {
        let bytes = random_matrix_bytes(format, rows, cols, &mut Lcg::new(7));
        let m = QMatrix::new(format, rows, cols, Arc::new(bytes.clone()), 0).unwrap();
        let reference = Compute::new(KernelPath::Scalar, 1)
            .unwrap()
            .matmul(&Weight::Plain(m), &Input::new(&x, cols));
        let shape = [rows, cols, tokens].map(Param::Int);
        // The per-item product, and for block formats the tiled one.
        let kernels: &[&str] = if format.is_quantized() {
            &["matvec", "matmul"]
        } else {
            &["matvec"]
        };
        for (kernel, launch) in kernels.iter().flat_map(|k| GEOMETRIES.map(|g| (k, g))) {
            let op = format!("{kernel}_{}", format.cuda_suffix());
            let y = Param::Out(rows * tokens * 4);
            let out = if format.is_quantized() {
                let q = quantize(&x, launch);
                let inputs = [&bytes, &q[0], &q[1], &q[2]].map(|b| Param::In(b));
                run(&op, launch, &[&inputs[..], &[y], &shape].concat())
            } else {
                let x = f32_bytes(&x);
                let inputs = [Param::In(&bytes), Param::In(&x), y];
                run(&op, launch, &[&inputs[..], &shape].concat())
            };
            assert_eq!(
                bits(&f32s(out.last().expect("the product"))),
                bits(&reference),
                "{op} {format:?} ({rows} × {cols}, {tokens} tokens) on {} × {}",
                launch.grid,
                launch.threads
            );
        }
    }
}

#[test]
fn every_format_embedding_matches_the_reference() {
    let (rows, cols) = (9, 512);
    let tokens = [3i32, 0, 8, 3, 5];
    for format in FORMATS {
        let bytes = random_matrix_bytes(format, rows, cols, &mut Lcg::new(13));
        let m = QMatrix::new(format, rows, cols, Arc::new(bytes.clone()), 0).unwrap();
        let reference: Vec<f32> = tokens
            .iter()
            .flat_map(|&t| dequantize_row(format, m.row_bytes(t as usize), cols))
            .collect();
        let op = format!("embed_{}", format.cuda_suffix());
        let ids = i32_bytes(&tokens);
        for launch in GEOMETRIES {
            let params = [
                Param::In(&bytes),
                Param::In(&ids),
                Param::Out(tokens.len() * cols * 4),
                Param::Int(tokens.len()),
                Param::Int(cols),
            ];
            let out = run(&op, launch, &params);
            assert_eq!(bits(&f32s(&out[2])), bits(&reference), "{format:?}");
        }
    }
}
