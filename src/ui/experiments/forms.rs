//! The panel's forms: one axis (what it varies, its values as a range or a list, the
//! error next to it) and one objective (what, of which requests, its bound). Edits of an
//! objective are committed as the inspector commits them: when a drag ends or a field
//! loses focus, so a drag makes one undo step.

use crate::model::{Objective, Percentile, Slo};

use super::labels;
use super::setup::{self, AxisForm, Kind, Target};

/// Whether a value was changed, and whether the change is complete (not a drag or
/// typing under way): as the inspector commits edits.
#[derive(Default)]
pub struct Edit {
    changed: bool,
    commit: bool,
}

impl Edit {
    /// Whether an objective changed this frame, and whether the change is complete.
    pub fn outcome(&self) -> (bool, bool) {
        (self.changed, self.commit)
    }

    /// A change made outside the widgets (removed, added) is complete at once.
    pub fn done(&mut self) {
        self.changed = true;
        self.commit = true;
    }

    fn track(&mut self, r: &egui::Response) {
        if r.changed() {
            self.changed = true;
            if !r.dragged() && !r.has_focus() {
                self.commit = true;
            }
        }
        if r.drag_stopped() || r.lost_focus() {
            self.commit = true;
        }
    }

    /// A pick from a list is complete at once.
    fn picked(&mut self) {
        self.changed = true;
        self.commit = true;
    }
}

const PERCENTILES: [(Percentile, &str); 5] = [
    (Percentile::Mean, "mean"),
    (Percentile::P50, "p50"),
    (Percentile::P95, "p95"),
    (Percentile::P99, "p99"),
    (Percentile::P999, "p99.9"),
];

/// The objective forms in words, in the order of `Objective::FORMS`.
const KINDS: [&str; 4] = ["Latency", "Error rate", "Throughput", "Figure"];

/// One objective's widgets. Returns whether its Remove button was clicked.
pub fn slo_ui(ui: &mut egui::Ui, slo: &mut Slo, endpoints: &[String], edit: &mut Edit) -> bool {
    let mut remove = false;
    ui.horizontal(|ui| {
        let mut kind = slo.objective.form();
        egui::ComboBox::from_id_salt("kind")
            .width(90.0)
            .selected_text(KINDS[kind])
            .show_ui(ui, |ui| {
                for (i, k) in KINDS.iter().enumerate() {
                    if ui.selectable_value(&mut kind, i, *k).clicked() {
                        edit.picked();
                    }
                }
            })
            .response
            .on_hover_text(
                "Latency: a percentile of successful requests stays below a bound; error \
                 rate: the share of users' requests that fail in the end stays below a bound; \
                 throughput: successful requests per second stay above a bound; figure: any \
                 figure of the summary, by its path, stays below a bound",
            );
        if kind != slo.objective.form() {
            slo.objective = Objective::of_form(kind);
            if let Objective::Figure { .. } = slo.objective {
                // A figure's path names its scope in full.
                slo.endpoint = None;
            }
        }
        if let Objective::Figure { .. } = slo.objective {
            return;
        }
        ui.label("of");
        let scope = slo
            .endpoint
            .clone()
            .unwrap_or_else(|| "all requests".to_owned());
        egui::ComboBox::from_id_salt("scope")
            .width(150.0)
            .selected_text(scope)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(slo.endpoint.is_none(), "all requests")
                    .clicked()
                {
                    slo.endpoint = None;
                    edit.picked();
                }
                for e in endpoints {
                    if ui
                        .selectable_label(slo.endpoint.as_ref() == Some(e), e)
                        .clicked()
                    {
                        slo.endpoint = Some(e.clone());
                        edit.picked();
                    }
                }
            })
            .response
            .on_hover_text("All requests together, or one endpoint's");
    });
    ui.horizontal(|ui| {
        objective_bound_ui(ui, &mut slo.objective, edit);
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            remove = ui
                .small_button(labels::REMOVE)
                .on_hover_text("Remove this objective")
                .clicked();
        });
    });
    remove
}

/// The bound of an objective (and the percentile of a latency one).
fn objective_bound_ui(ui: &mut egui::Ui, objective: &mut Objective, edit: &mut Edit) {
    use labels::*;
    match objective {
        Objective::Latency {
            percentile,
            below_ms,
        } => {
            let name = PERCENTILES
                .iter()
                .find(|(p, _)| p == percentile)
                .map_or("p99", |(_, n)| n);
            egui::ComboBox::from_id_salt("percentile")
                .width(60.0)
                .selected_text(name)
                .show_ui(ui, |ui| {
                    for (p, n) in PERCENTILES {
                        if ui.selectable_value(percentile, p, n).clicked() {
                            edit.picked();
                        }
                    }
                })
                .response
                .on_hover_text("Which latency: the mean, or the share of requests faster");
            let label = ui.label(BELOW);
            let speed = (*below_ms * 0.01).max(0.01);
            let r = ui
                .add(
                    egui::DragValue::new(below_ms)
                        .range(0.001..=crate::model::limits::MAX_DURATION_MS)
                        .speed(speed)
                        .max_decimals(3),
                )
                .labelled_by(label.id)
                .on_hover_text("The latency it must stay below");
            edit.track(&r);
            ui.weak("ms");
        }
        Objective::ErrorRate { below } => {
            let label = ui.label(BELOW);
            let mut percent = *below * 100.0;
            let r = ui
                .add(
                    egui::DragValue::new(&mut percent)
                        .range(0.0..=100.0)
                        .speed(0.01)
                        .max_decimals(4),
                )
                .labelled_by(label.id)
                .on_hover_text("The share of users' requests that may fail in the end");
            if r.changed() {
                *below = percent / 100.0;
            }
            edit.track(&r);
            ui.weak("% failed");
        }
        Objective::Throughput { above_per_sec } => {
            let label = ui.label(ABOVE);
            let speed = (*above_per_sec * 0.01).max(0.1);
            let r = ui
                .add(
                    egui::DragValue::new(above_per_sec)
                        .range(0.0..=crate::model::limits::MAX_RATE_PER_SEC)
                        .speed(speed)
                        .max_decimals(2),
                )
                .labelled_by(label.id)
                .on_hover_text("The successful requests per second it must stay above");
            edit.track(&r);
            ui.weak("req/s");
        }
        Objective::Figure { figure, below } => {
            let r = ui
                .add(egui::TextEdit::singleline(figure).desired_width(220.0))
                .on_hover_text(
                    "The figure's path, as `bottleneck run --replications 2 --format csv` \
                     lists it, e.g. stations.app.cpu.mean_wait_ms or components.postgres.cpu_util",
                );
            edit.track(&r);
            let label = ui.label(BELOW);
            let speed = (below.abs() * 0.01).max(0.001);
            let r = ui
                .add(
                    egui::DragValue::new(below)
                        .range(0.0..=1e15)
                        .speed(speed)
                        .max_decimals(4),
                )
                .labelled_by(label.id)
                .on_hover_text("The value the figure must stay below");
            edit.track(&r);
        }
    }
}

/// The valid range of an axis's values, for its drag fields.
fn axis_range(form: &AxisForm) -> (f64, f64) {
    match &form.target {
        Target::Load => (0.01, 1000.0),
        Target::Param { param, .. } => (
            if param.meta.min == f64::MIN_POSITIVE {
                1e-6
            } else {
                param.meta.min.max(-1e15)
            },
            param.meta.max.min(1e15),
        ),
    }
}

/// One axis: what it varies (the load too when `load`), and its values as a range or
/// a list; `checked` is an error about the values found elsewhere.
pub fn axis_ui(
    ui: &mut egui::Ui,
    i: usize,
    form: &mut AxisForm,
    catalogue: &[(String, Vec<setup::Param>)],
    checked: Option<String>,
    load: bool,
) {
    use labels::*;
    ui.push_id(("axis", i), |ui| {
        let mut picked: Option<Target> = None;
        ui.horizontal(|ui| {
            let label = ui.label(VARY);
            let what = match &form.target {
                Target::Load => "load (all clients)".to_owned(),
                Target::Param { component, .. } => component.clone(),
            };
            egui::ComboBox::from_id_salt("what")
                .width(130.0)
                .selected_text(what)
                .show_ui(ui, |ui| {
                    if load
                        && ui
                            .selectable_label(form.target == Target::Load, "load (all clients)")
                            .on_hover_text("Every client's load times a factor (1: as written)")
                            .clicked()
                    {
                        picked = Some(Target::Load);
                    }
                    for (id, params) in catalogue {
                        let selected =
                            matches!(&form.target, Target::Param { component, .. } if component == id);
                        if ui.selectable_label(selected, id).clicked() && !selected {
                            let first = params
                                .iter()
                                .find(|p| p.kind.is_numeric())
                                .or(params.first());
                            if let Some(param) = first {
                                picked = Some(Target::Param {
                                    component: id.clone(),
                                    param: param.clone(),
                                });
                            }
                        }
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text(if load {
                    "The load of every client, or a component whose parameter varies"
                } else {
                    "The component whose parameter varies"
                });
            if let Target::Param { component, param } = &form.target {
                let params = catalogue
                    .iter()
                    .find(|(id, _)| id == component)
                    .map_or(&[][..], |(_, ps)| ps.as_slice());
                egui::ComboBox::from_id_salt("parameter")
                    .width(140.0)
                    .selected_text(&param.path)
                    .show_ui(ui, |ui| {
                        for p in params {
                            if ui
                                .selectable_label(p.path == param.path, &p.path)
                                .on_hover_text(param_help(p))
                                .clicked()
                                && p.path != param.path
                            {
                                picked = Some(Target::Param {
                                    component: component.clone(),
                                    param: p.clone(),
                                });
                            }
                        }
                    })
                    .response
                    .on_hover_text(param_help(param));
            }
        });
        if let Some(target) = picked {
            *form = AxisForm::for_target(target);
        }
        if form.allows_range() {
            ui.horizontal(|ui| {
                ui.radio_value(&mut form.use_list, false, "range")
                    .on_hover_text("Evenly spaced values from one end to the other, both included");
                ui.radio_value(&mut form.use_list, true, "list")
                    .on_hover_text("The values you write, separated by commas");
            });
        }
        if form.allows_range() && !form.use_list {
            let (lo, hi) = axis_range(form);
            let whole = form.is_whole();
            ui.horizontal(|ui| {
                for (name, value) in [(FROM, &mut form.from), (TO, &mut form.to)] {
                    let label = ui.label(name);
                    let speed = (value.abs() * 0.01).max(if whole { 0.05 } else { 0.01 });
                    let mut drag = egui::DragValue::new(value).range(lo..=hi).speed(speed);
                    drag = if whole {
                        drag.max_decimals(0)
                    } else {
                        drag.max_decimals(4)
                    };
                    ui.add(drag).labelled_by(label.id).on_hover_text(match name {
                        FROM => "The first value",
                        _ => "The last value",
                    });
                }
                let label = ui.label(STEPS);
                ui.add(egui::DragValue::new(&mut form.steps).range(2..=100))
                    .labelled_by(label.id)
                    .on_hover_text("How many values, both ends included");
            });
        } else {
            ui.horizontal(|ui| {
                let label = ui.label(VALUES);
                ui.add(
                    egui::TextEdit::singleline(&mut form.list)
                        .desired_width(220.0)
                        .hint_text("e.g. 2, 4, 8"),
                )
                .labelled_by(label.id)
                .on_hover_text(match &form.target {
                    Target::Param {
                        param:
                            setup::Param {
                                kind: Kind::Choice(forms),
                                ..
                            },
                        ..
                    } => format!("Some of: {}", forms.join(", ")),
                    Target::Param {
                        param:
                            setup::Param {
                                kind: Kind::Flag, ..
                            },
                        ..
                    } => "true, false".to_owned(),
                    Target::Param {
                        param:
                            setup::Param {
                                kind: Kind::Optional,
                                ..
                            },
                        ..
                    } => "Numbers separated by commas; `off` switches it off".to_owned(),
                    _ => "Numbers separated by commas".to_owned(),
                });
            });
        }
        let spec = form.spec();
        ui.weak(format!("--vary {spec}")).on_hover_text(if load {
            "The same axis on the command line: bottleneck sweep FILE --vary …"
        } else {
            "The same axis on the command line: bottleneck plan FILE --vary …"
        });
        let error = form.parse().err().or(checked);
        if let Some(e) = error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    });
}

/// A parameter's explanation, range and current value (tooltips).
fn param_help(p: &setup::Param) -> String {
    let mut t = p.meta.help.to_owned();
    if p.meta.min.is_finite() || p.meta.max.is_finite() {
        t.push_str(&format!("\n\nValid: {}", p.meta.range_text()));
    }
    t.push_str(&format!("\nNow: {}", p.value));
    t
}
