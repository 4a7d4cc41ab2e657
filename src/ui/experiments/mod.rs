//! The Experiments panel, in two modes. Sweep: the load or any described parameter (one
//! or two axes), each point replicated, in a background thread; the capacity curve drawn
//! as points arrive; the capacity and the knee in words. Cheapest configuration: the
//! cheapest setting of one or more parameters that meets the objectives at a given load
//! (`experiment::plan`), each configuration streamed as it is decided; the winner in
//! words, the cost against p99. In both, the objectives edited in place, a point's or a
//! configuration's setting applied to the scenario, the results exported as CSV and the
//! picture as PNG.
//!
//! The panel owns its setup, the running [`job::Job`] and the results of each mode
//! ([`results::Results`], [`cheapest::Cheapest`]). What
//! changes the document (objectives, Apply, exports) goes back to the shell as an
//! [`Action`], so it takes the same undoable edit path as the inspector.

mod cheapest;
mod curve;
mod forms;
mod frontier;
mod job;
pub(crate) mod picture;
mod results;
mod setup;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use crate::experiment::{Error, Stopped};
use crate::model::overrides::{self, Override};
use crate::model::{ComponentSpec, Objective, Percentile, Scenario, Slo};

pub use cheapest::Cheapest;
pub use curve::APPLY;
pub use results::{Fares, Results, Stage};

use forms::{Edit, axis_ui, slo_ui};
use job::{Job, Plan, Report, Search, Work};
use picture::take_picture;
use setup::{AxisForm, MAX_POINTS, Target};

/// Texts of the panel's controls, shared with the tests that find them by label.
pub mod labels {
    pub const TITLE: &str = "Experiments";
    pub const START: &str = "Start";
    pub const CANCEL: &str = "Cancel";
    pub const VARY: &str = "Vary";
    pub const FROM: &str = "from";
    pub const TO: &str = "to";
    pub const STEPS: &str = "steps";
    pub const VALUES: &str = "values";
    pub const SECOND_AXIS: &str = "Second axis";
    pub const REPLICATIONS: &str = "Replications per point";
    pub const SEARCH_CAPACITY: &str = "Search the capacity";
    pub const ADD_OBJECTIVE: &str = "Add objective";
    pub const REMOVE: &str = "Remove";
    pub const BELOW: &str = "below";
    pub const ABOVE: &str = "above";
    pub const EXPORT_CSV: &str = "Export CSV…";
    pub const EXPORT_PNG: &str = "Export PNG…";
    pub const SWEEP: &str = "Sweep";
    pub const CHEAPEST: &str = "Cheapest configuration";
    pub const ADD_PARAMETER: &str = "Add parameter";
    pub const REMOVE_PARAMETER: &str = "Remove parameter";
    pub const PLAN_REPLICATIONS: &str = "Replications per configuration";
    pub const MAX_REPLICATIONS: &str = "at most";
    pub const PLAN_LOAD: &str = "Plan for load ×";
    pub const APPLY_CHEAPEST: &str = "Apply the cheapest";
}

/// What the panel does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Run a grid of points and draw the capacity curve.
    #[default]
    Sweep,
    /// Find the cheapest configuration meeting the objectives (`experiment::plan`).
    Cheapest,
}

/// Why Start is disabled when an axis's values are wrong (said next to the values).
const CORRECT_VALUES: &str = "Correct the values above";

/// Most parameters a search for the cheapest configuration varies at once.
pub const MAX_PLAN_AXES: usize = 4;

/// What the panel exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// Every point's figures with their intervals (`report::sweep_csv`).
    Csv,
    /// A picture of the curve and its words.
    Png,
    /// Every configuration of a plan with its price and status (`report::plan_csv`).
    PlanCsv,
    /// A picture of the cost against p99 and its words.
    PlanPng,
    /// The running system's summary, as `run --format json` writes it (File menu).
    RunJson,
    /// The running system's summary, as `run --format csv` writes it (File menu).
    RunCsv,
    /// Every chart series of the run, one row per sample, as `run --series` writes it.
    SeriesCsv,
    /// A picture of the charts panel.
    ChartsPng,
    /// A picture of the whole window.
    WindowPng,
}

impl Export {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv | Self::PlanCsv | Self::RunCsv | Self::SeriesCsv => "csv",
            Self::Png | Self::PlanPng | Self::ChartsPng | Self::WindowPng => "png",
            Self::RunJson => "json",
        }
    }

    /// A file name for it next to the scenario `stem`.
    pub fn file_name(self, stem: &str) -> String {
        match self {
            Self::Csv => format!("{stem}-sweep.csv"),
            Self::Png => format!("{stem}-curve.png"),
            Self::PlanCsv => format!("{stem}-plan.csv"),
            Self::PlanPng => format!("{stem}-plan.png"),
            Self::RunJson => format!("{stem}-summary.json"),
            Self::RunCsv => format!("{stem}-summary.csv"),
            Self::SeriesCsv => format!("{stem}-series.csv"),
            Self::ChartsPng => format!("{stem}-charts.png"),
            Self::WindowPng => format!("{stem}-window.png"),
        }
    }
}

/// What the panel asks of the shell (applied after the frame, like every command).
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Replace the scenario's objectives (one undoable edit).
    EditSlos(Vec<Slo>),
    /// Give the scenario the setting of point `i` (sweep) or configuration `i` (plan)
    /// of the results shown (one undoable edit).
    Apply(usize),
    /// Ask where to export.
    Export(Export),
}

/// How long to wait for the window's picture before saying it did not come.
const PICTURE_TIMEOUT: Duration = Duration::from_secs(5);

/// A PNG export under way: the picture is taken a few frames after the file dialog
/// closed, of the curve drawn without hover marks.
pub(crate) struct PngExport {
    pub(crate) path: PathBuf,
    /// Frames to wait before asking for the picture.
    pub(crate) wait_frames: u32,
    /// When the picture was asked for.
    pub(crate) asked: Option<Instant>,
}

impl PngExport {
    /// A picture to save to `path`, taken after two frames have settled.
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            wait_frames: 2,
            asked: None,
        }
    }
}

/// The panel's state.
pub struct Experiments {
    mode: Mode,
    axes: [AxisForm; 2],
    second: bool,
    replications: u32,
    capacity: bool,
    /// An axis's values found invalid on the scenario at the last start: the axis's
    /// text then, and why.
    checked: [Option<(String, String)>; 2],
    /// Why the last start failed (not about one axis).
    start_error: Option<String>,
    /// The parameters a plan varies (filled from the scenario when first shown).
    plan_axes: Vec<AxisForm>,
    /// As `checked`, for the plan's axes.
    plan_checked: Vec<Option<(String, String)>>,
    plan_replications: u32,
    plan_max_replications: u32,
    /// The load factor a plan's configurations must carry.
    plan_load: f64,
    job: Option<Job>,
    /// What the running job does.
    job_mode: Mode,
    results: Option<Results>,
    cheapest: Option<Cheapest>,
    /// Objectives being edited (a drag or typing under way), not yet committed.
    slo_buffer: Option<Vec<Slo>>,
    png: Option<PngExport>,
    png_sender: Sender<Result<PathBuf, String>>,
    png_replies: Receiver<Result<PathBuf, String>>,
    /// What the last export did.
    export_note: Option<Result<String, String>>,
}

impl Default for Experiments {
    fn default() -> Self {
        let (png_sender, png_replies) = mpsc::channel();
        Self {
            mode: Mode::Sweep,
            axes: [AxisForm::default(), AxisForm::default()],
            second: false,
            replications: 3,
            capacity: true,
            checked: [None, None],
            plan_axes: Vec::new(),
            plan_checked: Vec::new(),
            plan_replications: 5,
            plan_max_replications: 20,
            plan_load: 1.0,
            start_error: None,
            job: None,
            job_mode: Mode::Sweep,
            results: None,
            cheapest: None,
            slo_buffer: None,
            png: None,
            png_sender,
            png_replies,
            export_note: None,
        }
    }
}

impl Experiments {
    /// The sweep's results so far (of the running or the last sweep).
    pub fn results(&self) -> Option<&Results> {
        self.results.as_ref()
    }

    /// The search for the cheapest configuration so far (running or the last one).
    pub fn cheapest(&self) -> Option<&Cheapest> {
        self.cheapest.as_ref()
    }

    /// What the panel shows: a sweep or a search for the cheapest configuration.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether an experiment's thread is alive (running, or winding down after Cancel).
    pub fn is_busy(&self) -> bool {
        self.job.is_some()
    }

    /// Replications done and planned by the running experiment.
    pub fn progress(&self) -> Option<(u64, u64)> {
        self.job.as_ref().map(Job::progress)
    }

    /// Cancels the running experiment, if any (its results so far stay).
    pub fn stop(&mut self) {
        if let Some(job) = &self.job {
            job.cancel();
        }
    }

    /// Cancels the running experiment and forgets the results (another scenario).
    pub fn forget(&mut self) {
        self.stop();
        self.results = None;
        self.cheapest = None;
        self.slo_buffer = None;
        self.checked = [None, None];
        // The parameters may not exist in the other scenario: chosen again when shown.
        self.plan_axes.clear();
        self.plan_checked.clear();
        self.start_error = None;
        self.export_note = None;
    }

    /// Takes in what the experiment's thread and the window's picture sent; never waits.
    pub fn poll(&mut self) {
        if let Some(job) = &mut self.job {
            for report in job.poll() {
                if self.job_mode == Mode::Cheapest {
                    // Forgotten results (another scenario was opened) take nothing more.
                    let Some(r) = &mut self.cheapest else {
                        continue;
                    };
                    match report {
                        Report::Candidate(c) => r.decided(*c),
                        Report::Planned(p) => r.answered(*p),
                        Report::Done(Ok(())) => r.end(Stage::Finished),
                        Report::Done(Err(Error::Stopped(Stopped::Cancelled))) => {
                            r.end(Stage::Cancelled)
                        }
                        Report::Done(Err(e)) => r.end(Stage::Failed(e.to_string())),
                        Report::Point(_) | Report::Searching { .. } | Report::Capacity(_) => {}
                    }
                    continue;
                }
                let Some(r) = &mut self.results else {
                    continue;
                };
                match report {
                    Report::Point(p) => r.points.push(*p),
                    Report::Searching { met, not_met } => {
                        r.stage = Stage::Searching { met, not_met }
                    }
                    Report::Capacity(c) => r.capacity = Some(c),
                    Report::Done(Ok(())) => r.end(Stage::Finished),
                    Report::Done(Err(Error::Stopped(Stopped::Cancelled))) => {
                        r.end(Stage::Cancelled)
                    }
                    Report::Done(Err(e)) => r.end(Stage::Failed(e.to_string())),
                    Report::Candidate(_) | Report::Planned(_) => {}
                }
            }
            if job.has_ended() {
                self.job = None;
            }
        }
        while let Ok(reply) = self.png_replies.try_recv() {
            self.png = None;
            self.export_note = Some(match reply {
                Ok(path) => Ok(format!("Saved the picture to {}", path.display())),
                Err(e) => Err(e),
            });
        }
        if let Some(png) = &self.png
            && png.asked.is_some_and(|t| t.elapsed() > PICTURE_TIMEOUT)
        {
            self.png = None;
            self.export_note = Some(Err(
                "The window gave no picture (this display may not support screenshots): \
                 export the CSV instead"
                    .to_owned(),
            ));
        }
    }

    /// The setting of point (or configuration) `i` of the results shown and the
    /// scenario the experiment ran on, for [`apply_setting`]. A configuration's setting
    /// is its parameters' values alone, not the load it was planned for.
    pub fn setting(&self, i: usize) -> Option<(Vec<(String, String)>, Scenario)> {
        if self.mode == Mode::Cheapest {
            let r = self.cheapest.as_ref()?;
            let c = r.plan.candidates.get(i)?;
            return Some((c.at.clone(), r.search.base.clone()));
        }
        let r = self.results.as_ref()?;
        Some((r.points.get(i)?.at.clone(), r.plan.base.clone()))
    }

    /// The plan's configurations as CSV (`report::plan_csv`), when some are decided.
    pub fn plan_csv(&self) -> Option<String> {
        let r = self.cheapest.as_ref()?;
        if r.plan.candidates.is_empty() {
            return None;
        }
        Some(crate::report::plan_csv(&r.plan))
    }

    /// The results as CSV (`report::sweep_csv`), when there are points.
    pub fn csv(&self) -> Option<String> {
        let r = self.results.as_ref()?;
        if r.points.is_empty() {
            return None;
        }
        let knee = r
            .turn()
            .and_then(|t| r.points.get(t.index()))
            .map(|p| p.at.clone());
        Some(crate::report::sweep_csv(&crate::report::SweepResult {
            axes: r.axis_names(),
            points: &r.points,
            knee,
            capacity: r.capacity.clone(),
        }))
    }

    /// Saves a picture of the curve to `path` in a few frames (see [`PngExport`]).
    pub fn export_png(&mut self, path: PathBuf) {
        self.export_note = Some(Ok(format!("Saving the picture to {}…", path.display())));
        self.png = Some(PngExport {
            path,
            wait_frames: 2,
            asked: None,
        });
    }

    /// Says what an export did, in the panel.
    pub fn export_done(&mut self, note: Result<String, String>) {
        self.export_note = Some(note);
    }

    /// The panel's contents. `problems` says why the scenario cannot run, if it cannot.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        scenario: &Scenario,
        problems: Option<String>,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.job.is_some() {
            // Progress and elapsed time move between the thread's reports.
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
        egui::Panel::left("experiment setup")
            .resizable(false)
            .exact_size(350.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.mode_ui(ui, scenario);
                    match self.mode {
                        Mode::Sweep => self.setup_ui(ui, scenario, problems),
                        Mode::Cheapest => self.plan_setup_ui(ui, scenario, problems),
                    }
                    ui.separator();
                    self.slos_ui(ui, scenario, &mut actions);
                });
            });
        egui::CentralPanel::default().show(ui, |ui| match self.mode {
            Mode::Sweep => self.results_ui(ui, scenario, &mut actions),
            Mode::Cheapest => self.cheapest_ui(ui, scenario, &mut actions),
        });
        actions
    }

    // ----- setup ------------------------------------------------------------------------

    /// Whether the capacity can be searched: one load axis and objectives to meet.
    fn can_search(&self, scenario: &Scenario) -> Result<(), &'static str> {
        if self.second || self.axes[0].target != Target::Load {
            Err("The capacity is searched on the load alone: vary only the load")
        } else if scenario.slos.is_empty() {
            Err("The capacity is the highest load that meets the objectives: add one below")
        } else {
            Ok(())
        }
    }

    fn setup_ui(&mut self, ui: &mut egui::Ui, scenario: &Scenario, problems: Option<String>) {
        use labels::*;
        let catalogue = setup::catalogue(scenario);
        let busy = self.job.is_some();
        let n = if self.second { 2 } else { 1 };
        ui.add_enabled_ui(!busy, |ui| {
            for i in 0..2 {
                if i == 1 {
                    let r = ui.checkbox(&mut self.second, SECOND_AXIS).on_hover_text(
                        "Vary a second parameter too: every combination of the two values is \
                         a point (a grid), drawn as one p99 curve per value of the second",
                    );
                    if r.changed()
                        && self.second
                        && self.axes[1].target == self.axes[0].target
                        && let Some(target) = setup::second_default(&catalogue)
                    {
                        self.axes[1] = AxisForm::for_target(target);
                    }
                    if !self.second {
                        break;
                    }
                }
                let checked = self.checked[i]
                    .as_ref()
                    .filter(|(spec, _)| *spec == self.axes[i].spec())
                    .map(|(_, e)| e.clone());
                axis_ui(ui, i, &mut self.axes[i], &catalogue, checked, true);
            }
            ui.horizontal(|ui| {
                let label = ui.label(REPLICATIONS);
                ui.add(egui::DragValue::new(&mut self.replications).range(2..=100))
                    .labelled_by(label.id)
                    .on_hover_text(
                        "Independent runs at each point, each with its own seed: more give \
                         narrower 95 % intervals (they shrink as 1/√n) and take longer",
                    );
            });
            let searchable = self.can_search(scenario);
            let mut on = self.capacity && searchable.is_ok();
            let r = ui
                .add_enabled(
                    searchable.is_ok(),
                    egui::Checkbox::new(&mut on, SEARCH_CAPACITY),
                )
                .on_hover_text(
                    "After the grid, narrow the load at which the objectives stop being met \
                     down to 1 % by bisection, each probe replicated until it is decided",
                );
            if let Err(why) = searchable {
                r.on_disabled_hover_text(why);
            } else {
                self.capacity = on;
            }
        });

        // What would run, and whether it can.
        let axes: Vec<Result<crate::experiment::sweep::Axis, String>> =
            self.axes[..n].iter().map(AxisForm::parse).collect();
        let points: Option<usize> = axes
            .iter()
            .map(|a| a.as_ref().ok().map(setup::axis_len))
            .product();
        let blocker = if let Some(p) = &problems {
            Some(format!(
                "The scenario has problems (see the left panel): {p}"
            ))
        } else if n == 2 && self.axes[0].target == self.axes[1].target {
            Some("The two axes vary the same thing: choose another for one".to_owned())
        } else {
            match points {
                None => Some("Correct the values above".to_owned()),
                Some(p) if p > MAX_POINTS => Some(format!(
                    "{p} points is more than {MAX_POINTS}: use fewer steps"
                )),
                Some(_) => None,
            }
        };
        ui.add_space(6.0);
        match (&self.job, &self.results) {
            (Some(job), _) => self.progress_ui(ui, job),
            (None, _) => {
                ui.horizontal(|ui| {
                    let start = ui
                        .add_enabled(
                            blocker.is_none(),
                            egui::Button::new(egui::RichText::new(START).strong()),
                        )
                        .on_hover_text(format!(
                            "Run the scenario at each point ({} in all, {} replications \
                             each) in the background; the window goes on",
                            points.unwrap_or(0),
                            self.replications
                        ));
                    if let Some(b) = &blocker {
                        start.clone().on_disabled_hover_text(b);
                    }
                    if start.clicked() {
                        self.start(scenario, ui.ctx());
                    }
                    if let Some(p) = points {
                        ui.weak(format!(
                            "{p} points × {} = {} replications",
                            self.replications,
                            p * self.replications as usize
                        ));
                    }
                });
                // A wrong value is said next to its field; other reasons here.
                if let Some(b) = &blocker
                    && points.is_some()
                {
                    ui.colored_label(ui.visuals().error_fg_color, b);
                }
                if let Some(e) = &self.start_error {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
                if let Some(r) = &self.results {
                    outcome_ui(ui, r);
                }
            }
        }
    }

    fn progress_ui(&self, ui: &mut egui::Ui, job: &Job) {
        let (done, planned) = job.progress();
        let share = if planned > 0 {
            done as f32 / planned as f32
        } else {
            0.0
        };
        ui.add(
            egui::ProgressBar::new(share)
                .desired_width(ui.available_width())
                .text(format!("{done} of {planned} replications")),
        )
        .on_hover_text(format!(
            "{} simulated events so far; a capacity search plans more replications as it goes, \
             and so does a search for the cheapest configuration while one is undecided",
            job.events()
        ));
        ui.horizontal(|ui| {
            if job.is_cancelled() {
                ui.add_enabled(false, egui::Button::new(labels::CANCEL));
                ui.label("Cancelling…");
            } else if ui
                .button(labels::CANCEL)
                .on_hover_text("Stop the experiment; the points done so far stay")
                .clicked()
            {
                job.cancel();
            }
            match (self.job_mode, &self.results, &self.cheapest) {
                (Mode::Sweep, Some(r), _) => ui.label(format!(
                    "{} of {} points · {:.1} s",
                    r.points.len(),
                    r.planned_points(),
                    r.elapsed().as_secs_f64()
                )),
                (Mode::Cheapest, _, Some(r)) => {
                    let (decided, run) = r.decided_count();
                    ui.label(format!(
                        "{decided} of {} configurations decided, {run} run · {:.1} s",
                        r.grid_size(),
                        r.elapsed().as_secs_f64()
                    ))
                }
                _ => ui.label("Stopping the previous experiment…"),
            };
        });
        if let Some(Stage::Searching { met, not_met }) = self.results.as_ref().map(|r| &r.stage) {
            ui.label(format!(
                "Searching the capacity between {}× and {}×",
                results::short(*met, 2),
                results::short(*not_met, 2)
            ));
        }
    }

    /// Starts an experiment on `scenario` as set up, or says why not.
    fn start(&mut self, scenario: &Scenario, ctx: &egui::Context) {
        self.start_error = None;
        self.export_note = None;
        let n = if self.second { 2 } else { 1 };
        let mut axes = Vec::new();
        for i in 0..n {
            let spec = self.axes[i].spec();
            match self.axes[i]
                .parse()
                .and_then(|a| setup::check_values(scenario, &a).map(|()| a))
            {
                Ok(a) => {
                    self.checked[i] = None;
                    axes.push(a);
                }
                Err(e) => self.checked[i] = Some((spec, e)),
            }
        }
        if axes.len() != n {
            return;
        }
        let capacity = self.capacity && self.can_search(scenario).is_ok();
        let plan = Plan {
            base: scenario.clone(),
            axes,
            replications: self.replications as usize,
            capacity,
        };
        let waker = ctx.clone();
        match Job::start(Work::Sweep(plan.clone()), move || waker.request_repaint()) {
            Ok(job) => {
                self.job = Some(job);
                self.job_mode = Mode::Sweep;
                self.results = Some(Results::new(plan));
            }
            Err(e) => self.start_error = Some(format!("Cannot start the experiment: {e}")),
        }
    }

    // ----- the mode and the plan's setup --------------------------------------------------

    fn mode_ui(&mut self, ui: &mut egui::Ui, scenario: &Scenario) {
        let busy = self.job.is_some();
        ui.add_enabled_ui(!busy, |ui| {
            ui.horizontal(|ui| {
                let sweep = ui
                    .selectable_value(&mut self.mode, Mode::Sweep, labels::SWEEP)
                    .on_hover_text(
                        "Run the scenario at each value of the load or of one or two \
                         parameters: the capacity curve, the capacity and the knee",
                    );
                let cheapest = ui
                    .selectable_value(&mut self.mode, Mode::Cheapest, labels::CHEAPEST)
                    .on_hover_text(
                        "Find the cheapest setting of some parameters (by list price) that \
                         meets every objective with confidence at a given load, as \
                         `bottleneck plan` does",
                    );
                if busy {
                    let why = "One experiment at a time: cancel the running one first";
                    sweep.on_disabled_hover_text(why);
                    cheapest.on_disabled_hover_text(why);
                }
            });
        });
        if self.mode == Mode::Cheapest && self.plan_axes.is_empty() {
            let catalogue = plan_catalogue(scenario);
            if let Some(target) = setup::second_default(&catalogue) {
                self.plan_axes.push(AxisForm::for_target(target));
            }
        }
        ui.separator();
    }

    /// Why the plan cannot start, other than an axis's own values.
    fn plan_blocker(&self, scenario: &Scenario, problems: Option<&str>) -> Option<String> {
        let axes: Vec<_> = self.plan_axes.iter().map(AxisForm::parse).collect();
        if let Some(p) = problems {
            return Some(format!(
                "The scenario has problems (see the left panel): {p}"
            ));
        }
        if scenario.slos.is_empty() {
            return Some(
                "The cheapest configuration is the cheapest that meets the objectives: add \
                 one below"
                    .to_owned(),
            );
        }
        if self.plan_axes.is_empty() {
            return Some(
                "The scenario has no numeric parameter to vary: add a component".to_owned(),
            );
        }
        let paths: Vec<String> = self.plan_axes.iter().map(|f| f.target.path()).collect();
        if paths
            .iter()
            .enumerate()
            .any(|(i, p)| paths[..i].contains(p))
        {
            return Some("Two axes vary the same parameter: choose another for one".to_owned());
        }
        let n: Option<usize> = axes
            .iter()
            .map(|a| {
                a.as_ref()
                    .ok()
                    .filter(|a| crate::experiment::plan::check_axis(a).is_ok())
                    .map(setup::axis_len)
            })
            .product();
        match n {
            None => Some(CORRECT_VALUES.to_owned()),
            Some(n) if n > crate::experiment::plan::MAX_CANDIDATES => Some(format!(
                "{n} configurations is more than the {} a search takes: fewer values",
                crate::experiment::plan::MAX_CANDIDATES
            )),
            Some(_) => None,
        }
    }

    fn plan_setup_ui(&mut self, ui: &mut egui::Ui, scenario: &Scenario, problems: Option<String>) {
        use labels::*;
        let catalogue = plan_catalogue(scenario);
        let busy = self.job.is_some();
        self.plan_checked.resize(self.plan_axes.len(), None);
        ui.add_enabled_ui(!busy, |ui| {
            ui.label(
                "The parameters it may change, each from least to most capacity (numbers in \
                 increasing order):",
            );
            let mut remove = None;
            let many = self.plan_axes.len() > 1;
            for (i, form) in self.plan_axes.iter_mut().enumerate() {
                let checked = self.plan_checked[i]
                    .as_ref()
                    .filter(|(spec, _)| *spec == form.spec())
                    .map(|(_, e)| e.clone());
                // A plan's own rule (numbers, increasing) next to the values too.
                let rule = form
                    .parse()
                    .ok()
                    .and_then(|a| crate::experiment::plan::check_axis(&a).err());
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    axis_ui(ui, i, form, &catalogue, rule.or(checked), false);
                    if many
                        && ui
                            .push_id(("remove axis", i), |ui| {
                                ui.small_button(REMOVE_PARAMETER)
                                    .on_hover_text("Stop varying this parameter")
                            })
                            .inner
                            .clicked()
                    {
                        remove = Some(i);
                    }
                });
            }
            if let Some(i) = remove {
                self.plan_axes.remove(i);
                self.plan_checked.remove(i);
            }
            if self.plan_axes.len() < MAX_PLAN_AXES {
                let next = next_plan_axis(&catalogue, &self.plan_axes);
                let r = ui
                    .add_enabled(next.is_some(), egui::Button::new(ADD_PARAMETER))
                    .on_hover_text(
                        "Vary another parameter too: every combination is a configuration, \
                         searched in order of price",
                    )
                    .on_disabled_hover_text("Every whole-number parameter is varied already");
                if r.clicked()
                    && let Some(t) = next
                {
                    self.plan_axes.push(AxisForm::for_target(t));
                    self.plan_checked.push(None);
                }
            }
            ui.horizontal(|ui| {
                let label = ui.label(PLAN_LOAD);
                ui.add(
                    egui::DragValue::new(&mut self.plan_load)
                        .range(0.01..=1000.0)
                        .speed(0.01)
                        .max_decimals(3),
                )
                .labelled_by(label.id)
                .on_hover_text(
                    "The load the configurations must carry: every client's load times this \
                     (1: as written). It is an assumption of the search, not part of a \
                     configuration: Apply leaves the scenario's load as it is",
                );
                if let Some(rate) = results::offered_per_sec(scenario) {
                    ui.weak(format!("= {:.0} req/s", rate * self.plan_load))
                        .on_hover_text("What the clients send at this load, on average");
                }
            });
            ui.horizontal(|ui| {
                let label = ui.label(PLAN_REPLICATIONS);
                ui.add(egui::DragValue::new(&mut self.plan_replications).range(2..=100))
                    .labelled_by(label.id)
                    .on_hover_text(
                        "Independent runs of each configuration, each with its own seed, \
                         before it is judged",
                    );
                let label = ui.label(MAX_REPLICATIONS);
                self.plan_max_replications = self.plan_max_replications.max(self.plan_replications);
                ui.add(
                    egui::DragValue::new(&mut self.plan_max_replications)
                        .range(self.plan_replications..=400),
                )
                .labelled_by(label.id)
                .on_hover_text(
                    "While a configuration is neither met nor breached with confidence, more \
                     replications are run, up to this many; then it stays undecided",
                );
            });
        });
        let blocker = self.plan_blocker(scenario, problems.as_deref());
        ui.add_space(6.0);
        if let Some(job) = &self.job {
            self.progress_ui(ui, job);
            return;
        }
        ui.horizontal(|ui| {
            let start = ui
                .add_enabled(
                    blocker.is_none(),
                    egui::Button::new(egui::RichText::new(START).strong()),
                )
                .on_hover_text(
                    "Run the configurations in order of price in the background, pruning \
                     those that cannot win, until the cheapest meeting the objectives and two \
                     runners-up are found; the window goes on",
                );
            if let Some(b) = &blocker {
                start.clone().on_disabled_hover_text(b);
            }
            if start.clicked() {
                self.start_plan(scenario, ui.ctx());
            }
            let n: Option<usize> = self
                .plan_axes
                .iter()
                .map(|f| f.parse().ok().map(|a| setup::axis_len(&a)))
                .product();
            if let Some(n) = n {
                ui.weak(format!("{n} configurations at most"));
            }
        });
        // A wrong value is said next to its field; other reasons here.
        if let Some(b) = &blocker
            && b != CORRECT_VALUES
        {
            ui.colored_label(ui.visuals().error_fg_color, b);
        }
        if let Some(e) = &self.start_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some(r) = &self.cheapest {
            plan_outcome_ui(ui, r);
        }
    }

    /// Starts a search for the cheapest configuration of `scenario` as set up, or says
    /// why not.
    fn start_plan(&mut self, scenario: &Scenario, ctx: &egui::Context) {
        self.start_error = None;
        self.export_note = None;
        let mut search = Search {
            base: scenario.clone(),
            load: self.plan_load,
            axes: Vec::new(),
            replications: self.plan_replications as usize,
            max_replications: self.plan_max_replications.max(self.plan_replications) as usize,
        };
        let loaded = search.loaded();
        if let Err(e) = crate::model::validate(loaded.clone()) {
            self.start_error = Some(format!(
                "At {} the scenario is invalid: {e}",
                cheapest::load_words(&search)
            ));
            return;
        }
        self.plan_checked.resize(self.plan_axes.len(), None);
        for (i, form) in self.plan_axes.iter().enumerate() {
            let checked = form.parse().and_then(|a| {
                crate::experiment::plan::check_axis(&a)?;
                setup::check_values(&loaded, &a)?;
                Ok(a)
            });
            match checked {
                Ok(a) => {
                    self.plan_checked[i] = None;
                    search.axes.push(a);
                }
                Err(e) => self.plan_checked[i] = Some((form.spec(), e)),
            }
        }
        if search.axes.len() != self.plan_axes.len() || search.axes.is_empty() {
            return;
        }
        let waker = ctx.clone();
        match Job::start(Work::Cheapest(search.clone()), move || {
            waker.request_repaint()
        }) {
            Ok(job) => {
                self.job = Some(job);
                self.job_mode = Mode::Cheapest;
                self.cheapest = Some(Cheapest::new(search));
            }
            Err(e) => self.start_error = Some(format!("Cannot start the search: {e}")),
        }
    }

    // ----- objectives -------------------------------------------------------------------

    fn slos_ui(&mut self, ui: &mut egui::Ui, scenario: &Scenario, actions: &mut Vec<Action>) {
        ui.label(egui::RichText::new("Objectives").strong())
            .on_hover_text(
                "Service-level objectives, judged at every point over its replications: met \
                 when the whole 95 % interval is on the good side of the bound. They are part \
                 of the scenario: saved in its file, undone with Ctrl+Z.",
            );
        let current = &scenario.slos;
        let mut slos = self.slo_buffer.clone().unwrap_or_else(|| current.clone());
        let endpoints: Vec<String> = scenario.endpoints.keys().cloned().collect();
        let mut edit = Edit::default();
        let mut remove = None;
        for (i, slo) in slos.iter_mut().enumerate() {
            ui.push_id(("objective", i), |ui| {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    if slo_ui(ui, slo, &endpoints, &mut edit) {
                        remove = Some(i);
                    }
                });
            });
        }
        if slos.is_empty() {
            ui.weak("No objectives: the points are not judged and there is no capacity.");
        }
        if let Some(i) = remove {
            slos.remove(i);
            edit.done();
        }
        if slos.len() < crate::model::limits::MAX_SLOS
            && ui
                .button(labels::ADD_OBJECTIVE)
                .on_hover_text("A new objective: p99 latency of all requests below 200 ms")
                .clicked()
        {
            slos.push(Slo {
                endpoint: None,
                objective: Objective::Latency {
                    percentile: Percentile::P99,
                    below_ms: 200.0,
                },
            });
            edit.done();
        }
        let (changed, commit) = edit.outcome();
        if commit {
            self.slo_buffer = None;
            if &slos != current {
                actions.push(Action::EditSlos(slos));
            }
        } else if changed {
            self.slo_buffer = Some(slos);
        }
    }

    // ----- results ----------------------------------------------------------------------

    fn results_ui(&mut self, ui: &mut egui::Ui, scenario: &Scenario, actions: &mut Vec<Action>) {
        let Self {
            results,
            png,
            png_sender,
            export_note,
            ..
        } = self;
        let Some(r) = results else {
            ui.label(
                "Choose what to vary and press Start. Each point runs the scenario several \
                 times with different seeds, in the background; the curve grows as points \
                 finish, and the window goes on.",
            );
            return;
        };
        ui.horizontal(|ui| {
            let any = !r.points.is_empty();
            if ui
                .add_enabled(any, egui::Button::new(labels::EXPORT_CSV))
                .on_hover_text(
                    "Every point's figures with their 95 % intervals, one row per point and \
                     figure (as `bottleneck sweep --format csv`)",
                )
                .clicked()
            {
                actions.push(Action::Export(Export::Csv));
            }
            if ui
                .add_enabled(any && png.is_none(), egui::Button::new(labels::EXPORT_PNG))
                .on_hover_text("A picture of the curve and what it says, as on screen")
                .clicked()
            {
                actions.push(Action::Export(Export::Png));
            }
            export_note_ui(ui, export_note.as_ref());
        });
        let plot_height = (ui.available_height() * 0.5).clamp(220.0, 460.0);
        egui::ScrollArea::vertical().show(ui, |ui| {
            let plain = png.is_some();
            let shown = ui.vertical(|ui| {
                if let Some(words) = r.capacity_words() {
                    ui.label(egui::RichText::new(words).strong());
                }
                if let Some(words) = r.turn_words() {
                    ui.label(words);
                }
                curve::plot_ui(ui, r, plain, plot_height);
            });
            if let Some(png) = png {
                take_picture(ui.ctx(), png, shown.response.rect, png_sender);
            }
            if r.plan.base.slos != scenario.slos {
                ui.weak(
                    "The objectives changed since this experiment ran: start it again to \
                     judge the points against them.",
                );
            }
            ui.separator();
            if let Some(i) = curve::table_ui(ui, r) {
                actions.push(Action::Apply(i));
            }
        });
    }
}

impl Experiments {
    /// The results of a search for the cheapest configuration: the winner in words,
    /// the cost against p99, every configuration in a table.
    fn cheapest_ui(&mut self, ui: &mut egui::Ui, scenario: &Scenario, actions: &mut Vec<Action>) {
        let Self {
            cheapest,
            png,
            png_sender,
            export_note,
            ..
        } = self;
        let Some(r) = cheapest else {
            ui.label(
                "Choose the parameters the search may change and the load to plan for, then \
                 press Start. Configurations run in order of list price, each replicated \
                 and judged against the objectives, in the background; one that cannot be \
                 the cheapest is not run. The first that meets every objective with \
                 confidence is the answer.",
            );
            return;
        };
        ui.horizontal(|ui| {
            let any = !r.plan.candidates.is_empty();
            if ui
                .add_enabled(any, egui::Button::new(labels::EXPORT_CSV))
                .on_hover_text(
                    "Every configuration with its price, status, p99 and error rate with \
                     their 95 % intervals, cheapest first (as `bottleneck plan --format csv`)",
                )
                .clicked()
            {
                actions.push(Action::Export(Export::PlanCsv));
            }
            if ui
                .add_enabled(
                    r.plan.runs() > 0 && png.is_none(),
                    egui::Button::new(labels::EXPORT_PNG),
                )
                .on_hover_text("A picture of the cost against p99 and what it says, as on screen")
                .clicked()
            {
                actions.push(Action::Export(Export::PlanPng));
            }
            export_note_ui(ui, export_note.as_ref());
        });
        let plot_height = (ui.available_height() * 0.45).clamp(200.0, 420.0);
        egui::ScrollArea::vertical().show(ui, |ui| {
            let plain = png.is_some();
            let shown = ui.vertical(|ui| {
                ui.weak(format!("At {}: {}", r.load_words(), r.tally()));
                match r.winner_words() {
                    Some(words) => {
                        ui.horizontal_wrapped(|ui| {
                            let found = r.plan.winner.is_some();
                            let text = egui::RichText::new(words).strong();
                            if found {
                                ui.label(text);
                            } else {
                                ui.colored_label(ui.visuals().warn_fg_color, text);
                            }
                            if let Some(w) = r.plan.winner
                                && !plain
                                && ui
                                    .small_button(labels::APPLY_CHEAPEST)
                                    .on_hover_text(
                                        "Give the scenario this configuration: one edit, \
                                         undone with Ctrl+Z. The load planned for is not \
                                         applied.",
                                    )
                                    .clicked()
                            {
                                actions.push(Action::Apply(w));
                            }
                        });
                    }
                    None => {
                        ui.label("No configuration meets the objectives yet…");
                    }
                }
                if let Some(words) = r.runners_up_words() {
                    ui.label(words);
                }
                if r.plan.runs() > 0 {
                    frontier::plot_ui(ui, r, plain, plot_height);
                }
            });
            if let Some(png) = png {
                take_picture(ui.ctx(), png, shown.response.rect, png_sender);
            }
            if r.search.base.slos != scenario.slos {
                ui.weak(
                    "The objectives changed since this search ran: start it again to judge \
                     the configurations against them.",
                );
            }
            ui.separator();
            if let Some(i) = frontier::table_ui(ui, r) {
                actions.push(Action::Apply(i));
            }
        });
    }
}

/// The parameters a plan can vary: the numeric ones of the sweep's catalogue, of every
/// component but the clients (whose parameters are the load, not the configuration).
fn plan_catalogue(s: &Scenario) -> Vec<(String, Vec<setup::Param>)> {
    let clients: Vec<&str> = s
        .components
        .iter()
        .filter(|c| matches!(c, ComponentSpec::Client(_)))
        .map(ComponentSpec::id)
        .collect();
    setup::catalogue(s)
        .into_iter()
        .filter(|(id, _)| !clients.contains(&id.as_str()))
        .map(|(id, params)| {
            let numeric = params.into_iter().filter(|p| p.kind.is_numeric()).collect();
            (id, numeric)
        })
        .filter(|(_, params): &(String, Vec<setup::Param>)| !params.is_empty())
        .collect()
}

/// What "Add parameter" varies next: the instances or cores of a component not varied
/// yet, else any count not varied yet.
fn next_plan_axis(catalogue: &[(String, Vec<setup::Param>)], axes: &[AxisForm]) -> Option<Target> {
    let varied = |t: &Target| axes.iter().any(|f| f.target.path() == t.path());
    let component_varied = |id: &str| {
        axes.iter()
            .any(|f| matches!(&f.target, Target::Param { component, .. } if component == id))
    };
    let find = |want: &dyn Fn(&str, &setup::Param) -> bool| {
        catalogue.iter().find_map(|(id, params)| {
            params
                .iter()
                .filter(|p| want(id, p))
                .map(|p| Target::Param {
                    component: id.clone(),
                    param: p.clone(),
                })
                .find(|t| !varied(t))
        })
    };
    let sizes = |p: &setup::Param| p.path == "instances" || p.path == "cores";
    find(&|id, p| sizes(p) && !component_varied(id))
        .or_else(|| find(&|_, p| sizes(p)))
        .or_else(|| find(&|_, p| p.kind == setup::Kind::Count))
}

/// How a search that is not running ended.
fn plan_outcome_ui(ui: &mut egui::Ui, r: &Cheapest) {
    let secs = r.elapsed().as_secs_f64();
    let (decided, run) = r.decided_count();
    match &r.stage {
        Stage::Finished => {
            ui.label(format!(
                "Finished in {secs:.1} s: {run} of {} configurations run",
                r.grid_size()
            ));
        }
        Stage::Cancelled => {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "Cancelled after {secs:.1} s, with {decided} of {} configurations decided",
                    r.grid_size()
                ),
            );
        }
        Stage::Failed(why) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("The search stopped: {why}"),
            );
        }
        Stage::Sweeping | Stage::Searching { .. } => {}
    }
}

/// How an experiment that is not running ended.
fn outcome_ui(ui: &mut egui::Ui, r: &Results) {
    let secs = r.elapsed().as_secs_f64();
    match &r.stage {
        Stage::Finished => {
            ui.label(format!(
                "Finished in {secs:.1} s: {} points, {} replications each",
                r.points.len(),
                r.plan.replications
            ));
        }
        Stage::Cancelled => {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "Cancelled after {secs:.1} s, with {} of {} points",
                    r.points.len(),
                    r.planned_points()
                ),
            );
        }
        Stage::Failed(why) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("The experiment stopped: {why}"),
            );
        }
        Stage::Sweeping | Stage::Searching { .. } => {}
    }
}

/// A point's setting in words: `load × 2.5, app.instances = 8`.
pub fn setting_words(at: &[(String, String)]) -> String {
    at.iter()
        .map(|(a, v)| {
            if a == "load" {
                format!("load × {v}")
            } else {
                format!("{a} = {v}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Gives `s` a point's setting: each parameter's value, and for a load factor the
/// clients' load of `base` (the scenario the experiment ran on) times the factor, so
/// applying twice gives the same scenario.
pub fn apply_setting(
    s: &mut Scenario,
    at: &[(String, String)],
    base: &Scenario,
) -> Result<(), String> {
    for (axis, value) in at {
        if axis == "load" {
            let factor: f64 = value
                .parse()
                .map_err(|_| format!("`{value}` is not a load factor"))?;
            let mut scaled = base.clone();
            overrides::scale_load(&mut scaled, factor);
            for c in &mut s.components {
                let ComponentSpec::Client(client) = c else {
                    continue;
                };
                let from = scaled.components.iter().find_map(|x| match x {
                    ComponentSpec::Client(b) if b.id == client.id => Some(b),
                    _ => None,
                });
                if let Some(b) = from {
                    client.arrivals = b.arrivals.clone();
                }
            }
        } else {
            overrides::apply(
                s,
                &[Override {
                    path: axis.clone(),
                    value: value.clone(),
                }],
            )
            .map_err(|e| e.trim_start_matches("--set ").to_owned())?;
        }
    }
    Ok(())
}

/// A default file next to `doc` (or in the working directory).
pub fn export_path(doc: Option<&Path>, kind: Export) -> PathBuf {
    let stem = doc
        .and_then(Path::file_stem)
        .map_or("scenario".to_owned(), |s| s.to_string_lossy().into_owned());
    let name = kind.file_name(&stem);
    match doc.and_then(Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(name),
        _ => PathBuf::from(name),
    }
}

/// What the last export said: where it went, or why it failed.
fn export_note_ui(ui: &mut egui::Ui, note: Option<&Result<String, String>>) {
    match note {
        Some(Ok(note)) => {
            ui.weak(note.as_str());
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e.as_str());
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applying_a_load_point_twice_gives_the_same_scenario() {
        let base = crate::model::load_file("scenarios/three_tier.ron".as_ref())
            .expect("bundled")
            .into_inner();
        let at = vec![("load".to_owned(), "2.5".to_owned())];
        let mut once = base.clone();
        apply_setting(&mut once, &at, &base).expect("applies");
        let mut twice = once.clone();
        apply_setting(&mut twice, &at, &base).expect("applies");
        assert_eq!(once, twice);
        let mut expected = base.clone();
        overrides::scale_load(&mut expected, 2.5);
        assert_eq!(once, expected);
        let mut s = base.clone();
        apply_setting(&mut s, &[("app.instances".into(), "7".into())], &base).expect("applies");
        assert!(
            s.components
                .iter()
                .any(|c| matches!(c, ComponentSpec::App(a) if a.instances == 7))
        );
        let e = apply_setting(&mut s, &[("app.nope".into(), "7".into())], &base)
            .expect_err("no such parameter");
        assert!(e.starts_with("app.nope=7"), "{e}");
    }

    #[test]
    fn a_plan_varies_sizes_of_the_system_not_the_clients() {
        let s = crate::model::load_file("scenarios/three_tier.ron".as_ref())
            .expect("bundled")
            .into_inner();
        let catalogue = plan_catalogue(&s);
        assert!(catalogue.iter().all(|(id, _)| id != "users"), "no client");
        let first = setup::second_default(&catalogue).expect("a default");
        assert_eq!(first.path(), "app.instances");
        let mut axes = vec![AxisForm::for_target(first)];
        let next = next_plan_axis(&catalogue, &axes).expect("another");
        assert_eq!(
            next.path(),
            "postgres.cores",
            "another component's size first"
        );
        axes.push(AxisForm::for_target(next));
        let next = next_plan_axis(&catalogue, &axes).expect("another");
        assert_eq!(next.path(), "app.cores");
    }

    #[test]
    fn exports_go_next_to_the_scenario() {
        assert_eq!(
            export_path(Some(Path::new("/tmp/x/shop.ron")), Export::Csv),
            PathBuf::from("/tmp/x/shop-sweep.csv")
        );
        assert_eq!(
            export_path(None, Export::Png),
            PathBuf::from("scenario-curve.png")
        );
    }
}
