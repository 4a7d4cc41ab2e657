//! App instances as a user relies on them: memory per request can crash an instance
//! (and it comes back after its startup time), and where sessions live decides what a
//! crash costs the users.

use bottleneck::engine::Simulation;
use bottleneck::model::{ComponentSpec, Concurrency, Dist, Policy, SessionStore, ValidScenario};

use crate::util::{bundled, figure, run_sim as run, valid};
use bottleneck::sim::math;

/// A bundled scenario with its app tier(s) changed by `f`.
fn with_app(name: &str, f: impl Fn(&mut bottleneck::model::AppSpec)) -> ValidScenario {
    let mut s = bundled(name).into_inner();
    for c in &mut s.components {
        if let ComponentSpec::App(a) = c {
            f(a);
        }
    }
    valid(s)
}

/// The value of a tier series at the last sample at or before `t` seconds.
fn at(sim: &Simulation, scope: &str, metric: &str, t: f64) -> f64 {
    let set = sim.series();
    let col = set.column(scope, metric).expect("series");
    set.times
        .iter()
        .zip(col)
        .rfind(|(time, _)| **time <= t + 1e-9)
        .map_or(0.0, |(_, v)| *v)
}

#[test]
fn killing_an_instance_logs_out_the_users_whose_sessions_it_held() {
    let sim = run(&bundled("sessions"));
    // Sticky routing: nobody is logged out before the crash at 40 s.
    assert_eq!(at(&sim, "app", "sessions_lost", 39.0), 0.0);
    // The crash loses the sessions its instance held: 2,000 users, each seen by 40 s with
    // probability 1 − exp(−8000/2000) (8,000 requests so far), one in four on it.
    let lost = at(&sim, "app", "sessions_lost", 41.0);
    let n = 2000.0 * (1.0 - math::exp(-4.0f64));
    let (mean, sd) = (n * 0.25, (n * 0.25 * 0.75).sqrt());
    assert!(
        (lost - mean).abs() < 5.0 * sd,
        "lost {lost}, expected {mean} ± {sd}"
    );
    // The crash failed the requests it was running, not more.
    let s = sim.summary();
    assert!(s.overall.errors["crashed"] < 10);
}

#[test]
fn an_external_session_store_loses_no_session_when_an_instance_dies() {
    let sim = run(&with_app("sessions", |a| {
        a.sessions = SessionStore::External {
            lookup: Dist::Constant { ms: 0.5 },
        };
    }));
    // Nothing is kept in the instances, so nothing is lost (the figure says 0, so the
    // two stores compare; no chart series draws a line at zero).
    assert_eq!(figure(&sim, "app", "sessions_lost"), 0.0);
    assert!(sim.series().column("app", "sessions_lost").is_none());
    assert_eq!(figure(&sim, "app", "crashes"), 1.0);
    // Every request pays the lookup: the mean latency grows by its 0.5 ms.
    let with_store = sim.summary().overall.latency_ms.mean;
    let in_memory = run(&bundled("sessions")).summary().overall.latency_ms.mean;
    let extra = with_store - in_memory;
    assert!((extra - 0.5).abs() < 0.1, "lookup adds {extra} ms");
}

#[test]
fn in_memory_sessions_without_sticky_routing_log_users_out_all_the_time() {
    let mut s = bundled("sessions").into_inner();
    s.faults.clear();
    for c in &mut s.components {
        if let ComponentSpec::LoadBalancer(lb) = c {
            lb.policy = Policy::RoundRobin;
        }
    }
    let sim = run(&valid(s));
    // Round robin over four instances: a user's next request lands on the instance that
    // holds its session one time in four (roughly: round robin is not random).
    let lost = figure(&sim, "app", "sessions_lost");
    let requests = sim.summary().overall.ok as f64;
    assert!(
        lost > 0.5 * requests,
        "{lost} of {requests} requests logged out"
    );
}

#[test]
fn requests_beyond_an_instances_memory_crash_it_and_it_restarts_after_its_startup_time() {
    let sim = run(&bundled("memory"));
    let s = sim.summary();
    assert!(figure(&sim, "app", "out_of_memory_crashes") >= 1.0);
    assert!(s.overall.errors["out_of_memory"] > 0);
    // No crash before the spike: 80 requests of 4 MB per instance fit in 768 MB.
    let instances = |t: f64| at(&sim, "app", "instances", t);
    assert_eq!(instances(29.0), 2.0);
    // Crashed instances come back: the tier is whole again after the spike.
    assert_eq!(instances(90.0), 2.0);
    // It never holds more than its memory: a request going over crashes it instead.
    let peak = figure(&sim, "app", "memory_peak_mb");
    assert!(peak <= 1024.0 + 4.0, "peak {peak} MB");
}

#[test]
fn capping_in_flight_requests_to_what_memory_holds_prevents_the_crash() {
    let sim = run(&with_app("memory", |a| {
        a.concurrency = Concurrency::Async { max_in_flight: 150 };
    }));
    assert_eq!(figure(&sim, "app", "out_of_memory_crashes"), 0.0);
    assert_eq!(figure(&sim, "app", "crashes"), 0.0);
    // 256 MB + 150 × 4 MB.
    assert!(figure(&sim, "app", "memory_peak_mb") <= 856.0);
    // The overload is refused at the door instead.
    assert!(sim.summary().overall.errors["rejected"] > 0);
}

#[test]
fn thread_stacks_count_against_memory_so_more_threads_can_crash_an_instance() {
    // thread_per_request: 150 threads of 10 MB and a 256 MB process leave 292 MB of
    // the 2 GB for requests of 1 MB: 150 at most in flight, they fit.
    let sim = run(&bundled("thread_per_request"));
    assert_eq!(figure(&sim, "app", "out_of_memory_crashes"), 0.0);
    let peak = figure(&sim, "app", "memory_peak_mb");
    assert!((1756.0..=1906.0).contains(&peak), "peak {peak} MB");
    // 175 threads: 2,006 MB before any request, so 42 of them crash the instance.
    let sim = run(&with_app("thread_per_request", |a| {
        a.concurrency = Concurrency::Threads { workers: 175 };
    }));
    assert!(figure(&sim, "app", "out_of_memory_crashes") >= 1.0);
    // The same memory as an event loop holds every waiting request.
    let sim = run(&with_app("thread_per_request", |a| {
        a.concurrency = Concurrency::Async {
            max_in_flight: 1400,
        };
    }));
    assert_eq!(figure(&sim, "app", "out_of_memory_crashes"), 0.0);
    assert_eq!(sim.summary().overall.user_failures, 0);
}

#[test]
fn stacks_that_fill_the_memory_before_any_request_are_refused_with_the_reason() {
    let mut s = bundled("thread_per_request").into_inner();
    let more: bottleneck::model::overrides::Override =
        "app.concurrency.workers=200".parse().expect("override");
    bottleneck::model::overrides::apply(&mut s, &[more]).expect("a valid count");
    let message = bottleneck::model::validate(s)
        .map(|_| ())
        .expect_err("200 stacks of 10 MB and the process exceed 2 GB")
        .to_string();
    assert!(
        message.contains("thread_stack_mb") && message.contains("stacks"),
        "{message}"
    );
}
