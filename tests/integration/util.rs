//! Helpers shared by the integration tests.

use std::path::PathBuf;

use bottleneck::engine::Simulation;
use bottleneck::metrics::Summary;
use bottleneck::model::{self, Scenario, ValidScenario};

/// Path of a file in the repository.
pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
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
