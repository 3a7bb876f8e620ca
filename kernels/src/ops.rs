//! The element-wise and per-head operations of the forward pass (SPEC.md §4, §6). Each public
//! function is compiled twice — portable, and with AVX2+FMA for speed — through
//! [`fma_dispatch!`]; both builds give the same bits (see `reduce`), and the scalar kernel path
//! runs the portable one.

use crate::math::{exp32, silu};
use crate::reduce::{dot16, sum16};

/// Defines `pub fn $name` that runs its body compiled with AVX2+FMA when the CPU has them, and
/// portable otherwise or on the threads of a scalar-path pool (see
/// [`crate::cpu::avx2_fma_builds`]). Same arithmetic, same bits; only speed differs.
macro_rules! fma_dispatch {
    ($(#[$meta:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn fast($($arg: $ty),*) $(-> $ret)? {
                body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if crate::cpu::avx2_fma_builds() {
                // SAFETY: the CPU supports AVX2 and FMA.
                return unsafe { fast($($arg),*) };
            }
            body($($arg),*)
        }
    };
}
pub(crate) use fma_dispatch;

fma_dispatch! {
    /// `y = rmsnorm(x, w)` (SPEC.md §4). Returns `false` if the sum of squares is not finite.
    pub fn rmsnorm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) -> bool {
        let ss = dot16(x, x);
        if !ss.is_finite() {
            return false;
        }
        let mean = ss / x.len() as f32;
        let r = 1.0 / (mean + eps).sqrt();
        for ((o, v), w) in out.iter_mut().zip(x).zip(weight) {
            *o = (v * r) * w;
        }
        true
    }
}

fma_dispatch! {
    /// `gate[i] = silu(gate[i]) × up[i]`.
    pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
        for (g, u) in gate.iter_mut().zip(up) {
            *g = silu(*g) * u;
        }
    }
}

fma_dispatch! {
    /// `h[i] = h[i] + y[i]`.
    pub fn add_assign(h: &mut [f32], y: &[f32]) {
        for (a, b) in h.iter_mut().zip(y) {
            *a += b;
        }
    }
}

fma_dispatch! {
    /// One query head over its cached keys and values (SPEC.md §6). `keys` and `values` hold
    /// `n` positions of `stride` values, the head's slice starting at `offset`; `scores` is
    /// scratch of at least `n`. Returns `false` if a score is not finite.
    #[allow(clippy::too_many_arguments)]
    pub fn attend(
        q: &[f32],
        keys: &[f32],
        values: &[f32],
        n: usize,
        stride: usize,
        offset: usize,
        scale: f32,
        scores: &mut [f32],
        out: &mut [f32],
    ) -> bool {
        let d = q.len();
        let scores = &mut scores[..n];
        for (j, s) in scores.iter_mut().enumerate() {
            let k = &keys[j * stride + offset..j * stride + offset + d];
            *s = dot16(q, k) * scale;
        }
        let m = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
        if !m.is_finite() || scores.iter().any(|s| s.is_nan()) {
            return false;
        }
        for s in scores.iter_mut() {
            *s = exp32(*s - m);
        }
        let z = sum16(scores);
        out.fill(0.0);
        for (j, &e) in scores.iter().enumerate() {
            let v = &values[j * stride + offset..j * stride + offset + d];
            for (o, &x) in out.iter_mut().zip(v) {
                *o = e.mul_add(x, *o);
            }
        }
        for o in out.iter_mut() {
            *o /= z;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matmul::Compute;
    use crate::quant::tests::Lcg;
    use crate::quant::{KernelPath, QuantizedActivations};
    use crate::reduce::{dot16, sum16};

    /// Every op compiled twice, on fixed data with values down in the denormal range: the bits
    /// of all their outputs.
    fn every_op_bits() -> Vec<u32> {
        let mut rng = Lcg::new(17);
        let mut random =
            |n: usize, scale: f32| -> Vec<f32> { (0..n).map(|_| rng.next_f32() * scale).collect() };
        let (d, n) = (64, 9);
        let x = random(d * n, 3.0);
        let tiny = random(d, f32::MIN_POSITIVE * 64.0);
        let mut out = vec![dot16(&x[..d], &tiny), sum16(&tiny), dot16(&x, &x)];
        let mut normed = vec![0f32; d];
        assert!(rmsnorm(&x[..d], &x[d..2 * d], 1e-5, &mut normed));
        out.extend(&normed);
        let mut gate = x[..2 * d].to_vec();
        silu_mul(&mut gate, &x[2 * d..4 * d]);
        add_assign(&mut gate, &x[4 * d..6 * d]);
        out.extend(&gate);
        let (mut scores, mut attended) = (vec![0f32; n], vec![0f32; d]);
        assert!(attend(
            &x[..d],
            &x,
            &x,
            n,
            d,
            0,
            0.125,
            &mut scores,
            &mut attended
        ));
        out.extend(&attended);
        let q = QuantizedActivations::quantize(&x, d);
        out.extend((0..n).map(|t| q.scale(t, 1)));
        let mut bits: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
        bits.extend(q.block(n - 1, 0).iter().map(|&i| i as u32));
        bits
    }

    #[test]
    fn the_scalar_path_runs_the_portable_builds_and_every_path_the_same_bits() {
        let on = |path| {
            Compute::new(path, 1)
                .unwrap()
                .install(|| (crate::cpu::avx2_fma_builds(), every_op_bits()))
        };
        let (simd, portable) = on(KernelPath::Scalar);
        assert!(!simd, "the scalar path ran the AVX2+FMA builds");
        for path in KernelPath::to_compare() {
            let (simd, bits) = on(path);
            assert_eq!(simd, path != KernelPath::Scalar, "{path:?}");
            assert_eq!(bits, portable, "{path:?}");
        }
    }

    #[test]
    fn attention_of_one_key_returns_its_value() {
        let q = [0.5f32; 64];
        let k = [0.25f32; 64];
        let v: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let mut scores = [0f32; 1];
        let mut out = [0f32; 64];
        assert!(attend(&q, &k, &v, 1, 64, 0, 0.125, &mut scores, &mut out));
        assert_eq!(out.to_vec(), v);
    }

    #[test]
    fn rmsnorm_formula() {
        let x = [3.0f32, 4.0];
        let mut out = [0f32; 2];
        assert!(rmsnorm(&x, &[1.0, 2.0], 0.0, &mut out));
        let r = 1.0 / (12.5f32).sqrt();
        assert_eq!(out, [(3.0 * r) * 1.0, (4.0 * r) * 2.0]);
        assert!(!rmsnorm(&[f32::INFINITY, 1.0], &[1.0, 1.0], 1e-5, &mut out));
    }
}
