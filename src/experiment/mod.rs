//! Experiments on a scenario: independent replications with a confidence interval on
//! every figure, so a capacity figure comes with its error bar.
//!
//! Replication `i` of a scenario with seed `s` runs with [`replication_seed`]`(s, i)`:
//! the replications are independent, and the results are the same whatever the number
//! of threads that runs them (rayon), since each depends only on its index.

pub mod compare;
pub mod plan;
pub mod shard;
pub mod sweep;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::{Record, Simulation};
use crate::metrics::Summary;
use crate::model::ValidScenario;
use crate::sim::rng::mix64;
use crate::stats::Estimate;

/// Confidence level of the intervals reported.
pub const CONFIDENCE: f64 = 0.95;
/// Replications added at a time by the precision mode.
const BATCH: usize = 5;

/// The seed of replication `index` of a scenario seeded `seed`.
pub fn replication_seed(seed: u64, index: u64) -> u64 {
    mix64(seed ^ mix64(index.wrapping_add(0x5EED)))
}

/// Events a replication runs between two looks at whether it was cancelled.
const SLICE_EVENTS: u64 = 1_000_000;

/// Shared between an experiment and whoever watches it (a progress bar, the window, a
/// Ctrl+C handler): the replications planned and done so far, and a request to stop.
/// Every function here takes one; `&Control::default()` when nobody watches.
#[derive(Debug, Default)]
pub struct Control {
    cancelled: AtomicBool,
    planned: AtomicU64,
    done: AtomicU64,
    events: AtomicU64,
}

/// Why an experiment stopped before it finished.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Stopped {
    /// Through its [`Control`].
    #[error("cancelled")]
    Cancelled,
    /// A replication's simulated time stopped advancing (see `engine::Stall`).
    #[error("replication {index} (seed {seed}): {reason}")]
    Stalled {
        index: usize,
        seed: u64,
        reason: String,
    },
}

/// Why an experiment gave no result: a setting it tried is invalid, or it stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A point, variant or candidate is not a valid scenario (the message says which and
    /// why).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

impl Control {
    /// Asks the experiment to stop: replications under way stop within a million events,
    /// and the experiment returns [`Stopped::Cancelled`].
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Replications finished and planned so far (a search plans more as it goes).
    pub fn progress(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.planned.load(Ordering::Relaxed),
        )
    }

    /// Simulated events of the replications finished so far.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// Adds `n` replications to those planned.
    pub fn plan(&self, n: usize) {
        self.planned.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn check(&self) -> Result<(), Stopped> {
        if self.is_cancelled() {
            Err(Stopped::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Runs replication `index` of `sc` to its end, looking at `ctl` every million events.
fn run_one(sc: &ValidScenario, index: usize, ctl: &Control) -> Result<Summary, Stopped> {
    run_with_seed(sc, index, replication_seed(sc.seed, index as u64), ctl)
}

/// Runs replication `index` of `sc` with `seed`.
fn run_with_seed(
    sc: &ValidScenario,
    index: usize,
    seed: u64,
    ctl: &Control,
) -> Result<Summary, Stopped> {
    use crate::engine::Advance;
    // A replication's figures are its summary's: no chart series.
    let mut sim = Simulation::recording(sc, seed, Record::Summary);
    let end = sim.end();
    loop {
        ctl.check()?;
        match sim.advance_until(end, SLICE_EVENTS) {
            Advance::Finished => break,
            Advance::Stalled => {
                return Err(Stopped::Stalled {
                    index,
                    seed,
                    reason: sim.stall().map(ToString::to_string).unwrap_or_default(),
                });
            }
            Advance::ReachedTarget | Advance::BudgetExhausted => {}
        }
    }
    ctl.done.fetch_add(1, Ordering::Relaxed);
    ctl.events.fetch_add(sim.events(), Ordering::Relaxed);
    Ok(sim.summary())
}

/// One run of `sc` with `seed` (already planned on `ctl`).
pub(crate) fn run_seeded(sc: &ValidScenario, seed: u64, ctl: &Control) -> Result<Summary, Stopped> {
    run_with_seed(sc, 0, seed, ctl)
}

/// Runs replications `from..to` of `sc` in parallel; the summaries come back in index
/// order. Plans them on `ctl` first.
fn run_range(
    sc: &ValidScenario,
    from: usize,
    to: usize,
    ctl: &Control,
) -> Result<Vec<Summary>, Stopped> {
    ctl.plan(to.saturating_sub(from));
    run_planned(sc, from, to, ctl)
}

/// [`run_range`] of replications already counted in `ctl`'s plan.
fn run_planned(
    sc: &ValidScenario,
    from: usize,
    to: usize,
    ctl: &Control,
) -> Result<Vec<Summary>, Stopped> {
    (from..to)
        .into_par_iter()
        .map(|i| run_one(sc, i, ctl))
        .collect()
}

/// `reps` replications (at least 2) of each of `scenarios`, all in one parallel pass:
/// the threads take them one at a time in order (every replication of the first
/// scenario, then the second's, …), so no thread waits at the end of one scenario for
/// another to finish its last replication. `done` gets each scenario's replications, in
/// scenario order, as soon as they and those of every scenario before it are finished.
/// Each replication depends only on its scenario and index: the results do not depend
/// on the number of threads. Plans them on `ctl` first; a replication that stalls stops
/// the pass (the first such, by order, is the error).
pub(crate) fn replicate_each(
    scenarios: &[&ValidScenario],
    reps: usize,
    ctl: &Control,
    done: impl FnMut(usize, Replicated) + Send,
) -> Result<(), Stopped> {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    struct Pass<F> {
        runs: Vec<Vec<Option<Summary>>>,
        left: Vec<usize>,
        handed: usize,
        done: F,
        error: Option<(usize, Stopped)>,
    }
    let reps = reps.max(2);
    let jobs = scenarios.len() * reps;
    ctl.plan(jobs);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let pass = Mutex::new(Pass {
        runs: vec![vec![None; reps]; scenarios.len()],
        left: vec![reps; scenarios.len()],
        handed: 0,
        done,
        error: None,
    });
    let work = || {
        while !failed.load(Ordering::Relaxed) {
            let job = next.fetch_add(1, Ordering::Relaxed);
            if job >= jobs {
                break;
            }
            let (k, rep) = (job / reps, job % reps);
            let result = run_one(scenarios[k], rep, ctl);
            // A worker that panicked poisons the lock; the panic reaches the caller.
            let Ok(mut pass) = pass.lock() else { break };
            let pass = &mut *pass;
            match result {
                Ok(summary) => {
                    pass.runs[k][rep] = Some(summary);
                    pass.left[k] -= 1;
                    while pass.handed < scenarios.len() && pass.left[pass.handed] == 0 {
                        let runs = std::mem::take(&mut pass.runs[pass.handed])
                            .into_iter()
                            .flatten()
                            .collect();
                        (pass.done)(pass.handed, Replicated::from_runs(runs));
                        pass.handed += 1;
                    }
                }
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    if pass.error.as_ref().is_none_or(|(first, _)| job < *first) {
                        pass.error = Some((job, e));
                    }
                }
            }
        }
    };
    rayon::scope(|s| {
        for _ in 1..rayon::current_num_threads().min(jobs) {
            s.spawn(|_| work());
        }
        work();
    });
    let pass = pass.into_inner().unwrap_or_else(|e| e.into_inner());
    match pass.error {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// `n` independent replications of `sc` (at least 2).
pub fn replicate(sc: &ValidScenario, n: usize, ctl: &Control) -> Result<Replicated, Stopped> {
    Ok(Replicated::from_runs(run_range(sc, 0, n.max(2), ctl)?))
}

/// [`replicate`], the replications being already counted in `ctl`'s plan.
pub(crate) fn replicate_planned(
    sc: &ValidScenario,
    n: usize,
    ctl: &Control,
) -> Result<Replicated, Stopped> {
    Ok(Replicated::from_runs(run_planned(sc, 0, n.max(2), ctl)?))
}

/// Replications until the intervals of the figures that matter (overall throughput,
/// mean, p95 and p99 latency, error rate when errors happen) are within `precision` of
/// their mean (e.g. 0.02 for ±2 %), or `max` replications have run; at least `min`.
/// Returns them, and whether the precision was reached.
pub fn replicate_to_precision(
    sc: &ValidScenario,
    precision: f64,
    min: usize,
    max: usize,
    ctl: &Control,
) -> Result<(Replicated, bool), Stopped> {
    let (min, max) = (min.max(2), max.max(min.max(2)));
    let mut runs = run_range(sc, 0, min, ctl)?;
    loop {
        let r = Replicated::from_runs(runs.clone());
        let reached = r.precision_reached(precision);
        if reached || runs.len() >= max {
            return Ok((r, reached));
        }
        let next = (runs.len() + BATCH).min(max);
        runs.extend(run_range(sc, runs.len(), next, ctl)?);
    }
}

/// The figures that decide whether a precision is reached.
pub const KEY_FIGURES: [&str; 5] = [
    "overall.throughput_per_sec",
    "overall.latency_ms.mean",
    "overall.latency_ms.p95",
    "overall.latency_ms.p99",
    "overall.error_rate",
];

/// Every figure of a set of replications, with its mean and interval.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Replicated {
    pub replications: usize,
    pub confidence: f64,
    /// Each numeric figure of the summary by its path (`overall.latency_ms.p99`,
    /// `endpoints.GET /product.error_rate`, `components.app.cpu_util`,
    /// `stations.app.cpu.mean_wait_ms`, `saturation.app cpu.utilization` …).
    pub figures: BTreeMap<String, Estimate>,
    /// The replications' own summaries, in index order.
    #[serde(skip)]
    pub runs: Vec<Summary>,
    /// Each figure's value in each replication, in index order.
    #[serde(skip)]
    samples: BTreeMap<String, Vec<f64>>,
}

impl Replicated {
    /// The figures of `runs` (at least 2) with their intervals.
    pub fn from_runs(runs: Vec<Summary>) -> Self {
        let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for run in &runs {
            let value = serde_json::to_value(run).unwrap_or(serde_json::Value::Null);
            flatten(&value, String::new(), &mut |path, x| {
                // Each replication's own seed is not a figure of the system.
                if path != "seed" {
                    samples.entry(path).or_default().push(x);
                }
            });
        }
        let n = runs.len();
        // A figure missing from some replications (a component that never had a
        // figure) has no interval over all of them.
        samples.retain(|_, v| v.len() == n && n >= 2);
        let figures = samples
            .iter()
            .map(|(path, v)| (path.clone(), Estimate::from_samples(v, CONFIDENCE)))
            .collect();
        Self {
            replications: n,
            confidence: CONFIDENCE,
            figures,
            runs,
            samples,
        }
    }

    /// Every figure's values, one per replication in index order.
    pub fn samples(&self) -> &BTreeMap<String, Vec<f64>> {
        &self.samples
    }

    /// A figure's values, one per replication in index order.
    pub fn samples_of(&self, path: &str) -> Option<&[f64]> {
        self.samples.get(path).map(Vec::as_slice)
    }

    /// A figure by path.
    pub fn get(&self, path: &str) -> Option<&Estimate> {
        self.figures.get(path)
    }

    /// Whether every key figure's half-width is within `precision` of its mean (a
    /// figure that is zero in every replication is exact).
    pub fn precision_reached(&self, precision: f64) -> bool {
        KEY_FIGURES.iter().all(|path| {
            self.get(path)
                .is_none_or(|e| e.half_width <= precision * e.mean.abs())
        })
    }
}

/// How an objective fares, given the noise of the replications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The whole interval is on the good side of the bound.
    Met,
    /// The whole interval is on the bad side.
    Breached,
    /// The interval straddles the bound.
    Undecided,
}

/// The verdict on one objective.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verdict {
    /// The objective in words.
    pub objective: String,
    /// The figure judged, by path, and the bound it must stay below (or above).
    pub figure: String,
    pub bound: f64,
    pub below: bool,
    /// The figure over the replications (`None` when it could not be measured).
    pub estimate: Option<Estimate>,
    pub decision: Decision,
    /// For an undecided objective: about how many more replications would decide it
    /// (the interval narrows as 1/√n); `None` when the figure sits on the bound.
    pub more_replications: Option<usize>,
    /// Why, when the figures cannot say (no request of the endpoint succeeded).
    pub note: Option<String>,
}

/// Judges `slo` on replications `r`.
pub fn judge(slo: &crate::model::Slo, r: &Replicated) -> Verdict {
    use crate::model::Objective;
    let figure = slo.figure();
    let (bound, below) = slo.bound();
    let mut verdict = Verdict {
        objective: slo.describe(),
        figure: figure.clone(),
        bound,
        below,
        estimate: r.get(&figure).copied(),
        decision: Decision::Undecided,
        more_replications: None,
        note: None,
    };
    // A latency over no successful request is not a good latency.
    if let Objective::Latency { .. } = slo.objective {
        let succeeded = |s: &Summary| match &slo.endpoint {
            Some(e) => s.endpoints.get(e).is_some_and(|o| o.ok > 0),
            None => s.overall.ok > 0,
        };
        if !r.runs.iter().all(succeeded) {
            verdict.decision = Decision::Breached;
            verdict.note = Some("no request succeeded in some replications".to_owned());
            return verdict;
        }
    }
    let Some(e) = verdict.estimate else {
        verdict.note = Some("the figure was not measured".to_owned());
        return verdict;
    };
    let (low, high) = (e.mean - e.half_width, e.mean + e.half_width);
    let (good, bad) = if below {
        (high < bound, low > bound)
    } else {
        (low > bound, high < bound)
    };
    verdict.decision = if good {
        Decision::Met
    } else if bad {
        Decision::Breached
    } else {
        let gap = (e.mean - bound).abs();
        if gap > 0.0 {
            let needed = (e.n as f64 * (e.half_width / gap).powi(2)).ceil() as usize;
            verdict.more_replications = Some(needed.saturating_sub(e.n).max(1));
        }
        Decision::Undecided
    };
    verdict
}

/// Runs replications of `sc` until every objective is decided or `max` have run (at
/// least `min`), adding about as many as the undecided ones need; returns the
/// replications and the verdicts.
pub fn check(
    sc: &ValidScenario,
    min: usize,
    max: usize,
    ctl: &Control,
) -> Result<(Replicated, Vec<Verdict>), Stopped> {
    let (min, max) = (min.max(2), max.max(min.max(2)));
    let mut runs = run_range(sc, 0, min, ctl)?;
    loop {
        let r = Replicated::from_runs(runs.clone());
        let verdicts: Vec<Verdict> = sc.slos.iter().map(|slo| judge(slo, &r)).collect();
        let wanted = verdicts
            .iter()
            .filter(|v| v.decision == Decision::Undecided)
            .filter_map(|v| v.more_replications)
            .max();
        match wanted {
            Some(more) if runs.len() < max => {
                let next = (runs.len() + more.max(BATCH)).min(max);
                runs.extend(run_range(sc, runs.len(), next, ctl)?);
            }
            _ => return Ok((r, verdicts)),
        }
    }
}

/// Calls `f` with the path and value of every number in `v`. Lists of records are keyed
/// by their `id`, `name` or `resource` (and `db.query` for queries), so a path names
/// the same figure in every replication.
fn flatten(v: &serde_json::Value, path: String, f: &mut dyn FnMut(String, f64)) {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                f(path, x);
            }
        }
        Value::Object(map) => {
            for (k, x) in map {
                // The record's own name is its key, not a figure.
                flatten(x, join(k), f);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let key = match item {
                    Value::Object(m) => ["id", "name", "resource"]
                        .iter()
                        .find_map(|k| m.get(*k).and_then(Value::as_str).map(str::to_owned))
                        .or_else(|| {
                            let db = m.get("db")?.as_str()?;
                            let query = m.get("query")?.as_str()?;
                            Some(format!("{db}.{query}"))
                        })
                        .unwrap_or_else(|| i.to_string()),
                    _ => i.to_string(),
                };
                // A keyed record's figures sit under its key; `figures` maps are
                // flattened in place (components.app.cpu_util).
                match item {
                    Value::Object(m) => {
                        for (k, x) in m {
                            let sub = if k == "figures" {
                                join(&key)
                            } else {
                                format!("{}.{k}", join(&key))
                            };
                            flatten(x, sub, f);
                        }
                    }
                    _ => flatten(item, join(&key), f),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_seeds_are_distinct_and_depend_only_on_seed_and_index() {
        let seeds: std::collections::BTreeSet<u64> =
            (0..10_000).map(|i| replication_seed(42, i)).collect();
        assert_eq!(seeds.len(), 10_000);
        assert_eq!(replication_seed(42, 7), replication_seed(42, 7));
        assert_ne!(replication_seed(42, 7), replication_seed(43, 7));
    }

    #[test]
    fn a_cancelled_experiment_stops_and_says_so() {
        let sc = crate::model::load_file("scenarios/mm1.ron".as_ref()).expect("loads");
        let ctl = Control::default();
        ctl.cancel();
        assert_eq!(replicate(&sc, 4, &ctl).err(), Some(Stopped::Cancelled));
        // Cancelled from another thread while it runs: it stops without finishing them.
        let mut s = sc.into_inner();
        s.run.duration_secs = 604_800.0;
        let sc = crate::model::validate(s).expect("valid");
        let ctl = Control::default();
        std::thread::scope(|scope| {
            let job = scope.spawn(|| replicate(&sc, 2, &ctl));
            while ctl.progress().1 == 0 {
                std::thread::yield_now();
            }
            // Well into the replications (a week at M/M/1's rate takes seconds).
            std::thread::sleep(std::time::Duration::from_millis(50));
            ctl.cancel();
            assert_eq!(
                job.join().expect("no panic").err(),
                Some(Stopped::Cancelled)
            );
        });
        assert_eq!(ctl.progress(), (0, 2), "neither long replication finished");
    }

    #[test]
    fn figures_are_named_by_paths_that_hold_across_replications() {
        let sc = crate::model::load_file("scenarios/three_tier.ron".as_ref()).expect("loads");
        let mut s = sc.into_inner();
        s.run.duration_secs = 30.0;
        s.run.warmup_secs = 5.0;
        let sc = crate::model::validate(s).expect("valid");
        let r = replicate(&sc, 3, &Control::default()).expect("not cancelled");
        for path in [
            "overall.latency_ms.p99",
            "endpoints.GET /product.throughput_per_sec",
            "components.app.cpu_util",
            "stations.app.cpu.mean_wait_ms",
            "saturation.app cpu.utilization",
            "queries.postgres.search_products.mean_ms",
            "cost.per_hour",
        ] {
            let e = r.get(path).unwrap_or_else(|| panic!("no figure {path}"));
            assert_eq!(e.n, 3, "{path}");
        }
        // The string-valued keys are keys, not figures.
        assert!(
            r.figures
                .keys()
                .all(|k| !k.ends_with(".id") && !k.ends_with(".kind"))
        );
    }
}
