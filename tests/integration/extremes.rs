//! Valid scenarios at the extremes of every range run without a panic, a stall or an
//! impossible figure, and hold no more than their budget estimate.
//!
//! Each case takes a bundled scenario and walks every parameter through the same
//! descriptions that validate and edit it (`model::params`), setting numbers to their
//! smallest, their largest or zero where allowed, switching forms (distributions,
//! arrival processes, concurrency models …) and flags; adds every fault each component
//! offers at the start and at the end of the run, and changes at both ends; keeps it
//! if it validates, and runs it briefly.

use bottleneck::edit;
use bottleneck::engine::{Advance, Simulation};
use bottleneck::model::{
    self, ComponentSpec, Meta, ParamList, ParamVisitor, Params, RefKind, Scenario, TimedChange,
    TimedFault,
};
use bottleneck::sim::SimTime;
use proptest::prelude::*;

use crate::util::{bundled, bundled_names, impossible_figures, within_estimate};

/// Sets each parameter it visits from a stream of choices: one in `odds` goes to an
/// extreme (so some cases change a few parameters, others most of them).
struct Extremes<'a> {
    choices: std::slice::Iter<'a, u8>,
    odds: u8,
}

impl Extremes<'_> {
    fn next(&mut self) -> u8 {
        self.choices.next().copied().unwrap_or(0)
    }

    /// Whether this parameter changes.
    fn changes(&mut self) -> bool {
        self.next().is_multiple_of(self.odds)
    }

    /// The smallest, the largest, zero where allowed, or the value as it was.
    fn pick(&mut self, meta: &Meta, current: f64) -> f64 {
        if !self.changes() {
            return current;
        }
        let largest = if meta.max.is_finite() { meta.max } else { 1e12 };
        match self.next() % 3 {
            0 => meta.min,
            1 => largest,
            _ if meta.min <= 0.0 => 0.0,
            _ => current,
        }
    }
}

impl ParamVisitor for Extremes<'_> {
    fn count(&mut self, meta: &Meta, value: &mut u64) {
        *value = self.pick(meta, *value as f64) as u64;
    }

    fn number(&mut self, meta: &Meta, value: &mut f64) {
        *value = self.pick(meta, *value);
    }

    fn optional(&mut self, meta: &Meta, value: &mut Option<f64>) {
        *value = match (self.changes(), self.next() % 3) {
            (false, _) => *value,
            (true, 0) => None,
            (true, 1) => Some(meta.min),
            (true, _) => Some(if meta.max.is_finite() { meta.max } else { 1e12 }),
        };
    }

    fn flag(&mut self, _: &Meta, value: &mut bool) {
        if self.changes() {
            *value = !*value;
        }
    }

    fn text(&mut self, _: &Meta, _: &mut String) {}

    fn reference(&mut self, _: &Meta, _: &RefKind, _: &mut String) {}

    fn choice(&mut self, meta: &Meta, forms: &[&'static str], current: usize) -> usize {
        // A step switched to another kind would name no component: refused, not run.
        if meta.name != "step" && self.changes() {
            usize::from(self.next()) % forms.len()
        } else {
            current
        }
    }

    fn group(&mut self, _: &Meta, body: &mut dyn FnMut(&mut dyn ParamVisitor)) {
        body(self);
    }

    fn list(&mut self, _: &Meta, list: &mut dyn ParamList) {
        for i in 0..list.len() {
            list.item(i, self);
        }
    }
}

/// Bundled scenario `base`, every parameter walked with `choices`, every offered fault
/// at the start and the end, and an instance change at both ends of each app tier.
fn extreme(base: &str, choices: &[u8]) -> Scenario {
    let mut s = bundled(base).into_inner();
    let mut v = Extremes {
        choices: choices[1..].iter(),
        odds: [2, 6, 24][usize::from(choices[0]) % 3],
    };
    s.run.params(&mut v);
    for ep in s.endpoints.values_mut() {
        ep.params(&mut v);
    }
    for c in &mut s.components {
        c.params(&mut v);
    }
    let end = s.run.duration_secs;
    let mut faults = Vec::new();
    let mut changes = Vec::new();
    for c in &s.components {
        for (_, _, fault) in edit::faults_offered(&s, c) {
            if v.next().is_multiple_of(2) {
                faults.push(fault);
            }
        }
        if let ComponentSpec::App(a) = c {
            changes.push((a.id.clone(), a.instances));
        }
    }
    // Faults and changes of the file come first where they share an instant with ours.
    s.faults.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
    s.timeline.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
    for at in [0.0, end] {
        s.faults.extend(faults.iter().map(|fault| TimedFault {
            at_secs: at,
            fault: fault.clone(),
        }));
        s.timeline
            .extend(changes.iter().map(|(id, instances)| TimedChange {
                at_secs: at,
                component: id.clone(),
                set: vec![(
                    "instances".to_owned(),
                    if at == 0.0 { 1 } else { *instances }.to_string(),
                )],
            }));
    }
    s.faults.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
    s.timeline.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
    s
}

proptest! {
    // PROPTEST_CASES=5000 cargo test extremes: a longer hunt than CI's.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(240),
        max_global_rejects: 20_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn valid_scenarios_at_their_extremes_run_without_impossible_figures(
        base in 0usize..1000,
        choices in proptest::collection::vec(any::<u8>(), 600),
    ) {
        let names = bundled_names();
        let name = &names[base % names.len()];
        let s = extreme(name, &choices);
        let sc = match model::validate(s) {
            Ok(sc) => sc,
            Err(e) => {
                eprintln!("REJECT {}", e.0[0].reason.chars().take(60).collect::<String>());
                // Extremes that break a rule (a warm-up past the end, a budget) are
                // refused at validation, which is what a user would meet.
                prop_assume!(false);
                unreachable!()
            }
        };
        let mut sim = Simulation::new(&sc);
        // Briefly: at most 200 chart samples (each visits every instance) and 200,000
        // events, however long and fast the scenario.
        let brief = SimTime::from_secs_f64(sc.run.sample_interval_secs * 200.0);
        let state = sim.advance_until(brief.min(sim.end()), 200_000);
        prop_assert!(state != Advance::Stalled, "{name}: {:?}", sim.stall());
        eprintln!("RAN {name} events {} ok {} t {}", sim.events(), sim.summary().overall.ok, sim.now());
        let bad = impossible_figures(&sim);
        prop_assert!(bad.is_empty(), "{name}: {bad:#?}");
        if let Err(e) = within_estimate(&sim) {
            prop_assert!(false, "{name}: {e}");
        }
        // The report of any valid run is well-formed.
        let json = bottleneck::report::json(&sim.summary());
        prop_assert!(!json.contains("null"), "{name}: a figure is not a number:\n{json}");
    }
}
