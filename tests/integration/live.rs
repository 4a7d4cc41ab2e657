//! Changes made to a running simulation act at the current simulated time, are recorded
//! in the timeline, and replay exactly when the scenario is saved with its timeline.

use bottleneck::engine::{ChangeError, Simulation};
use bottleneck::metrics::Summary;
use bottleneck::model::{self, ComponentSpec, Scenario, ValidScenario};
use bottleneck::report;
use bottleneck::sim::SimTime;

use crate::util::{bundled, series_mean, valid};

/// The default three-tier app at `rate` requests/s for `secs` seconds.
fn three_tier_at(rate: f64, secs: f64) -> ValidScenario {
    let mut s = bundled("three_tier").into_inner();
    s.run.duration_secs = secs;
    s.run.warmup_secs = 0.0;
    for c in &mut s.components {
        if let ComponentSpec::Client(c) = c {
            c.arrivals = model::Arrivals::Poisson { rate_per_sec: rate };
            c.timeout_ms = None;
        }
    }
    valid(s)
}

fn set(path: &str, value: &str) -> Vec<(String, String)> {
    vec![(path.to_owned(), value.to_owned())]
}

fn run_to(sim: &mut Simulation, secs: f64) {
    sim.advance_until(SimTime::from_secs_f64(secs), u64::MAX);
}

/// CPU-bound at 2,300 requests/s on 4 instances (8 cores); the same run with 8 instances
/// from t = 40 s drains its queue once the new instances have started.
#[test]
fn adding_instances_drains_the_queue_after_their_startup() {
    let sc = three_tier_at(2_300.0, 120.0);
    let mut plain = Simulation::with_seed(&sc, 5);
    plain.run_to_end();

    let mut scaled = Simulation::with_seed(&sc, 5);
    run_to(&mut scaled, 40.0);
    scaled
        .change("app", set("instances", "8"))
        .expect("instances change live");
    scaled.run_to_end();

    // Identical until the change (same seed, same events).
    let before_plain = series_mean(&plain, "app", "run_queue", 5.0, 40.0);
    let before_scaled = series_mean(&scaled, "app", "run_queue", 5.0, 40.0);
    assert_eq!(before_plain, before_scaled);
    assert!(
        before_plain > 5.0,
        "the CPU run queue builds up: {before_plain}"
    );

    // While the new instances start (5 s), nothing changes yet.
    assert_eq!(series_mean(&scaled, "app", "instances", 40.0, 44.0), 4.0);
    assert_eq!(series_mean(&scaled, "app", "instances", 50.0, 120.0), 8.0);

    let after_plain = series_mean(&plain, "app", "run_queue", 60.0, 120.0);
    let after_scaled = series_mean(&scaled, "app", "run_queue", 60.0, 120.0);
    assert!(
        after_scaled < 0.2 * after_plain,
        "queue with 8 instances {after_scaled:.2} vs 4 instances {after_plain:.2}"
    );
    let cpu = series_mean(&scaled, "app", "cpu_util", 60.0, 120.0);
    assert!(
        (0.4..0.6).contains(&cpu),
        "twice the cores, half the utilisation: {cpu}"
    );
}

/// Run with changes, save the scenario with its timeline, load it, run again with the
/// same seed: the same results, byte for byte.
#[test]
fn a_run_with_live_changes_replays_exactly_from_the_saved_file() {
    let sc = three_tier_at(1_500.0, 90.0);
    let mut live = Simulation::with_seed(&sc, 9);
    run_to(&mut live, 12.345);
    live.change("app", set("instances", "6")).expect("live");
    // Mid-chunk: a budget-limited step stops between events of the same instant.
    live.advance_until(SimTime::from_secs_f64(30.0), 1_000);
    live.change("app", set("pools[0].mode.size", "3"))
        .expect("live");
    run_to(&mut live, 55.5);
    live.change(
        "postgres",
        set("queries[\"search_products\"].indexed", "false"),
    )
    .expect("live");
    live.change("users", set("arrivals.rate_per_sec", "900"))
        .expect("live");
    run_to(&mut live, 70.0);
    live.change("app", set("instances", "2")).expect("scale in");
    live.run_to_end();
    assert_eq!(live.timeline().len(), 5);

    let mut saved: Scenario = sc.scenario().clone();
    saved.timeline = live.timeline().to_vec();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("with_changes.ron");
    model::save_file(&path, &saved).expect("saved");
    let reloaded = model::load_file(&path).expect("the saved timeline validates");

    let mut replay = Simulation::with_seed(&reloaded, 9);
    replay.run_to_end();
    assert_eq!(
        report::json(&live.summary()),
        report::json(&replay.summary())
    );
    assert_eq!(
        format!("{:?}", live.series().columns),
        format!("{:?}", replay.series().columns)
    );
}

#[test]
fn a_smaller_pool_makes_requests_wait_for_connections() {
    let sc = three_tier_at(800.0, 60.0);
    let mut sim = Simulation::with_seed(&sc, 2);
    run_to(&mut sim, 20.0);
    sim.change("app", set("pools[0].mode.size", "1"))
        .expect("live");
    sim.run_to_end();
    let before = series_mean(&sim, "app", "pool(postgres)_waiting", 2.0, 20.0);
    let after = series_mean(&sim, "app", "pool(postgres)_waiting", 25.0, 60.0);
    assert!(before < 0.1, "a pool of 10 rarely queues: {before}");
    assert!(after > 1.0, "a pool of 1 does: {after}");
    // The same work on a tenth of the connections keeps each one far busier.
    let util_before = series_mean(&sim, "app", "pool(postgres)_util", 2.0, 20.0);
    let util_after = series_mean(&sim, "app", "pool(postgres)_util", 25.0, 60.0);
    assert!(
        util_after > 5.0 * util_before,
        "pool utilisation {util_before} → {util_after}"
    );
}

#[test]
fn removing_instances_drains_them_without_losing_requests() {
    let sc = three_tier_at(800.0, 60.0);
    let mut sim = Simulation::with_seed(&sc, 4);
    run_to(&mut sim, 20.0);
    sim.change("app", set("instances", "2")).expect("live");
    sim.run_to_end();
    let s: Summary = sim.summary();
    assert_eq!(s.overall.error_rate, 0.0, "{:?}", s.overall.errors);
    assert_eq!(series_mean(&sim, "app", "instances", 21.0, 60.0), 2.0);
    let cpu_before = series_mean(&sim, "app", "cpu_util", 2.0, 20.0);
    let cpu_after = series_mean(&sim, "app", "cpu_util", 25.0, 60.0);
    assert!(
        (cpu_after / cpu_before - 2.0).abs() < 0.2,
        "half the cores, twice the utilisation: {cpu_before} → {cpu_after}"
    );
    // Scaling out again reuses the stopped instances.
    let mut again = Simulation::with_seed(&sc, 4);
    run_to(&mut again, 10.0);
    again.change("app", set("instances", "1")).expect("live");
    run_to(&mut again, 20.0);
    again.change("app", set("instances", "4")).expect("live");
    again.run_to_end();
    let s = again.summary();
    assert_eq!(s.component("app").expect("app").figure("instances"), 4.0);
}

#[test]
fn more_database_cores_cut_query_queueing_at_once() {
    let mut s = bundled("concurrency_bound").into_inner();
    s.run.duration_secs = 60.0;
    s.run.warmup_secs = 0.0;
    let sc = valid(s);
    let mut sim = Simulation::with_seed(&sc, 1);
    run_to(&mut sim, 20.0);
    let cores: u64 = match sim
        .current()
        .components
        .iter()
        .find(|c| c.id() == "db")
        .expect("db")
    {
        ComponentSpec::Database(d) => u64::from(d.cores),
        _ => unreachable!(),
    };
    sim.change("db", set("cores", &(cores * 4).to_string()))
        .expect("live");
    sim.run_to_end();
    let before = series_mean(&sim, "db", "queue", 5.0, 20.0);
    let after = series_mean(&sim, "db", "queue", 30.0, 60.0);
    assert!(
        before > 1.0 && after < 0.1 * before,
        "db queue {before} → {after}"
    );
}

#[test]
fn fewer_closed_loop_users_send_less() {
    let mut s = bundled("closed_loop").into_inner();
    s.run.duration_secs = 600.0;
    s.run.warmup_secs = 0.0;
    let sc = valid(s);
    let mut sim = Simulation::with_seed(&sc, 3);
    let users = match &sim.current().components[0] {
        ComponentSpec::Client(c) => match &c.arrivals {
            model::Arrivals::Closed { users, .. } => *users,
            _ => unreachable!("closed loop"),
        },
        _ => unreachable!("client first"),
    };
    let client = sim.current().components[0].id().to_owned();
    run_to(&mut sim, 300.0);
    sim.change(&client, set("arrivals.users", &(users / 2).to_string()))
        .expect("live");
    sim.run_to_end();
    let before = series_mean(&sim, "", "offered_per_sec", 50.0, 300.0);
    let after = series_mean(&sim, "", "offered_per_sec", 350.0, 600.0);
    assert!(after < 0.65 * before, "offered {before} → {after}");
}

#[test]
fn what_cannot_change_mid_run_says_so_and_changes_nothing() {
    let sc = three_tier_at(800.0, 30.0);
    let mut sim = Simulation::with_seed(&sc, 1);
    run_to(&mut sim, 10.0);
    let err = sim
        .change("postgres", set("replicas", "3"))
        .expect_err("replicas are fixed for a run");
    assert!(matches!(err, ChangeError::NotLive(_)), "{err}");
    assert!(err.to_string().contains("replicas"), "{err}");
    let err = sim
        .change("app", set("instances", "0"))
        .expect_err("out of range");
    assert!(err.to_string().contains("instances"), "{err}");
    let err = sim
        .change("nope", set("instances", "2"))
        .expect_err("no such");
    assert!(matches!(err, ChangeError::NoSuchComponent(_)));
    assert!(sim.timeline().is_empty());
}
