//! Helpers shared by the integration tests.

use std::path::PathBuf;

use bottleneck::engine::Simulation;
use bottleneck::metrics::Summary;
use bottleneck::model::{self, Scenario, ValidScenario};

/// Path of a file in the repository.
pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The bundled scenarios' file stems, sorted.
pub fn bundled_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_path("scenarios"))
        .expect("scenarios/")
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "ron").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    assert!(names.len() >= 20, "found only {} scenarios", names.len());
    names
}

/// Loads a bundled scenario by file stem, e.g. `"mm1"`.
pub fn bundled(name: &str) -> ValidScenario {
    let path = repo_path(&format!("scenarios/{name}.ron"));
    model::load_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Validates an edited scenario.
pub fn valid(s: Scenario) -> ValidScenario {
    model::validate(s).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs to the end with the given seed.
pub fn run(sc: &ValidScenario, seed: u64) -> Summary {
    let mut sim = Simulation::with_seed(sc, seed);
    sim.run_to_end();
    sim.summary()
}

/// Runs to the end with the scenario's own seed, keeping the simulation (for its series).
pub fn run_sim(sc: &ValidScenario) -> Simulation {
    let mut sim = Simulation::new(sc);
    sim.run_to_end();
    sim
}

/// One figure of one component in the summary (NaN when the component does not have it).
pub fn figure(sim: &Simulation, id: &str, name: &str) -> f64 {
    let s = sim.summary();
    s.components
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no component {id:?}"))
        .figure(name)
}

/// The chart samples of one series taken in simulated seconds `(from, to]`.
pub fn series_window(sim: &Simulation, scope: &str, metric: &str, from: f64, to: f64) -> Vec<f64> {
    let set = sim.series();
    let col = set
        .column(scope, metric)
        .unwrap_or_else(|| panic!("no series {scope:?} {metric:?}"));
    set.times
        .iter()
        .zip(col)
        .filter(|(t, _)| **t > from && **t <= to)
        .map(|(_, v)| *v)
        .collect()
}

/// Mean of one series over simulated seconds `(from, to]`.
pub fn series_mean(sim: &Simulation, scope: &str, metric: &str, from: f64, to: f64) -> f64 {
    let v = series_window(sim, scope, metric, from, to);
    assert!(!v.is_empty(), "no samples of {metric:?} in ({from}, {to}]");
    v.iter().sum::<f64>() / v.len() as f64
}

/// The microservices lesson (unvalidated) with the product page's call timeout set.
pub fn microservices_with_call_timeout(timeout_ms: Option<f64>) -> Scenario {
    let mut s = bundled("microservices").into_inner();
    let steps = &mut s.endpoints.get_mut("GET /product").expect("endpoint").steps;
    match &mut steps[1] {
        model::Step::Call { timeout_ms: t, .. } => *t = timeout_ms,
        other => panic!("step 2 of GET /product is {other:?}, not the call"),
    }
    s
}

/// Loads a scenario written inline in a test.
pub fn scenario(ron: &str) -> ValidScenario {
    model::load_str(ron).unwrap_or_else(|e| panic!("{e}"))
}

/// Every figure of a run that is a share or a utilisation lies in [0, 1], and no
/// figure is NaN or negative: in the summary and in every chart sample. Returns the
/// problems found, each naming the figure (empty: none).
pub fn impossible_figures(sim: &Simulation) -> Vec<String> {
    let s = sim.summary();
    let mut bad = Vec::new();
    let is_share = |name: &str| {
        name.ends_with("util")
            || name.ends_with("_share")
            || name.ends_with("ratio") && name != "hot_shard_ratio"
            || name.ends_with("error_rate")
    };
    let mut check = |what: String, x: f64, share: bool| {
        if x.is_nan() || x < 0.0 || (share && x > 1.0 + 1e-9) {
            bad.push(format!("{what} = {x}"));
        }
    };
    for (name, o) in
        std::iter::once(("ALL", &s.overall)).chain(s.endpoints.iter().map(|(n, o)| (n.as_str(), o)))
    {
        check(format!("{name} error_rate"), o.error_rate, true);
        check(format!("{name} user_error_rate"), o.user_error_rate, true);
        for (q, x) in [
            ("mean", o.latency_ms.mean),
            ("p50", o.latency_ms.p50),
            ("p99", o.latency_ms.p99),
            ("max", o.latency_ms.max),
        ] {
            check(format!("{name} latency {q}"), x, false);
        }
    }
    for c in &s.components {
        for (name, x) in &c.figures {
            check(format!("{} {name}", c.id), *x, is_share(name));
        }
    }
    for st in &s.stations {
        check(
            format!("station {} utilisation", st.name),
            st.utilization,
            true,
        );
        check(format!("station {} p_wait", st.name), st.p_wait, true);
        check(format!("station {} L", st.name), st.mean_in_system, false);
        check(format!("station {} W", st.name), st.mean_sojourn_ms, false);
    }
    for r in &s.saturation {
        check(format!("saturation of {}", r.resource), r.utilization, true);
    }
    let set = sim.series();
    for (k, (scope, metric)) in set.names.iter().enumerate() {
        for (t, x) in set.times.iter().zip(&set.columns[k]) {
            // A chart leaves a gap (NaN) where an interval had nothing to show.
            if x.is_nan() {
                continue;
            }
            check(
                format!("series {scope} {metric} at {t} s"),
                *x,
                is_share(metric),
            );
        }
    }
    bad
}

/// Whether a run's footprint lies within its scenario's estimate, item by item.
pub fn within_estimate(sim: &Simulation) -> Result<(), String> {
    let e = bottleneck::model::budget::estimate(sim.scenario());
    let f = sim.footprint();
    let checks = [
        ("requests", f.requests as f64, e.requests),
        ("retries", f.pending_retries as f64, e.retries),
        ("instances", f.instances as f64, e.instances),
        ("cache entries", f.cache_entries as f64, e.cache_entries),
        (
            "remembered writes",
            f.remembered_writes as f64,
            e.remembered_writes,
        ),
        ("sessions", f.sessions as f64, e.sessions),
        ("jobs", f.jobs as f64, e.jobs),
        // Deadlines are compacted to twice the requests outstanding (and 1,024 each).
        (
            "client deadlines",
            f.client_deadlines as f64,
            2.0 * e.requests + 1024.0 * sim.scenario().components.len() as f64,
        ),
    ];
    let over: Vec<String> = checks
        .iter()
        .filter(|(_, held, bound)| held > bound)
        .map(|(what, held, bound)| format!("{what}: {held} held, estimate {bound}"))
        .collect();
    if over.is_empty() {
        Ok(())
    } else {
        Err(over.join("; "))
    }
}

/// One frame of the window in the UI tests: 1/60 s.
#[cfg(feature = "gui")]
pub const DT: f64 = 1.0 / 60.0;

/// The window at 1280×800 in an egui_kittest harness, asking for paths in its path field;
/// each step is one frame of [`DT`],
/// in which the simulation advances exactly as in the real window.
#[cfg(feature = "gui")]
pub fn ui_harness(
    mut app: bottleneck::ui::BottleneckApp,
) -> egui_kittest::Harness<'static, bottleneck::ui::BottleneckApp> {
    // No system file dialog here: paths are typed, as with the keyboard.
    app.set_picker(bottleneck::ui::files::Picker::Typed);
    egui_kittest::Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(
            |ui, app: &mut bottleneck::ui::BottleneckApp| {
                app.advance_frame(DT, bottleneck::ui::FRAME_BUDGET);
                app.ui(ui);
            },
            app,
        )
}

/// The simulated seconds the window's run has reached.
#[cfg(feature = "gui")]
pub fn now_secs(h: &egui_kittest::Harness<'_, bottleneck::ui::BottleneckApp>) -> f64 {
    h.state().simulation().now().as_secs_f64()
}

/// Plays the window's run at 60× until `secs` simulated seconds (or its end), then pauses.
/// A frame may overshoot `secs`: read [`now_secs`] for the time reached.
#[cfg(feature = "gui")]
pub fn run_until(h: &mut egui_kittest::Harness<'_, bottleneck::ui::BottleneckApp>, secs: f64) {
    h.state_mut()
        .command(bottleneck::ui::Command::SetSpeed(60.0));
    h.state_mut().playback_mut().playing = true;
    while now_secs(h) < secs - 1e-6 && !h.state().simulation().is_finished() {
        h.run_steps(1);
    }
    h.state_mut().playback_mut().playing = false;
    h.run_steps(1);
}
