//! Duration distributions. Every duration in a scenario is one of these, never a bare
//! number, because variability is what makes queues form.

use crate::sim::math;
use serde::{Deserialize, Serialize};

/// A distribution of durations in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Dist {
    /// Always `ms`.
    Constant { ms: f64 },
    /// Exponential with mean `mean_ms` (memoryless; coefficient of variation 1).
    Exp { mean_ms: f64 },
    /// Uniform between `min_ms` and `max_ms`.
    Uniform { min_ms: f64, max_ms: f64 },
    /// Lognormal with mean `mean_ms` and coefficient of variation `cv` (std / mean).
    LogNormal { mean_ms: f64, cv: f64 },
    /// Lognormal given by its median and 99th percentile: the way latencies are usually
    /// reported.
    LogNormalP99 { median_ms: f64, p99_ms: f64 },
    /// Resampled from measured values (each equally likely).
    Empirical { values_ms: Vec<f64> },
}

/// z-score of the 99th percentile of a standard normal.
pub const Z_P99: f64 = 2.326_347_874_040_840_8;

impl Dist {
    /// The mean in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        match self {
            Self::Constant { ms } => *ms,
            Self::Exp { mean_ms } | Self::LogNormal { mean_ms, .. } => *mean_ms,
            Self::Uniform { min_ms, max_ms } => 0.5 * (min_ms + max_ms),
            Self::LogNormalP99 { median_ms, p99_ms } => {
                let (mu, sigma) = lognormal_from_p99(*median_ms, *p99_ms);
                math::exp(mu + 0.5 * sigma * sigma)
            }
            Self::Empirical { values_ms } => {
                values_ms.iter().sum::<f64>() / values_ms.len().max(1) as f64
            }
        }
    }

    /// Whether every draw is zero (a constant 0 ms).
    pub fn is_zero(&self) -> bool {
        matches!(self, Self::Constant { ms } if *ms == 0.0)
    }

    /// The squared coefficient of variation (variance / mean²), as used by queueing
    /// approximations.
    pub fn scv(&self) -> f64 {
        let mean = self.mean_ms();
        if mean <= 0.0 {
            return 0.0;
        }
        let var = match self {
            Self::Constant { .. } => 0.0,
            Self::Exp { mean_ms } => mean_ms * mean_ms,
            Self::Uniform { min_ms, max_ms } => (max_ms - min_ms).powi(2) / 12.0,
            Self::LogNormal { mean_ms, cv } => (mean_ms * cv).powi(2),
            Self::LogNormalP99 { median_ms, p99_ms } => {
                let (_, sigma) = lognormal_from_p99(*median_ms, *p99_ms);
                (math::exp(sigma * sigma) - 1.0) * mean * mean
            }
            Self::Empirical { values_ms } => {
                values_ms.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
                    / values_ms.len().max(1) as f64
            }
        };
        var / (mean * mean)
    }

    /// Short human form for reports and tooltips, e.g. `exp(mean 2ms)`.
    pub fn describe(&self) -> String {
        match self {
            Self::Constant { ms } => format!("{ms}ms"),
            Self::Exp { mean_ms } => format!("exp(mean {mean_ms}ms)"),
            Self::Uniform { min_ms, max_ms } => format!("uniform({min_ms}..{max_ms}ms)"),
            Self::LogNormal { mean_ms, cv } => format!("lognormal(mean {mean_ms}ms, cv {cv})"),
            Self::LogNormalP99 { median_ms, p99_ms } => {
                format!("lognormal(p50 {median_ms}ms, p99 {p99_ms}ms)")
            }
            Self::Empirical { values_ms } => format!("empirical({} values)", values_ms.len()),
        }
    }
}

/// `(mu, sigma)` of the underlying normal of a lognormal with mean `mean` and cv `cv`.
pub fn lognormal_from_mean_cv(mean: f64, cv: f64) -> (f64, f64) {
    let sigma2 = math::ln(1.0 + cv * cv);
    (math::ln(mean) - 0.5 * sigma2, sigma2.sqrt())
}

/// `(mu, sigma)` of the underlying normal of a lognormal with the given median and p99.
pub fn lognormal_from_p99(median: f64, p99: f64) -> (f64, f64) {
    let mu = math::ln(median);
    (mu, (math::ln(p99) - mu) / Z_P99)
}
