//! Lessons you can find and follow: the Lessons menu opens a bundled scenario by topic,
//! and its checklist's steps apply their change with one click and undo it.

use bottleneck::model::ComponentSpec;
use bottleneck::ui::{BottleneckApp, Command, labels};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::util::{bundled, ui_harness as harness};

fn instances(s: &bottleneck::model::Scenario, id: &str) -> u32 {
    s.components
        .iter()
        .find_map(|c| match c {
            ComponentSpec::App(a) if a.id == id => Some(a.instances),
            _ => None,
        })
        .expect("an app tier")
}

fn run_for(h: &mut Harness<'_, BottleneckApp>, frames: usize) {
    h.state_mut().command(Command::SetSpeed(10.0));
    h.state_mut().playback_mut().playing = true;
    h.run_steps(frames);
}

#[test]
fn a_lesson_opens_from_the_menu_and_its_step_applies_and_undoes() {
    let mut h = harness(BottleneckApp::new(bundled("three_tier"), None));
    h.run_steps(2);
    h.get_by_label(labels::LESSONS).click();
    h.run_steps(2);
    // Grouped by topic, each topic a submenu, so the menu fits a 1280×800 window.
    for entry in bottleneck::ui::lessons::catalogue() {
        let topic = h.get_by_role_and_label(Role::Button, &entry.topic).rect();
        assert!(topic.bottom() <= 800.0, "{} at {topic:?}", entry.topic);
    }
    // Grouped by topic: the compute-bound lesson sits in its topic's submenu.
    h.get_by_label("Compute and concurrency").click();
    h.run_steps(2);
    h.get_by_label("Compute-bound: app CPU saturated").click();
    h.run_steps(2);
    assert_eq!(
        h.state().scenario().name,
        "Compute-bound: app CPU saturated"
    );
    h.get_by_label_contains("Watch: The app CPU at about 85%");

    run_for(&mut h, 30);
    assert!(h.state().simulation().now().as_secs_f64() > 1.0, "running");
    let before = instances(h.state().simulation().current(), "app");
    assert_eq!(before, 4);
    h.get_by_label(&labels::try_step(0)).click();
    h.run_steps(3);
    // Applied to the running system, recorded, and said.
    assert_eq!(instances(h.state().simulation().current(), "app"), 8);
    assert!(
        h.state()
            .status()
            .starts_with("Applied: Double the app instances"),
        "{}",
        h.state().status()
    );

    h.state_mut().command(Command::Undo);
    h.run_steps(3);
    assert_eq!(
        instances(h.state().simulation().current(), "app"),
        4,
        "undone"
    );
}

#[test]
fn a_step_that_needs_a_restart_edits_the_document_and_undoes() {
    let mut h = harness(BottleneckApp::new(bundled("microservices"), None));
    run_for(&mut h, 10);
    let timeout = |h: &Harness<'_, BottleneckApp>| {
        match &h.state().scenario().endpoints["GET /product"].steps[1] {
            bottleneck::model::Step::Call { timeout_ms, .. } => *timeout_ms,
            other => panic!("a call, not {other:?}"),
        }
    };
    assert_eq!(timeout(&h), None);
    h.get_by_label(&labels::try_step(0)).click();
    h.run_steps(3);
    assert_eq!(timeout(&h), Some(200.0));
    assert!(
        h.state().status().contains("takes effect on restart"),
        "{}",
        h.state().status()
    );
    h.state_mut().command(Command::Undo);
    h.run_steps(3);
    assert_eq!(timeout(&h), None, "undone");
}

/// All lessons… opens a window of every bundled lesson by topic, each with what to watch
/// and its checklist; a click on a title opens that lesson and closes the window.
#[test]
fn the_lessons_window_lists_every_lesson_with_its_checklist_and_opens_one() {
    let mut h = harness(BottleneckApp::new(bundled("three_tier"), None));
    h.run_steps(2);
    h.get_by_label(labels::LESSONS).click();
    h.run_steps(2);
    h.get_by_label(labels::ALL_LESSONS).click();
    h.run_steps(3);
    h.get_by_label(labels::LESSONS_WINDOW);
    let sharding = bottleneck::ui::lessons::scenario("sharding").expect("bundled");
    let lesson = sharding.lesson.as_ref().expect("a lesson");
    for entry in bottleneck::ui::lessons::catalogue() {
        assert!(
            h.query_all_by_label(&entry.title).next().is_some(),
            "{} is listed",
            entry.title
        );
    }
    h.get_by_label(&format!("Watch: {}", lesson.watch));
    h.get_by_label(&format!("1. {}", lesson.steps[0].say));

    // Below the fold at 1280×800: scrolled to, as a user would (scrolling is animated).
    h.get_by_role_and_label(Role::Button, &sharding.name)
        .scroll_to_me();
    h.run_steps(30);
    h.get_by_role_and_label(Role::Button, &sharding.name)
        .click();
    h.run_steps(3);
    assert_eq!(h.state().scenario().name, sharding.name);
    assert!(h.query_by_label(labels::LESSONS_WINDOW).is_none(), "closed");
}
