//! Formats a [`Summary`] for people (a table) and for tools (JSON, CSV).

use std::fmt::Write as _;

use crate::experiment::Replicated;
use crate::metrics::Summary;
use crate::metrics::breakdown::Phase;
use crate::metrics::summary::Outcomes;
use crate::stats::Estimate;

/// Pretty JSON. Same summary, same bytes.
pub fn json(summary: &Summary) -> String {
    let mut s = serde_json::to_string_pretty(summary)
        .unwrap_or_else(|e| unreachable!("a summary is plain data: {e}"));
    s.push('\n');
    s
}

/// One `section,name,metric,value` row per figure.
pub fn csv(summary: &Summary) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut row = |section: &str, name: &str, metric: &str, value: f64| {
        // Writing to a Vec cannot fail.
        let _ = w.write_record([section, name, metric, &value.to_string()]);
    };
    row("run", "", "seed", summary.seed as f64);
    row("run", "", "simulated_secs", summary.simulated_secs);
    row("run", "", "measured_secs", summary.measured_secs);
    row("run", "", "events", summary.events as f64);
    row("cost", "", "per_hour", summary.cost.per_hour);
    row(
        "cost",
        "",
        "per_million_requests",
        summary.cost.per_million_requests,
    );
    let mut outcome_rows = |section: &str, name: &str, o: &Outcomes| {
        row(section, name, "offered", o.offered as f64);
        row(section, name, "user_requests", o.user_requests as f64);
        row(section, name, "retries", o.retries as f64);
        row(section, name, "amplification", o.amplification);
        row(section, name, "user_failures", o.user_failures as f64);
        row(section, name, "user_error_rate", o.user_error_rate);
        row(section, name, "ok", o.ok as f64);
        row(section, name, "offered_per_sec", o.offered_per_sec);
        row(section, name, "throughput_per_sec", o.throughput_per_sec);
        row(section, name, "error_rate", o.error_rate);
        for (cause, n) in &o.errors {
            row(section, name, &format!("errors.{cause}"), *n as f64);
        }
        let l = &o.latency_ms;
        for (m, v) in [
            ("latency_mean_ms", l.mean),
            ("latency_p50_ms", l.p50),
            ("latency_p95_ms", l.p95),
            ("latency_p99_ms", l.p99),
            ("latency_p999_ms", l.p999),
            ("latency_max_ms", l.max),
        ] {
            row(section, name, m, v);
        }
        for (phase, ms) in &o.breakdown_ms {
            row(section, name, &format!("breakdown_ms.{phase}"), *ms);
        }
    };
    outcome_rows("overall", "", &summary.overall);
    for (name, o) in &summary.endpoints {
        outcome_rows("endpoint", name, o);
    }
    for c in &summary.components {
        for (m, v) in &c.figures {
            row("component", &c.id, m, *v);
        }
    }
    for s in &summary.stations {
        for (m, v) in [
            ("utilization", s.utilization),
            ("mean_queue", s.mean_queue),
            ("mean_in_system", s.mean_in_system),
            ("throughput_per_sec", s.throughput_per_sec),
            ("mean_sojourn_ms", s.mean_sojourn_ms),
            ("mean_wait_ms", s.mean_wait_ms),
            ("p_wait", s.p_wait),
            ("littles_law_gap", s.littles_law_gap),
        ] {
            row("station", &s.name, m, v);
        }
    }
    for q in &summary.queries {
        let name = format!("{}.{}", q.db, q.query);
        row("query", &name, "count", q.count as f64);
        row("query", &name, "total_secs", q.total_secs);
        row("query", &name, "mean_ms", q.mean_ms);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// A readable report for the terminal.
pub fn table(s: &Summary) -> String {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(
        o,
        "{} — seed {}, {:.0}s simulated, {:.0}s measured after warm-up, {} events",
        if s.scenario.is_empty() {
            "scenario"
        } else {
            &s.scenario
        },
        s.seed,
        s.simulated_secs,
        s.measured_secs,
        s.events
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<24} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "endpoint",
        "offered/s",
        "ok/s",
        "errors",
        "mean ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "p99.9 ms"
    );
    let mut line = |name: &str, e: &Outcomes| {
        let _ = writeln!(
            o,
            "{:<24} {:>9.1} {:>9.1} {:>6.2}% {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.2}",
            truncate(name, 24),
            e.offered_per_sec,
            e.throughput_per_sec,
            e.error_rate * 100.0,
            e.latency_ms.mean,
            e.latency_ms.p50,
            e.latency_ms.p95,
            e.latency_ms.p99,
            e.latency_ms.p999
        );
    };
    for (name, e) in &s.endpoints {
        // Endpoints only run by calls and queues have no users of their own.
        if e.offered_per_sec > 0.0 || e.ok > 0 {
            line(name, e);
        }
    }
    line("ALL", &s.overall);
    let errors: Vec<String> = s
        .overall
        .errors
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(o, "failed attempts: {}", errors.join(", "));
    }
    if s.overall.retries > 0 {
        let _ = writeln!(
            o,
            "retries: {} ({:.2} attempts per user request); {:.2}% of users' requests failed \
             in the end",
            s.overall.retries,
            s.overall.amplification,
            s.overall.user_error_rate * 100.0
        );
    }

    let _ = writeln!(
        o,
        "cost: ${:.2} per hour, ${:.2} per million requests served",
        s.cost.per_hour, s.cost.per_million_requests
    );
    breakdown_table(o, s);
    let _ = writeln!(o);
    let _ = writeln!(o, "saturation (fullest first)");
    for r in s.saturation.iter().take(6) {
        let _ = writeln!(
            o,
            "  {:<32} {:>5.1}%  {} {}",
            truncate(&r.resource, 32),
            r.utilization * 100.0,
            bar(r.utilization),
            r.kind
        );
    }

    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<28} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "station", "servers", "util", "queue", "in sys L", "λ /s", "W ms", "L≈λW"
    );
    for st in &s.stations {
        let _ = writeln!(
            o,
            "{:<28} {:>7} {:>5.1}% {:>9.2} {:>9.2} {:>9.1} {:>9.2} {:>7.1}%",
            truncate(&st.name, 28),
            st.servers,
            st.utilization * 100.0,
            st.mean_queue,
            st.mean_in_system,
            st.throughput_per_sec,
            st.mean_sojourn_ms,
            st.littles_law_gap * 100.0
        );
    }

    theory_table(o, s);

    let _ = writeln!(o);
    let _ = writeln!(o, "components");
    for c in s.components.iter().filter(|c| !c.figures.is_empty()) {
        let figures: Vec<String> = c
            .figures
            .iter()
            .map(|(k, v)| format!("{k} {}", short(*v)))
            .collect();
        let _ = writeln!(o, "  {} ({}): {}", c.id, c.kind, figures.join(", "));
    }

    if !s.queries.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "top queries by total time");
        for q in s.queries.iter().take(5) {
            let _ = writeln!(
                o,
                "  {:<32} {:>9} calls {:>9.1}s total {:>8.2} ms mean",
                truncate(&format!("{}.{}", q.db, q.query), 32),
                q.count,
                q.total_secs,
                q.mean_ms
            );
        }
    }
    out
}

/// [`table`] with the advisor's verdict under its title line: what runs out first,
/// each tier's diagnosis and the first lever.
pub fn table_with_advice(s: &Summary, advice: &crate::advisor::Advice) -> String {
    let full = table(s);
    let (title, rest) = full.split_once('\n').unwrap_or((&full, ""));
    format!("{title}\n{}{rest}", advice_verdict(advice))
}

/// Where the time of each endpoint's mean successful response goes, phase by phase in
/// the order of a request's journey, like a trace waterfall.
fn breakdown_table(o: &mut String, s: &Summary) {
    let answered: Vec<(&String, &Outcomes)> =
        s.endpoints.iter().filter(|(_, e)| e.ok > 0).collect();
    if answered.is_empty() {
        return;
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "where the time goes (mean successful response)");
    for (name, e) in answered {
        let mean = e.latency_ms.mean;
        let _ = writeln!(o, "  {:<38} {:>9.2} ms", truncate(name, 38), mean);
        for phase in Phase::ALL {
            let ms = e.breakdown_ms.get(phase.name()).copied().unwrap_or(0.0);
            let share = if mean > 0.0 { ms / mean } else { 0.0 };
            if share < 0.0005 {
                continue;
            }
            let _ = writeln!(
                o,
                "    {:<36} {:>9.2} ms {:>5.1}%  {}",
                phase.label(),
                ms,
                share * 100.0,
                bar(share)
            );
        }
    }
}

/// Each queueing station's simulated wait and response beside what queueing theory
/// predicts at the same measured load, naming the model and whether it is exact.
fn theory_table(o: &mut String, s: &Summary) {
    let rows: Vec<_> = s
        .stations
        .iter()
        .filter_map(|st| st.theory.as_ref().map(|t| (st, t)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "theory beside simulation (per copy, at the measured load; ≈ marks an approximation)"
    );
    let _ = writeln!(
        o,
        "{:<28} {:<36} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "station", "model", "ρ", "wait ms", "theory", "resp. ms", "theory"
    );
    for (st, t) in rows {
        let copies = if t.copies > 1.05 {
            format!(" ({:.0}×)", t.copies)
        } else {
            String::new()
        };
        let mark = if t.exact { " " } else { "≈" };
        let _ = writeln!(
            o,
            "{:<28} {:<36} {:>5.1}% {:>10.3} {mark}{:>9.3} {:>10.3} {mark}{:>9.3}",
            truncate(&format!("{}{copies}", st.name), 28),
            truncate(&t.model, 36),
            t.rho * 100.0,
            st.mean_wait_ms,
            t.wait_ms,
            st.mean_sojourn_ms,
            t.response_ms
        );
    }
}

/// A figure with as many decimals as its size needs.
fn short(x: f64) -> String {
    if (x.fract() == 0.0 && x.abs() < 1e15) || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn bar(u: f64) -> String {
    let n = (u.clamp(0.0, 1.0) * 20.0).round() as usize;
    format!("[{}{}]", "#".repeat(n), ".".repeat(20 - n))
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// Replications as a table: each figure's mean ± the half-width of its interval.
pub fn replicated_table(r: &Replicated) -> String {
    let mut out = String::new();
    let o = &mut out;
    let first = r.runs.first();
    let _ = writeln!(
        o,
        "{} — {} replications, ±: {:.0}% confidence interval of the mean",
        first.map_or("scenario", |s| {
            if s.scenario.is_empty() {
                "scenario"
            } else {
                &s.scenario
            }
        }),
        r.replications,
        r.confidence * 100.0
    );
    let _ = writeln!(o);
    let pm = |path: &str, scale: f64, digits: usize| -> String {
        match r.get(path) {
            Some(e) => format!(
                "{:.d$} ± {:.d$}",
                e.mean * scale,
                e.half_width * scale,
                d = digits
            ),
            None => "—".to_owned(),
        }
    };
    let _ = writeln!(
        o,
        "{:<20} {:>18} {:>16} {:>16} {:>16} {:>18}",
        "endpoint", "ok/s", "errors %", "mean ms", "p95 ms", "p99 ms"
    );
    let mut line = |name: &str, prefix: &str| {
        let _ = writeln!(
            o,
            "{:<20} {:>18} {:>16} {:>16} {:>16} {:>18}",
            truncate(name, 20),
            pm(&format!("{prefix}.throughput_per_sec"), 1.0, 1),
            pm(&format!("{prefix}.error_rate"), 100.0, 2),
            pm(&format!("{prefix}.latency_ms.mean"), 1.0, 2),
            pm(&format!("{prefix}.latency_ms.p95"), 1.0, 2),
            pm(&format!("{prefix}.latency_ms.p99"), 1.0, 2),
        );
    };
    if let Some(s) = first {
        for (name, e) in &s.endpoints {
            if e.offered_per_sec > 0.0 || e.ok > 0 {
                line(name, &format!("endpoints.{name}"));
            }
        }
    }
    line("ALL", "overall");
    let _ = writeln!(o, "cost: ${} per hour", pm("cost.per_hour", 1.0, 2));
    let _ = writeln!(o);
    let _ = writeln!(o, "saturation (fullest first)");
    let mut saturation: Vec<(&str, &Estimate)> = r
        .figures
        .iter()
        .filter_map(|(path, e)| {
            Some((
                path.strip_prefix("saturation.")?
                    .strip_suffix(".utilization")?,
                e,
            ))
        })
        .collect();
    saturation.sort_by(|a, b| b.1.mean.total_cmp(&a.1.mean));
    for (resource, e) in saturation.iter().take(6) {
        let _ = writeln!(
            o,
            "  {:<32} {:>5.1}% ± {:.1}",
            truncate(resource, 32),
            e.mean * 100.0,
            e.half_width * 100.0
        );
    }
    out
}

/// Replications as JSON: every figure's mean, half-width and replications.
pub fn replicated_json(r: &Replicated) -> String {
    let mut s = serde_json::to_string_pretty(r)
        .unwrap_or_else(|e| unreachable!("replicated figures are plain data: {e}"));
    s.push('\n');
    s
}

/// Replications as CSV: one `figure,mean,half_width,replications` row per figure.
pub fn replicated_csv(r: &Replicated) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["figure", "mean", "half_width", "replications"]);
    for (path, e) in &r.figures {
        let _ = w.write_record([
            path.as_str(),
            &e.mean.to_string(),
            &e.half_width.to_string(),
            &e.n.to_string(),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The verdicts of `bottleneck check` as a table, with the replications behind them.
pub fn verdicts_table(r: &Replicated, verdicts: &[crate::experiment::Verdict]) -> String {
    use crate::experiment::Decision;
    let mut out = String::new();
    let o = &mut out;
    let name = r.runs.first().map_or("", |s| s.scenario.as_str());
    let _ = writeln!(
        o,
        "{} — {} replications, ±: {:.0}% confidence interval of the mean",
        if name.is_empty() { "scenario" } else { name },
        r.replications,
        r.confidence * 100.0
    );
    let _ = writeln!(o);
    for v in verdicts {
        let word = match v.decision {
            Decision::Met => "met",
            Decision::Breached => "BREACHED",
            Decision::Undecided => "undecided",
        };
        let scale = if v.figure.ends_with("error_rate") {
            100.0
        } else {
            1.0
        };
        let unit = if v.figure.ends_with("error_rate") {
            " %"
        } else if v.figure.contains("latency_ms") {
            " ms"
        } else {
            "/s"
        };
        let figure = v.estimate.map_or("—".to_owned(), |e| {
            format!("{:.2} ± {:.2}{unit}", e.mean * scale, e.half_width * scale)
        });
        let _ = writeln!(
            o,
            "  {word:<10} {:<52} {figure}",
            truncate(&v.objective, 52)
        );
        if let Some(note) = &v.note {
            let _ = writeln!(o, "             ({note})");
        }
        if v.decision == Decision::Undecided {
            let _ = match v.more_replications {
                Some(n) => writeln!(
                    o,
                    "             (about {n} more replications would decide it: \
                     --max-replications)"
                ),
                None => writeln!(o, "             (the figure sits on the objective)"),
            };
        }
    }
    let met = verdicts
        .iter()
        .filter(|v| v.decision == Decision::Met)
        .count();
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{}",
        if met == verdicts.len() {
            format!("all {met} objectives met")
        } else {
            format!("{met} of {} objectives met", verdicts.len())
        }
    );
    out
}

/// The verdicts as JSON.
pub fn verdicts_json(r: &Replicated, verdicts: &[crate::experiment::Verdict]) -> String {
    #[derive(serde::Serialize)]
    struct Checked<'a> {
        replications: usize,
        confidence: f64,
        verdicts: &'a [crate::experiment::Verdict],
    }
    let mut s = serde_json::to_string_pretty(&Checked {
        replications: r.replications,
        confidence: r.confidence,
        verdicts,
    })
    .unwrap_or_else(|e| unreachable!("verdicts are plain data: {e}"));
    s.push('\n');
    s
}

/// The verdicts as CSV: one row per objective with its figure, bound, estimate and
/// decision.
pub fn verdicts_csv(verdicts: &[crate::experiment::Verdict]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "objective",
        "figure",
        "bound",
        "direction",
        "mean",
        "half_width",
        "replications",
        "decision",
        "more_replications",
    ]);
    for v in verdicts {
        let (mean, half_width, n) =
            v.estimate
                .map_or((String::new(), String::new(), String::new()), |e| {
                    (
                        e.mean.to_string(),
                        e.half_width.to_string(),
                        e.n.to_string(),
                    )
                });
        let decision = serde_json::to_value(v.decision)
            .ok()
            .and_then(|d| d.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = w.write_record([
            v.objective.clone(),
            v.figure.clone(),
            v.bound.to_string(),
            if v.below { "below" } else { "above" }.to_owned(),
            mean,
            half_width,
            n,
            decision,
            v.more_replications.map_or(String::new(), |m| m.to_string()),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A sweep's points, with its knee and capacity, for the reports.
#[derive(serde::Serialize)]
pub struct SweepResult<'a> {
    pub axes: Vec<String>,
    pub points: &'a [crate::experiment::sweep::Point],
    /// Where the p99 curve turns steep (one axis only).
    pub knee: Option<Vec<(String, String)>>,
    pub capacity: Option<crate::experiment::sweep::Capacity>,
}

/// A sweep as a table: one row per point with its key figures ± their intervals.
pub fn sweep_table(r: &SweepResult) -> String {
    use crate::experiment::Decision;
    let mut out = String::new();
    let o = &mut out;
    let reps = r.points.first().map_or(0, |p| p.replicated.replications);
    let _ = writeln!(
        o,
        "sweep of {} — {reps} replications a point, ±: 95% confidence interval",
        r.axes.join(" × ")
    );
    let _ = writeln!(o);
    let mut header = String::new();
    for a in &r.axes {
        let _ = write!(header, "{:>16} ", truncate(a, 16));
    }
    let _ = writeln!(
        o,
        "{header}{:>16} {:>14} {:>16} {:>18} {:>10}",
        "ok/s", "errors %", "p50 ms", "p99 ms", "objectives"
    );
    for p in r.points {
        let pm = |path: &str, scale: f64| {
            p.replicated.get(path).map_or("—".to_owned(), |e| {
                format!("{:.1} ± {:.1}", e.mean * scale, e.half_width * scale)
            })
        };
        let mut at = String::new();
        for (_, v) in &p.at {
            let shown = v.parse::<f64>().map_or(v.clone(), |x| format!("{x:.3}"));
            let shown = shown.trim_end_matches('0').trim_end_matches('.').to_owned();
            let _ = write!(at, "{:>16} ", truncate(&shown, 16));
        }
        let objectives = if p.verdicts.is_empty() {
            "—".to_owned()
        } else {
            let met = p
                .verdicts
                .iter()
                .filter(|v| v.decision == Decision::Met)
                .count();
            let breached = p.verdicts.iter().any(|v| v.decision == Decision::Breached);
            if met == p.verdicts.len() {
                "met".to_owned()
            } else if breached {
                "BREACHED".to_owned()
            } else {
                "undecided".to_owned()
            }
        };
        let _ = writeln!(
            o,
            "{at}{:>16} {:>14} {:>16} {:>18} {:>10}",
            pm("overall.throughput_per_sec", 1.0),
            pm("overall.user_error_rate", 100.0),
            pm("overall.latency_ms.p50", 1.0),
            pm("overall.latency_ms.p99", 1.0),
            objectives
        );
    }
    if let Some(knee) = &r.knee {
        let at: Vec<String> = knee.iter().map(|(a, v)| format!("{a} = {v}")).collect();
        let _ = writeln!(o);
        let _ = writeln!(o, "knee of the p99 curve: {}", at.join(", "));
    }
    if let Some(c) = &r.capacity {
        let _ = writeln!(o);
        let rates = match (c.met_per_sec, c.not_met_per_sec) {
            (Some(a), Some(b)) => format!(" ({a:.1} to {b:.1} requests/s)"),
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "capacity: the objectives hold up to a load of {:.3}× and fail by {:.3}×{rates}",
            c.met, c.not_met
        );
    }
    out
}

/// A sweep as JSON: every point with every figure and its interval.
pub fn sweep_json(r: &SweepResult) -> String {
    let mut s = serde_json::to_string_pretty(r)
        .unwrap_or_else(|e| unreachable!("a sweep is plain data: {e}"));
    s.push('\n');
    s
}

/// A sweep as CSV: one row per point and figure: the axes' values, the figure, its
/// mean, half-width and replications.
pub fn sweep_csv(r: &SweepResult) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = r.axes.clone();
    header.extend(["figure", "mean", "half_width", "replications"].map(str::to_owned));
    let _ = w.write_record(&header);
    for p in r.points {
        for (path, e) in &p.replicated.figures {
            let mut row: Vec<String> = p.at.iter().map(|(_, v)| v.clone()).collect();
            row.extend([
                path.clone(),
                e.mean.to_string(),
                e.half_width.to_string(),
                e.n.to_string(),
            ]);
            let _ = w.write_record(&row);
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// An A/B comparison, with the names of its two sides, for the reports.
#[derive(serde::Serialize)]
pub struct ComparisonResult<'a> {
    pub a: String,
    pub b: String,
    #[serde(flatten)]
    pub comparison: &'a crate::experiment::compare::Comparison,
}

/// The figures an A/B table shows, with their label, unit and scale (the JSON and CSV
/// have every figure).
fn compared_figures(r: &ComparisonResult) -> Vec<(String, String, &'static str, f64)> {
    let mut rows: Vec<(String, String, &'static str, f64)> = vec![
        (
            "overall.throughput_per_sec".into(),
            "served".into(),
            "req/s",
            1.0,
        ),
        (
            "overall.user_error_rate".into(),
            "failed".into(),
            "%",
            100.0,
        ),
        (
            "overall.latency_ms.mean".into(),
            "mean latency".into(),
            "ms",
            1.0,
        ),
        (
            "overall.latency_ms.p50".into(),
            "p50 latency".into(),
            "ms",
            1.0,
        ),
        (
            "overall.latency_ms.p95".into(),
            "p95 latency".into(),
            "ms",
            1.0,
        ),
        (
            "overall.latency_ms.p99".into(),
            "p99 latency".into(),
            "ms",
            1.0,
        ),
    ];
    let endpoints: std::collections::BTreeSet<&str> = r
        .comparison
        .figures
        .keys()
        .filter_map(|p| {
            p.strip_prefix("endpoints.")?
                .strip_suffix(".latency_ms.p99")
        })
        .collect();
    if endpoints.len() > 1 {
        for e in endpoints {
            rows.push((
                format!("endpoints.{e}.latency_ms.p99"),
                format!("p99 {e}"),
                "ms",
                1.0,
            ));
        }
    }
    rows.push(("cost.per_hour".into(), "cost".into(), "$/h", 1.0));
    rows.retain(|(path, ..)| r.comparison.figures.contains_key(path));
    rows
}

/// An A/B comparison as a table: each key figure for A and B, and what B changes
/// ("lower by 41.2 ms, 95% CI 38.0 to 44.4", or no significant difference).
pub fn comparison_table(r: &ComparisonResult) -> String {
    use crate::experiment::compare::Pairing;
    let c = r.comparison;
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "A: {}", r.a);
    let _ = writeln!(o, "B: {}", r.b);
    let _ = writeln!(
        o,
        "{} replications each, {}; ±: {:.0}% confidence interval",
        c.replications,
        match c.pairing {
            Pairing::Common => "paired on common random numbers",
            Pairing::Independent => "on independent seeds",
        },
        c.confidence * 100.0
    );
    let _ = writeln!(o);
    let _ = writeln!(o, "{:<24} {:>20} {:>20}   B against A", "figure", "A", "B");
    let number = |x: f64| {
        if x.abs() >= 100.0 {
            format!("{x:.1}")
        } else {
            format!("{x:.2}")
        }
    };
    for (path, label, unit, scale) in compared_figures(r) {
        let d = &c.figures[&path];
        let pm = |e: &Estimate| {
            format!(
                "{} ± {}",
                number(e.mean * scale),
                number(e.half_width * scale)
            )
        };
        let change = difference_words(d, unit, scale);
        let _ = writeln!(
            o,
            "{:<24} {:>20} {:>20}   {change}",
            truncate(&format!("{label} ({unit})"), 24),
            pm(&d.a),
            pm(&d.b),
        );
    }
    out
}

/// What B changes in a figure, in words: "lower by 2.62 ms (95% CI 2.58 to 2.67)" or
/// "no significant difference (0.10 ± 0.31 ms)".
pub fn difference_words(
    d: &crate::experiment::compare::Difference,
    unit: &str,
    scale: f64,
) -> String {
    let number = |x: f64| {
        if x.abs() >= 100.0 {
            format!("{x:.1}")
        } else {
            format!("{x:.2}")
        }
    };
    let diff = &d.b_minus_a;
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    if d.significant() {
        let (low, high) = (
            (diff.mean - diff.half_width) * scale,
            (diff.mean + diff.half_width) * scale,
        );
        let (word, by, low, high) = if diff.mean < 0.0 {
            ("lower", -diff.mean * scale, -high, -low)
        } else {
            ("higher", diff.mean * scale, low, high)
        };
        format!(
            "{word} by {}{unit} ({:.0}% CI {} to {})",
            number(by),
            diff.confidence * 100.0,
            number(low),
            number(high)
        )
    } else {
        format!(
            "no significant difference ({} ± {}{unit})",
            number(diff.mean * scale),
            number(diff.half_width * scale)
        )
    }
}

/// An A/B comparison as JSON: every figure of A and B and of B − A with intervals.
pub fn comparison_json(r: &ComparisonResult) -> String {
    let mut s = serde_json::to_string_pretty(r)
        .unwrap_or_else(|e| unreachable!("a comparison is plain data: {e}"));
    s.push('\n');
    s
}

/// An A/B comparison as CSV: one row per figure with A, B and B − A (mean and
/// half-width each) and whether the difference is significant.
pub fn comparison_csv(r: &ComparisonResult) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "figure",
        "a_mean",
        "a_half_width",
        "b_mean",
        "b_half_width",
        "difference_mean",
        "difference_half_width",
        "significant",
        "replications",
    ]);
    for (path, d) in &r.comparison.figures {
        let _ = w.write_record([
            path.clone(),
            d.a.mean.to_string(),
            d.a.half_width.to_string(),
            d.b.mean.to_string(),
            d.b.half_width.to_string(),
            d.b_minus_a.mean.to_string(),
            d.b_minus_a.half_width.to_string(),
            d.significant().to_string(),
            r.comparison.replications.to_string(),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A price per hour: `$2.66/h`.
fn dollars(per_hour: f64) -> String {
    format!("${per_hour:.2}/h")
}

/// The answer of `plan` as a table: the winner, the runners-up, the cost-against-p99
/// frontier and every configuration with what became of it.
pub fn plan_table(p: &crate::experiment::plan::Plan) -> String {
    use crate::experiment::plan::{Candidate, Status};
    let mut out = String::new();
    let o = &mut out;
    let pruned = p
        .candidates
        .iter()
        .filter(|c| matches!(c.status, Status::Dominated | Status::TooSmall))
        .count();
    let _ = writeln!(
        o,
        "cheapest configuration meeting the objectives, over {}: {} configurations, {} run, \
         {pruned} pruned (more never costs less, less never meets more), {} not needed",
        p.axes.join(" × "),
        p.candidates.len(),
        p.runs(),
        p.candidates
            .iter()
            .filter(|c| c.status == Status::NotNeeded)
            .count(),
    );
    let _ = writeln!(o);
    let setting = |c: &Candidate| {
        c.at.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let figures = |c: &Candidate| {
        let Some(r) = &c.replicated else {
            return String::new();
        };
        let pm = |path: &str, scale: f64, unit: &str| {
            r.get(path).map_or("—".to_owned(), |e| {
                format!("{:.1} ± {:.1}{unit}", e.mean * scale, e.half_width * scale)
            })
        };
        format!(
            "p99 {}, failed {}, {} replications",
            pm("overall.latency_ms.p99", 1.0, " ms"),
            pm("overall.user_error_rate", 100.0, " %"),
            r.replications
        )
    };
    match p.winner() {
        Some(w) => {
            let _ = writeln!(
                o,
                "winner     {:>10}  {}\n                        {}",
                dollars(w.price_per_hour),
                setting(w),
                figures(w)
            );
        }
        None => {
            let _ = writeln!(
                o,
                "no configuration of the grid meets every objective with confidence; widen \
                 the ranges (or see the undecided ones below)"
            );
        }
    }
    for &i in &p.runners_up {
        let c = &p.candidates[i];
        let _ = writeln!(
            o,
            "runner-up  {:>10}  {}\n                        {}",
            dollars(c.price_per_hour),
            setting(c),
            figures(c)
        );
    }
    if !p.frontier.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "cost against p99 (each step buys a lower p99):");
        for &i in &p.frontier {
            let c = &p.candidates[i];
            let p99 = c
                .replicated
                .as_ref()
                .and_then(|r| r.get("overall.latency_ms.p99"))
                .map_or(0.0, |e| e.mean);
            let _ = writeln!(
                o,
                "  {:>10}  p99 {:>9.1} ms  {}",
                dollars(c.price_per_hour),
                p99,
                setting(c)
            );
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "every configuration, cheapest first:");
    for c in &p.candidates {
        let status = match c.status {
            Status::Met => "met",
            Status::Breached => "BREACHED",
            Status::Undecided => "undecided",
            Status::Dominated => "pruned: a cheaper one meets them",
            Status::TooSmall => "pruned: a bigger one fails them",
            Status::NotNeeded => "not needed",
        };
        let _ = writeln!(
            o,
            "  {:>10}  {:<40} {:<34} {}",
            dollars(c.price_per_hour),
            truncate(&setting(c), 40),
            status,
            figures(c)
        );
    }
    out
}

/// The answer of `plan` as JSON: every configuration with its status and figures.
pub fn plan_json(p: &crate::experiment::plan::Plan) -> String {
    let mut s = serde_json::to_string_pretty(p)
        .unwrap_or_else(|e| unreachable!("a plan is plain data: {e}"));
    s.push('\n');
    s
}

/// The answer of `plan` as CSV: one row per configuration with the parameters, price,
/// status and key figures.
pub fn plan_csv(p: &crate::experiment::plan::Plan) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = p.axes.clone();
    header.extend(
        [
            "price_per_hour",
            "status",
            "p99_ms",
            "p99_ms_half_width",
            "user_error_rate",
            "user_error_rate_half_width",
            "replications",
        ]
        .map(str::to_owned),
    );
    let _ = w.write_record(&header);
    for c in &p.candidates {
        let mut row: Vec<String> = c.at.iter().map(|(_, v)| v.clone()).collect();
        row.push(c.price_per_hour.to_string());
        row.push(
            serde_json::to_value(c.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        );
        let fig = |path: &str| {
            c.replicated
                .as_ref()
                .and_then(|r| r.get(path))
                .map_or([String::new(), String::new()], |e| {
                    [e.mean.to_string(), e.half_width.to_string()]
                })
        };
        row.extend(fig("overall.latency_ms.p99"));
        row.extend(fig("overall.user_error_rate"));
        row.push(
            c.replicated
                .as_ref()
                .map_or(String::new(), |r| r.replications.to_string()),
        );
        let _ = w.write_record(&row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The time series of a run as CSV: a `time_secs` column (the end of each interval)
/// and one column per series, named `scope.metric` (`app.cpu_util`) or `metric` for the
/// system-wide ones. A long run's points each average several samples (at most
/// `SeriesSet::CAPACITY` rows).
pub fn series_csv(series: &crate::metrics::series::SeriesSet) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["time_secs".to_owned()];
    header.extend(series.names.iter().map(|(scope, metric)| {
        if scope.is_empty() {
            metric.clone()
        } else {
            format!("{scope}.{metric}")
        }
    }));
    let _ = w.write_record(&header);
    for (row, t) in series.times.iter().enumerate() {
        let mut record = vec![t.to_string()];
        record.extend(series.columns.iter().map(|c| c[row].to_string()));
        let _ = w.write_record(&record);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A lever in a few words: what it changes.
pub fn lever_title(l: &crate::advisor::Lever) -> String {
    use crate::advisor::LeverKind;
    let subject = l.subject.as_deref().unwrap_or("");
    match l.kind {
        LeverKind::AddIndex => format!("add the index on {}.{subject}", l.component),
        LeverKind::Batch => format!("batch the N+1 loop of {subject} into one query"),
        LeverKind::RetryBudget => format!("cap {}'s retries with a retry budget", l.component),
        LeverKind::UsePool => format!(
            "keep {}'s connections to {subject} in a pool instead of one per request",
            l.component
        ),
        LeverKind::GrowPool => format!("grow {}'s pool to {subject}", l.component),
        LeverKind::AddInstances => format!("add {} instances", l.component),
        LeverKind::DatabaseCores => format!("give {} more cores", l.component),
        LeverKind::SpreadKey => format!(
            "shard {} by a key that spreads evenly (not by a few giant owners)",
            l.component
        ),
        LeverKind::CallTimeout => format!("give {subject}'s call to {} a timeout", l.component),
        LeverKind::CapInFlight => format!(
            "cap {}'s requests in flight at what its memory holds",
            l.component
        ),
        LeverKind::ExternalSessions => {
            format!("keep {}'s sessions in a shared store", l.component)
        }
        LeverKind::ReadYourWrites => format!(
            "send {}'s reads by users who just wrote to the primary",
            l.component
        ),
        LeverKind::InvalidateOnWrite => format!(
            "delete {}'s entry when its key is written (invalidate on write)",
            l.component
        ),
        LeverKind::FailoverReplica => format!("give {} a replica to fail over to", l.component),
        LeverKind::FasterStartup => format!("start {} instances faster", l.component),
        LeverKind::AddPooler => format!(
            "put a transaction pooler in front of {} (PgBouncer)",
            l.component
        ),
        LeverKind::LimitRate => format!(
            "admit at {} what {subject} can serve, and reject the rest at once",
            l.component
        ),
        LeverKind::ShareCache => format!(
            "share one {} cache between the instances instead of a copy in each",
            l.component
        ),
        LeverKind::EdgeCache => format!("answer more at {}'s edge", l.component),
        LeverKind::EventLoop => format!(
            "serve {} from an event loop instead of a thread per request",
            l.component
        ),
        LeverKind::AppCores => format!("give each {} instance more cores", l.component),
        LeverKind::Offload => format!("move {subject}'s slow work to a job queue"),
        LeverKind::AddConsumers => format!("give {} more consumers", l.component),
    }
}

/// A count or a ratio, with the decimals its size deserves.
pub fn count_words(x: f64) -> String {
    if x.abs() >= 10.0 || x == x.round() {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// What a lever removes besides waiting, in words.
pub fn relief_words(r: &crate::advisor::Relief) -> String {
    use crate::advisor::Relief;
    match r {
        Relief::Failures {
            cause,
            before,
            after,
        } => format!("{cause} failures from {before:.0} to about {after:.0}"),
        Relief::SessionsLost { before, after } => {
            format!("sessions lost from {before:.0} to {after:.0}")
        }
        Relief::OwnWritesUnseen { before, after } => format!(
            "reads that may miss the user's own write from {before:.0} to {after:.0} \
             (others' recent writes can still read stale)"
        ),
        Relief::ScaleUpDelay { before, after } => format!(
            "new instances serve about {after:.0} s after load rises instead of {before:.0} s"
        ),
        Relief::Backlog { before, after } => {
            format!("jobs waiting from {before:.1} to about {after:.1} on average")
        }
        Relief::Misses { before, after } => {
            format!("cache misses from {before:.0} to about {after:.0} a second")
        }
        Relief::StaleCacheHits { before, after } => {
            format!("stale cache hits from {before:.0} to {after:.0}")
        }
        Relief::HotShard { before, after } => format!(
            "the busiest shard from {before:.2}× the average shard's load to about {after:.2}×"
        ),
        Relief::UserFailures { before, after } => {
            format!("users' failed requests from {before:.0} to about {after:.0}")
        }
        Relief::CallHeld {
            before_ms,
            after_ms,
        } => format!(
            "a slow call holds a thread at most {after_ms:.0} ms instead of up to \
             {before_ms:.0} ms; calls slower than that fail fast"
        ),
    }
}

/// A root cause of failures in words.
pub fn failure_words(f: &crate::advisor::Failure) -> String {
    use crate::advisor::FailureKind;
    let share = if f.share >= 0.001 {
        format!("{:.1}%", f.share * 100.0)
    } else {
        format!("{:.3}%", f.share * 100.0)
    };
    match f.what {
        FailureKind::ConnectionsRefused => format!(
            "{}: {:.0} connections refused ({share} of requests): the pools together may \
             open more than max_connections",
            f.resource, f.count
        ),
        FailureKind::OutOfMemory => format!(
            "{}: {:.0} requests failed out of memory ({share}): more requests in flight \
             than the instance's memory holds",
            f.resource, f.count
        ),
        FailureKind::PrimaryDown => format!(
            "{}: {:.0} queries failed while it was down ({share} of requests)",
            f.resource, f.count
        ),
        FailureKind::SessionsLost => format!(
            "{}: {:.0} users logged out ({share} of requests): their session lived on an \
             instance that died",
            f.resource, f.count
        ),
        FailureKind::InstancesDown => format!(
            "{}: {:.0} requests failed while its instances were down ({share} of requests)",
            f.resource, f.count
        ),
        FailureKind::StaleCacheReads => format!(
            "{}: {:.0} stale cache hits ({share} of hits): entries served after their key \
             was written, until their TTL ended",
            f.resource, f.count
        ),
        FailureKind::StaleReads => format!(
            "{}: {:.0} stale reads ({share} of replica reads): a replica answered before a \
             write reached it",
            f.resource, f.count
        ),
    }
}

/// A rate in requests per second, rounded to what its size deserves.
fn per_sec(x: f64) -> String {
    if !x.is_finite() {
        "no limit in sight".to_owned()
    } else if x >= 100.0 {
        format!("{x:.0} req/s")
    } else {
        format!("{x:.1} req/s")
    }
}

/// The advisor's first word, for the top of `run`'s report: what runs out first, the
/// diagnosis of the busiest tier, and the first lever that helps.
pub fn advice_verdict(a: &crate::advisor::Advice) -> String {
    let mut out = String::new();
    let o = &mut out;
    if let Some(f) = a.failures.first() {
        let _ = writeln!(o, "fails first: {}", failure_words(f));
    } else if let Some(first) = a.headroom.first() {
        let _ = write!(
            o,
            "runs out first: {} at {:.0}% (saturates at about {}",
            first.resource,
            first.utilization * 100.0,
            per_sec(first.saturates_at_per_sec)
        );
        if first.headroom.is_finite() {
            let _ = write!(o, ", {:.0}% above today's load", first.headroom * 100.0);
        }
        let _ = writeln!(o, ")");
    }
    for d in &a.diagnoses {
        let _ = writeln!(o, "{}", diagnosis_words(d));
    }
    match a.levers.iter().find(|l| l.helps()) {
        Some(l) => {
            let _ = writeln!(
                o,
                "first lever: {} ({}) — `bottleneck advise` predicts and verifies it",
                lever_title(l),
                l.changes.join(" ")
            );
        }
        None if a
            .headroom
            .first()
            .is_some_and(|h| h.utilization < crate::advisor::PRESSED) =>
        {
            let _ = writeln!(o, "nothing is near its limit: no lever needed at this load");
        }
        None => {
            let _ = writeln!(o, "no lever the advisor knows helps here");
        }
    }
    out
}

/// A tier's diagnosis as an engineer would say it.
pub fn diagnosis_words(d: &crate::advisor::Diagnosis) -> String {
    use crate::advisor::Bound;
    let chain: Vec<String> = d
        .chain
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let share = l.share.map(|s| format!("{:.0}% of their time", s * 100.0));
            let util = l.utilization.map(|u| format!("{:.0}% busy", u * 100.0));
            let detail: Vec<String> = [share, util].into_iter().flatten().collect();
            let lead = if k == 0 { "wait for" } else { "which wait for" };
            format!("{lead} {} ({})", l.resource, detail.join(", "))
        })
        .collect();
    match d.bound {
        Bound::Compute => format!(
            "{}: compute-bound — its CPU is {:.0}% busy and requests queue for a core; \
             latency grows with load",
            d.tier,
            d.cpu_util * 100.0
        ),
        Bound::Concurrency => format!(
            "{}: concurrency-bound — CPU {:.0}% busy, but its requests {}",
            d.tier,
            d.cpu_util * 100.0,
            chain.join(", ")
        ),
        Bound::Unsaturated => format!(
            "{}: not saturated (CPU {:.0}%); most of its requests' time is {} ({:.0}%)",
            d.tier,
            d.cpu_util * 100.0,
            crate::metrics::breakdown::Phase::of_name(&d.largest_phase)
                .map_or(d.largest_phase.as_str(), |p| p.label()),
            d.largest_share * 100.0
        ),
    }
}

/// The advice as a table: what runs out first and next, the diagnosis per tier, and
/// the levers with their predicted and measured effects.
pub fn advice_table(a: &crate::advisor::Advice) -> String {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(
        o,
        "{} — {} served, mean {:.2} ms, p99 {:.2} ms",
        if a.scenario.is_empty() {
            "scenario"
        } else {
            &a.scenario
        },
        per_sec(a.load_per_sec),
        a.mean_ms,
        a.p99_ms
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "what runs out first as load grows (bottleneck law: saturates at today's load ÷ \
         utilisation)"
    );
    for h in a.headroom.iter().take(6) {
        let room = if h.headroom.is_finite() {
            format!("{:>+6.0}%", h.headroom * 100.0)
        } else {
            "      ".to_owned()
        };
        let _ = writeln!(
            o,
            "  {:<32} {:>5.1}%  saturates at {:>18} {room}  {}",
            truncate(&h.resource, 32),
            h.utilization * 100.0,
            per_sec(h.saturates_at_per_sec),
            h.kind
        );
    }
    if let [first, next, ..] = a.headroom.as_slice() {
        let _ = writeln!(
            o,
            "  {} runs out first; next to go: {} at {}",
            first.resource,
            next.resource,
            per_sec(next.saturates_at_per_sec)
        );
    }
    if let Some(c) = &a.closed_loop {
        let _ = writeln!(
            o,
            "  a closed loop of {} users thinking {:.0} ms: mean value analysis {} {:.1} req/s \
             and {:.2} ms per request; simulated {:.1} req/s and {:.2} ms",
            c.users,
            c.think_ms,
            if c.exact { "gives" } else { "gives about" },
            c.throughput_per_sec,
            c.response_ms,
            c.simulated_throughput_per_sec,
            c.simulated_response_ms
        );
    }
    if !a.failures.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "what fails, at its root");
        for f in &a.failures {
            let _ = writeln!(o, "  {}", failure_words(f));
        }
    }
    if !a.diagnoses.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "diagnosis");
        for d in &a.diagnoses {
            let _ = writeln!(o, "  {}", diagnosis_words(d));
        }
    }
    if !a.levers.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "levers (least disruptive first; predicted by queueing theory{})",
            if a.replications > 0 {
                format!(
                    ", measured over {} replications on common random numbers",
                    a.replications
                )
            } else {
                String::new()
            }
        );
        for (k, l) in a.levers.iter().enumerate() {
            let cost = if l.cost_change_per_hour.abs() < 0.005 {
                "no cost change".to_owned()
            } else {
                format!("{:+.2} $/h", l.cost_change_per_hour)
            };
            let _ = writeln!(
                o,
                "  {}. {} ({}) — {cost}",
                k + 1,
                lever_title(l),
                l.changes.join(" ")
            );
            let p = &l.predicted;
            let after = match p.mean_ms {
                Some(m) => format!("mean from {:.2} to about {:.2} ms", a.mean_ms, m),
                None => "something would still be saturated".to_owned(),
            };
            let relief = p.relief.as_ref().map(relief_words);
            let verdict = if let (true, Some(r)) = (p.helps, &relief) {
                r.clone()
            } else if p.helps {
                format!(
                    "{after}; runs out next: {} at about {}",
                    p.bottleneck,
                    per_sec(p.saturates_at_per_sec)
                )
            } else if p.unhelpful == Some(crate::advisor::Unhelpful::NotNeeded) {
                format!(
                    "not needed now: nothing is near its limit and latency barely moves \
                     ({after}); it would move the limit to {} at about {}",
                    p.bottleneck,
                    per_sec(p.saturates_at_per_sec)
                )
            } else {
                format!(
                    "will not help: {} still runs out first (at about {}); {after}",
                    p.bottleneck,
                    per_sec(p.saturates_at_per_sec)
                )
            };
            let _ = writeln!(o, "       predicted: {verdict}");
            if let Some(v) = &l.verified {
                let _ = writeln!(
                    o,
                    "       measured:  mean from {:.2} to {:.2} ms, {}",
                    v.mean_ms.a.mean,
                    v.mean_ms.b.mean,
                    difference_words(&v.mean_ms, "ms", 1.0),
                );
                let _ = writeln!(
                    o,
                    "                  p99 from {:.1} to {:.1} ms, {}",
                    v.p99_ms.a.mean,
                    v.p99_ms.b.mean,
                    difference_words(&v.p99_ms, "ms", 1.0),
                );
                if let Some(d) = &v.relieved {
                    let _ = writeln!(
                        o,
                        "                  what it removes: from {} to {}, {}",
                        count_words(d.a.mean),
                        count_words(d.b.mean),
                        difference_words(d, "", 1.0),
                    );
                }
                let failed = &v.user_error_rate;
                if failed.a.mean > 0.0005 || failed.b.mean > 0.0005 {
                    let _ = writeln!(
                        o,
                        "                  users' requests failing from {:.1}% to {:.1}%, {}",
                        failed.a.mean * 100.0,
                        failed.b.mean * 100.0,
                        difference_words(failed, "points", 100.0),
                    );
                }
                if v.helps != l.predicted.helps {
                    let _ = writeln!(
                        o,
                        "                  {}",
                        if v.helps {
                            "measured, it helps after all"
                        } else {
                            "measured, it does not help: the prediction missed what the run did"
                        }
                    );
                }
            }
        }
    }
    out
}

/// The advice as JSON.
pub fn advice_json(a: &crate::advisor::Advice) -> String {
    let mut text = serde_json::to_string_pretty(a).unwrap_or_default();
    text.push('\n');
    text
}
