//! Changes to a running system: a component's parameters change at the current simulated
//! time and the system reacts as the real one would. New instances start after their
//! startup time; removed ones drain their requests first; a larger pool opens connections
//! for its waiters, a smaller one closes connections as they come back; more cores start
//! queued work at once.
//!
//! Only parameters described as live in `model::params` change here; validation refuses
//! a recorded change to anything else, so the specs given differ only in those.

use crate::model::{ComponentSpec, Concurrency, PoolMode};
use crate::sim::SimDuration;

use super::super::arrivals::ArrivalProcess;
use super::super::components::*;
use super::super::kinds::{hit_model, query_cost};
use super::super::lru::Lru;
use super::super::sampler::Sampler;
use super::{Event, World};

impl World {
    /// Applies the live parameters of `new` to the component that was `old`.
    pub fn apply_change(&mut self, old: &ComponentSpec, new: &ComponentSpec) {
        let Some(&at) = self.index.get(new.id()) else {
            return;
        };
        self.wake_all();
        match (old, new) {
            (ComponentSpec::Client(old), ComponentSpec::Client(new)) => {
                let mix = self.mix(&new.mix);
                let c = &mut self.clients[at as usize];
                c.mix = mix;
                c.timeout = new.timeout_ms.map(SimDuration::from_millis_f64);
                c.sessions = new.sessions;
                c.retry = new.retry;
                c.retry_budget = new.retry_budget;
                if old.arrivals != new.arrivals {
                    self.change_arrivals(at, &new.arrivals);
                }
            }
            (ComponentSpec::Cdn(_), ComponentSpec::Cdn(new)) => {
                let c = &mut self.cdns[at as usize];
                c.edge_share = new.edge_share;
                c.latency = Sampler::new(&new.edge_latency);
            }
            (ComponentSpec::Autoscaler(_), ComponentSpec::Autoscaler(new)) => {
                // Takes effect at its next evaluation.
                self.autoscalers[at as usize].spec = new.clone();
            }
            (ComponentSpec::RateLimiter(_), ComponentSpec::RateLimiter(new)) => {
                let l = &mut self.limiters[at as usize];
                l.rate_per_sec = new.rate_per_sec;
                l.burst = new.burst;
            }
            (ComponentSpec::LoadBalancer(_), ComponentSpec::LoadBalancer(new)) => {
                self.lbs[at as usize].policy = new.policy;
                self.lbs[at as usize].max_in_flight = new.max_in_flight;
                for k in 0..self.clients.len() {
                    self.clients[k].needs_session = self.needs_session(self.clients[k].target);
                }
            }
            (ComponentSpec::App(_), ComponentSpec::App(new)) => self.change_tier(at, new),
            (ComponentSpec::CircuitBreaker(_), ComponentSpec::CircuitBreaker(new)) => {
                // The state carries on; the new thresholds apply from the next call.
                self.breakers[at as usize].spec = new.clone();
            }
            (ComponentSpec::Queue(_), ComponentSpec::Queue(new)) => {
                let now = self.now;
                let q = &mut self.queues[at as usize];
                q.latency = Sampler::new(&new.enqueue_latency);
                q.running.set_servers(now, new.consumers);
                q.spec = new.clone();
                // More consumers start on waiting jobs now; fewer finish what they run.
                self.arm_dispatch(at);
            }
            (ComponentSpec::Cache(_), ComponentSpec::Cache(new)) => {
                let c = &mut self.caches[at as usize];
                c.op = Sampler::new(&new.op_time);
                c.network = Sampler::new(&new.network_latency);
                // Only the hit ratio and the TTL are live; the key space keeps its LRU.
                match (&mut c.model, hit_model(&new.model)) {
                    (HitModel::Ratio(r), HitModel::Ratio(n)) => *r = n,
                    (HitModel::Keys { ttl_ns, .. }, HitModel::Keys { ttl_ns: n, .. }) => {
                        *ttl_ns = n
                    }
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
            (ComponentSpec::Database(_), ComponentSpec::Database(new)) => {
                let d = &mut self.dbs[at as usize];
                d.max_connections = new.max_connections;
                d.replica_policy = new.replica_policy;
                d.network = Sampler::new(&new.network_latency);
                d.connect_time = Sampler::new(&new.connect_time);
                d.connect_cpu = Sampler::new(&new.connect_cpu);
                d.lag = Sampler::new(&new.replication_lag);
                d.track_stale = d.per_shard > 1 && !new.replication_lag.is_zero();
                d.needs_key = d.shards > 1 || d.track_stale;
                d.read_your_writes = new.read_your_writes && d.per_shard > 1;
                for (q, spec) in d.queries.iter_mut().zip(new.queries.values()) {
                    q.cost = query_cost(spec);
                }
                let now = self.now;
                for n in &d.nodes {
                    self.db_nodes[*n as usize]
                        .connections
                        .set_servers(now, new.max_connections);
                }
                let stations: Vec<u32> = d
                    .nodes
                    .iter()
                    .map(|n| self.db_nodes[*n as usize].station)
                    .collect();
                for st in stations {
                    self.set_servers(st, new.cores, true);
                }
                self.sessions_needed = self.any_session_state();
                for k in 0..self.clients.len() {
                    self.clients[k].needs_session = self.needs_session(self.clients[k].target);
                }
            }
            _ => {}
        }
    }

    /// Makes something break now.
    pub fn apply_fault(&mut self, fault: &crate::model::Fault) {
        use crate::model::Fault;
        let Some(&at) = self.index.get(fault.component()) else {
            return;
        };
        self.wake_all();
        let now = self.now;
        match fault {
            Fault::KillInstances { count, .. } => {
                for _ in 0..*count {
                    let Some(&inst) = self.tiers[at as usize].active.last() else {
                        break;
                    };
                    self.crash(inst, crate::metrics::ErrorCause::Crashed);
                }
            }
            Fault::FlushCache { .. } => {
                let c = &mut self.caches[at as usize];
                if let Some(lru) = c.shared.as_mut() {
                    *lru = Lru::new(lru.capacity() as u64);
                }
                for i in &mut self.instances {
                    for (cache, lru) in &mut i.local_caches {
                        if *cache == at {
                            *lru = Lru::new(lru.capacity() as u64);
                        }
                    }
                }
            }
            Fault::LatencySpike {
                target,
                extra_ms,
                duration_secs,
            } => {
                let spike = Some((
                    now + SimDuration::from_secs_f64(*duration_secs),
                    SimDuration::from_millis_f64(*extra_ms),
                ));
                if let Some(d) = self.dbs.iter_mut().find(|d| d.id == *target) {
                    d.spike = spike;
                } else if let Some(c) = self.caches.iter_mut().find(|c| c.id == *target) {
                    c.spike = spike;
                }
            }
            Fault::KillPrimary {
                shard,
                failover_secs,
                ..
            } => {
                let node = self.dbs[at as usize].primary(*shard);
                let n = &mut self.db_nodes[node as usize];
                n.killed_at = Some(now);
                n.down_until = now + SimDuration::from_secs_f64(*failover_secs);
            }
            Fault::Partition {
                to: to_id,
                duration_secs,
                mode,
                ..
            } => {
                let Some(to) = self.cut_of(to_id) else {
                    return;
                };
                self.partitions.retain(|p| now < p.until);
                self.partitions.push(Partition {
                    tier: at,
                    to,
                    to_id: to_id.clone(),
                    until: now + SimDuration::from_secs_f64(*duration_secs),
                    drop: *mode == crate::model::PartitionMode::Drop,
                });
            }
        }
    }

    /// Crashes `inst`: out of rotation, its queued requests fail, its running ones fail
    /// now for their clients (with `cause`) and end at their next step, its memory,
    /// local caches and in-memory sessions are gone; it restarts after its startup time.
    pub(super) fn crash(&mut self, inst: u32, cause: crate::metrics::ErrorCause) {
        self.wake(inst);
        let now = self.now;
        let i = &mut self.instances[inst as usize];
        i.crashes.inc();
        i.state = InstanceState::Starting;
        i.busy_slots.set_servers(now, 0);
        i.memory_kb = 0;
        for (_, lru) in &mut i.local_caches {
            *lru = Lru::new(lru.capacity() as u64);
        }
        let queued: Vec<ReqRef> = i.accept_queue.drain(..).map(|(r, _)| r).collect();
        i.queue_len.set(now, 0);
        let cores = i.cores;
        let tier = i.tier;
        self.tiers[tier as usize].active.retain(|&x| x != inst);
        self.lose_sessions(inst);
        self.stations[cores as usize].busy.set_servers(now, 0);
        for a in self.instances[inst as usize].db_access.clone() {
            for pool in a.pools() {
                self.pools[pool as usize].in_use.set_servers(now, 0);
            }
        }
        for r in queued {
            self.finish(r, Err(cause));
        }
        let running: Vec<ReqRef> = self
            .requests
            .iter()
            .enumerate()
            .filter(|(_, q)| q.live && q.instance == inst && q.admitted)
            .map(|(idx, q)| ReqRef {
                idx: idx as u32,
                generation: q.generation,
            })
            .collect();
        for r in running {
            let q = &mut self.requests[r.idx as usize];
            q.doomed = true;
            // One held by a partition would only notice when the partition heals.
            let held = q.phase == super::phase::PARTITION_WAIT;
            self.respond(r, Err(cause));
            if held {
                self.advance(r);
            }
        }
        let startup = SimDuration::from_secs_f64(self.tiers[tier as usize].spec.startup_secs);
        self.queue
            .schedule(now + startup, Event::InstanceUp { inst });
    }

    /// What cutting the network to component `id` cuts.
    fn cut_of(&self, id: &str) -> Option<Cut> {
        let at = *self.index.get(id)?;
        if self.dbs.iter().any(|d| d.id == id) {
            Some(Cut::Db(at))
        } else if self.caches.iter().any(|c| c.id == id) {
            Some(Cut::Cache(at))
        } else if self.queues.iter().any(|q| q.id == id) {
            Some(Cut::Queue(at))
        } else {
            Some(Cut::Service(self.target_of(id)))
        }
    }

    /// The sessions `inst` held in memory are gone: their users are logged out.
    pub(super) fn lose_sessions(&mut self, inst: u32) {
        let tier = &mut self.tiers[self.instances[inst as usize].tier as usize];
        if !tier.in_memory_sessions {
            return;
        }
        let before = tier.session_owner.len();
        tier.session_owner.retain(|_, owner| *owner != inst);
        let lost = (before - tier.session_owner.len()) as u64;
        tier.sessions_lost.add(lost);
    }

    fn change_arrivals(&mut self, client: u32, arrivals: &crate::model::Arrivals) {
        let c = &mut self.clients[client as usize];
        if let Some(id) = c.next_arrival.take() {
            self.queue.cancel(id);
        }
        c.process = ArrivalProcess::new(arrivals, &mut c.rng);
        c.think = match arrivals {
            crate::model::Arrivals::Closed { users, think } => Some((Sampler::new(think), *users)),
            // Closed-loop users stop at their next turn (`user_may_send`).
            _ => None,
        };
        self.schedule_next_arrival(client);
        self.start_users(client);
    }

    /// An autoscaler's evaluation: the metric over the last interval, the instances it
    /// calls for (current × measured ÷ target, within min and max), a change if that
    /// differs and the cooldown has passed; then the next evaluation.
    pub(super) fn autoscale(&mut self, scaler: u32) {
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

    fn change_tier(&mut self, tier: u32, new: &crate::model::AppSpec) {
        self.tiers[tier as usize].spec = new.clone();
        // More threads reserve more stacks: less room for the requests' own memory.
        self.tiers[tier as usize].memory_kb = new.requests_memory_kb();
        let slots = match new.concurrency {
            Concurrency::Threads { workers } => workers,
            Concurrency::Async { max_in_flight } => max_in_flight,
        };
        let instances = self.tiers[tier as usize].instances.clone();
        for inst in instances {
            let up = matches!(
                self.instances[inst as usize].state,
                InstanceState::Active | InstanceState::Draining
            );
            let cores = self.instances[inst as usize].cores;
            self.set_servers(cores, new.cores, up);
            let now = self.now;
            let i = &mut self.instances[inst as usize];
            i.slots = slots;
            if up {
                i.busy_slots.set_servers(now, slots);
            }
            i.queue_cap = new.accept_queue;
            i.queue_timeout = new.queue_timeout_ms.map(SimDuration::from_millis_f64);
            if i.queue_timeout.is_some() && !i.accept_queue.is_empty() {
                // A new timeout applies to those already waiting: check them now.
                self.arm_queue_deadline(inst, now);
            }
            if up {
                self.start_next_queued(inst);
            }
            let access = self.instances[inst as usize].db_access.clone();
            for (a, p) in access.iter().zip(&new.pools) {
                let PoolMode::Pooled {
                    size,
                    acquire_timeout_ms,
                } = p.mode
                else {
                    continue;
                };
                for pool in a.pools() {
                    self.resize_pool(
                        pool,
                        size,
                        SimDuration::from_millis_f64(acquire_timeout_ms),
                        up,
                    );
                }
            }
        }
        self.set_instances(
            tier,
            new.instances,
            SimDuration::from_secs_f64(new.startup_secs),
        );
    }

    /// Brings the tier to `wanted` instances: draining ones go back into rotation at
    /// once, then stopped or new instances start (taking traffic after `startup`);
    /// surplus ones stop starting, or drain, newest first. So a tier never has more
    /// instances than the most it was asked for, however often it scales.
    fn set_instances(&mut self, tier: u32, wanted: u32, startup: SimDuration) {
        let now = self.now;
        let t = &mut self.tiers[tier as usize];
        let current = t.wanted;
        t.wanted = wanted;
        if wanted > current {
            let mut missing = wanted - current;
            // A draining instance is still up: taking it back costs no startup.
            let draining: Vec<u32> = t
                .instances
                .iter()
                .copied()
                .filter(|i| self.instances[*i as usize].state == InstanceState::Draining)
                .take(missing as usize)
                .collect();
            for inst in draining {
                self.instances[inst as usize].state = InstanceState::Active;
                self.tiers[tier as usize].active.push(inst);
                missing -= 1;
            }
            let t = &mut self.tiers[tier as usize];
            // Restart stopped instances first: their random streams continue, and the
            // number of instances ever created stays at the largest count asked for.
            let stopped: Vec<u32> = t
                .instances
                .iter()
                .copied()
                .filter(|i| self.instances[*i as usize].state == InstanceState::Stopped)
                .take(missing as usize)
                .collect();
            for inst in stopped {
                self.instances[inst as usize].state = InstanceState::Starting;
                self.queue
                    .schedule(now + startup, Event::InstanceUp { inst });
                missing -= 1;
            }
            for _ in 0..missing {
                let inst = self.add_instance(tier, false);
                self.queue
                    .schedule(now + startup, Event::InstanceUp { inst });
            }
        } else {
            let mut surplus = current - wanted;
            let starting: Vec<u32> = t
                .instances
                .iter()
                .rev()
                .copied()
                .filter(|i| self.instances[*i as usize].state == InstanceState::Starting)
                .take(surplus as usize)
                .collect();
            for inst in starting {
                // Its `InstanceUp` event finds it stopped and does nothing.
                self.instances[inst as usize].state = InstanceState::Stopped;
                surplus -= 1;
            }
            for _ in 0..surplus {
                let Some(inst) = self.tiers[tier as usize].active.pop() else {
                    break;
                };
                self.instances[inst as usize].state = InstanceState::Draining;
                if self.instances[inst as usize].in_system.value() == 0 {
                    self.stop_instance(inst);
                }
            }
        }
    }

    /// An instance finished starting: it takes traffic from now on.
    pub(super) fn instance_up(&mut self, inst: u32) {
        self.wake(inst);
        let now = self.now;
        let i = &mut self.instances[inst as usize];
        if i.state != InstanceState::Starting {
            return;
        }
        i.state = InstanceState::Active;
        let slots = i.slots;
        i.busy_slots.set_servers(now, slots);
        let (tier, cores) = (i.tier, i.cores);
        let st = &mut self.stations[cores as usize];
        st.busy.set_servers(now, st.servers);
        for a in self.instances[inst as usize].db_access.clone() {
            for pool in a.pools() {
                let p = &mut self.pools[pool as usize];
                p.in_use.set_servers(now, p.size);
            }
        }
        self.tiers[tier as usize].active.push(inst);
    }

    /// A drained instance holds nothing more: its capacity leaves the averages, its idle
    /// connections close and its local caches are gone (a restart starts them cold).
    pub(super) fn stop_instance(&mut self, inst: u32) {
        self.wake(inst);
        let now = self.now;
        self.lose_sessions(inst);
        let i = &mut self.instances[inst as usize];
        i.state = InstanceState::Stopped;
        i.busy_slots.set_servers(now, 0);
        for (_, lru) in &mut i.local_caches {
            *lru = Lru::new(lru.capacity() as u64);
        }
        let cores = i.cores;
        self.stations[cores as usize].busy.set_servers(now, 0);
        for a in self.instances[inst as usize].db_access.clone() {
            for pool in a.pools() {
                let p = &mut self.pools[pool as usize];
                p.in_use.set_servers(now, 0);
                let idle = std::mem::take(&mut p.idle);
                p.open.add(now, -(idle.len() as i32));
                for node in idle {
                    self.close_db_connection(node);
                }
            }
        }
    }

    /// Sets a station's servers; more servers start queued work at once, fewer let the
    /// busy ones finish first.
    fn set_servers(&mut self, station: u32, servers: u32, up: bool) {
        let now = self.now;
        let st = &mut self.stations[station as usize];
        st.servers = servers;
        if up {
            st.busy.set_servers(now, servers);
        }
        while st.busy.value() < st.servers {
            let Some((next, service, since)) = st.queue.pop_front() else {
                break;
            };
            st.queue_len.dec(now);
            st.wait.record(now.since(since).0);
            st.busy.inc(now);
            let q = &mut self.requests[next.idx as usize];
            q.clock.enter(now.0, q.serve_phase);
            self.queue
                .schedule(now + service, Event::ServiceDone { station, req: next });
        }
    }

    /// Resizes a pool: a larger one opens connections for its waiters at once, a smaller
    /// one closes idle connections now and busy ones as they are released.
    fn resize_pool(&mut self, pool_idx: u32, size: u32, timeout: SimDuration, up: bool) {
        let now = self.now;
        let mut p = &mut self.pools[pool_idx as usize];
        p.size = size;
        p.acquire_timeout = timeout;
        if up {
            p.in_use.set_servers(now, size);
        }
        while p.open.value() > p.size {
            let Some(node) = p.idle.pop() else { break };
            p.open.dec(now);
            self.close_db_connection(node);
            p = &mut self.pools[pool_idx as usize];
        }
        loop {
            let p = &mut self.pools[pool_idx as usize];
            if p.open.value() >= p.size {
                break;
            }
            let Some((r, _, since)) = p.waiters.pop_front() else {
                break;
            };
            p.waiting.dec(now);
            p.wait.record(now.since(since).0);
            p.open.inc(now);
            p.in_use.inc(now);
            let node = self.node_for_new_connection(pool_idx);
            // Opening parks the request for its handshake (it resumes by itself) or
            // fails it at the database's connection limit.
            self.open_connection(r, pool_idx, node);
        }
    }
}
