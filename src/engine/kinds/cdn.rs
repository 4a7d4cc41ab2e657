//! A CDN edge in front of a target.

use crate::metrics::level::Counter;
use crate::sim::{SimRng, SimTime};

use crate::engine::components::*;
use crate::engine::sampler::Sampler;
use crate::engine::world::World;

/// A CDN: answers a share of requests at the edge.
pub struct Cdn {
    pub id: String,
    pub target: Target,
    pub edge_share: f64,
    pub latency: Sampler,
    pub rng: SimRng,
    pub arrivals: Counter,
    pub edge: Counter,
}

impl Warm for Cdn {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.arrivals.mark_warmup();
        self.edge.mark_warmup();
    }
}

impl World {
    pub(in crate::engine) fn build_cdn(&mut self, s: &crate::model::CdnSpec) {
        let target = self.target_of(&s.target);
        self.cdns.push(Cdn {
            id: s.id.clone(),
            target,
            edge_share: s.edge_share,
            latency: Sampler::new(&s.edge_latency),
            rng: SimRng::stream(self.seed, &s.id),
            arrivals: Counter::default(),
            edge: Counter::default(),
        });
    }

    /// Applies the live parameters of `new` to CDN `at`.
    pub(in crate::engine) fn change_cdn(
        &mut self,
        at: u32,
        _old: &crate::model::CdnSpec,
        new: &crate::model::CdnSpec,
    ) {
        let c = &mut self.cdns[at as usize];
        c.edge_share = new.edge_share;
        c.latency = Sampler::new(&new.edge_latency);
    }
}
