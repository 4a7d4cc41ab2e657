//! Live charts over the simulation's time series: throughput (offered, served, errors by
//! cause), latency percentiles (all endpoints or one), utilisation and queues of the
//! components chosen, then a chart for each component whose lesson has a series of its
//! own ([`model::charts`]), over a chosen window of simulated time. Every chart marks the
//! run's changes and faults on its time axis (hover a marker: what happened), and can show
//! a kept run as a faded trace beside the current one. Series are found by name, so a new
//! component's series appear without chart code.

pub mod model;

use std::collections::BTreeSet;

use egui_plot::{GridInput, GridMark, Plot, PlotPoints};

use crate::metrics::SeriesSet;
use crate::model::Scenario;
use crate::sim::math;
use model::{Baseline, Chart, Line, Marker, MarkerKind, is_queue, is_utilisation};

/// Windows of simulated time the charts can show (seconds; infinite: the whole run).
pub const WINDOWS: [(f64, &str); 4] = [
    (30.0, "30 s"),
    (120.0, "2 min"),
    (600.0, "10 min"),
    (f64::INFINITY, "whole run"),
];

/// What the charts show.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ChartChoice {
    pub window_secs: f64,
    /// Latency of one endpoint, or of all (`None`).
    pub endpoint: Option<String>,
    /// Components whose utilisation and queues are drawn (`None`: all of them).
    pub components: Option<BTreeSet<String>>,
    /// Errors split by cause.
    pub causes: bool,
}

impl Default for ChartChoice {
    fn default() -> Self {
        Self {
            window_secs: 120.0,
            endpoint: None,
            components: None,
            causes: true,
        }
    }
}

/// What the charts draw besides the current run's series.
#[derive(Clone, Copy, Default)]
pub struct Context<'a> {
    /// The current run's changes and faults.
    pub markers: &'a [Marker],
    /// A run kept to compare with, drawn faded.
    pub baseline: Option<&'a Baseline>,
}

/// What the last frame drew, for tests and for what the window says about the charts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Drawn {
    /// Each chart's title (with its unit).
    pub titles: Vec<String>,
    /// Markers drawn on each chart (the current run's and the kept run's).
    pub markers: usize,
    /// Lines of the kept run drawn.
    pub ghost_lines: usize,
    /// Charts that said they had no data, with what they said.
    pub notes: Vec<String>,
}

/// Height of the plots of the first row, and of the components' charts below.
const HEIGHT: f32 = 140.0;
const SMALL_HEIGHT: f32 = 90.0;
/// The narrowest a chart gets before the row scrolls sideways.
const MIN_WIDTH: f32 = 240.0;

/// The charts panel.
pub fn panel(
    ui: &mut egui::Ui,
    set: &SeriesSet,
    choice: &mut ChartChoice,
    scenario: &Scenario,
    context: &Context<'_>,
) -> Drawn {
    let scopes: Vec<String> = set
        .scopes()
        .into_iter()
        .filter(|s| {
            set.names
                .iter()
                .any(|(sc, m)| sc == s && (is_utilisation(m) || is_queue(m)))
        })
        .map(str::to_owned)
        .collect();
    let endpoints: Vec<String> = set
        .scopes()
        .into_iter()
        .filter(|s| set.column(s, "p99_ms").is_some())
        .map(str::to_owned)
        .collect();

    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Window");
        egui::ComboBox::from_id_salt("chart window")
            .selected_text(
                WINDOWS
                    .iter()
                    .find(|(w, _)| *w == choice.window_secs)
                    .map_or("custom", |(_, l)| l),
            )
            .show_ui(ui, |ui| {
                for (w, label) in WINDOWS {
                    ui.selectable_value(&mut choice.window_secs, w, label);
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text("How much simulated time the charts show");
        ui.separator();
        let label = ui.label("Latency of");
        egui::ComboBox::from_id_salt("chart endpoint")
            .selected_text(choice.endpoint.as_deref().unwrap_or("all endpoints"))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut choice.endpoint, None, "all endpoints");
                for e in &endpoints {
                    ui.selectable_value(&mut choice.endpoint, Some(e.clone()), e);
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text("The percentiles of all requests, or of one endpoint's");
        ui.separator();
        let shown = choice.components.as_ref().map_or(scopes.len(), |c| {
            scopes.iter().filter(|s| c.contains(*s)).count()
        });
        ui.menu_button(format!("Components ({shown}/{})", scopes.len()), |ui| {
            for s in &scopes {
                let mut on = choice.components.as_ref().is_none_or(|c| c.contains(s));
                if ui.checkbox(&mut on, s).changed() {
                    let set = choice
                        .components
                        .get_or_insert_with(|| scopes.iter().cloned().collect());
                    if on {
                        set.insert(s.clone());
                    } else {
                        set.remove(s);
                    }
                }
            }
        })
        .response
        .on_hover_text("Which components' charts, utilisation and queues to draw");
        ui.checkbox(&mut choice.causes, "errors by cause");
        if let Some(b) = context.baseline {
            ui.separator();
            ui.label(
                egui::RichText::new(format!("- - - {}", b.name))
                    .small()
                    .color(GHOST),
            )
            .on_hover_text(
                "The kept run, faded, over the same simulated seconds as this one \
                 (View ▸ Forget the kept run)",
            );
        }
    });

    let chosen = choice.components.clone();
    let shown = move |scope: &str| {
        let root = scope.split('#').next().unwrap_or(scope);
        chosen.as_ref().is_none_or(|c| c.contains(root))
    };
    let all = model::charts(
        set,
        scenario,
        &model::Choice {
            window_secs: choice.window_secs,
            endpoint: choice.endpoint.as_deref(),
            shown: &shown,
            causes: choice.causes,
        },
    );
    let mut drawn = Drawn::default();
    let (first_row, second_row) = all.split_at(all.len().min(4));
    row(
        ui,
        "main charts",
        first_row,
        HEIGHT,
        set,
        choice.window_secs,
        context,
        &mut drawn,
    );
    if !second_row.is_empty() {
        row(
            ui,
            "component charts",
            second_row,
            SMALL_HEIGHT,
            set,
            choice.window_secs,
            context,
            &mut drawn,
        );
    }
    if let Some(b) = context.baseline {
        before_and_after(ui, &b.series, set, choice.window_secs, &b.name);
    }
    drawn
}

/// Charts side by side, sharing the width (scrolling sideways below [`MIN_WIDTH`] each).
#[allow(clippy::too_many_arguments)]
fn row(
    ui: &mut egui::Ui,
    id: &str,
    charts: &[Chart],
    height: f32,
    set: &SeriesSet,
    window_secs: f64,
    context: &Context<'_>,
    drawn: &mut Drawn,
) {
    let spacing = ui.spacing().item_spacing.x;
    let n = charts.len() as f32;
    let width = ((ui.available_width() - spacing * (n - 1.0)) / n).max(MIN_WIDTH);
    egui::ScrollArea::horizontal().id_salt(id).show(ui, |ui| {
        ui.horizontal_top(|ui| {
            for chart in charts {
                draw(ui, chart, set, window_secs, context, [width, height], drawn);
            }
        });
    });
}

/// The colour of series drawn from a kept run's trace and of its markers.
const GHOST: egui::Color32 = egui::Color32::from_gray(140);

/// A series' colour: fixed for the figures every run has, else chosen by its name, so a
/// series keeps its colour from one scenario to the next.
pub fn colour(line: &Line) -> egui::Color32 {
    use egui::Color32 as C;
    let fixed = match (line.scope.is_empty(), line.metric.as_str()) {
        (true, "offered_per_sec") => Some(C::from_rgb(120, 144, 156)),
        (true, "user_requests_per_sec") => Some(C::from_rgb(66, 133, 244)),
        (true, "retries_per_sec") => Some(C::from_rgb(255, 152, 0)),
        (true, "ok_per_sec") => Some(C::from_rgb(67, 160, 71)),
        (true, "errors_per_sec") => Some(C::from_rgb(229, 57, 53)),
        (_, "p50_ms") => Some(C::from_rgb(66, 133, 244)),
        (_, "p95_ms") => Some(C::from_rgb(255, 152, 0)),
        (_, "p99_ms") => Some(C::from_rgb(229, 57, 53)),
        _ => None,
    };
    fixed.unwrap_or_else(|| PALETTE[stable_hash(&line.colour_key()) % PALETTE.len()])
}

/// Distinct colours readable on light and dark backgrounds.
const PALETTE: [egui::Color32; 12] = [
    egui::Color32::from_rgb(31, 119, 180),
    egui::Color32::from_rgb(255, 127, 14),
    egui::Color32::from_rgb(44, 160, 44),
    egui::Color32::from_rgb(214, 39, 40),
    egui::Color32::from_rgb(148, 103, 189),
    egui::Color32::from_rgb(140, 86, 75),
    egui::Color32::from_rgb(227, 119, 194),
    egui::Color32::from_rgb(188, 189, 34),
    egui::Color32::from_rgb(23, 190, 207),
    egui::Color32::from_rgb(174, 199, 232),
    egui::Color32::from_rgb(255, 187, 120),
    egui::Color32::from_rgb(152, 223, 138),
];

/// FNV-1a: the same name gives the same number on every machine and in every build.
fn stable_hash(text: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as usize
}

fn marker_colour(kind: MarkerKind) -> egui::Color32 {
    match kind {
        MarkerKind::Change => egui::Color32::from_rgb(66, 133, 244),
        MarkerKind::Fault => egui::Color32::from_rgb(229, 57, 53),
        MarkerKind::Restart => GHOST,
    }
}

/// The simulated seconds a chart shows: the last `window_secs` of the run, or the first
/// `window_secs` until the run has reached them, so the axis does not stretch as it runs.
fn x_range(set: &SeriesSet, window_secs: f64) -> (f64, f64) {
    let t_end = set.times.last().copied().unwrap_or(0.0);
    if window_secs.is_finite() {
        if t_end > window_secs {
            (t_end - window_secs, t_end)
        } else {
            (0.0, window_secs)
        }
    } else {
        (0.0, t_end.max(10.0))
    }
}

fn points(set: &SeriesSet, line: &Line, (lo, hi): (f64, f64)) -> Vec<[f64; 2]> {
    let Some(values) = set.column(&line.scope, &line.metric) else {
        return Vec::new();
    };
    let first = set.times.partition_point(|t| *t < lo);
    let last = set.times.partition_point(|t| *t <= hi);
    set.times[first..last]
        .iter()
        .zip(&values[first..last])
        .filter(|(_, v)| v.is_finite())
        .map(|(t, v)| [*t, *v])
        .collect()
}

/// One chart: its title with the unit its values are scaled to, the plot (lines, the
/// kept run's lines faded and dashed, markers), and its legend below so it covers no data.
fn draw(
    ui: &mut egui::Ui,
    chart: &Chart,
    set: &SeriesSet,
    window_secs: f64,
    context: &Context<'_>,
    [width, height]: [f32; 2],
    drawn: &mut Drawn,
) {
    let range = x_range(set, window_secs);
    // Each line's points once, for this run and the kept one; scaled to the unit their
    // largest value reads best in.
    let of = |set: &SeriesSet| -> Vec<Vec<[f64; 2]>> {
        chart.lines.iter().map(|l| points(set, l, range)).collect()
    };
    let mut current = of(set);
    let mut ghost = context.baseline.map(|b| of(&b.series)).unwrap_or_default();
    let largest = current
        .iter()
        .chain(&ghost)
        .flatten()
        .map(|[_, y]| *y)
        .fold(0.0, f64::max);
    let (factor, unit) = chart.unit.scale(largest);
    for [_, y] in current.iter_mut().chain(&mut ghost).flatten() {
        *y *= factor;
    }
    let title = if unit.is_empty() {
        chart.title.clone()
    } else {
        format!("{} ({unit})", chart.title)
    };
    let has_data = current.iter().any(|p| !p.is_empty());
    let markers: Vec<&Marker> = context
        .markers
        .iter()
        .chain(context.baseline.iter().flat_map(|b| &b.markers))
        .filter(|m| m.at_secs >= range.0 && m.at_secs <= range.1)
        .collect();
    drawn.titles.push(title.clone());
    drawn.markers += markers.len();

    ui.vertical(|ui| {
        ui.set_width(width);
        ui.label(egui::RichText::new(&title).strong());
        let upper = match chart.unit {
            model::Unit::Share => 100.0,
            model::Unit::BreakerState => 2.0,
            _ => 1.0,
        };
        let response = Plot::new(&chart.id)
            .width(width)
            .height(height)
            .include_x(range.0)
            .include_x(range.1)
            .include_y(0.0)
            // A share or a state always shows its whole scale; an empty chart a unit one.
            .include_y(
                if !has_data || matches!(chart.unit, model::Unit::Share | model::Unit::BreakerState)
                {
                    upper
                } else {
                    0.0
                },
            )
            .allow_scroll(false)
            .allow_zoom(false)
            .allow_drag(false)
            .show_x(false)
            .x_grid_spacer(nice_grid)
            .y_grid_spacer(nice_grid)
            // egui_plot hides x labels less than 60 points apart: a narrow chart then has
            // none. Ours are round numbers a few characters wide; a wide chart still labels
            // only its major lines, about a twelfth of its width apart or more.
            .custom_x_axes(vec![
                egui_plot::AxisHints::new_x()
                    .label_spacing({
                        let least = (width / 12.0).max(30.0);
                        least..=least + 10.0
                    })
                    .formatter(|m, _| grid_label(m)),
            ])
            .custom_y_axes(vec![
                egui_plot::AxisHints::new_y()
                    .label_spacing(16.0..=24.0)
                    .formatter(|m, _| grid_label(m)),
            ])
            .show(ui, |plot_ui| {
                for (line, p) in chart.lines.iter().zip(ghost) {
                    if !p.is_empty() {
                        drawn.ghost_lines += 1;
                        plot_ui.line(
                            egui_plot::Line::new(
                                format!("{} (kept)", line.label),
                                PlotPoints::from(p),
                            )
                            .color(colour(line).gamma_multiply(0.45))
                            .style(egui_plot::LineStyle::dashed_loose())
                            .allow_hover(false),
                        );
                    }
                }
                for (line, p) in chart.lines.iter().zip(current) {
                    plot_ui.line(
                        egui_plot::Line::new(line.label.as_str(), PlotPoints::from(p))
                            .color(colour(line))
                            .width(if line.emphasis { 2.5 } else { 1.5 }),
                    );
                }
                for m in &markers {
                    plot_ui.vline(
                        egui_plot::VLine::new("", m.at_secs)
                            .color(marker_colour(m.kind))
                            .style(egui_plot::LineStyle::dashed_loose())
                            .width(1.0),
                    );
                }
                // The marker under the pointer, within a few pixels.
                let tolerance = (range.1 - range.0) * 6.0 / f64::from(width);
                plot_ui.pointer_coordinate().and_then(|p| {
                    markers
                        .iter()
                        .filter(|m| (m.at_secs - p.x).abs() <= tolerance)
                        .min_by(|a, b| (a.at_secs - p.x).abs().total_cmp(&(b.at_secs - p.x).abs()))
                        .map(|m| format!("{:.1} s: {}", m.at_secs, m.text))
                })
            });
        if let Some(text) = response.inner {
            response.response.on_hover_text(text);
        }
        if !has_data {
            drawn.notes.push(format!("{title}: {}", chart.empty));
        } else if let Some(since) = silent_since(set, chart) {
            // The lines end: say so rather than let them stop silently.
            let note = format!("{} since {since:.0} s", chart.empty);
            ui.label(
                egui::RichText::new(&note)
                    .small()
                    .color(ui.visuals().warn_fg_color),
            );
            drawn.notes.push(format!("{title}: {note}"));
        }
        legend(ui, chart, has_data);
    });
}

/// When every line of `chart` has had no value for at least the last two points: the
/// time of the last point with one (e.g. no successful responses since the database died).
fn silent_since(set: &SeriesSet, chart: &Chart) -> Option<f64> {
    let columns: Vec<&[f64]> = chart
        .lines
        .iter()
        .filter_map(|l| set.column(&l.scope, &l.metric))
        .collect();
    let n = set.times.len();
    if columns.is_empty() || n < 2 {
        return None;
    }
    let any_at = |i: usize| columns.iter().any(|c| c[i].is_finite());
    if any_at(n - 1) || any_at(n - 2) {
        return None;
    }
    let last = (0..n).rev().find(|&i| any_at(i))?;
    Some(set.times[last])
}

/// The chart's lines by colour, below it (a legend inside would cover the newest data).
fn legend(ui: &mut egui::Ui, chart: &Chart, has_data: bool) {
    // At most two lines; a longer legend scrolls.
    egui::ScrollArea::vertical()
        .id_salt(("legend", &chart.id))
        .max_height(28.0)
        .min_scrolled_height(28.0)
        .show(ui, |ui| legend_items(ui, chart, has_data));
}

fn legend_items(ui: &mut egui::Ui, chart: &Chart, has_data: bool) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 6.0;
        if !has_data {
            ui.label(egui::RichText::new(chart.empty).small().italics());
            return;
        }
        for line in &chart.lines {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 10.0), egui::Sense::hover());
            ui.painter().hline(
                rect.x_range(),
                rect.center().y,
                egui::Stroke::new(if line.emphasis { 3.0 } else { 2.0 }, colour(line)),
            );
            ui.label(egui::RichText::new(&line.label).small());
        }
    });
}

/// The kept run against this one over the same simulated seconds.
fn before_and_after(
    ui: &mut egui::Ui,
    kept: &SeriesSet,
    now: &SeriesSet,
    window_secs: f64,
    name: &str,
) {
    let (from, to, rows) = model::compare(kept, now, window_secs);
    if to <= from {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.label(
            egui::RichText::new(format!("{from:.0}–{to:.0} s, {name} → now:"))
                .small()
                .strong(),
        );
        for r in rows {
            let (factor, unit) = r.unit.scale(r.before.max(r.now));
            let show = |x: f64| {
                if x.is_finite() {
                    format!("{:.1}", x * factor)
                } else {
                    "–".to_owned()
                }
            };
            ui.label(
                egui::RichText::new(format!(
                    "{} {} → {} {unit}",
                    r.figure,
                    show(r.before),
                    show(r.now)
                ))
                .small(),
            );
            ui.separator();
        }
    });
}

/// Grid lines at round values (1, 2 or 5 × 10ⁿ) with about four labelled lines per
/// axis, so a chart always reads its scale (egui_plot's default labels only powers of ten).
pub fn nice_grid(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return Vec::new();
    }
    // About four labelled lines, at least 24 points apart (`base_step_size` is the value
    // of 8 points): a short chart gets fewer, so its labels do not crowd out.
    let mut major = nice_step(span / 4.0);
    while input.base_step_size.is_finite() && major < 3.0 * input.base_step_size {
        major = next_nice_step(major);
    }
    let minor = major / 5.0;
    let first = (lo / minor).ceil() as i64;
    let last = (hi / minor).floor() as i64;
    if last - first > 1_000 {
        return Vec::new();
    }
    (first..=last)
        .map(|k| {
            let value = k as f64 * minor;
            let step_size = if k % 5 == 0 { major } else { minor };
            GridMark { value, step_size }
        })
        .collect()
}

/// A grid label with as many decimals as its step needs (0.05 → two, 200 → none).
pub fn grid_label(mark: GridMark) -> String {
    let decimals = (-math::log10(mark.step_size) - 1e-9).ceil().max(0.0) as usize;
    format!("{:.*}", decimals, mark.value)
}

/// The round step after `step` (1 → 2 → 5 → 10).
fn next_nice_step(step: f64) -> f64 {
    let base = math::powf(10f64, math::log10(step).floor());
    match (step / base).round() as u32 {
        1 => 2.0 * base,
        2 => 5.0 * base,
        _ => 10.0 * base,
    }
}

/// The round step (1, 2 or 5 × 10ⁿ) nearest to `raw`.
fn nice_step(raw: f64) -> f64 {
    let exp = math::log10(raw).floor();
    let base = math::powf(10f64, exp);
    let m = raw / base;
    let nice = if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * base
}

/// Small charts of one component's series (utilisation and hit ratio in %, queues), for
/// hover tips on the canvas.
pub fn mini(ui: &mut egui::Ui, set: &SeriesSet, scope: &str) {
    if set.is_empty() {
        return;
    }
    let ours = |s: &str| s == scope || s.starts_with(&format!("{scope}#"));
    let lines = |f: &dyn Fn(&str) -> bool| -> Vec<Line> {
        set.names
            .iter()
            .filter(|(s, m)| ours(s) && f(m))
            .map(|(s, m)| Line {
                scope: s.clone(),
                metric: m.clone(),
                label: format!("{s} {}", m.replace('_', " ")),
                emphasis: false,
            })
            .collect()
    };
    let context = Context::default();
    let mut drawn = Drawn::default();
    for (id, title, unit, lines) in [
        (
            "busy",
            "busy, last 2 minutes",
            model::Unit::Share,
            lines(&|m| is_utilisation(m) || m == "hit_ratio"),
        ),
        ("waiting", "waiting", model::Unit::Count, lines(&is_queue)),
    ] {
        if lines.is_empty() {
            continue;
        }
        let chart = Chart {
            id: format!("mini {scope} {id}"),
            title: title.to_owned(),
            unit,
            lines,
            empty: "no data yet",
        };
        draw(ui, &chart, set, 120.0, &context, [320.0, 80.0], &mut drawn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_lines_fall_on_round_values() {
        let marks = nice_grid(GridInput {
            bounds: (0.0, 870.0),
            base_step_size: 1.0,
        });
        let labelled: Vec<f64> = marks
            .iter()
            .filter(|m| m.step_size == 200.0)
            .map(|m| m.value)
            .collect();
        assert_eq!(labelled, vec![0.0, 200.0, 400.0, 600.0, 800.0]);
        assert!(
            nice_grid(GridInput {
                bounds: (1.0, 1.0),
                base_step_size: 1.0
            })
            .is_empty()
        );
    }

    #[test]
    fn a_latency_chart_whose_lines_stop_says_since_when() {
        let mut set = SeriesSet::new(vec![
            ("".into(), "p50_ms".into()),
            ("".into(), "p99_ms".into()),
        ]);
        let chart = Chart {
            id: "latency".into(),
            title: "Latency".into(),
            unit: model::Unit::Millis,
            lines: vec![
                Line {
                    scope: "".into(),
                    metric: "p50_ms".into(),
                    label: "p50".into(),
                    emphasis: false,
                },
                Line {
                    scope: "".into(),
                    metric: "p99_ms".into(),
                    label: "p99".into(),
                    emphasis: false,
                },
            ],
            empty: "no successful responses",
        };
        for t in 1..=5 {
            set.push(f64::from(t), &[2.0, 9.0]);
        }
        assert_eq!(silent_since(&set, &chart), None);
        set.push(6.0, &[f64::NAN, f64::NAN]);
        assert_eq!(
            silent_since(&set, &chart),
            None,
            "one empty second is noise"
        );
        set.push(7.0, &[f64::NAN, f64::NAN]);
        assert_eq!(silent_since(&set, &chart), Some(5.0));
        set.push(8.0, &[f64::NAN, 30.0]);
        assert_eq!(silent_since(&set, &chart), None);
    }

    #[test]
    fn a_short_chart_gets_fewer_labelled_lines_each_far_enough_apart() {
        // 0–100 on a chart 80 points tall: a value of 10 per 8 points.
        let labelled: Vec<f64> = nice_grid(GridInput {
            bounds: (0.0, 100.0),
            base_step_size: 10.0,
        })
        .iter()
        .filter(|m| m.step_size == 50.0)
        .map(|m| m.value)
        .collect();
        assert_eq!(labelled, vec![0.0, 50.0, 100.0]);
        assert_eq!(next_nice_step(0.5), 1.0);
        assert_eq!(next_nice_step(2_000.0), 5_000.0);
    }
}
