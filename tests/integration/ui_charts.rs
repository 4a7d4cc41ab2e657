//! The charts tell the story of a run: a change or a fault leaves a marker on every
//! chart's time axis, a restart keeps the run before it as a faded trace with a table of
//! before and after, and each component's lesson series gets a chart of its own.

use bottleneck::engine::Simulation;
use bottleneck::model::ComponentSpec;
use bottleneck::ui::charts::model::{self as charts, MarkerKind, Unit};
use bottleneck::ui::{BottleneckApp, Command, Selection, labels};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable as _;

use crate::util::{bundled, now_secs, run_until, ui_harness as harness};

#[test]
fn a_live_change_draws_a_marker_on_every_chart_saying_what_changed() {
    let mut h = harness(BottleneckApp::new(bundled("three_tier"), None));
    run_until(&mut h, 12.0);
    assert_eq!(h.state().charts_drawn().markers, 0, "nothing happened yet");
    let charts = h.state().charts_drawn().titles.len();
    assert!(charts >= 4, "{:?}", h.state().charts_drawn());

    h.state_mut()
        .command(Command::Select(Selection::Component("app".to_owned())));
    h.run_steps(2);
    // Paused: the change takes effect at the next tenth of a second from here.
    let changed_at = now_secs(&h);
    h.get_by_role_and_label(Role::SpinButton, "instances")
        .set_value_accesskit(6.0);
    h.run_steps(3);
    run_until(&mut h, 20.0);

    let marks = charts::markers(h.state().simulation());
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert_eq!(marks[0].kind, MarkerKind::Change);
    assert_eq!(marks[0].text, "app: instances = 6");
    assert!(
        marks[0].at_secs >= changed_at && marks[0].at_secs <= changed_at + 0.1 + 1e-9,
        "{marks:?} at {changed_at}"
    );
    // One marker on each chart: they all cover the last two minutes.
    assert_eq!(
        h.state().charts_drawn().markers,
        h.state().charts_drawn().titles.len()
    );
    // The instance count changed, so the tier's instances get a chart of their own.
    assert!(
        h.state()
            .charts_drawn()
            .titles
            .iter()
            .any(|t| t == "app instances"),
        "{:?}",
        h.state().charts_drawn().titles
    );
}

#[test]
fn a_restart_keeps_the_run_before_as_a_faded_trace_until_forgotten() {
    let mut h = harness(BottleneckApp::new(bundled("three_tier"), None));
    run_until(&mut h, 30.0);
    assert_eq!(h.state().charts_drawn().ghost_lines, 0);
    // Paused: the restart happens at this time (a frame may overshoot 30 s).
    let restarted_at = now_secs(&h);

    h.get_by_label(labels::RESTART).click();
    h.run_steps(2);
    run_until(&mut h, 10.0);
    let drawn = h.state().charts_drawn().clone();
    assert!(drawn.ghost_lines >= 4, "the run before is drawn: {drawn:?}");
    // Its end is marked on every chart, and its markers say it was a restart.
    assert_eq!(drawn.markers, drawn.titles.len(), "{drawn:?}");
    assert!(
        h.query_all_by_label_contains(&format!("run before the restart at {restarted_at:.0} s"))
            .next()
            .is_some(),
        "the kept run is named"
    );

    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label(labels::FORGET_BASELINE).click();
    h.run_steps(2);
    assert_eq!(h.state().charts_drawn().ghost_lines, 0);
    assert_eq!(h.state().charts_drawn().markers, 0);
}

/// View → Compare with a scenario file… runs B in the background to this run's end and
/// keeps it on the charts like the run before a restart: B's run exactly as a headless run
/// of B gives it, named, with the table of both over the same seconds.
#[test]
fn another_scenario_runs_beside_this_one_and_is_kept_on_the_charts() {
    let mut b = bundled("three_tier").into_inner();
    let more: bottleneck::model::overrides::Override = "app.instances=8".parse().expect("override");
    bottleneck::model::overrides::apply(&mut b, &[more]).expect("applies");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("more_instances.ron");
    bottleneck::model::save_file(&path, &b).expect("saved");

    let mut h = harness(BottleneckApp::new(bundled("three_tier"), None));
    run_until(&mut h, 20.0);
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label(labels::COMPARE_WITH).click();
    h.run_steps(3);
    h.get_by_role_and_label(Role::TextInput, labels::FILE_PATH)
        .set_text_value_accesskit(path.to_str().expect("UTF-8 path"));
    h.run_steps(1);
    h.get_by_label(labels::CONFIRM_OPEN).click();
    h.run_steps(1);
    assert!(
        h.state().status().contains("on the same random numbers"),
        "{}",
        h.state().status()
    );
    for _ in 0..2_000 {
        if h.state().baseline().is_some() {
            break;
        }
        h.run_steps(1);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let kept = h.state().baseline().expect("B kept on the charts");
    assert_eq!(kept.name, "more_instances.ron");
    let mut alone = Simulation::new(&bottleneck::model::load_file(&path).expect("valid"));
    alone.advance_until(h.state().simulation().end(), u64::MAX);
    assert_eq!(
        bottleneck::report::series_csv(&kept.series),
        bottleneck::report::series_csv(alone.series()),
        "B as a headless run gives it"
    );
    h.run_steps(2);
    assert!(h.state().charts_drawn().ghost_lines >= 4);
    assert!(
        h.query_all_by_label_contains("more_instances.ron → now")
            .next()
            .is_some(),
        "the table compares B and this run"
    );
}

#[test]
fn a_fault_is_marked_and_a_kept_run_compares_over_the_same_seconds() {
    let mut h = harness(BottleneckApp::new(bundled("cache_stampede"), None));
    run_until(&mut h, 5.0);
    let kept_at = now_secs(&h);
    h.state_mut().command(Command::KeepBaseline);
    h.run_steps(1);
    h.state_mut()
        .command(Command::Inject(bottleneck::model::Fault::FlushCache {
            cache: "redis".to_owned(),
        }));
    run_until(&mut h, 8.0);
    let marks = charts::markers(h.state().simulation());
    assert!(
        marks
            .iter()
            .any(|m| m.kind == MarkerKind::Fault && m.text == "flush redis"),
        "{marks:?}"
    );
    // The kept run is drawn faded, and the table compares the same seconds of both.
    assert!(h.state().charts_drawn().ghost_lines > 0);
    assert!(
        h.query_all_by_label_contains(&format!("run kept at {kept_at:.0} s → now"))
            .next()
            .is_some(),
        "a before-and-after table"
    );
}

/// A run of `name` to `secs` simulated seconds.
fn ran(name: &str, secs: f64) -> Simulation {
    let mut sim = Simulation::new(&bundled(name));
    sim.advance_until(bottleneck::sim::SimTime::from_secs_f64(secs), u64::MAX);
    sim
}

fn charts_of(sim: &Simulation) -> Vec<charts::Chart> {
    charts::charts(
        sim.series(),
        sim.current(),
        &charts::Choice {
            window_secs: 120.0,
            endpoint: None,
            shown: &|_| true,
            causes: true,
        },
    )
}

#[test]
fn each_lesson_gets_the_chart_it_talks_about() {
    // Sharding: each shard's CPU, the hot one drawn thicker and named.
    let sim = ran("sharding", 30.0);
    let all = charts_of(&sim);
    let shards = all
        .iter()
        .find(|c| c.title == "orders CPU by shard")
        .expect("a chart of the shards");
    assert_eq!(shards.lines.len(), 4);
    let hot: Vec<_> = shards.lines.iter().filter(|l| l.emphasis).collect();
    assert_eq!(hot.len(), 1);
    assert!(hot[0].label.ends_with("(hot)"));
    // The hot shard is the busiest one.
    let mean = |scope: &str| charts::mean_between(sim.series(), scope, "cpu_util", 0.0, 30.0);
    assert!(
        shards
            .lines
            .iter()
            .all(|l| mean(&l.scope) <= mean(&hot[0].scope))
    );

    // Autoscaling: the instances running and the autoscaler's target.
    let all = charts_of(&ran("autoscaling", 30.0));
    let instances = all
        .iter()
        .find(|c| c.title == "app instances")
        .expect("instances");
    let metrics: Vec<&str> = instances.lines.iter().map(|l| l.metric.as_str()).collect();
    assert_eq!(metrics, ["instances", "desired"]);

    // A cache's hit ratio in %, a breaker's state, a queue's backlog.
    let all = charts_of(&ran("cache_stampede", 10.0));
    assert!(
        all.iter()
            .any(|c| c.title == "redis hit ratio" && c.unit == Unit::Share)
    );
    let all = charts_of(&ran("circuit_breaker", 10.0));
    assert!(all.iter().any(|c| c.unit == Unit::BreakerState));
    let all = charts_of(&ran("job_queue", 10.0));
    assert!(
        all.iter()
            .any(|c| c.lines.iter().any(|l| l.metric == "dead_letters"))
    );

    // N+1: each query's own rate beside the total; the loop's query runs 20 times for
    // each page's list (a few queries in flight at the window's edges aside).
    let sim = ran("n_plus_one", 30.0);
    let all = charts_of(&sim);
    let queries = all
        .iter()
        .find(|c| c.title == "posts_db queries")
        .expect("the database's queries");
    let labels: Vec<&str> = queries.lines.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, ["all queries", "author_of_post", "list_posts"]);
    let rate =
        |l: &charts::Line| charts::mean_between(sim.series(), &l.scope, &l.metric, 0.0, 30.0);
    let (author, list) = (rate(&queries.lines[1]), rate(&queries.lines[2]));
    assert!(list > 10.0, "{list} lists/s");
    assert!(
        (author / list - 20.0).abs() < 0.4,
        "{author} against {list}"
    );
    assert!((rate(&queries.lines[0]) - author - list).abs() < 1e-9 * author);

    // Without an autoscaler or a change, a constant instance count gets no chart.
    let all = charts_of(&ran("three_tier", 10.0));
    assert!(!all.iter().any(|c| c.title.ends_with("instances")));
    assert!(
        bundled("three_tier")
            .components
            .iter()
            .any(|c| matches!(c, ComponentSpec::App(_)))
    );
}

#[test]
fn units_scale_to_be_read() {
    assert_eq!(Unit::Millis.scale(15_000.0), (1e-3, "s".to_owned()));
    assert_eq!(Unit::Millis.scale(150.0), (1.0, "ms".to_owned()));
    let rate = Unit::PerSec { what: "req/s" };
    assert_eq!(rate.scale(12_000.0), (1e-3, "k req/s".to_owned()));
    assert_eq!(rate.scale(800.0), (1.0, "req/s".to_owned()));
    assert_eq!(Unit::Share.scale(0.5), (100.0, "%".to_owned()));
}

#[test]
fn a_chart_without_data_says_so_instead_of_drawing_empty_axes() {
    let mut h = harness(BottleneckApp::new(bundled("three_tier"), None));
    h.get_by_label(labels::PAUSE).click();
    h.run_steps(2);
    h.state_mut().command(Command::Restart);
    h.run_steps(2);
    let notes = &h.state().charts_drawn().notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("no successful responses in this window")),
        "{notes:?}"
    );
}

/// At 3,000 req/s on the three-tier scenario the node said CPU 100 % while the ranking said
/// 52 % and the panel a whole-run average: now every live figure is over the same window.
#[test]
fn the_node_label_the_ranking_and_the_outcome_panel_agree_on_one_window() {
    let mut s = bundled("three_tier").into_inner();
    for c in &mut s.components {
        if let ComponentSpec::Client(client) = c {
            client.arrivals = bottleneck::model::Arrivals::Poisson {
                rate_per_sec: 3000.0,
            };
        }
    }
    let mut h = harness(BottleneckApp::new(crate::util::valid(s), None));
    run_until(&mut h, 45.0);
    let window = h.state().prefs.live_window_secs;
    assert_eq!(window, 10.0, "the default window");
    h.get_by_label("last 10 s");
    h.get_by_label("whole run");

    let glance = h.state().glance();
    let app = glance.iter().find(|g| g.id == "app").expect("app");
    assert_eq!(app.fullest, "cpu", "{app:?}");
    let percent = format!("{:.0} %", app.saturation * 100.0);
    // The node's label and the ranking show the same figure…
    let headline = bottleneck::ui::glance::headline(app);
    assert!(
        headline.starts_with(&format!("CPU {:.0}%", app.saturation * 100.0)),
        "{headline}"
    );
    h.get_by_label("app cpu");
    assert!(
        h.query_all_by_label(&percent).next().is_some(),
        "the ranking shows {percent}"
    );
    // …the fullest is outlined, and it is the one the ranking lists first.
    let fullest = glance
        .iter()
        .max_by(|a, b| a.saturation.total_cmp(&b.saturation))
        .expect("components");
    assert!(fullest.saturation >= 0.8);
    // The outline keeps a node until another is fuller by 5 points (hysteresis).
    let outlined = h.state().outlined().expect("a node is outlined");
    let outlined = glance.iter().find(|g| g.id == outlined).expect("outlined");
    assert!(
        outlined.saturation + 0.05 > fullest.saturation,
        "{} outlined at {:.2}, {} at {:.2}",
        outlined.id,
        outlined.saturation,
        fullest.id,
        fullest.saturation
    );
    // The outcome panel's first column is the same window of the charts' series.
    let served = h
        .state()
        .simulation()
        .series()
        .recent_mean("", "ok_per_sec", window)
        .expect("served");
    h.get_by_label(&format!("{served:.0} req/s"));
    let whole = h.state().simulation().summary().overall.throughput_per_sec;
    h.get_by_label(&format!("{whole:.0} req/s"));
}

/// The run's summary and its chart series export from the File menu, as the command line
/// writes them.
#[test]
fn the_runs_summary_and_series_export_from_the_file_menu() {
    let mut h = harness(BottleneckApp::new(bundled("three_tier"), None));
    run_until(&mut h, 15.0);
    let dir = tempfile::tempdir().expect("temp dir");
    for (item, name) in [
        (labels::EXPORT_SUMMARY_JSON, "summary.json"),
        (labels::EXPORT_SERIES_CSV, "series.csv"),
    ] {
        let path = dir.path().join(name);
        h.get_by_label("File").click();
        h.run_steps(2);
        h.get_by_label(labels::EXPORT_RUN).click();
        h.run_steps(2);
        h.get_by_label(item).click();
        h.run_steps(3);
        h.get_by_role_and_label(Role::TextInput, labels::FILE_PATH)
            .set_text_value_accesskit(path.to_str().expect("UTF-8 path"));
        h.run_steps(1);
        h.get_by_label(labels::CONFIRM_SAVE).click();
        h.run_steps(2);
        let written = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{name}: {e}; {}", h.state().status()));
        let sim = h.state().simulation();
        let expected = if name.ends_with(".json") {
            bottleneck::report::json(&sim.summary())
        } else {
            bottleneck::report::series_csv(sim.series())
        };
        assert_eq!(written, expected, "{name}");
    }
}

/// A picture of the window or the charts is asked for from the File menu and saved in the
/// background (the status says so at once; the file follows when the renderer answers).
#[test]
fn a_picture_of_the_charts_is_asked_for_from_the_file_menu() {
    let mut h = harness(BottleneckApp::new(bundled("three_tier"), None));
    run_until(&mut h, 5.0);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("charts.png");
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label(labels::EXPORT_RUN).click();
    h.run_steps(2);
    h.get_by_label(labels::EXPORT_CHARTS_PNG).click();
    h.run_steps(3);
    h.get_by_role_and_label(Role::TextInput, labels::FILE_PATH)
        .set_text_value_accesskit(path.to_str().expect("UTF-8 path"));
    h.run_steps(1);
    h.get_by_label(labels::CONFIRM_SAVE).click();
    h.run_steps(1);
    assert!(
        h.state().status().starts_with("Saving the picture to"),
        "{}",
        h.state().status()
    );
}
