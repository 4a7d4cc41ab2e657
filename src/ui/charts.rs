//! Live charts over the simulation's time series: throughput (offered, served, errors by
//! cause), latency percentiles (all endpoints or one), utilisation and queues of the
//! components chosen, over a chosen window of simulated time. Series are found by name,
//! so a new component's series appear without chart code.

use std::collections::BTreeSet;

use egui_plot::{GridInput, GridMark, Legend, Line, Plot, PlotPoints};

use crate::metrics::{ErrorCause, SeriesSet};

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

fn is_utilisation(metric: &str) -> bool {
    metric.ends_with("util")
}

fn is_queue(metric: &str) -> bool {
    matches!(metric, "accept_queue" | "run_queue" | "queue" | "depth")
        || metric.ends_with("_waiting")
}

/// The charts panel.
pub fn panel(ui: &mut egui::Ui, set: &SeriesSet, choice: &mut ChartChoice) {
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

    ui.horizontal(|ui| {
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
        .on_hover_text("Which components' utilisation and queues to draw");
        ui.checkbox(&mut choice.causes, "errors by cause");
    });

    let shown = |scope: &str| choice.components.as_ref().is_none_or(|c| c.contains(scope));
    let mut throughput: Vec<(String, String, String)> = vec![
        ("".into(), "offered_per_sec".into(), "offered".into()),
        (
            "".into(),
            "user_requests_per_sec".into(),
            "users' requests".into(),
        ),
        ("".into(), "retries_per_sec".into(), "retries".into()),
        ("".into(), "ok_per_sec".into(), "served".into()),
        ("".into(), "errors_per_sec".into(), "errors".into()),
    ];
    if choice.causes {
        for c in ErrorCause::ALL {
            throughput.push((
                "".into(),
                format!("{}_per_sec", c.name()),
                c.name().replace('_', " "),
            ));
        }
    }
    let scope = choice.endpoint.clone().unwrap_or_default();
    let latency: Vec<(String, String, String)> = ["p50", "p95", "p99"]
        .iter()
        .map(|p| (scope.clone(), format!("{p}_ms"), (*p).to_owned()))
        .collect();
    let by = |f: fn(&str) -> bool| -> Vec<(String, String, String)> {
        set.names
            .iter()
            .filter(|(s, m)| !s.is_empty() && f(m) && shown(s))
            .map(|(s, m)| (s.clone(), m.clone(), format!("{s} {}", m.replace('_', " "))))
            .collect()
    };
    let (util, queues) = (by(is_utilisation), by(is_queue));

    let window = choice.window_secs;
    // Lines that stayed at zero over the window are left out: an error cause that never
    // happened only clutters the legend.
    let throughput: Vec<_> = throughput
        .into_iter()
        .filter(|(s, m, _)| match m.as_str() {
            "offered_per_sec" | "ok_per_sec" => true,
            // Users' requests differ from the offered load only when clients retry.
            "user_requests_per_sec" => any_nonzero(set, s, "retries_per_sec", window),
            _ => any_nonzero(set, s, m, window),
        })
        .collect();
    /// Height of the plots (the panel is resizable; its content sets its height).
    const HEIGHT: f32 = 200.0;
    let h = HEIGHT;
    ui.columns(4, |cols| {
        let w = cols[0].available_width();
        plot(
            &mut cols[0],
            "throughput",
            "Throughput (requests/s)",
            set,
            &throughput,
            window,
            [w, h],
        );
        plot(
            &mut cols[1],
            "latency",
            "Latency (ms)",
            set,
            &latency,
            window,
            [w, h],
        );
        plot(
            &mut cols[2],
            "utilisation",
            "Utilisation (0–1)",
            set,
            &util,
            window,
            [w, h],
        );
        plot(
            &mut cols[3],
            "queues",
            "Waiting (requests)",
            set,
            &queues,
            window,
            [w, h],
        );
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
    let major = nice_step(span / 4.0);
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
    let decimals = (-mark.step_size.log10() - 1e-9).ceil().max(0.0) as usize;
    format!("{:.*}", decimals, mark.value)
}

/// The round step (1, 2 or 5 × 10ⁿ) nearest to `raw`.
fn nice_step(raw: f64) -> f64 {
    let exp = raw.log10().floor();
    let base = 10f64.powf(exp);
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

fn any_nonzero(set: &SeriesSet, scope: &str, metric: &str, window_secs: f64) -> bool {
    let t_end = set.times.last().copied().unwrap_or(0.0);
    let first = set.times.partition_point(|t| *t < t_end - window_secs);
    set.column(scope, metric)
        .is_some_and(|v| v[first..].iter().any(|x| x.is_finite() && *x != 0.0))
}

/// One titled plot of `lines` (scope, metric, legend label).
pub fn plot(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    set: &SeriesSet,
    lines: &[(String, String, String)],
    window_secs: f64,
    [width, height]: [f32; 2],
) {
    ui.vertical(|ui| {
        ui.label(egui::RichText::new(title).strong());
        let t_end = set.times.last().copied().unwrap_or(0.0);
        let t_start = (t_end - window_secs).max(0.0);
        let first = set.times.partition_point(|t| *t < t_start);
        Plot::new(id)
            .width(width)
            .height(height)
            .legend(
                Legend::default()
                    .text_style(egui::TextStyle::Small)
                    .background_alpha(0.6),
            )
            .include_y(0.0)
            .allow_scroll(false)
            .allow_zoom(false)
            .allow_drag(false)
            .x_axis_label("simulated seconds")
            .x_grid_spacer(nice_grid)
            .y_grid_spacer(nice_grid)
            .x_axis_formatter(|m, _| grid_label(m))
            .y_axis_formatter(|m, _| grid_label(m))
            .show(ui, |plot_ui| {
                for (scope, metric, label) in lines {
                    let Some(values) = set.column(scope, metric) else {
                        continue;
                    };
                    let points: PlotPoints = set.times[first..]
                        .iter()
                        .zip(&values[first..])
                        .filter(|(_, v)| v.is_finite())
                        .map(|(t, v)| [*t, *v])
                        .collect();
                    plot_ui.line(Line::new(label.as_str(), points));
                }
            });
    });
}

/// A small chart of one component's series (utilisations and queues), for hover tips.
pub fn mini(ui: &mut egui::Ui, set: &SeriesSet, scope: &str) {
    let lines: Vec<(String, String, String)> = set
        .names
        .iter()
        .filter(|(s, m)| {
            (s == scope || s.starts_with(&format!("{scope}#")))
                && (is_utilisation(m) || is_queue(m) || m == "hit_ratio")
        })
        .map(|(s, m)| (s.clone(), m.clone(), format!("{s} {}", m.replace('_', " "))))
        .collect();
    if lines.is_empty() || set.is_empty() {
        return;
    }
    plot(
        ui,
        &format!("mini {scope}"),
        "last 2 minutes",
        set,
        &lines,
        120.0,
        [320.0, 120.0],
    );
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
}
