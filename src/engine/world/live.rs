//! Changes to a running system: a component's parameters change at the current simulated
//! time and the system reacts as the real one would. New instances start after their
//! startup time; removed ones drain their requests first; a larger pool opens connections
//! for its waiters, a smaller one closes connections as they come back; more cores start
//! queued work at once.
//!
//! Only parameters described as live in `model::params` change here; validation refuses
//! a recorded change to anything else, so the specs given differ only in those.

use crate::model::ComponentSpec;
use crate::sim::SimDuration;

use super::super::components::*;
use super::super::kinds::Runtime;
use super::{Event, World};
use crate::model::scenario::for_each_spec;

impl World {
    /// Applies the live parameters of `new` to the component that was `old`.
    pub fn apply_change(&mut self, old: &ComponentSpec, new: &ComponentSpec) {
        let Some(&at) = self.index.get(new.id()) else {
            return;
        };
        self.wake_all();
        // A change keeps a component's kind (`edit` replaces a component of another kind).
        fn change<T: Runtime>(w: &mut World, at: u32, old: &ComponentSpec, new: &T) {
            if let Some(old) = T::of(old) {
                new.change(w, at, old);
            }
        }
        for_each_spec!(new, |new, _| change(self, at, old, new));
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
                    lru.clear();
                }
                for i in &mut self.instances {
                    for (cache, lru) in &mut i.local_caches {
                        if *cache == at {
                            lru.clear();
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
            lru.clear();
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
    pub(in crate::engine) fn lose_sessions(&mut self, inst: u32) {
        let tier = &mut self.tiers[self.instances[inst as usize].tier as usize];
        if !tier.in_memory_sessions {
            return;
        }
        let before = tier.session_owner.len();
        tier.session_owner.retain(|_, owner| *owner != inst);
        let lost = (before - tier.session_owner.len()) as u64;
        tier.sessions_lost.add(lost);
    }

    /// Sets a station's servers. Served by events: more servers start queued work at
    /// once, fewer let the busy ones finish first. Planned at arrival: more servers take
    /// new requests at once, fewer let the busy ones finish the work planned for them.
    pub(in crate::engine) fn set_servers(&mut self, station: u32, servers: u32, up: bool) {
        let now = self.now;
        let st = &mut self.stations[station as usize];
        st.servers = servers;
        if st.is_planned() {
            st.replan_servers(now, servers);
            if up {
                st.busy.set_servers(now, servers);
            }
            return;
        }
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
}
