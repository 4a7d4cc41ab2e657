//! Every bundled scenario loads, validates and runs, satisfies Little's law on every
//! station, and shows the effect its lesson promises.

use std::fs;

use bottleneck::engine::Simulation;
use bottleneck::metrics::Summary;
use bottleneck::model::{self, ComponentSpec, ValidScenario};
use bottleneck::sim::SimTime;

use crate::util::{bundled, repo_path, run, valid};

fn all_bundled() -> Vec<(String, ValidScenario)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(repo_path("scenarios")).expect("scenarios/ exists") {
        let path = entry.expect("readable").path();
        if path.extension().is_some_and(|e| e == "ron") {
            let sc = model::load_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((path.file_stem().unwrap().to_string_lossy().into_owned(), sc));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 9, "bundled scenarios found: {}", out.len());
    out
}

#[test]
fn every_bundled_scenario_loads_runs_and_serves_traffic() {
    for (name, sc) in all_bundled() {
        assert!(
            !sc.description.is_empty(),
            "{name}: a bundled scenario explains its lesson"
        );
        let mut sim = Simulation::new(&sc);
        sim.advance_until(SimTime::from_secs_f64(5.0), u64::MAX);
        let s = sim.summary();
        assert!(s.overall.ok > 0, "{name}: no request completed in 5 s");
        assert!(sim.series().len() >= 4, "{name}: charts got no samples");
    }
}

/// L = λW must hold on every station of every scenario: a built-in check that the
/// engine's bookkeeping of arrivals, departures and time is consistent.
#[test]
fn littles_law_holds_on_every_station_of_every_scenario() {
    for (name, sc) in all_bundled() {
        let s = run(&sc, sc.seed);
        for st in &s.stations {
            let departures = st.throughput_per_sec * s.measured_secs;
            if departures < 5_000.0 || st.mean_in_system < 0.01 {
                continue; // too few to compare meaningfully
            }
            assert!(
                st.littles_law_gap < 0.02,
                "{name}: station {} has L = {:.3} but λW = {:.3}",
                st.name,
                st.mean_in_system,
                st.throughput_per_sec * st.mean_sojourn_ms / 1e3
            );
        }
    }
}

/// The same scenario with the app tier's instance count multiplied.
fn with_app_instances(sc: &ValidScenario, factor: u32) -> ValidScenario {
    let mut s = sc.scenario().clone();
    for c in &mut s.components {
        if let ComponentSpec::App(a) = c {
            a.instances *= factor;
        }
    }
    valid(s)
}

fn fig(s: &Summary, id: &str, name: &str) -> f64 {
    s.component(id).expect("component").figure(name)
}

/// Lesson 1: two systems with similar latency, one waiting on the database with idle
/// CPUs, one with saturated CPUs. Adding app instances fixes only the second.
#[test]
fn adding_app_instances_helps_only_the_compute_bound_system() {
    let conc = bundled("concurrency_bound");
    let comp = bundled("compute_bound");
    let (c1, p1) = (run(&conc, 1), run(&comp, 1));

    // Similar symptoms: both slow, within a factor of two of each other.
    let (lat_c, lat_p) = (c1.overall.latency_ms.mean, p1.overall.latency_ms.mean);
    assert!(
        lat_c > 3.0 * 14.0 && lat_p > 2.0 * 18.5,
        "both are slow: {lat_c} ms, {lat_p} ms"
    );
    assert!(
        lat_c / lat_p < 2.0 && lat_p / lat_c < 2.0,
        "{lat_c} vs {lat_p}"
    );

    // Different causes.
    assert!(
        fig(&c1, "app", "cpu_util") < 0.3,
        "concurrency-bound app CPU is low"
    );
    assert!(
        fig(&c1, "db", "cpu_util") > 0.85,
        "its database is saturated"
    );
    assert!(
        fig(&c1, "app", "pool(db)_waiting") > 1.0,
        "requests wait for connections"
    );
    assert_eq!(c1.saturation[0].resource, "db cpu");
    assert!(
        fig(&p1, "app", "cpu_util") > 0.8,
        "compute-bound app CPU is high"
    );
    assert!(fig(&p1, "db", "cpu_util") < 0.3);
    assert_eq!(p1.saturation[0].resource, "app cpu");

    // Double the app tier.
    let (c2, p2) = (
        run(&with_app_instances(&conc, 2), 1),
        run(&with_app_instances(&comp, 2), 1),
    );
    let gain_c = c2.overall.latency_ms.mean / lat_c;
    let gain_p = p2.overall.latency_ms.mean / lat_p;
    assert!(
        gain_c > 0.8,
        "concurrency-bound: twice the instances barely helps ({gain_c:.2}×)"
    );
    assert!(
        gain_p < 0.6,
        "compute-bound: twice the instances cuts latency ({gain_p:.2}×)"
    );
    assert!(fig(&p2, "app", "cpu_util") < 0.5);
}
