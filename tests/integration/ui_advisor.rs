//! The Advisor panel driven through its controls (egui_kittest): it names what runs out
//! first while the run goes on, and its Apply button makes a lever's change in the
//! running system, recorded, and undone with Ctrl+Z (a lever on an endpoint's step
//! edits the document for the next restart). A failure at its root comes before what
//! runs out. A node's hover shows its stations' waits beside queueing theory.

use bottleneck::model::{ComponentSpec, Scenario};
use bottleneck::report;
use bottleneck::ui::advisor::{self as panel, labels as advisor};
use bottleneck::ui::{BottleneckApp, Command};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable as _;

use crate::util::{bundled, ui_harness as harness, valid};

fn indexed(s: &Scenario) -> bool {
    s.components
        .iter()
        .find_map(|c| match c {
            ComponentSpec::Database(d) if d.id == "shop_db" => {
                Some(d.queries["search_products"].indexed)
            }
            _ => None,
        })
        .expect("shop_db.search_products")
}

#[test]
fn a_lever_applied_from_the_advisor_changes_the_running_system_and_undoes() {
    let mut s = bundled("missing_index").into_inner();
    s.run.warmup_secs = 2.0;
    s.run.duration_secs = 300.0;
    let mut h = harness(BottleneckApp::new(valid(s), None));
    h.get_by_role_and_label(Role::Button, advisor::ADVISOR)
        .click();
    h.run_steps(3);
    assert!(h.state().prefs.show_advisor);

    // Run at 60× until the panel has judged a few seconds of load.
    h.state_mut().command(Command::SetSpeed(60.0));
    while h.state().simulation().now().as_secs_f64() < 12.0 {
        h.run_steps(1);
    }
    h.state_mut().playback_mut().playing = false;
    h.run_steps(2);
    let advice = h.state().advisor().advice().expect("advice").clone();
    assert_eq!(advice.headroom[0].resource, "shop_db cpu");
    assert_eq!(
        advice.levers[0].changes,
        [r#"shop_db.queries["search_products"].indexed=true"#]
    );
    h.get_by_label("What runs out first");
    // The diagnosis, in the words of the command line's report.
    let words = report::diagnosis_words(&advice.diagnoses[0]);
    assert!(words.contains("concurrency-bound"), "{words}: {advice:#?}");
    h.get_by_label(&words);

    // The first lever's Apply: the index exists from now on in the running system, and
    // the change is in the run's record.
    assert!(!indexed(h.state().simulation().current()));
    h.get_all_by_role_and_label(Role::Button, advisor::APPLY_LEVER)
        .next()
        .expect("an Apply button per lever")
        .click();
    h.run_steps(2);
    assert!(
        indexed(h.state().simulation().current()),
        "{}",
        h.state().status()
    );
    assert_eq!(
        h.state().scenario().timeline.len(),
        1,
        "recorded in the document"
    );
    assert!(
        h.state().status().contains("add the index"),
        "{}",
        h.state().status()
    );

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert!(!indexed(h.state().simulation().current()), "undone");
    assert!(
        h.state().scenario().timeline.is_empty(),
        "out of the document's record"
    );
}

#[test]
fn hovering_a_node_shows_each_station_s_wait_beside_queueing_theory() {
    let mut s = bundled("mmc").into_inner();
    s.run.warmup_secs = 2.0;
    let mut h = harness(BottleneckApp::new(valid(s), None));
    h.state_mut().command(Command::SetSpeed(60.0));
    while h.state().simulation().now().as_secs_f64() < 30.0 {
        h.run_steps(1);
    }
    h.state_mut().playback_mut().playing = false;
    h.run_steps(1);
    let (at, _) = h
        .state()
        .node_on_screen("server")
        .expect("the node on the canvas");
    h.hover_at(at);
    // Tooltips wait for the pointer to rest.
    h.run_steps(60);
    h.get_by_label_contains("server.cpu: waits");
    h.get_by_label_contains("ms simulated, exactly");
    h.get_by_label_contains("ms by M/M/4 (Erlang C) at");
}

#[test]
fn the_panel_measures_its_levers_in_the_background_and_says_which_help() {
    let mut s = bundled("concurrency_bound").into_inner();
    s.run.warmup_secs = 5.0;
    s.run.duration_secs = 40.0;
    let mut h = harness(BottleneckApp::new(valid(s), None));
    h.state_mut().prefs.show_advisor = true;
    h.state_mut().command(Command::SetSpeed(60.0));
    while h.state().simulation().now().as_secs_f64() < 20.0 {
        h.run_steps(1);
    }
    h.state_mut().playback_mut().playing = false;
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, advisor::VERIFY)
        .click();
    h.run_steps(2);
    // The thread works in wall-clock time while frames go on.
    let started = std::time::Instant::now();
    while h.state().advisor().is_measuring() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(180),
            "still measuring"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        h.run_steps(1);
    }
    h.run_steps(2);
    let advice = h.state().advisor().advice().expect("advice").clone();
    assert_eq!(advice.replications, panel::VERIFY_REPLICATIONS);
    let first = &advice.levers[0];
    assert!(first.verified.is_some() && first.helps(), "{first:#?}");
    assert_eq!(first.component, "db");
    h.get_by_label("Measured levers (the advice is frozen)");
    h.get_by_role_and_label(Role::Button, advisor::LIVE).click();
    h.run_steps(2);
    assert_eq!(h.state().advisor().advice().expect("live").replications, 0);
}

/// The window on a bundled lesson with the Advisor open, run at 60× to `secs` of
/// simulated time and paused, and the advice it shows then.
fn advised(
    name: &str,
    secs: f64,
) -> (
    egui_kittest::Harness<'static, BottleneckApp>,
    bottleneck::advisor::Advice,
) {
    let mut s = bundled(name).into_inner();
    s.run.duration_secs = 300.0;
    let mut h = harness(BottleneckApp::new(valid(s), None));
    h.get_by_role_and_label(Role::Button, advisor::ADVISOR)
        .click();
    h.state_mut().command(Command::SetSpeed(60.0));
    while h.state().simulation().now().as_secs_f64() < secs {
        h.run_steps(1);
    }
    h.state_mut().playback_mut().playing = false;
    h.run_steps(2);
    let advice = h.state().advisor().advice().expect("advice").clone();
    (h, advice)
}

#[test]
fn a_lever_on_an_endpoints_step_applies_to_the_document_and_undoes() {
    // microservices: the product page's call without a timeout holds the shop's
    // threads through the recommendations spike (t = 30 to 50 s).
    let (mut h, advice) = advised("microservices", 55.0);
    let at = advice
        .levers
        .iter()
        .position(|l| l.kind == bottleneck::advisor::LeverKind::CallTimeout)
        .unwrap_or_else(|| panic!("a call timeout lever: {:#?}", advice.levers));
    h.get_all_by_role_and_label(Role::Button, advisor::APPLY_LEVER)
        .nth(at)
        .expect("an Apply button per lever")
        .click();
    h.run_steps(2);
    let timeout = |s: &Scenario| match &s.endpoints["GET /product"].steps[1] {
        bottleneck::model::Step::Call { timeout_ms, .. } => *timeout_ms,
        _ => None,
    };
    // A document edit: it takes effect on restart, and Ctrl+Z takes it back.
    assert!(
        timeout(h.state().scenario()).is_some(),
        "{}",
        h.state().status()
    );
    assert!(
        h.state().status().contains("on restart"),
        "{}",
        h.state().status()
    );
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(timeout(h.state().scenario()), None, "undone");
}

#[test]
fn the_panel_names_a_failure_at_its_root_before_what_runs_out() {
    // sessions: an instance crashes at t = 40 s and logs out the users it held.
    let (h, advice) = advised("sessions", 50.0);
    assert_eq!(advice.first_resource(), Some("app sessions"));
    h.get_by_label("What fails, at its root");
    h.get_by_label(&report::failure_words(&advice.failures[0]));
    assert_eq!(
        advice.first_lever().map(|l| l.kind),
        Some(bottleneck::advisor::LeverKind::ExternalSessions)
    );
}
