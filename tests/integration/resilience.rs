//! Resilience levers behave the way a user relies on: retries amplify an overload,
//! backoff with jitter and retry budgets contain it.

use bottleneck::engine::Simulation;
use bottleneck::model::{ComponentSpec, Retry, ValidScenario};

use crate::util::{bundled, run_sim as run, series_mean, series_window, valid};

/// The retry-storm lesson with another retry policy and budget.
fn storm(retry: Retry, budget: Option<f64>) -> ValidScenario {
    let mut s = bundled("retry_storm").into_inner();
    for c in &mut s.components {
        if let ComponentSpec::Client(c) = c {
            c.retry = retry;
            c.retry_budget = budget;
        }
    }
    valid(s)
}

/// The largest per-second value of a global series between `from` and `to` seconds.
fn peak(sim: &Simulation, metric: &str, from: f64, to: f64) -> f64 {
    series_window(sim, "", metric, from, to)
        .into_iter()
        .fold(0.0, f64::max)
}

fn mean(sim: &Simulation, metric: &str, from: f64, to: f64) -> f64 {
    series_mean(sim, "", metric, from, to)
}

#[test]
fn retries_amplify_a_spike_backoff_lowers_the_peak_and_a_budget_ends_the_storm() {
    let immediate = run(&storm(Retry::Immediate { max_retries: 3 }, None));
    let backoff = run(&storm(
        Retry::Backoff {
            max_retries: 3,
            base_ms: 500.0,
            max_ms: 10_000.0,
            jitter: true,
        },
        None,
    ));
    let budget = run(&storm(Retry::Immediate { max_retries: 3 }, Some(0.1)));
    let none = run(&storm(Retry::None, None));
    let peak_offered = |s: &Simulation| peak(s, "offered_per_sec", 30.0, 120.0);
    let served_late = |s: &Simulation| mean(s, "ok_per_sec", 80.0, 120.0);

    // Immediate retries: a ten-second spike becomes a storm that outlives it. Every
    // attempt waits behind the retries and times out, so nothing useful is served.
    let amplification = immediate.summary().overall.amplification;
    assert!(amplification > 3.0, "attempts per request {amplification}");
    assert!(peak_offered(&immediate) > 3.0 * peak_offered(&none));
    assert!(
        served_late(&immediate) < 30.0,
        "{}",
        served_late(&immediate)
    );

    // Backoff with jitter spreads the retries: a lower peak (alone it cannot end a storm
    // in which every attempt times out).
    assert!(
        peak_offered(&backoff) < 0.85 * peak_offered(&immediate),
        "peak {} vs {}",
        peak_offered(&backoff),
        peak_offered(&immediate)
    );

    // A retry budget of 10% caps the amplification and the system recovers like one
    // whose clients never retry.
    let capped = budget.summary().overall.amplification;
    assert!(capped < 1.15, "attempts per request with a budget {capped}");
    assert!(
        served_late(&budget) > 0.9 * 300.0 && served_late(&none) > 0.9 * 300.0,
        "served after the spike: budget {}, none {}",
        served_late(&budget),
        served_late(&none)
    );
}

#[test]
fn a_rate_limiter_keeps_the_app_serving_in_time_through_the_spike() {
    let limited = run(&bundled("rate_limiting"));
    let storm = run(&bundled("retry_storm"));
    let served = |s: &Simulation, from, to| mean(s, "ok_per_sec", from, to);
    // During the spike the app serves about its capacity, not the storm's nothing.
    assert!(
        served(&limited, 31.0, 40.0) > 330.0,
        "{}",
        served(&limited, 31.0, 40.0)
    );
    // Right after the spike everything is served again.
    assert!(served(&limited, 45.0, 120.0) > 0.95 * 300.0);
    assert!(served(&storm, 45.0, 120.0) < 30.0);
    let s = limited.summary();
    assert!(
        s.overall.errors["rate_limited"] > 1_000,
        "{:?}",
        s.overall.errors
    );
    assert_eq!(
        s.overall.errors["client_timeout"], 0,
        "nothing waits until it times out"
    );
    let admitted = s
        .component("limiter")
        .expect("limiter")
        .figure("admitted_per_sec");
    assert!(admitted <= 370.0 + 40.0 / 120.0, "admitted {admitted}/s");
}

#[test]
fn load_shedding_bounds_what_is_in_flight_and_keeps_latency_short() {
    let mut s = bundled("three_tier").into_inner();
    for c in &mut s.components {
        match c {
            ComponentSpec::Client(c) => {
                c.arrivals = bottleneck::model::Arrivals::Poisson {
                    rate_per_sec: 3_000.0,
                };
                c.timeout_ms = None;
            }
            ComponentSpec::LoadBalancer(lb) => lb.max_in_flight = Some(40),
            _ => {}
        }
    }
    s.run.duration_secs = 60.0;
    let shed = run(&valid(s.clone()));
    for c in &mut s.components {
        if let ComponentSpec::LoadBalancer(lb) = c {
            lb.max_in_flight = None;
        }
    }
    let queued = run(&valid(s));
    let (a, b) = (shed.summary(), queued.summary());
    assert!(a.overall.errors["shed"] > 10_000, "{:?}", a.overall.errors);
    assert!(mean(&shed, "in_flight", 20.0, 60.0) <= 40.0);
    assert!(
        a.overall.latency_ms.p99 < 0.5 * b.overall.latency_ms.p99,
        "p99 with shedding {} ms, without {} ms",
        a.overall.latency_ms.p99,
        b.overall.latency_ms.p99
    );
}

fn series(sim: &Simulation, scope: &str, metric: &str) -> Vec<(f64, f64)> {
    let set = sim.series();
    set.times
        .iter()
        .copied()
        .zip(set.column(scope, metric).expect("series").iter().copied())
        .collect()
}

#[test]
fn the_autoscaler_stays_within_bounds_and_helps_only_after_interval_and_warm_up() {
    let sc = bundled("autoscaling");
    let sim = run(&sc);
    let instances = series(&sim, "app", "instances");
    assert!(
        instances.iter().all(|(_, n)| (2.0..=8.0).contains(n)),
        "{instances:?}"
    );
    // The spike starts at 60 s; the autoscaler looks every 10 s; instances need 30 s.
    let first_up = instances
        .iter()
        .find(|(_, n)| *n > 2.0)
        .map(|(t, _)| *t)
        .expect("it scaled out");
    assert!(
        (60.0 + 30.0..=60.0 + 10.0 + 30.0 + 1.0).contains(&first_up),
        "first new instance took traffic at {first_up} s"
    );
    let peak = instances.iter().map(|(_, n)| *n).fold(0.0, f64::max);
    assert!(peak >= 5.0, "it scaled to {peak}");
    let last = instances.last().expect("samples").1;
    assert!(last < peak, "it scaled back in after the spike: {last}");

    // The same spike with a 2 s warm-up: latency during the spike stays far lower.
    let mut fast = sc.scenario().clone();
    for c in &mut fast.components {
        if let ComponentSpec::App(a) = c {
            a.startup_secs = 2.0;
        }
    }
    let quick = run(&valid(fast));
    let p99 = |s: &Simulation| {
        series(s, "", "p99_ms")
            .iter()
            .filter(|(t, _)| (60.0..120.0).contains(t))
            .map(|(_, v)| *v)
            .fold(0.0, f64::max)
    };
    assert!(
        p99(&quick) < 0.5 * p99(&sim),
        "worst p99 in the spike: warm-up 2 s {} ms, 30 s {} ms",
        p99(&quick),
        p99(&sim)
    );
}

#[test]
fn a_cdn_removes_its_share_of_the_load_from_the_origin() {
    let sc = bundled("cdn_offload");
    let s = run(&sc).summary();
    let cdn = s.component("cdn").expect("cdn");
    let (arrivals, origin) = (cdn.figure("arrivals_per_sec"), cdn.figure("origin_per_sec"));
    // The origin's share is binomial: 0.4 of ~132,000 requests, well within 1%.
    assert!(
        (origin / arrivals - 0.4).abs() < 0.01,
        "origin gets {origin:.0} of {arrivals:.0} req/s"
    );
    let app = s.component("app").expect("app");
    assert!((app.figure("throughput_per_sec") / origin - 1.0).abs() < 0.02);
    assert!(app.figure("cpu_util") < 0.75, "the origin keeps up");
    assert!(s.cost.per_hour > 0.0);

    // Without the edge, the origin saturates.
    let mut none = sc.scenario().clone();
    for c in &mut none.components {
        if let ComponentSpec::Cdn(c) = c {
            c.edge_share = 0.0;
        }
    }
    let s = run(&valid(none)).summary();
    assert!(s.component("app").expect("app").figure("cpu_util") > 0.95);
}
