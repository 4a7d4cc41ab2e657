//! Building the runtime system from a validated scenario: dense arrays of components
//! indexed by `u32`, compiled endpoint scripts, one random stream per component id.
//! Instances are created here both at the start and when a tier scales out mid-run.

use std::collections::BTreeMap;

use crate::metrics::OutcomeMeter;
use crate::metrics::level::Counter;
use crate::model::{ComponentSpec, Kind, ValidScenario};
use crate::sim::{EventQueue, SimDuration, SimTime};

use super::super::components::*;
use super::super::kinds::Runtime;
use super::super::program::{Resolver, compile};
use super::{Event, World};
use crate::model::scenario::for_each_spec;

impl World {
    /// Builds the runtime system from a validated scenario.
    pub fn build(sc: &ValidScenario, seed: u64) -> Self {
        let mut w = World {
            now: SimTime::ZERO,
            seed,
            queue: EventQueue::default(),
            warmup_end: SimTime::from_secs_f64(sc.run.warmup_secs),
            warm: sc.run.warmup_secs <= 0.0,
            sample_interval: SimDuration::from_secs_f64(sc.run.sample_interval_secs),
            last_sample: SimTime::ZERO,
            lazy_sampling: true,
            clients: Vec::new(),
            lbs: Vec::new(),
            limiters: Vec::new(),
            cdns: Vec::new(),
            autoscalers: Vec::new(),
            breakers: Vec::new(),
            queues: Vec::new(),
            partitions: Vec::new(),
            tiers: Vec::new(),
            instances: Vec::new(),
            stations: Vec::new(),
            pools: Vec::new(),
            caches: Vec::new(),
            dbs: Vec::new(),
            db_nodes: Vec::new(),
            programs: Vec::new(),
            ops: Vec::new(),
            requests: Vec::new(),
            free: Vec::new(),
            in_flight: 0,
            sessions_needed: false,
            endpoint_memory_kb: Vec::new(),
            per_endpoint: Vec::new(),
            late_responses: Counter::default(),
            call_timeouts: Default::default(),
            call_timer: None,
            interval_scratch: Default::default(),
            sample_values: Vec::new(),
            index: BTreeMap::new(),
        };

        // Index every kind by id first, in file order.
        let mut counts: BTreeMap<Kind, u32> = BTreeMap::new();
        for c in &sc.components {
            // Each kind is numbered on its own, in file order.
            let count = counts.entry(c.kind()).or_default();
            w.index.insert(c.id().to_owned(), *count);
            *count += 1;
        }
        let ids = |kind: Kind| -> BTreeMap<String, u32> {
            sc.components
                .iter()
                .filter(|c| c.kind() == kind)
                .map(|c| (c.id().to_owned(), w.index[c.id()]))
                .collect()
        };
        let (cache_idx, db_idx) = (ids(Kind::Cache), ids(Kind::Database));
        let index = w.index.clone();
        let resolver = Resolver {
            caches: &cache_idx,
            dbs: &db_idx,
            index: &index,
            scenario: sc.scenario(),
        };
        for (name, ep) in &sc.endpoints {
            w.programs
                .push(compile(name, &ep.steps, &resolver, &mut w.ops));
            w.per_endpoint.push(OutcomeMeter::default());
            w.endpoint_memory_kb.push((ep.memory_mb * 1024.0) as u64);
        }

        // Kinds in stages (`Runtime::BUILD_STAGE`), each in the file's order within its
        // stage; through the load balancers' stage at least, where whether any session
        // state is kept is worked out first.
        let stage = |c: &ComponentSpec| for_each_spec!(c, |c, _| stage_of(c));
        let last = sc.components.iter().map(stage).max().unwrap_or(0);
        for stage_now in 0..=last.max(crate::model::LoadBalancerSpec::BUILD_STAGE) {
            if stage_now == crate::model::LoadBalancerSpec::BUILD_STAGE {
                w.sessions_needed = w.any_session_state();
            }
            for c in sc.components.iter().filter(|c| stage(c) == stage_now) {
                for_each_spec!(c, |c, _| c.build(&mut w));
            }
        }

        if !w.warm {
            w.queue.schedule(w.warmup_end, Event::WarmupEnd);
        }
        w
    }

    /// Where requests sent to component `id` go (a limiter, a load balancer or a tier;
    /// validation guarantees it is one of them). Limiters are built before clients.
    pub(in crate::engine) fn target_of(&self, id: &str) -> Target {
        if let Some(c) = self.cdns.iter().position(|c| c.id == id) {
            Target::Cdn(c as u32)
        } else if let Some(b) = self.breakers.iter().position(|b| b.id == id) {
            Target::Breaker(b as u32)
        } else if let Some(l) = self.limiters.iter().position(|l| l.id == id) {
            Target::Limiter(l as u32)
        } else if let Some(lb) = self.lbs.iter().position(|lb| lb.id == id) {
            Target::LoadBalancer(lb as u32)
        } else {
            Target::Tier(self.index[id])
        }
    }

    /// Whether any component keeps state per user session (in-memory sessions,
    /// read-your-writes), so every request must carry its session.
    pub(in crate::engine) fn any_session_state(&self) -> bool {
        self.dbs.iter().any(|d| d.read_your_writes || d.track_stale)
            || self.tiers.iter().any(|t| t.in_memory_sessions)
    }

    /// Whether requests sent to `target` carry a user session: for sticky routing, or
    /// because a database sends a session's reads after its writes to the primary.
    pub(in crate::engine) fn needs_session(&self, target: Target) -> bool {
        self.sessions_needed || self.hashes_sessions(target)
    }

    /// Whether requests sent to `target` are routed by session (sticky hashing).
    pub(in crate::engine) fn hashes_sessions(&self, target: Target) -> bool {
        match target {
            Target::Cdn(c) => self.hashes_sessions(self.cdns[c as usize].target),
            Target::Breaker(b) => self.hashes_sessions(self.breakers[b as usize].target),
            Target::Limiter(l) => self.hashes_sessions(self.limiters[l as usize].target),
            Target::LoadBalancer(lb) => self.lbs[lb as usize].policy == crate::model::Policy::Hash,
            Target::Tier(_) => false,
        }
    }

    /// Endpoint indices with cumulative weights; every endpoint equally when `mix` is
    /// empty.
    pub(in crate::engine) fn mix(&self, mix: &[(String, f64)]) -> Vec<(u16, f64)> {
        if mix.is_empty() {
            return (0..self.programs.len())
                .map(|i| (i as u16, (i + 1) as f64))
                .collect();
        }
        let mut cum = 0.0;
        mix.iter()
            .filter(|(_, weight)| *weight > 0.0)
            .map(|(name, weight)| {
                cum += weight;
                let idx = self
                    .programs
                    .iter()
                    .position(|p| p.name == *name)
                    .unwrap_or(0);
                (idx as u16, cum)
            })
            .collect()
    }
}

/// When a kind is built (see [`Runtime::BUILD_STAGE`]).
fn stage_of<T: Runtime>(_: &T) -> u8 {
    T::BUILD_STAGE
}
