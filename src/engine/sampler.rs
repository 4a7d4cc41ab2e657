//! Distributions compiled for fast sampling in the event loop.

use crate::model::Dist;
use crate::model::dist::{lognormal_from_mean_cv, lognormal_from_p99};
use crate::sim::math;
use crate::sim::{SimDuration, SimRng};

/// A [`Dist`] prepared for sampling: parameters pre-computed, values in nanoseconds.
#[derive(Clone, Debug)]
pub enum Sampler {
    Constant(SimDuration),
    Exp {
        mean_ns: f64,
    },
    Uniform {
        min_ns: f64,
        span_ns: f64,
    },
    /// e^(μ + σZ), Z standard normal, in nanoseconds.
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    Empirical(Vec<SimDuration>),
}

impl Sampler {
    /// Compiles a validated distribution.
    pub fn new(d: &Dist) -> Self {
        const NS: f64 = 1e6;
        match d {
            Dist::Constant { ms } => Self::Constant(SimDuration::from_millis_f64(*ms)),
            Dist::Exp { mean_ms } => Self::Exp {
                mean_ns: mean_ms * NS,
            },
            Dist::Uniform { min_ms, max_ms } => Self::Uniform {
                min_ns: min_ms * NS,
                span_ns: (max_ms - min_ms) * NS,
            },
            Dist::LogNormal { mean_ms, cv } => {
                let (mu, sigma) = lognormal_from_mean_cv(mean_ms * NS, *cv);
                Self::lognormal(mu, sigma)
            }
            Dist::LogNormalP99 { median_ms, p99_ms } => {
                let (mu, sigma) = lognormal_from_p99(median_ms * NS, p99_ms * NS);
                Self::lognormal(mu, sigma)
            }
            Dist::Empirical { values_ms } => Self::Empirical(
                values_ms
                    .iter()
                    .map(|v| SimDuration::from_millis_f64(*v))
                    .collect(),
            ),
        }
    }

    fn lognormal(mu: f64, sigma: f64) -> Self {
        if sigma.is_finite() {
            Self::LogNormal { mu, sigma }
        } else {
            // Validation guarantees sigma > 0 and finite; a degenerate lognormal is its
            // median.
            Self::Constant(SimDuration::from_millis_f64(math::exp(mu) / 1e6))
        }
    }

    /// Draws one duration.
    ///
    /// Constant and exponential durations, the commonest, are drawn where they are
    /// asked for; the others out of line, so that every place that samples stays small.
    #[inline(always)]
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match self {
            Self::Constant(d) => *d,
            Self::Exp { mean_ns } => SimDuration::from_sampled_nanos(rng.exp1() * mean_ns),
            _ => self.sample_other(rng),
        }
    }

    #[inline(never)]
    fn sample_other(&self, rng: &mut SimRng) -> SimDuration {
        match self {
            Self::Constant(_) | Self::Exp { .. } => unreachable!("drawn by Sampler::sample"),
            Self::Uniform { min_ns, span_ns } => {
                SimDuration::from_sampled_nanos(min_ns + rng.uniform() * span_ns)
            }
            Self::LogNormal { mu, sigma } => {
                SimDuration::from_sampled_nanos(math::exp(mu + sigma * rng.standard_normal()))
            }
            Self::Empirical(values) => values[rng.below(values.len() as u64) as usize],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_of(d: &Dist, n: usize) -> f64 {
        let s = Sampler::new(d);
        let mut rng = SimRng::stream(7, "sampler-test");
        (0..n)
            .map(|_| s.sample(&mut rng).as_millis_f64())
            .sum::<f64>()
            / n as f64
    }

    #[test]
    fn sample_means_match_declared_means() {
        let n = 200_000;
        for d in [
            Dist::Exp { mean_ms: 4.0 },
            Dist::Uniform {
                min_ms: 1.0,
                max_ms: 3.0,
            },
            Dist::LogNormal {
                mean_ms: 5.0,
                cv: 0.5,
            },
            Dist::LogNormalP99 {
                median_ms: 2.0,
                p99_ms: 10.0,
            },
            Dist::Empirical {
                values_ms: vec![1.0, 2.0, 6.0],
            },
        ] {
            // Standard error of the mean is sqrt(scv)·mean/sqrt(n); allow 5 of them.
            let tol = 5.0 * d.scv().sqrt() * d.mean_ms() / (n as f64).sqrt();
            let m = mean_of(&d, n);
            assert!(
                (m - d.mean_ms()).abs() < tol,
                "{d:?}: sample mean {m}, expected {} ± {tol}",
                d.mean_ms()
            );
        }
    }

    #[test]
    fn lognormal_p99_has_its_declared_percentiles() {
        let s = Sampler::new(&Dist::LogNormalP99 {
            median_ms: 2.0,
            p99_ms: 20.0,
        });
        let mut rng = SimRng::stream(3, "p99");
        let mut v: Vec<f64> = (0..100_000)
            .map(|_| s.sample(&mut rng).as_millis_f64())
            .collect();
        v.sort_by(f64::total_cmp);
        let median = v[50_000];
        let p99 = v[99_000];
        assert!((median - 2.0).abs() < 0.05, "median {median}");
        assert!((p99 - 20.0).abs() < 1.0, "p99 {p99}");
    }
}
