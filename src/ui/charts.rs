//! Live charts over the simulation's time series (read-only).

use egui_plot::{Legend, Line, Plot, PlotPoints};

use crate::metrics::SeriesSet;

/// Draws the named series of `set` (scope, metric, legend label) in one plot, over the
/// last `window_secs` simulated seconds.
pub fn plot(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    set: &SeriesSet,
    lines: &[(&str, &str, &str)],
    window_secs: f64,
    height: f32,
) {
    ui.label(egui::RichText::new(title).strong());
    let t_end = set.times.last().copied().unwrap_or(0.0);
    let t_start = (t_end - window_secs).max(0.0);
    let first = set.times.partition_point(|t| *t < t_start);
    Plot::new(id)
        .height(height)
        .legend(Legend::default())
        .include_y(0.0)
        .allow_scroll(false)
        .x_axis_label("simulated seconds")
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
                plot_ui.line(Line::new(*label, points));
            }
        });
}
