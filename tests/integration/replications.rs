//! Replications give intervals that mean what they say: over many independent
//! experiments, a 95% interval contains the exact value about 95% of the time; the
//! results do not depend on the number of threads; the precision mode stops when its
//! intervals are tight enough.

use bottleneck::experiment::{self, Control, Replicated};
use bottleneck::model::ValidScenario;
use bottleneck::theory::Mmc;

use crate::util::{bundled, valid};

/// A bundled textbook queue, shortened to `secs` (warm-up 10 s), with seed `seed`.
fn short(name: &str, secs: f64, seed: u64) -> ValidScenario {
    let mut s = bundled(name).into_inner();
    s.run.duration_secs = secs;
    s.run.warmup_secs = 10.0;
    s.seed = seed;
    valid(s)
}

/// The share of `experiments` independent experiments (seeds 1, 2, …) of 10
/// replications whose 95% interval of `figure` contains `exact`.
fn coverage(name: &str, secs: f64, experiments: u64, figure: &str, exact: f64) -> f64 {
    let hits = (1..=experiments)
        .filter(|seed| {
            let r = experiment::replicate(&short(name, secs, *seed), 10, &Control::default())
                .expect("runs");
            r.get(figure).expect("figure").contains(exact)
        })
        .count();
    hits as f64 / experiments as f64
}

#[test]
fn a_95_percent_interval_of_the_mm1_mean_response_covers_theory_about_95_percent_of_the_time() {
    // mm1.ron: λ = 80/s, μ = 100/s: mean response 1/(μ − λ) = 50 ms.
    let exact = Mmc {
        lambda: 80.0,
        mu: 100.0,
        c: 1,
    }
    .mean_response()
        * 1e3;
    // 200 experiments: a true 95% coverage lands in [0.91, 0.98] with probability
    // above 99% (binomial, standard deviation 0.015).
    let share = coverage("mm1", 300.0, 200, "overall.latency_ms.mean", exact);
    assert!((0.91..=0.98).contains(&share), "coverage {share}");
}

#[test]
fn a_95_percent_interval_of_the_mmc_p95_covers_erlang_c_about_95_percent_of_the_time() {
    // mmc.ron: λ = 320/s, μ = 100/s, c = 4: the response-time distribution is exact
    // (Erlang C), its 95th percentile too.
    let exact = Mmc {
        lambda: 320.0,
        mu: 100.0,
        c: 4,
    }
    .response_quantile(0.95)
        * 1e3;
    let share = coverage("mmc", 120.0, 200, "overall.latency_ms.p95", exact);
    assert!((0.91..=0.98).contains(&share), "coverage {share}");
}

/// Replications of the three-tier app, run on a pool of `threads` threads.
fn on_threads(threads: usize) -> Replicated {
    let sc = short("three_tier", 40.0, 42);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(|| experiment::replicate(&sc, 6, &Control::default()))
        .expect("runs")
}

#[test]
fn replications_give_the_same_figures_on_one_thread_and_on_two() {
    let (one, two) = (on_threads(1), on_threads(2));
    assert_eq!(
        bottleneck::report::replicated_json(&one),
        bottleneck::report::replicated_json(&two)
    );
}

#[test]
fn the_precision_mode_stops_when_its_intervals_are_tight_enough() {
    let sc = short("mm1", 200.0, 1);
    let (r, reached) =
        experiment::replicate_to_precision(&sc, 0.05, 5, 200, &Control::default()).expect("runs");
    assert!(reached, "{} replications", r.replications);
    assert!(r.precision_reached(0.05));
    let mean = r.get("overall.latency_ms.mean").expect("mean");
    assert!(mean.half_width <= 0.05 * mean.mean, "{mean:?}");
    // It stopped at the first batch that got there: five fewer were not enough.
    if r.replications > 5 {
        let fewer = Replicated::from_runs(r.runs[..r.replications - 5].to_vec());
        assert!(!fewer.precision_reached(0.05));
    }
    // A precision it cannot reach stops at the maximum.
    let (r, reached) =
        experiment::replicate_to_precision(&sc, 0.0001, 5, 12, &Control::default()).expect("runs");
    assert!(!reached);
    assert_eq!(r.replications, 12);
}

#[test]
fn an_objective_is_met_breached_or_undecided_by_where_its_interval_lies() {
    use bottleneck::experiment::{Decision, judge};
    use bottleneck::model::{Objective, Percentile, Slo};
    let r = experiment::replicate(&short("mm1", 200.0, 3), 10, &Control::default()).expect("runs");
    let p99 = *r.get("overall.latency_ms.p99").expect("p99");
    let below = |ms: f64| Slo {
        endpoint: None,
        objective: Objective::Latency {
            percentile: Percentile::P99,
            below_ms: ms,
        },
    };
    let hw = p99.half_width;
    assert_eq!(
        judge(&below(p99.mean + 2.0 * hw), &r).decision,
        Decision::Met
    );
    assert_eq!(
        judge(&below(p99.mean - 2.0 * hw), &r).decision,
        Decision::Breached
    );
    // Half a half-width away: undecided, and about 4× the replications would decide it
    // (the interval narrows as 1/√n), so about 30 more.
    let v = judge(&below(p99.mean + 0.5 * hw), &r);
    assert_eq!(v.decision, Decision::Undecided);
    let more = v.more_replications.expect("an estimate");
    assert!((25..=35).contains(&more), "{more}");
    // Throughput is judged from above.
    let above = |x: f64| Slo {
        endpoint: None,
        objective: Objective::Throughput { above_per_sec: x },
    };
    assert_eq!(judge(&above(70.0), &r).decision, Decision::Met);
    assert_eq!(judge(&above(90.0), &r).decision, Decision::Breached);
}

#[test]
fn the_capacity_search_on_mmc_brackets_the_load_exact_theory_gives() {
    use bottleneck::experiment::sweep::{self, Axis};
    // M/M/4, exponential 100 ms service, objective p99 < 1 s. Exact: the λ at which
    // P(response > 1 s) = 1% under Erlang C, by bisection on the exact distribution.
    let p_late = |lambda: f64| {
        Mmc {
            lambda,
            mu: 10.0,
            c: 4,
        }
        .response_survival(1.0)
    };
    let (mut lo, mut hi) = (1.0, 39.99);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if p_late(mid) > 0.01 {
            hi = mid
        } else {
            lo = mid
        }
    }
    let exact = 0.5 * (lo + hi);
    let base = crate::util::scenario(
        r#"Scenario(
            version: 1,
            seed: 11,
            run: (duration_secs: 600.0, warmup_secs: 20.0),
            endpoints: {"job": (steps: [Cpu(Exp(mean_ms: 100.0))])},
            components: [
                Client(id: "users", target: "server", arrivals: Poisson(rate_per_sec: 20.0)),
                App(id: "server", cores: 4, concurrency: Threads(workers: 10000),
                    accept_queue: 100000),
            ],
            slos: [(objective: Latency(percentile: P99, below_ms: 1000.0))],
        )"#,
    )
    .into_inner();
    // λ from 20 to 38 per second: the grid brackets the capacity …
    let axis: Axis = "load=1.0..1.9:10".parse().expect("an axis");
    let points =
        sweep::sweep(&base, std::slice::from_ref(&axis), 8, &Control::default()).expect("sweep");
    let (met, not_met) = sweep::bracket(&points, &axis).expect("a bracket");
    assert!(
        20.0 * met <= exact && exact <= 20.0 * not_met,
        "grid {met}..{not_met}, exact λ {exact}"
    );
    // … and refining it keeps the exact λ inside a bracket a few percent wide.
    let c = sweep::capacity(&base, met, not_met, 8, 0.02, &Control::default()).expect("capacity");
    let (a, b) = (
        c.met_per_sec.expect("open"),
        c.not_met_per_sec.expect("open"),
    );
    assert!(
        a <= exact && exact <= b,
        "capacity {a}..{b} req/s, exact {exact}"
    );
    assert!(b - a < 0.1 * exact, "capacity {a}..{b} req/s: too wide");
    assert!(
        b - a < 20.0 * (not_met - met),
        "refining narrowed the grid's bracket"
    );
}
