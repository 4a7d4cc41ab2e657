//! Sweeps: a scenario run at every point of a grid of one or two parameters (or of the
//! load of all its clients), each point replicated; and the capacity: the highest load
//! that still meets the objectives, found by refining the grid's bracket.

use serde::{Deserialize, Serialize};

use super::shard::Shard;
use super::{Control, Decision, Error, Replicated, Verdict, check, judge, replicate_each};
use crate::model::overrides::{self, Override};
use crate::model::{self, Scenario, ValidScenario};

/// What one axis of a sweep varies.
#[derive(Clone, Debug, PartialEq)]
pub enum Axis {
    /// A parameter by path (as `--set` names it), over the given values.
    Param { path: String, values: Vec<String> },
    /// The load of every client, by these factors (1: as written).
    Load { factors: Vec<f64> },
}

impl Axis {
    /// The axis's name in reports: the parameter's path, or `load`.
    pub fn name(&self) -> &str {
        match self {
            Self::Param { path, .. } => path,
            Self::Load { .. } => "load",
        }
    }

    /// How many values the axis takes.
    pub fn count(&self) -> usize {
        match self {
            Self::Param { values, .. } => values.len(),
            Self::Load { factors } => factors.len(),
        }
    }

    fn value(&self, i: usize) -> String {
        match self {
            Self::Param { values, .. } => values[i].clone(),
            Self::Load { factors } => factors[i].to_string(),
        }
    }
}

impl std::fmt::Display for Axis {
    /// As `--vary` takes it: `PATH=V1,V2,…` (the values listed; it parses back to the
    /// same axis).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Param { path, values } => write!(f, "{path}={}", values.join(",")),
            Self::Load { factors } => {
                let shown: Vec<String> = factors.iter().map(ToString::to_string).collect();
                write!(f, "load={}", shown.join(","))
            }
        }
    }
}

impl std::str::FromStr for Axis {
    type Err = String;

    /// `PATH=V1,V2,…`, or `PATH=FROM..TO:STEPS` (STEPS values, both ends included);
    /// PATH `load` scales every client's load.
    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "`{s}` is not PATH=V1,V2,… or PATH=FROM..TO:STEPS (e.g. `app.instances=2,4,8`, \
                 `load=0.5..2:7`)"
            )
        };
        let (path, spec) = s.split_once('=').ok_or_else(usage)?;
        let (path, spec) = (path.trim(), spec.trim());
        if path.is_empty() || spec.is_empty() {
            return Err(usage());
        }
        let values: Vec<String> = if let Some((range, steps)) = spec.split_once(':') {
            let (from, to) = range.split_once("..").ok_or_else(usage)?;
            let (from, to): (f64, f64) = (
                from.trim().parse().map_err(|_| usage())?,
                to.trim().parse().map_err(|_| usage())?,
            );
            let steps: usize = steps.trim().parse().map_err(|_| usage())?;
            if !(2..=1000).contains(&steps) || !from.is_finite() || !to.is_finite() {
                return Err(format!(
                    "{}: from 2 to 1000 steps between finite ends",
                    usage()
                ));
            }
            (0..steps)
                .map(|k| {
                    let x = from + (to - from) * k as f64 / (steps - 1) as f64;
                    // 0.2 + 13 × 0.2 is 2.8000000000000003: keep nine decimals.
                    let x = (x * 1e9).round() / 1e9;
                    // Whole numbers stay whole (instances, cores).
                    if from.fract() == 0.0 && to.fract() == 0.0 && x.fract() == 0.0 {
                        format!("{x:.0}")
                    } else {
                        format!("{x}")
                    }
                })
                .collect()
        } else if spec.contains("..") {
            return Err(format!("{}: a range needs its number of steps", usage()));
        } else {
            spec.split(',').map(|v| v.trim().to_owned()).collect()
        };
        if values.iter().any(String::is_empty) || values.len() > 1000 {
            return Err(usage());
        }
        if path == "load" {
            let factors = values
                .iter()
                .map(|v| match v.parse::<f64>() {
                    Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
                    _ => Err(format!("load factor `{v}` is not a number above 0")),
                })
                .collect::<Result<_, _>>()?;
            Ok(Self::Load { factors })
        } else {
            Ok(Self::Param {
                path: path.to_owned(),
                values,
            })
        }
    }
}

/// One point of a sweep: its setting on each axis, its replications and verdicts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Point {
    /// `(axis name, value)` for each axis.
    pub at: Vec<(String, String)>,
    pub replicated: Replicated,
    pub verdicts: Vec<Verdict>,
}

impl Point {
    /// Whether every objective is met here (`None` without objectives).
    pub fn meets(&self) -> Option<bool> {
        (!self.verdicts.is_empty())
            .then(|| self.verdicts.iter().all(|v| v.decision == Decision::Met))
    }
}

/// `base` with the axes set to the values of point `index` of each, validated.
pub(super) fn at_point(
    base: &Scenario,
    axes: &[Axis],
    index: &[usize],
) -> Result<ValidScenario, String> {
    let mut s = base.clone();
    for (axis, &i) in axes.iter().zip(index) {
        match axis {
            Axis::Param { path, values } => overrides::apply(
                &mut s,
                &[Override {
                    path: path.clone(),
                    value: values[i].clone(),
                }],
            )?,
            Axis::Load { factors } => overrides::scale_load(&mut s, factors[i]),
        }
    }
    model::validate(s).map_err(|e| {
        let at: Vec<String> = axes
            .iter()
            .zip(index)
            .map(|(a, &i)| format!("{}={}", a.name(), a.value(i)))
            .collect();
        format!("at {}: {e}", at.join(", "))
    })
}

/// Runs `base` at every point of the grid of `axes` (one or two), `replications` each,
/// judging its objectives there. Points come in row order (the last axis fastest).
pub fn sweep(
    base: &Scenario,
    axes: &[Axis],
    replications: usize,
    ctl: &Control,
) -> Result<Vec<Point>, Error> {
    sweep_with(base, axes, replications, ctl, |_| {})
}

/// [`sweep`], calling `on_point` with each point as soon as it is done.
pub fn sweep_with(
    base: &Scenario,
    axes: &[Axis],
    replications: usize,
    ctl: &Control,
    mut on_point: impl FnMut(&Point) + Send,
) -> Result<Vec<Point>, Error> {
    sweep_part(base, axes, replications, None, ctl, |_, p| on_point(p))
}

/// [`sweep`] of the points of `shard` only (all without one), calling `on_point` with
/// each point as soon as it is done, and its position in the grid.
pub fn sweep_part(
    base: &Scenario,
    axes: &[Axis],
    replications: usize,
    shard: Option<Shard>,
    ctl: &Control,
    mut on_point: impl FnMut(usize, &Point) + Send,
) -> Result<Vec<Point>, Error> {
    if axes.is_empty() || axes.len() > 2 {
        return Err(Error::Invalid(
            "a sweep varies one or two parameters".to_owned(),
        ));
    }
    let mut indices: Vec<Vec<usize>> = vec![vec![]];
    for axis in axes {
        indices = indices
            .into_iter()
            .flat_map(|prefix| {
                (0..axis.count()).map(move |i| {
                    let mut p = prefix.clone();
                    p.push(i);
                    p
                })
            })
            .collect();
    }
    // Every point checked before any runs: a mistake shows at once.
    let scenarios: Vec<ValidScenario> = indices
        .iter()
        .map(|index| at_point(base, axes, index))
        .collect::<Result<_, _>>()
        .map_err(Error::Invalid)?;
    let mine: Vec<usize> = (0..scenarios.len())
        .filter(|&p| shard.is_none_or(|s| s.takes(p)))
        .collect();
    let runs: Vec<&ValidScenario> = mine.iter().map(|&p| &scenarios[p]).collect();
    let mut points = Vec::with_capacity(mine.len());
    // Every replication of every point in one pass: no core idles at the end of a point.
    replicate_each(&runs, replications, ctl, |k, replicated| {
        let position = mine[k];
        let sc = &scenarios[position];
        let verdicts = sc.slos.iter().map(|slo| judge(slo, &replicated)).collect();
        let point = Point {
            at: axes
                .iter()
                .zip(&indices[position])
                .map(|(a, &i)| (a.name().to_owned(), a.value(i)))
                .collect(),
            replicated,
            verdicts,
        };
        on_point(position, &point);
        points.push(point);
    })?;
    Ok(points)
}

/// The capacity: between the highest load factor known to meet every objective and
/// the lowest known not to (breached, or undecided at the most replications).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Capacity {
    /// Load factors (1: the scenario as written).
    pub met: f64,
    pub not_met: f64,
    /// The same as requests per second offered by the clients as written (their mean
    /// rate over the run times the factor); `None` for closed-loop clients.
    pub met_per_sec: Option<f64>,
    pub not_met_per_sec: Option<f64>,
    /// The probes of the refinement, in order: load factor and whether it met.
    pub probes: Vec<(f64, bool)>,
}

/// Refines a load bracket `[met, not_met]` by bisection until it is within `tolerance`
/// (relative) of its lower end: each probe runs replications until its objectives are
/// decided (at least `replications`, at most 5×). A probe still undecided ends the
/// refinement: the capacity lies in the zone the noise cannot split, inside the
/// bracket so far.
pub fn capacity(
    base: &Scenario,
    met: f64,
    not_met: f64,
    replications: usize,
    tolerance: f64,
    ctl: &Control,
) -> Result<Capacity, Error> {
    let (mut lo, mut hi) = (met, not_met);
    let mut probes = Vec::new();
    while (hi - lo) > tolerance * lo && probes.len() < 30 {
        let mid = 0.5 * (lo + hi);
        let sc =
            at_point(base, &[Axis::Load { factors: vec![mid] }], &[0]).map_err(Error::Invalid)?;
        let (_, verdicts) = check(&sc, replications, 5 * replications, ctl)?;
        let met = verdicts.iter().all(|v| v.decision == Decision::Met);
        let breached = verdicts.iter().any(|v| v.decision == Decision::Breached);
        probes.push((mid, met));
        if met {
            lo = mid;
        } else if breached {
            hi = mid;
        } else {
            break;
        }
    }
    let rate = offered_rate(base);
    Ok(Capacity {
        met: lo,
        not_met: hi,
        met_per_sec: rate.map(|r| r * lo),
        not_met_per_sec: rate.map(|r| r * hi),
        probes,
    })
}

/// The requests per second the clients of `s` send on average over the run (`None` if
/// one is closed-loop, whose rate depends on the system).
fn offered_rate(s: &Scenario) -> Option<f64> {
    let mut total = 0.0;
    for c in &s.components {
        if let crate::model::ComponentSpec::Client(c) = c {
            if matches!(c.arrivals, crate::model::Arrivals::Closed { .. }) {
                return None;
            }
            total += c.arrivals.mean_rate_over(s.run.duration_secs);
        }
    }
    Some(total)
}

/// The grid bracket of the capacity on a load sweep: the highest factor meeting every
/// objective below the first that breaches one, and that one's factor (points between
/// them are undecided: the noise zone the capacity lies in). `None` without
/// objectives, or when no point breaches (no upper end) or none below it meets them.
pub fn bracket(points: &[Point], axis: &Axis) -> Option<(f64, f64)> {
    let Axis::Load { factors } = axis else {
        return None;
    };
    let breached = |p: &Point| p.verdicts.iter().any(|v| v.decision == Decision::Breached);
    let first_breach = points.iter().position(breached)?;
    let last_met = points[..first_breach]
        .iter()
        .rposition(|p| p.meets() == Some(true))?;
    Some((factors[last_met], factors[first_breach]))
}

/// The knee of a latency curve: where it turns from flat to steep, found as the point
/// farthest below the straight line from its first to its last point (Kneedle on the
/// curve normalised to the unit square). `None` with fewer than three points or a flat
/// curve.
pub fn knee(xs: &[f64], ys: &[f64]) -> Option<usize> {
    if xs.len() < 3 || xs.len() != ys.len() {
        return None;
    }
    let (x0, x1) = (xs[0], xs[xs.len() - 1]);
    let (y0, y1) = (
        ys.iter().copied().fold(f64::INFINITY, f64::min),
        ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    (0..xs.len())
        .map(|i| ((xs[i] - x0) / (x1 - x0) - (ys[i] - y0) / (y1 - y0), i))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(d, _)| *d > 0.0)
        .map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_lists_and_ranges() {
        let a: Axis = "app.instances=2,4,8".parse().expect("a list");
        assert_eq!(
            a,
            Axis::Param {
                path: "app.instances".into(),
                values: vec!["2".into(), "4".into(), "8".into()]
            }
        );
        let r: Axis = "app.instances=1..9:5".parse().expect("a range");
        assert!(matches!(&r, Axis::Param { values, .. } if *values == ["1", "3", "5", "7", "9"]));
        for axis in [&a, &r, &l_axis()] {
            assert_eq!(axis.to_string().parse::<Axis>().as_ref(), Ok(axis));
        }
        let r: Axis = "load=0.2..4:20".parse().expect("a range");
        assert!(
            matches!(&r, Axis::Load { factors } if factors[13] == 2.8),
            "{r:?}"
        );
        let l: Axis = "load=0.5..2:4".parse().expect("load");
        assert_eq!(
            l,
            Axis::Load {
                factors: vec![0.5, 1.0, 1.5, 2.0]
            }
        );
        for bad in [
            "app.instances",
            "=1,2",
            "x=1..2",
            "x=1..2:1",
            "load=0,1",
            "load=-1,2",
        ] {
            assert!(bad.parse::<Axis>().is_err(), "{bad}");
        }
    }

    fn l_axis() -> Axis {
        "load=0.1..0.7:7".parse().expect("a range")
    }

    #[test]
    fn the_knee_is_where_a_hockey_stick_turns() {
        let xs: Vec<f64> = (0..10).map(f64::from).collect();
        // Flat to 6, steep from 8: it turns at 7.
        let ys = [1.0, 1.0, 1.1, 1.1, 1.2, 1.3, 1.5, 3.0, 8.0, 20.0];
        assert_eq!(knee(&xs, &ys), Some(7));
        assert_eq!(knee(&xs, &[1.0; 10]), None);
    }
}
