//! The Experiments panel driven through its controls (egui_kittest): a sweep runs in a
//! background thread while the window goes on, its points fill the table and the curve,
//! a point's setting is applied and undone, Cancel stops it, and an objective edited in
//! the panel is saved in the file.
//!
//! Waits loop over frames with a bound, sleeping a few milliseconds between them: the
//! experiment's thread works in wall-clock time, the harness's frames do not.

use std::path::Path;
use std::time::{Duration, Instant};

use bottleneck::model::{self, Arrivals, ComponentSpec, Objective, Scenario};
use bottleneck::ui::experiments::{APPLY, Stage, labels as exp};
use bottleneck::ui::{BottleneckApp, Command, labels};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::util::{bundled, ui_harness as harness, valid};

/// The most wall time a wait may take: generous, since the tests share two cores.
const PATIENCE: Duration = Duration::from_secs(180);

/// The bundled three-tier app with runs of `duration_secs`.
fn three_tier(duration_secs: f64) -> Scenario {
    let mut s = bundled("three_tier").into_inner();
    s.run.duration_secs = duration_secs;
    s.run.warmup_secs = 2.0;
    s
}

fn users_rate(s: &Scenario) -> f64 {
    s.components
        .iter()
        .find_map(|c| match c {
            ComponentSpec::Client(c) if c.id == "users" => match c.arrivals {
                Arrivals::Poisson { rate_per_sec } => Some(rate_per_sec),
                _ => None,
            },
            _ => None,
        })
        .expect("the users send Poisson arrivals")
}

fn now_secs(h: &Harness<'_, BottleneckApp>) -> f64 {
    h.state().simulation().now().as_secs_f64()
}

/// Opens the panel with the toolbar's button.
fn open_panel(h: &mut Harness<'_, BottleneckApp>) {
    h.get_by_role_and_label(Role::Button, labels::EXPERIMENTS)
        .click();
    // A new window is measured on its first frame and shown on the next.
    h.run_steps(3);
    assert!(h.state().prefs.show_experiments);
    h.get_by_role_and_label(Role::Button, exp::START);
}

fn set_number(h: &mut Harness<'_, BottleneckApp>, label: &str, value: f64) {
    h.get_by_role_and_label(Role::SpinButton, label)
        .set_value_accesskit(value);
    h.run_steps(2);
}

/// Sets the load axis to `from..to` in `steps`, `replications` a point, no capacity
/// search.
fn set_up(h: &mut Harness<'_, BottleneckApp>, from: f64, to: f64, steps: u32, reps: u32) {
    set_number(h, exp::FROM, from);
    set_number(h, exp::TO, to);
    set_number(h, exp::STEPS, f64::from(steps));
    set_number(h, exp::REPLICATIONS, f64::from(reps));
    h.get_by_role_and_label(Role::CheckBox, exp::SEARCH_CAPACITY)
        .click();
    h.run_steps(2);
    h.get_by_label_contains(&format!("--vary load={from}..{to}:{steps}"));
}

fn start(h: &mut Harness<'_, BottleneckApp>) {
    h.get_by_role_and_label(Role::Button, exp::START).click();
    h.run_steps(1);
    assert!(
        h.state().experiments().is_busy(),
        "Start starts an experiment"
    );
}

/// Steps frames until the panel's experiment has ended; returns the frames stepped.
fn wait_until_done(h: &mut Harness<'_, BottleneckApp>) -> usize {
    let start = Instant::now();
    let mut frames = 0;
    while h.state().experiments().is_busy() {
        assert!(start.elapsed() < PATIENCE, "the experiment never ended");
        h.run_steps(1);
        frames += 1;
        std::thread::sleep(Duration::from_millis(3));
    }
    h.run_steps(1);
    frames
}

#[test]
fn a_sweep_runs_in_the_background_fills_the_curve_and_a_point_applies_and_undoes() {
    let mut h = harness(BottleneckApp::new(valid(three_tier(20.0)), None));
    h.run_steps(2);
    open_panel(&mut h);
    set_up(&mut h, 0.5, 2.0, 4, 2);
    let planned = 4;
    start(&mut h);

    // The window goes on while the experiment works: frames are drawn and the
    // simulation in the window advances.
    let (t0, mut frames_while_busy) = (now_secs(&h), 0);
    let mut t_busy = t0;
    let begun = Instant::now();
    while h.state().experiments().is_busy() {
        assert!(begun.elapsed() < PATIENCE, "the experiment never ended");
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(3));
        if h.state().experiments().is_busy() {
            frames_while_busy += 1;
            t_busy = now_secs(&h);
        }
    }
    h.run_steps(2);
    assert!(
        frames_while_busy >= 3,
        "only {frames_while_busy} frames while the experiment worked"
    );
    assert!(
        t_busy > t0,
        "the window's simulation advanced while the experiment worked ({t0} → {t_busy})"
    );

    let results = h.state().experiments().results().expect("results");
    assert_eq!(results.stage, Stage::Finished, "{:?}", results.stage);
    assert_eq!(results.points.len(), planned);
    for p in &results.points {
        let p99 = p
            .replicated
            .get("overall.latency_ms.p99")
            .expect("a p99 at every point");
        assert_eq!(p99.n, 2);
        assert!(p99.mean > 0.0);
    }
    // The table has a row per point: its load and its Apply button.
    assert_eq!(
        h.query_all_by_role_and_label(Role::Button, APPLY).count(),
        planned
    );
    for load in ["0.5×", "1×", "1.5×", "2×"] {
        h.get_by_label(load);
    }
    h.get_by_label_contains("Finished in");

    // Apply the 2× point: the users' load doubles, in one undoable edit.
    let before = users_rate(h.state().scenario());
    h.get_all_by_role_and_label(Role::Button, APPLY)
        .nth(3)
        .expect("the fourth point's Apply")
        .click();
    h.run_steps(2);
    assert_eq!(users_rate(h.state().scenario()), 2.0 * before);
    assert!(h.state().is_dirty());
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(users_rate(h.state().scenario()), before, "undone");
    assert!(!h.state().is_dirty());

    // The results as CSV, through the file dialog.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sweep.csv");
    h.get_by_role_and_label(Role::Button, exp::EXPORT_CSV)
        .click();
    h.run_steps(2);
    answer_file_dialog(&mut h, &path, labels::CONFIRM_SAVE);
    let csv = std::fs::read_to_string(&path).expect("the CSV is written");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("load,figure,mean,half_width,replications")
    );
    let p99_rows = lines
        .filter(|l| l.contains(",overall.latency_ms.p99,"))
        .count();
    assert_eq!(p99_rows, planned, "{csv}");
}

/// Types `path` into the file dialog and confirms with `confirm`.
fn answer_file_dialog(h: &mut Harness<'_, BottleneckApp>, path: &Path, confirm: &str) {
    h.run_steps(2);
    h.get_by_role_and_label(Role::TextInput, labels::FILE_PATH)
        .set_text_value_accesskit(path.to_str().expect("UTF-8 path"));
    h.run_steps(1);
    h.get_by_label(confirm).click();
    h.run_steps(2);
}

/// A scenario whose replications take long: an hour of simulated time each.
fn long_app() -> BottleneckApp {
    BottleneckApp::new(valid(three_tier(3_600.0)), None)
}

/// Starts a long experiment and waits until its thread has planned its replications.
fn start_long(h: &mut Harness<'_, BottleneckApp>) {
    start(h);
    let begun = Instant::now();
    while h.state().experiments().progress().is_none_or(|p| p.1 == 0) {
        assert!(begun.elapsed() < PATIENCE, "nothing planned");
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(3));
    }
}

#[test]
fn cancel_stops_a_running_experiment_and_so_do_closing_the_panel_and_opening_another() {
    let mut h = harness(long_app());
    h.run_steps(2);
    open_panel(&mut h);
    set_up(&mut h, 1.0, 3.0, 3, 2);
    start_long(&mut h);
    h.get_by_role_and_label(Role::Button, exp::CANCEL).click();
    let frames = wait_until_done(&mut h);
    let r = h.state().experiments().results().expect("results");
    assert_eq!(r.stage, Stage::Cancelled);
    assert!(
        r.points.len() < 3,
        "cancelled before the end: {} points",
        r.points.len()
    );
    h.get_by_label_contains("Cancelled after");
    assert!(frames > 0);

    // Closing the panel cancels too.
    start_long(&mut h);
    h.get_by_role_and_label(Role::Button, labels::EXPERIMENTS)
        .click();
    h.run_steps(1);
    assert!(!h.state().prefs.show_experiments);
    wait_until_done(&mut h);
    let r = h.state().experiments().results().expect("results");
    assert_eq!(r.stage, Stage::Cancelled);

    // So does opening another scenario, whose results it would not be.
    open_panel(&mut h);
    start_long(&mut h);
    h.state_mut().command(Command::New);
    h.run_steps(2);
    assert!(h.state().experiments().results().is_none());
    wait_until_done(&mut h);
    assert_eq!(h.state().scenario().name, "New scenario");
}

#[test]
fn an_objective_edited_in_the_panel_is_saved_in_the_file_and_can_be_undone() {
    let mut h = harness(BottleneckApp::new(bundled("three_tier"), None));
    h.run_steps(2);
    open_panel(&mut h);
    let slos_before = h.state().scenario().slos.clone();
    assert_eq!(slos_before.len(), 3);

    // The first objective: p99 of all requests below 200 ms, made 150 ms.
    h.get_all_by_role_and_label(Role::SpinButton, exp::BELOW)
        .next()
        .expect("the first objective's bound")
        .set_value_accesskit(150.0);
    h.run_steps(3);
    assert_eq!(
        h.state().scenario().slos[0].objective,
        Objective::Latency {
            percentile: model::Percentile::P99,
            below_ms: 150.0
        }
    );
    h.get_by_role_and_label(Role::Button, exp::ADD_OBJECTIVE)
        .click();
    h.run_steps(3);
    assert_eq!(h.state().scenario().slos.len(), 4);
    assert!(h.state().is_dirty());
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(
        h.state().scenario().slos.len(),
        3,
        "the added one is undone"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("objectives.ron");
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label(labels::SAVE_AS).click();
    h.run_steps(1);
    answer_file_dialog(&mut h, &path, labels::CONFIRM_SAVE);
    assert!(!h.state().is_dirty(), "saved: {}", h.state().status());
    let saved = model::load_file(&path).expect("the saved file loads");
    assert_eq!(saved.slos, h.state().scenario().slos);
    assert_ne!(saved.slos, slos_before);
    assert!(
        matches!(saved.slos[0].objective, Objective::Latency { below_ms, .. } if below_ms == 150.0)
    );
}

#[test]
fn an_invalid_axis_says_why_next_to_it_and_starts_nothing() {
    let mut app = BottleneckApp::new(valid(three_tier(10.0)), None);
    app.playback_mut().playing = false;
    let mut h = harness(app);
    h.run_steps(2);
    open_panel(&mut h);

    // A load factor of zero: the axis's own words, and Start is disabled.
    h.get_by_role_and_label(Role::RadioButton, "list").click();
    h.run_steps(2);
    h.get_by_role_and_label(Role::TextInput, exp::VALUES)
        .set_text_value_accesskit("0, 1");
    h.run_steps(2);
    h.get_by_label("load factor `0` is not a number above 0");
    h.get_by_role_and_label(Role::Button, exp::START).click();
    h.run_steps(2);
    assert!(!h.state().experiments().is_busy());

    // A parameter from the model's descriptions, with a value the scenario refuses.
    h.get_by_role_and_label(Role::ComboBox, exp::VARY).click();
    h.run_steps(2);
    h.get_by_label("app").click();
    h.run_steps(2);
    h.get_by_label_contains("--vary app.instances=");
    h.get_by_role_and_label(Role::RadioButton, "list").click();
    h.run_steps(2);
    h.get_by_role_and_label(Role::TextInput, exp::VALUES)
        .set_text_value_accesskit("0, 4");
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, exp::START).click();
    h.run_steps(2);
    assert!(!h.state().experiments().is_busy());
    h.get_by_label_contains("app.instances=0: ");
}

fn app_instances(s: &Scenario) -> u32 {
    s.components
        .iter()
        .find_map(|c| match c {
            ComponentSpec::App(a) if a.id == "app" => Some(a.instances),
            _ => None,
        })
        .expect("an app tier")
}

/// Switches the panel to the search for the cheapest configuration and gives its one
/// axis (the app tier's instances, chosen for it) the values `list`.
fn plan_mode_with(h: &mut Harness<'_, BottleneckApp>, list: &str) {
    h.get_by_label(exp::CHEAPEST).click();
    h.run_steps(2);
    assert_eq!(
        h.state().experiments().mode(),
        bottleneck::ui::experiments::Mode::Cheapest
    );
    // No load among what a plan varies.
    h.get_by_role_and_label(Role::ComboBox, exp::VARY).click();
    h.run_steps(2);
    assert!(h.query_by_label("load (all clients)").is_none());
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    h.get_by_label_contains("--vary app.instances=");
    h.get_by_role_and_label(Role::RadioButton, "list").click();
    h.run_steps(2);
    h.get_by_role_and_label(Role::TextInput, exp::VALUES)
        .set_text_value_accesskit(list);
    h.run_steps(2);
}

#[test]
fn the_cheapest_configuration_is_found_in_the_background_named_applied_and_undone() {
    let mut h = harness(BottleneckApp::new(valid(three_tier(20.0)), None));
    h.run_steps(2);
    open_panel(&mut h);
    plan_mode_with(&mut h, "2, 4, 8");
    h.get_by_label_contains("--vary app.instances=2,4,8");
    set_number(&mut h, exp::PLAN_REPLICATIONS, 3.0);
    set_number(&mut h, exp::MAX_REPLICATIONS, 10.0);
    set_number(&mut h, exp::PLAN_LOAD, 3.0);
    // The load planned for, in requests per second (three-tier sends 800 req/s).
    h.get_by_label("= 2400 req/s");
    start(&mut h);

    // Frames go on while the search works, and the simulation in the window advances.
    let (t0, mut frames_while_busy) = (now_secs(&h), 0);
    let mut t_busy = t0;
    let begun = Instant::now();
    while h.state().experiments().is_busy() {
        assert!(begun.elapsed() < PATIENCE, "the search never ended");
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(3));
        if h.state().experiments().is_busy() {
            frames_while_busy += 1;
            t_busy = now_secs(&h);
        }
    }
    h.run_steps(2);
    assert!(
        frames_while_busy >= 3,
        "only {frames_while_busy} frames while the search worked"
    );
    assert!(
        t_busy > t0,
        "the window's simulation advanced ({t0} → {t_busy})"
    );

    let r = h.state().experiments().cheapest().expect("results");
    assert_eq!(r.stage, Stage::Finished, "{:?}", r.stage);
    assert_eq!(r.search.load, 3.0);
    assert_eq!(r.search.replications, 3);
    assert_eq!(r.search.max_replications, 10);
    let winner = r.plan.winner().expect("a winner").clone();
    assert_eq!(
        winner.at,
        vec![("app.instances".to_owned(), "8".to_owned())]
    );
    // Two instances take 2400 req/s on 4 cores: that one fails with confidence.
    assert_eq!(
        r.plan.candidates[0].status,
        bottleneck::experiment::plan::Status::Breached
    );
    let runs = r.plan.runs();

    // The winner in words, its price, and in the table.
    h.get_by_label_contains(&format!(
        "Cheapest meeting the objectives: app.instances=8 at ${:.2}/h — p99 ",
        winner.price_per_hour
    ));
    h.get_by_label("met: cheapest");
    h.get_by_label(&format!("${:.2}/h", winner.price_per_hour));
    assert_eq!(
        h.query_all_by_role_and_label(Role::Button, APPLY).count(),
        runs,
        "an Apply on each configuration run"
    );
    h.get_by_label_contains("Finished in");

    // Apply the winner: the app tier gets 8 instances in one undoable edit; the load
    // planned for is not applied.
    let rate = users_rate(h.state().scenario());
    assert_eq!(app_instances(h.state().scenario()), 4);
    h.get_by_role_and_label(Role::Button, exp::APPLY_CHEAPEST)
        .click();
    h.run_steps(2);
    assert_eq!(app_instances(h.state().scenario()), 8);
    assert_eq!(users_rate(h.state().scenario()), rate);
    assert!(h.state().is_dirty());
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(app_instances(h.state().scenario()), 4, "undone");
    assert!(!h.state().is_dirty());

    // A row's Apply: the cheapest configuration run (two instances).
    h.get_all_by_role_and_label(Role::Button, APPLY)
        .next()
        .expect("the first row's Apply")
        .click();
    h.run_steps(2);
    assert_eq!(app_instances(h.state().scenario()), 2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(app_instances(h.state().scenario()), 4);

    // The configurations as CSV (`report::plan_csv`), through the file dialog.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("plan.csv");
    h.get_by_role_and_label(Role::Button, exp::EXPORT_CSV)
        .click();
    h.run_steps(2);
    answer_file_dialog(&mut h, &path, labels::CONFIRM_SAVE);
    let csv = std::fs::read_to_string(&path).expect("the CSV is written");
    let plan = &h.state().experiments().cheapest().expect("results").plan;
    assert_eq!(csv, bottleneck::report::plan_csv(plan));
    assert!(
        csv.starts_with("app.instances,price_per_hour,status,p99_ms,"),
        "{csv}"
    );
    assert!(csv.contains("\n8,") && csv.contains(",met,"), "{csv}");
}

#[test]
fn an_invalid_plan_says_why_next_to_its_values_and_starts_nothing() {
    let mut app = BottleneckApp::new(valid(three_tier(10.0)), None);
    app.playback_mut().playing = false;
    let mut h = harness(app);
    h.run_steps(2);
    open_panel(&mut h);
    plan_mode_with(&mut h, "8, 4, 2");
    h.get_by_label("app.instances: plan needs numbers in increasing order of capacity, not 8,4,2");
    h.get_by_role_and_label(Role::Button, exp::START).click();
    h.run_steps(2);
    assert!(!h.state().experiments().is_busy());
    assert!(h.state().experiments().cheapest().is_none());

    // In order, but a value the scenario refuses: said next to the values at Start.
    h.get_by_role_and_label(Role::TextInput, exp::VALUES)
        .set_text_value_accesskit("0, 4");
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, exp::START).click();
    h.run_steps(2);
    assert!(!h.state().experiments().is_busy());
    h.get_by_label_contains("app.instances=0: ");

    // Without objectives there is nothing to meet: Start is refused, with why.
    h.state_mut().command(Command::EditSlos(Vec::new()));
    h.get_by_role_and_label(Role::TextInput, exp::VALUES)
        .set_text_value_accesskit("2, 4");
    h.run_steps(3);
    h.get_by_label_contains("the cheapest that meets the objectives");
    h.get_by_role_and_label(Role::Button, exp::START).click();
    h.run_steps(2);
    assert!(!h.state().experiments().is_busy());
}
