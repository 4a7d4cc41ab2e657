//! The capacity curve and the table of points: p50/p95/p99 latency with their 95 %
//! intervals against the varied value, the objectives' latency bounds, each point
//! coloured by how it fares, the capacity bracket and the knee; under it one row per
//! point with an Apply button.

use egui::Color32;
use egui_plot::{
    Corner, GridInput, GridMark, HLine, Legend, Line, LineStyle, MarkerShape, Plot, PlotPoint,
    Points, Polygon, Text, VLine,
};

use crate::experiment::sweep::Point;
use crate::model::{Objective, Slo};

use super::results::{Fares, Results, Turn, short};
use crate::ui::charts::{grid_label, nice_grid};

/// Label of each point's Apply button (tests find them by it).
pub const APPLY: &str = "Apply";

/// The percentiles drawn, with their colours.
const PERCENTILES: [(&str, &str, Color32); 3] = [
    (
        "p50",
        "overall.latency_ms.p50",
        Color32::from_rgb(90, 160, 230),
    ),
    (
        "p95",
        "overall.latency_ms.p95",
        Color32::from_rgb(170, 120, 230),
    ),
    (
        "p99",
        "overall.latency_ms.p99",
        Color32::from_rgb(235, 130, 50),
    ),
];

/// Colours of the second axis's curves.
const PALETTE: [Color32; 6] = [
    Color32::from_rgb(235, 130, 50),
    Color32::from_rgb(90, 160, 230),
    Color32::from_rgb(170, 120, 230),
    Color32::from_rgb(60, 180, 160),
    Color32::from_rgb(220, 90, 140),
    Color32::from_rgb(180, 170, 60),
];

/// One objective's verdict in a line, for a tooltip: `p99 … below 200 ms: Met (117.6 ±
/// 1.5)`.
pub fn verdict_line(v: &crate::experiment::Verdict) -> String {
    let figure = v.estimate.map_or("not measured".to_owned(), |e| {
        format!("{:.4} ± {:.4}", e.mean, e.half_width)
    });
    format!(
        "{}: {:?} ({figure}){}",
        v.objective,
        v.decision,
        v.note.as_ref().map_or(String::new(), |n| format!(", {n}"))
    )
}

pub fn fares_color(f: Fares) -> Color32 {
    match f {
        Fares::Met => Color32::from_rgb(60, 180, 75),
        Fares::Breached => Color32::from_rgb(230, 60, 50),
        Fares::Undecided => Color32::from_rgb(240, 190, 40),
        Fares::Unjudged => Color32::GRAY,
    }
}

/// One curve: its name and colour, and its points' x, mean and half-width.
struct Curve {
    name: String,
    color: Color32,
    points: Vec<(f64, f64, f64)>,
}

fn curves(r: &Results) -> Vec<Curve> {
    let figure = |p: &Point, path: &str| {
        p.replicated
            .get(path)
            .map(|e| (r.x_of(p), e.mean, e.half_width))
    };
    if r.plan.axes.len() == 1 {
        PERCENTILES
            .iter()
            .map(|(name, path, color)| Curve {
                name: (*name).to_owned(),
                color: *color,
                points: r.points.iter().filter_map(|p| figure(p, path)).collect(),
            })
            .collect()
    } else {
        // One p99 curve per value of the second axis.
        let mut out: Vec<Curve> = Vec::new();
        for p in &r.points {
            let Some((axis, value)) = p.at.get(1) else {
                continue;
            };
            let name = format!("p99 at {axis} = {value}");
            let i = match out.iter().position(|c| c.name == name) {
                Some(i) => i,
                None => {
                    out.push(Curve {
                        name,
                        color: PALETTE[out.len() % PALETTE.len()],
                        points: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            if let Some(xy) = figure(p, "overall.latency_ms.p99") {
                out[i].points.push(xy);
            }
        }
        out
    }
}

/// The x axis's title.
fn x_title(r: &Results) -> String {
    match (r.plan.axes.first(), r.base_rate()) {
        (Some(_), Some(rate)) if r.by_load() => {
            format!("load factor (1× = {rate:.0} req/s offered)")
        }
        (Some(_), None) if r.by_load() => "load factor (1× = the scenario's load)".to_owned(),
        (Some(a), _) => a.name().to_owned(),
        (None, _) => String::new(),
    }
}

/// An objective's bound in a few words: `p99 < 200 ms (all)`.
fn bound_name(slo: &Slo) -> String {
    let of = slo.endpoint.as_deref().unwrap_or("all");
    match slo.objective {
        Objective::Latency {
            percentile,
            below_ms,
        } => format!("{} < {} ms ({of})", percentile.field(), short(below_ms, 3)),
        _ => slo.describe(),
    }
}

/// Draws the curve; `plain` leaves out what hovering adds (for a picture). Returns the
/// rectangle it covers.
pub fn plot_ui(ui: &mut egui::Ui, r: &Results, plain: bool, height: f32) -> egui::Rect {
    let numeric = r.numeric_x();
    let labels = r.first_axis_values().to_vec();
    let by_load = r.by_load();
    let mut plot = Plot::new("experiment curve")
        .height(height)
        .legend(
            Legend::default()
                // Where the curves are not: a load curve rises to the right, a curve
                // over more resources falls.
                .position(if by_load {
                    Corner::RightBottom
                } else {
                    Corner::RightTop
                })
                .text_style(egui::TextStyle::Small)
                .background_alpha(0.75),
        )
        .include_y(0.0)
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_double_click_reset(false)
        .x_axis_label(x_title(r))
        .y_axis_label("latency (ms)")
        .y_grid_spacer(nice_grid)
        .y_axis_formatter(|m, _| grid_label(m))
        .show_x(!plain)
        .show_y(!plain)
        .show_crosshair(!plain);
    if numeric {
        plot = plot.x_grid_spacer(nice_grid).x_axis_formatter(move |m, _| {
            if by_load {
                format!("{}×", grid_label(m))
            } else {
                grid_label(m)
            }
        });
    } else {
        let n = labels.len();
        plot = plot
            .x_grid_spacer(move |_: GridInput| {
                (0..n)
                    .map(|i| GridMark {
                        value: i as f64,
                        step_size: 1.0,
                    })
                    .collect()
            })
            .x_axis_formatter(move |m, _| {
                let i = m.value.round();
                if (m.value - i).abs() < 1e-9 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .include_x(-0.3)
            .include_x(n as f64 - 0.7);
    }
    let curves = curves(r);
    let y_top = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|(_, m, h)| m + h))
        .fold(0.0f64, f64::max);
    let gray = ui.visuals().text_color();
    let response = plot.show(ui, |plot_ui| {
        // The capacity: refined, or the grid's bracket so far.
        let band = r
            .capacity
            .as_ref()
            .map(|c| (c.met, c.not_met, "capacity"))
            .or_else(|| r.bracket().map(|(a, b)| (a, b, "capacity (grid)")));
        if let Some((met, not_met, what)) = band {
            // A band over the whole height (a polygon: a span would print its name in it).
            let top = y_top.max(1.0) * 1.05;
            plot_ui.polygon(
                Polygon::new(
                    format!("{what}: {}×–{}×", short(met, 2), short(not_met, 2)),
                    vec![[met, 0.0], [not_met, 0.0], [not_met, top], [met, top]],
                )
                .fill_color(Color32::from_rgba_unmultiplied(230, 60, 50, 40))
                .stroke(egui::Stroke::new(1.0, Color32::from_rgb(230, 60, 50)))
                .allow_hover(false),
            );
        }
        for slo in &r.plan.base.slos {
            if let Objective::Latency { below_ms, .. } = slo.objective {
                let style = if slo.endpoint.is_some() {
                    LineStyle::dotted_loose()
                } else {
                    LineStyle::dashed_loose()
                };
                plot_ui.hline(
                    HLine::new(bound_name(slo), below_ms)
                        .color(Color32::from_rgb(230, 60, 50))
                        .style(style)
                        .width(1.5),
                );
            }
        }
        for c in &curves {
            let line: Vec<[f64; 2]> = c.points.iter().map(|(x, m, _)| [*x, *m]).collect();
            plot_ui.line(Line::new(c.name.clone(), line).color(c.color).width(2.0));
            // The 95 % interval of each point, under the curve's name.
            for (x, m, h) in &c.points {
                if *h > 0.0 {
                    plot_ui.line(
                        Line::new(c.name.clone(), vec![[*x, m - h], [*x, m + h]])
                            .color(c.color)
                            .width(1.5)
                            .allow_hover(false),
                    );
                }
            }
        }
        // Each point on its p99 curve, coloured by how it fares.
        for fares in [
            Fares::Met,
            Fares::Undecided,
            Fares::Breached,
            Fares::Unjudged,
        ] {
            let pts: Vec<[f64; 2]> = r
                .points
                .iter()
                .filter(|p| Fares::of(p) == fares)
                .filter_map(|p| {
                    let e = p.replicated.get("overall.latency_ms.p99")?;
                    Some([r.x_of(p), e.mean])
                })
                .collect();
            if !pts.is_empty() {
                let name = match fares {
                    Fares::Unjudged => "points".to_owned(),
                    f => format!("objectives {}", f.word()),
                };
                plot_ui.points(
                    Points::new(name, pts)
                        .color(fares_color(fares))
                        .shape(MarkerShape::Circle)
                        .filled(true)
                        .radius(5.0),
                );
            }
        }
        if let Some(turn) = r.turn()
            && let Some(p) = r.points.get(turn.index())
        {
            let x = r.x_of(p);
            let value = p.at.first().map_or(String::new(), |(_, v)| v.clone());
            let name = if by_load {
                format!("knee at {value}×")
            } else {
                format!("knee at {value}")
            };
            plot_ui.vline(
                VLine::new(name, x)
                    .color(gray)
                    .style(LineStyle::dashed_dense())
                    .width(1.5),
            );
            // The word on the side of the line the curve is low on.
            let (word, anchor) = match turn {
                Turn::Steepens(_) => ("knee ", egui::Align2::RIGHT_TOP),
                Turn::Flattens(_) => (" knee", egui::Align2::LEFT_TOP),
            };
            plot_ui.text(
                Text::new("", PlotPoint::new(x, y_top), word)
                    .color(gray)
                    .anchor(anchor),
            );
        }
    });
    response.response.rect
}

/// The table of points. Returns the index of a point whose Apply was clicked.
pub fn table_ui(ui: &mut egui::Ui, r: &Results) -> Option<usize> {
    let mut apply = None;
    let pm = |p: &Point, path: &str, scale: f64, decimals: usize| {
        p.replicated.get(path).map_or("—".to_owned(), |e| {
            format!(
                "{:.*} ± {:.*}",
                decimals,
                e.mean * scale,
                decimals,
                e.half_width * scale
            )
        })
    };
    egui::Grid::new("experiment points")
        .striped(true)
        .num_columns(r.plan.axes.len() + 5)
        .show(ui, |ui| {
            for name in r.axis_names() {
                ui.label(egui::RichText::new(name).strong());
            }
            ui.label(egui::RichText::new("ok/s").strong())
                .on_hover_text("Successful requests per second, ± the 95 % interval");
            ui.label(egui::RichText::new("errors %").strong())
                .on_hover_text("Share of users' requests that failed in the end");
            ui.label(egui::RichText::new("p99 ms").strong())
                .on_hover_text("99th percentile latency of all requests, ± the 95 % interval");
            ui.label(egui::RichText::new("objectives").strong())
                .on_hover_text("Met: every objective's interval is on the good side of its bound");
            ui.label("");
            ui.end_row();
            for (i, p) in r.points.iter().enumerate() {
                for (axis, value) in &p.at {
                    if axis == "load" {
                        let f: f64 = value.parse().unwrap_or(0.0);
                        ui.label(format!("{}×", short(f, 3)));
                    } else {
                        ui.label(value);
                    }
                }
                ui.label(pm(p, "overall.throughput_per_sec", 1.0, 0));
                ui.label(pm(p, "overall.user_error_rate", 100.0, 2));
                ui.label(pm(p, "overall.latency_ms.p99", 1.0, 1));
                let fares = Fares::of(p);
                let mut why = String::new();
                for v in &p.verdicts {
                    why.push_str(&verdict_line(v));
                    why.push('\n');
                }
                let shown = ui.colored_label(fares_color(fares), fares.word());
                if !why.is_empty() {
                    shown.on_hover_text(why.trim_end());
                }
                let at = super::setting_words(&p.at);
                if ui
                    .small_button(APPLY)
                    .on_hover_text(format!(
                        "Give the scenario this point's setting ({}): one edit, undone with \
                         Ctrl+Z",
                        at
                    ))
                    .clicked()
                {
                    apply = Some(i);
                }
                ui.end_row();
            }
        });
    apply
}
