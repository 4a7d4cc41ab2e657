//! The cost against p99 of a search for the cheapest configuration, and its table: every
//! configuration run at its price and p99 with the 95 % interval, coloured by status,
//! the frontier joined, the winner ringed, the p99 objective dashed; under it one row per
//! configuration, cheapest first, with an Apply button on those that ran.

use egui::Color32;
use egui_plot::{Corner, HLine, HoverPosition, Legend, Line, LineStyle, MarkerShape, Plot, Points};

use crate::experiment::plan::Status;

use super::cheapest::{Cheapest, P99, dollars, setting, status_word};
use super::curve::{APPLY, fares_color};
use super::results::{Fares, short};
use crate::ui::charts::{grid_label, nice_grid};

/// The colour of a status (the sweep's colours for met, breached, undecided).
pub fn status_color(s: Status) -> Color32 {
    match s {
        Status::Met => fares_color(Fares::Met),
        Status::Breached => fares_color(Fares::Breached),
        Status::Undecided => fares_color(Fares::Undecided),
        Status::Dominated | Status::TooSmall | Status::NotNeeded => Color32::GRAY,
    }
}

const FRONTIER: Color32 = Color32::from_rgb(90, 160, 230);

/// Draws the cost against p99; `plain` leaves out what hovering adds (for a picture).
pub fn plot_ui(ui: &mut egui::Ui, r: &Cheapest, plain: bool, height: f32) {
    // (index, price, p99, half-width) of each configuration run.
    let run: Vec<(usize, f64, f64, f64)> = r
        .plan
        .candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let e = c.replicated.as_ref()?.get(P99)?;
            Some((i, c.price_per_hour, e.mean, e.half_width))
        })
        .collect();
    let bound = r.p99_bound();
    let hover: Vec<(f64, f64, String)> = run
        .iter()
        .map(|&(i, x, m, h)| {
            let c = &r.plan.candidates[i];
            (
                x,
                m,
                format!(
                    "{}\n{} · p99 {} ± {} ms · {}",
                    setting(c),
                    dollars(x),
                    short(m, 1),
                    short(h, 1),
                    status_word(c.status)
                ),
            )
        })
        .collect();
    let mut plot = Plot::new("plan frontier")
        .height(height)
        .legend(
            Legend::default()
                // Above the points: the plot leaves room for it (below).
                .position(Corner::RightTop)
                .text_style(egui::TextStyle::Small)
                .background_alpha(0.75),
        )
        .include_y(0.0)
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_double_click_reset(false)
        .x_axis_label("price ($ per hour)")
        .y_axis_label("p99 latency (ms)")
        .x_grid_spacer(nice_grid)
        .x_axis_formatter(|m, _| format!("${}", grid_label(m)))
        .y_grid_spacer(nice_grid)
        .y_axis_formatter(|m, _| grid_label(m))
        .label_formatter(move |pos| match pos {
            HoverPosition::NearDataPoint { position, .. } => hover
                .iter()
                .find(|(x, m, _)| (x - position.x).abs() < 1e-9 && (m - position.y).abs() < 1e-9)
                .map(|(_, _, text)| text.clone()),
            HoverPosition::Elsewhere { position } => {
                Some(format!("${:.2}/h\np99 {:.1} ms", position.x, position.y))
            }
        })
        .show_x(!plain)
        .show_y(!plain)
        .show_crosshair(!plain);
    // Room above the highest point and the objective for the legend: every corner of
    // the data may hold points (the small configurations of every price are slow, the
    // frontier runs low to the right).
    let top = run
        .iter()
        .map(|x| x.2 + x.3)
        .chain(bound)
        .fold(0.0f64, f64::max);
    if top > 0.0 {
        plot = plot.include_y(top * 1.6);
    }
    if let (Some(lo), Some(hi)) = (
        run.iter().map(|r| r.1).reduce(f64::min),
        run.iter().map(|r| r.1).reduce(f64::max),
    ) {
        // A margin so the end points and their rings are not cut.
        let pad = ((hi - lo) * 0.06).max(hi.abs() * 0.02).max(0.01);
        plot = plot.include_x(lo - pad).include_x(hi + pad);
    }
    let ring = ui.visuals().strong_text_color();
    plot.show(ui, |plot_ui| {
        if let Some(b) = bound {
            plot_ui.hline(
                HLine::new(format!("objective: p99 < {} ms", short(b, 3)), b)
                    .color(Color32::from_rgb(230, 60, 50))
                    .style(LineStyle::dashed_loose())
                    .width(1.5),
            );
        }
        let frontier: Vec<[f64; 2]> = r
            .plan
            .frontier
            .iter()
            .filter_map(|&i| run.iter().find(|x| x.0 == i).map(|x| [x.1, x.2]))
            .collect();
        if frontier.len() > 1 {
            plot_ui.line(
                Line::new("frontier: each step buys a lower p99", frontier)
                    .color(FRONTIER)
                    .width(2.0),
            );
        }
        for status in [Status::Met, Status::Undecided, Status::Breached] {
            let color = status_color(status);
            let mine: Vec<&(usize, f64, f64, f64)> = run
                .iter()
                .filter(|x| r.plan.candidates[x.0].status == status)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let name = format!("objectives {}", status_word(status));
            // The 95 % interval of each, under the status's name.
            for &&(_, x, m, h) in &mine {
                if h > 0.0 {
                    plot_ui.line(
                        Line::new(name.clone(), vec![[x, (m - h).max(0.0)], [x, m + h]])
                            .color(color)
                            .width(1.5)
                            .allow_hover(false),
                    );
                }
            }
            plot_ui.points(
                Points::new(name, mine.iter().map(|x| [x.1, x.2]).collect::<Vec<_>>())
                    .color(color)
                    .shape(MarkerShape::Circle)
                    .filled(true)
                    .radius(5.0),
            );
        }
        if let Some(w) = r.plan.winner
            && let Some(&(_, x, m, _)) = run.iter().find(|x| x.0 == w)
        {
            plot_ui.points(
                // Unnamed, so not in the legend: the words above name it.
                Points::new("", vec![[x, m]])
                    .color(ring)
                    .shape(MarkerShape::Circle)
                    .filled(false)
                    .radius(10.0),
            );
        }
    });
}

/// The table of configurations, cheapest first. Returns the index of a configuration
/// whose Apply was clicked.
pub fn table_ui(ui: &mut egui::Ui, r: &Cheapest) -> Option<usize> {
    let mut apply = None;
    let axes = r.plan.axes.len();
    egui::Grid::new("plan configurations")
        .striped(true)
        .num_columns(axes + 5)
        .show(ui, |ui| {
            for name in &r.plan.axes {
                ui.label(egui::RichText::new(name).strong());
            }
            ui.label(egui::RichText::new("price").strong())
                .on_hover_text("List price per hour of the configuration (model::price)");
            ui.label(egui::RichText::new("status").strong())
                .on_hover_text(
                    "Met or breached with confidence, undecided, or not run: pruned because a \
                 cheaper one with no more of anything meets the objectives or a bigger one \
                 fails them, or not needed once the answer was found",
                );
            ui.label(egui::RichText::new("p99 ms").strong())
                .on_hover_text("99th percentile latency of all requests, ± the 95 % interval");
            ui.label(egui::RichText::new("runs").strong())
                .on_hover_text("Replications it took to decide");
            ui.label("");
            ui.end_row();
            for (i, c) in r.plan.candidates.iter().enumerate() {
                let winner = r.plan.winner == Some(i);
                for (_, value) in &c.at {
                    if winner {
                        ui.label(egui::RichText::new(value).strong());
                    } else {
                        ui.label(value);
                    }
                }
                ui.label(dollars(c.price_per_hour));
                let word = if winner {
                    "met: cheapest".to_owned()
                } else if r.plan.runners_up.contains(&i) {
                    "met: runner-up".to_owned()
                } else {
                    status_word(c.status).to_owned()
                };
                let mut why = r.why(i);
                for v in &c.verdicts {
                    why.push('\n');
                    why.push_str(&super::curve::verdict_line(v));
                }
                ui.colored_label(status_color(c.status), word)
                    .on_hover_text(why);
                match c.replicated.as_ref() {
                    Some(rep) => {
                        ui.label(rep.get(P99).map_or("—".to_owned(), |e| {
                            format!("{:.1} ± {:.1}", e.mean, e.half_width)
                        }));
                        ui.label(rep.replications.to_string());
                        if ui
                            .small_button(APPLY)
                            .on_hover_text(format!(
                                "Give the scenario this configuration ({}): one edit, undone \
                                 with Ctrl+Z. The load planned for is not applied.",
                                setting(c)
                            ))
                            .clicked()
                        {
                            apply = Some(i);
                        }
                    }
                    None => {
                        ui.label("");
                        ui.label("");
                        ui.label("");
                    }
                }
                ui.end_row();
            }
        });
    apply
}
