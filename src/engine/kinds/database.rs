//! A database: its nodes (primary, replicas, shards), queries and connections.

use std::collections::{BTreeMap, VecDeque};

use crate::metrics::breakdown::Phase;
use crate::metrics::level::{Counter, DurationSum, Level, Occupancy};
use crate::metrics::summary::ResourceKind;
use crate::metrics::{Broken, Glance, Headline};
use crate::model::{DatabaseSpec, Pooler, QuerySpec};
use crate::sim::{SimDuration, SimRng, SimTime};

use crate::engine::components::*;
use crate::engine::measure::{
    Agg, GlanceReader, SampleSpan, SeriesSink, SummaryParts, named, query_rate_metric, ratio,
};
use crate::engine::sampler::Sampler;
use crate::engine::world::World;

/// Writes still replicating that a database remembers at most (keys and sessions
/// together): a day of replication lag at a high write rate would otherwise grow memory
/// without bound. Beyond it, further writes are not tracked (and counted as such).
pub const MAX_REMEMBERED_WRITES: usize = crate::model::limits::MAX_REMEMBERED_WRITES as usize;

/// One named query of a database.
pub struct QueryRt {
    pub name: String,
    pub cost: Sampler,
    pub count: Counter,
    pub time: DurationSum,
}

/// A database: per shard, a primary and its replicas.
pub struct Database {
    pub id: String,
    /// Node indices, shard by shard: each shard's primary, then its replicas.
    pub nodes: Vec<u32>,
    pub shards: u32,
    /// Nodes per shard: the primary and the replicas.
    pub per_shard: u32,
    /// The key space queries draw from.
    pub zipf: Option<Zipf>,
    pub keys: u64,
    /// Whether queries draw a key (shards, or stale reads to track).
    pub needs_key: bool,
    pub lag: Sampler,
    /// Whether replica reads can be stale (replicas and a lag that is not zero).
    pub track_stale: bool,
    pub read_your_writes: bool,
    /// When the last write to a key reaches the replicas (entries in the past are pruned).
    pub visible_at: rustc_hash::FxHashMap<u64, SimTime>,
    /// When each session's last write reaches the replicas (read-your-writes, and
    /// counting the reads that may miss their own write without it).
    pub session_visible: rustc_hash::FxHashMap<u32, SimTime>,
    /// Prune the two maps when they grow past this, and not before this time (when
    /// they are full, the time by which half their writes will have replicated).
    pub prune_at: usize,
    pub prune_not_before: SimTime,
    /// Writes not remembered because the maps were full of writes still replicating
    /// (at [`MAX_REMEMBERED_WRITES`]): their stale reads go uncounted.
    pub writes_untracked: Counter,
    pub replica_reads: Counter,
    pub stale_reads: Counter,
    /// Reads sent to the primary because their session wrote within the lag.
    pub own_write_reads: Counter,
    /// Reads sent to a replica while their session's own last write had not reached
    /// the replicas: the user may not see their own update.
    pub own_writes_unseen: Counter,
    /// Server connections per node of a transaction-mode pooler; `None`: no pooler.
    pub pooler: Option<u32>,
    pub queries: Vec<QueryRt>,
    pub network: Sampler,
    pub connect_time: Sampler,
    pub connect_cpu: Sampler,
    pub max_connections: u32,
    /// How reads pick a replica, and the stream random picks draw from.
    pub replica_policy: crate::model::ReplicaPolicy,
    pub rng: SimRng,
    /// A latency spike: extra network time per query until the given time.
    pub spike: Option<(SimTime, SimDuration)>,
}

impl Warm for Database {
    fn mark_warmup(&mut self, _now: SimTime) {
        for q in &mut self.queries {
            q.count.mark_warmup();
            q.time.mark_warmup();
        }
        self.replica_reads.mark_warmup();
        self.stale_reads.mark_warmup();
        self.own_write_reads.mark_warmup();
        self.own_writes_unseen.mark_warmup();
        self.writes_untracked.mark_warmup();
    }
}

impl Database {
    /// The node index of `shard`'s primary.
    #[inline]
    pub fn primary(&self, shard: u32) -> u32 {
        self.nodes[(shard * self.per_shard) as usize]
    }

    /// The shard holding `key`.
    pub fn shard_of(&self, key: u64) -> u32 {
        if self.shards <= 1 {
            0
        } else {
            (crate::sim::rng::fnv1a(&key.to_le_bytes()) % u64::from(self.shards)) as u32
        }
    }

    /// Forgets writes already visible everywhere (they no longer matter). When what is
    /// left still fills half the room, the next prune waits until half of it has
    /// replicated, so pruning costs O(1) per write however full the maps stay.
    #[cold]
    fn prune(&mut self, now: SimTime) {
        self.visible_at.retain(|_, t| *t > now);
        self.session_visible.retain(|_, t| *t > now);
        let len = self.visible_at.len() + self.session_visible.len();
        self.prune_at = (2 * len).clamp(1024, MAX_REMEMBERED_WRITES);
        self.prune_not_before = SimTime::ZERO;
        if len >= MAX_REMEMBERED_WRITES / 2 {
            let mut times: Vec<SimTime> = self
                .visible_at
                .values()
                .chain(self.session_visible.values())
                .copied()
                .collect();
            let mid = times.len() / 2;
            let (_, median, _) = times.select_nth_unstable(mid);
            self.prune_not_before = *median;
        }
    }

    /// Records that a write of `key` by `session` reaches the replicas at `visible`.
    pub fn written(&mut self, key: u64, session: u32, visible: SimTime, now: SimTime) {
        if self.visible_at.len() + self.session_visible.len() >= self.prune_at
            && now >= self.prune_not_before
        {
            self.prune(now);
        }
        let full = |d: &Self| d.visible_at.len() + d.session_visible.len() >= MAX_REMEMBERED_WRITES;
        let mut untracked = false;
        if self.track_stale {
            let room = !full(self);
            match self.visible_at.get_mut(&key) {
                Some(e) => *e = (*e).max(visible),
                None if room => {
                    self.visible_at.insert(key, visible);
                }
                None => untracked = true,
            }
        }
        if self.read_your_writes || self.track_stale {
            let room = !full(self);
            match self.session_visible.get_mut(&session) {
                Some(e) => *e = (*e).max(visible),
                None if room => {
                    self.session_visible.insert(session, visible);
                }
                None => untracked = true,
            }
        }
        if untracked {
            self.writes_untracked.inc();
        }
    }
}

/// One database server (primary or replica).
pub struct DbNode {
    pub db: u32,
    pub shard: u32,
    /// Whether it is a replica (not its shard's primary).
    pub replica: bool,
    pub name: String,
    /// How its figures are prefixed in the summary: empty for the only primary,
    /// `replica1`, `s2`, `s2_replica1` …
    pub label: String,
    pub rng: SimRng,
    pub station: u32,
    /// Connections open, against the database's `max_connections` (which may be lowered
    /// below them during a run: they stay open until they close).
    pub connections: Occupancy,
    /// The most connections open at once since the warm-up.
    pub peak_connections: u32,
    pub refused: Counter,
    /// Free server connections of the pooler in front of it (with a pooler).
    pub gate_free: u32,
    /// Queries waiting in the pooler for a server connection, and since when.
    pub gate_waiters: VecDeque<(ReqRef, SimTime)>,
    pub gate_waiting: Level,
    pub gate_wait: DurationSum,
    /// Down (killed, failing over) until this time.
    pub down_until: SimTime,
    /// When it was last killed: queries it was running then fail.
    pub killed_at: Option<SimTime>,
}

impl Warm for DbNode {
    fn mark_warmup(&mut self, now: SimTime) {
        self.connections.mark_warmup(now);
        self.peak_connections = self.connections.value();
        self.refused.mark_warmup();
        self.gate_waiting.mark_warmup(now);
        self.gate_wait.mark_warmup();
    }
}

impl DbNode {
    pub fn is_down(&self, now: SimTime) -> bool {
        now < self.down_until
    }
}

impl World {
    pub(in crate::engine) fn build_database(&mut self, s: &DatabaseSpec) {
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
                    .push(Station::planned(s.cores, SimTime::ZERO, Phase::DbQueue));
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
                    peak_connections: connections.value(),
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
            Zipf::new(s.keys.keys as f64, s.keys.zipf_s)
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

    /// Applies the live parameters of `new` to database `at`.
    pub(in crate::engine) fn change_database(
        &mut self,
        at: u32,
        _old: &crate::model::DatabaseSpec,
        new: &crate::model::DatabaseSpec,
    ) {
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

    /// A database's figures in the summary, its resources in the saturation ranking and its
    /// stations.
    pub(in crate::engine) fn database_figures(
        &self,
        id: &str,
        f: &mut BTreeMap<String, f64>,
        parts: &mut SummaryParts,
    ) {
        let (t0, now) = (self.t0(), self.now);
        let Some(d) = self.dbs.iter().find(|d| d.id == id) else {
            return;
        };
        let mut refused = 0;
        let mut primary_util = vec![0.0; d.shards as usize];
        let (mut gate_waiting, mut gate_wait_secs, mut gate_waits) = (0.0, 0.0, 0);
        for &n in &d.nodes {
            let node = &self.db_nodes[n as usize];
            let st = &self.stations[node.station as usize];
            let mut agg = Agg::default();
            agg.add_station(self, st);
            let conns = node.connections.level().mean_since_warmup(t0, now);
            let conns_capacity = node.connections.capacity().mean_since_warmup(t0, now);
            let prefix = if node.label.is_empty() {
                String::new()
            } else {
                format!("{}_", node.label)
            };
            f.insert(format!("{prefix}cpu_util"), agg.utilization());
            f.insert(format!("{prefix}queue"), agg.queue);
            f.insert(format!("{prefix}connections"), conns);
            f.insert(
                format!("{prefix}connections_peak"),
                f64::from(node.peak_connections),
            );
            if !node.replica {
                primary_util[node.shard as usize] = agg.utilization();
            }
            if d.pooler.is_some() {
                gate_waiting += node.gate_waiting.mean_since_warmup(t0, now);
                gate_wait_secs += node.gate_wait.total_secs_since_warmup();
                gate_waits += node.gate_wait.count_since_warmup();
            }
            refused += node.refused.since_warmup();
            parts.saturated(
                id,
                format!("{} cpu", node.name),
                ResourceKind::Compute,
                agg.utilization(),
            );
            parts.saturated(
                id,
                format!("{} connections", node.name),
                ResourceKind::Concurrency,
                ratio(conns, conns_capacity),
            );
            parts
                .stations
                .push(agg.report(format!("{}.cpu", node.name), parts.span));
        }
        if d.shards > 1 {
            // How much busier the busiest shard's primary is than the average.
            let mean = primary_util.iter().sum::<f64>() / f64::from(d.shards);
            let max = primary_util.iter().copied().fold(0.0, f64::max);
            f.insert(
                "hot_shard_ratio".into(),
                if mean > 0.0 { max / mean } else { 1.0 },
            );
        }
        if d.pooler.is_some() {
            f.insert("pooler_waiting".into(), gate_waiting);
            f.insert(
                "pooler_wait_ms".into(),
                if gate_waits > 0 {
                    gate_wait_secs / gate_waits as f64 * 1e3
                } else {
                    0.0
                },
            );
        }
        if d.track_stale {
            let reads = d.replica_reads.since_warmup() as f64;
            let stale = d.stale_reads.since_warmup() as f64;
            f.insert("replica_reads".into(), reads);
            f.insert("stale_reads".into(), stale);
            f.insert(
                "own_writes_unseen".into(),
                d.own_writes_unseen.since_warmup() as f64,
            );
            f.insert(
                "stale_share".into(),
                if reads > 0.0 { stale / reads } else { 0.0 },
            );
        }
        let untracked = d.writes_untracked.since_warmup();
        if untracked > 0 {
            // Stale reads are undercounted: say by how many writes.
            f.insert("writes_untracked".into(), untracked as f64);
        }
        if d.read_your_writes {
            f.insert(
                "own_write_reads".into(),
                d.own_write_reads.since_warmup() as f64,
            );
        }
        f.insert("max_connections".into(), f64::from(d.max_connections));
        f.insert("refused".into(), refused as f64);
        let total: u64 = d.queries.iter().map(|q| q.count.since_warmup()).sum();
        f.insert("queries_per_sec".into(), total as f64 / parts.span_nz);
    }
}

/// Whether a replication lag is always zero (then replica reads are never stale).
/// The cost sampler of a query given its index flag.
pub(in crate::engine) fn query_cost(q: &QuerySpec) -> Sampler {
    Sampler::new(q.effective_cost())
}

impl super::Runtime for crate::model::DatabaseSpec {
    const BUILD_STAGE: u8 = 0;

    fn build(&self, w: &mut World) {
        w.build_database(self);
    }

    fn change(&self, w: &mut World, at: u32, old: &Self) {
        w.change_database(at, old, self);
    }

    fn figures(&self, w: &World, f: &mut BTreeMap<String, f64>, parts: &mut SummaryParts) {
        w.database_figures(&self.id, f, parts);
    }

    /// A database's queries per second, in all and per query, and its stale reads.
    fn traffic_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan) {
        let SampleSpan { secs, sampling, .. } = span;
        for d in &mut w.dbs {
            let counts: Vec<u64> = if sampling {
                d.queries
                    .iter_mut()
                    .map(|q| q.count.take_sample())
                    .collect()
            } else {
                vec![0; d.queries.len()]
            };
            out.put(
                || named(&d.id, "queries_per_sec"),
                || counts.iter().sum::<u64>() as f64 / secs,
            );
            out.put(
                || named(&d.id, "stale_reads_per_sec"),
                || d.stale_reads.take_sample() as f64 / secs,
            );
            for (q, n) in d.queries.iter().zip(counts) {
                out.put(
                    || (d.id.clone(), query_rate_metric(&q.name)),
                    || n as f64 / secs,
                );
            }
        }
    }

    /// Each database node's CPU, queue and connections.
    fn state_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan) {
        let SampleSpan {
            prev,
            now,
            sampling,
            ..
        } = span;
        for n in &mut w.db_nodes {
            let st = &mut w.stations[n.station as usize];
            let (busy, capacity) = if sampling {
                st.busy.take_sample_means(prev, now)
            } else {
                (0.0, 0.0)
            };
            out.put(|| named(&n.name, "cpu_util"), || ratio(busy, capacity));
            out.put(
                || named(&n.name, "queue"),
                || st.queue_len.take_sample_mean(prev, now),
            );
            let (conns, capacity) = if sampling {
                n.connections.take_sample_means(prev, now)
            } else {
                (0.0, 0.0)
            };
            out.put(|| named(&n.name, "connections"), || conns);
            out.put(
                || named(&n.name, "connections_util"),
                || ratio(conns, capacity),
            );
        }
    }

    /// A database at a glance: its busiest node's CPU and its connections (each node's
    /// in the running for fullest), stale reads, and its primaries down or a spike.
    fn glance(&self, w: &World, g: &mut Glance, read: &GlanceReader) {
        let (mut connections, mut cpu_max): (f64, f64) = (0.0, 0.0);
        if let Some(db) = w.dbs.iter().find(|x| x.id == g.id) {
            for &n in &db.nodes {
                let name = &w.db_nodes[n as usize].name;
                let cpu = read.get(name, "cpu_util");
                cpu_max = cpu_max.max(cpu);
                g.consider(format!("{name} cpu"), cpu);
                connections += read.get(name, "connections");
                g.consider(
                    format!("{name} connections"),
                    read.get(name, "connections_util"),
                );
            }
            for shard in 0..db.shards {
                let node = &w.db_nodes[db.primary(shard) as usize];
                if node.is_down(w.now) {
                    g.broken.push(Broken::PrimaryDown {
                        shard: (db.shards > 1).then_some(shard),
                        secs_left: node.down_until.since(w.now).as_secs_f64(),
                    });
                }
            }
            g.broken.extend(w.spike_broken(db.spike));
        }
        g.rate_per_sec = read.get(&g.id, "queries_per_sec");
        g.headline = Headline::Database {
            cpu: cpu_max,
            connections,
            stale_reads_per_sec: read.get(&g.id, "stale_reads_per_sec"),
        };
    }
}
