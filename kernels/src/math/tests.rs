//! Accuracy against the platform libm (tolerances: libm is only a yardstick here), and pinned
//! bit patterns so that any change to the formulas shows up as a spec change.

use super::*;

#[test]
fn exp32_is_accurate_over_its_range() {
    let mut worst = 0f64;
    let mut x = -87.0f32;
    while x <= 88.0 {
        let got = exp32(x) as f64;
        let want = (x as f64).exp();
        worst = worst.max(((got - want) / want).abs());
        x += 0.013;
    }
    assert!(worst < 4e-7, "worst relative error {worst}");
    assert_eq!(exp32(0.0), 1.0);
    assert_eq!(exp32(88.5), f32::INFINITY);
    assert_eq!(exp32(-90.0), 0.0);
}

#[test]
fn silu_matches_its_definition() {
    for &x in &[-20.0f32, -3.5, -1.0, -0.1, 0.0, 0.1, 1.0, 3.5, 20.0, 100.0] {
        let want = x as f64 / (1.0 + (-(x as f64)).exp());
        assert!(
            (silu(x) as f64 - want).abs() <= 1e-6 * want.abs().max(1e-3),
            "x={x}"
        );
    }
    assert_eq!(silu(-200.0), -0.0);
}

#[test]
fn f64_functions_are_accurate() {
    for i in -600..600 {
        let x = i as f64 * 1.01;
        let rel = (exp64(x) - x.exp()).abs() / x.exp();
        assert!(rel < 1e-15, "exp64({x}) rel {rel}");
    }
    for &x in &[1e-300, 0.001, 0.5, 1.0, 1.5, 2.0, 10.0, 1e4, 1e5, 1e300] {
        let err = (ln64(x) - f64::ln(x)).abs();
        assert!(
            err < 1e-14 * f64::ln(x).abs().max(1.0),
            "ln64({x}) err {err}"
        );
    }
    for i in 0..20_000 {
        let theta = i as f64 * 0.4097 - 100.0;
        let (s, c) = sincos64(theta);
        assert!((s - theta.sin()).abs() < 1e-14, "sin({theta})");
        assert!((c - theta.cos()).abs() < 1e-14, "cos({theta})");
    }
}

#[test]
fn pinned_bits() {
    // Any change here is a change of the spec: bump the spec version.
    assert_eq!(exp32(1.0).to_bits(), 0x402d_f854);
    assert_eq!(exp32(-1.0).to_bits(), 0x3ebc_5ab2);
    assert_eq!(exp32(10.5).to_bits(), 0x470d_db81);
    assert_eq!(silu(1.0).to_bits(), 0x3f3b_26a8);
    assert_eq!(ln64(100_000.0).to_bits(), 0x4027_069e_2aa2_aa5b);
    assert_eq!(sincos64(8191.0 * 0.5).0.to_bits(), 0xbfed_089c_41df_a9bb);
}
