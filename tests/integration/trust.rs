//! What a user must be able to trust of any scenario that validates: figures that
//! cannot be impossible (utilisation and shares within [0, 1] through crashes, restarts
//! and live changes), runs that never stall, and state that stays within its budget.

use bottleneck::engine::Simulation;
use bottleneck::model::Fault;
use bottleneck::sim::SimTime;

use crate::util::{bundled, impossible_figures, run_sim, scenario};

/// One app instance with 2 cores and 4 threads, overloaded by long CPU steps and
/// queries: every resource is full when something happens to it.
const BUSY_APP: &str = r#"Scenario(
    version: 1,
    run: (duration_secs: 10.0, warmup_secs: 0.0, sample_interval_secs: 0.1),
    endpoints: {
        "work": (steps: [
            Cpu(Constant(ms: 400.0)),
            Read(db: "db", query: "q"),
            Enqueue(queue: "jobs", job: "bg"),
        ]),
        "bg": (steps: [External(Constant(ms: 900.0))]),
    },
    components: [
        Client(id: "users", target: "app", arrivals: Poisson(rate_per_sec: 20.0),
               mix: [("work", 1.0)]),
        App(id: "app", instances: 1, cores: 2, concurrency: Threads(workers: 4),
            accept_queue: 50, startup_secs: 2.0,
            pools: [(db: "db", mode: Pooled(size: 2, acquire_timeout_ms: 5000.0))]),
        Database(id: "db", cores: 1, queries: {"q": (cost: Constant(ms: 300.0))}),
        Queue(id: "jobs", workers: "worker", consumers: 4),
        App(id: "worker", instances: 1, cores: 1, concurrency: Threads(workers: 8)),
    ],
)"#;

#[test]
fn utilisation_stays_within_one_when_an_instance_crashes_with_work_in_progress() {
    // Before the fix, a crash took the instance's cores and threads out of capacity at
    // once while the requests it held went on using them: cpu_util read above 1.
    let mut sim = Simulation::new(&scenario(BUSY_APP));
    sim.advance_until(SimTime::from_secs_f64(1.05), u64::MAX);
    sim.inject(Fault::KillInstances {
        tier: "app".into(),
        count: 1,
    })
    .expect("inject");
    sim.run_to_end();
    let bad = impossible_figures(&sim);
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(
        sim.summary()
            .component("app")
            .expect("app")
            .figure("crashes"),
        1.0
    );
}

#[test]
fn utilisation_stays_within_one_when_resources_shrink_while_busy() {
    let mut sim = Simulation::new(&scenario(BUSY_APP));
    sim.advance_until(SimTime::from_secs_f64(2.0), u64::MAX);
    sim.change(
        "app",
        vec![
            ("cores".into(), "1".into()),
            ("concurrency.workers".into(), "1".into()),
            ("pools[0].mode.size".into(), "1".into()),
        ],
    )
    .expect("change app");
    sim.change("db", vec![("cores".into(), "1".into())])
        .expect("change db");
    sim.change("jobs", vec![("consumers".into(), "1".into())])
        .expect("change jobs");
    sim.run_to_end();
    let bad = impossible_figures(&sim);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn out_of_memory_crashes_leave_every_figure_possible() {
    let sim = run_sim(&bundled("memory"));
    assert!(
        sim.summary()
            .component("app")
            .map(|c| c.figure("out_of_memory_crashes"))
            > Some(0.0),
        "the memory lesson crashes instances"
    );
    let bad = impossible_figures(&sim);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn a_rate_limiter_spending_its_burst_is_at_most_fully_used() {
    // Before the fix its saturation was admitted ÷ rate: a full burst of 100 spent in
    // a 2-second run at 10 req/s read 6.0 (600 %).
    let sc = scenario(
        r#"Scenario(
            version: 1,
            run: (duration_secs: 2.0, warmup_secs: 0.0, sample_interval_secs: 0.5),
            endpoints: {"GET /": (steps: [Cpu(Constant(ms: 1.0))])},
            components: [
                Client(id: "users", target: "limit", arrivals: Poisson(rate_per_sec: 1000.0)),
                RateLimiter(id: "limit", target: "app", rate_per_sec: 10.0, burst: 100.0),
                App(id: "app", cores: 4),
            ],
        )"#,
    );
    let sim = run_sim(&sc);
    let util = sim
        .summary()
        .component("limit")
        .expect("limit")
        .figure("util");
    assert!(util > 0.95, "the limiter admitted all it could: {util}");
    let bad = impossible_figures(&sim);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn lowering_max_connections_below_those_open_reads_at_most_full() {
    let sc = scenario(
        r#"Scenario(
            version: 1,
            run: (duration_secs: 6.0, warmup_secs: 0.0, sample_interval_secs: 0.5),
            endpoints: {"GET /": (steps: [Read(db: "db", query: "q")])},
            components: [
                Client(id: "users", target: "app", arrivals: Poisson(rate_per_sec: 400.0)),
                App(id: "app", instances: 4, cores: 4,
                    pools: [(db: "db", mode: Pooled(size: 10, acquire_timeout_ms: 1000.0))]),
                Database(id: "db", cores: 8, max_connections: 100,
                         queries: {"q": (cost: Exp(mean_ms: 10.0))}),
            ],
        )"#,
    );
    let mut sim = Simulation::new(&sc);
    sim.advance_until(SimTime::from_secs_f64(2.0), u64::MAX);
    sim.change("db", vec![("max_connections".into(), "5".into())])
        .expect("change");
    sim.run_to_end();
    let bad = impossible_figures(&sim);
    assert!(bad.is_empty(), "{bad:#?}");
}
