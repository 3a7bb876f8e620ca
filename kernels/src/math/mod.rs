//! Elementary functions of the determinism spec (SPEC.md §2), built only from correctly rounded
//! IEEE-754 operations (+ − × ÷ sqrt fma) so that every platform, SIMD path and GPU computes the
//! same bits. Nothing here calls the platform libm.

mod f64_funcs;

pub use f64_funcs::{exp64, ln64, sincos64};

/// Round half to even, to an integral float (exact).
#[inline(always)]
pub fn rne(x: f32) -> f32 {
    x.round_ties_even()
}

/// `2^n` as an f32, for `-126 <= n <= 127`.
#[inline(always)]
pub fn pow2i(n: i32) -> f32 {
    debug_assert!((-126..=127).contains(&n));
    f32::from_bits(((n + 127) as u32) << 23)
}

pub const EXP32_MAX: f32 = 88.0;
pub const EXP32_MIN: f32 = -87.0;
/// `log2(e)`, the f32 nearest 1.442695041 (bits given to pin the spec's constants exactly).
pub const LOG2E_F32: f32 = f32::from_bits(0x3fb8_aa3b);
/// `ln 2` split for Cody–Waite: 0.693145752 (exact in f32) + 1.42860677e-6.
pub const LN2_HI_F32: f32 = f32::from_bits(0x3f31_7200);
pub const LN2_LO_F32: f32 = f32::from_bits(0x35bf_be8e);
/// Taylor coefficients `1/7!, 1/6!, 1/5!, 1/4!, 1/3!, 1/2!` for [`exp32`]'s Horner scheme, the
/// f32 nearest 1.98412698e-4, 1.38888889e-3, 8.33333333e-3, 4.16666667e-2, 1.66666667e-1, 0.5.
pub const EXP32_POLY: [f32; 6] = [
    f32::from_bits(0x3950_0d01),
    f32::from_bits(0x3ab6_0b61),
    f32::from_bits(0x3c08_8889),
    f32::from_bits(0x3d2a_aaab),
    f32::from_bits(0x3e2a_aaab),
    0.5,
];

/// `exp(x)` per SPEC.md §2.1.
#[inline]
pub fn exp32(x: f32) -> f32 {
    if x > EXP32_MAX {
        return f32::INFINITY;
    }
    if x < EXP32_MIN {
        return 0.0;
    }
    let n = rne(x * LOG2E_F32);
    let r = (-n).mul_add(LN2_HI_F32, x);
    let r = (-n).mul_add(LN2_LO_F32, r);
    let mut p = EXP32_POLY[0];
    for &c in &EXP32_POLY[1..] {
        p = p.mul_add(r, c);
    }
    p = p.mul_add(r, 1.0);
    p = p.mul_add(r, 1.0);
    p * pow2i(n as i32)
}

/// `x · sigmoid(x)` per SPEC.md §2.2.
#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + exp32(-x))
}

#[cfg(test)]
mod tests;
