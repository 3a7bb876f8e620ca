//! x86-64 SIMD kernels over the repacked layout. One 32-bit lane per output row, so every lane
//! runs SPEC.md §3.3's fold for its own row: exact integer block sums (`vpdpbusd`, or
//! `pmaddubsw` + `pmaddwd` without saturation), then the spec's f32 products and FMAs in order.

use super::activation::QuantizedActivations;
use super::packed::{IntLayout, PackedCoefficients, PackedMatrix, GROUP};
use std::arch::x86_64::*;

/// Up to this many tokens share one load of a block's weights.
const TOKEN_TILE: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scale,
    ScaleAddMin,
    ScaleSubMin,
    HalfScales,
}

fn kind(w: &PackedMatrix) -> Kind {
    match w.coefficients() {
        PackedCoefficients::Scale { .. } => Kind::Scale,
        PackedCoefficients::ScaleAddMin { .. } => Kind::ScaleAddMin,
        PackedCoefficients::ScaleSubMin { .. } => Kind::ScaleSubMin,
        PackedCoefficients::HalfScales { .. } => Kind::HalfScales,
    }
}

/// Raw views of the coefficient arrays (all indexed by `(g·blocks + b)·16 + lane`).
struct CoefPtrs {
    scale16: *const u16,
    min16: *const u16,
    scale32: *const f32,
    min32: *const f32,
    half_scales: *const i8,
}

fn coef_ptrs(w: &PackedMatrix) -> CoefPtrs {
    let mut p = CoefPtrs {
        scale16: std::ptr::null(),
        min16: std::ptr::null(),
        scale32: std::ptr::null(),
        min32: std::ptr::null(),
        half_scales: std::ptr::null(),
    };
    match w.coefficients() {
        PackedCoefficients::Scale { scale } => p.scale16 = scale.as_ptr(),
        PackedCoefficients::ScaleAddMin { scale, min } => {
            p.scale16 = scale.as_ptr();
            p.min16 = min.as_ptr();
        }
        PackedCoefficients::ScaleSubMin { scale, min } => {
            p.scale32 = scale.as_ptr();
            p.min32 = min.as_ptr();
        }
        PackedCoefficients::HalfScales { scale, sc } => {
            p.scale16 = scale.as_ptr();
            p.half_scales = sc.as_ptr();
        }
    }
    p
}

/// The activation block as eight little-endian 32-bit words (four i8 each).
#[inline(always)]
fn words(a: &[i8]) -> [i32; 8] {
    let mut w = [0i32; 8];
    for (k, word) in w.iter_mut().enumerate() {
        *word = i32::from_le_bytes([
            a[4 * k] as u8,
            a[4 * k + 1] as u8,
            a[4 * k + 2] as u8,
            a[4 * k + 3] as u8,
        ]);
    }
    w
}

/// `out[t·out_stride + r]` for every token `t` and every row `r` of groups `groups`, with
/// AVX-512 VNNI.
///
/// # Safety
/// The CPU must support avx512f, avx512bw and avx512vnni; `out` must hold
/// `tokens × out_stride` floats with `out_stride ≥ w.rows()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn matmul_avx512(
    w: &PackedMatrix,
    acts: &QuantizedActivations,
    groups: std::ops::Range<usize>,
    out: *mut f32,
    out_stride: usize,
) {
    let kind = kind(w);
    let coef = coef_ptrs(w);
    let blocks = w.blocks();
    let offset = w.offset();
    let nibbles = w.layout() == IntLayout::Nibbles;
    let tokens = acts.tokens();
    for g in groups {
        let mut t0 = 0;
        while t0 < tokens {
            let tile = (tokens - t0).min(TOKEN_TILE);
            let mut acc = [_mm512_setzero_ps(); TOKEN_TILE];
            for b in 0..blocks {
                let ints = w.ints(g, b).as_ptr();
                // Weights: eight registers, register s holds elements 4s..4s+4 of each row.
                let mut wv = [_mm512_setzero_si512(); 8];
                if nibbles {
                    let mask = _mm512_set1_epi8(0x0f);
                    for s in 0..4 {
                        let v = _mm512_loadu_si512(ints.add(64 * s) as *const _);
                        wv[s] = _mm512_and_si512(v, mask);
                        wv[4 + s] = _mm512_and_si512(_mm512_srli_epi16::<4>(v), mask);
                    }
                } else {
                    for (s, reg) in wv.iter_mut().enumerate() {
                        *reg = _mm512_loadu_si512(ints.add(64 * s) as *const _);
                    }
                }
                let at = (g * blocks + b) * GROUP;
                let scale = match kind {
                    Kind::ScaleSubMin => _mm512_loadu_ps(coef.scale32.add(at)),
                    _ => _mm512_cvtph_ps(_mm256_loadu_si256(coef.scale16.add(at) as *const _)),
                };
                for (t, acc_t) in acc.iter_mut().enumerate().take(tile) {
                    let tok = t0 + t;
                    let a = words(acts.block(tok, b));
                    let d_a = _mm512_set1_ps(acts.scale(tok, b));
                    let [s_lo, s_hi] = acts.half_sums(tok, b);
                    let mut lo = _mm512_setzero_si512();
                    let mut hi = _mm512_setzero_si512();
                    for s in 0..4 {
                        lo = _mm512_dpbusd_epi32(lo, wv[s], _mm512_set1_epi32(a[s]));
                        hi = _mm512_dpbusd_epi32(hi, wv[4 + s], _mm512_set1_epi32(a[4 + s]));
                    }
                    let int = if kind == Kind::HalfScales {
                        let sc = coef.half_scales.add(2 * at);
                        let sc_lo = _mm512_cvtepi8_epi32(_mm_loadu_si128(sc as *const _));
                        let sc_hi =
                            _mm512_cvtepi8_epi32(_mm_loadu_si128(sc.add(GROUP) as *const _));
                        let i_lo = _mm512_sub_epi32(lo, _mm512_set1_epi32(offset * s_lo));
                        let i_hi = _mm512_sub_epi32(hi, _mm512_set1_epi32(offset * s_hi));
                        _mm512_add_epi32(
                            _mm512_mullo_epi32(sc_lo, i_lo),
                            _mm512_mullo_epi32(sc_hi, i_hi),
                        )
                    } else {
                        let sum = _mm512_add_epi32(lo, hi);
                        _mm512_sub_epi32(sum, _mm512_set1_epi32(offset * (s_lo + s_hi)))
                    };
                    *acc_t =
                        _mm512_fmadd_ps(_mm512_mul_ps(scale, d_a), _mm512_cvtepi32_ps(int), *acc_t);
                    let s_f = _mm512_set1_ps((s_lo + s_hi) as f32);
                    match kind {
                        Kind::ScaleAddMin => {
                            let min =
                                _mm512_cvtph_ps(_mm256_loadu_si256(coef.min16.add(at) as *const _));
                            *acc_t = _mm512_fmadd_ps(_mm512_mul_ps(min, d_a), s_f, *acc_t);
                        }
                        Kind::ScaleSubMin => {
                            let min = _mm512_loadu_ps(coef.min32.add(at));
                            let neg = _mm512_castsi512_ps(_mm512_xor_si512(
                                _mm512_castps_si512(_mm512_mul_ps(min, d_a)),
                                _mm512_set1_epi32(i32::MIN),
                            ));
                            *acc_t = _mm512_fmadd_ps(neg, s_f, *acc_t);
                        }
                        Kind::Scale | Kind::HalfScales => {}
                    }
                }
            }
            for (t, acc_t) in acc.iter().enumerate().take(tile) {
                store_rows_512(*acc_t, out.add((t0 + t) * out_stride), g, w.rows());
            }
            t0 += tile;
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn store_rows_512(v: __m512, row0: *mut f32, g: usize, rows: usize) {
    let first = g * GROUP;
    let n = (rows - first).min(GROUP);
    let mask: __mmask16 = if n == GROUP { 0xffff } else { (1u16 << n) - 1 };
    _mm512_mask_storeu_ps(row0.add(first), mask, v);
}

/// The same product with AVX2 and FMA: each 16-row group is two 8-lane halves.
///
/// # Safety
/// The CPU must support avx2, fma and f16c; `out` as for [`matmul_avx512`].
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn matmul_avx2(
    w: &PackedMatrix,
    acts: &QuantizedActivations,
    groups: std::ops::Range<usize>,
    out: *mut f32,
    out_stride: usize,
) {
    let kind = kind(w);
    let coef = coef_ptrs(w);
    let blocks = w.blocks();
    let offset = w.offset();
    let nibbles = w.layout() == IntLayout::Nibbles;
    // Q8_0 stores q + 128, which would saturate pmaddubsw: use |q| × sign(a, q) instead.
    let signed_bytes = !nibbles && offset == 128;
    let tokens = acts.tokens();
    let ones = _mm256_set1_epi16(1);
    for g in groups {
        for half in 0..2 {
            let mut t0 = 0;
            while t0 < tokens {
                let tile = (tokens - t0).min(TOKEN_TILE);
                let mut acc = [_mm256_setzero_ps(); TOKEN_TILE];
                for b in 0..blocks {
                    let ints = w.ints(g, b).as_ptr().add(32 * half);
                    let mut wv = [_mm256_setzero_si256(); 8];
                    if nibbles {
                        let mask = _mm256_set1_epi8(0x0f);
                        for s in 0..4 {
                            let v = _mm256_loadu_si256(ints.add(64 * s) as *const _);
                            wv[s] = _mm256_and_si256(v, mask);
                            wv[4 + s] = _mm256_and_si256(_mm256_srli_epi16::<4>(v), mask);
                        }
                    } else {
                        for (s, reg) in wv.iter_mut().enumerate() {
                            let v = _mm256_loadu_si256(ints.add(64 * s) as *const _);
                            *reg = if signed_bytes {
                                _mm256_xor_si256(v, _mm256_set1_epi8(i8::MIN))
                            } else {
                                v
                            };
                        }
                    }
                    let at = (g * blocks + b) * GROUP + 8 * half;
                    let scale = match kind {
                        Kind::ScaleSubMin => _mm256_loadu_ps(coef.scale32.add(at)),
                        _ => _mm256_cvtph_ps(_mm_loadu_si128(coef.scale16.add(at) as *const _)),
                    };
                    for (t, acc_t) in acc.iter_mut().enumerate().take(tile) {
                        let tok = t0 + t;
                        let a = words(acts.block(tok, b));
                        let d_a = _mm256_set1_ps(acts.scale(tok, b));
                        let [s_lo, s_hi] = acts.half_sums(tok, b);
                        let mut lo = _mm256_setzero_si256();
                        let mut hi = _mm256_setzero_si256();
                        for s in 0..4 {
                            let a_lo = _mm256_set1_epi32(a[s]);
                            let a_hi = _mm256_set1_epi32(a[4 + s]);
                            let (p_lo, p_hi) = if signed_bytes {
                                (
                                    _mm256_maddubs_epi16(
                                        _mm256_sign_epi8(wv[s], wv[s]),
                                        _mm256_sign_epi8(a_lo, wv[s]),
                                    ),
                                    _mm256_maddubs_epi16(
                                        _mm256_sign_epi8(wv[4 + s], wv[4 + s]),
                                        _mm256_sign_epi8(a_hi, wv[4 + s]),
                                    ),
                                )
                            } else {
                                (
                                    _mm256_maddubs_epi16(wv[s], a_lo),
                                    _mm256_maddubs_epi16(wv[4 + s], a_hi),
                                )
                            };
                            lo = _mm256_add_epi32(lo, _mm256_madd_epi16(p_lo, ones));
                            hi = _mm256_add_epi32(hi, _mm256_madd_epi16(p_hi, ones));
                        }
                        let int = if kind == Kind::HalfScales {
                            let sc = coef
                                .half_scales
                                .add(2 * ((g * blocks + b) * GROUP) + 8 * half);
                            let sc_lo = _mm256_cvtepi8_epi32(_mm_loadl_epi64(sc as *const _));
                            let sc_hi =
                                _mm256_cvtepi8_epi32(_mm_loadl_epi64(sc.add(GROUP) as *const _));
                            let i_lo = _mm256_sub_epi32(lo, _mm256_set1_epi32(offset * s_lo));
                            let i_hi = _mm256_sub_epi32(hi, _mm256_set1_epi32(offset * s_hi));
                            _mm256_add_epi32(
                                _mm256_mullo_epi32(sc_lo, i_lo),
                                _mm256_mullo_epi32(sc_hi, i_hi),
                            )
                        } else if signed_bytes {
                            _mm256_add_epi32(lo, hi)
                        } else {
                            _mm256_sub_epi32(
                                _mm256_add_epi32(lo, hi),
                                _mm256_set1_epi32(offset * (s_lo + s_hi)),
                            )
                        };
                        *acc_t = _mm256_fmadd_ps(
                            _mm256_mul_ps(scale, d_a),
                            _mm256_cvtepi32_ps(int),
                            *acc_t,
                        );
                        let s_f = _mm256_set1_ps((s_lo + s_hi) as f32);
                        match kind {
                            Kind::ScaleAddMin => {
                                let min = _mm256_cvtph_ps(_mm_loadu_si128(
                                    coef.min16.add(at) as *const _
                                ));
                                *acc_t = _mm256_fmadd_ps(_mm256_mul_ps(min, d_a), s_f, *acc_t);
                            }
                            Kind::ScaleSubMin => {
                                let min = _mm256_loadu_ps(coef.min32.add(at));
                                let neg =
                                    _mm256_xor_ps(_mm256_mul_ps(min, d_a), _mm256_set1_ps(-0.0));
                                *acc_t = _mm256_fmadd_ps(neg, s_f, *acc_t);
                            }
                            Kind::Scale | Kind::HalfScales => {}
                        }
                    }
                }
                for (t, acc_t) in acc.iter().enumerate().take(tile) {
                    let mut lanes = [0f32; 8];
                    _mm256_storeu_ps(lanes.as_mut_ptr(), *acc_t);
                    let first = g * GROUP + 8 * half;
                    let row0 = out.add((t0 + t) * out_stride);
                    for (i, v) in lanes.iter().enumerate() {
                        if first + i < w.rows() {
                            *row0.add(first + i) = *v;
                        }
                    }
                }
                t0 += tile;
            }
        }
    }
}
