//! A load balancer over app tiers.

use std::collections::BTreeMap;

use crate::metrics::level::Counter;
use crate::metrics::{Glance, Headline};
use crate::model::Policy;
use crate::sim::{SimRng, SimTime};

use crate::engine::components::*;
use crate::engine::measure::{GlanceReader, SampleSpan, SeriesSink, SummaryParts, named};
use crate::engine::world::World;

/// A load balancer over the instances of its backend tiers.
pub struct LoadBalancer {
    pub id: String,
    pub policy: Policy,
    pub tiers: Vec<u32>,
    pub rng: SimRng,
    pub rr_next: usize,
    pub routed: Counter,
    /// Requests routed through it and not finished yet.
    pub in_flight: u32,
    /// Load shedding: at this many in flight, new requests are rejected.
    pub max_in_flight: Option<u32>,
    pub shed: Counter,
}

impl Warm for LoadBalancer {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.routed.mark_warmup();
        self.shed.mark_warmup();
    }
}

impl World {
    pub(in crate::engine) fn build_load_balancer(&mut self, s: &crate::model::LoadBalancerSpec) {
        self.lbs.push(LoadBalancer {
            id: s.id.clone(),
            policy: s.policy,
            tiers: s.backends.iter().map(|b| self.index[b]).collect(),
            rng: SimRng::stream(self.seed, &s.id),
            rr_next: 0,
            routed: Counter::default(),
            in_flight: 0,
            max_in_flight: s.max_in_flight,
            shed: Counter::default(),
        });
    }

    /// Applies the live parameters of `new` to load balancer `at`.
    pub(in crate::engine) fn change_load_balancer(
        &mut self,
        at: u32,
        _old: &crate::model::LoadBalancerSpec,
        new: &crate::model::LoadBalancerSpec,
    ) {
        self.lbs[at as usize].policy = new.policy;
        self.lbs[at as usize].max_in_flight = new.max_in_flight;
        for k in 0..self.clients.len() {
            self.clients[k].needs_session = self.needs_session(self.clients[k].target);
        }
    }

    /// A load balancer's figures in the summary, its resources in the saturation ranking and its
    /// stations.
    pub(in crate::engine) fn load_balancer_figures(
        &self,
        id: &str,
        f: &mut BTreeMap<String, f64>,
        parts: &mut SummaryParts,
    ) {
        if let Some(lb) = self.lbs.iter().find(|l| l.id == id) {
            f.insert(
                "routed_per_sec".into(),
                lb.routed.since_warmup() as f64 / parts.span_nz,
            );
            f.insert("shed".into(), lb.shed.since_warmup() as f64);
            if let Some(max) = lb.max_in_flight {
                f.insert("max_in_flight".into(), f64::from(max));
            }
            let counts: Vec<f64> = lb
                .tiers
                .iter()
                .flat_map(|t| self.tiers[*t as usize].instances.iter())
                .map(|i| self.instances[*i as usize].arrivals.since_warmup() as f64)
                .collect();
            let mean = counts.iter().sum::<f64>() / counts.len().max(1) as f64;
            let max = counts.iter().copied().fold(0.0, f64::max);
            f.insert(
                "imbalance".into(),
                if mean > 0.0 { max / mean } else { 1.0 },
            );
        }
    }
}

impl super::Runtime for crate::model::LoadBalancerSpec {
    const BUILD_STAGE: u8 = 2;

    fn build(&self, w: &mut World) {
        w.build_load_balancer(self);
    }

    fn change(&self, w: &mut World, at: u32, old: &Self) {
        w.change_load_balancer(at, old, self);
    }

    fn figures(&self, w: &World, f: &mut BTreeMap<String, f64>, parts: &mut SummaryParts) {
        w.load_balancer_figures(&self.id, f, parts);
    }

    /// A load balancer's chart series.
    fn traffic_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan) {
        let SampleSpan { secs, .. } = span;
        for lb in &mut w.lbs {
            out.put(
                || named(&lb.id, "routed_per_sec"),
                || lb.routed.take_sample() as f64 / secs,
            );
            out.put(
                || named(&lb.id, "shed_per_sec"),
                || lb.shed.take_sample() as f64 / secs,
            );
        }
    }

    /// A load balancer at a glance: what it routes and the share it sheds.
    fn glance(&self, _w: &World, g: &mut Glance, read: &GlanceReader) {
        let routed = read.get(&g.id, "routed_per_sec");
        let shed = read.get(&g.id, "shed_per_sec");
        g.rate_per_sec = routed + shed;
        g.error_share = GlanceReader::share(shed, routed + shed);
        g.headline = Headline::LoadBalancer {
            routed_per_sec: routed,
            policy: self.policy,
        };
    }
}
