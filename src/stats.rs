//! Confidence intervals over independent replications, so that every capacity figure can
//! come with an error bar and every statistical test derives its tolerance instead of
//! guessing it.

use crate::sim::math;
use serde::{Deserialize, Serialize};

/// A mean with the half-width of its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub mean: f64,
    /// The interval is `mean ± half_width`.
    pub half_width: f64,
    /// Number of replications.
    pub n: usize,
    /// Confidence level, e.g. 0.95.
    pub confidence: f64,
}

impl Estimate {
    /// Student-t confidence interval of the mean of independent, identically distributed
    /// samples (one per replication). Needs at least two samples.
    pub fn from_samples(samples: &[f64], confidence: f64) -> Self {
        let n = samples.len();
        assert!(
            n >= 2,
            "a confidence interval needs at least two replications"
        );
        let mean = samples.iter().sum::<f64>() / n as f64;
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let t = student_t_quantile(0.5 + confidence / 2.0, (n - 1) as f64);
        Self {
            mean,
            half_width: t * (var / n as f64).sqrt(),
            n,
            confidence,
        }
    }

    /// Whether `value` lies inside the interval.
    pub fn contains(&self, value: f64) -> bool {
        (self.mean - value).abs() <= self.half_width
    }

    /// Half-width relative to the mean: the precision reached.
    pub fn relative_half_width(&self) -> f64 {
        self.half_width / self.mean.abs()
    }
}

/// Quantile `p` of the standard normal distribution (Acklam's rational approximation,
/// relative error below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0, "quantile of p = {p}");
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.024_25;
    if p < P_LOW {
        let q = (-2.0 * math::ln(p)).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

/// Quantile `p` of Student's t distribution with `df` degrees of freedom: exact for one
/// and two degrees of freedom, the Cornish–Fisher expansion (Abramowitz & Stegun 26.7.5)
/// otherwise, which is accurate to about 1e-3 from five degrees of freedom up.
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    assert!(df >= 1.0, "degrees of freedom {df}");
    if df == 1.0 {
        return math::tan(std::f64::consts::PI * (p - 0.5));
    }
    if df == 2.0 {
        return (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt();
    }
    let z = normal_quantile(p);
    let z2 = z * z;
    let g1 = (z2 + 1.0) * z / 4.0;
    let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
    let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
    let g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;
    z + g1 / df + g2 / df.powi(2) + g3 / df.powi(3) + g4 / df.powi(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_published_tables() {
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-6);
        assert!((normal_quantile(0.005) + 2.575_829).abs() < 1e-6);
        // Student t table values.
        for (p, df, t) in [
            (0.975, 1.0, 12.706),
            (0.975, 2.0, 4.303),
            (0.975, 5.0, 2.571),
            (0.975, 9.0, 2.262),
            (0.995, 19.0, 2.861),
            (0.9995, 29.0, 3.659),
            (0.975, 100.0, 1.984),
        ] {
            let got = student_t_quantile(p, df);
            assert!((got - t).abs() < 2e-3, "t({p}, {df}) = {got}, table {t}");
        }
    }

    #[test]
    fn interval_covers_the_mean_and_shrinks_with_n() {
        let few = Estimate::from_samples(&[9.0, 11.0, 10.0, 10.5, 9.5], 0.95);
        assert!(few.contains(10.0));
        let many: Vec<f64> = (0..100)
            .map(|i| 10.0 + if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let many = Estimate::from_samples(&many, 0.95);
        assert!(many.half_width < few.half_width);
        assert!((many.mean - 10.0).abs() < 1e-12);
    }
}
