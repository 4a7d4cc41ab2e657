//! What a topology costs: the sum of its components' prices, time-weighted while
//! instances come and go, and per million requests served.

use bottleneck::engine::Simulation;
use bottleneck::model::{ComponentSpec, defaults};
use bottleneck::sim::SimTime;

use crate::util::{bundled, run, valid};

#[test]
fn cost_is_the_sum_of_prices_and_estimates_from_cores() {
    let mut s = bundled("three_tier").into_inner();
    s.run.duration_secs = 60.0;
    s.run.warmup_secs = 10.0;
    for c in &mut s.components {
        if let ComponentSpec::App(a) = c {
            a.price_per_hour = Some(0.25);
        }
    }
    let summary = run(&valid(s.clone()), 1);
    // 4 instances at $0.25; postgres: 2 nodes × 8 cores × $0.10; redis: 1 server × $0.07;
    // the load balancer $0.025.
    let expected = 4.0 * 0.25
        + 2.0 * 8.0 * defaults::DB_PRICE_PER_CORE_HOUR
        + defaults::CACHE_PRICE_PER_SERVER_HOUR
        + defaults::lb_price();
    assert!(
        (summary.cost.per_hour - expected).abs() < 1e-9,
        "{} vs {expected}",
        summary.cost.per_hour
    );
    let served_per_hour = summary.overall.throughput_per_sec * 3600.0;
    let per_million = expected / served_per_hour * 1e6;
    assert!((summary.cost.per_million_requests - per_million).abs() < 1e-9 * per_million);
    assert_eq!(
        summary
            .component("app")
            .expect("app")
            .figure("cost_per_hour"),
        1.0
    );
}

#[test]
fn scaling_out_mid_run_costs_for_the_time_the_instances_were_up() {
    let mut s = bundled("three_tier").into_inner();
    s.run.duration_secs = 100.0;
    s.run.warmup_secs = 0.0;
    for c in &mut s.components {
        if let ComponentSpec::App(a) = c {
            a.price_per_hour = Some(1.0);
            a.startup_secs = 0.0;
        }
    }
    let sc = valid(s);
    let mut sim = Simulation::new(&sc);
    sim.advance_until(SimTime::from_secs_f64(50.0), u64::MAX);
    sim.change("app", vec![("instances".into(), "8".into())])
        .expect("live");
    sim.run_to_end();
    let app = sim
        .summary()
        .component("app")
        .expect("app")
        .figure("cost_per_hour");
    // 4 instances for 50 s, then 8 for 50 s: 6 on average.
    assert!((app - 6.0).abs() < 1e-6, "app tier cost {app}");
}
