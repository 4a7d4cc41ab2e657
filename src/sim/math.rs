//! The transcendental functions every figure of a run goes through, the same to the bit
//! on every platform.
//!
//! `f64::exp`, `f64::ln` and the like call the platform's C math library, whose last
//! bit differs between libraries (glibc's `exp` and these differ on about one input in
//! ten); a last bit that differs changes a run wherever it moves a duration's rounding
//! to the nanosecond or a comparison, and a run then goes its own way. These are the
//! `libm` crate's, pure Rust (a port of musl's), so a scenario and a seed give the same
//! run on Linux, macOS and Windows alike. Square roots need no such care: IEEE 754
//! rounds them exactly, as it does `+ − × ÷`; nor do integer powers (`powi`), which are
//! repeated multiplications in the same order on every target. The random variates
//! built on these — the exponential and the normal (`super::ziggurat`), Poisson
//! (`super::poisson`), log-normal and Zipf — are the engine's own for the same reason:
//! `rand_distr`'s go through the platform's library.
//!
//! The std functions are refused by `clippy.toml` (`disallowed-methods`): everything the
//! crate computes goes through here, the window's grid lines included, so the rule has
//! no exceptions to remember.

/// eˣ.
#[inline]
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// eˣ − 1, accurate near 0.
#[inline]
pub fn exp_m1(x: f64) -> f64 {
    libm::expm1(x)
}

/// The natural logarithm.
#[inline]
pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// The logarithm to base 10.
#[inline]
pub fn log10(x: f64) -> f64 {
    libm::log10(x)
}

/// xʸ.
#[inline]
pub fn powf(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// The tangent.
#[inline]
pub fn tan(x: f64) -> f64 {
    libm::tan(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values known exactly, and the identities the engine's uses rely on.
    #[test]
    fn agree_with_their_definitions() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(log10(1000.0), 3.0);
        assert_eq!(powf(2.0, 10.0), 1024.0);
        assert_eq!(powf(9.0, 0.5), 3.0);
        assert_eq!(exp_m1(0.0), 0.0);
        assert_eq!(tan(0.0), 0.0);
        for x in [-30.0f64, -1.5, -1e-9, 1e-9, 0.25, 2.0, 40.0] {
            let rel = |a: f64, b: f64| ((a - b) / b).abs();
            let tol = 4.0 * f64::EPSILON * x.abs().max(1.0);
            assert!((ln(exp(x)) - x).abs() <= tol, "ln(exp({x}))");
            assert!(rel(exp_m1(x), exp(x) - 1.0) < 1e-6, "exp_m1({x})");
            assert!(rel(powf(2.0, x), exp(x * std::f64::consts::LN_2)) < 1e-13);
        }
        assert!((tan(std::f64::consts::FRAC_PI_4) - 1.0).abs() < 1e-15);
    }

    /// Pinned bits, at inputs where glibc's `exp`, `ln` and `pow` give another last bit
    /// (on x86-64, 2026-12-06): the values a run computes must not move with the
    /// platform, nor with an update of the crate, without this test saying so.
    #[test]
    fn give_the_same_bits_everywhere() {
        let bits = [
            exp(1.7).to_bits(),
            exp(0.36).to_bits(),
            exp(-3.66).to_bits(),
            ln(2.42).to_bits(),
            ln(6.04).to_bits(),
            powf(12.0, -0.9).to_bits(),
        ];
        let pinned = [
            0x4015_e552_770d_f8a6,
            0x3ff6_eeea_d2fe_e760,
            0x3f9a_599f_b26a_1b4c,
            0x3fec_47d2_dd49_4ba0,
            0x3ffc_c643_4904_e6e6,
            0x3fbb_59ea_22de_b58a,
        ];
        assert_eq!(bits, pinned);
    }
}
