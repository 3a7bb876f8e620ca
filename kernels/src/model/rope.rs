//! Rotary position embedding (SPEC.md §5): frequencies and angles in f64 from the spec's own
//! functions, rounded once to f32, then applied to adjacent pairs without FMA.

use crate::math::{exp64, ln64, sincos64};

#[derive(Debug, Clone)]
pub struct Rope {
    inv_freq: Vec<f64>,
}

impl Rope {
    pub fn new(head_dim: usize, base: f32) -> Self {
        let ln_base = ln64(base as f64);
        let inv_freq = (0..head_dim / 2)
            .map(|i| exp64(-((2 * i) as f64 / head_dim as f64) * ln_base))
            .collect();
        Self { inv_freq }
    }

    /// `(cos, sin)` per pair at `position`.
    pub fn table(&self, position: usize) -> (Vec<f32>, Vec<f32>) {
        let p = position as f64;
        self.inv_freq
            .iter()
            .map(|&f| {
                let (s, c) = sincos64(p * f);
                (c as f32, s as f32)
            })
            .unzip()
    }

    /// Rotates every head of `x` (heads of `head_dim` values, back to back) in place.
    pub fn apply(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32]) {
        for head in x.chunks_exact_mut(head_dim) {
            for (i, pair) in head.chunks_exact_mut(2).enumerate() {
                let (x0, x1) = (pair[0], pair[1]);
                pair[0] = x0 * cos[i] - x1 * sin[i];
                pair[1] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_and_angles_match_the_definition() {
        let rope = Rope::new(64, 100_000.0);
        for (i, f) in rope.inv_freq.iter().enumerate() {
            let want = 100_000f64.powf(-(2.0 * i as f64) / 64.0);
            assert!((f - want).abs() <= 1e-15 * want, "pair {i}");
        }
        let (cos, sin) = rope.table(1234);
        for i in 0..32 {
            let angle = 1234.0 * rope.inv_freq[i];
            assert!((cos[i] as f64 - angle.cos()).abs() < 1e-7);
            assert!((sin[i] as f64 - angle.sin()).abs() < 1e-7);
        }
        assert_eq!(rope.table(0), (vec![1.0; 32], vec![0.0; 32]));
    }

    #[test]
    fn rotation_keeps_lengths() {
        let mut x: Vec<f32> = (0..8).map(|i| i as f32 - 3.5).collect();
        let rope = Rope::new(4, 10_000.0);
        let (cos, sin) = rope.table(7);
        let before: f32 = x.iter().map(|v| v * v).sum();
        Rope::apply(&mut x, 4, &cos, &sin);
        let after: f32 = x.iter().map(|v| v * v).sum();
        assert!((before - after).abs() < 1e-4);
    }
}
