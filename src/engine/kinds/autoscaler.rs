//! An autoscaler of an app tier.

use std::collections::BTreeMap;

use crate::metrics::level::Counter;
use crate::metrics::{Glance, Headline};
use crate::sim::{SimDuration, SimTime};

use crate::engine::components::*;
use crate::engine::measure::{GlanceReader, SampleSpan, SeriesSink, SummaryParts, named};
use crate::engine::world::{Event, World};

/// Scales an app tier toward a target metric.
pub struct Autoscaler {
    pub id: String,
    pub tier: u32,
    pub spec: crate::model::AutoscalerSpec,
    /// Totals at the previous evaluation: busy core·ns, capacity core·ns, arrivals, queue
    /// requests·ns; the metric is their growth over the interval.
    pub prev: (u128, u128, u64, u128),
    /// When it last evaluated.
    pub last_tick: SimTime,
    pub last_change: Option<SimTime>,
    /// The instance count it asked for last.
    pub desired: u32,
    /// The metric at the last evaluation.
    pub measured: f64,
    pub changes: Counter,
}

impl Warm for Autoscaler {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.changes.mark_warmup();
    }
}

impl World {
    pub(in crate::engine) fn build_autoscaler(&mut self, s: &crate::model::AutoscalerSpec) {
        let scaler = self.autoscalers.len() as u32;
        let tier = self.index[&s.tier];
        self.autoscalers.push(Autoscaler {
            id: s.id.clone(),
            tier,
            spec: s.clone(),
            prev: (0, 0, 0, 0),
            last_tick: SimTime::ZERO,
            last_change: None,
            desired: self.tiers[tier as usize].wanted,
            measured: 0.0,
            changes: Counter::default(),
        });
        self.queue.schedule(
            SimTime::from_secs_f64(s.interval_secs),
            Event::AutoscaleTick { scaler },
        );
    }

    /// Applies the live parameters of `new` to autoscaler `at`.
    pub(in crate::engine) fn change_autoscaler(
        &mut self,
        at: u32,
        _old: &crate::model::AutoscalerSpec,
        new: &crate::model::AutoscalerSpec,
    ) {
        // Takes effect at its next evaluation.
        self.autoscalers[at as usize].spec = new.clone();
    }

    /// An autoscaler's evaluation: the metric over the last interval, the instances it
    /// calls for (current × measured ÷ target, within min and max), a change if that
    /// differs and the cooldown has passed; then the next evaluation.
    pub(in crate::engine) fn autoscale(&mut self, scaler: u32) {
        use crate::model::ScaleMetric;
        let now = self.now;
        let tier = self.autoscalers[scaler as usize].tier;
        let (mut busy, mut capacity, mut arrivals, mut queue) = (0u128, 0u128, 0u64, 0u128);
        for &i in &self.tiers[tier as usize].instances {
            let inst = &self.instances[i as usize];
            let st = &self.stations[inst.cores as usize];
            busy += st.busy.level().area_until(now);
            capacity += st.busy.capacity().area_until(now);
            arrivals += inst.arrivals.total();
            queue += inst.queue_len.area_until(now);
        }
        let a = &mut self.autoscalers[scaler as usize];
        let spec = a.spec.clone();
        let (pb, pc, pa, pq) = a.prev;
        a.prev = (busy, capacity, arrivals, queue);
        let interval_ns = now.since(a.last_tick).0.max(1) as f64;
        a.last_tick = now;
        let t = &self.tiers[tier as usize];
        let current = t.wanted.max(1);
        let active = (t.active.len() as f64).max(1.0);
        let (measured, target) = match spec.metric {
            ScaleMetric::Cpu { target } => {
                let cap = (capacity - pc) as f64;
                (
                    if cap > 0.0 {
                        (busy - pb) as f64 / cap
                    } else {
                        0.0
                    },
                    target,
                )
            }
            ScaleMetric::RequestRate { per_instance } => (
                (arrivals - pa) as f64 / (interval_ns / 1e9) / active,
                per_instance,
            ),
            ScaleMetric::QueueDepth { per_instance } => {
                ((queue - pq) as f64 / interval_ns / active, per_instance)
            }
        };
        let wanted = (f64::from(current) * measured / target).ceil();
        let desired = (wanted.max(0.0) as u32).clamp(spec.min_instances, spec.max_instances);
        a.measured = measured;
        a.desired = desired;
        let cooled = a
            .last_change
            .is_none_or(|at| now.since(at) >= SimDuration::from_secs_f64(spec.cooldown_secs));
        if desired != current && cooled {
            a.last_change = Some(now);
            a.changes.inc();
            let startup = SimDuration::from_secs_f64(self.tiers[tier as usize].spec.startup_secs);
            self.set_instances(tier, desired, startup);
        }
        self.queue.schedule(
            now + SimDuration::from_secs_f64(spec.interval_secs),
            Event::AutoscaleTick { scaler },
        );
    }

    /// An autoscaler's figures in the summary, its resources in the saturation ranking and its
    /// stations.
    pub(in crate::engine) fn autoscaler_figures(
        &self,
        id: &str,
        f: &mut BTreeMap<String, f64>,
        _parts: &mut SummaryParts,
    ) {
        if let Some(a) = self.autoscalers.iter().find(|a| a.id == id) {
            f.insert("desired".into(), f64::from(a.desired));
            f.insert("measured".into(), a.measured);
            f.insert("changes".into(), a.changes.since_warmup() as f64);
        }
    }
}

impl super::Runtime for crate::model::AutoscalerSpec {
    const BUILD_STAGE: u8 = 8;

    fn build(&self, w: &mut World) {
        w.build_autoscaler(self);
    }

    fn change(&self, w: &mut World, at: u32, old: &Self) {
        w.change_autoscaler(at, old, self);
    }

    fn figures(&self, w: &World, f: &mut BTreeMap<String, f64>, parts: &mut SummaryParts) {
        w.autoscaler_figures(&self.id, f, parts);
    }

    /// An autoscaler's chart series.
    fn traffic_series<S: SeriesSink>(w: &mut World, out: &mut S, _span: SampleSpan) {
        for a in &w.autoscalers {
            out.put(|| named(&a.id, "desired"), || f64::from(a.desired));
            out.put(|| named(&a.id, "measured"), || a.measured);
        }
    }

    /// An autoscaler at a glance: its tier's instances now, what it wants, and its
    /// metric against its target.
    fn glance(&self, _w: &World, g: &mut Glance, read: &GlanceReader) {
        use crate::model::ScaleMetric;
        let target = match self.metric {
            ScaleMetric::Cpu { target } => target,
            ScaleMetric::RequestRate { per_instance }
            | ScaleMetric::QueueDepth { per_instance } => per_instance,
        };
        g.headline = Headline::Autoscaler {
            instances: read.latest(&self.tier, "instances").unwrap_or(0.0),
            desired: read.get(&g.id, "desired"),
            of_target: read.get(&g.id, "measured") / target,
        };
    }
}
