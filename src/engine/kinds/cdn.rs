//! A CDN edge in front of a target.

use std::collections::BTreeMap;

use crate::metrics::level::Counter;
use crate::metrics::{Glance, Headline};
use crate::sim::{SimRng, SimTime};

use crate::engine::components::*;
use crate::engine::measure::{GlanceReader, SampleSpan, SeriesSink, SummaryParts, named};
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

    /// A CDN's figures in the summary, its resources in the saturation ranking and its
    /// stations.
    pub(in crate::engine) fn cdn_figures(
        &self,
        id: &str,
        f: &mut BTreeMap<String, f64>,
        parts: &mut SummaryParts,
    ) {
        if let Some(c) = self.cdns.iter().find(|c| c.id == id) {
            let arrivals = c.arrivals.since_warmup() as f64;
            let edge = c.edge.since_warmup() as f64;
            f.insert("arrivals_per_sec".into(), arrivals / parts.span_nz);
            f.insert("edge_per_sec".into(), edge / parts.span_nz);
            f.insert("origin_per_sec".into(), (arrivals - edge) / parts.span_nz);
        }
    }
}

impl World {
    /// What a CDN costs per hour: the requests its edge answered, at its price per
    /// million.
    pub(in crate::engine) fn cdn_cost_per_hour(&self, spec: &crate::model::CdnSpec) -> f64 {
        let (t0, now) = (self.t0(), self.now);
        self.cdns.iter().find(|c| c.id == spec.id).map_or(0.0, |c| {
            let span = crate::engine::measure::nonzero(now.since(t0).as_secs_f64());
            c.edge.since_warmup() as f64 / span * 3600.0 / 1e6 * spec.price_per_million
        })
    }
}

impl super::Runtime for crate::model::CdnSpec {
    const BUILD_STAGE: u8 = 6;

    fn build(&self, w: &mut World) {
        w.build_cdn(self);
    }

    fn change(&self, w: &mut World, at: u32, old: &Self) {
        w.change_cdn(at, old, self);
    }

    fn figures(&self, w: &World, f: &mut BTreeMap<String, f64>, parts: &mut SummaryParts) {
        w.cdn_figures(&self.id, f, parts);
    }

    /// A CDN's chart series.
    fn traffic_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan) {
        let SampleSpan { secs, .. } = span;
        for c in &mut w.cdns {
            out.put(
                || named(&c.id, "arrivals_per_sec"),
                || c.arrivals.take_sample() as f64 / secs,
            );
            out.put(
                || named(&c.id, "edge_per_sec"),
                || c.edge.take_sample() as f64 / secs,
            );
        }
    }

    /// A CDN at a glance: what arrives and the share its edge answers.
    fn glance(&self, _w: &World, g: &mut Glance, read: &GlanceReader) {
        let arrivals = read.get(&g.id, "arrivals_per_sec");
        let edge = read.get(&g.id, "edge_per_sec");
        g.rate_per_sec = arrivals;
        g.headline = Headline::Cdn {
            edge_share: GlanceReader::share(edge, arrivals),
        };
    }

    fn cost_per_hour(&self, w: &World) -> f64 {
        w.cdn_cost_per_hour(self)
    }
}
