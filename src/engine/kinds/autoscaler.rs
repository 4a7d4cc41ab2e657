//! An autoscaler of an app tier.

use crate::metrics::level::Counter;
use crate::sim::SimTime;

use crate::engine::components::*;
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
}
