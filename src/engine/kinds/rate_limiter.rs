//! A rate limiter: token buckets in front of a target.

use std::collections::BTreeMap;

use crate::metrics::level::Counter;
use crate::metrics::summary::ResourceKind;
use crate::metrics::{Glance, Headline};
use crate::sim::SimTime;

use crate::engine::components::*;
use crate::engine::measure::{GlanceReader, SampleSpan, SeriesSink, SummaryParts, named};
use crate::engine::world::World;

/// A token bucket in front of a load balancer or a tier.
pub struct RateLimiter {
    pub id: String,
    pub target: Target,
    pub rate_per_sec: f64,
    pub burst: f64,
    pub per_client: bool,
    /// Tokens of the shared bucket (index 0) and of each client's (client index + 1),
    /// and when each was last refilled.
    pub buckets: Vec<(f64, SimTime)>,
    /// Tokens the buckets were given since the start (refills, counted before the cap
    /// at `burst` throws the surplus away), with marks at the warm-up and the last
    /// sample: what the limiter could have admitted, for its utilisation.
    pub supplied: f64,
    pub supplied_at_warmup: f64,
    pub supplied_at_sample: f64,
    pub arrivals: Counter,
    pub limited: Counter,
}

impl Warm for RateLimiter {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.arrivals.mark_warmup();
        self.limited.mark_warmup();
        self.supplied_at_warmup = self.supplied;
    }
}

impl RateLimiter {
    /// Admitted over what could have been: at most the tokens its buckets held at the
    /// start of the window (a full burst each) plus those they were given since.
    pub fn utilization(&self, admitted: f64, supplied: f64) -> f64 {
        let capacity = supplied + self.burst * self.buckets.len().max(1) as f64;
        if capacity > 0.0 {
            admitted / capacity
        } else {
            0.0
        }
    }

    /// Takes a token for a request from `client`, if the bucket has one.
    pub fn admit(&mut self, client: u32, now: SimTime) -> bool {
        // Bucket 0 is the shared one, and serves calls and jobs that no client sent.
        let k = if self.per_client && client != NONE {
            client as usize + 1
        } else {
            0
        };
        if self.buckets.len() <= k {
            self.buckets.resize(k + 1, (self.burst, now));
        }
        let (tokens, last) = &mut self.buckets[k];
        let refill = now.since(*last).as_secs_f64() * self.rate_per_sec;
        self.supplied += refill;
        *tokens = (*tokens + refill).min(self.burst);
        *last = now;
        self.arrivals.inc();
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            self.limited.inc();
            false
        }
    }
}

impl World {
    pub(in crate::engine) fn build_rate_limiter(&mut self, s: &crate::model::RateLimiterSpec) {
        let target = self.target_of(&s.target);
        self.limiters.push(RateLimiter {
            id: s.id.clone(),
            target,
            rate_per_sec: s.rate_per_sec,
            burst: s.burst,
            per_client: s.per_client,
            buckets: Vec::new(),
            supplied: 0.0,
            supplied_at_warmup: 0.0,
            supplied_at_sample: 0.0,
            arrivals: Counter::default(),
            limited: Counter::default(),
        });
    }

    /// Applies the live parameters of `new` to rate limiter `at`.
    pub(in crate::engine) fn change_rate_limiter(
        &mut self,
        at: u32,
        _old: &crate::model::RateLimiterSpec,
        new: &crate::model::RateLimiterSpec,
    ) {
        let l = &mut self.limiters[at as usize];
        l.rate_per_sec = new.rate_per_sec;
        l.burst = new.burst;
    }

    /// A rate limiter's figures in the summary, its resources in the saturation ranking and its
    /// stations.
    pub(in crate::engine) fn rate_limiter_figures(
        &self,
        id: &str,
        f: &mut BTreeMap<String, f64>,
        parts: &mut SummaryParts,
    ) {
        if let Some(l) = self.limiters.iter().find(|l| l.id == id) {
            let arrivals = l.arrivals.since_warmup() as f64;
            let limited = l.limited.since_warmup() as f64;
            let util = l.utilization(arrivals - limited, l.supplied - l.supplied_at_warmup);
            let admitted = (arrivals - limited) / parts.span_nz;
            f.insert("arrivals_per_sec".into(), arrivals / parts.span_nz);
            f.insert("admitted_per_sec".into(), admitted);
            f.insert("limited".into(), limited);
            f.insert("limited_per_sec".into(), limited / parts.span_nz);
            f.insert("util".into(), util);
            parts.saturated(id, format!("{id} rate"), ResourceKind::Limit, util);
        }
    }
}

impl super::Runtime for crate::model::RateLimiterSpec {
    const BUILD_STAGE: u8 = 3;

    fn build(&self, w: &mut World) {
        w.build_rate_limiter(self);
    }

    fn change(&self, w: &mut World, at: u32, old: &Self) {
        w.change_rate_limiter(at, old, self);
    }

    fn figures(&self, w: &World, f: &mut BTreeMap<String, f64>, parts: &mut SummaryParts) {
        w.rate_limiter_figures(&self.id, f, parts);
    }

    /// A rate limiter's chart series.
    fn traffic_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan) {
        let SampleSpan { secs, sampling, .. } = span;
        for l in &mut w.limiters {
            let (arrivals, limited, supplied) = if sampling {
                let supplied = l.supplied - l.supplied_at_sample;
                l.supplied_at_sample = l.supplied;
                (l.arrivals.take_sample(), l.limited.take_sample(), supplied)
            } else {
                Default::default()
            };
            out.put(
                || named(&l.id, "arrivals_per_sec"),
                || arrivals as f64 / secs,
            );
            out.put(|| named(&l.id, "limited_per_sec"), || limited as f64 / secs);
            out.put(
                || named(&l.id, "util"),
                || l.utilization((arrivals - limited) as f64, supplied),
            );
        }
    }

    /// A rate limiter at a glance: what passes against its limit, and the share it
    /// turns away.
    fn glance(&self, _w: &World, g: &mut Glance, read: &GlanceReader) {
        let arrivals = read.get(&g.id, "arrivals_per_sec");
        let limited = read.get(&g.id, "limited_per_sec");
        g.rate_per_sec = arrivals;
        g.error_share = GlanceReader::share(limited, arrivals);
        g.consider("rate", read.get(&g.id, "util"));
        g.headline = Headline::RateLimiter {
            passed_per_sec: arrivals - limited,
            limit_per_sec: self.rate_per_sec,
        };
    }
}
