//! Endpoint scripts run as written: a `Repeat` whose count is drawn for each request
//! (a retry loop, a varying fan-out) runs its steps that many times on average, cut at
//! its maximum.

use bottleneck::stats::Estimate;

use crate::util::{run, scenario};

/// CPU steps per request, over 8 replications, for a script repeating one 1 ms CPU
/// step `times` times.
fn steps_per_request(times: &str) -> Estimate {
    let sc = scenario(&format!(
        r#"Scenario(
            version: 1,
            run: (duration_secs: 60.0, warmup_secs: 5.0),
            endpoints: {{"GET /": (steps: [Repeat(times: {times}, steps: [Cpu(Constant(ms: 1.0))])])}},
            components: [
                Client(id: "users", target: "web", arrivals: Poisson(rate_per_sec: 500.0)),
                App(id: "web", cores: 64),
            ],
        )"#
    ));
    let samples: Vec<f64> = (1..=8u64)
        .map(|seed| {
            let s = run(&sc, seed);
            let cpu = s.station("web.cpu").expect("cpu").throughput_per_sec;
            cpu / s.overall.throughput_per_sec
        })
        .collect();
    Estimate::from_samples(&samples, 0.999)
}

#[test]
fn drawn_repeat_counts_run_their_mean_number_of_times() {
    let q = 10.0 / 11.0;
    for (times, exact) in [
        ("3", 3.0),
        ("Geometric(mean: 2.0, max: 60)", 2.0),
        ("Poisson(mean: 5.0, max: 100)", 5.0),
        ("Uniform(min: 2, max: 4)", 3.0),
        // Cut at 3: E[min(K, 3)] = q + q² + q³ where q = 10/11 is the chance to go on.
        ("Geometric(mean: 10.0, max: 3)", q + q * q + q * q * q),
    ] {
        let est = steps_per_request(times);
        assert!(est.contains(exact), "{times}: {est:?}, exact {exact}");
        assert!(est.half_width < 0.02 * exact, "{times}: {est:?}");
    }
}
