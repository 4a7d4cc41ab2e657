//! Poisson variates: `rand_distr::Poisson`'s algorithms (`src/poisson.rs` of rand_distr
//! 0.6, © the Rand project developers, MIT or Apache-2.0) drawing the same numbers from
//! the stream, with their logarithms, exponentials and powers from [`super::math`] so
//! that a draw is the same on every platform. Knuth's multiplication method below a
//! mean of 12; above, Ahrens and Dieter's rejection from a modified normal (ACM TOMS 8
//! (2), 1982, 163–179). A test checks each draw against the crate's.

use super::SimRng;
use super::math;

/// The Poisson distribution with mean `lambda`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Poisson {
    /// e^−λ: multiply uniforms until the product falls below it.
    Knuth {
        exp_lambda: f64,
    },
    Rejection(Rejection),
}

/// The constants of the rejection method for one λ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rejection {
    lambda: f64,
    s: f64,
    d: f64,
    l: f64,
    c: f64,
    c0: f64,
    c1: f64,
    c2: f64,
    c3: f64,
    omega: f64,
}

impl Poisson {
    /// The distribution of mean `lambda`: `None` unless 0 < λ ≤ 1.844 × 10¹⁹ (finite).
    pub fn new(lambda: f64) -> Option<Self> {
        if !(lambda.is_finite() && lambda > 0.0) {
            return None;
        }
        if lambda < 12.0 {
            return Some(Self::Knuth {
                exp_lambda: math::exp(-lambda),
            });
        }
        if lambda > 1.844e19 {
            return None;
        }
        let b1 = (1.0 / 24.0) / lambda;
        let b2 = 0.3 * b1 * b1;
        let c3 = (1.0 / 7.0) * b1 * b2;
        let c2 = b2 - 15.0 * c3;
        let c1 = b1 - 6.0 * b2 + 45.0 * c3;
        let c0 = 1.0 - b1 + 3.0 * b2 - 15.0 * c3;
        Some(Self::Rejection(Rejection {
            lambda,
            s: lambda.sqrt(),
            d: 6.0 * lambda * lambda,
            l: (lambda - 1.1484).floor(),
            c: 0.1069 / lambda,
            c0,
            c1,
            c2,
            c3,
            omega: 1.0 / (2.0 * std::f64::consts::PI).sqrt() / lambda.sqrt(),
        }))
    }

    /// A draw: a whole number, as an `f64`.
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        match self {
            Self::Knuth { exp_lambda } => {
                let mut result = 1.0;
                let mut p = rng.uniform();
                while p > *exp_lambda {
                    p *= rng.uniform();
                    result += 1.0;
                }
                result - 1.0
            }
            Self::Rejection(r) => r.sample(rng),
        }
    }
}

impl Rejection {
    /// Step F of the paper: the pieces of the acceptance test at `k`.
    fn f(&self, k: f64) -> (f64, f64, f64, f64) {
        const FACT: [f64; 10] = [
            1.0, 1.0, 2.0, 6.0, 24.0, 120.0, 720.0, 5040.0, 40320.0, 362880.0,
        ];
        // Table 1's coefficients.
        const A: [f64; 10] = [
            -0.5000000002,
            0.3333333343,
            -0.2499998565,
            0.1999997049,
            -0.1666848753,
            0.1428833286,
            -0.1241963125,
            0.1101687109,
            -0.1142650302,
            0.1055093006,
        ];
        let lambda = self.lambda;
        let (px, py) = if k < 10.0 {
            (-lambda, math::powf(lambda, k) / FACT[k as usize])
        } else {
            let delta = (12.0 * k).recip();
            let delta = delta - 4.8 * delta.powi(3);
            let v = (lambda - k) / k;
            let px = if v.abs() <= 0.25 {
                k * v.powi(2) * A.iter().rev().fold(0.0, |acc, &a| acc * v + a) - delta
            } else {
                k * math::ln(1.0 + v) - (lambda - k) - delta
            };
            (px, 1.0 / (2.0 * std::f64::consts::PI).sqrt() / k.sqrt())
        };
        let x = (k - lambda + 0.5) / self.s;
        let fx = -0.5 * x * x;
        let fy = self.omega * (((self.c3 * x * x + self.c2) * x * x + self.c1) * x * x + self.c0);
        (px, py, fx, fy)
    }

    fn sample(&self, rng: &mut SimRng) -> f64 {
        // Step N: a normal deviate, accepted at once when large enough (step I) or
        // after the squeeze (step S).
        let g = self.lambda + self.s * rng.standard_normal();
        if g >= 0.0 {
            let k1 = g.floor();
            if k1 >= self.l {
                return k1;
            }
            let u = rng.uniform();
            if self.d * u >= (self.lambda - k1).powi(3) {
                return k1;
            }
            let (px, py, fx, fy) = self.f(k1);
            if fy * (1.0 - u) <= py * math::exp(px - fx) {
                return k1;
            }
        }
        loop {
            // Step E: a double exponential, accepted by step H.
            let e = rng.exp1();
            let u = rng.uniform() * 2.0 - 1.0;
            let t = 1.8 + e * u.signum();
            if t > -0.6744 {
                let k2 = (self.lambda + self.s * t).floor();
                let (px, py, fx, fy) = self.f(k2);
                if self.c * u.abs() <= py * math::exp(px + e) - fy * math::exp(fx + e) {
                    return k2;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::Distribution as _;

    /// Each draw is the crate's, from the same stream, taking the same numbers: below
    /// and above the switch between the methods, for small means and for large.
    #[test]
    fn draws_are_the_crates() {
        for lambda in [0.05, 1.0, 4.5, 11.99, 12.0, 30.0, 250.0, 1e6] {
            let ours = Poisson::new(lambda).unwrap();
            let theirs = rand_distr::Poisson::new(lambda).unwrap();
            let mut rng = SimRng::stream(11, "poisson");
            let mut crates = rng.generator().clone();
            for n in 0..200_000 {
                let (x, y) = (ours.sample(&mut rng), theirs.sample(&mut crates));
                assert_eq!(x, y, "λ = {lambda}, draw {n}");
                assert!(
                    *rng.generator() == crates,
                    "λ = {lambda}, draw {n}: other numbers taken"
                );
            }
        }
    }

    /// Its mean and variance are λ (within four standard errors of each).
    #[test]
    fn has_mean_and_variance_lambda() {
        for lambda in [0.7, 20.0, 400.0] {
            let d = Poisson::new(lambda).unwrap();
            let mut rng = SimRng::stream(5, "poisson-moments");
            let n = 400_000.0;
            let draws: Vec<f64> = (0..n as usize).map(|_| d.sample(&mut rng)).collect();
            let mean = draws.iter().sum::<f64>() / n;
            let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
            // Var of the sample mean λ/n; of the sample variance ≈ (2λ² + λ)/n.
            assert!(
                (mean - lambda).abs() < 4.0 * (lambda / n).sqrt(),
                "λ {lambda}: mean {mean}"
            );
            let se_var = ((2.0 * lambda * lambda + lambda) / n).sqrt();
            assert!(
                (var - lambda).abs() < 4.0 * se_var,
                "λ {lambda}: variance {var}"
            );
        }
    }

    #[test]
    fn refuses_means_it_cannot_draw() {
        for lambda in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e19] {
            assert!(Poisson::new(lambda).is_none(), "{lambda}");
        }
    }
}
