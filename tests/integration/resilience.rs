//! Resilience levers behave the way a user relies on: retries amplify an overload,
//! backoff with jitter and retry budgets contain it.

use bottleneck::engine::Simulation;
use bottleneck::model::{ComponentSpec, Retry, ValidScenario};

use crate::util::{bundled, valid};

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
    let set = sim.series();
    set.times
        .iter()
        .zip(set.column("", metric).expect("series"))
        .filter(|(t, _)| **t > from && **t <= to)
        .map(|(_, v)| *v)
        .fold(0.0, f64::max)
}

fn mean(sim: &Simulation, metric: &str, from: f64, to: f64) -> f64 {
    let set = sim.series();
    let v: Vec<f64> = set
        .times
        .iter()
        .zip(set.column("", metric).expect("series"))
        .filter(|(t, _)| **t > from && **t <= to)
        .map(|(_, v)| *v)
        .collect();
    v.iter().sum::<f64>() / v.len() as f64
}

fn run(sc: &ValidScenario) -> Simulation {
    let mut sim = Simulation::new(sc);
    sim.run_to_end();
    sim
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
