//! A cache, shared or local to each instance.

use rand_distr::Zipf;

use crate::metrics::level::Counter;
use crate::model::CacheScope;
use crate::sim::{SimDuration, SimRng, SimTime};

use crate::engine::components::{Warm, draw_key};
use crate::engine::lru::Lru;
use crate::engine::sampler::Sampler;

/// How a cache decides hits.
pub enum HitModel {
    Ratio(f64),
    Keys {
        zipf: Option<Zipf<f64>>,
        keys: u64,
        capacity: u64,
        ttl_ns: Option<u64>,
    },
}

/// A cache component (shared, or the template of per-instance local caches).
pub struct Cache {
    pub id: String,
    pub scope: CacheScope,
    pub model: HitModel,
    /// Station of a shared cache; `NONE` for local caches.
    pub station: u32,
    pub op: Sampler,
    pub network: Sampler,
    pub rng: SimRng,
    pub shared: Option<Lru>,
    /// A latency spike: extra network time per operation until the given time.
    pub spike: Option<(SimTime, SimDuration)>,
    /// Gets, hits or misses (for the rate of gets per chart interval).
    pub gets: Counter,
    pub hits: Counter,
    pub misses: Counter,
    pub sets: Counter,
    /// Writes per second per key behind the cache (0: its data never changes), and
    /// whether a write deletes the key's entry.
    pub update_rate_per_key: f64,
    pub invalidate_on_write: bool,
    /// Hits on an entry its key's write had made stale.
    pub stale_hits: Counter,
}

impl Warm for Cache {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.gets.mark_warmup();
        self.hits.mark_warmup();
        self.stale_hits.mark_warmup();
        self.misses.mark_warmup();
        self.sets.mark_warmup();
    }
}

impl Cache {
    /// Whether an entry stored `age_ns` ago was written since, at `rate` writes per
    /// second to its key: they arrive as a Poisson stream, so at least one came with
    /// probability 1 − e^(−rate·age).
    pub fn written_since(rate: f64, age_ns: u64, rng: &mut SimRng) -> bool {
        rate > 0.0 && rng.chance(-(-rate * age_ns as f64 * 1e-9).exp_m1())
    }

    /// Draws the key of one get from the key space.
    pub fn draw_key(model: &HitModel, rng: &mut SimRng) -> u64 {
        match model {
            HitModel::Ratio(_) => 0,
            HitModel::Keys { zipf, keys, .. } => draw_key(zipf.as_ref(), *keys, rng),
        }
    }
}
