//! The window's shell: the document being edited, the simulation running it, and the
//! panels around them. Panels push [`Command`]s; the shell applies them after the pass,
//! so every state change goes through one place (and one undo history).
//!
//! Time advances in `logic` (eframe) or [`BottleneckApp::advance_frame`] (tests), within a
//! wall-clock budget per frame so the window never freezes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::edit;
use crate::engine::{Advance, Simulation};
use crate::metrics::Summary;
use crate::model::{self, ComponentSpec, Endpoint, Kind, RunSpec, Scenario, ValidScenario, params};

use super::advisor::{self as advisor_panel, AdvisorPanel};
use super::canvas::{Canvas, CanvasAction, CanvasInput};
use super::charts;
use super::compare::Comparing;
use super::document::Document;
use super::experiments::picture::take_picture;
use super::experiments::{self, Experiments, Export, PngExport};
use super::files::{self, Picker};
use super::inspector::{self, Buffer, RefChoices};
use super::playback::{Playback, SPEEDS, speed_label};
use super::prefs::{Prefs, STORAGE_KEY};

/// Wall-clock time the simulation may use per frame, so the window never freezes.
pub const FRAME_BUDGET: Duration = Duration::from_millis(8);
/// Events processed between two looks at the wall clock.
const EVENTS_PER_SLICE: u64 = 5_000;

/// Texts of the controls, shared with the tests that find them by label.
pub mod labels {
    pub const TOP_QUERIES: &str = "Top queries by total time";
    pub const PLAY: &str = "Play";
    pub const PAUSE: &str = "Pause";
    pub const STEP: &str = "Step";
    pub const RESTART: &str = "Restart";
    pub const KEEP_BASELINE: &str = "Keep this run to compare";
    pub const LESSONS: &str = "Lessons";
    pub const ALL_LESSONS: &str = "All lessons…";
    pub const LESSONS_WINDOW: &str = "Lessons by topic";
    pub const EXPORT_RUN: &str = "Export the run";
    pub const EXPORT_SUMMARY_JSON: &str = "Summary (JSON)…";
    pub const EXPORT_SUMMARY_CSV: &str = "Summary (CSV)…";
    pub const EXPORT_SERIES_CSV: &str = "Chart series (CSV)…";
    pub const EXPORT_CHARTS_PNG: &str = "Charts picture (PNG)…";
    pub const EXPORT_WINDOW_PNG: &str = "Window picture (PNG)…";
    /// The button of a lesson's step `i` (from 0).
    pub fn try_step(i: usize) -> String {
        format!("Try {}", i + 1)
    }
    pub const LIVE_WINDOW: &str = "Live figures over the last";
    pub const WHOLE_RUN: &str = "whole run";
    pub const OFFERED: &str = "Offered";
    pub const SERVED: &str = "Served";
    pub const SATURATION: &str = "Saturation, fullest first";
    pub const FORGET_BASELINE: &str = "Forget the kept run";
    pub const COMPARE_WITH: &str = "Compare with a scenario file…";
    pub const STOP_COMPARING: &str = "Stop comparing";
    pub const NEW: &str = "New";
    pub const OPEN: &str = "Open…";
    pub const OPEN_TYPED: &str = "Open a path…";
    /// The status while the system's file dialog is shown.
    pub const CHOOSING: &str = "Choosing a file in the system dialog…";
    pub const TYPE_INSTEAD: &str = "Type the path instead";
    pub const SAVE: &str = "Save";
    pub const SAVE_AS: &str = "Save as…";
    pub const UNDO: &str = "Undo";
    pub const REDO: &str = "Redo";
    pub const DELETE: &str = "Delete";
    pub const DUPLICATE: &str = "Duplicate";
    pub const RENAME: &str = "Rename";
    pub const FILE_PATH: &str = "File path";
    pub const CONFIRM_OPEN: &str = "Open file";
    pub const CONFIRM_SAVE: &str = "Save file";
    pub const CANCEL: &str = "Cancel";
    pub const DISCARD: &str = "Discard changes";
    pub const BROWSE: &str = "Browse…";
    pub const CLOSE: &str = "Close";
    pub const SPEED: &str = "Speed";
    pub const SEED: &str = "Seed";
    pub const ADD_ENDPOINT: &str = "Add endpoint";
    pub const CLEAR_CHANGES: &str = "Clear recorded changes";
    pub const KEEP_CHANGES: &str = "Make current values the start";
    pub const EXPERIMENTS: &str = "Experiments";
}

/// What the inspector shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    None,
    Component(String),
    Endpoint(String),
    /// The run's settings (duration, warm-up, chart resolution).
    Run,
}

/// Everything the user can ask for; applied after the frame's pass.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    TogglePlay,
    Step,
    Restart,
    SetSpeed(f64),
    SetSeed(u64),
    New,
    Open(PathBuf),
    /// Ask for a file to open (after confirming unsaved changes are discarded): the
    /// system's dialog, or the path field where there is none.
    OpenDialog,
    /// Ask for the path of a file to open in the path field (keyboard use).
    OpenTyped,
    /// Open a bundled scenario by its file name (`cache_stampede`), from the Lessons menu.
    OpenLesson(String),
    Save,
    SaveAs(PathBuf),
    SaveAsDialog,
    Undo,
    Redo,
    Select(Selection),
    Add(Kind),
    Delete(String),
    Duplicate(String),
    Rename(String, String),
    Connect(String, String),
    Move(String, (f32, f32)),
    MoveDone,
    EditComponent(ComponentSpec),
    EditEndpoint(String, Endpoint),
    EditRun(RunSpec),
    AddEndpoint,
    RenameEndpoint(String, String),
    DeleteEndpoint(String),
    ClearTimeline,
    KeepChanges,
    FitView,
    ToggleTheme,
    /// Keep the current run on the charts as a faded trace to compare with.
    KeepBaseline,
    /// Stop drawing the kept run.
    ForgetBaseline,
    /// Ask for another scenario to run beside this one.
    CompareDialog,
    /// Run the scenario of this file beside this one and keep it on the charts (A/B).
    CompareWith(PathBuf),
    /// Close the window.
    Quit,
    /// Break something in the running system now (recorded).
    Inject(crate::model::Fault),
    /// Forget the recorded faults.
    ClearFaults,
    /// Replace the scenario's service-level objectives.
    EditSlos(Vec<crate::model::Slo>),
    /// Give the scenario the setting of the experiment's point `i`.
    ApplyPoint(usize),
    /// Ask where to export the experiment's results.
    ExportDialog(Export),
    /// Make an advisor's lever: `--set` changes to one component.
    ApplyLever {
        component: String,
        changes: Vec<String>,
        title: String,
    },
    Export(Export, PathBuf),
    /// Stop waiting for the system's file dialog; type the path.
    TypeInstead,
}

impl Command {
    /// Whether the command throws away the open document.
    fn discards(&self) -> bool {
        matches!(
            self,
            Self::New
                | Self::Open(_)
                | Self::OpenDialog
                | Self::OpenTyped
                | Self::OpenLesson(_)
                | Self::Quit
        )
    }
}

/// A modal dialog.
#[derive(Clone, Debug, PartialEq)]
enum Dialog {
    /// A file path to open, save to or export to, typed (the system's dialog is one
    /// button away).
    Path { purpose: PathPurpose, text: String },
    /// Unsaved changes would be lost by `then`.
    Discard { then: Box<Command> },
    /// Something failed: what, and why.
    Error { title: String, message: String },
}

/// What a path dialog asks a path for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum PathPurpose {
    Open,
    Save,
    /// Another scenario to run beside this one (A/B).
    Compare,
    Export(Export),
}

impl PathPurpose {
    fn heading(self) -> &'static str {
        match self {
            Self::Open => "Open scenario",
            Self::Save => "Save scenario",
            Self::Compare => "Compare with another scenario",
            Self::Export(Export::Csv) => "Export the experiment's results as CSV",
            Self::Export(Export::Png) => "Export the experiment's curve as PNG",
            Self::Export(Export::PlanCsv) => "Export the configurations as CSV",
            Self::Export(Export::PlanPng) => "Export the cost against p99 as PNG",
            Self::Export(Export::RunJson) => "Export the run's summary as JSON",
            Self::Export(Export::RunCsv) => "Export the run's summary as CSV",
            Self::Export(Export::SeriesCsv) => "Export the run's chart series as CSV",
            Self::Export(Export::ChartsPng) => "Save a picture of the charts",
            Self::Export(Export::WindowPng) => "Save a picture of the window",
        }
    }

    /// What the window does with the path given.
    fn command(self, path: PathBuf) -> Command {
        match self {
            Self::Open => Command::Open(path),
            Self::Save => Command::SaveAs(path),
            Self::Compare => Command::CompareWith(path),
            Self::Export(e) => Command::Export(e, path),
        }
    }

    /// The file type the native dialog offers.
    fn filter(self) -> (&'static str, &'static str) {
        match self {
            Self::Open | Self::Save | Self::Compare => ("scenario", "ron"),
            Self::Export(e) => (e.extension(), e.extension()),
        }
    }
}

/// One step of the undo history: an edit of the document, or a change made to the
/// running simulation (undone by changing the values back, now).
#[derive(Clone, Debug)]
enum Undo {
    Document,
    Live {
        component: String,
        back: Vec<(String, String)>,
        forward: Vec<(String, String)>,
    },
}

/// Frame timing, for the status bar and the budget check.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameStats {
    /// Wall time spent simulating in the last frame.
    pub work: Duration,
    /// The longest simulation work of recent frames (decays slowly).
    pub work_max: Duration,
    /// Time between the last two frames.
    pub frame: Duration,
}

/// The application state.
pub struct BottleneckApp {
    doc: Document,
    sim: Simulation,
    /// The scenario `sim` was built from, without its timeline: when the document
    /// differs from it, the run needs a restart to show the edits.
    ran: Scenario,
    playback: Playback,
    pub prefs: Prefs,
    selection: Selection,
    canvas: Canvas,
    component_buffer: Buffer<ComponentSpec>,
    endpoint_buffer: Buffer<Endpoint>,
    run_buffer: Buffer<RunSpec>,
    rename: String,
    dialog: Option<Dialog>,
    status: String,
    commands: Vec<Command>,
    undo: Vec<Undo>,
    redo: Vec<Undo>,
    /// The document before a node drag began, for one undo step per drag.
    moving: Option<Scenario>,
    /// The Experiments panel: sweeps in background threads and their results.
    experiments: Experiments,
    /// The Advisor panel: what runs out first and the levers, from the running system.
    advisor: AdvisorPanel,
    /// A run kept on the charts as a faded trace (the run before a restart, or one the
    /// user kept).
    baseline: Option<charts::model::Baseline>,
    /// What the charts drew in the last frame.
    charts_drawn: charts::Drawn,
    /// Whether the fallback font is in the context's fonts (on the first frame).
    fonts_installed: bool,
    /// The node outlined as the bottleneck (kept with hysteresis from frame to frame).
    outlined: Option<String>,
    /// A picture being saved: of the charts panel (`true`) or the whole window.
    picture: Option<(PngExport, bool)>,
    /// Where the charts panel was drawn in the last frame (what its picture shows).
    charts_rect: Option<egui::Rect>,
    picture_sender: std::sync::mpsc::Sender<Result<PathBuf, String>>,
    picture_replies: std::sync::mpsc::Receiver<Result<PathBuf, String>>,
    /// How paths are asked for, and the system dialog being shown, if one is.
    picker: Picker,
    picking: Option<files::Pending<PathPurpose>>,
    /// Another scenario being run to compare with, until it becomes the baseline.
    comparing: Option<Comparing>,
    /// The Lessons window is open.
    show_lessons: bool,
    last_frame: Option<Instant>,
    frame_dt: f64,
    pub stats: FrameStats,
    frame_log: FrameLog,
    title: String,
    /// The user chose to close the window (after saving or discarding).
    quitting: bool,
}

/// With `BOTTLENECK_FRAME_STATS` set, prints frame timing percentiles to stderr every
/// five seconds: how the per-frame simulation budget holds at the current speed.
#[derive(Default)]
struct FrameLog {
    enabled: Option<bool>,
    since: Option<Instant>,
    frames_ms: Vec<f64>,
    work_ms: Vec<f64>,
}

impl FrameLog {
    fn record(&mut self, dt: f64, work: Duration, speed: f64) {
        let enabled = *self
            .enabled
            .get_or_insert_with(|| std::env::var_os("BOTTLENECK_FRAME_STATS").is_some());
        if !enabled || dt <= 0.0 {
            return;
        }
        self.frames_ms.push(dt * 1e3);
        self.work_ms.push(work.as_secs_f64() * 1e3);
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() < Duration::from_secs(5) {
            return;
        }
        let pct = |v: &mut Vec<f64>, q: f64| {
            v.sort_by(f64::total_cmp);
            v[((v.len() - 1) as f64 * q).round() as usize]
        };
        let (f, w) = (&mut self.frames_ms, &mut self.work_ms);
        eprintln!(
            "frames {} at {speed:.1}x: frame interval p50 {:.1} ms p99 {:.1} ms max {:.1} ms; \
             simulation work p50 {:.2} ms p99 {:.2} ms max {:.2} ms (budget {} ms)",
            f.len(),
            pct(f, 0.5),
            pct(f, 0.99),
            pct(f, 1.0),
            pct(w, 0.5),
            pct(w, 0.99),
            pct(w, 1.0),
            FRAME_BUDGET.as_millis()
        );
        *self = Self {
            enabled: Some(true),
            ..Self::default()
        };
    }
}

/// DejaVu Sans (Bitstream Vera licence, `assets/fonts/`), after egui's own fonts: the
/// arrows, symbols and subscripts of lesson texts and charts (→, ÷, ≥, μ₁, ━) that egui's
/// fonts lack, instead of a missing-glyph box.
const FALLBACK_FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

pub fn install_fonts(ctx: &egui::Context) {
    let after = |family| egui::epaint::text::InsertFontFamily {
        family,
        priority: egui::epaint::text::FontPriority::Lowest,
    };
    ctx.add_font(egui::epaint::text::FontInsert {
        name: "DejaVuSans".to_owned(),
        data: egui::FontData::from_static(FALLBACK_FONT),
        families: vec![
            after(egui::FontFamily::Proportional),
            after(egui::FontFamily::Monospace),
        ],
    });
}

/// A menu entry showing its keyboard shortcut (as this platform writes it), named by its
/// text alone for screen readers and tests.
fn menu_entry(
    ui: &mut egui::Ui,
    enabled: bool,
    text: &str,
    modifiers: egui::Modifiers,
    key: egui::Key,
) -> egui::Response {
    let shortcut = ui
        .ctx()
        .format_shortcut(&egui::KeyboardShortcut::new(modifiers, key));
    let response = ui.add_enabled(
        enabled,
        egui::Button::new(text.to_owned()).shortcut_text(shortcut),
    );
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, enabled, text));
    response
}

/// What a restart changed between two starting points, in a few words
/// (`app: instances = 6; redis: capacity = 40000`).
fn what_changed(old: &Scenario, new: &Scenario) -> String {
    let mut parts = Vec::new();
    for c in &new.components {
        match old.components.iter().find(|o| o.id() == c.id()) {
            Some(o) => {
                let diff = crate::model::params::diff(o, c);
                if !diff.is_empty() {
                    let set: Vec<String> = diff.iter().map(|(p, v)| format!("{p} = {v}")).collect();
                    parts.push(format!("{}: {}", c.id(), set.join(", ")));
                }
            }
            None => parts.push(format!("{} added", c.id())),
        }
    }
    for o in &old.components {
        if !new.components.iter().any(|c| c.id() == o.id()) {
            parts.push(format!("{} removed", o.id()));
        }
    }
    if old.seed != new.seed {
        parts.push(format!("seed {}", new.seed));
    }
    if parts.is_empty() {
        "the same scenario from time zero".to_owned()
    } else {
        parts.join("; ")
    }
}

/// What a run starts from: the scenario without what a run records (its changes and
/// faults) and without where its nodes sit. When the document's differs from the running
/// simulation's, edits are waiting for a restart.
fn starting_point(s: &Scenario) -> Scenario {
    Scenario {
        timeline: Vec::new(),
        faults: Vec::new(),
        layout: BTreeMap::new(),
        // Objectives judge a run; they do not change it.
        slos: Vec::new(),
        ..s.clone()
    }
}

impl BottleneckApp {
    /// A window on `scenario` (from `path`, if it came from a file), already playing.
    pub fn new(scenario: ValidScenario, path: Option<PathBuf>) -> Self {
        let sim = Simulation::new(&scenario);
        let ran = starting_point(&scenario);
        let (picture_sender, picture_replies) = std::sync::mpsc::channel();
        Self {
            doc: Document::new(scenario.into_inner(), path),
            sim,
            ran,
            playback: Playback::default(),
            prefs: Prefs::default(),
            selection: Selection::None,
            canvas: Canvas::default(),
            component_buffer: Buffer::default(),
            endpoint_buffer: Buffer::default(),
            run_buffer: Buffer::default(),
            rename: String::new(),
            dialog: None,
            status: String::new(),
            commands: Vec::new(),
            undo: Vec::new(),
            redo: Vec::new(),
            moving: None,
            experiments: Experiments::default(),
            advisor: AdvisorPanel::default(),
            baseline: None,
            charts_drawn: charts::Drawn::default(),
            fonts_installed: false,
            outlined: None,
            picture: None,
            charts_rect: None,
            picture_sender,
            picture_replies,
            picker: Picker::default(),
            picking: None,
            comparing: None,
            show_lessons: false,
            last_frame: None,
            frame_dt: 0.0,
            stats: FrameStats::default(),
            frame_log: FrameLog::default(),
            title: String::new(),
            quitting: false,
        }
    }

    /// How the window asks for paths: the system's dialog (the default) or the path field.
    pub fn set_picker(&mut self, picker: Picker) {
        self.picker = picker;
    }

    /// Restores preferences saved by a previous session.
    pub fn with_storage(mut self, storage: Option<&dyn eframe::Storage>) -> Self {
        if let Some(prefs) = storage.and_then(|s| eframe::get_value::<Prefs>(s, STORAGE_KEY)) {
            self.prefs = prefs;
        }
        self
    }

    /// What the charts drew in the last frame (their titles, markers, the kept run's
    /// lines, their notes).
    pub fn charts_drawn(&self) -> &charts::Drawn {
        &self.charts_drawn
    }

    /// Every component at a glance over the live window: what the canvas draws, the
    /// ranking lists and the outline is chosen from.
    pub fn glance(&self) -> Vec<crate::metrics::Glance> {
        self.sim.glance(self.prefs.live_window_secs)
    }

    /// The run kept on the charts to compare with, if any.
    pub fn baseline(&self) -> Option<&charts::model::Baseline> {
        self.baseline.as_ref()
    }

    /// The node outlined as the bottleneck in the last frame.
    pub fn outlined(&self) -> Option<&str> {
        self.outlined.as_deref()
    }

    pub fn simulation(&self) -> &Simulation {
        &self.sim
    }

    pub fn scenario(&self) -> &Scenario {
        &self.doc.scenario
    }

    pub fn document_path(&self) -> Option<&std::path::Path> {
        self.doc.path.as_deref()
    }

    pub fn is_dirty(&self) -> bool {
        self.doc.is_dirty()
    }

    pub fn playback_mut(&mut self) -> &mut Playback {
        &mut self.playback
    }

    /// Where a component's node and its connection port are on screen (for driving the
    /// canvas from tests and scripts).
    pub fn node_on_screen(&self, id: &str) -> Option<(egui::Pos2, egui::Pos2)> {
        let at = *edit::layout(&self.doc.scenario).get(id)?;
        let centre = self.canvas.to_screen(at);
        let port = self.canvas.to_screen((
            at.0 + Canvas::port_offset().x,
            at.1 + Canvas::port_offset().y,
        ));
        Some((centre, port))
    }

    /// The Experiments panel (its results, whether one runs).
    pub fn experiments(&self) -> &Experiments {
        &self.experiments
    }

    /// The Advisor panel (the advice it shows).
    pub fn advisor(&self) -> &AdvisorPanel {
        &self.advisor
    }

    /// The message in the status bar.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// The error dialog's message, if one is open.
    pub fn error_message(&self) -> Option<&str> {
        match &self.dialog {
            Some(Dialog::Error { message, .. }) => Some(message),
            _ => None,
        }
    }

    /// Queues a command as if a control had been used (for tests and the shell).
    pub fn command(&mut self, c: Command) {
        self.commands.push(c);
    }

    /// Advances the simulation for a frame that came `wall_dt_secs` after the previous
    /// one, spending at most about `budget` of wall time (one slice of events past it).
    pub fn advance_frame(&mut self, wall_dt_secs: f64, budget: Duration) {
        let start = Instant::now();
        self.frame_dt = wall_dt_secs;
        let before = self.sim.now();
        let target = self.playback.target(before, wall_dt_secs);
        if target > before {
            while start.elapsed() < budget {
                match self.sim.advance_until(target, EVENTS_PER_SLICE) {
                    Advance::BudgetExhausted => {}
                    Advance::ReachedTarget | Advance::Finished => break,
                    Advance::Stalled => {
                        // The run cannot go on: say why, stop, and leave the window to
                        // the user (edit the scenario, then restart).
                        self.playback.playing = false;
                        if let Some(stall) = self.sim.stall() {
                            self.dialog = Some(Dialog::Error {
                                title: "The run cannot go on".to_owned(),
                                message: stall.to_string(),
                            });
                        }
                        break;
                    }
                }
            }
        }
        let work = start.elapsed();
        self.stats.work = work;
        self.stats.work_max = work.max(self.stats.work_max.mul_f64(0.995));
        self.stats.frame = Duration::from_secs_f64(wall_dt_secs.max(0.0));
        if self.playback.playing {
            self.playback
                .record(self.sim.now().since(before).as_secs_f64(), wall_dt_secs);
        }
        if self.sim.is_finished() {
            self.playback.playing = false;
        }
    }

    /// Whether the run is under way (started and not finished): edits then change the
    /// running system rather than the starting point.
    fn running(&self) -> bool {
        self.sim.now() > crate::sim::SimTime::ZERO && !self.sim.is_finished()
    }

    /// Draws the whole window and applies what the user asked for.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        if !self.fonts_installed {
            install_fonts(ui.ctx());
            self.fonts_installed = true;
        }
        ui.ctx().set_visuals(if self.prefs.dark {
            egui::Visuals::dark()
        } else {
            egui::Visuals::light()
        });
        self.shortcuts(ui.ctx());
        self.dropped_files(ui.ctx());
        self.close_requested(ui.ctx());
        self.experiments.poll();
        let summary = self.sim.summary();
        let glance = self.sim.glance(self.prefs.live_window_secs);

        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        if self.prefs.show_charts {
            egui::Panel::bottom("charts")
                .resizable(true)
                .default_size(345.0)
                .show(ui, |ui| {
                    let markers = charts::model::markers(&self.sim);
                    self.charts_rect = Some(ui.max_rect());
                    // The panel keeps the height the user gave it; more charts scroll.
                    egui::ScrollArea::vertical()
                        .id_salt("charts scroll")
                        .show(ui, |ui| {
                            self.charts_drawn = charts::panel(
                                ui,
                                self.sim.series(),
                                &mut self.prefs.charts,
                                self.sim.current(),
                                &charts::Context {
                                    markers: &markers,
                                    baseline: self.baseline.as_ref(),
                                },
                            );
                        });
                });
        }
        if self.prefs.show_scenario {
            egui::Panel::left("scenario")
                .resizable(true)
                .default_size(290.0)
                .show(ui, |ui| {
                    // A scroll bar always shown says there is more below the fold.
                    egui::ScrollArea::vertical()
                        .scroll_bar_visibility(
                            egui::scroll_area::ScrollBarVisibility::AlwaysVisible,
                        )
                        .show(ui, |ui| self.scenario_ui(ui, &summary, &glance));
                });
        }
        if self.prefs.show_inspector {
            egui::Panel::right("inspector")
                .resizable(true)
                .default_size(310.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| self.inspector_ui(ui));
                });
        }
        egui::CentralPanel::default().show(ui, |ui| self.canvas_ui(ui, &summary, &glance));
        self.lessons_ui(ui.ctx());
        self.experiments_ui(ui.ctx());
        self.advisor_ui(ui.ctx(), &summary);
        self.dialog_ui(ui.ctx());
        self.picking_ui(ui.ctx());
        self.comparing_ui(ui.ctx());
        self.picture_ui(ui.ctx());

        let commands = std::mem::take(&mut self.commands);
        for c in commands {
            self.apply(c);
        }
        self.update_title(ui.ctx());
        if self.quitting {
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    /// Asks for a path for `purpose`: the system's dialog on its own thread when there is
    /// one, else the path field starting at `text`.
    fn ask_path(&mut self, purpose: PathPurpose, text: String) {
        match self.picker {
            Picker::Dialog(pick) => self.show_file_dialog(purpose, text, pick),
            Picker::Typed => self.dialog = Some(Dialog::Path { purpose, text }),
        }
    }

    /// Shows `pick`'s dialog for `purpose` on a thread of its own, starting from `text`.
    fn show_file_dialog(&mut self, purpose: PathPurpose, text: String, pick: files::PickFn) {
        if self.picking.is_some() {
            self.status = "A file dialog is already open".to_owned();
            return;
        }
        let save = !matches!(purpose, PathPurpose::Open | PathPurpose::Compare);
        let typed = std::path::Path::new(text.trim());
        let (directory, file_name) = if text.is_empty() || text.ends_with(['/', '\\']) {
            (Some(typed.to_owned()), None)
        } else {
            (
                typed.parent().map(std::path::Path::to_owned),
                typed.file_name().map(|n| n.to_string_lossy().into_owned()),
            )
        };
        let ask = files::Ask {
            title: purpose.heading().to_owned(),
            save,
            filter: purpose.filter(),
            directory: directory.filter(|d| d.is_dir()),
            file_name: file_name.filter(|_| save),
        };
        match files::Pending::start(purpose, text.clone(), ask, pick) {
            Ok(p) => {
                self.picking = Some(p);
                self.status = labels::CHOOSING.to_owned();
            }
            Err(_) => self.dialog = Some(Dialog::Path { purpose, text }),
        }
    }

    /// The system dialog's answer, once it comes: the command it asked for, or the path
    /// field when no dialog appeared.
    fn picking_ui(&mut self, ctx: &egui::Context) {
        let Some(p) = &self.picking else {
            return;
        };
        let answer = p.poll();
        if answer == files::Answer::Waiting {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
            return;
        }
        let Some(p) = self.picking.take() else {
            return;
        };
        match answer {
            files::Answer::Waiting => {}
            files::Answer::Picked(path) => {
                self.status.clear();
                self.commands.push(p.purpose.command(path));
            }
            files::Answer::Cancelled => self.status = "No file chosen".to_owned(),
            files::Answer::NoDialog => {
                self.status = "No system file dialog appeared (it needs an XDG desktop portal \
                               or zenity): type the path"
                    .to_owned();
                self.dialog = Some(Dialog::Path {
                    purpose: p.purpose,
                    text: p.typed,
                });
            }
        }
    }

    /// The open file's folder (`dir/`), where a dialog for another file starts.
    fn document_folder(&self) -> String {
        self.doc
            .path
            .as_ref()
            .and_then(|p| p.parent())
            .map(|d| format!("{}/", d.display()))
            .unwrap_or_default()
    }

    /// Starts running the scenario of `path` beside this one, to this run's end.
    fn compare_with(&mut self, path: &std::path::Path) {
        let b = match model::load_file(path) {
            Ok(b) => b,
            Err(e) => {
                self.dialog = Some(Dialog::Error {
                    title: format!("Cannot compare with {}", path.display()),
                    message: e.to_string(),
                });
                return;
            }
        };
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let streams = if b.seed == self.sim.seed() {
            "on the same random numbers as this run"
        } else {
            "with another seed than this run's: part of any difference is luck"
        };
        match Comparing::start(b, name.clone(), self.sim.end()) {
            Ok(job) => {
                self.status = format!("Running {name} beside this one, {streams}");
                self.comparing = Some(job);
            }
            Err(e) => self.status = format!("Cannot run {name}: {e}"),
        }
    }

    /// The compared scenario's run, once done, becomes the kept run on the charts.
    fn comparing_ui(&mut self, ctx: &egui::Context) {
        let Some(job) = &self.comparing else {
            return;
        };
        match job.poll() {
            None => ctx.request_repaint_after(std::time::Duration::from_millis(100)),
            Some(Ok(kept)) => {
                self.status = format!(
                    "{} is on the charts, dashed and faded, with a table of both over the \
                     same seconds",
                    kept.name
                );
                self.baseline = Some(kept);
                self.comparing = None;
            }
            Some(Err(e)) => {
                self.dialog = Some(Dialog::Error {
                    title: format!("Cannot compare with {}", job.name),
                    message: e,
                });
                self.comparing = None;
            }
        }
    }

    /// Stops waiting for the system dialog and asks in the path field instead.
    fn type_instead(&mut self) {
        if let Some(p) = self.picking.take() {
            self.status.clear();
            self.dialog = Some(Dialog::Path {
                purpose: p.purpose,
                text: p.typed,
            });
        }
    }

    /// A picture of the charts or the window being saved: asked for once the frames have
    /// settled (no dialog in it), encoded and written in another thread; its reply, or
    /// ten seconds without one, is said in the status bar.
    fn picture_ui(&mut self, ctx: &egui::Context) {
        if let Ok(reply) = self.picture_replies.try_recv() {
            self.picture = None;
            match reply {
                Ok(path) => self.status = format!("Saved the picture to {}", path.display()),
                Err(e) => {
                    self.dialog = Some(Dialog::Error {
                        title: "Cannot save the picture".to_owned(),
                        message: e,
                    })
                }
            }
            return;
        }
        if self.dialog.is_some() {
            return;
        }
        let charts_rect = self.charts_rect;
        let Some((png, charts)) = &mut self.picture else {
            return;
        };
        if png
            .asked
            .is_some_and(|at| at.elapsed() > std::time::Duration::from_secs(10))
        {
            self.status = "No picture came from the window (its renderer may not take \
                           screenshots)"
                .to_owned();
            self.picture = None;
            return;
        }
        let rect = if *charts {
            match charts_rect {
                Some(r) if self.prefs.show_charts => r,
                _ => {
                    self.status = "The charts are hidden: show them (View → Charts) to \
                                   picture them"
                        .to_owned();
                    self.picture = None;
                    return;
                }
            }
        } else {
            ctx.content_rect()
        };
        take_picture(ctx, png, rect, &self.picture_sender);
    }

    fn update_title(&mut self, ctx: &egui::Context) {
        let title = format!(
            "{}{} — Bottleneck",
            self.doc.title(),
            if self.doc.is_dirty() { " •" } else { "" }
        );
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    // ----- input ------------------------------------------------------------------------

    fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() || self.dialog.is_some() {
            return;
        }
        use egui::{Key, KeyboardShortcut as K, Modifiers as M};
        let pressed = |m, k| ctx.input_mut(|i| i.consume_shortcut(&K::new(m, k)));
        let selected = match &self.selection {
            Selection::Component(id) => Some(id.clone()),
            _ => None,
        };
        let mut out = Vec::new();
        if pressed(M::COMMAND | M::SHIFT, Key::Z) || pressed(M::COMMAND, Key::Y) {
            out.push(Command::Redo);
        }
        if pressed(M::COMMAND, Key::Z) {
            out.push(Command::Undo);
        }
        if pressed(M::COMMAND | M::SHIFT, Key::S) {
            out.push(Command::SaveAsDialog);
        }
        if pressed(M::COMMAND, Key::S) {
            out.push(Command::Save);
        }
        if pressed(M::COMMAND, Key::O) {
            out.push(Command::OpenDialog);
        }
        if pressed(M::COMMAND, Key::L) {
            out.push(Command::OpenTyped);
        }
        if pressed(M::COMMAND, Key::N) {
            out.push(Command::New);
        }
        if pressed(M::COMMAND, Key::R) {
            out.push(Command::Restart);
        }
        if pressed(M::NONE, Key::Space) {
            out.push(Command::TogglePlay);
        }
        if pressed(M::NONE, Key::Period) {
            out.push(Command::Step);
        }
        if pressed(M::NONE, Key::F) {
            out.push(Command::FitView);
        }
        if let Some(id) = selected {
            if pressed(M::NONE, Key::Delete) || pressed(M::NONE, Key::Backspace) {
                out.push(Command::Delete(id.clone()));
            }
            if pressed(M::COMMAND, Key::D) {
                out.push(Command::Duplicate(id));
            }
        }
        self.commands.extend(out);
    }

    /// Closing the window with unsaved changes asks first.
    fn close_requested(&mut self, ctx: &egui::Context) {
        if ctx.input(|i| i.viewport().close_requested()) && !self.quitting && self.doc.is_dirty() {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.commands.push(Command::Quit);
        }
    }

    fn dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(path) = dropped.into_iter().next() {
            self.commands.push(Command::Open(path));
        }
    }

    // ----- panels -----------------------------------------------------------------------

    fn menu_ui(&mut self, ui: &mut egui::Ui) {
        use egui::{Key, Modifiers as M};
        use labels::*;
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if menu_entry(ui, true, NEW, M::COMMAND, Key::N)
                    .on_hover_text("A new scenario")
                    .clicked()
                {
                    self.commands.push(Command::New);
                }
                if menu_entry(ui, true, OPEN, M::COMMAND, Key::O)
                    .on_hover_text("Open a scenario file")
                    .clicked()
                {
                    self.commands.push(Command::OpenDialog);
                }
                if menu_entry(ui, true, OPEN_TYPED, M::COMMAND, Key::L)
                    .on_hover_text("Type the path of a scenario file")
                    .clicked()
                {
                    self.commands.push(Command::OpenTyped);
                }
                ui.menu_button("Open recent", |ui| {
                    if self.prefs.recent.is_empty() {
                        ui.weak("no recent files");
                    }
                    for p in self.prefs.recent.clone() {
                        if ui.button(p.display().to_string()).clicked() {
                            self.commands.push(Command::Open(p));
                        }
                    }
                });
                ui.separator();
                if menu_entry(ui, true, SAVE, M::COMMAND, Key::S).clicked() {
                    self.commands.push(Command::Save);
                }
                if menu_entry(ui, true, SAVE_AS, M::COMMAND | M::SHIFT, Key::S)
                    .on_hover_text("Save to another file")
                    .clicked()
                {
                    self.commands.push(Command::SaveAsDialog);
                }
                ui.separator();
                ui.menu_button(EXPORT_RUN, |ui| {
                    for (label, kind, hint) in [
                        (
                            EXPORT_SUMMARY_JSON,
                            Export::RunJson,
                            "Every figure of the run so far, as `bottleneck run --format json`",
                        ),
                        (
                            EXPORT_SUMMARY_CSV,
                            Export::RunCsv,
                            "Every figure of the run so far, as `bottleneck run --format csv`",
                        ),
                        (
                            EXPORT_SERIES_CSV,
                            Export::SeriesCsv,
                            "Every chart series, one row per sample, as `bottleneck run --series`",
                        ),
                        (
                            EXPORT_CHARTS_PNG,
                            Export::ChartsPng,
                            "A picture of the charts panel as it is drawn",
                        ),
                        (
                            EXPORT_WINDOW_PNG,
                            Export::WindowPng,
                            "A picture of the whole window as it is drawn",
                        ),
                    ] {
                        if ui.button(label).on_hover_text(hint).clicked() {
                            self.commands.push(Command::ExportDialog(kind));
                        }
                    }
                });
            });
            ui.menu_button("Edit", |ui| {
                let undo = match self.undo.last() {
                    Some(Undo::Live { component, .. }) => format!("{UNDO} change to {component}"),
                    Some(Undo::Document) => {
                        format!("{UNDO} {}", self.doc.history.undo_name().unwrap_or(""))
                    }
                    None => UNDO.to_owned(),
                };
                if menu_entry(ui, !self.undo.is_empty(), &undo, M::COMMAND, Key::Z).clicked() {
                    self.commands.push(Command::Undo);
                }
                if menu_entry(
                    ui,
                    !self.redo.is_empty(),
                    REDO,
                    M::COMMAND | M::SHIFT,
                    Key::Z,
                )
                .clicked()
                {
                    self.commands.push(Command::Redo);
                }
            });
            ui.menu_button("View", |ui| {
                if menu_entry(ui, true, "Fit topology", M::NONE, Key::F).clicked() {
                    self.commands.push(Command::FitView);
                }
                ui.checkbox(&mut self.prefs.show_scenario, "Scenario panel");
                ui.checkbox(&mut self.prefs.show_inspector, "Inspector");
                ui.checkbox(&mut self.prefs.show_charts, "Charts");
                if ui
                    .add_enabled(
                        self.sim.now() > crate::sim::SimTime::ZERO,
                        egui::Button::new(labels::KEEP_BASELINE),
                    )
                    .on_hover_text(
                        "Keep this run on the charts, faded, to compare what comes next with it \
                         (a restart keeps the run before it by itself)",
                    )
                    .clicked()
                {
                    self.commands.push(Command::KeepBaseline);
                }
                if ui
                    .button(labels::COMPARE_WITH)
                    .on_hover_text(
                        "Run another scenario (B) to this run's end in the background and keep \
                         it on the charts, faded, with a table of both over the same seconds. \
                         With the same seed, both draw the same random numbers, so what \
                         differs is the configuration, not the luck",
                    )
                    .clicked()
                {
                    self.commands.push(Command::CompareDialog);
                }
                if ui
                    .add_enabled(
                        self.baseline.is_some() || self.comparing.is_some(),
                        egui::Button::new(labels::FORGET_BASELINE),
                    )
                    .clicked()
                {
                    self.commands.push(Command::ForgetBaseline);
                }
                ui.checkbox(&mut self.prefs.show_experiments, labels::EXPERIMENTS)
                    .on_hover_text(
                        "Sweep the load or a parameter, find the capacity, edit the objectives",
                    );
                ui.checkbox(&mut self.prefs.show_advisor, advisor_panel::labels::ADVISOR)
                    .on_hover_text("What runs out first, the diagnosis and the levers");
                if ui
                    .button(if self.prefs.dark {
                        "Light theme"
                    } else {
                        "Dark theme"
                    })
                    .clicked()
                {
                    self.commands.push(Command::ToggleTheme);
                }
            });
            ui.menu_button(LESSONS, |ui| {
                if ui
                    .button(ALL_LESSONS)
                    .on_hover_text("Every lesson with what to watch and what to try")
                    .clicked()
                {
                    self.show_lessons = true;
                }
                ui.separator();
                // One submenu per topic: the whole list does not fit a window's height.
                let catalogue = super::lessons::catalogue();
                let mut rest = catalogue;
                while let Some(first) = rest.first() {
                    let n = rest.iter().take_while(|e| e.topic == first.topic).count();
                    let (topic, after) = rest.split_at(n);
                    rest = after;
                    ui.menu_button(&first.topic, |ui| {
                        for entry in topic {
                            if ui
                                .button(&entry.title)
                                .on_hover_text(format!("Watch: {}", entry.watch))
                                .clicked()
                            {
                                self.commands
                                    .push(Command::OpenLesson(entry.file.to_owned()));
                            }
                        }
                    });
                }
            });
        });
    }

    fn toolbar_ui(&mut self, ui: &mut egui::Ui) {
        use labels::*;
        ui.horizontal(|ui| {
            let play = if self.playback.playing { PAUSE } else { PLAY };
            if ui
                .button(play)
                .on_hover_text("Start or stop simulated time (Space)")
                .clicked()
            {
                self.commands.push(Command::TogglePlay);
            }
            if ui
                .button(STEP)
                .on_hover_text("Process exactly one event (.)")
                .clicked()
            {
                self.commands.push(Command::Step);
            }
            let restart_hint = if self.doc.problems.is_some() {
                "The scenario has problems (see the left panel): fix them to restart".to_owned()
            } else if starting_point(&self.doc.scenario) != self.ran {
                "Start again from time zero with your edits (Ctrl+R)".to_owned()
            } else {
                "Start again from time zero with the same seed, replaying recorded changes \
                 (Ctrl+R)"
                    .to_owned()
            };
            let needs = starting_point(&self.doc.scenario) != self.ran;
            let restart = egui::Button::new(if needs {
                egui::RichText::new(RESTART).strong()
            } else {
                egui::RichText::new(RESTART)
            });
            if ui
                .add_enabled(self.doc.problems.is_none(), restart)
                .on_hover_text(restart_hint)
                .on_disabled_hover_text("The scenario has problems: see the left panel")
                .clicked()
            {
                self.commands.push(Command::Restart);
            }
            ui.separator();
            let label = ui.label(SPEED);
            let mut speed = self.playback.speed;
            egui::ComboBox::from_id_salt("speed")
                .selected_text(speed_label(speed))
                .show_ui(ui, |ui| {
                    for s in SPEEDS {
                        ui.selectable_value(&mut speed, s, speed_label(s));
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text("Simulated seconds per wall-clock second");
            if speed != self.playback.speed {
                self.commands.push(Command::SetSpeed(speed));
            }
            ui.separator();
            ui.label(format!(
                "t = {:.1} s / {:.0} s",
                self.sim.now().as_secs_f64(),
                self.sim.end().as_secs_f64()
            ))
            .on_hover_text("Simulated time now, and when the run ends");
            ui.separator();
            let label = ui.label(SEED);
            let mut seed = self.sim.seed();
            let r = ui
                .add(egui::DragValue::new(&mut seed).speed(0.2))
                .labelled_by(label.id)
                .on_hover_text(
                    "The seed of every random stream: a scenario plus a seed determines the run \
                     exactly. Changing it restarts the run.",
                );
            if (r.drag_stopped() || r.lost_focus() || (r.changed() && !r.dragged()))
                && seed != self.sim.seed()
            {
                self.commands.push(Command::SetSeed(seed));
            }
            ui.separator();
            ui.toggle_value(&mut self.prefs.show_experiments, EXPERIMENTS)
                .on_hover_text(
                    "The Experiments panel: run the scenario at many loads or parameter values \
                     in the background, see where latency turns and the objectives stop \
                     holding, and apply the setting you choose",
                );
            ui.toggle_value(&mut self.prefs.show_advisor, advisor_panel::labels::ADVISOR)
                .on_hover_text(
                    "The Advisor: which resource runs out first and why, where each \
                     endpoint's time goes, and the levers that fix it with their predicted \
                     effect; apply one to the running system",
                );
        });
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if self.sim.stall().is_some() {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    "Stopped: simulated time stands still (see the message; edit, then restart)",
                );
            } else if self.sim.is_finished() {
                ui.label("Run finished");
            } else if !self.playback.playing {
                ui.label("Paused");
            } else if self.playback.keeping_up() {
                ui.label(format!("Running at {:.1}×", self.playback.actual_speed));
            } else {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!(
                        "Running at {:.1}× of the requested {}: simulation work is capped at {} ms \
                         per frame",
                        self.playback.actual_speed,
                        speed_label(self.playback.speed),
                        FRAME_BUDGET.as_millis()
                    ),
                );
            }
            ui.separator();
            ui.label(format!(
                "{} events · simulating {:.1} ms/frame (max {:.1})",
                self.sim.events(),
                self.stats.work.as_secs_f64() * 1e3,
                self.stats.work_max.as_secs_f64() * 1e3
            ))
            .on_hover_text(format!(
                "Wall time spent simulating per frame; the budget is {} ms so the window stays \
                 responsive",
                FRAME_BUDGET.as_millis()
            ));
            if let Some(job) = &self.comparing {
                ui.separator();
                ui.add(
                    egui::ProgressBar::new(job.progress() as f32)
                        .desired_width(120.0)
                        .text(format!("running {}", job.name)),
                );
                if ui.small_button(labels::STOP_COMPARING).clicked() {
                    self.commands.push(Command::ForgetBaseline);
                }
            }
            if self.picking.is_some()
                && ui
                    .small_button(labels::TYPE_INSTEAD)
                    .on_hover_text("Stop waiting for the system's dialog and type the path")
                    .clicked()
            {
                self.commands.push(Command::TypeInstead);
            }
            if !self.status.is_empty() {
                ui.separator();
                ui.label(&self.status);
            }
        });
    }

    fn scenario_ui(&mut self, ui: &mut egui::Ui, s: &Summary, glance: &[crate::metrics::Glance]) {
        ui.heading(if self.doc.scenario.name.is_empty() {
            "Untitled scenario"
        } else {
            &self.doc.scenario.name
        });
        if !self.doc.scenario.description.is_empty() {
            ui.label(&self.doc.scenario.description);
        }
        self.lesson_ui(ui);
        if let Some(problems) = &self.doc.problems {
            ui.separator();
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("{} problem(s): the run cannot restart", problems.0.len()),
            );
            for p in problems.0.iter().take(12) {
                ui.label(format!("• {p}"));
            }
        }
        ui.separator();
        self.outcome_ui(ui, s, glance);
        if !s.queries.is_empty() {
            ui.separator();
            ui.label(egui::RichText::new(labels::TOP_QUERIES).strong())
                .on_hover_text(
                    "The slow-query log: database time spent per query since the warm-up. \
                     The top one is where an index, a cache or batching pays most.",
                );
            let total: f64 = s.queries.iter().map(|q| q.total_secs).sum();
            egui::Grid::new("top queries")
                .num_columns(3)
                .striped(true)
                .show(ui, |ui| {
                    for q in s.queries.iter().take(5) {
                        let share = if total > 0.0 {
                            q.total_secs / total
                        } else {
                            0.0
                        };
                        ui.add(
                            egui::ProgressBar::new(share as f32)
                                .desired_width(60.0)
                                .text(format!("{:.0} %", share * 100.0)),
                        )
                        .on_hover_text("Share of all database time");
                        ui.label(format!("{}.{}", q.db, q.query));
                        ui.label(format!("{} × {:.2} ms", q.count, q.mean_ms))
                            .on_hover_text("Calls × mean time on a database core");
                        ui.end_row();
                    }
                });
        }

        ui.separator();
        ui.label(egui::RichText::new("Add a component").strong());
        ui.horizontal_wrapped(|ui| {
            for kind in Kind::ALL {
                if ui
                    .button(kind.name())
                    .on_hover_text(ComponentSpec::kind_help(kind))
                    .clicked()
                {
                    self.commands.push(Command::Add(kind));
                }
            }
        });
        ui.add_space(4.0);
        if ui
            .small_button("Run settings")
            .on_hover_text("Duration, warm-up and chart resolution of the run")
            .clicked()
        {
            self.commands.push(Command::Select(Selection::Run));
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new("Endpoints").strong())
                .on_hover_text("Each endpoint is a script of steps an app instance runs");
            if ui.small_button(labels::ADD_ENDPOINT).clicked() {
                self.commands.push(Command::AddEndpoint);
            }
        });
        for name in self.doc.scenario.endpoints.keys() {
            let selected = self.selection == Selection::Endpoint(name.clone());
            if ui.selectable_label(selected, name).clicked() {
                self.commands
                    .push(Command::Select(Selection::Endpoint(name.clone())));
            }
        }

        ui.separator();
        let timeline = &self.doc.scenario.timeline;
        ui.label(egui::RichText::new(format!("Recorded changes ({})", timeline.len())).strong())
            .on_hover_text(
                "Changes made while the run goes on, with their simulated time. They are saved \
                 with the scenario and replayed on restart, so the run can be reproduced.",
            );
        for c in timeline.iter().rev().take(10) {
            let what: Vec<String> = c.set.iter().map(|(p, v)| format!("{p} = {v}")).collect();
            ui.label(format!(
                "{:.1} s  {}: {}",
                c.at_secs,
                c.component,
                what.join(", ")
            ));
        }
        let faults = &self.doc.scenario.faults;
        if !faults.is_empty() {
            ui.label(egui::RichText::new(format!("Faults ({})", faults.len())).strong())
                .on_hover_text(
                    "What was broken at what simulated time: planned in the file or made with \
                     the fault buttons. Replayed on restart.",
                );
            for f in faults.iter().rev().take(10) {
                ui.label(format!("{:.1} s  {}", f.at_secs, f.fault.describe()));
            }
            if ui
                .small_button("Clear faults")
                .on_hover_text("Forget them: a restart runs without them")
                .clicked()
            {
                self.commands.push(Command::ClearFaults);
            }
        }
        if !self.doc.scenario.timeline.is_empty() {
            ui.horizontal(|ui| {
                if ui
                    .small_button(labels::CLEAR_CHANGES)
                    .on_hover_text("Forget them: a restart runs the scenario as it starts")
                    .clicked()
                {
                    self.commands.push(Command::ClearTimeline);
                }
                if ui
                    .small_button(labels::KEEP_CHANGES)
                    .on_hover_text(
                        "Make the values as they are now the scenario's starting values, and \
                         forget the recorded changes",
                    )
                    .clicked()
                {
                    self.commands.push(Command::KeepChanges);
                }
            });
        }
    }

    /// The component as the inspector shows it: its starting spec with the recorded
    /// changes made up to now applied.
    fn effective(&self, id: &str) -> Option<ComponentSpec> {
        let mut spec = self
            .doc
            .scenario
            .components
            .iter()
            .find(|c| c.id() == id)?
            .clone();
        let now = self.sim.now().as_secs_f64();
        for change in self.sim.timeline() {
            if change.component == id && change.at_secs <= now {
                for (p, v) in &change.set {
                    let _ = params::apply(&mut spec, p, v, true);
                }
            }
        }
        Some(spec)
    }

    fn inspector_ui(&mut self, ui: &mut egui::Ui) {
        let choices = RefChoices::of(&self.doc.scenario);
        let running = self.running();
        match self.selection.clone() {
            Selection::None => {
                ui.heading("Inspector");
                ui.label(
                    "Select a component on the canvas to see and change its parameters. \
                     Hover a parameter for what it does and its valid range.",
                );
            }
            Selection::Run => {
                ui.heading("Run settings");
                let current = self.doc.scenario.run.clone();
                if let Some(new) =
                    inspector::edit(ui, "run", &current, &mut self.run_buffer, &choices, false)
                {
                    self.commands.push(Command::EditRun(new));
                }
            }
            Selection::Endpoint(name) => {
                let Some(ep) = self.doc.scenario.endpoints.get(&name).cloned() else {
                    self.commands.push(Command::Select(Selection::None));
                    return;
                };
                ui.heading(&name);
                self.rename_row(ui, &name, Command::RenameEndpoint);
                if ui.button(labels::DELETE).clicked() {
                    self.commands.push(Command::DeleteEndpoint(name.clone()));
                }
                if running {
                    ui.weak("Changes to an endpoint apply when the run restarts.");
                }
                ui.separator();
                if let Some(new) =
                    inspector::edit(ui, &name, &ep, &mut self.endpoint_buffer, &choices, running)
                {
                    self.commands.push(Command::EditEndpoint(name, new));
                }
            }
            Selection::Component(id) => {
                let Some(spec) = self.effective(&id) else {
                    self.commands.push(Command::Select(Selection::None));
                    return;
                };
                ui.heading(format!("{id} ({})", spec.kind_name()));
                ui.label(ComponentSpec::kind_help(spec.kind()));
                self.rename_row(ui, &id, Command::Rename);
                ui.horizontal(|ui| {
                    if ui
                        .button(labels::DUPLICATE)
                        .on_hover_text("Ctrl+D")
                        .clicked()
                    {
                        self.commands.push(Command::Duplicate(id.clone()));
                    }
                    if ui.button(labels::DELETE).on_hover_text("Delete").clicked() {
                        self.commands.push(Command::Delete(id.clone()));
                    }
                });
                if running {
                    ui.weak(
                        "Changes act on the running system now and are recorded; those marked \
                         (restart) apply when the run restarts.",
                    );
                }
                ui.separator();
                // The parameters first (what a user comes to change), the faults after.
                if let Some(new) = inspector::edit(
                    ui,
                    &id,
                    &spec,
                    &mut self.component_buffer,
                    &choices,
                    running,
                ) {
                    self.commands.push(Command::EditComponent(new));
                }
                ui.separator();
                self.fault_buttons(ui, &spec, running);
            }
        }
    }

    /// Buttons that break the selected component now (while the run goes on).
    fn fault_buttons(&mut self, ui: &mut egui::Ui, spec: &ComponentSpec, running: bool) {
        let faults = crate::edit::faults_offered(&self.doc.scenario, spec);
        if faults.is_empty() {
            return;
        }
        ui.horizontal_wrapped(|ui| {
            ui.label("Faults:");
            for (label, help, fault) in faults {
                if ui
                    .add_enabled(running, egui::Button::new(label))
                    .on_hover_text(help)
                    .on_disabled_hover_text("Faults act on a run that is going on: press Play")
                    .clicked()
                {
                    self.commands.push(Command::Inject(fault));
                }
            }
        });
    }

    fn rename_row(&mut self, ui: &mut egui::Ui, name: &str, make: fn(String, String) -> Command) {
        ui.horizontal(|ui| {
            let label = ui.label(labels::RENAME);
            let r = ui
                .add(egui::TextEdit::singleline(&mut self.rename).desired_width(150.0))
                .labelled_by(label.id)
                .on_hover_text("A new name; references to it follow. Enter to apply.");
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                self.commands
                    .push(make(name.to_owned(), self.rename.trim().to_owned()));
            } else if !r.has_focus() {
                self.rename = name.to_owned();
            }
        });
    }

    /// The lesson's checklist: what to watch, then each step to try with a button that
    /// makes its change (live when it can, else for the restart; Ctrl+Z undoes it).
    fn lesson_ui(&mut self, ui: &mut egui::Ui) {
        let Some(lesson) = self.doc.scenario.lesson.clone() else {
            return;
        };
        ui.label(egui::RichText::new(format!("Watch: {}", lesson.watch)).italics());
        for (i, step) in lesson.steps.iter().enumerate() {
            ui.horizontal_wrapped(|ui| {
                if step.set.is_empty() {
                    ui.label(format!("{}.", i + 1));
                } else if let Err(why) = step.applied_to(&self.doc.scenario) {
                    ui.add_enabled(false, egui::Button::new(labels::try_step(i)))
                        .on_disabled_hover_text(format!(
                            "The scenario was edited since the lesson was written: {why}"
                        ));
                } else if ui
                    .button(labels::try_step(i))
                    .on_hover_text(format!("Sets {}", step.set.join(", ")))
                    .clicked()
                {
                    // A step on one component changes it (live when it can); one on an
                    // endpoint's script edits the document for the restart.
                    let component = step.set[0]
                        .split_once('.')
                        .map(|(c, _)| c)
                        .filter(|c| self.doc.scenario.components.iter().any(|x| x.id() == *c))
                        .unwrap_or_default()
                        .to_owned();
                    self.commands.push(Command::ApplyLever {
                        component,
                        changes: step.set.clone(),
                        title: step.say.clone(),
                    });
                }
                ui.label(&step.say);
            });
        }
    }

    /// What users get and what is fullest: the live figures over the chosen window (the
    /// same the node labels, colours and outline use), beside the whole run's.
    fn outcome_ui(&mut self, ui: &mut egui::Ui, s: &Summary, glance: &[crate::metrics::Glance]) {
        use labels::*;
        let window = self.prefs.live_window_secs;
        ui.horizontal(|ui| {
            let label = ui.label(LIVE_WINDOW);
            egui::ComboBox::from_id_salt("live window")
                .selected_text(format!("{window:.0} s"))
                .show_ui(ui, |ui| {
                    for w in [5.0, 10.0, 30.0, 60.0] {
                        ui.selectable_value(
                            &mut self.prefs.live_window_secs,
                            w,
                            format!("{w:.0} s"),
                        );
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text(
                    "The simulated seconds every live figure is measured over: node labels \
                     and colours, the outline, the ranking below and the first column",
                );
        });
        let series = self.sim.series();
        let recent = |metric: &str| series.recent_mean("", metric, window);
        let percentile = |metric: &str| {
            series.recent_weighted_mean("", metric, Some(("", "ok_per_sec")), window)
        };
        let rate = |x: Option<f64>| x.map_or("–".to_owned(), |x| format!("{x:.0} req/s"));
        let ms = |x: Option<f64>| {
            x.map_or("–".to_owned(), |x| {
                let (factor, unit) = charts::model::Unit::Millis.scale(x);
                format!("{:.1} {unit}", x * factor)
            })
        };
        let o = &s.overall;
        let error_share = match (recent("errors_per_sec"), recent("offered_per_sec")) {
            (Some(e), Some(n)) if n > 0.0 => format!("{:.2} %", 100.0 * e / n),
            _ => "–".to_owned(),
        };
        egui::Grid::new("overall")
            .num_columns(3)
            .striped(true)
            .show(ui, |ui| {
                ui.label("");
                ui.label(egui::RichText::new(format!("last {window:.0} s")).strong())
                    .on_hover_text("Over the live window: the figures the canvas shows");
                ui.label(egui::RichText::new(WHOLE_RUN).strong())
                    .on_hover_text("Since the warm-up ended: the figures of the report");
                ui.end_row();
                ui.label(OFFERED);
                ui.label(rate(recent("offered_per_sec")));
                ui.label(rate(Some(o.offered_per_sec)));
                ui.end_row();
                ui.label(SERVED);
                ui.label(rate(recent("ok_per_sec")));
                ui.label(rate(Some(o.throughput_per_sec)));
                ui.end_row();
                ui.label("Errors");
                ui.label(error_share);
                ui.label(format!("{:.2} %", o.error_rate * 100.0));
                ui.end_row();
                for (name, metric, whole) in [
                    ("Latency p50", "p50_ms", o.latency_ms.p50),
                    ("Latency p99", "p99_ms", o.latency_ms.p99),
                ] {
                    ui.label(name);
                    ui.label(ms(percentile(metric))).on_hover_text(
                        "Each second's percentile, weighted by its responses (the whole run's \
                         is exact)",
                    );
                    ui.label(ms((o.throughput_per_sec > 0.0).then_some(whole)));
                    ui.end_row();
                }
                ui.label("Cost");
                ui.label("");
                ui.label(format!(
                    "${:.2}/hour · ${:.2} per million",
                    s.cost.per_hour, s.cost.per_million_requests
                ));
                ui.end_row();
            });
        ui.separator();
        ui.label(egui::RichText::new(format!("{SATURATION} (last {window:.0} s)")).strong())
            .on_hover_text(
                "Each component's fullest resource over the live window. compute: CPU busy, \
                 add cores or instances; concurrency: a pool of threads or connections is \
                 full while its holders wait",
            );
        let mut ranked: Vec<&crate::metrics::Glance> =
            glance.iter().filter(|g| !g.fullest.is_empty()).collect();
        ranked.sort_by(|a, b| b.saturation.total_cmp(&a.saturation));
        for g in ranked.into_iter().take(6) {
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(g.saturation.clamp(0.0, 1.0) as f32)
                        .desired_width(90.0)
                        .fill(super::canvas::saturation_color(g.saturation))
                        .text(format!("{:.0} %", g.saturation * 100.0)),
                );
                // A database's fullest names its node (`orders#s1 cpu`), which says whose.
                ui.label(if g.fullest.starts_with(&g.id) {
                    g.fullest.clone()
                } else {
                    format!("{} {}", g.id, g.fullest)
                });
            });
        }
    }

    fn canvas_ui(
        &mut self,
        ui: &mut egui::Ui,
        summary: &crate::metrics::Summary,
        glance: &[crate::metrics::Glance],
    ) {
        let positions = edit::layout(&self.doc.scenario);
        let edges = edit::edges(&self.doc.scenario);
        // Glance covers what the run has; components added since show as idle.
        let mut glance_all = Vec::new();
        for c in &self.doc.scenario.components {
            glance_all.push(
                glance
                    .iter()
                    .find(|g| g.id == c.id())
                    .cloned()
                    .unwrap_or_else(|| crate::metrics::Glance::new(c.id().to_owned(), c.kind())),
            );
        }
        self.outlined = super::canvas::outline(self.outlined.as_deref(), &glance_all);
        let bottleneck = self.outlined.clone();
        let selected = match &self.selection {
            Selection::Component(id) => Some(id.as_str()),
            _ => None,
        };
        let input = CanvasInput {
            positions: &positions,
            edges: &edges,
            glance: &glance_all,
            series: self.sim.series(),
            selected,
            bottleneck: bottleneck.as_deref(),
            animate: self.playback.playing && !self.sim.is_finished(),
            stations: &summary.stations,
            window_secs: self.prefs.live_window_secs,
        };
        let actions = self.canvas.show(ui, &input, self.frame_dt);
        for a in actions {
            self.commands.push(match a {
                CanvasAction::Select(None) => Command::Select(Selection::None),
                CanvasAction::Select(Some(id)) => Command::Select(Selection::Component(id)),
                CanvasAction::Move(id, xy) => Command::Move(id, xy),
                CanvasAction::MoveDone(_) => Command::MoveDone,
                CanvasAction::Connect(a, b) => Command::Connect(a, b),
            });
        }
    }

    fn dialog_ui(&mut self, ctx: &egui::Context) {
        use labels::*;
        let Some(dialog) = self.dialog.clone() else {
            return;
        };
        let mut close = false;
        match dialog {
            Dialog::Path { purpose, mut text } => {
                let save = !matches!(purpose, PathPurpose::Open | PathPurpose::Compare);
                let mut browse = false;
                egui::Modal::new(egui::Id::unique("path dialog")).show(ctx, |ui| {
                    ui.heading(purpose.heading());
                    let label = ui.label(FILE_PATH);
                    let r = ui
                        .add(egui::TextEdit::singleline(&mut text).desired_width(420.0))
                        .labelled_by(label.id);
                    let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    ui.horizontal(|ui| {
                        let confirm = if save { CONFIRM_SAVE } else { CONFIRM_OPEN };
                        if ui.button(confirm).clicked() || enter {
                            let path = PathBuf::from(text.trim());
                            self.commands.push(purpose.command(path));
                            close = true;
                        }
                        if ui
                            .button(BROWSE)
                            .on_hover_text("Pick the file with the system's file dialog")
                            .clicked()
                        {
                            browse = true;
                            close = true;
                        }
                        if ui.button(CANCEL).clicked() {
                            close = true;
                        }
                    });
                });
                if browse {
                    self.dialog = None;
                    // The system's dialog, even when the window types paths by default.
                    let pick = match self.picker {
                        Picker::Dialog(pick) => pick,
                        Picker::Typed => files::system_dialog,
                    };
                    self.show_file_dialog(purpose, text, pick);
                    return;
                }
                if !close {
                    self.dialog = Some(Dialog::Path { purpose, text });
                }
            }
            Dialog::Discard { then } => {
                egui::Modal::new(egui::Id::unique("discard dialog")).show(ctx, |ui| {
                    ui.heading("Unsaved changes");
                    ui.label(format!(
                        "{} has changes that are not saved. Discard them?",
                        self.doc.title()
                    ));
                    ui.horizontal(|ui| {
                        if ui.button(SAVE).clicked() {
                            // Saved, it goes on (a file without a path asks for one first).
                            self.commands.push(Command::Save);
                            self.commands.push(*then.clone());
                            close = true;
                        }
                        if ui.button(DISCARD).clicked() {
                            self.doc =
                                Document::new(self.doc.scenario.clone(), self.doc.path.clone());
                            self.commands.push(*then.clone());
                            close = true;
                        }
                        if ui.button(CANCEL).clicked() {
                            close = true;
                        }
                    });
                });
            }
            Dialog::Error { title, message } => {
                egui::Modal::new(egui::Id::unique("error dialog")).show(ctx, |ui| {
                    ui.heading(&title);
                    egui::ScrollArea::vertical()
                        .max_height(300.0)
                        .show(ui, |ui| ui.monospace(&message));
                    ui.weak("The current scenario is unchanged.");
                    if ui.button(CLOSE).clicked() {
                        close = true;
                    }
                });
            }
        }
        if close {
            self.dialog = None;
        }
    }

    // ----- commands ---------------------------------------------------------------------

    fn apply(&mut self, c: Command) {
        if c.discards() && self.doc.is_dirty() {
            self.dialog = Some(Dialog::Discard { then: Box::new(c) });
            return;
        }
        match c {
            Command::TogglePlay => {
                if self.sim.is_finished() {
                    self.restart();
                    self.playback.playing = true;
                } else {
                    self.playback.playing = !self.playback.playing;
                }
            }
            Command::Step => {
                self.playback.playing = false;
                self.sim.step();
            }
            Command::Restart => self.restart(),
            Command::KeepBaseline => {
                let at = self.sim.now().as_secs_f64();
                self.baseline = Some(charts::model::Baseline::keep(
                    &self.sim,
                    format!("run kept at {at:.0} s"),
                    "kept here".to_owned(),
                ));
                self.status = format!(
                    "This run is kept on the charts, faded: restart or change something to \
                     compare (kept at {at:.0} s)"
                );
            }
            Command::ForgetBaseline => {
                self.baseline = None;
                self.comparing = None;
            }
            Command::CompareDialog => self.ask_path(PathPurpose::Compare, self.document_folder()),
            Command::CompareWith(path) => self.compare_with(&path),
            Command::SetSpeed(s) => self.playback.speed = s,
            Command::SetSeed(seed) => {
                self.edit_document("change the seed", |s| {
                    s.seed = seed;
                    Ok::<_, edit::EditError>(())
                });
                self.restart();
            }
            Command::New => self.open_document(Document::new(new_scenario(), None)),
            Command::OpenLesson(file) => {
                match (super::lessons::scenario(&file), super::lessons::text(&file)) {
                    (Some(scenario), Some(text)) => {
                        let name = scenario.name.clone();
                        self.open_document(
                            Document::new(scenario, None)
                                .with_comments(crate::model::Comments::of(text)),
                        );
                        self.status = format!("Opened the lesson \"{name}\" (bundled)");
                    }
                    _ => self.status = format!("There is no bundled scenario {file:?}"),
                }
            }
            Command::OpenDialog | Command::OpenTyped => {
                let text = self.document_folder();
                if matches!(c, Command::OpenTyped) {
                    self.dialog = Some(Dialog::Path {
                        purpose: PathPurpose::Open,
                        text,
                    });
                } else {
                    self.ask_path(PathPurpose::Open, text);
                }
            }
            Command::Open(path) => match Document::open(&path) {
                Ok(doc) => {
                    self.prefs.remember(&path);
                    self.open_document(doc);
                    self.status = format!("Opened {}", path.display());
                }
                Err(e) => {
                    self.dialog = Some(Dialog::Error {
                        title: format!("Cannot open {}", path.display()),
                        message: e.to_string(),
                    })
                }
            },
            Command::Save => match self.doc.path.clone() {
                Some(path) => self.save_to(path),
                None => self.apply(Command::SaveAsDialog),
            },
            Command::SaveAsDialog => {
                let text = self
                    .doc
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "scenario.ron".to_owned());
                self.ask_path(PathPurpose::Save, text);
            }
            Command::SaveAs(path) => self.save_to(path),
            Command::Undo => self.undo(),
            Command::Redo => self.redo(),
            Command::Select(s) => {
                if s != self.selection {
                    self.component_buffer = Buffer::default();
                    self.endpoint_buffer = Buffer::default();
                    self.selection = s;
                }
            }
            Command::Add(kind) => {
                let at = self.free_spot();
                if let Some(id) =
                    self.edit_document(&format!("add {kind}"), |s| edit::add_component(s, kind, at))
                {
                    self.selection = Selection::Component(id.clone());
                    self.status = format!(
                        "Added {id}: drag from its port to connect it; it joins the run on restart"
                    );
                }
            }
            Command::Delete(id) => {
                if self
                    .edit_document(&format!("delete {id}"), |s| edit::delete_component(s, &id))
                    .is_some()
                {
                    self.selection = Selection::None;
                    self.status = format!("Deleted {id} (applies on restart; Ctrl+Z to undo)");
                }
            }
            Command::Duplicate(id) => {
                if let Some(new) = self.edit_document(&format!("duplicate {id}"), |s| {
                    edit::duplicate_component(s, &id)
                }) {
                    self.selection = Selection::Component(new);
                }
            }
            Command::Rename(id, new) => {
                if self
                    .edit_document(&format!("rename {id}"), |s| {
                        edit::rename_component(s, &id, &new)
                    })
                    .is_some()
                {
                    self.selection = Selection::Component(new.trim().to_owned());
                    // The running system keeps the old name until it restarts.
                    self.after_restart_only_edit();
                }
            }
            Command::Connect(a, b) => {
                if let Some(msg) =
                    self.edit_document(&format!("connect {a} to {b}"), |s| edit::connect(s, &a, &b))
                {
                    self.status = format!("{msg} (applies on restart)");
                }
            }
            Command::Move(id, xy) => {
                if self.moving.is_none() {
                    self.moving = Some(self.doc.scenario.clone());
                }
                self.doc.scenario.layout.insert(id, xy);
            }
            Command::MoveDone => {
                if let Some(before) = self.moving.take() {
                    let after = self.doc.scenario.clone();
                    self.doc.scenario = before;
                    self.edit_document("move", |s| {
                        *s = after;
                        Ok::<_, edit::EditError>(())
                    });
                }
            }
            Command::EditComponent(new) => self.edit_component(new),
            Command::EditEndpoint(name, ep) => {
                self.edit_document(&format!("edit {name}"), |s| {
                    s.endpoints.insert(name.clone(), ep);
                    Ok::<_, edit::EditError>(())
                });
                self.after_restart_only_edit();
            }
            Command::EditRun(run) => {
                self.edit_document("edit run settings", |s| {
                    s.run = run;
                    Ok::<_, edit::EditError>(())
                });
                self.after_restart_only_edit();
            }
            Command::AddEndpoint => {
                if let Some(name) = self.edit_document("add an endpoint", |s| {
                    Ok::<_, edit::EditError>(edit::add_endpoint(s))
                }) {
                    self.selection = Selection::Endpoint(name);
                }
            }
            Command::RenameEndpoint(old, new) => {
                if self
                    .edit_document(&format!("rename {old}"), |s| {
                        edit::rename_endpoint(s, &old, &new)
                    })
                    .is_some()
                {
                    self.selection = Selection::Endpoint(new.trim().to_owned());
                }
            }
            Command::DeleteEndpoint(name) => {
                if self
                    .edit_document(&format!("delete {name}"), |s| {
                        edit::delete_endpoint(s, &name)
                    })
                    .is_some()
                {
                    self.selection = Selection::None;
                }
            }
            Command::ClearTimeline => {
                self.edit_document("clear recorded changes", |s| {
                    s.timeline.clear();
                    Ok::<_, edit::EditError>(())
                });
                self.status = "Recorded changes cleared: restart to run without them".to_owned();
            }
            Command::KeepChanges => {
                let current = self.sim.current().components.clone();
                self.edit_document("make current values the start", |s| {
                    for c in &mut s.components {
                        if let Some(now) = current.iter().find(|x| x.id() == c.id()) {
                            *c = now.clone();
                        }
                    }
                    s.timeline.clear();
                    Ok::<_, edit::EditError>(())
                });
            }
            Command::FitView => self.canvas.fit = true,
            Command::Quit => self.quitting = true,
            Command::Inject(fault) => match self.sim.inject(fault.clone()) {
                Ok(()) => {
                    let faults = self.sim.faults().to_vec();
                    self.edit_document(&fault.describe(), |s| {
                        s.faults = faults;
                        Ok::<_, edit::EditError>(())
                    });
                    self.status = format!(
                        "{} at t = {:.1} s (recorded)",
                        fault.describe(),
                        self.sim.now().as_secs_f64()
                    );
                }
                Err(e) => self.status = format!("Cannot {}: {e}", fault.describe()),
            },
            Command::ClearFaults => {
                self.edit_document("clear faults", |s| {
                    s.faults.clear();
                    Ok::<_, edit::EditError>(())
                });
                self.status = "Faults cleared: restart to run without them".to_owned();
            }
            Command::ToggleTheme => self.prefs.dark = !self.prefs.dark,
            Command::EditSlos(slos) => {
                if self
                    .edit_document("edit objectives", |s| {
                        s.slos = slos;
                        Ok::<_, edit::EditError>(())
                    })
                    .is_some()
                {
                    self.status = "Objectives changed (saved with the scenario)".to_owned();
                }
            }
            Command::ApplyPoint(i) => self.apply_point(i),
            Command::ExportDialog(kind) => {
                let text = experiments::export_path(self.doc.path.as_deref(), kind)
                    .display()
                    .to_string();
                self.ask_path(PathPurpose::Export(kind), text);
            }
            Command::Export(kind, path) => self.export(kind, path),
            Command::TypeInstead => self.type_instead(),
            Command::ApplyLever {
                component,
                changes,
                title,
            } => self.apply_lever(&component, &changes, &title),
        }
    }

    /// Gives the document the setting of the experiment's point `i` (one undo step).
    fn apply_point(&mut self, i: usize) {
        let Some((at, base)) = self.experiments.setting(i) else {
            return;
        };
        let what = experiments::setting_words(&at);
        if self
            .edit_document(&format!("apply {what}"), |s| {
                experiments::apply_setting(s, &at, &base)
            })
            .is_some()
        {
            self.after_restart_only_edit();
            if self.doc.problems.is_none() {
                self.status = if self.running() {
                    format!("Applied {what}: it takes effect on restart (Ctrl+R); Ctrl+Z undoes it")
                } else {
                    format!("Applied {what} (Ctrl+Z undoes it)")
                };
            }
        }
    }

    /// Writes the experiment's results (CSV now, a PNG in a few frames).
    fn export(&mut self, kind: Export, path: PathBuf) {
        let run = match kind {
            Export::RunJson => Some(crate::report::json(&self.sim.summary())),
            Export::RunCsv => Some(crate::report::csv(&self.sim.summary())),
            Export::SeriesCsv => Some(crate::report::series_csv(self.sim.series())),
            _ => None,
        };
        if let Some(text) = run {
            match crate::model::io::write_atomically(&path, text.as_bytes()) {
                Ok(()) => {
                    self.status = format!(
                        "Saved the run's {} at {:.1} s to {}",
                        if kind == Export::SeriesCsv {
                            "chart series"
                        } else {
                            "summary"
                        },
                        self.sim.now().as_secs_f64(),
                        path.display()
                    )
                }
                Err(e) => {
                    self.dialog = Some(Dialog::Error {
                        title: format!("Cannot save {}", path.display()),
                        message: format!("{e}\n\nThe previous file, if any, is untouched."),
                    })
                }
            }
            return;
        }
        match kind {
            Export::Csv | Export::PlanCsv => {
                let csv = if kind == Export::Csv {
                    self.experiments.csv()
                } else {
                    self.experiments.plan_csv()
                };
                let Some(csv) = csv else {
                    self.status = "No results to export yet".to_owned();
                    return;
                };
                match crate::model::io::write_atomically(&path, csv.as_bytes()) {
                    Ok(()) => {
                        let note = format!("Saved the results to {}", path.display());
                        self.status = note.clone();
                        self.experiments.export_done(Ok(note));
                    }
                    Err(e) => {
                        self.dialog = Some(Dialog::Error {
                            title: format!("Cannot save {}", path.display()),
                            message: format!("{e}\n\nThe previous file, if any, is untouched."),
                        })
                    }
                }
            }
            Export::Png | Export::PlanPng => self.experiments.export_png(path),
            Export::ChartsPng | Export::WindowPng => {
                self.status = format!("Saving the picture to {}…", path.display());
                self.picture = Some((PngExport::new(path), kind == Export::ChartsPng));
            }
            Export::RunJson | Export::RunCsv | Export::SeriesCsv => {}
        }
    }

    /// The Experiments panel, in its own window while shown. Hiding it cancels a
    /// running experiment.
    /// The Lessons window: every bundled lesson by topic, opened with a click.
    fn lessons_ui(&mut self, ctx: &egui::Context) {
        let mut chosen = None;
        egui::Window::new(labels::LESSONS_WINDOW)
            .open(&mut self.show_lessons)
            .default_pos([200.0, 60.0])
            .default_size([760.0, 620.0])
            .resizable(true)
            .collapsible(false)
            .show(ctx, |ui| chosen = super::lessons::browse_ui(ui));
        if let Some(file) = chosen {
            self.show_lessons = false;
            self.commands.push(Command::OpenLesson(file.to_owned()));
        }
    }

    fn experiments_ui(&mut self, ctx: &egui::Context) {
        if !self.prefs.show_experiments {
            self.experiments.stop();
            return;
        }
        let problems = self
            .doc
            .problems
            .as_ref()
            .map(|p| p.0.first().map_or_else(String::new, ToString::to_string));
        let mut actions = Vec::new();
        egui::Window::new(labels::EXPERIMENTS)
            .open(&mut self.prefs.show_experiments)
            .default_pos([120.0, 64.0])
            .default_size([1000.0, 680.0])
            .min_size([640.0, 360.0])
            .resizable(true)
            .collapsible(false)
            .show(ctx, |ui| {
                actions = self.experiments.ui(ui, &self.doc.scenario, problems);
            });
        for a in actions {
            self.commands.push(match a {
                experiments::Action::EditSlos(slos) => Command::EditSlos(slos),
                experiments::Action::Apply(i) => Command::ApplyPoint(i),
                experiments::Action::Export(kind) => Command::ExportDialog(kind),
            });
        }
    }

    /// The Advisor panel, in its own window while shown.
    fn advisor_ui(&mut self, ctx: &egui::Context, summary: &crate::metrics::Summary) {
        if !self.prefs.show_advisor {
            self.advisor.stop();
            return;
        }
        self.advisor.refresh(&self.sim, summary);
        self.advisor.poll();
        let mut actions = Vec::new();
        egui::Window::new(advisor_panel::labels::ADVISOR)
            .open(&mut self.prefs.show_advisor)
            .default_pos([360.0, 80.0])
            .default_size([620.0, 620.0])
            .min_size([420.0, 300.0])
            .resizable(true)
            .collapsible(false)
            .show(ctx, |ui| {
                actions = self.advisor.ui(ui);
            });
        for a in actions {
            match a {
                advisor_panel::Action::Apply {
                    component,
                    changes,
                    title,
                } => self.commands.push(Command::ApplyLever {
                    component,
                    changes,
                    title,
                }),
                advisor_panel::Action::Measure => {
                    let waker = ctx.clone();
                    let scenario = self.sim.current().clone();
                    self.advisor
                        .measure(&scenario, move || waker.request_repaint());
                }
            }
        }
    }

    /// Makes an advisor's lever: its `--set` changes to one component, live when the
    /// run can take them (one undo step either way).
    fn apply_lever(&mut self, component: &str, changes: &[String], title: &str) {
        let prefix = format!("{component}.");
        if changes.iter().any(|c| !c.starts_with(&prefix)) {
            // It changes more than one component (an endpoint's step): a document edit
            // that takes effect on restart.
            let parsed: Result<Vec<crate::model::overrides::Override>, String> =
                changes.iter().map(|c| c.parse()).collect();
            let applied =
                self.edit_document(title, |s| crate::model::overrides::apply(s, &parsed?));
            if applied.is_some() {
                self.after_restart_only_edit();
                if self.doc.problems.is_none() {
                    self.status = if self.running() {
                        format!(
                            "Applied: {title}; it takes effect on restart (Ctrl+R); Ctrl+Z \
                             undoes it"
                        )
                    } else {
                        format!("Applied: {title} (recorded; Ctrl+Z undoes it)")
                    };
                }
            }
            return;
        }
        let Some(mut spec) = self.effective(component) else {
            self.status = format!("Cannot {title}: there is no component {component:?}");
            return;
        };
        for change in changes {
            let applied = change
                .split_once('=')
                .and_then(|(path, value)| Some((path.strip_prefix(&prefix)?, value)))
                .ok_or_else(|| format!("`{change}` does not change {component}"))
                .and_then(|(path, value)| params::apply(&mut spec, path, value, false));
            if let Err(e) = applied {
                self.status = format!("Cannot {title}: {e}");
                return;
            }
        }
        self.edit_component(spec);
        if self.status.starts_with("Changed ") {
            self.status = format!("Applied: {title} (recorded; Ctrl+Z undoes it)");
        }
    }

    /// Applies an edit to the document as one undo step; reports a refusal in the
    /// status bar. Returns the edit's result when it was made.
    fn edit_document<T, E: std::fmt::Display>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Scenario) -> Result<T, E>,
    ) -> Option<T> {
        let before = self.doc.scenario.clone();
        match self.doc.edit(what, f) {
            Ok(x) => {
                if self.doc.scenario != before {
                    self.undo.push(Undo::Document);
                    self.redo.clear();
                }
                Some(x)
            }
            Err(e) => {
                self.status = format!("Cannot {what}: {e}");
                None
            }
        }
    }

    /// After an edit that the running system cannot take: restart at once if the run has
    /// not started, otherwise say it applies on restart.
    fn after_restart_only_edit(&mut self) {
        if self.sim.now() == crate::sim::SimTime::ZERO {
            self.restart();
        } else if self.doc.problems.is_none() {
            self.status = "This change applies when the run restarts (Ctrl+R)".to_owned();
        }
    }

    fn edit_component(&mut self, new: ComponentSpec) {
        let id = new.id().to_owned();
        let Some(shown) = self.effective(&id) else {
            return;
        };
        let diffs = params::diff(&shown, &new);
        if diffs.is_empty() {
            return;
        }
        let live_possible = self.running()
            && self.sim.current().components.iter().any(|c| c.id() == id)
            && params::restart_only_differences(&shown, &new).is_empty();
        if live_possible {
            let before: BTreeMap<String, String> = params::flatten(&shown)
                .into_iter()
                .map(|(p, v, _)| (p, v))
                .collect();
            let back: Vec<(String, String)> = diffs
                .iter()
                .filter_map(|(p, _)| before.get(p).map(|v| (p.clone(), v.clone())))
                .collect();
            match self.sim.change(&id, diffs.clone()) {
                Ok(()) => {
                    // The record of the run is part of the document: one undo step.
                    let timeline = self.sim.timeline().to_vec();
                    let _ = self.doc.edit(&format!("change {id}"), |s| {
                        s.timeline = timeline;
                        Ok::<_, edit::EditError>(())
                    });
                    self.undo.push(Undo::Live {
                        component: id.clone(),
                        back,
                        forward: diffs,
                    });
                    self.redo.clear();
                    self.status = format!(
                        "Changed {id} at t = {:.1} s (recorded)",
                        self.sim.now().as_secs_f64()
                    );
                }
                Err(e) => self.status = format!("Cannot change {id}: {e}"),
            }
        } else {
            self.edit_document(&format!("edit {id}"), |s| {
                let Some(spec) = s.components.iter_mut().find(|c| c.id() == id) else {
                    return Err(format!("there is no component {id:?}"));
                };
                for (path, value) in &diffs {
                    params::apply(spec, path, value, false)?;
                }
                Ok(())
            });
            self.after_restart_only_edit();
        }
    }

    fn undo(&mut self) {
        let Some(step) = self.undo.pop() else {
            self.status = "Nothing to undo".to_owned();
            return;
        };
        // The document steps back (for a live change: the change leaves the record, so
        // a replay runs without it) ...
        self.doc.undo();
        match &step {
            Undo::Document => {
                if self.sim.now() == crate::sim::SimTime::ZERO {
                    self.restart_quietly();
                }
            }
            // ... and the running system gets its previous values back, now.
            Undo::Live {
                component, back, ..
            } => match self.sim.change(component, back.clone()) {
                Ok(()) => self.status = format!("Changed {component} back"),
                Err(e) => self.status = format!("The running system keeps the change: {e}"),
            },
        }
        self.redo.push(step);
    }

    fn redo(&mut self) {
        let Some(step) = self.redo.pop() else {
            self.status = "Nothing to redo".to_owned();
            return;
        };
        self.doc.redo();
        if let Undo::Live {
            component, forward, ..
        } = &step
            && let Err(e) = self.sim.change(component, forward.clone())
        {
            self.status = format!("The running system cannot take the change again: {e}");
        }
        self.undo.push(step);
    }

    fn restart(&mut self) {
        let before = (self.sim.now() > crate::sim::SimTime::ZERO).then(|| {
            (
                self.sim.now().as_secs_f64(),
                self.ran.clone(),
                charts::model::Baseline::keep(&self.sim, String::new(), String::new()),
            )
        });
        if self.restart_quietly() {
            self.status = format!("Restarted with seed {}", self.sim.seed());
            if let Some((at, ran, mut kept)) = before {
                // The run before stays on the charts, faded, ending with what the restart
                // changed.
                kept.name = format!("run before the restart at {at:.0} s");
                if let Some(m) = kept.markers.last_mut() {
                    m.text = format!("restarted: {}", what_changed(&ran, &self.ran));
                }
                self.baseline = Some(kept);
            }
        }
    }

    /// Rebuilds the simulation from the document; keeps the old run if the document has
    /// problems. Returns whether it restarted.
    fn restart_quietly(&mut self) -> bool {
        match self.doc.valid() {
            Ok(valid) => {
                self.sim = Simulation::new(&valid);
                self.ran = starting_point(&valid);
                self.playback.actual_speed = 0.0;
                true
            }
            Err(problems) => {
                self.status = format!("Cannot restart: {problems}");
                false
            }
        }
    }

    fn open_document(&mut self, doc: Document) {
        // An experiment on the previous scenario stops; its results no longer apply.
        self.experiments.forget();
        self.advisor.forget();
        // A run of another scenario is no baseline for this one.
        self.baseline = None;
        self.comparing = None;
        self.doc = doc;
        self.undo.clear();
        self.redo.clear();
        self.selection = Selection::None;
        self.canvas.fit = true;
        self.restart_quietly();
        self.playback.playing = true;
    }

    fn save_to(&mut self, path: PathBuf) {
        match self.doc.save_as(&path) {
            Ok(()) => {
                self.prefs.remember(&path);
                self.status = format!("Saved {}", path.display());
            }
            Err(e) => {
                self.dialog = Some(Dialog::Error {
                    title: format!("Cannot save {}", path.display()),
                    message: format!("{e}\n\nThe previous file, if any, is untouched."),
                })
            }
        }
    }

    /// A place for a new node: below the lowest one.
    fn free_spot(&self) -> (f32, f32) {
        let at = edit::layout(&self.doc.scenario);
        let y = at.values().map(|p| p.1).fold(f32::MIN, f32::max);
        let x = at.values().map(|p| p.0).fold(f32::MAX, f32::min);
        if at.is_empty() {
            (0.0, 0.0)
        } else {
            (x, y + edit::ROW_GAP)
        }
    }
}

/// The scenario of File → New: users calling one app tier.
fn new_scenario() -> Scenario {
    let text = r#"Scenario(
        version: 1,
        name: "New scenario",
        description: "Users send requests to one app tier. Add components from the left panel and connect them by dragging from a node's port.",
        endpoints: {"GET /": (steps: [Cpu(Exp(mean_ms: 5.0))])},
        components: [
            Client(id: "users", target: "app", arrivals: Poisson(rate_per_sec: 100.0)),
            App(id: "app", instances: 2, cores: 2),
        ],
    )"#;
    model::load_str(text)
        .map(ValidScenario::into_inner)
        .unwrap_or_else(|e| unreachable!("the New template is valid: {e}"))
}

impl eframe::App for BottleneckApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let now = Instant::now();
        let dt = self
            .last_frame
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        self.last_frame = Some(now);
        self.advance_frame(dt, FRAME_BUDGET);
        self.frame_log
            .record(dt, self.stats.work, self.playback.actual_speed);
        if self.playback.playing && !self.sim.is_finished() {
            ctx.request_repaint();
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        BottleneckApp::ui(self, ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.prefs);
    }
}
