//! A CDN edge in front of a target.

use crate::metrics::level::Counter;
use crate::sim::{SimRng, SimTime};

use crate::engine::components::{Target, Warm};
use crate::engine::sampler::Sampler;

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
