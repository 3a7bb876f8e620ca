//! The spec's reductions (SPEC.md §1): `dot16` and `sum16`, sixteen strided lanes folded with a
//! fixed tree. Written as plain lane arrays; compiled twice (with and without FMA/AVX2 enabled),
//! which changes speed, never bits: every `mul_add` is fused either way and the compiler never
//! reorders float additions.

#[cfg(target_arch = "x86_64")]
use crate::cpu::avx2_fma_builds;

#[inline(always)]
fn tree(mut a: [f32; 16]) -> f32 {
    for w in [8, 4, 2, 1] {
        for l in 0..w {
            a[l] += a[l + w];
        }
    }
    a[0]
}

#[inline(always)]
fn dot16_body(x: &[f32], y: &[f32]) -> f32 {
    assert_eq!(x.len(), y.len(), "dot16 of unequal lengths");
    let mut a = [0f32; 16];
    let mut xs = x.chunks_exact(16);
    let mut ys = y.chunks_exact(16);
    for (xc, yc) in (&mut xs).zip(&mut ys) {
        for l in 0..16 {
            a[l] = xc[l].mul_add(yc[l], a[l]);
        }
    }
    for (l, (xv, yv)) in xs.remainder().iter().zip(ys.remainder()).enumerate() {
        a[l] = xv.mul_add(*yv, a[l]);
    }
    tree(a)
}

#[inline(always)]
fn sum16_body(x: &[f32]) -> f32 {
    let mut a = [0f32; 16];
    let mut xs = x.chunks_exact(16);
    for xc in &mut xs {
        for l in 0..16 {
            a[l] += xc[l];
        }
    }
    for (l, v) in xs.remainder().iter().enumerate() {
        a[l] += v;
    }
    tree(a)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot16_fma(x: &[f32], y: &[f32]) -> f32 {
    dot16_body(x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sum16_fma(x: &[f32]) -> f32 {
    sum16_body(x)
}

/// `Σ x[i]·y[i]` in the order of SPEC.md §1.1.
#[inline]
pub fn dot16(x: &[f32], y: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma_builds() {
        // SAFETY: the CPU supports AVX2 and FMA.
        return unsafe { dot16_fma(x, y) };
    }
    dot16_body(x, y)
}

/// `Σ x[i]` in the order of SPEC.md §1.1.
#[inline]
pub fn sum16(x: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma_builds() {
        // SAFETY: the CPU supports AVX2 and FMA.
        return unsafe { sum16_fma(x) };
    }
    sum16_body(x)
}

/// The portable build of [`dot16`], for tests that compare the two builds.
pub fn dot16_portable(x: &[f32], y: &[f32]) -> f32 {
    dot16_body(x, y)
}

/// The portable build of [`sum16`].
pub fn sum16_portable(x: &[f32]) -> f32 {
    sum16_body(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_the_specs() {
        // Values chosen so that another order gives other bits.
        let mut x = vec![1.0f32; 37];
        x[0] = 1e8;
        x[16] = -1e8;
        let mut lanes = [0f32; 16];
        for (i, v) in x.iter().enumerate() {
            lanes[i % 16] += v;
        }
        for w in [8, 4, 2, 1] {
            for l in 0..w {
                lanes[l] += lanes[l + w];
            }
        }
        assert_eq!(sum16(&x).to_bits(), lanes[0].to_bits());
        let sequential: f32 = x.iter().sum();
        assert_ne!(
            sum16(&x).to_bits(),
            sequential.to_bits(),
            "test data must tell orders apart"
        );
    }

    #[test]
    fn both_builds_agree_bitwise() {
        // Without AVX2 both are the portable build (said on stderr, or a failure when the
        // path is required).
        crate::quant::KernelPath::to_compare();
        let mut state = 12345u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for n in [0, 1, 15, 16, 17, 64, 100, 576] {
            let x: Vec<f32> = (0..n).map(|_| next() * 10.0).collect();
            let y: Vec<f32> = (0..n).map(|_| next()).collect();
            assert_eq!(
                dot16(&x, &y).to_bits(),
                dot16_portable(&x, &y).to_bits(),
                "n={n}"
            );
            assert_eq!(sum16(&x).to_bits(), sum16_portable(&x).to_bits(), "n={n}");
        }
        assert_eq!(sum16(&[]).to_bits(), 0f32.to_bits());
    }
}
