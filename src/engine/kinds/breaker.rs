//! A circuit breaker: its state machine over a sliding window of calls.

use std::collections::BTreeMap;

use crate::metrics::level::{Counter, Level};
use crate::metrics::{CircuitState, Glance, Headline};
use crate::sim::{SimDuration, SimTime};

use crate::engine::components::*;
use crate::engine::measure::{GlanceReader, SampleSpan, SeriesSink, SummaryParts, named};
use crate::engine::world::World;

/// The state of a circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// Failing calls at once until the given time.
    Open {
        until: SimTime,
    },
    /// Letting probes through: `sent` so far, `ok` of them answered without error.
    HalfOpen {
        sent: u32,
        ok: u32,
    },
}

impl BreakerState {
    /// For charts: 0 closed, 1 half-open, 2 open.
    pub fn level(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen { .. } => 1.0,
            Self::Open { .. } => 2.0,
        }
    }
}

/// A circuit breaker in front of a service.
pub struct Breaker {
    pub id: String,
    pub target: Target,
    pub spec: crate::model::CircuitBreakerSpec,
    pub state: BreakerState,
    /// Sliding window: `(calls, errors)` per tenth of the window, a ring indexed by
    /// the bucket number (time ÷ bucket length) modulo its length.
    pub buckets: [(u32, u32); BREAKER_BUCKETS],
    /// The bucket number of the latest outcome recorded.
    pub bucket_at: u64,
    pub calls: Counter,
    pub failures: Counter,
    pub short_circuited: Counter,
    pub opened: Counter,
    /// 1 while open, for the share of time it was open.
    pub open_level: Level,
}

impl Warm for Breaker {
    fn mark_warmup(&mut self, now: SimTime) {
        self.calls.mark_warmup();
        self.failures.mark_warmup();
        self.short_circuited.mark_warmup();
        self.opened.mark_warmup();
        self.open_level.mark_warmup(now);
    }
}

/// Buckets of a circuit breaker's sliding window.
pub const BREAKER_BUCKETS: usize = 10;

impl Breaker {
    /// Whether a call may go through now (a half-open breaker counts it as a probe).
    pub fn admit(&mut self, now: SimTime) -> bool {
        if let BreakerState::Open { until } = self.state {
            if now < until {
                self.short_circuited.inc();
                return false;
            }
            self.state = BreakerState::HalfOpen { sent: 0, ok: 0 };
            self.open_level.set(now, 0);
        }
        if let BreakerState::HalfOpen { sent, ok } = self.state {
            if sent >= self.spec.half_open_probes {
                self.short_circuited.inc();
                return false;
            }
            self.state = BreakerState::HalfOpen { sent: sent + 1, ok };
        }
        self.calls.inc();
        true
    }

    /// Whether [`Breaker::admit`] would let a call through now (without counting it).
    pub fn would_admit(&self, now: SimTime) -> bool {
        match self.state {
            BreakerState::Open { until } => now >= until,
            BreakerState::HalfOpen { sent, .. } => sent < self.spec.half_open_probes,
            BreakerState::Closed => true,
        }
    }

    /// The outcome of a call it let through.
    pub fn record(&mut self, ok: bool, now: SimTime) {
        if !ok {
            self.failures.inc();
        }
        match self.state {
            BreakerState::Closed => {
                let (calls, errors) = self.slide(now, !ok);
                if calls >= self.spec.min_calls
                    && f64::from(errors) >= self.spec.error_threshold * f64::from(calls)
                {
                    self.open(now);
                }
            }
            BreakerState::HalfOpen { sent, ok: good } => {
                if !ok {
                    self.open(now);
                } else if good + 1 >= self.spec.half_open_probes {
                    self.state = BreakerState::Closed;
                    self.buckets = [(0, 0); BREAKER_BUCKETS];
                } else {
                    self.state = BreakerState::HalfOpen { sent, ok: good + 1 };
                }
            }
            // Answers to calls sent before it opened change nothing.
            BreakerState::Open { .. } => {}
        }
    }

    /// Records one outcome in the sliding window; returns the window's calls and errors.
    fn slide(&mut self, now: SimTime, error: bool) -> (u32, u32) {
        let len =
            (SimDuration::from_secs_f64(self.spec.window_secs).0 / BREAKER_BUCKETS as u64).max(1);
        let at = now.0 / len;
        // Clear the buckets that slid out since the last outcome (all of them after a
        // quiet window).
        let stale = at
            .saturating_sub(self.bucket_at)
            .min(BREAKER_BUCKETS as u64);
        for k in 1..=stale {
            self.buckets[((self.bucket_at + k) % BREAKER_BUCKETS as u64) as usize] = (0, 0);
        }
        self.bucket_at = self.bucket_at.max(at);
        let b = &mut self.buckets[(at % BREAKER_BUCKETS as u64) as usize];
        b.0 += 1;
        b.1 += u32::from(error);
        self.buckets
            .iter()
            .fold((0, 0), |(c, e), (bc, be)| (c + bc, e + be))
    }

    fn open(&mut self, now: SimTime) {
        self.opened.inc();
        self.open_level.set(now, 1);
        self.state = BreakerState::Open {
            until: now + SimDuration::from_secs_f64(self.spec.open_secs),
        };
    }
}

impl World {
    pub(in crate::engine) fn build_breaker(&mut self, s: &crate::model::CircuitBreakerSpec) {
        let target = self.target_of(&s.target);
        self.breakers.push(Breaker {
            id: s.id.clone(),
            target,
            spec: s.clone(),
            state: BreakerState::Closed,
            buckets: [(0, 0); BREAKER_BUCKETS],
            bucket_at: 0,
            calls: Counter::default(),
            failures: Counter::default(),
            short_circuited: Counter::default(),
            opened: Counter::default(),
            open_level: Level::default(),
        });
    }

    /// Applies the live parameters of `new` to circuit breaker `at`.
    pub(in crate::engine) fn change_breaker(
        &mut self,
        at: u32,
        _old: &crate::model::CircuitBreakerSpec,
        new: &crate::model::CircuitBreakerSpec,
    ) {
        // The state carries on; the new thresholds apply from the next call.
        self.breakers[at as usize].spec = new.clone();
    }

    /// A circuit breaker's figures in the summary, its resources in the saturation ranking and its
    /// stations.
    pub(in crate::engine) fn breaker_figures(
        &self,
        id: &str,
        f: &mut BTreeMap<String, f64>,
        _parts: &mut SummaryParts,
    ) {
        if let Some(b) = self.breakers.iter().find(|b| b.id == id) {
            f.insert("calls".into(), b.calls.since_warmup() as f64);
            f.insert("failures".into(), b.failures.since_warmup() as f64);
            f.insert(
                "short_circuited".into(),
                b.short_circuited.since_warmup() as f64,
            );
            f.insert("opened".into(), b.opened.since_warmup() as f64);
            f.insert(
                "open_share".into(),
                b.open_level.mean_since_warmup(self.t0(), self.now),
            );
        }
    }
}

impl super::Runtime for crate::model::CircuitBreakerSpec {
    const BUILD_STAGE: u8 = 4;

    fn build(&self, w: &mut World) {
        w.build_breaker(self);
    }

    fn change(&self, w: &mut World, at: u32, old: &Self) {
        w.change_breaker(at, old, self);
    }

    fn figures(&self, w: &World, f: &mut BTreeMap<String, f64>, parts: &mut SummaryParts) {
        w.breaker_figures(&self.id, f, parts);
    }

    /// A circuit breaker's chart series.
    fn traffic_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan) {
        let SampleSpan { secs, .. } = span;
        for b in &mut w.breakers {
            out.put(|| named(&b.id, "state"), || b.state.level());
            out.put(
                || named(&b.id, "calls_per_sec"),
                || b.calls.take_sample() as f64 / secs,
            );
            out.put(
                || named(&b.id, "short_circuited_per_sec"),
                || b.short_circuited.take_sample() as f64 / secs,
            );
        }
    }

    /// A circuit breaker at a glance: its state now and the calls it cuts.
    fn glance(&self, _w: &World, g: &mut Glance, read: &GlanceReader) {
        let calls = read.get(&g.id, "calls_per_sec");
        let cut = read.get(&g.id, "short_circuited_per_sec");
        g.rate_per_sec = calls + cut;
        g.error_share = GlanceReader::share(cut, calls + cut);
        let state = match read.latest(&g.id, "state").unwrap_or(0.0) {
            x if x >= 2.0 => CircuitState::Open,
            x if x >= 1.0 => CircuitState::HalfOpen,
            _ => CircuitState::Closed,
        };
        g.headline = Headline::CircuitBreaker {
            state,
            cut_per_sec: cut,
        };
    }
}
