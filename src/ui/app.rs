//! The window's shell: steps the simulation in `logic` within a per-frame time budget,
//! and draws toolbar, lesson panel and live charts in `ui`.

use std::time::{Duration, Instant};

use crate::engine::{Advance, Simulation};
use crate::metrics::Summary;
use crate::model::ValidScenario;

use super::charts;
use super::playback::{Playback, SPEEDS, speed_label};

/// Wall-clock time the simulation may use per frame, so the window never freezes.
pub const FRAME_BUDGET: Duration = Duration::from_millis(8);
/// Events processed between two looks at the wall clock.
const EVENTS_PER_SLICE: u64 = 5_000;

/// The application state.
pub struct BottleneckApp {
    scenario: ValidScenario,
    sim: Simulation,
    playback: Playback,
    last_frame: Option<Instant>,
    /// Simulated seconds shown in the charts.
    window_secs: f64,
    /// Wall time spent simulating in the last frame.
    last_work: Duration,
}

impl BottleneckApp {
    pub fn new(scenario: ValidScenario) -> Self {
        Self {
            sim: Simulation::new(&scenario),
            scenario,
            playback: Playback::default(),
            last_frame: None,
            window_secs: 120.0,
            last_work: Duration::ZERO,
        }
    }

    pub fn simulation(&self) -> &Simulation {
        &self.sim
    }

    pub fn playback_mut(&mut self) -> &mut Playback {
        &mut self.playback
    }

    /// Advances the simulation for a frame that came `wall_dt_secs` after the previous
    /// one, spending at most `budget` of wall time.
    pub fn advance_frame(&mut self, wall_dt_secs: f64, budget: Duration) {
        let start = Instant::now();
        let before = self.sim.now();
        let target = self.playback.target(before, wall_dt_secs);
        if target > before {
            while start.elapsed() < budget {
                match self.sim.advance_until(target, EVENTS_PER_SLICE) {
                    Advance::BudgetExhausted => {}
                    Advance::ReachedTarget | Advance::Finished => break,
                }
            }
        }
        self.last_work = start.elapsed();
        if self.playback.playing {
            self.playback
                .record(self.sim.now().since(before).as_secs_f64(), wall_dt_secs);
        }
    }

    fn restart(&mut self) {
        self.sim = Simulation::with_seed(&self.scenario, self.sim.seed());
        self.playback.actual_speed = 0.0;
    }

    /// Draws the whole window.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let summary = self.sim.summary();
        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        egui::Panel::left("lesson")
            .resizable(true)
            .default_size(330.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| self.lesson_ui(ui, &summary));
            });
        egui::CentralPanel::default().show(ui, |ui| self.charts_ui(ui));
    }

    fn toolbar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let play_label = if self.playback.playing {
                "Pause"
            } else {
                "Play"
            };
            if ui
                .button(play_label)
                .on_hover_text("Start or stop simulated time (space)")
                .clicked()
            {
                self.playback.playing = !self.playback.playing;
            }
            if ui
                .button("Step")
                .on_hover_text("Process exactly one event")
                .clicked()
            {
                self.playback.playing = false;
                self.sim.step();
            }
            if ui
                .button("Restart")
                .on_hover_text("Start the run again from time zero with the same seed")
                .clicked()
            {
                self.restart();
            }
            ui.separator();
            ui.label("Speed");
            egui::ComboBox::from_id_salt("speed")
                .selected_text(speed_label(self.playback.speed))
                .show_ui(ui, |ui| {
                    for s in SPEEDS {
                        ui.selectable_value(&mut self.playback.speed, s, speed_label(s));
                    }
                })
                .response
                .on_hover_text("Simulated seconds per wall-clock second");
            ui.separator();
            ui.label(format!(
                "t = {:.1} s / {:.0} s",
                self.sim.now().as_secs_f64(),
                self.sim.end().as_secs_f64()
            ));
            ui.separator();
            ui.label(format!("seed {}", self.sim.seed()))
                .on_hover_text("A scenario plus a seed determines the run exactly");
        });
        if ui.input(|i| i.key_pressed(egui::Key::Space)) {
            self.playback.playing = !self.playback.playing;
        }
    }

    fn status_ui(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if self.sim.is_finished() {
                ui.label("Run finished");
            } else if !self.playback.playing {
                ui.label("Paused");
            } else if self.playback.keeping_up() {
                ui.label(format!("Running at {:.1}×", self.playback.actual_speed));
            } else {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!(
                        "Running at {:.1}× of the requested {} (simulation work is capped at {} ms per frame)",
                        self.playback.actual_speed,
                        speed_label(self.playback.speed),
                        FRAME_BUDGET.as_millis()
                    ),
                );
            }
            ui.separator();
            ui.label(format!(
                "{} events, {:.1} ms simulating last frame",
                self.sim.events(),
                self.last_work.as_secs_f64() * 1e3
            ));
        });
    }

    fn lesson_ui(&self, ui: &mut egui::Ui, s: &Summary) {
        ui.heading(&self.scenario.name);
        ui.label(&self.scenario.description);
        ui.separator();
        let o = &s.overall;
        egui::Grid::new("overall").num_columns(2).show(ui, |ui| {
            ui.label("Offered");
            ui.label(format!("{:.0} req/s", o.offered_per_sec));
            ui.end_row();
            ui.label("Served");
            ui.label(format!("{:.0} req/s", o.throughput_per_sec));
            ui.end_row();
            ui.label("Errors");
            ui.label(format!("{:.2} %", o.error_rate * 100.0));
            ui.end_row();
            ui.label("Latency p50 / p99");
            ui.label(format!(
                "{:.1} / {:.1} ms",
                o.latency_ms.p50, o.latency_ms.p99
            ));
            ui.end_row();
        });
        ui.separator();
        ui.label(egui::RichText::new("Saturation, fullest first").strong())
            .on_hover_text(
                "compute: CPU busy, add cores or instances; concurrency: a pool of threads or \
                 connections is full while its holders wait",
            );
        for r in s.saturation.iter().take(8) {
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(r.utilization.clamp(0.0, 1.0) as f32)
                        .desired_width(120.0)
                        .text(format!("{:.0} %", r.utilization * 100.0)),
                );
                ui.label(format!("{} ({})", r.resource, r.kind));
            });
        }
        if !s.queries.is_empty() {
            ui.separator();
            ui.label(egui::RichText::new("Top queries by total time").strong());
            for q in s.queries.iter().take(5) {
                ui.label(format!(
                    "{}.{}: {:.1} s total, {:.2} ms mean",
                    q.db, q.query, q.total_secs, q.mean_ms
                ));
            }
        }
    }

    fn charts_ui(&mut self, ui: &mut egui::Ui) {
        let set = self.sim.series();
        let h = ((ui.available_height() - 90.0) / 3.0).max(120.0);
        charts::plot(
            ui,
            "throughput",
            "Throughput (requests/s)",
            set,
            &[
                ("", "offered_per_sec", "offered"),
                ("", "ok_per_sec", "served"),
                ("", "errors_per_sec", "errors"),
            ],
            self.window_secs,
            h,
        );
        charts::plot(
            ui,
            "latency",
            "Latency (ms)",
            set,
            &[
                ("", "p50_ms", "p50"),
                ("", "p95_ms", "p95"),
                ("", "p99_ms", "p99"),
            ],
            self.window_secs,
            h,
        );
        let util_lines: Vec<(String, String, String)> = set
            .names
            .iter()
            .filter(|(_, m)| m.ends_with("util"))
            .map(|(s, m)| (s.clone(), m.clone(), format!("{s} {}", m.replace('_', " "))))
            .collect();
        let refs: Vec<(&str, &str, &str)> = util_lines
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        charts::plot(
            ui,
            "utilization",
            "Utilisation (0–1)",
            set,
            &refs,
            self.window_secs,
            h,
        );
    }
}

impl eframe::App for BottleneckApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let now = Instant::now();
        let dt = self
            .last_frame
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        self.last_frame = Some(now);
        self.advance_frame(dt, FRAME_BUDGET);
        if self.playback.playing && !self.sim.is_finished() {
            ctx.request_repaint();
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        BottleneckApp::ui(self, ui);
    }
}
