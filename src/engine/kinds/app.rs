//! An app tier: its instances, their worker slots, accept queues and connection pools.

use std::collections::{BTreeMap, VecDeque};

use crate::metrics::breakdown::{Breakdown, Phase};
use crate::metrics::level::{Counter, DurationSum, Level, Occupancy, SampleSum};
use crate::metrics::summary::{ResourceKind, TierTime};
use crate::metrics::{Broken, Glance, Headline};
use crate::model::{AppSpec, CacheScope, Concurrency, PoolMode, SessionStore};
use crate::sim::{SimDuration, SimRng, SimTime};

use crate::engine::components::*;
use crate::engine::lru::Lru;
use crate::engine::measure::{GlanceReader, SampleSpan, SeriesSink, SummaryParts, named, ratio};
use crate::engine::sampler::Sampler;
use crate::engine::world::{Event, World};

/// Sessions remembered per tier at most (beyond, new sessions are not tracked), so a
/// changed session count can never grow memory without bound.
pub const MAX_TRACKED_SESSIONS: usize = crate::model::limits::MAX_IN_MEMORY_SESSIONS as usize;

/// An app tier: a group of identical instances.
pub struct Tier {
    pub id: String,
    /// Every instance the tier has had, in creation order (statistics cover them all).
    pub instances: Vec<u32>,
    /// The instances that take traffic, in the order they came up.
    pub active: Vec<u32>,
    /// Instances asked for: active plus starting.
    pub wanted: u32,
    pub rr_next: usize,
    /// Thread-per-request (`true`) or async event loop.
    pub threads: bool,
    /// Memory an instance has for requests (its memory less the process's own), in KB;
    /// `None`: not modelled.
    pub memory_kb: Option<u64>,
    /// Sessions live in instance memory: which instance holds each session.
    pub in_memory_sessions: bool,
    pub session_owner: rustc_hash::FxHashMap<u32, u32>,
    /// Users logged out: their session was on an instance that died or stopped, or their
    /// request landed on another instance (routing that is not sticky).
    pub sessions_lost: Counter,
    /// Requests it served successfully (from their sending to their end here, whoever
    /// sent them: users, calling services, queues) and where their time went.
    pub served: DurationSum,
    pub breakdown: Breakdown,
    /// Of those, users' requests.
    pub served_users: Counter,
    /// Time to fetch the session from an external store before each request.
    pub session_lookup: Option<Sampler>,
    /// The tier's spec, for instances created during the run.
    pub spec: crate::model::AppSpec,
    /// Chart sampling visits only the instances that may have changed since the last
    /// sample (`awake`); the others are quiet — nothing in them, nothing changing — and
    /// add only their capacity, summed in `quiet`. So a sample costs what the busy
    /// instances cost, not what the tier has.
    pub awake: Vec<u32>,
    pub quiet: QuietShare,
    /// The databases the quiet share's pools are for, in order (`World::tier_dbs` when
    /// instances last went quiet).
    pub dbs: Vec<u32>,
}

impl Warm for Tier {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.sessions_lost.mark_warmup();
        self.served.mark_warmup();
        self.breakdown.mark_warmup();
        self.served_users.mark_warmup();
    }
}

/// The capacity that a tier's quiet instances add to its sampled utilisations: cores,
/// worker slots, and pooled connections per database the tier uses (in
/// `World::tier_dbs` order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuietShare {
    pub cores: u64,
    pub slots: u64,
    pub pools: Vec<u64>,
}

/// Where an instance is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceState {
    /// Starting up: takes no traffic until its startup time has passed.
    Starting,
    /// Taking traffic.
    Active,
    /// Taken out of rotation: finishes the requests it has, takes no new ones.
    Draining,
    /// Drained: holds nothing; may be started again.
    Stopped,
}

/// The connections one instance uses for one database: per shard, a pool for writes
/// (and reads without replicas) and, with replicas, one for reads, numbered from `base`.
#[derive(Clone, Copy, Debug)]
pub struct DbAccess {
    pub db: u32,
    /// The first pool; `NONE` in per-request mode.
    pub base: u32,
    pub shards: u32,
    /// Whether each shard has a reader pool (the database has replicas).
    pub readers: bool,
}

impl DbAccess {
    fn stride(&self) -> u32 {
        if self.readers { 2 } else { 1 }
    }

    /// The writer pool of `shard` (`NONE` in per-request mode).
    pub fn writer(&self, shard: u32) -> u32 {
        if self.base == NONE {
            NONE
        } else {
            self.base + shard * self.stride()
        }
    }

    /// The reader pool of `shard` (`NONE` without replicas or pools).
    pub fn reader(&self, shard: u32) -> u32 {
        if self.base == NONE || !self.readers {
            NONE
        } else {
            self.base + shard * self.stride() + 1
        }
    }

    /// Every pool, writers and readers of all shards.
    pub fn pools(&self) -> std::ops::Range<u32> {
        if self.base == NONE {
            0..0
        } else {
            self.base..self.base + self.shards * self.stride()
        }
    }
}

/// One app instance.
pub struct Instance {
    pub tier: u32,
    pub state: InstanceState,
    pub rng: SimRng,
    /// Workers (thread mode) or event-loop admission slots (async mode).
    pub slots: u32,
    /// Slots in use, against `slots` while the instance is up (0 while it is starting
    /// or stopped).
    pub busy_slots: Occupancy,
    pub accept_queue: VecDeque<(ReqRef, SimTime)>,
    pub queue_cap: u32,
    pub queue_timeout: Option<SimDuration>,
    /// When the accept queue's timeout check is due (`None`: none pending).
    pub queue_deadline_at: Option<SimTime>,
    pub queue_len: Level,
    /// Arrivals that found every slot busy and queued, and the wait of each request
    /// that got a slot (0 for those that got one at once).
    pub delayed: Counter,
    pub queue_wait: DurationSum,
    pub in_system: Level,
    pub sojourn: DurationSum,
    pub arrivals: Counter,
    pub rejected: Counter,
    pub queue_timeouts: Counter,
    /// Station index of the cores.
    pub cores: u32,
    /// How fast its cores are relative to the reference (CPU steps take 1 / this).
    pub cpu_speed: f64,
    pub db_access: Vec<DbAccess>,
    /// Local caches, by cache index.
    pub local_caches: Vec<(u32, Lru)>,
    /// Times it crashed.
    pub crashes: Counter,
    /// Whether admitting a request does more than take a slot (memory to count, a
    /// session to keep or look up): the common case skips all of it.
    pub admission_work: bool,
    /// Times it ran out of memory (counted in `crashes` too).
    pub ooms: Counter,
    /// Memory held by the requests it runs, in KB, and the most it held.
    pub memory_kb: u64,
    pub memory_peak_kb: u64,
    /// Whether chart sampling visits it (see `Tier::awake`).
    pub awake: bool,
}

impl Warm for Instance {
    fn mark_warmup(&mut self, now: SimTime) {
        self.busy_slots.mark_warmup(now);
        self.queue_len.mark_warmup(now);
        self.in_system.mark_warmup(now);
        self.sojourn.mark_warmup();
        self.arrivals.mark_warmup();
        self.rejected.mark_warmup();
        self.crashes.mark_warmup();
        self.ooms.mark_warmup();
        self.queue_timeouts.mark_warmup();
        self.delayed.mark_warmup();
        self.queue_wait.mark_warmup();
    }
}

/// A per-instance connection pool to one database (writer or reader side).
pub struct Pool {
    pub db: u32,
    pub shard: u32,
    pub reader: bool,
    pub size: u32,
    pub acquire_timeout: SimDuration,
    /// Connections open or being opened.
    pub open: Level,
    /// Connections in use, against `size` while the instance is up.
    pub in_use: Occupancy,
    /// Requests holding or waiting for a connection, and how long each stayed (from
    /// asking for a connection to giving it back, failing, or timing out).
    pub in_system: Level,
    pub sojourn: DurationSum,
    /// Acquires that found no connection and waited.
    pub delayed: Counter,
    /// Idle connections, by the database node each is bound to.
    pub idle: Vec<u32>,
    /// Requests waiting for a connection with their deadline and start of the wait.
    pub waiters: VecDeque<(ReqRef, SimTime, SimTime)>,
    pub waiting: Level,
    pub deadline_armed: bool,
    pub acquires: Counter,
    pub timeouts: Counter,
    pub wait: DurationSum,
}

impl Warm for Pool {
    fn mark_warmup(&mut self, now: SimTime) {
        self.open.mark_warmup(now);
        self.in_use.mark_warmup(now);
        self.waiting.mark_warmup(now);
        self.acquires.mark_warmup();
        self.timeouts.mark_warmup();
        self.wait.mark_warmup();
        self.in_system.mark_warmup(now);
        self.sojourn.mark_warmup();
        self.delayed.mark_warmup();
    }
}

impl World {
    pub(in crate::engine) fn build_tier(&mut self, s: &AppSpec) {
        let tier = self.tiers.len() as u32;
        self.tiers.push(Tier {
            id: s.id.clone(),
            instances: Vec::new(),
            active: Vec::new(),
            wanted: s.instances,
            rr_next: 0,
            threads: matches!(s.concurrency, Concurrency::Threads { .. }),
            memory_kb: s.requests_memory_kb(),
            in_memory_sessions: s.sessions == SessionStore::InMemory,
            session_owner: Default::default(),
            sessions_lost: Counter::default(),
            served: DurationSum::default(),
            breakdown: Default::default(),
            served_users: Counter::default(),
            session_lookup: match &s.sessions {
                SessionStore::External { lookup } => Some(Sampler::new(lookup)),
                _ => None,
            },
            spec: s.clone(),
            awake: Vec::new(),
            quiet: Default::default(),
            dbs: Vec::new(),
        });
        for _ in 0..s.instances {
            let inst = self.add_instance(tier, true);
            self.tiers[tier as usize].active.push(inst);
        }
    }

    /// Creates instance number `k` of `tier` (its random stream is named `tier#k`, so it
    /// is the same whenever the instance is created). An instance that is not `up` yet
    /// holds no capacity until [`World::instance_up`].
    pub(in crate::engine) fn add_instance(&mut self, tier: u32, up: bool) -> u32 {
        let now = self.now;
        let s = self.tiers[tier as usize].spec.clone();
        let k = self.tiers[tier as usize].instances.len();
        let inst = self.instances.len() as u32;
        let name = format!("{}#{k}", s.id);
        let slots = match s.concurrency {
            Concurrency::Threads { workers } => workers,
            Concurrency::Async { max_in_flight } => max_in_flight,
        };
        let cores = self.stations.len() as u32;
        self.stations
            .push(Station::new(s.cores, now, up, Phase::CoreWait));
        let mut db_access = Vec::new();
        for p in &s.pools {
            let db = self.index[&p.db];
            let (shards, readers) = {
                let d = &self.dbs[db as usize];
                (d.shards, d.per_shard > 1)
            };
            let base = match p.mode {
                PoolMode::PerRequest => NONE,
                PoolMode::Pooled {
                    size,
                    acquire_timeout_ms,
                } => {
                    let base = self.pools.len() as u32;
                    for shard in 0..shards {
                        for reader in [false, true] {
                            if reader && !readers {
                                continue;
                            }
                            let mut in_use = Occupancy::default();
                            in_use.set_servers(now, if up { size } else { 0 });
                            self.pools.push(Pool {
                                db,
                                shard,
                                reader,
                                size,
                                acquire_timeout: SimDuration::from_millis_f64(acquire_timeout_ms),
                                open: Level::default(),
                                in_use,
                                in_system: Level::default(),
                                sojourn: DurationSum::default(),
                                delayed: Counter::default(),
                                idle: Vec::new(),
                                waiters: VecDeque::new(),
                                waiting: Level::default(),
                                deadline_armed: false,
                                acquires: Counter::default(),
                                timeouts: Counter::default(),
                                wait: Default::default(),
                            });
                        }
                    }
                    base
                }
            };
            db_access.push(DbAccess {
                db,
                base,
                shards,
                readers,
            });
        }
        let local_caches = self
            .caches
            .iter()
            .enumerate()
            .filter(|(_, c)| c.scope == CacheScope::Local)
            .map(|(i, c)| {
                let capacity = match c.model {
                    HitModel::Keys { capacity, .. } => capacity,
                    HitModel::Ratio(_) => 1,
                };
                (i as u32, Lru::new(capacity))
            })
            .collect();
        let mut busy_slots = Occupancy::default();
        busy_slots.set_servers(now, if up { slots } else { 0 });
        self.instances.push(Instance {
            tier,
            state: if up {
                InstanceState::Active
            } else {
                InstanceState::Starting
            },
            rng: SimRng::stream(self.seed, &name),
            slots,
            busy_slots,
            accept_queue: VecDeque::new(),
            queue_cap: s.accept_queue,
            queue_timeout: s.queue_timeout_ms.map(SimDuration::from_millis_f64),
            queue_deadline_at: None,
            queue_len: Level::default(),
            delayed: Counter::default(),
            queue_wait: DurationSum::default(),
            in_system: Level::default(),
            sojourn: Default::default(),
            arrivals: Counter::default(),
            rejected: Counter::default(),
            queue_timeouts: Counter::default(),
            cores,
            cpu_speed: s.cpu_speed,
            db_access,
            local_caches,
            crashes: Counter::default(),
            admission_work: s.memory_mb.is_some() || s.sessions != SessionStore::Stateless,
            ooms: Counter::default(),
            memory_kb: 0,
            memory_peak_kb: 0,
            awake: true,
        });
        // Its meters start empty, so they count from now: nothing before the warm-up
        // end to discard.
        self.tiers[tier as usize].instances.push(inst);
        self.tiers[tier as usize].awake.push(inst);
        inst
    }

    pub(in crate::engine) fn change_tier(&mut self, tier: u32, new: &crate::model::AppSpec) {
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
    pub(in crate::engine) fn set_instances(
        &mut self,
        tier: u32,
        wanted: u32,
        startup: SimDuration,
    ) {
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
    pub(in crate::engine) fn instance_up(&mut self, inst: u32) {
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
    pub(in crate::engine) fn stop_instance(&mut self, inst: u32) {
        self.wake(inst);
        let now = self.now;
        self.lose_sessions(inst);
        let i = &mut self.instances[inst as usize];
        i.state = InstanceState::Stopped;
        i.busy_slots.set_servers(now, 0);
        for (_, lru) in &mut i.local_caches {
            lru.clear();
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

    /// Resizes a pool: a larger one opens connections for its waiters at once, a smaller
    /// one closes idle connections now and busy ones as they are released.
    pub(in crate::engine) fn resize_pool(
        &mut self,
        pool_idx: u32,
        size: u32,
        timeout: SimDuration,
        up: bool,
    ) {
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

    /// An app tier's figures in the summary, its resources in the saturation ranking and its
    /// stations.
    pub(in crate::engine) fn tier_figures(
        &self,
        id: &str,
        f: &mut BTreeMap<String, f64>,
        parts: &mut SummaryParts,
    ) {
        let Some(t) = self.tiers.iter().position(|t| t.id == id) else {
            return;
        };
        let tier = &self.tiers[t];
        let served = tier.served.count_since_warmup();
        parts.tiers.insert(
            id.to_owned(),
            TierTime {
                served_per_sec: served as f64 / parts.span_nz,
                user_requests_per_sec: tier.served_users.since_warmup() as f64 / parts.span_nz,
                mean_ms: tier.served.mean_ms_since_warmup(),
                breakdown_ms: Phase::ALL
                    .iter()
                    .filter(|p| **p != Phase::Retries)
                    .map(|p| (p.name().to_owned(), tier.breakdown.mean_ms(*p, served)))
                    .collect(),
            },
        );
        let (cpu, workers, pools) = self.tier_stations(t);
        let mut rejected = 0;
        let mut qto = 0;
        for &i in &tier.instances {
            rejected += self.instances[i as usize].rejected.since_warmup();
            qto += self.instances[i as usize].queue_timeouts.since_warmup();
        }
        f.insert("instances".into(), tier.active.len() as f64);
        f.insert("instances_wanted".into(), f64::from(tier.wanted));
        let crashes: u64 = tier
            .instances
            .iter()
            .map(|i| self.instances[*i as usize].crashes.since_warmup())
            .sum();
        f.insert("crashes".into(), crashes as f64);
        if let Some(limit) = tier.memory_kb {
            let ooms: u64 = tier
                .instances
                .iter()
                .map(|i| self.instances[*i as usize].ooms.since_warmup())
                .sum();
            let peak = tier
                .instances
                .iter()
                .map(|i| self.instances[*i as usize].memory_peak_kb)
                .max()
                .unwrap_or(0);
            f.insert("out_of_memory_crashes".into(), ooms as f64);
            f.insert(
                "memory_peak_mb".into(),
                tier.spec.fixed_memory_mb() + peak as f64 / 1024.0,
            );
            f.insert("memory_for_requests_mb".into(), limit as f64 / 1024.0);
        }
        if tier.in_memory_sessions {
            f.insert(
                "sessions_lost".into(),
                tier.sessions_lost.since_warmup() as f64,
            );
            f.insert("sessions_held".into(), tier.session_owner.len() as f64);
        } else if matches!(
            tier.spec.sessions,
            crate::model::SessionStore::External { .. }
        ) {
            // Nothing to lose: said, so the two stores compare.
            f.insert("sessions_lost".into(), 0.0);
        }
        f.insert("cpu_util".into(), cpu.utilization());
        f.insert("worker_util".into(), workers.utilization());
        f.insert("busy_workers".into(), workers.busy);
        f.insert("accept_queue".into(), workers.queue);
        f.insert("run_queue".into(), cpu.queue);
        f.insert("in_flight".into(), workers.in_system);
        f.insert("rejected".into(), rejected as f64);
        f.insert("queue_timeouts".into(), qto as f64);
        f.insert(
            "throughput_per_sec".into(),
            workers.departures as f64 / parts.span_nz,
        );
        parts.saturated(
            id,
            format!("{id} cpu"),
            ResourceKind::Compute,
            cpu.utilization(),
        );
        parts.saturated(
            id,
            format!(
                "{id} {}",
                if tier.threads {
                    "worker threads"
                } else {
                    "in-flight slots"
                }
            ),
            ResourceKind::Concurrency,
            workers.utilization(),
        );
        parts
            .stations
            .push(cpu.report(format!("{id}.cpu"), parts.span));
        parts
            .stations
            .push(workers.report(format!("{id}.workers"), parts.span));
        for (db, agg) in &pools {
            let db_id = &self.dbs[*db as usize].id;
            f.insert(format!("pool({db_id})_util"), agg.utilization());
            f.insert(format!("pool({db_id})_waiting"), agg.queue);
            f.insert(
                format!("pool({db_id})_wait_ms"),
                if agg.waits == 0 {
                    0.0
                } else {
                    agg.wait_secs / agg.waits as f64 * 1e3
                },
            );
            let timeouts: u64 = tier
                .instances
                .iter()
                .flat_map(|i| self.instances[*i as usize].db_access.iter())
                .filter(|a| a.db == *db)
                .flat_map(|a| a.pools())
                .map(|p| self.pools[p as usize].timeouts.since_warmup())
                .sum();
            f.insert(format!("pool({db_id})_timeouts"), timeouts as f64);
            parts.saturated(
                id,
                format!("{id} pool({db_id})"),
                ResourceKind::Concurrency,
                agg.utilization(),
            );
            parts
                .stations
                .push(agg.report(format!("{id}.pool({db_id})"), parts.span));
        }
    }

    /// Takes the instances of tier `ti` that hold nothing out of the chart sampling
    /// (just sampled): until something wakes them, only their capacity counts, in the
    /// tier's quiet share.
    fn let_quiet_instances_sleep(&mut self, ti: usize, dbs: &[u32]) {
        let t = &mut self.tiers[ti];
        // (Compared element by element: a slice comparison calls `memcmp`, even for
        // the empty lists of most tiers, every sample.)
        if !t.dbs.iter().eq(dbs) {
            // Its pools changed: every instance was woken first, so none is quiet.
            debug_assert!(t.quiet.pools.iter().all(|p| *p == 0));
            t.dbs = dbs.to_vec();
            t.quiet.pools = vec![0; dbs.len()];
        }
        let mut awake = std::mem::take(&mut t.awake);
        awake.retain(|&inst| {
            let i = &self.instances[inst as usize];
            let st = &self.stations[i.cores as usize];
            let quiet = i.in_system.value() == 0
                && i.busy_slots.value() == 0
                && i.queue_len.value() == 0
                && st.busy.value() == 0
                && st.queue_len.value() == 0
                && i.db_access.iter().flat_map(|a| a.pools()).all(|p| {
                    let p = &self.pools[p as usize];
                    p.in_use.value() == 0 && p.waiting.value() == 0
                });
            if quiet {
                self.shift_quiet_share(ti, inst, true);
                self.instances[inst as usize].awake = false;
            }
            !quiet
        });
        self.tiers[ti].awake = awake;
    }

    /// Adds (`sleeping`) or takes back what quiet instance `inst` adds to its tier's
    /// sampled capacity: its levels are constant while it sleeps, so each interval's
    /// mean is its value now.
    fn shift_quiet_share(&mut self, ti: usize, inst: u32, sleeping: bool) {
        let i = &self.instances[inst as usize];
        let shift = |sum: &mut u64, o: &Occupancy| {
            let capacity = u64::from(o.capacity().value());
            if sleeping {
                *sum += capacity;
            } else {
                *sum -= capacity;
            }
        };
        let t = &mut self.tiers[ti];
        let (q, dbs) = (&mut t.quiet, &t.dbs);
        shift(&mut q.cores, &self.stations[i.cores as usize].busy);
        shift(&mut q.slots, &i.busy_slots);
        for a in &i.db_access {
            if let Some(j) = dbs.iter().position(|db| *db == a.db) {
                for p in a.pools() {
                    shift(&mut q.pools[j], &self.pools[p as usize].in_use);
                }
            }
        }
    }

    /// Instance `inst` is about to change what chart samples read: if it was quiet, it
    /// takes its capacity back out of the quiet share and its sample marks catch up to
    /// the last sample, so the next one reads it in full. Call before the change.
    #[inline]
    pub(in crate::engine) fn wake(&mut self, inst: u32) {
        if !self.instances[inst as usize].awake {
            self.wake_quiet(inst);
        }
    }

    #[cold]
    fn wake_quiet(&mut self, inst: u32) {
        let ti = self.instances[inst as usize].tier as usize;
        self.shift_quiet_share(ti, inst, false);
        self.tiers[ti].awake.push(inst);
        let at = self.last_sample;
        let i = &mut self.instances[inst as usize];
        i.awake = true;
        // It went quiet with nothing in it and nothing changed since: its busy and
        // queue levels stayed at zero, so only its capacity has a sample to catch up.
        debug_assert!(i.in_system.value() == 0 && i.queue_len.value() == 0);
        i.busy_slots.skip_capacity_sample(at);
        let st = &mut self.stations[i.cores as usize];
        debug_assert_eq!(st.queue_len.value(), 0);
        st.busy.skip_capacity_sample(at);
        for a in &i.db_access {
            for p in a.pools() {
                let p = &mut self.pools[p as usize];
                debug_assert_eq!(p.waiting.value(), 0);
                p.in_use.skip_capacity_sample(at);
            }
        }
    }

    /// Wakes every instance: before a change or a fault, which may change any of them.
    pub(in crate::engine) fn wake_all(&mut self) {
        for inst in 0..self.instances.len() as u32 {
            self.wake(inst);
        }
    }

    pub(in crate::engine) fn tier_dbs(&self, t: &Tier) -> Vec<u32> {
        t.instances
            .first()
            .map(|i| {
                self.instances[*i as usize]
                    .db_access
                    .iter()
                    .filter(|a| a.base != NONE)
                    .map(|a| a.db)
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl World {
    /// What an app tier costs per hour over the measured time: its instances up at its
    /// price each, or its cores up at the price of a core (instances stopped or still
    /// starting cost nothing).
    pub(in crate::engine) fn app_cost_per_hour(&self, a: &AppSpec) -> f64 {
        let Some(tier) = self.tiers.iter().find(|t| t.id == a.id) else {
            return 0.0;
        };
        let (t0, now) = (self.t0(), self.now);
        // Cores up, time-averaged, and instances up (cores up ÷ cores each).
        let (mut cores, mut instances) = (0.0, 0.0);
        for &i in &tier.instances {
            let st = &self.stations[self.instances[i as usize].cores as usize];
            let c = st.busy.servers().mean_since_warmup(t0, now);
            cores += c;
            if st.servers > 0 {
                instances += c / f64::from(st.servers);
            }
        }
        match a.price_per_hour {
            Some(p) => instances * p,
            None => cores * a.cpu_speed * crate::model::defaults::APP_PRICE_PER_CORE_HOUR,
        }
    }
}

impl super::Runtime for crate::model::AppSpec {
    const BUILD_STAGE: u8 = 1;

    fn build(&self, w: &mut World) {
        w.build_tier(self);
    }

    fn change(&self, w: &mut World, at: u32, _old: &Self) {
        w.change_tier(at, self);
    }

    fn figures(&self, w: &World, f: &mut BTreeMap<String, f64>, parts: &mut SummaryParts) {
        w.tier_figures(&self.id, f, parts);
    }

    /// An app tier's traffic series (arrivals, errors), read from its awake instances.
    fn traffic_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan) {
        let SampleSpan { secs, sampling, .. } = span;
        for t in &w.tiers {
            let (mut arrivals, mut errors) = (0, 0);
            if sampling {
                for &i in &t.awake {
                    let i = &mut w.instances[i as usize];
                    arrivals += i.arrivals.take_sample();
                    errors += i.rejected.take_sample() + i.queue_timeouts.take_sample();
                }
            }
            out.put(
                || named(&t.id, "arrivals_per_sec"),
                || arrivals as f64 / secs,
            );
            out.put(|| named(&t.id, "errors_per_sec"), || errors as f64 / secs);
        }
    }

    /// An app tier's resources over the interval (CPU, workers, queues, instances,
    /// memory, sessions, pools), from its awake instances plus the quiet ones' capacity;
    /// quiet instances go to sleep after.
    fn state_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan) {
        let SampleSpan {
            prev,
            now,
            sampling,
            ..
        } = span;
        for ti in 0..w.tiers.len() {
            let dbs = w.tier_dbs(&w.tiers[ti]);
            // The quiet instances' capacity, then what the awake ones had.
            let quiet = &w.tiers[ti].quiet;
            let mut cores = SampleSum::default();
            let mut slots = SampleSum::default();
            cores.add_constant(quiet.cores, prev, now);
            slots.add_constant(quiet.slots, prev, now);
            let mut pool_size = vec![SampleSum::default(); dbs.len()];
            for (j, size) in pool_size.iter_mut().enumerate() {
                size.add_constant(quiet.pools.get(j).copied().unwrap_or(0), prev, now);
            }
            let (mut cpu_busy, mut w_busy, mut aq, mut rq) = Default::default();
            let mut pool_busy = vec![SampleSum::default(); dbs.len()];
            let mut pool_wait = vec![SampleSum::default(); dbs.len()];
            if sampling {
                for k in 0..w.tiers[ti].awake.len() {
                    let i = w.tiers[ti].awake[k] as usize;
                    let st = &mut w.stations[w.instances[i].cores as usize];
                    st.busy.take_sample_into(now, &mut cpu_busy, &mut cores);
                    SampleSum::take(&mut rq, &mut st.queue_len, now);
                    let inst = &mut w.instances[i];
                    inst.busy_slots
                        .take_sample_into(now, &mut w_busy, &mut slots);
                    SampleSum::take(&mut aq, &mut inst.queue_len, now);
                    for (j, db) in dbs.iter().enumerate() {
                        let Some(a) = inst.db_access.iter().find(|a| a.db == *db).copied() else {
                            continue;
                        };
                        for p in a.pools() {
                            let pool = &mut w.pools[p as usize];
                            pool.in_use
                                .take_sample_into(now, &mut pool_busy[j], &mut pool_size[j]);
                            pool_wait[j].take(&mut pool.waiting, now);
                        }
                    }
                }
                if w.lazy_sampling {
                    w.let_quiet_instances_sleep(ti, &dbs);
                }
            }
            let mean = |sum: &SampleSum| sum.mean(prev, now);
            let (cpu_busy, cores, w_busy, slots) =
                (mean(&cpu_busy), mean(&cores), mean(&w_busy), mean(&slots));
            let (aq, rq): (f64, f64) = (mean(&aq), mean(&rq));
            let pool_busy: Vec<f64> = pool_busy.iter().map(mean).collect();
            let pool_size: Vec<f64> = pool_size.iter().map(mean).collect();
            let pool_wait: Vec<f64> = pool_wait.iter().map(mean).collect();
            let t = &w.tiers[ti];
            out.put(|| named(&t.id, "cpu_util"), || ratio(cpu_busy, cores));
            out.put(|| named(&t.id, "worker_util"), || ratio(w_busy, slots));
            out.put(|| named(&t.id, "accept_queue"), || aq);
            out.put(|| named(&t.id, "run_queue"), || rq);
            out.put(|| named(&t.id, "instances"), || t.active.len() as f64);
            // The fullest instance's memory, now: the one that would crash first.
            if let Some(limit) = t.memory_kb {
                out.put(
                    || named(&t.id, "memory_util"),
                    || {
                        let used = t
                            .active
                            .iter()
                            .map(|i| w.instances[*i as usize].memory_kb)
                            .max()
                            .unwrap_or(0);
                        used as f64 / limit.max(1) as f64
                    },
                );
            }
            if t.in_memory_sessions {
                out.put(
                    || named(&t.id, "sessions_lost"),
                    || t.sessions_lost.total() as f64,
                );
            }
            for (j, db) in dbs.iter().enumerate() {
                let id = &w.dbs[*db as usize].id;
                out.put(
                    || (t.id.clone(), format!("pool({id})_util")),
                    || ratio(pool_busy[j], pool_size[j]),
                );
                out.put(
                    || (t.id.clone(), format!("pool({id})_waiting")),
                    || pool_wait[j],
                );
            }
        }
    }

    /// An app tier at a glance: its fullest resource (CPU, threads or slots, memory, a
    /// pool), its instances and accept queue, and the partitions cutting it off.
    fn glance(&self, w: &World, g: &mut Glance, read: &GlanceReader) {
        let id = g.id.clone();
        let cpu = read.get(&id, "cpu_util");
        g.consider("cpu", cpu);
        let threads = w
            .tiers
            .iter()
            .find(|t| t.id == id)
            .is_some_and(|t| t.threads);
        let slots = if threads {
            "worker threads"
        } else {
            "in-flight slots"
        };
        g.consider(slots, read.get(&id, "worker_util"));
        g.consider("memory", read.get(&id, "memory_util"));
        for (scope, metric) in &read.set.names {
            if *scope == id
                && let Some(db) = metric
                    .strip_prefix("pool(")
                    .and_then(|m| m.strip_suffix(")_util"))
            {
                g.consider(format!("pool({db})"), read.get(&id, metric));
            }
        }
        g.rate_per_sec = read.get(&id, "arrivals_per_sec");
        g.error_share = GlanceReader::share(read.get(&id, "errors_per_sec"), g.rate_per_sec);
        if let Some(tier) = w.tiers.iter().position(|t| t.id == id) {
            g.broken = w
                .partitions
                .iter()
                .filter(|p| p.tier as usize == tier && w.now < p.until)
                .map(|p| Broken::Partition {
                    to: p.to_id.clone(),
                    drop: p.drop,
                    secs_left: p.until.since(w.now).as_secs_f64(),
                })
                .collect();
        }
        g.headline = Headline::App {
            cpu,
            // Before the first sample: the instances it starts with.
            instances: read
                .latest(&id, "instances")
                .unwrap_or(f64::from(self.instances)),
            accept_queue: read.get(&id, "accept_queue"),
        };
    }

    fn cost_per_hour(&self, w: &World) -> f64 {
        w.app_cost_per_hour(self)
    }
}
