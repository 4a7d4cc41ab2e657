//! A cache, shared or local to each instance.

use std::collections::BTreeMap;

use crate::metrics::breakdown::Phase;
use crate::metrics::level::Counter;
use crate::metrics::summary::ResourceKind;
use crate::metrics::{Glance, Headline};
use crate::model::{CacheModel, CacheScope, CacheSpec};
use crate::sim::{SimDuration, SimRng, SimTime};

use crate::engine::components::*;
use crate::engine::lru::Lru;
use crate::engine::measure::{
    Agg, GlanceReader, SampleSpan, SeriesSink, SummaryParts, named, ratio,
};
use crate::engine::sampler::Sampler;
use crate::engine::world::World;
use crate::sim::math;

/// How a cache decides hits.
pub enum HitModel {
    Ratio(f64),
    Keys {
        zipf: Option<Zipf>,
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
        rate > 0.0 && rng.chance(-math::exp_m1(-rate * age_ns as f64 * 1e-9))
    }

    /// Draws the key of one get from the key space.
    pub fn draw_key(model: &HitModel, rng: &mut SimRng) -> u64 {
        match model {
            HitModel::Ratio(_) => 0,
            HitModel::Keys { zipf, keys, .. } => draw_key(zipf.as_ref(), *keys, rng),
        }
    }
}

impl World {
    pub(in crate::engine) fn build_cache(&mut self, s: &CacheSpec) {
        let station = if s.scope == CacheScope::Shared {
            self.stations
                .push(Station::planned(s.servers, SimTime::ZERO, Phase::Cache));
            (self.stations.len() - 1) as u32
        } else {
            NONE
        };
        let model = hit_model(&s.model);
        let shared = match (&model, s.scope) {
            (HitModel::Keys { capacity, keys, .. }, CacheScope::Shared) => {
                Some(Lru::with_key_space(*capacity, *keys))
            }
            _ => None,
        };
        self.caches.push(Cache {
            id: s.id.clone(),
            scope: s.scope,
            model,
            station,
            op: Sampler::new(&s.op_time),
            network: Sampler::new(&s.network_latency),
            rng: SimRng::stream(self.seed, &s.id),
            shared,
            spike: None,
            gets: Counter::default(),
            hits: Counter::default(),
            misses: Counter::default(),
            sets: Counter::default(),
            update_rate_per_key: match s.model {
                CacheModel::Keys { keys, .. } if keys > 0 => s.updates_per_sec / keys as f64,
                _ => 0.0,
            },
            invalidate_on_write: s.invalidate_on_write,
            stale_hits: Counter::default(),
        });
    }

    /// Applies the live parameters of `new` to cache `at`.
    pub(in crate::engine) fn change_cache(
        &mut self,
        at: u32,
        _old: &crate::model::CacheSpec,
        new: &crate::model::CacheSpec,
    ) {
        let c = &mut self.caches[at as usize];
        c.op = Sampler::new(&new.op_time);
        c.network = Sampler::new(&new.network_latency);
        // Only the hit ratio and the TTL are live; the key space keeps its LRU.
        match (&mut c.model, hit_model(&new.model)) {
            (HitModel::Ratio(r), HitModel::Ratio(n)) => *r = n,
            (HitModel::Keys { ttl_ns, .. }, HitModel::Keys { ttl_ns: n, .. }) => *ttl_ns = n,
            _ => {}
        }
        c.update_rate_per_key = match c.model {
            HitModel::Keys { keys, .. } if keys > 0 => new.updates_per_sec / keys as f64,
            _ => 0.0,
        };
        c.invalidate_on_write = new.invalidate_on_write;
        let station = c.station;
        if station != NONE {
            self.set_servers(station, new.servers, true);
        }
    }

    /// A cache's figures in the summary, its resources in the saturation ranking and its
    /// stations.
    pub(in crate::engine) fn cache_figures(
        &self,
        id: &str,
        f: &mut BTreeMap<String, f64>,
        parts: &mut SummaryParts,
    ) {
        let Some(c) = self.caches.iter().find(|c| c.id == id) else {
            return;
        };
        let hits = c.hits.since_warmup() as f64;
        let gets = hits + c.misses.since_warmup() as f64;
        f.insert(
            "hit_ratio".into(),
            if gets > 0.0 { hits / gets } else { 0.0 },
        );
        f.insert("gets_per_sec".into(), gets / parts.span_nz);
        f.insert("misses_per_sec".into(), (gets - hits) / parts.span_nz);
        if c.update_rate_per_key > 0.0 {
            let stale = c.stale_hits.since_warmup() as f64;
            f.insert("stale_hits".into(), stale);
            f.insert(
                "stale_share".into(),
                if hits > 0.0 { stale / hits } else { 0.0 },
            );
        }
        if let Some(lru) = &c.shared {
            f.insert("entries".into(), lru.len() as f64);
        }
        if c.station != NONE {
            let st = &self.stations[c.station as usize];
            let mut agg = Agg::default();
            agg.add_station(self, st);
            f.insert("util".into(), agg.utilization());
            parts.saturated(
                id,
                format!("{id} server"),
                ResourceKind::Compute,
                agg.utilization(),
            );
            parts
                .stations
                .push(agg.report(format!("{id}.server"), parts.span));
        }
    }
}

/// A cache's hit model from its spec.
pub(in crate::engine) fn hit_model(model: &CacheModel) -> HitModel {
    match model {
        CacheModel::HitRatio { ratio } => HitModel::Ratio(*ratio),
        CacheModel::Keys {
            keys,
            zipf_s,
            capacity,
            ttl_secs,
        } => HitModel::Keys {
            zipf: if *zipf_s > 0.0 {
                Zipf::new(*keys as f64, *zipf_s)
            } else {
                None
            },
            keys: *keys,
            capacity: *capacity,
            ttl_ns: ttl_secs.map(|t| SimDuration::from_secs_f64(t).0),
        },
    }
}

impl super::Runtime for crate::model::CacheSpec {
    const BUILD_STAGE: u8 = 0;

    fn build(&self, w: &mut World) {
        w.build_cache(self);
    }

    fn change(&self, w: &mut World, at: u32, old: &Self) {
        w.change_cache(at, old, self);
    }

    fn figures(&self, w: &World, f: &mut BTreeMap<String, f64>, parts: &mut SummaryParts) {
        w.cache_figures(&self.id, f, parts);
    }

    /// A cache's gets.
    fn traffic_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan) {
        let SampleSpan { secs, .. } = span;
        for c in &mut w.caches {
            out.put(
                || named(&c.id, "gets_per_sec"),
                || c.gets.take_sample() as f64 / secs,
            );
        }
    }

    /// A cache's hit ratio and its server's utilisation.
    fn state_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan) {
        let SampleSpan { prev, now, .. } = span;
        for c in &mut w.caches {
            out.put(
                || named(&c.id, "hit_ratio"),
                || {
                    let hits = c.hits.take_sample() as f64;
                    let gets = hits + c.misses.take_sample() as f64;
                    if gets > 0.0 { hits / gets } else { f64::NAN }
                },
            );
            if c.station != NONE {
                let st = &mut w.stations[c.station as usize];
                out.put(
                    || named(&c.id, "util"),
                    || {
                        let (busy, capacity) = st.busy.take_sample_means(prev, now);
                        ratio(busy, capacity)
                    },
                );
            }
        }
    }

    /// A cache at a glance: its server's occupancy, its hit ratio, a latency spike.
    fn glance(&self, w: &World, g: &mut Glance, read: &GlanceReader) {
        g.consider("server", read.get(&g.id, "util"));
        g.rate_per_sec = read.get(&g.id, "gets_per_sec");
        g.headline = Headline::Cache {
            hit_ratio: read.get(&g.id, "hit_ratio"),
        };
        if let Some(c) = w.caches.iter().find(|c| c.id == g.id) {
            g.broken = w.spike_broken(c.spike).into_iter().collect();
        }
    }
}
