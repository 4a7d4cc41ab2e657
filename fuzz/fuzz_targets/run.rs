//! Any bytes as a scenario file, and if it is valid, a bounded run of it: no panic, no
//! stall, no utilisation or share above 1, no figure that is not a number, and state
//! within the scenario's budget estimate.
#![no_main]

use bottleneck::engine::{Advance, Simulation};
use bottleneck::sim::SimTime;
use libfuzzer_sys::fuzz_target;

/// Events per input: enough to fill queues and trip faults, short enough to stay fast.
const EVENTS: u64 = 20_000;
/// Chart samples per input (each one visits every instance).
const SAMPLES: f64 = 50.0;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = bottleneck::model::load_str(text) else {
        return;
    };
    let mut sim = Simulation::new(&scenario);
    let brief = SimTime::from_secs_f64(scenario.run.sample_interval_secs * SAMPLES);
    let state = sim.advance_until(brief.min(sim.end()), EVENTS);
    assert_ne!(state, Advance::Stalled, "{:?}", sim.stall());
    let summary = sim.summary();
    let share = |name: &str| {
        name.ends_with("util")
            || name.ends_with("_share")
            || (name.ends_with("ratio") && name != "hot_shard_ratio")
            || name.ends_with("error_rate")
    };
    for c in &summary.components {
        for (name, x) in &c.figures {
            assert!(x.is_finite() && *x >= 0.0, "{} {name} = {x}", c.id);
            assert!(!share(name) || *x <= 1.0 + 1e-9, "{} {name} = {x}", c.id);
        }
    }
    for s in &summary.saturation {
        assert!(
            (0.0..=1.0 + 1e-9).contains(&s.utilization),
            "{} = {}",
            s.resource,
            s.utilization
        );
    }
    for st in &summary.stations {
        assert!(
            st.utilization <= 1.0 + 1e-9 && st.p_wait <= 1.0 + 1e-9,
            "{st:?}"
        );
        assert!(
            st.mean_in_system >= 0.0 && st.mean_sojourn_ms >= 0.0,
            "{st:?}"
        );
    }
    let json = bottleneck::report::json(&summary);
    assert!(!json.contains("null"), "a figure is not a number:\n{json}");
    let estimate = bottleneck::model::budget::estimate(&scenario);
    let f = sim.footprint();
    assert!(
        f.requests as f64 <= estimate.requests,
        "{f:?} vs {estimate:?}"
    );
    assert!(
        f.instances as f64 <= estimate.instances,
        "{f:?} vs {estimate:?}"
    );
    assert!(
        f.cache_entries as f64 <= estimate.cache_entries,
        "{f:?} vs {estimate:?}"
    );
});
