//! What the charts draw, decided from the series a run records and the scenario, without
//! egui: which charts (the four every run has, then the ones its components' lessons talk
//! about), their lines, units and colours, the markers of what happened during the run,
//! and the figures of a window of time for the before-and-after table.

use crate::engine::Simulation;
use crate::metrics::{ErrorCause, SeriesSet};
use crate::model::{ComponentSpec, Scenario};

/// How a chart's values read, and how they scale for reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Events per second (`what`: "req/s", "queries/s"); in thousands from 2,000 up.
    PerSec { what: &'static str },
    /// Milliseconds; in seconds from 2,000 ms up.
    Millis,
    /// A share from 0 to 1, shown in %.
    Share,
    /// A count (requests waiting, instances, dead letters).
    Count,
    /// A circuit breaker's state: 0 closed, 1 half-open, 2 open.
    BreakerState,
}

impl Unit {
    /// The factor values are multiplied by to be shown, and the unit's words, for values
    /// up to `largest`.
    pub fn scale(self, largest: f64) -> (f64, String) {
        match self {
            Self::PerSec { what } if largest >= 2_000.0 => (1e-3, format!("k {what}")),
            Self::PerSec { what } => (1.0, what.to_owned()),
            Self::Millis if largest >= 2_000.0 => (1e-3, "s".to_owned()),
            Self::Millis => (1.0, "ms".to_owned()),
            Self::Share => (100.0, "%".to_owned()),
            Self::Count | Self::BreakerState => (1.0, String::new()),
        }
    }
}

/// One line of a chart: a series by scope and metric, its legend and its colour's key.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub scope: String,
    pub metric: String,
    pub label: String,
    /// Drawn thicker: the line the chart is about (the hot shard).
    pub emphasis: bool,
}

impl Line {
    fn new(scope: &str, metric: &str, label: impl Into<String>) -> Self {
        Self {
            scope: scope.to_owned(),
            metric: metric.to_owned(),
            label: label.into(),
            emphasis: false,
        }
    }

    /// The key its colour is chosen by: the same series has the same colour in every
    /// scenario and every chart.
    pub fn colour_key(&self) -> String {
        format!("{}.{}", self.scope, self.metric)
    }
}

/// One chart: a title, a unit, its lines, and what to say when none has data.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub id: String,
    pub title: String,
    pub unit: Unit,
    pub lines: Vec<Line>,
    /// Shown in place of lines when none has a value in the window.
    pub empty: &'static str,
}

/// What the user chose to see (see `super::ChartChoice`).
pub struct Choice<'a> {
    pub window_secs: f64,
    pub endpoint: Option<&'a str>,
    pub shown: &'a dyn Fn(&str) -> bool,
    pub causes: bool,
}

pub fn is_utilisation(metric: &str) -> bool {
    metric.ends_with("util")
}

pub fn is_queue(metric: &str) -> bool {
    matches!(metric, "accept_queue" | "run_queue" | "queue" | "depth")
        || metric.ends_with("_waiting")
}

/// The first index of `set.times` inside the last `window_secs` of the run.
pub fn window_start(set: &SeriesSet, window_secs: f64) -> usize {
    let t_end = set.times.last().copied().unwrap_or(0.0);
    set.times.partition_point(|t| *t < t_end - window_secs)
}

fn any_nonzero(set: &SeriesSet, scope: &str, metric: &str, first: usize) -> bool {
    set.column(scope, metric).is_some_and(|v| {
        v.get(first..)
            .is_some_and(|v| v.iter().any(|x| x.is_finite() && *x != 0.0))
    })
}

fn varies(set: &SeriesSet, scope: &str, metric: &str, first: usize) -> bool {
    set.column(scope, metric).is_some_and(|v| {
        let v = v.get(first..).unwrap_or_default();
        v.iter().any(|x| v.first().is_some_and(|f| x != f))
    })
}

/// The charts of a run: throughput, latency, utilisation and waiting, then one per
/// component whose lesson has a series of its own (instances of a scaled or changed tier
/// with its autoscaler's target, a cache's hit ratio, a database's queries (in all and
/// each query's) and each shard's
/// CPU with the hot one drawn thicker, a breaker's state, a queue's depth and dead letters,
/// sessions lost).
pub fn charts(set: &SeriesSet, scenario: &Scenario, choice: &Choice<'_>) -> Vec<Chart> {
    let first = window_start(set, choice.window_secs);
    let mut throughput = vec![Line::new("", "offered_per_sec", "offered")];
    if any_nonzero(set, "", "retries_per_sec", first) {
        throughput.push(Line::new("", "user_requests_per_sec", "users' requests"));
    }
    throughput.push(Line::new("", "retries_per_sec", "retries"));
    throughput.push(Line::new("", "ok_per_sec", "served"));
    throughput.push(Line::new("", "errors_per_sec", "errors"));
    if choice.causes {
        for c in ErrorCause::ALL {
            throughput.push(Line::new(
                "",
                &format!("{}_per_sec", c.name()),
                c.name().replace('_', " "),
            ));
        }
    }
    // Lines that stayed at zero over the window are left out: an error cause that never
    // happened only clutters the legend.
    throughput.retain(|l| {
        matches!(
            l.metric.as_str(),
            "offered_per_sec" | "ok_per_sec" | "user_requests_per_sec"
        ) || any_nonzero(set, &l.scope, &l.metric, first)
    });
    let scope = choice.endpoint.unwrap_or_default();
    let latency = ["p50", "p95", "p99"]
        .iter()
        .map(|p| Line::new(scope, &format!("{p}_ms"), *p))
        .collect();
    let by = |f: fn(&str) -> bool| -> Vec<Line> {
        set.names
            .iter()
            .filter(|(s, m)| !s.is_empty() && f(m) && (choice.shown)(s))
            .map(|(s, m)| Line::new(s, m, format!("{s} {}", m.replace('_', " "))))
            .collect()
    };
    let mut out = vec![
        Chart {
            id: "throughput".into(),
            title: "Throughput".into(),
            unit: Unit::PerSec { what: "req/s" },
            lines: throughput,
            empty: "no requests yet",
        },
        Chart {
            id: "latency".into(),
            title: match choice.endpoint {
                Some(e) => format!("Latency of {e}"),
                None => "Latency".into(),
            },
            unit: Unit::Millis,
            lines: latency,
            empty: "no successful responses in this window",
        },
        Chart {
            id: "utilisation".into(),
            title: "Utilisation".into(),
            unit: Unit::Share,
            lines: by(is_utilisation),
            empty: "no components chosen",
        },
        Chart {
            id: "queues".into(),
            title: "Waiting (requests)".into(),
            unit: Unit::Count,
            lines: by(is_queue),
            empty: "no components chosen",
        },
    ];
    for c in &scenario.components {
        let id = c.id();
        if !(choice.shown)(id) {
            continue;
        }
        let chart = |title: String, unit, lines: Vec<Line>| Chart {
            id: format!("chart {title}"),
            title,
            unit,
            lines,
            empty: "no data yet",
        };
        match c {
            ComponentSpec::App(_) => {
                let scaler = scenario.components.iter().find_map(|x| match x {
                    ComponentSpec::Autoscaler(a) if a.tier == id => Some(a.id.as_str()),
                    _ => None,
                });
                if scaler.is_some() || varies(set, id, "instances", first) {
                    let mut lines = vec![Line::new(id, "instances", "running")];
                    if let Some(a) = scaler {
                        lines.push(Line::new(a, "desired", format!("{a}'s target")));
                    }
                    out.push(chart(format!("{id} instances"), Unit::Count, lines));
                }
                if any_nonzero(set, id, "sessions_lost", 0) {
                    out.push(chart(
                        format!("{id} sessions lost"),
                        Unit::Count,
                        vec![Line::new(id, "sessions_lost", "users logged out")],
                    ));
                }
            }
            ComponentSpec::Cache(_) if set.column(id, "hit_ratio").is_some() => {
                out.push(chart(
                    format!("{id} hit ratio"),
                    Unit::Share,
                    vec![Line::new(id, "hit_ratio", "hits")],
                ));
            }
            ComponentSpec::Database(d) => {
                let mut lines = vec![Line::new(id, "queries_per_sec", "all queries")];
                // Each query's own rate, when there is more than one (an N+1 loop's query
                // runs N times per request); those not run in the window are left out.
                let own = crate::engine::query_rate_metric("");
                let per_query: Vec<Line> = set
                    .names
                    .iter()
                    .filter(|(s, m)| s == id && m.starts_with(&own))
                    .filter(|(s, m)| any_nonzero(set, s, m, first))
                    .map(|(s, m)| Line::new(s, m, &m[own.len()..]))
                    .collect();
                if d.queries.len() > 1 {
                    lines.extend(per_query);
                }
                if any_nonzero(set, id, "stale_reads_per_sec", first) {
                    lines.push(Line::new(id, "stale_reads_per_sec", "stale reads"));
                }
                out.push(chart(
                    format!("{id} queries"),
                    Unit::PerSec { what: "queries/s" },
                    lines,
                ));
                if d.shards > 1 {
                    out.push(chart(
                        format!("{id} CPU by shard"),
                        Unit::Share,
                        shard_lines(set, id, first),
                    ));
                }
            }
            ComponentSpec::CircuitBreaker(_) => out.push(chart(
                format!("{id} state"),
                Unit::BreakerState,
                vec![Line::new(id, "state", "0 closed · 1 half-open · 2 open")],
            )),
            ComponentSpec::Queue(_) => out.push(chart(
                format!("{id} backlog"),
                Unit::Count,
                vec![
                    Line::new(id, "depth", "jobs waiting"),
                    Line::new(id, "dead_letters", "dead letters"),
                ],
            )),
            _ => {}
        }
    }
    out
}

/// The series scopes of database `db`'s shard primaries (`orders#s0`, …) with their short
/// names (`s0`), in order; empty unless it is sharded.
pub fn shard_scopes<'a>(set: &'a SeriesSet, db: &str) -> Vec<(&'a str, &'a str)> {
    let prefix = format!("{db}#");
    set.names
        .iter()
        .filter(|(_, m)| m == "cpu_util")
        .filter_map(|(s, _)| {
            let shard = s.strip_prefix(&prefix)?;
            shard
                .strip_prefix('s')
                .is_some_and(|k| k.parse::<u32>().is_ok())
                .then_some((s.as_str(), shard))
        })
        .collect()
}

/// Each shard's primary CPU, the busiest over the window drawn thicker and named.
fn shard_lines(set: &SeriesSet, db: &str, first: usize) -> Vec<Line> {
    let mut lines: Vec<(Line, f64)> = shard_scopes(set, db)
        .into_iter()
        .map(|(scope, shard)| {
            let mean = set
                .column(scope, "cpu_util")
                .map_or(0.0, |v| mean_of(v.get(first..).unwrap_or_default()));
            (Line::new(scope, "cpu_util", shard.to_owned()), mean)
        })
        .collect();
    if let Some((hot, _)) = lines
        .iter_mut()
        .filter(|(_, mean)| mean.is_finite())
        .max_by(|a, b| a.1.total_cmp(&b.1))
    {
        hot.emphasis = true;
        hot.label.push_str(" (hot)");
    }
    lines.into_iter().map(|(l, _)| l).collect()
}

fn mean_of(values: &[f64]) -> f64 {
    let finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if finite.is_empty() {
        f64::NAN
    } else {
        finite.iter().sum::<f64>() / finite.len() as f64
    }
}

/// The mean of a series between `from` and `to` simulated seconds (NaN without data).
pub fn mean_between(set: &SeriesSet, scope: &str, metric: &str, from: f64, to: f64) -> f64 {
    let Some(values) = set.column(scope, metric) else {
        return f64::NAN;
    };
    let lo = set.times.partition_point(|t| *t <= from);
    let hi = set.times.partition_point(|t| *t <= to);
    mean_of(values.get(lo..hi).unwrap_or_default())
}

/// What a marker on the time axis stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerKind {
    /// A parameter changed during the run.
    Change,
    /// Something broke (a fault).
    Fault,
    /// The run was restarted here (on the previous run's trace).
    Restart,
}

/// A moment of the run worth seeing on every chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    pub at_secs: f64,
    pub kind: MarkerKind,
    /// What happened, for the hover text.
    pub text: String,
}

/// The changes and faults of `sim` so far, in time order.
pub fn markers(sim: &Simulation) -> Vec<Marker> {
    let now = sim.now().as_secs_f64();
    let mut out: Vec<Marker> = sim
        .timeline()
        .iter()
        .filter(|c| c.at_secs <= now)
        .map(|c| Marker {
            at_secs: c.at_secs,
            kind: MarkerKind::Change,
            text: format!(
                "{}: {}",
                c.component,
                c.set
                    .iter()
                    .map(|(p, v)| format!("{p} = {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .chain(
            sim.faults()
                .iter()
                .filter(|f| f.at_secs <= now)
                .map(|f| Marker {
                    at_secs: f.at_secs,
                    kind: MarkerKind::Fault,
                    text: f.fault.describe(),
                }),
        )
        .collect();
    out.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
    out
}

/// A run kept on the charts as a faded trace to compare the current one with.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub series: SeriesSet,
    /// Its changes and faults, and where it ended.
    pub markers: Vec<Marker>,
    /// What it was, for the legend and the table ("before the restart at 84 s").
    pub name: String,
}

impl Baseline {
    /// `sim` as it is now, kept because `why` (ending with a marker at its time).
    pub fn keep(sim: &Simulation, name: String, why: String) -> Self {
        let mut markers = markers(sim);
        markers.push(Marker {
            at_secs: sim.now().as_secs_f64(),
            kind: MarkerKind::Restart,
            text: why,
        });
        Self {
            series: sim.series().clone(),
            markers,
            name,
        }
    }
}

/// One row of the before-and-after table: a figure over the same stretch of simulated
/// time in the kept run and in this one.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub figure: &'static str,
    pub unit: Unit,
    pub before: f64,
    pub now: f64,
}

/// Served, p99 and errors over the last `window_secs` that both runs have reached.
pub fn compare(
    baseline: &SeriesSet,
    now: &SeriesSet,
    window_secs: f64,
) -> (f64, f64, Vec<Comparison>) {
    let end = now
        .times
        .last()
        .copied()
        .unwrap_or(0.0)
        .min(baseline.times.last().copied().unwrap_or(0.0));
    let from = (end - window_secs).max(0.0);
    let row = |figure, unit, metric: &str| Comparison {
        figure,
        unit,
        before: mean_between(baseline, "", metric, from, end),
        now: mean_between(now, "", metric, from, end),
    };
    (
        from,
        end,
        vec![
            row("served", Unit::PerSec { what: "req/s" }, "ok_per_sec"),
            row("errors", Unit::PerSec { what: "req/s" }, "errors_per_sec"),
            row("p50", Unit::Millis, "p50_ms"),
            row("p99", Unit::Millis, "p99_ms"),
        ],
    )
}
