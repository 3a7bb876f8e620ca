//! The f64 functions RoPE needs (SPEC.md §2.3). They run once per model load (frequencies) and
//! once per position and frequency (angles), never in a hot loop.

/// `k!` for `k = 0..=23`, computed by exact f64 multiplication.
const fn factorials() -> [f64; 24] {
    let mut f = [1.0f64; 24];
    let mut k = 1;
    while k < 24 {
        f[k] = f[k - 1] * k as f64;
        k += 1;
    }
    f
}
const FACT: [f64; 24] = factorials();

const LOG2E: f64 = std::f64::consts::LOG2_E;
const LN2_HI: f64 = 0.693_147_180_369_123_8;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
const SQRT2: f64 = std::f64::consts::SQRT_2;
const TWO_OVER_PI: f64 = std::f64::consts::FRAC_2_PI;
const PIO2_1: f64 = 1.570_796_326_734_125_6;
const PIO2_2: f64 = 6.077_100_506_303_966e-11;
const PIO2_3: f64 = 2.022_266_248_795_950_6e-21;

fn pow2i64(n: i64) -> f64 {
    debug_assert!((-1022..=1023).contains(&n));
    f64::from_bits(((n + 1023) as u64) << 52)
}

/// `exp(x)` for `|x| < 700`: Cody–Waite reduction and a degree-13 Taylor polynomial.
pub fn exp64(x: f64) -> f64 {
    assert!(x.abs() < 700.0, "exp64 argument {x} out of range");
    let n = (x * LOG2E).round_ties_even();
    let r = (-n).mul_add(LN2_HI, x);
    let r = (-n).mul_add(LN2_LO, r);
    let mut p = 1.0 / FACT[13];
    for k in (0..13).rev() {
        p = p.mul_add(r, 1.0 / FACT[k]);
    }
    p * pow2i64(n as i64)
}

/// `ln(x)` for a positive normal `x`: `x = m·2^e` with `m ∈ (√2/2, √2]`, and the atanh series
/// `ln m = 2·s·Σ s^(2k)/(2k+1)`, `s = (m−1)/(m+1)`, for `k = 0..=11`.
pub fn ln64(x: f64) -> f64 {
    assert!(
        x.is_normal() && x > 0.0,
        "ln64 argument {x} must be positive and normal"
    );
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > SQRT2 {
        m /= 2.0;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let mut q = 1.0f64 / 23.0;
    for k in (0..11).rev() {
        q = q.mul_add(z, 1.0 / (2 * k + 1) as f64);
    }
    let ln_m = (s * q) * 2.0;
    let e = e as f64;
    e.mul_add(LN2_HI, e.mul_add(LN2_LO, ln_m))
}

/// `(sin θ, cos θ)` for `|θ| < 2^20`: reduction by π/2 in three parts, Taylor polynomials to
/// degree 19 (sine) and 18 (cosine) on `|r| ≤ π/4`.
pub fn sincos64(theta: f64) -> (f64, f64) {
    assert!(
        theta.abs() < 1_048_576.0,
        "sincos64 argument {theta} out of range"
    );
    let k = (theta * TWO_OVER_PI).round_ties_even();
    let r = (-k).mul_add(PIO2_1, theta);
    let r = (-k).mul_add(PIO2_2, r);
    let r = (-k).mul_add(PIO2_3, r);
    let z = r * r;
    let sign = |j: usize| if (j / 2).is_multiple_of(2) { 1.0 } else { -1.0 };
    // S(z) = Σ_{j odd, 3..=19} ±z^((j-3)/2)/j!
    let mut s_poly = sign(19) / FACT[19];
    for j in (3..=17).rev().step_by(2) {
        s_poly = s_poly.mul_add(z, sign(j) / FACT[j]);
    }
    let sin_r = (r * z).mul_add(s_poly, r);
    // C(z) = Σ_{j even, 4..=18} ±z^((j-4)/2)/j!
    let mut c_poly = sign(18) / FACT[18];
    for j in (4..=16).rev().step_by(2) {
        c_poly = c_poly.mul_add(z, sign(j) / FACT[j]);
    }
    let cos_r = (z * z).mul_add(c_poly, (-0.5f64).mul_add(z, 1.0));
    match (k as i64).rem_euclid(4) {
        0 => (sin_r, cos_r),
        1 => (cos_r, -sin_r),
        2 => (-sin_r, -cos_r),
        _ => (-cos_r, sin_r),
    }
}
