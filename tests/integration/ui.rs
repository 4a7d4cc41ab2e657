//! The window driven through its controls, as a user would, with egui_kittest: find a
//! control by its label, use it, check what changed. Each harness step is one frame of
//! 1/60 s; the simulation advances in it exactly as in the real window.

use std::path::Path;

use bottleneck::engine::Simulation;
use bottleneck::model::{self, ComponentSpec, ValidScenario};
use bottleneck::report;
use bottleneck::ui::{BottleneckApp, Command, Selection, files, labels};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::util::{bundled, now_secs, repo_path, run_until, ui_harness as harness, valid};

fn default_app() -> BottleneckApp {
    BottleneckApp::new(bundled("three_tier"), None)
}

fn instances(app: &BottleneckApp, id: &str) -> u32 {
    match app
        .scenario()
        .components
        .iter()
        .find(|c| c.id() == id)
        .expect("component")
    {
        ComponentSpec::App(a) => a.instances,
        _ => unreachable!("an app tier"),
    }
}

/// Selects a component as a click on its node would.
fn select(h: &mut Harness<'_, BottleneckApp>, id: &str) {
    h.state_mut()
        .command(Command::Select(Selection::Component(id.to_owned())));
    h.run_steps(2);
}

/// Types `path` into the file dialog and confirms with `confirm`.
fn answer_file_dialog(h: &mut Harness<'_, BottleneckApp>, path: &Path, confirm: &str) {
    // A new window is measured on its first frame and shown on the next.
    h.run_steps(2);
    h.get_by_role_and_label(Role::TextInput, labels::FILE_PATH)
        .set_text_value_accesskit(path.to_str().expect("UTF-8 path"));
    h.run_steps(1);
    h.get_by_label(confirm).click();
    h.run_steps(2);
}

/// A click at a point of the window: press and release, a frame apart.
fn click_at(h: &mut Harness<'_, BottleneckApp>, pos: egui::Pos2) {
    h.hover_at(pos);
    h.run_steps(1);
    h.drag_at(pos);
    h.run_steps(1);
    h.drop_at(pos);
    h.run_steps(1);
}

/// Clicks the palette's button for `kind` (scrolled into view first: it sits below the
/// lesson and the live figures).
fn add_from_palette(h: &mut Harness<'_, BottleneckApp>, kind: &str) {
    click_in_view(h, kind);
}

/// Clicks the button `label` after scrolling it into view (the inspector's fault buttons
/// sit below the parameters, the palette below the live figures).
fn click_in_view(h: &mut Harness<'_, BottleneckApp>, label: &str) {
    h.get_by_role_and_label(Role::Button, label).scroll_to_me();
    // Scrolling is animated: let it settle before clicking.
    h.run_steps(30);
    h.get_by_role_and_label(Role::Button, label).click();
}

fn menu(h: &mut Harness<'_, BottleneckApp>, menu: &str, item: &str) {
    h.get_by_label(menu).click();
    h.run_steps(2);
    h.get_by_label(item).click();
    h.run_steps(1);
}

#[test]
fn play_advances_simulated_time_and_fills_the_throughput_chart() {
    let mut h = harness(default_app());
    h.run_steps(2);
    h.get_by_label(labels::PAUSE).click();
    h.run_steps(2);
    let paused_at = now_secs(&h);
    h.run_steps(30);
    assert_eq!(now_secs(&h), paused_at, "paused: time stands still");

    h.state_mut().command(Command::SetSpeed(100.0));
    h.get_by_label(labels::PLAY).click();
    h.run_steps(120);
    let t = now_secs(&h);
    assert!(
        t > paused_at + 20.0,
        "two wall seconds at 100× move about 200 simulated seconds (capped by the run): {t}"
    );
    let points = h
        .state()
        .simulation()
        .series()
        .column("", "ok_per_sec")
        .expect("throughput series")
        .len();
    assert!(points >= 20, "the throughput chart has {points} points");
    h.get_by_label("Throughput (req/s)");
}

#[test]
fn the_palette_adds_a_component_and_selects_it() {
    let mut h = harness(default_app());
    h.run_steps(2);
    let before = h.state().scenario().components.len();
    add_from_palette(&mut h, "App");
    h.run_steps(2);
    let s = h.state().scenario();
    assert_eq!(s.components.len(), before + 1);
    assert!(s.components.iter().any(|c| c.id() == "app2"));
    h.get_by_label("app2 (App)");
    assert!(h.state().is_dirty());
}

#[test]
fn an_inspector_edit_can_be_undone() {
    let mut app = default_app();
    app.playback_mut().playing = false;
    let mut h = harness(app);
    h.run_steps(2);
    select(&mut h, "app");
    assert_eq!(instances(h.state(), "app"), 4);
    h.get_by_role_and_label(Role::SpinButton, "instances")
        .set_value_accesskit(7.0);
    h.run_steps(3);
    assert_eq!(
        instances(h.state(), "app"),
        7,
        "at t = 0 the edit changes the scenario"
    );
    assert!(h.state().is_dirty());

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(3);
    assert_eq!(instances(h.state(), "app"), 4, "undone");
    assert!(!h.state().is_dirty(), "back to the file's contents");
    h.key_press_modifiers(
        egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
        egui::Key::Z,
    );
    h.run_steps(3);
    assert_eq!(instances(h.state(), "app"), 7, "redone");
}

/// The default app under more load than its 8 cores can serve.
fn overloaded() -> ValidScenario {
    let mut s = bundled("three_tier").into_inner();
    for c in &mut s.components {
        if let ComponentSpec::Client(c) = c {
            c.arrivals = model::Arrivals::Poisson {
                rate_per_sec: 2_300.0,
            };
            c.timeout_ms = None;
        }
    }
    s.run.duration_secs = 80.0;
    s.run.warmup_secs = 0.0;
    valid(s)
}

fn mean_run_queue_after(sim: &Simulation, from: f64) -> f64 {
    let set = sim.series();
    let col = set.column("app", "run_queue").expect("series");
    let v: Vec<f64> = set
        .times
        .iter()
        .zip(col)
        .filter(|(t, _)| **t > from)
        .map(|(_, x)| *x)
        .collect();
    v.iter().sum::<f64>() / v.len() as f64
}

/// Plays the window's simulation at 60× (one simulated second per frame) until `secs`.

#[test]
fn a_live_edit_changes_the_running_simulation_and_replays_from_the_saved_file() {
    let sc = overloaded();
    let mut h = harness(BottleneckApp::new(sc.clone(), None));
    h.run_steps(1);
    h.get_by_label(labels::PAUSE).click();
    h.run_steps(1);
    run_until(&mut h, 30.0);
    let at = now_secs(&h);
    assert!((30.0..31.0).contains(&at), "at {at}");
    select(&mut h, "app");
    h.get_by_role_and_label(Role::SpinButton, "instances")
        .set_value_accesskit(8.0);
    h.run_steps(3);
    let timeline = &h.state().scenario().timeline;
    assert_eq!(timeline.len(), 1, "the change is recorded");
    assert_eq!(
        timeline[0].set,
        vec![("instances".to_owned(), "8".to_owned())]
    );
    assert_eq!(
        instances(h.state(), "app"),
        4,
        "the starting value is unchanged"
    );

    // Run to the end: the queue drains, unlike the same run without the edit.
    run_until(&mut h, 80.0);
    assert!(h.state().simulation().is_finished());
    let mut plain = Simulation::new(&sc);
    plain.run_to_end();
    let (edited, unedited) = (
        mean_run_queue_after(h.state().simulation(), 45.0),
        mean_run_queue_after(&plain, 45.0),
    );
    assert!(
        edited < 0.2 * unedited,
        "CPU queue after the edit {edited:.2}, without it {unedited:.2}"
    );

    // Save, reopen, rerun: the same results.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scaled.ron");
    menu(&mut h, "File", labels::SAVE_AS);
    answer_file_dialog(&mut h, &path, labels::CONFIRM_SAVE);
    assert!(!h.state().is_dirty(), "saved: {}", h.state().status());
    let live_report = report::json(&h.state().simulation().summary());

    let reopened = model::load_file(&path).expect("the saved file loads");
    let mut replay = Simulation::new(&reopened);
    replay.run_to_end();
    assert_eq!(live_report, report::json(&replay.summary()));
}

#[test]
fn save_then_open_gives_the_identical_scenario() {
    let mut h = harness(default_app());
    h.run_steps(2);
    add_from_palette(&mut h, "Cache");
    h.run_steps(2);
    let edited = h.state().scenario().clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("saved.ron");

    menu(&mut h, "File", labels::SAVE_AS);
    answer_file_dialog(&mut h, &path, labels::CONFIRM_SAVE);
    assert_eq!(h.state().document_path(), Some(path.as_path()));
    assert!(!h.state().is_dirty());
    assert!(h.state().prefs.recent.contains(&path));

    // Open something else, then the saved file again.
    let other = repo_path("scenarios/mm1.ron");
    menu(&mut h, "File", labels::OPEN);
    answer_file_dialog(&mut h, &other, labels::CONFIRM_OPEN);
    assert_eq!(h.state().scenario().name, "M/M/1");
    menu(&mut h, "File", labels::OPEN);
    answer_file_dialog(&mut h, &path, labels::CONFIRM_OPEN);
    assert_eq!(h.state().scenario(), &edited);
}

/// What the stand-in system dialog was asked, and what it answers.
static ASKED: std::sync::Mutex<Vec<files::Ask>> = std::sync::Mutex::new(Vec::new());
static ANSWER: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

/// A system dialog stand-in: records the question and answers, after the time a person
/// takes, with [`ANSWER`].
fn dialog_answering(ask: &files::Ask) -> Option<std::path::PathBuf> {
    ASKED.lock().unwrap().push(ask.clone());
    std::thread::sleep(files::NO_DIALOG_WITHIN * 2);
    ANSWER.lock().unwrap().clone()
}

/// Frames until the dialog's thread has answered and the window acted on it.
fn until_answered(h: &mut Harness<'_, BottleneckApp>) {
    for _ in 0..500 {
        h.run_steps(1);
        if h.state().status() != labels::CHOOSING {
            h.run_steps(2);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("the file dialog never answered");
}

/// Open and Save as use the system's dialog (on a thread of its own: the window goes on
/// drawing); where no dialog appears, the path field opens and says why.
#[test]
fn open_and_save_as_use_the_system_dialog_and_fall_back_to_typing() {
    let mut h = harness(default_app());
    h.state_mut()
        .set_picker(files::Picker::Dialog(dialog_answering));
    h.run_steps(2);
    let dir = tempfile::tempdir().expect("temp dir");
    let saved = dir.path().join("mine.ron");

    *ANSWER.lock().unwrap() = Some(saved.clone());
    menu(&mut h, "File", labels::SAVE_AS);
    assert_eq!(h.state().status(), labels::CHOOSING);
    // While the dialog is up, the window keeps answering: its frames go on.
    h.run_steps(3);
    until_answered(&mut h);
    assert_eq!(h.state().document_path(), Some(saved.as_path()));
    assert!(saved.exists(), "{}", h.state().status());
    let ask = ASKED.lock().unwrap().pop().expect("the dialog was asked");
    assert!(ask.save);
    assert_eq!(ask.filter, ("scenario", "ron"));
    assert_eq!(ask.file_name.as_deref(), Some("scenario.ron"));

    *ANSWER.lock().unwrap() = Some(repo_path("scenarios/mm1.ron"));
    menu(&mut h, "File", labels::OPEN);
    until_answered(&mut h);
    assert_eq!(h.state().scenario().name, "M/M/1");
    let ask = ASKED.lock().unwrap().pop().expect("the dialog was asked");
    assert!(!ask.save);
    assert_eq!(
        ask.directory.as_deref(),
        Some(dir.path()),
        "starts by the open file"
    );

    // No dialog on this machine: it answers "nothing" at once.
    h.state_mut().set_picker(files::Picker::Dialog(|_| None));
    menu(&mut h, "File", labels::OPEN);
    until_answered(&mut h);
    assert!(
        h.state().status().contains("No system file dialog"),
        "{}",
        h.state().status()
    );
    answer_file_dialog(&mut h, &saved, labels::CONFIRM_OPEN);
    assert_eq!(h.state().document_path(), Some(saved.as_path()));
}

#[test]
fn a_broken_file_shows_its_error_and_keeps_the_current_scenario() {
    let mut h = harness(default_app());
    h.run_steps(2);
    let before = h.state().scenario().clone();
    menu(&mut h, "File", labels::OPEN);
    answer_file_dialog(
        &mut h,
        &repo_path("tests/broken/negative_rate.ron"),
        labels::CONFIRM_OPEN,
    );
    let message = h
        .state()
        .error_message()
        .expect("an error is shown")
        .to_owned();
    assert!(message.contains("rate_per_sec"), "{message}");
    assert!(message.contains("negative"), "{message}");
    h.run_steps(1);
    h.get_by_label(labels::CLOSE).click();
    h.run_steps(2);
    assert!(h.state().error_message().is_none());
    assert_eq!(h.state().scenario(), &before);

    // A syntax error names its line and column.
    menu(&mut h, "File", labels::OPEN);
    answer_file_dialog(
        &mut h,
        &repo_path("tests/broken/syntax_missing_comma.ron"),
        labels::CONFIRM_OPEN,
    );
    let message = h.state().error_message().expect("an error is shown");
    assert!(message.starts_with("line 4, column 5"), "{message}");
    assert_eq!(h.state().scenario(), &before);
}

#[test]
fn unsaved_changes_are_not_discarded_without_asking() {
    let mut h = harness(default_app());
    h.run_steps(2);
    add_from_palette(&mut h, "Database");
    h.run_steps(2);
    let edited = h.state().scenario().clone();
    menu(&mut h, "File", labels::NEW);
    h.run_steps(2);
    h.get_by_label("Unsaved changes");
    h.get_by_label(labels::CANCEL).click();
    h.run_steps(2);
    assert_eq!(h.state().scenario(), &edited, "cancel keeps the work");
    // Closing the window asks too.
    h.state_mut().command(Command::Quit);
    h.run_steps(3);
    h.get_by_label("Unsaved changes");
    h.get_by_label(labels::CANCEL).click();
    h.run_steps(2);
    assert_eq!(h.state().scenario(), &edited);

    menu(&mut h, "File", labels::NEW);
    h.run_steps(2);
    h.get_by_label(labels::DISCARD).click();
    h.run_steps(2);
    assert_eq!(h.state().scenario().name, "New scenario");
}

#[test]
fn nodes_select_connect_by_dragging_and_delete_with_the_keyboard() {
    let mut app = default_app();
    app.playback_mut().playing = false;
    let mut h = harness(app);
    h.run_steps(2);
    add_from_palette(&mut h, "App");
    h.run_steps(3);
    // The canvas is panned and zoomed: nodes are found by where the app draws them.
    let node = |h: &Harness<'_, BottleneckApp>, id: &str| {
        h.state().node_on_screen(id).expect("a node on the canvas")
    };
    let postgres = node(&h, "postgres").0;
    click_at(&mut h, postgres);
    h.run_steps(2);
    h.get_by_label("postgres (Database)");

    // Drag from the new tier's port onto the database.
    let from = node(&h, "app2").1;
    let to = node(&h, "postgres").0;
    h.drag_at(from);
    h.run_steps(1);
    for k in 1..=5 {
        h.hover_at(from + (to - from) * (k as f32 / 5.0));
        h.run_steps(1);
    }
    h.drop_at(to);
    h.run_steps(2);
    let pools = match h
        .state()
        .scenario()
        .components
        .iter()
        .find(|c| c.id() == "app2")
        .expect("app2")
    {
        ComponentSpec::App(a) => a.pools.iter().map(|p| p.db.clone()).collect::<Vec<_>>(),
        _ => unreachable!(),
    };
    assert_eq!(pools, vec!["postgres"], "{}", h.state().status());

    let app2 = node(&h, "app2").0;
    click_at(&mut h, app2);
    h.run_steps(2);
    h.key_press(egui::Key::Delete);
    h.run_steps(2);
    assert!(
        !h.state()
            .scenario()
            .components
            .iter()
            .any(|c| c.id() == "app2"),
        "deleted"
    );
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert!(
        h.state()
            .scenario()
            .components
            .iter()
            .any(|c| c.id() == "app2"),
        "undone"
    );
}

/// Every character in the text the window draws exists in its fonts: a missing glyph
/// shows as a box (and makes egui_kittest fail where it is drawn). The texts are the
/// string literals of the sources the window takes its words from.
#[test]
fn every_character_the_window_draws_is_in_its_fonts() {
    let sources = [
        include_str!("../../src/model/params.rs"),
        include_str!("../../src/engine/measure.rs"),
        include_str!("../../src/metrics/mod.rs"),
        include_str!("../../src/ui/app.rs"),
        include_str!("../../src/ui/canvas.rs"),
        include_str!("../../src/ui/charts/mod.rs"),
        include_str!("../../src/ui/charts/model.rs"),
        include_str!("../../src/ui/inspector.rs"),
        include_str!("../../src/ui/experiments/mod.rs"),
        include_str!("../../src/ui/experiments/curve.rs"),
        include_str!("../../src/ui/experiments/forms.rs"),
        include_str!("../../src/ui/experiments/picture.rs"),
        include_str!("../../src/ui/experiments/results.rs"),
        include_str!("../../src/ui/experiments/setup.rs"),
        include_str!("../../src/ui/advisor.rs"),
        include_str!("../../src/advisor/mod.rs"),
        include_str!("../../src/advisor/diagnosis.rs"),
        include_str!("../../src/advisor/failures.rs"),
        include_str!("../../src/advisor/levers.rs"),
        include_str!("../../src/advisor/prediction.rs"),
        include_str!("../../src/theory.rs"),
        include_str!("../../src/report.rs"),
    ];
    let ctx = egui::Context::default();
    bottleneck::ui::install_fonts(&ctx);
    let mut output = ctx.run_ui(egui::RawInput::default(), |_| {});
    output.textures_delta.clear();
    let mut missing = Vec::new();
    // The lessons' own words: names and descriptions, shown in the scenario panel.
    for name in crate::util::bundled_names() {
        let s = bundled(&name);
        for c in s
            .name
            .chars()
            .chain(s.description.chars())
            .filter(|c| !c.is_ascii())
        {
            let font = egui::FontId::proportional(14.0);
            if !ctx.fonts_mut(|f| f.has_glyph(&font, c)) && !missing.contains(&c) {
                missing.push(c);
            }
        }
    }
    for source in sources {
        for line in source.lines() {
            let code = line.split("//").next().unwrap_or("");
            // The parts between double quotes: string literals.
            for (k, text) in code.split('"').enumerate() {
                if k % 2 == 1 {
                    for c in text.chars().filter(|c| !c.is_ascii()) {
                        let font = egui::FontId::proportional(14.0);
                        if !ctx.fonts_mut(|f| f.has_glyph(&font, c)) && !missing.contains(&c) {
                            missing.push(c);
                        }
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "characters without a glyph: {missing:?}"
    );
}

#[test]
fn a_fault_button_breaks_the_running_system_and_is_recorded() {
    let mut h = harness(default_app());
    h.run_steps(2);
    select(&mut h, "app");
    // Disabled until the run has started; one frame of play starts it.
    h.run_steps(2);
    click_in_view(&mut h, "Kill an instance");
    h.run_steps(3);
    let faults = &h.state().scenario().faults;
    assert_eq!(faults.len(), 1, "{}", h.state().status());
    assert_eq!(
        faults[0].fault,
        bottleneck::model::Fault::KillInstances {
            tier: "app".into(),
            count: 1
        }
    );
    assert!(
        h.state().status().contains("kill 1 instance"),
        "{}",
        h.state().status()
    );
    h.get_by_label("Faults (1)");
}

#[test]
fn a_partition_button_is_offered_for_each_dependency_of_a_tier() {
    let mut h = harness(default_app());
    h.run_steps(2);
    select(&mut h, "app");
    h.run_steps(2);
    // The default app tier uses the shared cache and the database.
    h.get_by_label("Partition from postgres");
    h.get_by_label("Drop packets to postgres");
    h.get_by_label("Drop packets to redis");
    click_in_view(&mut h, "Partition from redis");
    h.run_steps(3);
    let faults = &h.state().scenario().faults;
    assert_eq!(faults.len(), 1, "{}", h.state().status());
    assert_eq!(
        faults[0].fault,
        bottleneck::model::Fault::Partition {
            from: "app".into(),
            to: "redis".into(),
            duration_secs: 30.0,
            mode: bottleneck::model::PartitionMode::Reset,
        }
    );
}

#[test]
fn every_component_kind_can_be_added_from_the_palette_and_inspected() {
    let mut app = default_app();
    app.playback_mut().playing = false;
    let mut h = harness(app);
    h.run_steps(2);
    for kind in bottleneck::model::Kind::ALL {
        let before = h.state().scenario().components.len();
        add_from_palette(&mut h, kind.name());
        h.run_steps(2);
        let s = h.state().scenario();
        assert_eq!(
            s.components.len(),
            before + 1,
            "{kind}: {}",
            h.state().status()
        );
        let added = s.components.last().expect("added");
        assert_eq!(added.kind(), kind);
        // It is selected and the inspector shows it, with its parameters.
        let heading = format!("{} ({kind})", added.id());
        h.get_by_label(&heading);
    }
}

#[test]
fn the_slow_query_view_ranks_queries_by_total_time() {
    let mut s = bundled("three_tier").into_inner();
    s.run.warmup_secs = 0.0;
    let mut h = harness(BottleneckApp::new(valid(s), None));
    h.state_mut().command(Command::SetSpeed(100.0));
    h.run_steps(30);
    h.get_by_label(labels::TOP_QUERIES);
    // The query with the most database time is listed first, by its name.
    let summary = h.state().simulation().summary();
    let top = &summary.queries[0];
    assert!(
        summary
            .queries
            .windows(2)
            .all(|w| w[0].total_secs >= w[1].total_secs)
    );
    h.get_by_label(&format!("{}.{}", top.db, top.query));
}
