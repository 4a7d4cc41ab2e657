//! Each component kind's runtime state, one module per kind, with the meters it marks
//! at the end of the warm-up ([`Warm`](super::components::Warm)). The request's journey
//! through them stays in `World` (`engine::world`), since a request holds a thread, a
//! connection and a core at once.

mod app;
mod autoscaler;
mod breaker;
mod cache;
mod cdn;
mod client;
mod database;
mod load_balancer;
mod queue;
mod rate_limiter;

pub use app::*;
pub use autoscaler::*;
pub use breaker::*;
pub use cache::*;
pub use cdn::*;
pub use client::*;
pub use database::*;
pub use load_balancer::*;
pub use queue::*;
pub use rate_limiter::*;

use std::collections::BTreeMap;

use super::measure::{GlanceReader, SampleSpan, SeriesSink, SummaryParts};
use super::world::World;
use crate::metrics::Glance;

/// What the engine does with a kind of component: implemented in the kind's module for
/// its spec and called for every component through `for_each_spec!` (statically
/// dispatched), so a new kind's engine side is its module — the compiler asks for this
/// impl — rather than a line in each of the engine's dispatches.
pub(in crate::engine) trait Runtime:
    crate::model::ComponentKind + crate::model::Variant
{
    /// When it is built: after the kinds it refers to (`World::build` builds the kinds
    /// stage by stage, each in the file's order). Databases and caches (0) before the
    /// tiers (1) whose instances open pools to them and look them up; tiers before the
    /// load balancers, limiters, breakers, queues and CDNs in front of them (2–6, which
    /// resolve their targets); clients after what they target (7); autoscalers after the
    /// tiers they scale (8).
    const BUILD_STAGE: u8;

    /// Builds its runtime state (it is the next of its kind).
    fn build(&self, w: &mut World);

    /// Applies its live parameters (`self`, which were `old`) to component `at` of its
    /// kind in a running system.
    fn change(&self, w: &mut World, at: u32, old: &Self);

    /// Its figures in the summary; its stations, resources and time breakdown go to
    /// `parts`.
    fn figures(&self, w: &World, f: &mut BTreeMap<String, f64>, parts: &mut SummaryParts);

    /// The rates of every component of the kind among the chart series (the flow along
    /// the topology's edges), each named and valued in one place. Every kind's rates
    /// come before any kind's levels; the series' order is the columns' order.
    fn traffic_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan);

    /// Its levels among the chart series (utilisation, queues, hit ratios, lag), if it
    /// has any.
    fn state_series<S: SeriesSink>(_w: &mut World, _out: &mut S, _span: SampleSpan) {}

    /// Its key figures at a glance, from the chart series.
    fn glance(&self, w: &World, g: &mut Glance, read: &GlanceReader);

    /// What it cost per hour over the measured time: its list price, unless the run
    /// decides it (instances up, requests served).
    fn cost_per_hour(&self, _w: &World) -> f64 {
        self.list_price_per_hour()
    }
}
