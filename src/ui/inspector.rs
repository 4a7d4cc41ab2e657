//! The inspector: widgets for every parameter of a component or an endpoint, generated
//! from the parameter descriptions in `model::params` (name, unit, range, explanation,
//! live or not), with no per-kind code. Edits go to a buffer and are committed when a
//! drag ends or a field loses focus, so dragging a value makes one change, not one per
//! frame.

use crate::model::{Meta, ParamList, ParamVisitor, Params, RefKind, Scenario};

/// Names a reference may take, by what it refers to.
pub struct RefChoices {
    /// Component ids each kind of component reference accepts (`RefKind::accepts`).
    components: Vec<(RefKind, Vec<String>)>,
    endpoints: Vec<String>,
    queries: Vec<(String, Vec<String>)>,
}

impl RefChoices {
    pub fn of(s: &Scenario) -> Self {
        use crate::model::ComponentSpec as C;
        let components = [
            RefKind::Entry,
            RefKind::Origin,
            RefKind::Balanced,
            RefKind::Service,
            RefKind::App,
            RefKind::Cache,
            RefKind::Database,
            RefKind::Queue,
        ]
        .into_iter()
        .map(|kind| {
            let ids = s
                .components
                .iter()
                .filter(|c| kind.accepts(c))
                .map(|c| c.id().to_owned())
                .collect();
            (kind, ids)
        })
        .collect();
        Self {
            components,
            endpoints: s.endpoints.keys().cloned().collect(),
            queries: s
                .components
                .iter()
                .filter_map(|c| match c {
                    C::Database(d) => Some((d.id.clone(), d.queries.keys().cloned().collect())),
                    _ => None,
                })
                .collect(),
        }
    }

    fn for_kind(&self, kind: &RefKind) -> &[String] {
        match kind {
            RefKind::Endpoint => &self.endpoints,
            RefKind::QueryOf(db) => self
                .queries
                .iter()
                .find(|(d, _)| d == db)
                .map_or(&[], |(_, q)| q.as_slice()),
            other => self
                .components
                .iter()
                .find(|(k, _)| k == other)
                .map_or(&[], |(_, ids)| ids.as_slice()),
        }
    }
}

/// The uncommitted state of an inspector.
pub struct Buffer<T> {
    value: Option<T>,
    /// A change is being made (a drag in progress, a field being typed in).
    editing: bool,
}

impl<T> Default for Buffer<T> {
    fn default() -> Self {
        Self {
            value: None,
            editing: false,
        }
    }
}

/// Shows `current`'s parameters for editing. Returns the edited value when an edit is
/// committed. `running` marks parameters that only apply on restart.
pub fn edit<T: Params + Clone + PartialEq>(
    ui: &mut egui::Ui,
    id: &str,
    current: &T,
    buffer: &mut Buffer<T>,
    choices: &RefChoices,
    running: bool,
) -> Option<T> {
    if !buffer.editing || buffer.value.is_none() {
        buffer.value = Some(current.clone());
    }
    let value = buffer.value.as_mut()?;
    let mut v = Inspector {
        ui,
        choices,
        running,
        path: id.to_owned(),
        changed: false,
        commit: false,
    };
    value.params(&mut v);
    let (changed, commit) = (v.changed, v.commit);
    if commit {
        buffer.editing = false;
        let out = buffer.value.clone();
        return out.filter(|x| x != current);
    }
    if changed {
        buffer.editing = true;
    }
    None
}

struct Inspector<'a> {
    ui: &'a mut egui::Ui,
    choices: &'a RefChoices,
    running: bool,
    path: String,
    changed: bool,
    commit: bool,
}

impl Inspector<'_> {
    fn tooltip(&self, meta: &Meta) -> String {
        let mut t = meta.help.to_owned();
        if meta.min.is_finite() || meta.max.is_finite() {
            t.push_str(&format!("\n\nValid: {}", meta.range_text()));
        }
        if self.running && !meta.live {
            t.push_str("\n\nChanging it applies when the run restarts.");
        }
        t
    }

    /// A row: the parameter's name (with its explanation on hover), the widget, the unit.
    fn row(&mut self, meta: &Meta, widget: impl FnOnce(&mut egui::Ui) -> egui::Response) {
        let tooltip = self.tooltip(meta);
        let restart = self.running && !meta.live;
        let mut changed = false;
        let mut commit = false;
        self.ui.horizontal(|ui| {
            let label = ui.label(meta.name).on_hover_text(&tooltip);
            let r = widget(ui).labelled_by(label.id).on_hover_text(&tooltip);
            if !meta.unit.is_empty() {
                ui.weak(meta.unit);
            }
            if restart {
                ui.weak("(restart)")
                    .on_hover_text("A change to this applies when the run restarts");
            }
            if r.changed() {
                changed = true;
                if !r.dragged() && !r.has_focus() {
                    commit = true;
                }
            }
            if r.drag_stopped() || r.lost_focus() {
                commit = true;
            }
        });
        self.changed |= changed;
        self.commit |= commit;
    }
}

fn speed_for(x: f64) -> f64 {
    (x.abs() * 0.01).max(0.001)
}

impl ParamVisitor for Inspector<'_> {
    fn count(&mut self, meta: &Meta, value: &mut u64) {
        let (min, max) = (
            meta.min.max(0.0) as u64,
            meta.max.min(u64::MAX as f64) as u64,
        );
        let speed = speed_for(*value as f64).max(0.05);
        self.row(meta, |ui| {
            ui.add(egui::DragValue::new(value).range(min..=max).speed(speed))
        });
    }

    fn number(&mut self, meta: &Meta, value: &mut f64) {
        let min = if meta.min == f64::MIN_POSITIVE {
            1e-6
        } else {
            meta.min
        };
        let (min, max) = (min.max(-1e15), meta.max.min(1e15));
        let speed = speed_for(*value);
        self.row(meta, |ui| {
            ui.add(
                egui::DragValue::new(value)
                    .range(min..=max)
                    .speed(speed)
                    .max_decimals(4),
            )
        });
    }

    fn optional(&mut self, meta: &Meta, value: &mut Option<f64>) {
        let default = if meta.unit == "seconds" { 60.0 } else { 1000.0 };
        let mut on = value.is_some();
        let mut x = value.unwrap_or(default);
        let min = if meta.min == f64::MIN_POSITIVE {
            1e-6
        } else {
            meta.min
        };
        let speed = speed_for(x);
        let mut toggled = false;
        self.row(meta, |ui| {
            let r = ui.checkbox(&mut on, "");
            toggled = r.changed();
            if on {
                ui.add(
                    egui::DragValue::new(&mut x)
                        .range(min..=meta.max.min(1e15))
                        .speed(speed)
                        .max_decimals(4),
                )
            } else {
                ui.weak("off")
            }
        });
        if toggled {
            self.changed = true;
            self.commit = true;
        }
        *value = on.then_some(x);
    }

    fn flag(&mut self, meta: &Meta, value: &mut bool) {
        self.row(meta, |ui| ui.checkbox(value, ""));
    }

    fn text(&mut self, meta: &Meta, value: &mut String) {
        self.row(meta, |ui| {
            ui.add(egui::TextEdit::singleline(value).desired_width(160.0))
        });
    }

    fn reference(&mut self, meta: &Meta, kind: &RefKind, value: &mut String) {
        let options = self.choices.for_kind(kind).to_vec();
        let id = format!("{}.{}", self.path, meta.name);
        self.row(meta, |ui| {
            let mut picked = false;
            let mut r = egui::ComboBox::from_id_salt(id)
                .selected_text(if value.is_empty() {
                    "(choose)"
                } else {
                    value.as_str()
                })
                .show_ui(ui, |ui| {
                    for o in &options {
                        picked |= ui.selectable_value(value, o.clone(), o).changed();
                    }
                })
                .response;
            if picked {
                r.mark_changed();
            }
            r
        });
    }

    fn choice(&mut self, meta: &Meta, forms: &[&'static str], current: usize) -> usize {
        let mut picked = current;
        let id = format!("{}.{}", self.path, meta.name);
        self.row(meta, |ui| {
            let mut changed = false;
            let mut r = egui::ComboBox::from_id_salt(id)
                .selected_text(forms.get(current).copied().unwrap_or(""))
                .show_ui(ui, |ui| {
                    for (i, f) in forms.iter().enumerate() {
                        changed |= ui.selectable_value(&mut picked, i, *f).changed();
                    }
                })
                .response;
            if changed {
                r.mark_changed();
            }
            r
        });
        picked
    }

    fn group(&mut self, meta: &Meta, body: &mut dyn FnMut(&mut dyn ParamVisitor)) {
        if meta.inline {
            body(self);
            return;
        }
        let tooltip = self.tooltip(meta);
        let id = format!("{}.{}", self.path, meta.name);
        let mut out = (false, false);
        let choices = self.choices;
        let running = self.running;
        egui::CollapsingHeader::new(meta.name)
            .id_salt(&id)
            .default_open(true)
            .show(self.ui, |ui| {
                let mut child = Inspector {
                    ui,
                    choices,
                    running,
                    path: id.clone(),
                    changed: false,
                    commit: false,
                };
                body(&mut child);
                out = (child.changed, child.commit);
            })
            .header_response
            .on_hover_text(tooltip);
        self.changed |= out.0;
        self.commit |= out.1;
    }

    fn list(&mut self, meta: &Meta, list: &mut dyn ParamList) {
        /// Items shown at most; longer lists (measured values) are summarised.
        const SHOWN: usize = 50;
        let tooltip = self.tooltip(meta);
        let id = format!("{}.{}", self.path, meta.name);
        let mut remove = None;
        let mut add = false;
        let ui = &mut *self.ui;
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new(format!("{} ({})", meta.name, list.len())).strong())
                .on_hover_text(&tooltip);
            if list.len() < list.max_len()
                && ui
                    .small_button("Add")
                    .on_hover_text(format!("Add an item to {}", meta.name))
                    .clicked()
            {
                add = true;
            }
        });
        let mut child_out = (false, false);
        ui.indent(&id, |ui| {
            for i in 0..list.len().min(SHOWN) {
                let label = list.label(i);
                let item_id = format!("{id}[{i}]");
                ui.push_id(&item_id, |ui| {
                    egui::CollapsingHeader::new(if label.is_empty() {
                        format!("[{i}]")
                    } else {
                        label
                    })
                    .id_salt(&item_id)
                    .default_open(list.len() <= 3)
                    .show(ui, |ui| {
                        if ui
                            .small_button("Remove")
                            .on_hover_text("Remove this item")
                            .clicked()
                        {
                            remove = Some(i);
                        }
                        let mut child = Inspector {
                            ui,
                            choices: self.choices,
                            running: self.running,
                            path: item_id.clone(),
                            changed: false,
                            commit: false,
                        };
                        list.item(i, &mut child);
                        child_out.0 |= child.changed;
                        child_out.1 |= child.commit;
                    });
                });
            }
            if list.len() > SHOWN {
                ui.weak(format!("… and {} more (edit the file)", list.len() - SHOWN));
            }
        });
        self.changed |= child_out.0;
        self.commit |= child_out.1;
        if let Some(i) = remove {
            list.remove(i);
            self.changed = true;
            self.commit = true;
        }
        if add {
            list.push_default();
            self.changed = true;
            self.commit = true;
        }
    }
}
