//! Building the runtime system from a validated scenario: dense arrays of components
//! indexed by `u32`, compiled endpoint scripts, one random stream per component id.
//! Instances are created here both at the start and when a tier scales out mid-run.

use std::collections::{BTreeMap, VecDeque};

use rand_distr::Zipf;

use crate::metrics::OutcomeMeter;
use crate::metrics::breakdown::Phase;
use crate::metrics::level::{Counter, DurationSum, Level, Occupancy};
use crate::model::{
    AppSpec, Arrivals, CacheModel, CacheScope, CacheSpec, ClientSpec, ComponentSpec, Concurrency,
    DatabaseSpec, Kind, PoolMode, Pooler, QuerySpec, SessionStore, ValidScenario,
};
use crate::sim::{EventQueue, SimDuration, SimRng, SimTime};

use super::super::arrivals::ArrivalProcess;
use super::super::components::*;
use super::super::lru::Lru;
use super::super::program::{Resolver, compile};
use super::super::sampler::Sampler;
use super::{DEADLINES_COMPACT_MIN, Event, World};

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
            requests: Vec::new(),
            free: Vec::new(),
            in_flight: 0,
            sessions_needed: false,
            endpoint_memory_kb: Vec::new(),
            per_endpoint: Vec::new(),
            late_responses: Counter::default(),
            call_timeouts: Default::default(),
            call_timer: None,
            interval_scratch: crate::metrics::new_histogram(2),
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
            w.programs.push(compile(name, &ep.steps, &resolver));
            w.per_endpoint.push(OutcomeMeter::default());
            w.endpoint_memory_kb.push((ep.memory_mb * 1024.0) as u64);
        }

        // Databases and caches first: instances refer to them.
        for c in &sc.components {
            match c {
                ComponentSpec::Database(s) => w.build_database(s),
                ComponentSpec::Cache(s) => w.build_cache(s),
                _ => {}
            }
        }
        for c in &sc.components {
            if let ComponentSpec::App(s) = c {
                w.build_tier(s);
            }
        }
        w.sessions_needed = w.any_session_state();
        for c in &sc.components {
            if let ComponentSpec::LoadBalancer(s) = c {
                w.lbs.push(LoadBalancer {
                    id: s.id.clone(),
                    policy: s.policy,
                    tiers: s.backends.iter().map(|b| w.index[b]).collect(),
                    rng: SimRng::stream(seed, &s.id),
                    rr_next: 0,
                    routed: Counter::default(),
                    in_flight: 0,
                    max_in_flight: s.max_in_flight,
                    shed: Counter::default(),
                });
            }
        }
        for c in &sc.components {
            if let ComponentSpec::RateLimiter(s) = c {
                let target = w.target_of(&s.target);
                w.limiters.push(RateLimiter {
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
        }
        for c in &sc.components {
            if let ComponentSpec::CircuitBreaker(s) = c {
                let target = w.target_of(&s.target);
                w.breakers.push(Breaker {
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
        }
        for c in &sc.components {
            if let ComponentSpec::Queue(s) = c {
                w.queues.push(JobQueue {
                    id: s.id.clone(),
                    tier: w.index[&s.workers],
                    spec: s.clone(),
                    latency: Sampler::new(&s.enqueue_latency),
                    rng: SimRng::stream(seed, &s.id),
                    waiting: VecDeque::new(),
                    retrying: Vec::new(),
                    free_retry_slots: Vec::new(),
                    retry_pending: 0,
                    depth: Level::default(),
                    running: {
                        let mut running = Occupancy::default();
                        running.set_servers(SimTime::ZERO, s.consumers);
                        running
                    },
                    dispatch_armed: false,
                    enqueued: Counter::default(),
                    refused: Counter::default(),
                    completed: Counter::default(),
                    failed_runs: Counter::default(),
                    dead_letters: Counter::default(),
                    latency_sum: Default::default(),
                    latency_hist: crate::metrics::new_histogram(3),
                });
            }
        }
        for c in &sc.components {
            if let ComponentSpec::Cdn(s) = c {
                let target = w.target_of(&s.target);
                w.cdns.push(Cdn {
                    id: s.id.clone(),
                    target,
                    edge_share: s.edge_share,
                    latency: Sampler::new(&s.edge_latency),
                    rng: SimRng::stream(seed, &s.id),
                    arrivals: Counter::default(),
                    edge: Counter::default(),
                });
            }
        }
        for c in &sc.components {
            if let ComponentSpec::Client(s) = c {
                w.build_client(s);
            }
        }
        for c in &sc.components {
            if let ComponentSpec::Autoscaler(s) = c {
                let scaler = w.autoscalers.len() as u32;
                let tier = w.index[&s.tier];
                w.autoscalers.push(Autoscaler {
                    id: s.id.clone(),
                    tier,
                    spec: s.clone(),
                    prev: (0, 0, 0, 0),
                    last_tick: SimTime::ZERO,
                    last_change: None,
                    desired: w.tiers[tier as usize].wanted,
                    measured: 0.0,
                    changes: Counter::default(),
                });
                w.queue.schedule(
                    SimTime::from_secs_f64(s.interval_secs),
                    Event::AutoscaleTick { scaler },
                );
            }
        }

        if !w.warm {
            w.queue.schedule(w.warmup_end, Event::WarmupEnd);
        }
        w
    }

    fn build_database(&mut self, s: &DatabaseSpec) {
        let db = self.dbs.len() as u32;
        let mut nodes = Vec::new();
        let pooler = match s.pooler {
            Pooler::None => None,
            Pooler::Transaction { server_connections } => Some(server_connections),
        };
        for shard in 0..s.shards {
            for n in 0..=s.replicas {
                // Names stay as they were without shards: `db`, `db#replica1`.
                let label = match (s.shards > 1, n) {
                    (false, 0) => String::new(),
                    (false, n) => format!("replica{n}"),
                    (true, 0) => format!("s{shard}"),
                    (true, n) => format!("s{shard}_replica{n}"),
                };
                let name = if label.is_empty() {
                    s.id.clone()
                } else {
                    format!("{}#{label}", s.id)
                };
                let station = self.stations.len() as u32;
                self.stations
                    .push(Station::new(s.cores, SimTime::ZERO, true, Phase::DbQueue));
                nodes.push(self.db_nodes.len() as u32);
                let mut connections = Occupancy::default();
                connections.set_servers(SimTime::ZERO, s.max_connections);
                if let Some(server) = pooler {
                    // The pooler keeps its server connections open.
                    connections.set(SimTime::ZERO, server);
                }
                self.db_nodes.push(DbNode {
                    db,
                    shard,
                    replica: n > 0,
                    rng: SimRng::stream(self.seed, &name),
                    name,
                    label,
                    station,
                    connections,
                    refused: Counter::default(),
                    gate_free: pooler.unwrap_or(0),
                    gate_waiters: VecDeque::new(),
                    gate_waiting: Level::default(),
                    gate_wait: Default::default(),
                    down_until: SimTime::ZERO,
                    killed_at: None,
                });
            }
        }
        let zipf = if s.keys.zipf_s > 0.0 {
            Zipf::new(s.keys.keys as f64, s.keys.zipf_s).ok()
        } else {
            None
        };
        let track_stale = s.replicas > 0 && !s.replication_lag.is_zero();
        self.dbs.push(Database {
            id: s.id.clone(),
            nodes,
            shards: s.shards,
            per_shard: s.replicas + 1,
            zipf,
            keys: s.keys.keys,
            needs_key: s.shards > 1 || track_stale,
            lag: Sampler::new(&s.replication_lag),
            track_stale,
            read_your_writes: s.read_your_writes && s.replicas > 0,
            visible_at: Default::default(),
            session_visible: Default::default(),
            prune_at: 1024,
            prune_not_before: SimTime::ZERO,
            writes_untracked: Counter::default(),
            replica_reads: Counter::default(),
            stale_reads: Counter::default(),
            own_write_reads: Counter::default(),
            own_writes_unseen: Counter::default(),
            pooler,
            queries: s
                .queries
                .iter()
                .map(|(name, q)| QueryRt {
                    name: name.clone(),
                    cost: query_cost(q),
                    count: Counter::default(),
                    time: Default::default(),
                })
                .collect(),
            network: Sampler::new(&s.network_latency),
            connect_time: Sampler::new(&s.connect_time),
            connect_cpu: Sampler::new(&s.connect_cpu),
            max_connections: s.max_connections,
            replica_policy: s.replica_policy,
            rng: SimRng::stream(self.seed, &format!("{}#replicas", s.id)),
            spike: None,
        });
    }

    fn build_cache(&mut self, s: &CacheSpec) {
        let station = if s.scope == CacheScope::Shared {
            self.stations
                .push(Station::new(s.servers, SimTime::ZERO, true, Phase::Cache));
            (self.stations.len() - 1) as u32
        } else {
            NONE
        };
        let model = hit_model(&s.model);
        let shared = match (&model, s.scope) {
            (HitModel::Keys { capacity, .. }, CacheScope::Shared) => Some(Lru::new(*capacity)),
            _ => None,
        };
        self.caches.push(Cache {
            id: s.id.clone(),
            scope: s.scope,
            model,
            station,
            op: Sampler::new(&s.op_time),
            network: Sampler::new(&s.network_latency),
            rng: SimRng::stream(self.seed, &s.id),
            shared,
            spike: None,
            gets: Counter::default(),
            hits: Counter::default(),
            misses: Counter::default(),
            sets: Counter::default(),
            update_rate_per_key: match s.model {
                CacheModel::Keys { keys, .. } if keys > 0 => s.updates_per_sec / keys as f64,
                _ => 0.0,
            },
            invalidate_on_write: s.invalidate_on_write,
            stale_hits: Counter::default(),
        });
    }

    fn build_tier(&mut self, s: &AppSpec) {
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
    pub(super) fn add_instance(&mut self, tier: u32, up: bool) -> u32 {
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

    fn build_client(&mut self, s: &ClientSpec) {
        let client = self.clients.len() as u32;
        let mut rng = SimRng::stream(self.seed, &s.id);
        let target = self.target_of(&s.target);
        let process = ArrivalProcess::new(&s.arrivals, &mut rng);
        let think = match &s.arrivals {
            Arrivals::Closed { users, think } => Some((Sampler::new(think), *users)),
            _ => None,
        };
        let needs_session = self.needs_session(target);
        self.clients.push(Client {
            id: s.id.clone(),
            rng,
            target,
            process,
            next_arrival: None,
            think,
            user_running: Vec::new(),
            mix: self.mix(&s.mix),
            timeout: s.timeout_ms.map(SimDuration::from_millis_f64),
            sessions: s.sessions,
            needs_session,
            deadlines: VecDeque::new(),
            deadline_armed: false,
            deadlines_compact_at: DEADLINES_COMPACT_MIN,
            sent: Counter::default(),
            retry: s.retry,
            retry_budget: s.retry_budget,
            retry_tokens: RETRY_RESERVE,
            pending_retries: Vec::new(),
            free_retry_slots: Vec::new(),
        });
        self.schedule_next_arrival(client);
        self.start_users(client);
    }

    /// Where requests sent to component `id` go (a limiter, a load balancer or a tier;
    /// validation guarantees it is one of them). Limiters are built before clients.
    pub(super) fn target_of(&self, id: &str) -> Target {
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
    pub(super) fn any_session_state(&self) -> bool {
        self.dbs.iter().any(|d| d.read_your_writes || d.track_stale)
            || self.tiers.iter().any(|t| t.in_memory_sessions)
    }

    /// Whether requests sent to `target` carry a user session: for sticky routing, or
    /// because a database sends a session's reads after its writes to the primary.
    pub(super) fn needs_session(&self, target: Target) -> bool {
        self.sessions_needed || self.hashes_sessions(target)
    }

    /// Whether requests sent to `target` are routed by session (sticky hashing).
    pub(super) fn hashes_sessions(&self, target: Target) -> bool {
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
    pub(super) fn mix(&self, mix: &[(String, f64)]) -> Vec<(u16, f64)> {
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

    /// Schedules the client's next open-loop arrival after now, if its process has one.
    pub(super) fn schedule_next_arrival(&mut self, client: u32) {
        let now = self.now;
        let c = &mut self.clients[client as usize];
        c.next_arrival = match c.process.as_mut() {
            Some(p) => p
                .next_after(now, &mut c.rng)
                .map(|t| self.queue.schedule(t, Event::Arrival { client })),
            None => None,
        };
    }

    /// Starts every closed-loop user up to the target count that is not already running;
    /// users start spread over one think time, not all at once.
    pub(super) fn start_users(&mut self, client: u32) {
        let now = self.now;
        let c = &mut self.clients[client as usize];
        let Some((think, users)) = &c.think else {
            return;
        };
        let users = *users as usize;
        if c.user_running.len() < users {
            c.user_running.resize(users, false);
        }
        for user in 0..users {
            if !c.user_running[user] {
                c.user_running[user] = true;
                let t = now + think.sample(&mut c.rng);
                self.queue.schedule(
                    t,
                    Event::UserReady {
                        client,
                        user: user as u32,
                    },
                );
            }
        }
    }
}

/// Whether a replication lag is always zero (then replica reads are never stale).
/// The cost sampler of a query given its index flag.
pub(super) fn query_cost(q: &QuerySpec) -> Sampler {
    Sampler::new(q.effective_cost())
}

/// A cache's hit model from its spec.
pub(super) fn hit_model(model: &CacheModel) -> HitModel {
    match model {
        CacheModel::HitRatio { ratio } => HitModel::Ratio(*ratio),
        CacheModel::Keys {
            keys,
            zipf_s,
            capacity,
            ttl_secs,
        } => HitModel::Keys {
            zipf: if *zipf_s > 0.0 {
                Zipf::new(*keys as f64, *zipf_s).ok()
            } else {
                None
            },
            keys: *keys,
            capacity: *capacity,
            ttl_ns: ttl_secs.map(|t| SimDuration::from_secs_f64(t).0),
        },
    }
}
