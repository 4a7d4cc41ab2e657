//! The advisor's figures: where the time goes (the latency breakdown agrees with the
//! stations it passes through), and queueing theory beside every simulated station.

use bottleneck::experiment::{self, Control};
use bottleneck::model::ValidScenario;
use bottleneck::stats::Estimate;

use crate::util::{bundled, run, scenario, valid};

/// A bundled scenario shortened to `secs` of measurement after a 20 s warm-up.
fn shortened(name: &str, secs: f64) -> ValidScenario {
    let mut s = bundled(name).into_inner();
    s.run.warmup_secs = 20.0;
    s.run.duration_secs = 20.0 + secs;
    valid(s)
}

/// Two measurements of the same time agree within `tolerance` (relative).
fn agree(what: &str, breakdown: f64, station: f64, tolerance: f64) {
    assert!(
        (breakdown - station).abs() <= tolerance * station.abs().max(1e-9),
        "{what}: the breakdown says {breakdown:.4} ms, the station {station:.4} ms"
    );
}

#[test]
fn the_breakdown_charges_each_wait_to_the_resource_the_stations_saw_it_at() {
    // concurrency_bound: one CPU step and one query per request, so the mean request's
    // pool wait, database queue and query service are the pool's and the database's
    // own mean wait and service, measured independently. Only the requests in flight
    // at the ends of the measured span can make them differ.
    let s = run(&bundled("concurrency_bound"), 7);
    let e = &s.endpoints["GET /report"];
    let part = |name: &str| e.breakdown_ms[name];
    let app = s.component("app").expect("app");
    agree(
        "pool wait",
        part("pool_wait"),
        app.figure("pool(db)_wait_ms"),
        0.02,
    );
    let db = s.station("db.cpu").expect("db.cpu");
    agree("database queue", part("db_queue"), db.mean_wait_ms, 0.02);
    agree(
        "query service",
        part("db_service"),
        db.mean_sojourn_ms - db.mean_wait_ms,
        0.02,
    );
    let cpu = s.station("app.cpu").expect("app.cpu");
    agree(
        "CPU",
        part("cpu") + part("core_wait"),
        cpu.mean_sojourn_ms,
        0.02,
    );
    // The request waits for a connection longer than it waits for the CPU it needs:
    // the concurrency-bound picture the lesson teaches.
    assert!(part("pool_wait") > 10.0 * part("core_wait"), "{e:?}");
}

#[test]
fn retries_count_the_time_before_the_attempt_that_succeeded() {
    // One worker and no accept queue: an arrival that finds the worker busy is
    // rejected (a third of them, Erlang B at a = 0.5) and retried 20 ms later, so many
    // successful responses include earlier attempts. That time is in the breakdown.
    let sc = scenario(
        r#"Scenario(
            version: 1,
            seed: 3,
            run: (duration_secs: 220.0, warmup_secs: 20.0),
            endpoints: {"GET /": (steps: [Cpu(Exp(mean_ms: 10.0))])},
            components: [
                Client(id: "users", target: "app", arrivals: Poisson(rate_per_sec: 50.0),
                       retry: Fixed(max_retries: 5, delay_ms: 20.0)),
                App(id: "app", instances: 1, cores: 1,
                    concurrency: Threads(workers: 1), accept_queue: 0),
            ],
        )"#,
    );
    let s = run(&sc, 3);
    let e = &s.overall;
    let retries = e.breakdown_ms["retries"];
    // At least one retry (20 ms) for about a third of the successes.
    assert!(retries > 0.2 * 20.0, "retries {retries:.2} ms of {e:?}");
    let parts: f64 = e.breakdown_ms.values().sum();
    assert!(
        (parts - e.latency_ms.mean).abs() <= 0.01 * e.latency_ms.mean,
        "{parts} against {}",
        e.latency_ms.mean
    );
}

/// Over replications, the simulated mean wait of `station` lies inside its 99%
/// interval around the theory value reported beside it (averaged over the
/// replications, since each one predicts at its own measured load).
fn theory_beside_simulation(name: &str, secs: f64, station: &str, model: &str) {
    let sc = shortened(name, secs);
    let r = experiment::replicate(&sc, 20, &Control::default()).expect("runs");
    let sim = r
        .samples_of(&format!("stations.{station}.mean_wait_ms"))
        .expect("simulated wait");
    let theory = r
        .samples_of(&format!("stations.{station}.theory.wait_ms"))
        .expect("theory beside it");
    let shown: Vec<&str> = r
        .runs
        .iter()
        .filter_map(|s| s.station(station)?.theory.as_ref())
        .map(|t| t.model.as_str())
        .collect();
    assert!(
        shown.iter().all(|m| *m == model),
        "{name}: {station} should be read as {model}, shown {shown:?}"
    );
    let predicted = theory.iter().sum::<f64>() / theory.len() as f64;
    let simulated = Estimate::from_samples(sim, 0.99);
    assert!(
        simulated.contains(predicted),
        "{name}: {station} waits {:.3} ± {:.3} ms simulated, {model} says {predicted:.3} ms",
        simulated.mean,
        simulated.half_width
    );
}

#[test]
fn the_simulated_wait_agrees_with_erlang_c_on_the_textbook_queues() {
    theory_beside_simulation("mm1", 400.0, "server.cpu", "M/M/1 (Erlang C)");
    theory_beside_simulation("mmc", 400.0, "server.cpu", "M/M/4 (Erlang C)");
    theory_beside_simulation("tandem", 400.0, "app.cpu", "M/M/1 (Erlang C)");
    theory_beside_simulation("tandem", 400.0, "db.cpu", "M/M/1 (Erlang C)");
}

#[test]
fn the_simulated_wait_agrees_with_pollaczek_khinchine_on_constant_service() {
    theory_beside_simulation("md1", 400.0, "server.cpu", "M/D/1 (Pollaczek–Khinchine)");
}

#[test]
fn held_resources_get_no_queueing_formula_and_approximations_say_so() {
    let s = run(&bundled("three_tier"), 42);
    // Worker threads and pool connections are held while their holder waits on
    // something else: no M/M/c formula describes them.
    assert!(s.station("app.workers").expect("workers").theory.is_none());
    assert!(
        s.station("app.pool(postgres)")
            .expect("pool")
            .theory
            .is_none()
    );
    // Four instances behind a round robin: each one's cores see every fourth arrival
    // (not Poisson), so the prediction is per instance and approximate.
    let t = s
        .station("app.cpu")
        .expect("app cpu")
        .theory
        .clone()
        .expect("theory");
    assert!(!t.exact, "{t:?}");
    assert!(t.model.contains("approximate"), "{t:?}");
    assert!((t.copies - 4.0).abs() < 1e-9, "{t:?}");
    assert!(t.arrival_scv < 0.9, "{t:?}");
}
