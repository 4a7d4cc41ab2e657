//! A load balancer over app tiers.

use crate::metrics::level::Counter;
use crate::model::Policy;
use crate::sim::{SimRng, SimTime};

use crate::engine::components::*;
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
}
