//! The Advisor panel: what runs out first, each app tier's diagnosis, where each
//! endpoint's time goes (a stacked bar, like a trace waterfall) and the levers with
//! their predicted effect, each with an *Apply* button that makes the change now
//! (recorded, undoable). It reads the running simulation, refreshed while the run goes
//! on; the words are `report`'s, so the window and the command line say the same.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Duration;

use crate::advisor::{self, Advice, Unhelpful};
use crate::engine::Simulation;
use crate::experiment::{self, Control};
use crate::metrics::breakdown::Phase;
use crate::report;
use crate::sim::SimTime;

pub mod labels {
    pub const ADVISOR: &str = "Advisor";
    pub const APPLY_LEVER: &str = "Apply lever";
    pub const VERIFY: &str = "Measure the levers";
    pub const STOP: &str = "Stop measuring";
    pub const LIVE: &str = "Back to the live advice";
}

/// Replications of the scenario and of each lever when the panel measures them.
pub const VERIFY_REPLICATIONS: usize = 6;

/// What the panel asks the window to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Make lever `i` of the advice shown: its component and its `--set` changes.
    Apply {
        component: String,
        changes: Vec<String>,
        title: String,
    },
    /// Measure the levers shown, on the running system's scenario.
    Measure,
}

/// Simulated time between refreshes (each one validates a variant per lever).
const REFRESH_SIM: Duration = Duration::from_secs(1);

/// One endpoint's mean response by phase, in milliseconds.
#[derive(Clone, Debug, Default)]
struct Waterfall {
    endpoint: String,
    mean_ms: f64,
    parts: Vec<(Phase, f64)>,
}

/// Levers being measured in a background thread: the scenario and each lever re-run
/// on common random numbers (`advisor::verify`), so frames never wait for it.
struct Measuring {
    ctl: Arc<Control>,
    rx: Receiver<Result<Advice, experiment::Error>>,
    /// What the panel showed when the measurement started, shown with its result.
    shown: Shown,
}

/// The figures the panel shows beside an advice: its span and its waterfalls.
#[derive(Clone, Debug, Default)]
struct Shown {
    measured_secs: f64,
    waterfalls: Vec<Waterfall>,
}

impl Drop for Measuring {
    fn drop(&mut self) {
        self.ctl.cancel();
    }
}

#[derive(Default)]
pub struct AdvisorPanel {
    advice: Option<Advice>,
    /// The advice frozen with its levers measured (shown instead of the live one), and
    /// the figures shown with it.
    measured: Option<(Advice, Shown)>,
    measuring: Option<Measuring>,
    /// Why the last measurement stopped short.
    failure: Option<String>,
    /// The span measured (after the warm-up) and the waterfalls at the last refresh.
    live: Shown,
    at: Option<SimTime>,
}

impl AdvisorPanel {
    /// The advice shown (None before the first refresh): measured once the levers
    /// have been measured, live otherwise.
    pub fn advice(&self) -> Option<&Advice> {
        self.measured
            .as_ref()
            .map(|(a, _)| a)
            .or(self.advice.as_ref())
    }

    /// Whether levers are being measured now.
    pub fn is_measuring(&self) -> bool {
        self.measuring.is_some()
    }

    /// Starts measuring the levers of the advice shown, on `scenario` (the running
    /// system's), in a background thread that calls `wake` when done.
    pub fn measure(&mut self, scenario: &crate::model::Scenario, wake: impl Fn() + Send + 'static) {
        let Some(advice) = self.advice.clone() else {
            return;
        };
        let valid = match crate::model::validate(scenario.clone()) {
            Ok(v) => v,
            Err(e) => {
                self.failure = Some(e.to_string());
                return;
            }
        };
        let ctl = Arc::new(Control::default());
        let (tx, rx) = mpsc::channel();
        let worker = Arc::clone(&ctl);
        let spawned = std::thread::Builder::new()
            .name("advisor".to_owned())
            .spawn(move || {
                let mut advice = advice;
                let result = advisor::verify(&valid, &mut advice, VERIFY_REPLICATIONS, &worker)
                    .map(|()| advice);
                let _ = tx.send(result);
                wake();
            });
        match spawned {
            Ok(_) => {
                self.failure = None;
                self.measuring = Some(Measuring {
                    ctl,
                    rx,
                    shown: self.live.clone(),
                });
            }
            Err(e) => self.failure = Some(format!("cannot start the measurement: {e}")),
        }
    }

    /// Takes the measurement's result when it has come.
    pub fn poll(&mut self) {
        let Some(m) = &self.measuring else {
            return;
        };
        match m.rx.try_recv() {
            Ok(Ok(advice)) => {
                self.measured = Some((advice, m.shown.clone()));
                self.measuring = None;
            }
            Ok(Err(e)) => {
                self.failure = Some(e.to_string());
                self.measuring = None;
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => {
                self.failure = Some("the measurement stopped".to_owned());
                self.measuring = None;
            }
        }
    }

    /// Stops a measurement under way.
    pub fn stop(&mut self) {
        self.measuring = None;
    }

    /// Forgets what it showed (and stops measuring): a new run or another scenario.
    pub fn forget(&mut self) {
        *self = Self::default();
    }

    /// Reads the simulation (and `summary`, its summary now) again when it has moved
    /// on enough or restarted.
    pub fn refresh(&mut self, sim: &Simulation, summary: &crate::metrics::Summary) {
        let now = sim.now();
        let due = match self.at {
            Some(at) => now < at || now.since(at).0 >= REFRESH_SIM.as_nanos() as u64,
            None => true,
        };
        if !due || now == SimTime::ZERO {
            return;
        }
        self.live.measured_secs = summary.measured_secs;
        self.live.waterfalls = summary
            .endpoints
            .iter()
            .filter(|(_, e)| e.ok > 0)
            .map(|(name, e)| Waterfall {
                endpoint: name.clone(),
                mean_ms: e.latency_ms.mean,
                parts: Phase::ALL
                    .iter()
                    .map(|p| (*p, e.breakdown_ms.get(p.name()).copied().unwrap_or(0.0)))
                    .filter(|(_, ms)| *ms > 0.0)
                    .collect(),
            })
            .collect();
        self.advice = Some(advisor::analyse(sim.current(), summary));
        self.at = Some(now);
    }

    pub fn ui(&mut self, ui: &mut egui::Ui) -> Vec<Action> {
        let mut actions = Vec::new();
        self.measure_ui(ui, &mut actions);
        let (a, shown) = match (&self.measured, &self.advice) {
            (Some((a, shown)), _) => (a, shown),
            (None, Some(a)) => (a, &self.live),
            (None, None) => {
                ui.label("The advice appears once the run has started.");
                return actions;
            }
        };
        ui.label(
            egui::RichText::new(format!(
                "Over the {:.0} s measured so far (after the warm-up): {:.0} req/s served, \
                 mean {:.1} ms, p99 {:.1} ms",
                shown.measured_secs, a.load_per_sec, a.mean_ms, a.p99_ms
            ))
            .weak(),
        );
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                if !a.failures.is_empty() {
                    ui.heading("What fails, at its root");
                    for f in &a.failures {
                        ui.label(report::failure_words(f));
                    }
                    ui.add_space(4.0);
                }
                ui.heading("What runs out first");
                for h in a.headroom.iter().take(4) {
                    ui.horizontal(|ui| {
                        ui.add(
                            egui::ProgressBar::new(h.utilization.clamp(0.0, 1.0) as f32)
                                .desired_width(120.0)
                                .text(format!("{:.0}%", h.utilization * 100.0)),
                        );
                        let when = if h.saturates_at_per_sec.is_finite() {
                            format!(
                                "full at about {:.0} req/s ({:+.0}% load)",
                                h.saturates_at_per_sec,
                                h.headroom * 100.0
                            )
                        } else {
                            "load does not exhaust it".to_owned()
                        };
                        ui.label(format!("{} — {when}", h.resource)).on_hover_text(
                            "Bottleneck law: a resource used U of the time at today's load X \
                             is full at X ÷ U (threads and connections at today's holding \
                             times).",
                        );
                    });
                }
                if let Some(c) = &a.closed_loop {
                    ui.label(format!(
                        "A closed loop of {} users thinking {:.0} ms: mean value analysis gives \
                         {}{:.1} req/s and {:.1} ms per request; simulated {:.1} req/s and \
                         {:.1} ms.",
                        c.users,
                        c.think_ms,
                        if c.exact { "" } else { "about " },
                        c.throughput_per_sec,
                        c.response_ms,
                        c.simulated_throughput_per_sec,
                        c.simulated_response_ms
                    ));
                }
                ui.add_space(6.0);
                ui.heading("Diagnosis");
                for d in &a.diagnoses {
                    ui.label(report::diagnosis_words(d));
                }
                ui.add_space(6.0);
                ui.heading("Where the time goes");
                waterfall_ui(ui, &shown.waterfalls);
                ui.add_space(6.0);
                ui.heading("Levers");
                if a.levers.is_empty() {
                    ui.label("No lever the advisor knows applies here.");
                }
                for l in &a.levers {
                    ui.separator();
                    ui.horizontal(|ui| {
                        let title = report::lever_title(l);
                        let strong = egui::RichText::new(&title).strong();
                        ui.label(if l.helps() { strong } else { strong.weak() });
                        ui.label(egui::RichText::new(l.changes.join(" ")).monospace());
                        if ui
                            .button(labels::APPLY_LEVER)
                            .on_hover_text(
                                "Make this change now: live in the running system when it \
                                 can change live, otherwise in the scenario for the next \
                                 restart. Recorded; Ctrl+Z undoes it.",
                            )
                            .clicked()
                        {
                            actions.push(Action::Apply {
                                component: l.component.clone(),
                                changes: l.changes.clone(),
                                title,
                            });
                        }
                    });
                    let p = &l.predicted;
                    let after = p.mean_ms.map_or_else(
                        || "a resource would still be saturated".to_owned(),
                        // (egui's fonts have no arrow.)
                        |m| format!("mean {:.1} ms now, about {m:.1} ms after", a.mean_ms),
                    );
                    let text = match (p.helps, p.unhelpful) {
                        (true, _) if p.relief.is_some() => format!(
                            "Predicted: {}.",
                            p.relief
                                .as_ref()
                                .map(report::relief_words)
                                .unwrap_or_default()
                        ),
                        (true, _) => format!(
                            "Predicted: {after}; then {} runs out first, at about {:.0} req/s.",
                            p.bottleneck, p.saturates_at_per_sec
                        ),
                        (false, Some(Unhelpful::NotNeeded)) => {
                            format!("Not needed now: nothing is near its limit ({after}).")
                        }
                        (false, _) => format!(
                            "Will not help: {} still runs out first ({after}).",
                            p.bottleneck
                        ),
                    };
                    ui.label(text);
                    if let Some(d) = l.verified.as_ref().and_then(|v| v.relieved.as_ref()) {
                        ui.label(format!(
                            "Measured: what it removes from {} to {}, {}.",
                            report::count_words(d.a.mean),
                            report::count_words(d.b.mean),
                            report::difference_words(d, "", 1.0)
                        ));
                    }
                    if let Some(v) = &l.verified {
                        ui.label(format!(
                            "Measured over {} replications: mean {:.1} ms to {:.1} ms, {}; \
                             p99 {:.1} ms to {:.1} ms.{}",
                            a.replications,
                            v.mean_ms.a.mean,
                            v.mean_ms.b.mean,
                            report::difference_words(&v.mean_ms, "ms", 1.0),
                            v.p99_ms.a.mean,
                            v.p99_ms.b.mean,
                            if v.helps == p.helps {
                                ""
                            } else if v.helps {
                                " It helps after all."
                            } else {
                                " It does not help: the prediction missed."
                            }
                        ));
                    }
                    ui.label(
                        egui::RichText::new(if l.cost_change_per_hour.abs() < 0.005 {
                            "No cost change".to_owned()
                        } else {
                            format!("{:+.2} $ per hour", l.cost_change_per_hour)
                        })
                        .weak(),
                    );
                }
                ui.add_space(4.0);
                ui.label(
                    egui::RichText::new(
                        "Predictions come from queueing theory on the figures so far; \
                         measuring re-runs the scenario and each lever on the same random \
                         numbers, as `bottleneck advise FILE` does.",
                    )
                    .weak()
                    .small(),
                );
            });
        actions
    }
}

impl AdvisorPanel {
    /// The measurement's controls: start, its progress and Stop, or back to live.
    fn measure_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            if let Some(m) = &self.measuring {
                let (done, planned) = m.ctl.progress();
                ui.add(
                    egui::ProgressBar::new(done as f32 / planned.max(1) as f32)
                        .desired_width(200.0)
                        .text(format!("{done} of {planned} runs")),
                );
                if ui.button(labels::STOP).clicked() {
                    self.stop();
                }
                ui.ctx().request_repaint_after(Duration::from_millis(200));
            } else if self.measured.is_some() {
                ui.label(egui::RichText::new("Measured levers (the advice is frozen)").strong());
                if ui
                    .button(labels::LIVE)
                    .on_hover_text("Follow the running system again")
                    .clicked()
                {
                    self.measured = None;
                }
            } else if self.advice.as_ref().is_some_and(|a| !a.levers.is_empty())
                && ui
                    .button(labels::VERIFY)
                    .on_hover_text(format!(
                        "Re-run the scenario and each lever {VERIFY_REPLICATIONS} times on \
                         the same random numbers, in the background, and show the change \
                         each one makes with its interval"
                    ))
                    .clicked()
            {
                actions.push(Action::Measure);
            }
        });
        if let Some(f) = &self.failure {
            ui.colored_label(ui.visuals().error_fg_color, f);
        }
    }
}

/// A phase's colour: the same in every scenario.
fn colour(p: Phase) -> egui::Color32 {
    use egui::Color32 as C;
    match p {
        Phase::Retries => C::from_rgb(200, 80, 80),
        Phase::Edge => C::from_rgb(120, 200, 200),
        Phase::WorkerWait => C::from_rgb(230, 160, 60),
        Phase::CoreWait => C::from_rgb(240, 200, 80),
        Phase::Cpu => C::from_rgb(90, 170, 90),
        Phase::PoolWait => C::from_rgb(220, 110, 40),
        Phase::Connect => C::from_rgb(170, 120, 200),
        Phase::Network => C::from_rgb(140, 140, 140),
        Phase::DbQueue => C::from_rgb(200, 70, 120),
        Phase::DbService => C::from_rgb(90, 130, 210),
        Phase::Cache => C::from_rgb(80, 190, 170),
        Phase::External => C::from_rgb(150, 110, 80),
        Phase::Call => C::from_rgb(110, 90, 180),
    }
}

/// One stacked bar per endpoint, lengths to a common scale, each part named on hover.
fn waterfall_ui(ui: &mut egui::Ui, rows: &[Waterfall]) {
    let longest = rows.iter().map(|w| w.mean_ms).fold(0.0, f64::max);
    if longest <= 0.0 {
        ui.label("No successful response yet.");
        return;
    }
    // The legend: the phases present, in the journey's order.
    let mut present: Vec<Phase> = rows
        .iter()
        .flat_map(|w| w.parts.iter().map(|(p, _)| *p))
        .collect();
    present.sort();
    present.dedup();
    present.sort_by_key(|p| Phase::ALL.iter().position(|q| q == p));
    ui.horizontal_wrapped(|ui| {
        for p in present {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter().rect_filled(rect, 2.0, colour(p));
            ui.label(egui::RichText::new(p.label()).small());
        }
    });
    for w in rows {
        ui.label(format!("{} — {:.2} ms", w.endpoint, w.mean_ms));
        let width = ui.available_width().min(520.0);
        let (rect, response) =
            ui.allocate_exact_size(egui::vec2(width, 16.0), egui::Sense::hover());
        let painter = ui.painter_at(rect);
        let mut x = rect.left();
        let mut hovered = None;
        for (phase, ms) in &w.parts {
            let len = (*ms / longest) as f32 * rect.width();
            let part = egui::Rect::from_min_size(egui::pos2(x, rect.top()), egui::vec2(len, 16.0));
            painter.rect_filled(part, 0.0, colour(*phase));
            if response.hover_pos().is_some_and(|p| part.contains(p)) {
                hovered = Some((*phase, *ms));
            }
            x += len;
        }
        if let Some((phase, ms)) = hovered {
            response.on_hover_text(format!(
                "{}: {ms:.2} ms ({:.0}%)",
                phase.label(),
                ms / w.mean_ms.max(1e-12) * 100.0
            ));
        }
    }
}
