//! Reductions, elementary functions, RMSNorm, RoPE, attention and the element-wise steps:
//! emulated kernels against the Rust reference, bit for bit.

use super::harness::{bits, f32_bytes, f32s, i32s, run, Param};
use crate::device::LaunchConfig;
use crate::math::{exp32, silu};
use crate::model::Rope;
use crate::ops::{attend, rmsnorm};
use crate::quant::tests::Lcg;
use crate::reduce::{dot16, sum16};

const GEOMETRIES: [LaunchConfig; 2] = [
    LaunchConfig {
        grid: 1,
        threads: 32,
    },
    LaunchConfig {
        grid: 2,
        threads: 96,
    },
];

fn random(n: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut rng = Lcg::new(seed);
    (0..n).map(|_| rng.next_f32() * scale).collect()
}

#[test]
fn dot16_and_sum16_follow_the_spec_tree() {
    for n in [0usize, 1, 15, 16, 17, 64, 100, 576] {
        let rows = 5;
        let mut x = random(rows * n, 10.0, n as u64);
        let y = random(rows * n, 1.0, n as u64 + 1);
        if n > 16 {
            // Values that tell summation orders apart.
            x[0] = 1e8;
            x[16] = -1e8;
        }
        let (dots, sums): (Vec<f32>, Vec<f32>) = (0..rows)
            .map(|r| {
                let (xr, yr) = (&x[r * n..(r + 1) * n], &y[r * n..(r + 1) * n]);
                (dot16(xr, yr), sum16(xr))
            })
            .unzip();
        for launch in &GEOMETRIES {
            let (x, y) = (f32_bytes(&x), f32_bytes(&y));
            let out = run(
                "probe_reduce",
                *launch,
                &[
                    Param::In(&x),
                    Param::In(&y),
                    Param::Out(rows * 4),
                    Param::Out(rows * 4),
                    Param::Int(rows),
                    Param::Int(n),
                ],
            );
            assert_eq!(bits(&f32s(&out[2])), bits(&dots), "dot16, n = {n}");
            assert_eq!(bits(&f32s(&out[3])), bits(&sums), "sum16, n = {n}");
        }
    }
}

#[test]
fn exp32_and_silu_match_on_the_whole_range() {
    let mut x = random(20_000, 100.0, 3);
    x.extend(random(4_000, 1.0, 4));
    x.extend([
        0.0, -0.0, 88.0, 88.000_01, -87.0, -87.000_01, 1e-30, -1e-30, 80.5, -86.9,
    ]);
    let n = x.len();
    let out = run(
        "probe_exp",
        GEOMETRIES[1],
        &[
            Param::In(&f32_bytes(&x)),
            Param::Out(n * 4),
            Param::Out(n * 4),
            Param::Int(n),
        ],
    );
    let e: Vec<f32> = x.iter().map(|&v| exp32(v)).collect();
    let s: Vec<f32> = x.iter().map(|&v| silu(v)).collect();
    assert_eq!(bits(&f32s(&out[1])), bits(&e), "exp32");
    assert_eq!(bits(&f32s(&out[2])), bits(&s), "silu");
}

#[test]
fn rmsnorm_matches_and_flags_non_finite_sums() {
    let (tokens, len, eps) = (3, 576, 1e-5f32);
    let mut x = random(tokens * len, 4.0, 8);
    let w = random(len, 1.5, 9);
    x[len + 3] = f32::INFINITY;
    let mut reference = vec![0f32; tokens * len];
    let mut flags = Vec::new();
    for (xt, yt) in x.chunks_exact(len).zip(reference.chunks_exact_mut(len)) {
        flags.push(i32::from(!rmsnorm(xt, &w, eps, yt)));
    }
    assert_eq!(flags, [0, 1, 0]);
    let (x, w) = (f32_bytes(&x), f32_bytes(&w));
    for launch in GEOMETRIES {
        let out = run(
            "rmsnorm",
            launch,
            &[
                Param::In(&x),
                Param::In(&w),
                Param::Out(tokens * len * 4),
                Param::Out(tokens * 4),
                Param::Int(tokens),
                Param::Int(len),
                Param::F32(eps),
            ],
        );
        assert_eq!(i32s(&out[3]), flags);
        let got = f32s(&out[2]);
        for t in [0, 2] {
            let range = t * len..(t + 1) * len;
            assert_eq!(
                bits(&got[range.clone()]),
                bits(&reference[range]),
                "token {t}"
            );
        }
    }
}

#[test]
fn rope_matches() {
    let (head_dim, width, positions) = (64, 3 * 64, [0usize, 7, 1234]);
    let rope = Rope::new(head_dim, 100_000.0);
    let x = random(positions.len() * width, 3.0, 12);
    let (mut cos, mut sin) = (Vec::new(), Vec::new());
    let mut reference = x.clone();
    for (t, &p) in positions.iter().enumerate() {
        let (c, s) = rope.table(p);
        Rope::apply(&mut reference[t * width..(t + 1) * width], head_dim, &c, &s);
        cos.extend(c);
        sin.extend(s);
    }
    let (x, cos, sin) = (f32_bytes(&x), f32_bytes(&cos), f32_bytes(&sin));
    for launch in GEOMETRIES {
        let out = run(
            "rope",
            launch,
            &[
                Param::In(&x),
                Param::In(&cos),
                Param::In(&sin),
                Param::Int(positions.len()),
                Param::Int(width),
                Param::Int(head_dim),
            ],
        );
        assert_eq!(bits(&f32s(&out[0])), bits(&reference));
    }
}

#[test]
fn attention_matches_with_grouped_heads() {
    // 4 query heads over 2 key/value heads; 3 new tokens after 20 cached positions; then 2
    // after 300, more keys than any block has threads (each thread takes several); then a
    // prompt's first 3 tokens, fewer keys than a fold's batch of loads.
    for (pos0, tokens) in [(20, 3), (300, 2), (0, 3)] {
        attention_matches(pos0, tokens);
    }
}

fn attention_matches(pos0: usize, tokens: usize) {
    let (heads, kv_heads, head_dim) = (4usize, 2usize, 64usize);
    let (width, kv_width) = (heads * head_dim, kv_heads * head_dim);
    let n = pos0 + tokens;
    let q = random(tokens * width, 2.0, 21);
    let k = random(n * kv_width, 2.0, 22);
    let v = random(n * kv_width, 1.0, 23);
    let scale = 1.0 / (head_dim as f32).sqrt();
    let mut reference = vec![0f32; tokens * width];
    let mut scores = vec![0f32; n];
    for t in 0..tokens {
        for h in 0..heads {
            let at = t * width + h * head_dim;
            assert!(attend(
                &q[at..at + head_dim],
                &k,
                &v,
                pos0 + t + 1,
                kv_width,
                (h / (heads / kv_heads)) * head_dim,
                scale,
                &mut scores,
                &mut reference[at..at + head_dim],
            ));
        }
    }
    let (q, v) = (f32_bytes(&q), f32_bytes(&v));
    let attention = |launch: LaunchConfig, k: &[f32]| {
        let k = f32_bytes(k);
        let out = run(
            "attention",
            launch,
            &[
                Param::In(&q),
                Param::In(&k),
                Param::In(&v),
                Param::Out(tokens * heads * n * 4),
                Param::Out(tokens * width * 4),
                Param::Out(tokens * heads * 4),
                Param::Int(tokens),
                Param::Int(heads),
                Param::Int(kv_heads),
                Param::Int(head_dim),
                Param::Int(pos0),
                Param::Int(n),
                Param::F32(scale),
            ],
        );
        (f32s(&out[4]), i32s(&out[5]))
    };
    for launch in GEOMETRIES {
        let (out, flags) = attention(launch, &k);
        assert_eq!(bits(&out), bits(&reference));
        assert_eq!(flags, vec![0; tokens * heads]);
    }
    // A NaN key makes every score of the heads that read it NaN: flagged, as on the CPU (key
    // 0, which every token reads).
    let mut k_nan = k.clone();
    k_nan[0] = f32::NAN;
    let (_, flags) = attention(GEOMETRIES[1], &k_nan);
    assert_eq!(flags, [1, 1, 0, 0].repeat(tokens));
}

#[test]
fn residual_add_and_silu_gating_match() {
    let h = random(1000, 5.0, 31);
    let y = random(1000, 5.0, 32);
    let g = random(1000, 12.0, 33);
    let mut added = h.clone();
    crate::ops::add_assign(&mut added, &y);
    let mut gated = g.clone();
    crate::ops::silu_mul(&mut gated, &y);
    let (h, y, g) = (f32_bytes(&h), f32_bytes(&y), f32_bytes(&g));
    for launch in GEOMETRIES {
        let out = run(
            "add_assign",
            launch,
            &[Param::In(&h), Param::In(&y), Param::Int(1000)],
        );
        assert_eq!(bits(&f32s(&out[0])), bits(&added));
        let out = run(
            "silu_mul",
            launch,
            &[Param::In(&g), Param::In(&y), Param::Int(1000)],
        );
        assert_eq!(bits(&f32s(&out[0])), bits(&gated));
    }
}

#[test]
fn unspecified_buffers_start_poisoned_so_a_byte_read_before_written_shows() {
    use crate::device::Device;
    let emulator = super::Emulator::start().unwrap();
    let unspecified = emulator.alloc(6).unwrap();
    assert_eq!(emulator.download(&unspecified, 0..6).unwrap(), [0xff; 6]);
    let zeros = emulator.alloc_zeros(6).unwrap();
    assert_eq!(emulator.download(&zeros, 0..6).unwrap(), [0; 6]);
}
