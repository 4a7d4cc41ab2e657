//! Every bundled scenario loads, validates and runs, satisfies Little's law on every
//! station and adds up its latency breakdown, and shows the effect its lesson promises.

use std::fs;

use bottleneck::engine::Simulation;
use bottleneck::metrics::Summary;
use bottleneck::model::{self, ComponentSpec, ValidScenario};
use bottleneck::sim::SimTime;

use crate::util::{bundled, repo_path, run, run_sim, series_mean, series_window, valid};

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
fn littles_law_holds_and_the_breakdown_adds_up_on_every_scenario() {
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
        // The latency breakdown charges every instant of a response to one phase, so
        // its parts add up to the measured mean.
        for (endpoint, e) in s.endpoints.iter().chain([(&"ALL".to_owned(), &s.overall)]) {
            if e.ok == 0 {
                continue;
            }
            let parts: f64 = e.breakdown_ms.values().sum();
            let mean = e.latency_ms.mean;
            assert!(
                (parts - mean).abs() <= 0.01 * mean,
                "{name}: {endpoint}'s breakdown adds up to {parts:.4} ms, its mean is \
                 {mean:.4} ms: {:?}",
                e.breakdown_ms
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

/// The missing-index lesson with the index added (or not) and the app tier multiplied.
fn with_index(indexed: bool, app_factor: u32) -> ValidScenario {
    let mut s = with_app_instances(&bundled("missing_index"), app_factor).into_inner();
    for c in &mut s.components {
        if let ComponentSpec::Database(d) = c {
            d.queries
                .get_mut("search_products")
                .expect("the search query")
                .indexed = indexed;
        }
    }
    valid(s)
}

/// Lesson 2: one unindexed query takes the database; the index gives back about ten
/// times the capacity, and more app instances do not.
#[test]
fn a_missing_index_saturates_the_database_and_the_index_fixes_it() {
    let slow = run(&with_index(false, 1), 2);
    let fast = run(&with_index(true, 1), 2);
    let more_apps = run(&with_index(false, 2), 2);

    // Without the index the database is the bottleneck, and the search query takes
    // almost all its time: 120 searches × 60 ms against 480 lookups × 1 ms, 94%.
    assert_eq!(slow.saturation[0].resource, "shop_db cpu");
    assert!(fig(&slow, "shop_db", "cpu_util") > 0.9);
    let total: f64 = slow.queries.iter().map(|q| q.total_secs).sum();
    let top = &slow.queries[0];
    assert_eq!(top.query, "search_products");
    let rate = |s: &Summary, e: &str| s.endpoints[e].throughput_per_sec;
    let expected = rate(&slow, "GET /search") * 60.0
        / (rate(&slow, "GET /search") * 60.0 + rate(&slow, "GET /product") * 1.0);
    assert!(
        (top.total_secs / total - expected).abs() < 0.01,
        "search share {} of database time, {expected} expected",
        top.total_secs / total
    );

    // With it the same load needs (120 × 6 ms + 480 × 1 ms) / 8 cores = 15% of the CPU
    // (the sum of ~60,000 costs: a standard error under 0.2%).
    let theory = (rate(&fast, "GET /search") * 6.0 + rate(&fast, "GET /product") * 1.0) / 8e3;
    let util = fig(&fast, "shop_db", "cpu_util");
    assert!(
        (util - theory).abs() < 0.01,
        "CPU {util}, {theory} expected"
    );
    let (p99_slow, p99_fast) = (slow.overall.latency_ms.p99, fast.overall.latency_ms.p99);
    assert!(
        p99_fast < 0.1 * p99_slow,
        "p99 {p99_slow} ms → {p99_fast} ms"
    );

    // Twice the app instances: the database is just as full, pages as slow.
    assert!(fig(&more_apps, "shop_db", "cpu_util") > 0.9);
    assert!(more_apps.overall.latency_ms.p99 > 0.8 * p99_slow);
}

/// The N+1 lesson with the client's traffic on one version of the feed.
fn feed(version: &str) -> ValidScenario {
    let mut s = bundled("n_plus_one").into_inner();
    for c in &mut s.components {
        if let ComponentSpec::Client(c) = c {
            for (endpoint, weight) in &mut c.mix {
                *weight = if endpoint == version { 1.0 } else { 0.0 };
            }
        }
    }
    valid(s)
}

/// Lesson 3: 21 queries a page against 2. The database does the work of every one of
/// them and the page pays their round trips.
#[test]
fn n_plus_one_queries_cost_round_trips_and_database_cpu_that_batching_saves() {
    let n1 = run(&feed("GET /feed (N+1)"), 3);
    let batched = run(&feed("GET /feed (batched)"), 3);
    for (s, per_page, cpu_ms) in [(&n1, 21.0, 2.0 + 20.0 * 0.3), (&batched, 2.0, 2.0 + 1.0)] {
        let pages = s.overall.throughput_per_sec;
        let queries = fig(s, "posts_db", "queries_per_sec");
        // Pages in flight at the ends of the measured window blur the count a little.
        assert!(
            (queries / pages - per_page).abs() < 0.01 * per_page,
            "{queries} queries/s for {pages} pages/s"
        );
        // CPU = pages/s × query cost per page ÷ 4 cores (standard error well under 1%).
        let util = fig(s, "posts_db", "cpu_util");
        let theory = pages * cpu_ms / 4e3;
        assert!(
            (util - theory).abs() < 0.02,
            "CPU {util}, {theory} expected"
        );
    }
    // The N+1 page pays 20 more round trips of 0.8 ms (0.5 ms network, 0.3 ms query).
    let (slow, fast) = (n1.overall.latency_ms.mean, batched.overall.latency_ms.mean);
    assert!(slow - fast > 20.0 * 0.8 * 0.9, "{slow} ms vs {fast} ms");
    assert!(slow > 3.0 * fast);
}

/// The stampede lesson with the database's cores set.
fn stampede(db_cores: u32) -> Simulation {
    let mut s = bundled("cache_stampede").into_inner();
    for c in &mut s.components {
        if let ComponentSpec::Database(d) = c {
            d.cores = db_cores;
        }
    }
    run_sim(&valid(s))
}

/// Lesson 5: the database is sized for the cache's misses; when the cache is flushed
/// it gets every request until the popular keys are back, and a database with headroom
/// shrugs the same flush off.
#[test]
fn a_flushed_cache_sends_a_stampede_the_database_was_not_sized_for() {
    let small = stampede(2);
    let big = stampede(4);
    let max = |sim: &Simulation, scope: &str, m: &str, from, to| {
        series_window(sim, scope, m, from, to)
            .into_iter()
            .fold(0.0, f64::max)
    };
    let p99_before = max(&small, "", "p99_ms", 20.0, 40.0);
    assert!(series_mean(&small, "shop_db", "cpu_util", 20.0, 40.0) < 0.75);
    assert_eq!(max(&small, "", "errors_per_sec", 10.0, 40.0), 0.0);

    // The flush at 40 s: the hit ratio collapses, the database saturates for seconds
    // and the tail latency explodes.
    assert!(series_window(&small, "redis", "hit_ratio", 40.0, 40.5)[0] < 0.5);
    assert!(series_mean(&small, "shop_db", "cpu_util", 40.5, 50.0) > 0.98);
    let p99_after = max(&small, "", "p99_ms", 40.0, 60.0);
    assert!(
        p99_after > 10.0 * p99_before,
        "p99 {p99_before} → {p99_after} ms"
    );

    // The cache warms up again and the database recovers.
    assert!(series_mean(&small, "shop_db", "cpu_util", 75.0, 90.0) < 0.9);
    assert!(max(&small, "", "p99_ms", 75.0, 90.0) < 3.0 * p99_before);

    // Twice the cores: the same flush is a bump.
    assert!(max(&big, "", "p99_ms", 40.0, 60.0) < 0.1 * p99_after);
    assert_eq!(big.summary().overall.error_rate, 0.0);
}

/// Every bundled lesson's checklist works as a learner follows it, step after step: each
/// step's changes apply, change something, and leave a valid scenario, so clicking it
/// (then restarting) runs.
#[test]
fn every_lesson_step_applies_and_leaves_a_valid_scenario() {
    for name in super::util::bundled_names() {
        let mut s = super::util::bundled(&name).into_inner();
        let lesson = s
            .lesson
            .clone()
            .unwrap_or_else(|| panic!("{name} has no lesson"));
        assert!(!lesson.watch.is_empty(), "{name}");
        for (i, step) in lesson.steps.iter().enumerate() {
            let changed = step
                .applied_to(&s)
                .unwrap_or_else(|e| panic!("{name} step {i}: {e}"));
            assert!(changed != s, "{name} step {i} changes nothing");
            s = bottleneck::model::validate(changed)
                .unwrap_or_else(|e| panic!("{name} step {i}: {e}"))
                .into_inner();
        }
    }
}
