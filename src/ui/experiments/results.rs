//! What an experiment has found so far, and what it means in words: the points as they
//! arrive, the capacity bracket, the knee of the p99 curve. No egui.

use std::time::{Duration, Instant};

use crate::experiment::Decision;
use crate::experiment::sweep::{self, Axis, Capacity, Point};
use crate::model::{Arrivals, ComponentSpec, Scenario};

use super::job::Plan;

/// Where the experiment is.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    /// Running the grid's points.
    Sweeping,
    /// Refining the capacity between these load factors.
    Searching {
        met: f64,
        not_met: f64,
    },
    Finished,
    Cancelled,
    /// Stopped with this reason.
    Failed(String),
}

/// An experiment's results, growing while it runs.
#[derive(Clone, Debug)]
pub struct Results {
    pub plan: Plan,
    pub points: Vec<Point>,
    /// The capacity, once refined.
    pub capacity: Option<Capacity>,
    pub stage: Stage,
    /// The first axis's values as text, and whether they are all numbers (then they
    /// are the x positions; otherwise points sit at their value's position).
    x_values: Vec<String>,
    x_numeric: bool,
    started: Instant,
    /// Wall time it took, once it ended.
    ended_after: Option<Duration>,
}

/// How a point fares against the objectives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fares {
    Met,
    Breached,
    Undecided,
    /// The scenario has no objectives.
    Unjudged,
}

impl Fares {
    pub fn of(p: &Point) -> Self {
        if p.verdicts.is_empty() {
            Self::Unjudged
        } else if p.meets() == Some(true) {
            Self::Met
        } else if p.verdicts.iter().any(|v| v.decision == Decision::Breached) {
            Self::Breached
        } else {
            Self::Undecided
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Breached => "breached",
            Self::Undecided => "undecided",
            Self::Unjudged => "no objectives",
        }
    }
}

/// Where the p99 curve turns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Turn {
    /// A rising curve turns steep at this point (the knee).
    Steepens(usize),
    /// A falling curve flattens at this point: more of the parameter helps little.
    Flattens(usize),
}

impl Turn {
    pub fn index(self) -> usize {
        match self {
            Self::Steepens(i) | Self::Flattens(i) => i,
        }
    }
}

/// The knee of a curve (`sweep::knee`); a falling curve is mirrored, so its turn is
/// where more stops helping.
pub fn turn(xs: &[f64], ys: &[f64]) -> Option<Turn> {
    let n = ys.len();
    if n < 3 || xs.len() != n {
        return None;
    }
    if ys[n - 1] >= ys[0] {
        sweep::knee(xs, ys).map(Turn::Steepens)
    } else {
        let xr: Vec<f64> = xs.iter().rev().map(|x| -x).collect();
        let yr: Vec<f64> = ys.iter().rev().copied().collect();
        sweep::knee(&xr, &yr).map(|j| Turn::Flattens(n - 1 - j))
    }
}

/// Requests per second the clients of `s` send on average over its run; `None` when
/// one is closed-loop (its rate depends on the system).
pub fn offered_per_sec(s: &Scenario) -> Option<f64> {
    let mut total = 0.0;
    for c in &s.components {
        if let ComponentSpec::Client(c) = c {
            if matches!(c.arrivals, Arrivals::Closed { .. }) {
                return None;
            }
            total += c.arrivals.mean_rate_over(s.run.duration_secs);
        }
    }
    Some(total)
}

/// A number for people: up to `decimals` decimals, no trailing zeros (2.5, 3, 0.125).
pub fn short(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// A load factor with its rate: `2.69× (2150 req/s)`, or `2.69× the load (2150 req/s)`.
fn load_words(factor: f64, rate: Option<f64>, the_load: bool) -> String {
    let the = if the_load { " the load" } else { "" };
    match rate {
        Some(r) => format!("{}×{the} ({:.0} req/s)", short(factor, 2), r * factor),
        None => format!("{}×{the}", short(factor, 2)),
    }
}

impl Results {
    pub fn new(plan: Plan) -> Self {
        let x_values: Vec<String> = match plan.axes.first() {
            Some(Axis::Load { factors }) => factors.iter().map(|f| f.to_string()).collect(),
            Some(Axis::Param { values, .. }) => values.clone(),
            None => Vec::new(),
        };
        let x_numeric = x_values
            .iter()
            .all(|v| v.parse::<f64>().is_ok_and(f64::is_finite));
        Self {
            plan,
            x_values,
            x_numeric,
            points: Vec::new(),
            capacity: None,
            stage: Stage::Sweeping,
            started: Instant::now(),
            ended_after: None,
        }
    }

    /// Wall time since it started (frozen when it ended).
    pub fn elapsed(&self) -> Duration {
        self.ended_after.unwrap_or_else(|| self.started.elapsed())
    }

    /// Records that it ended.
    pub fn end(&mut self, stage: Stage) {
        self.stage = stage;
        self.ended_after = Some(self.started.elapsed());
    }

    pub fn is_running(&self) -> bool {
        matches!(self.stage, Stage::Sweeping | Stage::Searching { .. })
    }

    /// The points the grid has.
    pub fn planned_points(&self) -> usize {
        self.plan.axes.iter().map(super::setup::axis_len).product()
    }

    pub fn axis_names(&self) -> Vec<String> {
        self.plan.axes.iter().map(|a| a.name().to_owned()).collect()
    }

    /// Whether the first axis is the load.
    pub fn by_load(&self) -> bool {
        matches!(self.plan.axes.first(), Some(Axis::Load { .. }))
    }

    /// The first axis's values as text, in order.
    pub fn first_axis_values(&self) -> &[String] {
        &self.x_values
    }

    /// Whether the first axis's values are numbers (else they are placed by position).
    pub fn numeric_x(&self) -> bool {
        self.x_numeric
    }

    /// Where point `p` sits on the x axis.
    pub fn x_of(&self, p: &Point) -> f64 {
        let Some((_, v)) = p.at.first() else {
            return 0.0;
        };
        if self.x_numeric {
            v.parse().unwrap_or(0.0)
        } else {
            self.x_values
                .iter()
                .position(|x| x == v)
                .map_or(0.0, |i| i as f64)
        }
    }

    /// The rate of the load as written (1×), when the first axis is the load.
    pub fn base_rate(&self) -> Option<f64> {
        if self.by_load() {
            offered_per_sec(&self.plan.base)
        } else {
            None
        }
    }

    /// The grid's capacity bracket (one load axis with objectives).
    pub fn bracket(&self) -> Option<(f64, f64)> {
        if self.plan.axes.len() != 1 {
            return None;
        }
        match &self.stage {
            Stage::Searching { met, not_met } => Some((*met, *not_met)),
            _ => sweep::bracket(&self.points, &self.plan.axes[0]),
        }
    }

    /// Where the p99 curve turns (one axis, three points or more).
    pub fn turn(&self) -> Option<Turn> {
        if self.plan.axes.len() != 1 {
            return None;
        }
        let (xs, ys): (Vec<f64>, Vec<f64>) = self
            .points
            .iter()
            .filter_map(|p| {
                let e = p.replicated.get("overall.latency_ms.p99")?;
                Some((self.x_of(p), e.mean))
            })
            .unzip();
        if xs.len() != self.points.len() {
            return None;
        }
        turn(&xs, &ys)
    }

    /// The capacity in words, or what the grid says about it so far.
    pub fn capacity_words(&self) -> Option<String> {
        if !self.by_load() || self.plan.axes.len() != 1 {
            return None;
        }
        if self.plan.base.slos.is_empty() {
            return Some(
                "The scenario has no objectives: add one to find the load it can take.".to_owned(),
            );
        }
        let rate = self.base_rate();
        if let Some(c) = &self.capacity {
            let rate = |r: Option<f64>| r.map_or(String::new(), |r| format!(" ({r:.0} req/s)"));
            return Some(format!(
                "The objectives hold up to {}× the load{} and fail by {}×{}.",
                short(c.met, 2),
                rate(c.met_per_sec),
                short(c.not_met, 2),
                rate(c.not_met_per_sec),
            ));
        }
        if let Some((met, not_met)) = self.bracket() {
            let more = if matches!(self.stage, Stage::Searching { .. }) {
                "; searching between them"
            } else if !self.plan.capacity && !self.is_running() {
                "; search the capacity to narrow it"
            } else {
                ""
            };
            return Some(format!(
                "On the grid, the objectives hold up to {} and fail by {}{more}.",
                load_words(met, rate, true),
                load_words(not_met, rate, false)
            ));
        }
        if self.is_running() || self.points.is_empty() {
            return None;
        }
        let fares: Vec<Fares> = self.points.iter().map(Fares::of).collect();
        let last = self.first_axis_values().last().cloned().unwrap_or_default();
        let last: f64 = last.parse().unwrap_or(0.0);
        Some(if fares.iter().all(|f| *f == Fares::Met) {
            format!(
                "The objectives hold at every load tried, up to {}: try higher loads.",
                load_words(last, rate, true)
            )
        } else if fares.first() == Some(&Fares::Breached) {
            "The objectives fail from the lowest load tried: try lower loads, or change \
             the system."
                .to_owned()
        } else {
            "The objectives are undecided where they start to fail: more replications \
             per point would tell."
                .to_owned()
        })
    }

    /// The turn of the p99 curve in words.
    pub fn turn_words(&self) -> Option<String> {
        let turn = self.turn()?;
        let p = self.points.get(turn.index())?;
        let value = &p.at.first()?.1;
        let at = if self.by_load() {
            let f: f64 = value.parse().ok()?;
            load_words(f, self.base_rate(), true)
        } else {
            format!("{} = {value}", self.plan.axes[0].name())
        };
        Some(match turn {
            Turn::Steepens(_) => format!(
                "Knee: the p99 curve turns steep at {at}; past it, a little more costs much \
                 more latency."
            ),
            Turn::Flattens(_) => {
                format!("Knee: the p99 curve flattens at {at}; more than that helps little.")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rising_curve_steepens_and_a_falling_one_flattens() {
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(
            turn(&xs, &[10.0, 11.0, 12.0, 40.0, 200.0]),
            Some(Turn::Steepens(3))
        );
        assert_eq!(
            turn(&xs, &[100.0, 20.0, 10.0, 9.0, 8.0]),
            Some(Turn::Flattens(1))
        );
        assert_eq!(turn(&xs[..2], &[1.0, 2.0]), None);
    }

    #[test]
    fn points_sit_at_their_value_or_at_its_position_when_values_are_words() {
        let base = crate::model::load_file("scenarios/three_tier.ron".as_ref())
            .expect("bundled")
            .into_inner();
        let point = |axis: &str, v: &str| Point {
            at: vec![(axis.to_owned(), v.to_owned())],
            replicated: crate::experiment::Replicated::from_runs(Vec::new()),
            verdicts: Vec::new(),
        };
        let plan = |axis: &str| Plan {
            base: base.clone(),
            axes: vec![axis.parse().expect("axis")],
            replications: 2,
            capacity: false,
        };
        let words = Results::new(plan("lb.policy=RoundRobin,Random,LeastConnections"));
        assert!(!words.numeric_x());
        assert_eq!(words.x_of(&point("lb.policy", "LeastConnections")), 2.0);
        let numbers = Results::new(plan("app.instances=2,8"));
        assert!(numbers.numeric_x());
        assert_eq!(numbers.x_of(&point("app.instances", "8")), 8.0);
        assert_eq!(Fares::of(&point("app.instances", "8")), Fares::Unjudged);
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(short(2.0, 2), "2");
        assert_eq!(short(2.5, 2), "2.5");
        assert_eq!(short(2.6875, 2), "2.69");
        assert_eq!(short(2150.4, 0), "2150");
    }

    #[test]
    fn the_capacity_is_named_with_its_rates() {
        let base = crate::model::load_file("scenarios/three_tier.ron".as_ref())
            .expect("bundled")
            .into_inner();
        let rate = offered_per_sec(&base).expect("open clients");
        let mut r = Results::new(Plan {
            base,
            axes: vec!["load=1,2,3".parse().expect("axis")],
            replications: 2,
            capacity: true,
        });
        r.capacity = Some(Capacity {
            met: 2.6875,
            not_met: 2.75,
            met_per_sec: Some(rate * 2.6875),
            not_met_per_sec: Some(rate * 2.75),
            probes: Vec::new(),
        });
        assert_eq!(
            r.capacity_words().expect("words"),
            format!(
                "The objectives hold up to 2.69× the load ({:.0} req/s) and fail by 2.75× \
                 ({:.0} req/s).",
                rate * 2.6875,
                rate * 2.75
            )
        );
    }
}
