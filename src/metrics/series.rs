//! Time series on a fixed simulated-time grid with bounded memory.
//!
//! Every column shares one time axis. When the columns reach [`SeriesSet::CAPACITY`]
//! points, adjacent pairs are merged (averaged) and each later point covers twice as many
//! samples, so a run of any length keeps at most `CAPACITY` points per column while still
//! spanning the whole run.

use serde::Serialize;

/// A set of aligned time series.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SeriesSet {
    /// Column names as `(scope, metric)`: the scope is a component or endpoint name, or
    /// empty for system-wide series; e.g. `("app", "cpu_util")`, `("", "p99_ms")`.
    pub names: Vec<(String, String)>,
    /// Sample times in simulated seconds (end of each interval).
    pub times: Vec<f64>,
    /// One vector of values per name, aligned with `times`.
    pub columns: Vec<Vec<f64>>,
    /// The most recent raw sample, one value per column (empty before the first).
    pub latest: Vec<f64>,
    /// Raw samples merged into each stored point.
    stride: usize,
    /// Raw samples accumulated towards the next stored point.
    pending: Vec<f64>,
    pending_count: usize,
}

impl SeriesSet {
    /// Points kept per column before merging.
    pub const CAPACITY: usize = 2048;

    pub fn new(names: Vec<(String, String)>) -> Self {
        let n = names.len();
        Self {
            names,
            times: Vec::new(),
            columns: vec![Vec::new(); n],
            latest: Vec::new(),
            stride: 1,
            pending: vec![0.0; n],
            pending_count: 0,
        }
    }

    /// A column by scope and metric name.
    pub fn column(&self, scope: &str, metric: &str) -> Option<&[f64]> {
        let i = self
            .names
            .iter()
            .position(|(s, m)| s == scope && m == metric)?;
        Some(&self.columns[i])
    }

    /// Appends one raw sample (one value per column) taken at `time_secs`.
    pub fn push(&mut self, time_secs: f64, values: &[f64]) {
        debug_assert_eq!(values.len(), self.columns.len());
        self.latest.clear();
        self.latest.extend_from_slice(values);
        for (p, v) in self.pending.iter_mut().zip(values) {
            *p += v;
        }
        self.pending_count += 1;
        if self.pending_count < self.stride {
            return;
        }
        let k = self.pending_count as f64;
        for (col, p) in self.columns.iter_mut().zip(self.pending.iter_mut()) {
            col.push(*p / k);
            *p = 0.0;
        }
        self.times.push(time_secs);
        self.pending_count = 0;
        if self.times.len() >= Self::CAPACITY {
            self.halve();
        }
    }

    fn halve(&mut self) {
        fn merge(v: &mut Vec<f64>, keep_last: bool) {
            let merged: Vec<f64> = v
                .chunks(2)
                .map(|c| {
                    if keep_last {
                        c[c.len() - 1]
                    } else {
                        c.iter().sum::<f64>() / c.len() as f64
                    }
                })
                .collect();
            *v = merged;
        }
        merge(&mut self.times, true);
        for col in &mut self.columns {
            merge(col, false);
        }
        self.stride *= 2;
    }

    /// The most recent raw sample of a column.
    pub fn latest(&self, scope: &str, metric: &str) -> Option<f64> {
        let i = self
            .names
            .iter()
            .position(|(s, m)| s == scope && m == metric)?;
        self.latest.get(i).copied()
    }

    /// The mean of a column over its points in the last `window_secs` of the run (at least
    /// the last point), finite values only: rates, utilisations and queue lengths are
    /// averages over equal intervals, so this is their value over the window. `None`
    /// before the first point or when no value in the window is finite.
    pub fn recent_mean(&self, scope: &str, metric: &str, window_secs: f64) -> Option<f64> {
        self.recent_weighted_mean(scope, metric, None, window_secs)
    }

    /// As [`Self::recent_mean`], each point weighted by the same point of the column
    /// `weight` (scope, metric) — e.g. each second's p99 by the responses of that second.
    pub fn recent_weighted_mean(
        &self,
        scope: &str,
        metric: &str,
        weight: Option<(&str, &str)>,
        window_secs: f64,
    ) -> Option<f64> {
        let values = self.column(scope, metric)?;
        let end = *self.times.last()?;
        let first = self
            .times
            .partition_point(|t| *t <= end - window_secs)
            .min(self.times.len() - 1);
        let weights = match weight {
            Some((s, m)) => Some(self.column(s, m)?),
            None => None,
        };
        let (mut sum, mut total) = (0.0, 0.0);
        for i in first..values.len() {
            let w = weights.map_or(1.0, |w| w[i]);
            if values[i].is_finite() && w.is_finite() && w > 0.0 {
                sum += w * values[i];
                total += w;
            }
        }
        (total > 0.0).then(|| sum / total)
    }

    /// The scopes (components, endpoints) that have series, in order, without repeats.
    pub fn scopes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (s, _) in &self.names {
            if !s.is_empty() && !out.contains(&s.as_str()) {
                out.push(s);
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stays_bounded_and_spans_the_run() {
        let mut s = SeriesSet::new(vec![(String::new(), "x".into())]);
        let n = 100_000;
        for i in 0..n {
            s.push(i as f64 + 1.0, &[1.0]);
        }
        assert!(s.len() <= SeriesSet::CAPACITY);
        assert!(s.len() >= SeriesSet::CAPACITY / 4);
        assert!(*s.times.last().unwrap() > 0.95 * n as f64);
        assert!(
            s.column("", "x")
                .unwrap()
                .iter()
                .all(|v| (*v - 1.0).abs() < 1e-12)
        );
    }
}
