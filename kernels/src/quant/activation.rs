//! Activation quantization `Q8A` (SPEC.md §3.2): blocks of 32 values become a scale `d`, 32
//! integers in [−127, 127] and their exact half-block sums.

use crate::math::rne;

/// The quantized activations of `tokens` vectors of `len` values each, stored token after token.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedActivations {
    len: usize,
    tokens: usize,
    /// Per block: `d = amax / 127`.
    scales: Vec<f32>,
    /// Per element: the integer `q`.
    ints: Vec<i8>,
    /// Per block: `[Σ q[0..16], Σ q[16..32]]`.
    half_sums: Vec<[i32; 2]>,
}

impl QuantizedActivations {
    /// Quantizes `x`, which holds `x.len() / len` vectors of `len` values (`len` a multiple of
    /// 32).
    pub fn quantize(x: &[f32], len: usize) -> Self {
        assert!(
            len.is_multiple_of(32) && len > 0,
            "activation length {len} is not a multiple of 32"
        );
        assert!(
            x.len().is_multiple_of(len),
            "{} values do not split into rows of {len}",
            x.len()
        );
        let blocks = x.len() / 32;
        let mut scales = Vec::with_capacity(blocks);
        let mut ints = vec![0i8; x.len()];
        let mut half_sums = Vec::with_capacity(blocks);
        for (block, q) in x.chunks_exact(32).zip(ints.chunks_exact_mut(32)) {
            let (d, sums) = quantize_block(block, q);
            scales.push(d);
            half_sums.push(sums);
        }
        Self {
            len,
            tokens: x.len() / len,
            scales,
            ints,
            half_sums,
        }
    }

    /// Values per vector.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.tokens == 0
    }

    /// Number of vectors.
    pub fn tokens(&self) -> usize {
        self.tokens
    }

    pub fn blocks_per_token(&self) -> usize {
        self.len / 32
    }

    /// Scale of block `b` of token `t`.
    #[inline(always)]
    pub fn scale(&self, t: usize, b: usize) -> f32 {
        self.scales[t * self.blocks_per_token() + b]
    }

    /// The 32 integers of block `b` of token `t`.
    #[inline(always)]
    pub fn block(&self, t: usize, b: usize) -> &[i8] {
        let start = t * self.len + b * 32;
        &self.ints[start..start + 32]
    }

    /// `[Σ q[0..16], Σ q[16..32]]` of block `b` of token `t`.
    #[inline(always)]
    pub fn half_sums(&self, t: usize, b: usize) -> [i32; 2] {
        self.half_sums[t * self.blocks_per_token() + b]
    }

    /// `S = Σ q` of block `b` of token `t`.
    #[inline(always)]
    pub fn sum(&self, t: usize, b: usize) -> i32 {
        let [lo, hi] = self.half_sums(t, b);
        lo + hi
    }
}

crate::ops::fma_dispatch! {
    /// One block of SPEC.md §3.2: returns `d` and the half sums, writes the integers to `q`.
    /// A block whose `127 / amax` is not finite (all zeros, or below about 3.7e-37) is all
    /// zeros with `d` = 0. A block holding a NaN or an infinity is poisoned (`d` = NaN, `q` = 0): every product
    /// over it is NaN, which the forward pass's next check reports (§8).
    pub fn quantize_block(x: &[f32], q: &mut [i8]) -> (f32, [i32; 2]) {
    if x.iter().any(|v| !v.is_finite()) {
        q.fill(0);
        return (f32::NAN, [0, 0]);
    }
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let inv = 127.0 / amax;
    // amax = 0, or so small (below about 3.7e-37) that 127 / amax overflows: a zero block.
    if !inv.is_finite() {
        q.fill(0);
        return (0.0, [0, 0]);
    }
    let d = amax / 127.0;
    let mut sums = [0i32; 2];
    for (j, (v, out)) in x.iter().zip(q.iter_mut()).enumerate() {
        let r = rne(v * inv).clamp(-127.0, 127.0) as i32;
        *out = r as i8;
        sums[j / 16] += r;
    }
    (d, sums)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantizes_per_the_spec() {
        let mut x: Vec<f32> = (0..64).map(|i| (i as f32 - 20.0) * 0.25).collect();
        x[40] = -12.7;
        let a = QuantizedActivations::quantize(&x, 64);
        assert_eq!(a.tokens(), 1);
        // Block 0: amax = 5.0 (i = 0), so q = rne(x · 127/5).
        assert_eq!(a.scale(0, 0), 5.0 / 127.0);
        assert_eq!(a.block(0, 0)[0], -127);
        assert_eq!(a.block(0, 0)[20], 0);
        assert_eq!(
            a.block(0, 0)[22],
            (0.5f32 * (127.0 / 5.0)).round_ties_even() as i8
        );
        let expected: i32 = a.block(0, 1).iter().map(|&q| q as i32).sum();
        assert_eq!(a.sum(0, 1), expected);
        assert_eq!(a.block(0, 1)[8], -127);
    }

    #[test]
    fn zero_blocks_and_ties() {
        let mut x = vec![0f32; 32];
        let a = QuantizedActivations::quantize(&x, 32);
        assert_eq!((a.scale(0, 0), a.sum(0, 0)), (0.0, 0));
        // 0.5 · 127/127 = 0.5 rounds to 0 (half to even), 1.5 to 2.
        x[0] = 127.0;
        x[1] = 0.5;
        x[2] = 1.5;
        let a = QuantizedActivations::quantize(&x, 32);
        assert_eq!(&a.block(0, 0)[..3], &[127, 0, 2]);
    }

    #[test]
    fn non_finite_blocks_are_poisoned() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut x: Vec<f32> = (0..64).map(|i| i as f32 - 30.0).collect();
            x[33] = bad;
            let a = QuantizedActivations::quantize(&x, 64);
            assert!(a.scale(0, 1).is_nan(), "{bad}");
            assert_eq!((a.block(0, 1), a.sum(0, 1)), (&[0i8; 32][..], 0), "{bad}");
            // The other block is untouched.
            assert_eq!(a.scale(0, 0), 30.0 / 127.0);
        }
    }
}
