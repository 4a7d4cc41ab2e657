//! A scenario plus a seed determines a run exactly, however it is driven.

use bottleneck::engine::{Advance, Simulation};
use bottleneck::model::{self, ComponentSpec};
use bottleneck::report;
use bottleneck::sim::SimTime;

use crate::util::{bundled, run, valid};

#[test]
fn same_scenario_and_seed_give_byte_identical_json() {
    let sc = bundled("three_tier");
    let a = report::json(&run(&sc, 7));
    let b = report::json(&run(&sc, 7));
    assert_eq!(a, b);
}

#[test]
fn different_seeds_give_different_results() {
    let sc = bundled("three_tier");
    assert_ne!(report::json(&run(&sc, 7)), report::json(&run(&sc, 8)));
}

#[test]
fn one_run_equals_the_same_run_in_1000_chunks() {
    let sc = bundled("three_tier");
    let whole = report::json(&run(&sc, 3));

    let mut sim = Simulation::with_seed(&sc, 3);
    let end = sim.end().nanos();
    for k in 1..=1000u64 {
        sim.advance_until(SimTime(end / 1000 * k), u64::MAX);
    }
    sim.run_to_end();
    assert_eq!(whole, report::json(&sim.summary()), "chunked by time");

    // Chunked by an event budget, as a frame loop with a time budget would.
    let mut sim = Simulation::with_seed(&sc, 3);
    let mut calls = 0;
    while sim.advance_until(sim.end(), 97) != Advance::Finished {
        calls += 1;
    }
    assert!(
        calls > 1000,
        "the budget really chunked the run ({calls} calls)"
    );
    assert_eq!(
        whole,
        report::json(&sim.summary()),
        "chunked by event budget"
    );

    // And one event at a time for a while.
    let mut sim = Simulation::with_seed(&sc, 3);
    for _ in 0..10_000 {
        sim.step();
    }
    sim.run_to_end();
    assert_eq!(whole, report::json(&sim.summary()), "stepped");
}

#[test]
fn time_series_do_not_depend_on_chunking() {
    let sc = bundled("three_tier");
    let mut a = Simulation::with_seed(&sc, 5);
    a.run_to_end();
    let mut b = Simulation::with_seed(&sc, 5);
    while b.advance_until(b.end(), 1234) != Advance::Finished {}
    assert_eq!(a.series().times, b.series().times);
    assert_eq!(
        format!("{:?}", a.series().columns),
        format!("{:?}", b.series().columns)
    );
    assert!(a.series().len() >= 100, "one point per simulated second");
}

/// Two independent chains (client → app) in one scenario. Adding a third, unrelated
/// chain must leave the first chain's results bit for bit unchanged: randomness is keyed
/// by component id, not by position or registration order.
#[test]
fn adding_an_unrelated_component_leaves_other_streams_unchanged() {
    let text = r#"Scenario(
        version: 1,
        run: (duration_secs: 60.0, warmup_secs: 5.0),
        endpoints: {
            "a": (steps: [Cpu(Exp(mean_ms: 5.0)), External(Exp(mean_ms: 3.0))]),
            "b": (steps: [Cpu(LogNormal(mean_ms: 4.0, cv: 2.0))]),
        },
        components: [
            Client(id: "ca", target: "app_a", arrivals: Poisson(rate_per_sec: 150.0), mix: [("a", 1.0)]),
            App(id: "app_a", instances: 2, cores: 1),
            Client(id: "cb", target: "app_b", arrivals: Poisson(rate_per_sec: 100.0), mix: [("b", 1.0)]),
            App(id: "app_b", cores: 1),
        ],
    )"#;
    let base = model::load_str(text).expect("valid");
    let before = run(&base, 11);

    let mut extended = base.into_inner();
    // Insert the new chain at the front so that positions of everything else shift too.
    let extra: Vec<ComponentSpec> = model::load_str(
        r#"Scenario(version: 1, endpoints: {"x": (steps: [Cpu(Exp(mean_ms: 1.0))])},
           components: [
               Client(id: "cx", target: "app_x", arrivals: Poisson(rate_per_sec: 500.0), mix: [("x", 1.0)]),
               App(id: "app_x"),
           ])"#,
    )
    .expect("valid")
    .into_inner()
    .components;
    extended.components.splice(0..0, extra);
    extended.endpoints.insert(
        "x".into(),
        model::Endpoint {
            steps: vec![model::Step::Cpu(model::Dist::Exp { mean_ms: 1.0 })],
            memory_mb: 0.0,
        },
    );
    let after = run(&valid(extended), 11);

    for ep in ["a", "b"] {
        let (x, y) = (&before.endpoints[ep], &after.endpoints[ep]);
        assert_eq!(x.ok, y.ok, "{ep}: completions changed");
        assert_eq!(
            format!("{:?}", x.latency_ms),
            format!("{:?}", y.latency_ms),
            "{ep}: latencies changed"
        );
    }
    for id in ["app_a", "app_b"] {
        assert_eq!(
            format!("{:?}", before.component(id).expect("present").figures),
            format!("{:?}", after.component(id).expect("present").figures),
            "{id} changed"
        );
    }
}

/// Recording the chart series or not changes nothing of a run's summary, to the bit, for
/// every bundled scenario (changes, faults, autoscalers and queues included): the window
/// and `run --series` sample, `run` and the replications do not.
#[test]
fn a_run_without_chart_series_gives_the_same_summary() {
    use bottleneck::engine::Record;
    for name in crate::util::bundled_names() {
        let sc = bundled(&name);
        let mut with = Simulation::recording(&sc, 5, Record::Series);
        let mut without = Simulation::recording(&sc, 5, Record::Summary);
        with.run_to_end();
        without.run_to_end();
        assert!(!with.series().times.is_empty(), "{name}: sampled");
        assert!(without.series().times.is_empty(), "{name}: not sampled");
        assert_eq!(
            report::json(&with.summary()),
            report::json(&without.summary()),
            "{name}"
        );
    }
}

/// Chart samples read only the instances that may have changed since the last one
/// (quiet ones add their capacity): every series of every bundled scenario (changes,
/// faults, crashes, autoscaling, draining included) is what a sample of every instance
/// gives, to rounding in the last bits (sums in another order).
#[test]
fn lazy_chart_sampling_gives_the_series_a_sample_of_every_instance_gives() {
    use bottleneck::engine::Record;
    for name in crate::util::bundled_names() {
        let sc = bundled(&name);
        let mut lazy = Simulation::recording(&sc, 3, Record::Series);
        let mut full = Simulation::recording(&sc, 3, Record::Series);
        full.sample_every_instance();
        lazy.run_to_end();
        full.run_to_end();
        let (a, b) = (lazy.series(), full.series());
        assert_eq!(a.names, b.names, "{name}");
        assert_eq!(a.times, b.times, "{name}");
        for ((scope, metric), (x, y)) in a.names.iter().zip(a.columns.iter().zip(&b.columns)) {
            for (t, (x, y)) in a.times.iter().zip(x.iter().zip(y)) {
                let same = (x.is_nan() && y.is_nan())
                    || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
                assert!(
                    same,
                    "{name}: {scope}.{metric} at {t} s: {x} lazily, {y} in full"
                );
            }
        }
    }
}

/// With many idle instances, a sample reads the few that had traffic: 800 req/s over
/// 5,000 instances leaves most of them without a request in any one second.
#[test]
fn a_chart_sample_reads_the_busy_instances_not_the_whole_tier() {
    let sc = bottleneck::model::load_str(
        r#"Scenario(
    version: 1,
    name: "5000 instances",
    run: (duration_secs: 30.0, warmup_secs: 0.0),
    endpoints: { "GET /": (steps: [Cpu(Exp(mean_ms: 2.0))]) },
    components: [
        Client(id: "users", target: "lb", arrivals: Poisson(rate_per_sec: 800.0)),
        LoadBalancer(id: "lb", backends: ["app"]),
        App(id: "app", instances: 5000, cores: 1, concurrency: Threads(workers: 8)),
    ],
)"#,
    )
    .expect("valid");
    let mut sim = Simulation::new(&sc);
    sim.run_to_end();
    // About 800 instances take a request in a second; a few are busy at the sample.
    assert!(
        sim.instances_awake() < 1_500,
        "{} instances read by the next sample",
        sim.instances_awake()
    );
    let cpu = sim
        .series()
        .column("app", "cpu_util")
        .expect("the tier's CPU");
    let mean = cpu[5..].iter().sum::<f64>() / cpu[5..].len() as f64;
    // 800 req/s × 2 ms over 5,000 cores: 0.032 % busy.
    assert!(
        (mean - 1.6 / 5000.0).abs() < 0.2 * 1.6 / 5000.0,
        "cpu {mean}"
    );
}

/// Nothing counted before the warm-up reaches the summary, for every meter the summary
/// reads: a run measured from its warm-up `w` counts exactly what the same run measured
/// from zero counts by its end, less what it had counted by `w` (the two runs differ only
/// by the warm-up's mark, so their events are the same). A meter left out of the warm-up
/// mark would report its whole run and fail here.
#[test]
fn nothing_before_the_warm_up_leaks_into_the_summary() {
    use bottleneck::engine::Record;
    for name in crate::util::bundled_names() {
        let mut from_zero = bundled(&name).into_inner();
        let w = if from_zero.run.warmup_secs > 0.0 {
            from_zero.run.warmup_secs
        } else {
            (from_zero.run.duration_secs / 3.0).round()
        };
        let mut measured = from_zero.clone();
        measured.run.warmup_secs = w;
        from_zero.run.warmup_secs = 0.0;
        let (measured, from_zero) = (valid(measured), valid(from_zero));

        let mut a = Simulation::recording(&measured, 9, Record::Summary);
        a.run_to_end();
        let a = a.summary();
        let mut b = Simulation::recording(&from_zero, 9, Record::Summary);
        // Events at `w` itself come after the warm-up's mark in `a`.
        b.advance_until(SimTime(SimTime::from_secs_f64(w).nanos() - 1), u64::MAX);
        let before = b.summary();
        b.run_to_end();
        let all = b.summary();

        let span = |s: &bottleneck::metrics::Summary| s.measured_secs;
        assert!(
            (span(&a) - (span(&all) - w)).abs() < 1e-6,
            "{name}: measured time"
        );
        let counts = |s: &bottleneck::metrics::Summary| {
            let mut c: Vec<(String, u64)> = vec![
                ("offered".into(), s.overall.offered),
                ("user_requests".into(), s.overall.user_requests),
                ("retries".into(), s.overall.retries),
                ("user_failures".into(), s.overall.user_failures),
                ("ok".into(), s.overall.ok),
            ];
            for (cause, n) in &s.overall.errors {
                c.push((format!("errors.{cause}"), *n));
            }
            for q in &s.queries {
                c.push((format!("queries.{}.{}", q.db, q.query), q.count));
            }
            c.into_iter().collect::<std::collections::BTreeMap<_, _>>()
        };
        let (a_counts, before_counts, all_counts) = (counts(&a), counts(&before), counts(&all));
        for (figure, n) in &all_counts {
            let expected = n - before_counts.get(figure).copied().unwrap_or(0);
            assert_eq!(
                a_counts.get(figure).copied().unwrap_or(0),
                expected,
                "{name}: {figure}"
            );
        }
        // Every station's time-weighted levels and departures: their integrals since the
        // warm-up.
        let close = |got: f64, total: f64| (got - total).abs() <= 1e-6 * total.abs().max(1.0);
        for (st_all, (st_before, st_a)) in all
            .stations
            .iter()
            .zip(before.stations.iter().zip(&a.stations))
        {
            type Figure = fn(&bottleneck::metrics::summary::StationReport) -> f64;
            let figures: [(&str, Figure); 3] = [
                ("mean_queue", |s| s.mean_queue),
                ("mean_in_system", |s| s.mean_in_system),
                ("throughput_per_sec", |s| s.throughput_per_sec),
            ];
            for (figure, of) in figures {
                let total = of(st_all) * span(&all) - of(st_before) * span(&before);
                let got = of(st_a) * span(&a);
                assert!(
                    close(got, total),
                    "{name}: {} {figure}: {got} since the warm-up, against {total}",
                    st_all.name
                );
            }
        }
        // Every rate of a component: what it counted since the warm-up, over that time.
        for (c_all, (c_before, c_a)) in all
            .components
            .iter()
            .zip(before.components.iter().zip(&a.components))
        {
            for (figure, rate) in &c_all.figures {
                if !figure.ends_with("_per_sec") {
                    continue;
                }
                let total = rate * span(&all) - c_before.figure(figure) * span(&before);
                let got = c_a.figure(figure) * span(&a);
                assert!(
                    close(got, total),
                    "{name}: {} {figure}: {got} counted since the warm-up, against {total}",
                    c_all.id
                );
            }
        }
    }
}
