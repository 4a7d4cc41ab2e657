//! A/B comparison with common random numbers: replication *i* of both configurations
//! runs with the same seed, so their random streams (one per component id, see
//! `sim::rng`) draw the same arrivals and the same work wherever the two agree, and the
//! difference of a figure between them carries far less noise than that between two
//! independent runs. Each figure's paired differences give its interval.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use super::{CONFIDENCE, Control, Replicated, Stopped, replication_seed, run_with_seed};
use crate::model::ValidScenario;
use crate::stats::Estimate;

/// How the replications of B are seeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pairing {
    /// Replication *i* of B uses the seed of replication *i* of A.
    Common,
    /// B uses seeds of its own (replications *n*…2*n*−1 of A's sequence), as two
    /// separate experiments would: to see what the common numbers save.
    Independent,
}

/// A figure of A and B with the interval of their difference.
#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    pub a: Estimate,
    pub b: Estimate,
    /// B − A: paired differences under [`Pairing::Common`], the difference of the
    /// means with Welch's interval under [`Pairing::Independent`].
    pub b_minus_a: Estimate,
}

impl Difference {
    /// Whether the interval of the difference excludes zero.
    pub fn significant(&self) -> bool {
        let d = &self.b_minus_a;
        d.mean - d.half_width > 0.0 || d.mean + d.half_width < 0.0
    }
}

/// The result of a comparison: every figure both configurations have.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub replications: usize,
    pub confidence: f64,
    pub pairing: Pairing,
    pub figures: BTreeMap<String, Difference>,
}

impl Comparison {
    pub fn get(&self, path: &str) -> Option<&Difference> {
        self.figures.get(path)
    }
}

/// Runs `n` replications of `a` and of `b` (at least 2 each), B's seeded as `pairing`
/// says from A's scenario seed, and compares every figure they share.
pub fn compare(
    a: &ValidScenario,
    b: &ValidScenario,
    n: usize,
    pairing: Pairing,
    ctl: &Control,
) -> Result<Comparison, Stopped> {
    let n = n.max(2);
    ctl.plan(2 * n);
    let seed_b = |i: usize| match pairing {
        Pairing::Common => replication_seed(a.seed, i as u64),
        Pairing::Independent => replication_seed(a.seed, (n + i) as u64),
    };
    let runs: Vec<_> = (0..2 * n)
        .into_par_iter()
        .map(|k| {
            if k < n {
                run_with_seed(a, k, replication_seed(a.seed, k as u64), ctl)
            } else {
                run_with_seed(b, k - n, seed_b(k - n), ctl)
            }
        })
        .collect::<Result<_, _>>()?;
    let mut runs = runs;
    let runs_b = runs.split_off(n);
    let (ra, rb) = (Replicated::from_runs(runs), Replicated::from_runs(runs_b));
    Ok(paired(&ra, &rb, pairing))
}

/// Compares replications already run: `rb`'s replication *i* is paired with `ra`'s
/// (they ran on the same seeds) under [`Pairing::Common`].
pub fn paired(ra: &Replicated, rb: &Replicated, pairing: Pairing) -> Comparison {
    let n = ra.replications.min(rb.replications);
    let figures = ra
        .samples()
        .iter()
        .filter_map(|(path, xa)| {
            let xb = rb.samples_of(path)?;
            let b_minus_a = match pairing {
                Pairing::Common => {
                    let d: Vec<f64> = xa.iter().zip(xb).take(n).map(|(x, y)| y - x).collect();
                    Estimate::from_samples(&d, CONFIDENCE)
                }
                Pairing::Independent => welch(xa, xb),
            };
            Some((
                path.clone(),
                Difference {
                    a: *ra.get(path)?,
                    b: *rb.get(path)?,
                    b_minus_a,
                },
            ))
        })
        .collect();
    Comparison {
        replications: n,
        confidence: CONFIDENCE,
        pairing,
        figures,
    }
}

/// The difference of two independent samples' means, with Welch's interval
/// (Welch–Satterthwaite degrees of freedom).
fn welch(a: &[f64], b: &[f64]) -> Estimate {
    let stats = |x: &[f64]| {
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let v = x.iter().map(|y| (y - m).powi(2)).sum::<f64>() / (n - 1.0);
        (n, m, v / n)
    };
    let ((na, ma, sa), (nb, mb, sb)) = (stats(a), stats(b));
    let se2 = sa + sb;
    let df = if se2 > 0.0 {
        se2 * se2 / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0))
    } else {
        na + nb - 2.0
    };
    let t = crate::stats::student_t_quantile(0.5 + CONFIDENCE / 2.0, df.max(1.0));
    Estimate {
        mean: mb - ma,
        half_width: t * se2.sqrt(),
        n: a.len().min(b.len()),
        confidence: CONFIDENCE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_matches_a_hand_computation() {
        // a: mean 2, variance 1 (n 3); b: mean 5, variance 4 (n 3): se² = 1/3 + 4/3,
        // df = (5/3)² / ((1/3)²/2 + (4/3)²/2) = 25/9 ÷ 17/18 ≈ 2.94.
        let e = welch(&[1.0, 2.0, 3.0], &[3.0, 5.0, 7.0]);
        assert_eq!(e.mean, 3.0);
        let t = crate::stats::student_t_quantile(0.975, 50.0 / 17.0);
        assert!((e.half_width - t * (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }
}
