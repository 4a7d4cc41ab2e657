//! The levers a run makes relevant, before their prediction: each a set of `--set`
//! overrides, how it is forecast, and what it removes.

use super::*;
use crate::metrics::summary::ResourceKind;

/// A lever the run makes relevant, before its prediction.
pub(super) struct Candidate {
    pub(super) kind: LeverKind,
    pub(super) component: String,
    pub(super) subject: Option<String>,
    pub(super) changes: Vec<Override>,
    /// How its effect is predicted.
    pub(super) forecast: Forecast,
    /// The share of today's load the change leaves (a CDN answering more at its edge).
    pub(super) load: f64,
    /// Resources whose utilisation the change sets directly, and to what.
    pub(super) utilization: Vec<(String, f64)>,
    pub(super) relief: Option<Relief>,
}

/// How a lever's effect is predicted.
#[derive(Clone, Debug)]
pub(super) enum Forecast {
    /// By [`Model::predict`]: the scenario's parameters changed, the load it leaves,
    /// the utilisations it sets.
    Generic,
    Batch(Batch),
    Pooling(Pooling),
    Offload(Offload),
}

/// Slow steps an endpoint runs inline, and the endpoint in its client's mix that hands
/// the same steps to a job queue instead.
#[derive(Clone, Debug)]
pub(super) struct Offload {
    pub(super) endpoint: String,
    pub(super) queue: String,
    /// Users' requests per second the move concerns.
    pub(super) rate: f64,
    /// The moved steps' nominal time, and the enqueue's, in milliseconds.
    pub(super) moved_ms: f64,
    pub(super) enqueue_ms: f64,
    pub(super) consumers: u32,
}

/// A tier that opens a connection to a database for every request, and what keeping
/// them in a pool saves: the handshake in every request, the setup on the database.
#[derive(Clone, Debug)]
pub(super) struct Pooling {
    pub(super) tier: String,
    pub(super) db: String,
    /// Connections opened per second, and the database CPU each costs (seconds).
    pub(super) connects_per_sec: f64,
    pub(super) connect_cpu: f64,
    /// With an external pooler the request still opens its (client) connection: the
    /// handshake stays, only the database's setup goes (milliseconds of handshake).
    pub(super) handshake_stays_ms: f64,
}

/// An N+1 loop and the endpoint that does the same work with one query.
#[derive(Clone, Debug)]
pub(super) struct Batch {
    pub(super) endpoint: String,
    pub(super) db: String,
    /// The query run in the loop, its mean count per request; the one that replaces it.
    pub(super) looped: String,
    pub(super) times: f64,
    pub(super) single: String,
    /// Queries per request before and after.
    pub(super) queries_before: f64,
    pub(super) queries_after: f64,
}

fn candidate(
    kind: LeverKind,
    component: &str,
    subject: Option<&str>,
    changes: Vec<Override>,
) -> Candidate {
    Candidate {
        kind,
        component: component.to_owned(),
        subject: subject.map(str::to_owned),
        changes,
        forecast: Forecast::Generic,
        load: 1.0,
        utilization: Vec::new(),
        relief: None,
    }
}

impl Candidate {
    fn relieving(mut self, relief: Relief) -> Self {
        self.relief = Some(relief);
        self
    }

    fn setting(mut self, resource: String, utilization: f64) -> Self {
        self.utilization.push((resource, utilization));
        self
    }
}

/// The levers the run makes relevant.
pub(super) fn candidates(sc: &Scenario, s: &Summary, model: &Model) -> Vec<Candidate> {
    // Which tier runs which endpoint, worked out once.
    let served = model::tier_endpoints(sc);
    let util = |resource: String| {
        s.saturation
            .iter()
            .find(|r| r.resource == resource)
            .map_or(0.0, |r| r.utilization)
    };
    let scaled: Vec<&str> = sc
        .components
        .iter()
        .filter_map(|c| match c {
            ComponentSpec::Autoscaler(a) => Some(a.tier.as_str()),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for c in &sc.components {
        match c {
            ComponentSpec::Database(d) => {
                let busy = s
                    .saturation
                    .iter()
                    .filter(|r| r.component == d.id && r.kind == ResourceKind::Compute)
                    .map(|r| r.utilization)
                    .fold(0.0, f64::max);
                let total: f64 = s
                    .queries
                    .iter()
                    .filter(|q| q.db == d.id)
                    .map(|q| q.total_secs)
                    .sum();
                for (name, q) in &d.queries {
                    let time = s
                        .queries
                        .iter()
                        .find(|r| r.db == d.id && r.query == *name)
                        .map_or(0.0, |r| r.total_secs);
                    if q.unindexed_cost.is_some()
                        && !q.indexed
                        && total > 0.0
                        && time >= 0.2 * total
                    {
                        out.push(candidate(
                            LeverKind::AddIndex,
                            &d.id,
                            Some(name),
                            vec![set(format!("{}.queries[{name:?}].indexed", d.id), "true")],
                        ));
                    }
                }
                if busy >= PRESSED {
                    out.push(candidate(
                        LeverKind::DatabaseCores,
                        &d.id,
                        None,
                        vec![set(format!("{}.cores", d.id), (d.cores * 2).to_string())],
                    ));
                }
                out.extend(database_candidates(sc, s, model, d));
            }
            ComponentSpec::App(a) => {
                let Some(t) = model.tiers.iter().find(|t| t.id == a.id) else {
                    continue;
                };
                let pool_share = t.time.breakdown_ms.get("pool_wait").copied().unwrap_or(0.0)
                    / t.time.mean_ms.max(1e-12);
                for (k, p) in a.pools.iter().enumerate() {
                    let PoolMode::Pooled { size, .. } = p.mode else {
                        continue;
                    };
                    let Some(ComponentSpec::Database(d)) = component(sc, &p.db) else {
                        continue;
                    };
                    // Every instance's pool together within the database's limit
                    // (a pooler multiplexes: its clients may exceed it).
                    let limit = if matches!(d.pooler, model::Pooler::None) {
                        d.max_connections / a.instances.max(1)
                    } else {
                        u32::MAX
                    };
                    let bigger = (size * 2).min(limit);
                    if pool_share >= 0.05
                        && bigger > size
                        && util(format!("{} pool({})", a.id, p.db)) >= 0.5
                    {
                        out.push(candidate(
                            LeverKind::GrowPool,
                            &a.id,
                            Some(&p.db),
                            vec![set(
                                format!("{}.pools[{k}].mode.size", a.id),
                                bigger.to_string(),
                            )],
                        ));
                    }
                }
                let down = instances_down_failures(sc, s, &a.id);
                if !scaled.contains(&a.id.as_str()) && (t.served_per_sec > 0.0 || down > 0.0) {
                    // Doubled, or as many more as the scenario's limits allow.
                    let more = [
                        a.instances * 2,
                        a.instances + a.instances.div_ceil(2),
                        a.instances + 1,
                    ]
                    .into_iter()
                    .find(|n| variant_of(sc, &[set(format!("{}.instances", a.id), n)]).is_ok());
                    if let Some(n) = more {
                        let mut c = candidate(
                            LeverKind::AddInstances,
                            &a.id,
                            None,
                            vec![set(format!("{}.instances", a.id), n)],
                        );
                        if down > 0.0 {
                            // The killed instances leave survivors that carry the tier.
                            let killed = sc
                                .faults
                                .iter()
                                .filter_map(|f| match &f.fault {
                                    model::Fault::KillInstances { tier, count }
                                        if *tier == a.id =>
                                    {
                                        Some(*count)
                                    }
                                    _ => None,
                                })
                                .max()
                                .unwrap_or(0);
                            let users = s.overall.user_failures as f64;
                            let after = if killed < n {
                                (users - down).max(0.0)
                            } else {
                                users
                            };
                            c = c.relieving(Relief::UserFailures {
                                before: users,
                                after,
                            });
                        }
                        out.push(c);
                    }
                }
                out.extend(app_candidates(sc, s, &served, a, t));
            }
            ComponentSpec::Cache(cache) => {
                if cache.scope == model::CacheScope::Local {
                    out.extend(share_cache(sc, s, &served, cache));
                }
                // Stale hits: delete an entry when its key is written.
                let stale = figure_of(s, &cache.id, "stale_hits");
                if stale > 0.0 && !cache.invalidate_on_write {
                    out.push(
                        candidate(
                            LeverKind::InvalidateOnWrite,
                            &cache.id,
                            None,
                            vec![set(format!("{}.invalidate_on_write", cache.id), true)],
                        )
                        .relieving(Relief::StaleCacheHits {
                            before: stale,
                            after: 0.0,
                        }),
                    );
                }
            }
            ComponentSpec::Queue(q) => {
                let resource = format!("{} consumers", q.id);
                let u = util(resource.clone());
                if u >= PRESSED {
                    let c = q.consumers * 2;
                    // Erlang C's line length does not depend on the service time.
                    let after = crate::theory::predict(c, u / 2.0 * f64::from(c), 1.0, 1.0, 1.0)
                        .map_or(f64::INFINITY, |p| p.wait * u / 2.0 * f64::from(c));
                    let before = figure_of(s, &q.id, "mean_depth");
                    out.push(
                        candidate(
                            LeverKind::AddConsumers,
                            &q.id,
                            None,
                            vec![set(format!("{}.consumers", q.id), c)],
                        )
                        .setting(resource, u / 2.0)
                        .relieving(Relief::Backlog { before, after }),
                    );
                }
            }
            ComponentSpec::RateLimiter(l) if !l.per_client => {
                // The tier behind it, when it is overloaded: admit a little less than
                // it serves at its fullest resource's limit.
                let Some(t) = model.tiers.iter().find(|t| t.id == l.target) else {
                    continue;
                };
                let (_, full) = fullest(s, &t.id);
                if full >= 0.9 && t.served_per_sec > 0.0 {
                    let capacity = t.served_per_sec / full;
                    let rate = (0.92 * capacity / 10.0).floor() * 10.0;
                    if rate >= 10.0 && rate < l.rate_per_sec {
                        let mut c = candidate(
                            LeverKind::LimitRate,
                            &l.id,
                            Some(&t.id),
                            vec![set(format!("{}.rate_per_sec", l.id), rate)],
                        );
                        c.load = (rate / t.served_per_sec).min(1.0);
                        out.push(c);
                    }
                }
            }
            ComponentSpec::Cdn(cdn) => {
                // Halve what reaches the origin, when the origin is filling up and every
                // user's request passes the CDN.
                let fullest = s
                    .saturation
                    .iter()
                    .map(|r| r.utilization)
                    .fold(0.0, f64::max);
                let fronts_all = sc.components.iter().all(|c| match c {
                    ComponentSpec::Client(client) => client.target == cdn.id,
                    _ => true,
                });
                let share = ((1.0 + cdn.edge_share) / 2.0 * 100.0).round() / 100.0;
                if fullest >= PRESSED && fronts_all && cdn.edge_share < 0.9 {
                    let mut c = candidate(
                        LeverKind::EdgeCache,
                        &cdn.id,
                        None,
                        vec![set(format!("{}.edge_share", cdn.id), share.to_string())],
                    );
                    c.load = (1.0 - share) / (1.0 - cdn.edge_share);
                    out.push(c);
                }
            }
            ComponentSpec::Client(c) => {
                out.extend(batches(sc, s, c));
                out.extend(offloads(sc, s, c));
                // Retries that multiply the load: cap them (the budget applies to every
                // client whose retries are not capped yet).
                if s.overall.amplification >= AMPLIFIED
                    && c.retry.max_retries() > 0
                    && c.retry_budget.is_none()
                {
                    out.push(candidate(
                        LeverKind::RetryBudget,
                        &c.id,
                        None,
                        vec![set(
                            format!("{}.retry_budget", c.id),
                            RETRY_BUDGET.to_string(),
                        )],
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// Requests an instance runs at once: its worker threads or its event loop's cap.
pub(super) fn slots(c: &Concurrency) -> u32 {
    match *c {
        Concurrency::Threads { workers } => workers,
        Concurrency::Async { max_in_flight } => max_in_flight,
    }
}

pub(super) fn set(path: String, value: impl ToString) -> Override {
    Override {
        path,
        value: value.to_string(),
    }
}

/// A database's own levers beyond its queries and cores: an even shard key, a pooler,
/// a replica to fail over to, reads that see their own writes.
fn database_candidates(
    sc: &Scenario,
    s: &Summary,
    model: &Model,
    d: &model::DatabaseSpec,
) -> Vec<Candidate> {
    let errors = |cause: &str| errors_of(s, cause);
    let figure = |name: &str| figure_of(s, &d.id, name);
    let mut out = Vec::new();
    // A hot shard: every shard at the average of their loads once the key spreads.
    let shards: Vec<(String, f64)> = s
        .saturation
        .iter()
        .filter(|r| {
            r.component == d.id && r.kind == ResourceKind::Compute && r.resource.contains("#s")
        })
        .map(|r| (r.resource.clone(), r.utilization))
        .collect();
    if d.shards > 1 && d.keys.zipf_s > 0.0 && !shards.is_empty() {
        let hottest = shards.iter().map(|r| r.1).fold(0.0, f64::max);
        let average = shards.iter().map(|r| r.1).sum::<f64>() / shards.len() as f64;
        if hottest >= PRESSED && hottest >= (1.0 + HELPS) * average {
            let mut c = candidate(
                LeverKind::SpreadKey,
                &d.id,
                None,
                vec![set(format!("{}.keys.zipf_s", d.id), 0)],
            );
            for (resource, _) in shards {
                c = c.setting(resource, average);
            }
            out.push(c.relieving(Relief::HotShard {
                before: figure("hot_shard_ratio").max(1.0),
                after: 1.0,
            }));
        }
    }
    let pooled = sc.components.iter().any(|c| match c {
        ComponentSpec::App(a) => a.pools.iter().any(|p| p.db == d.id),
        _ => false,
    });
    let per_request_tiers: Vec<&str> = sc
        .components
        .iter()
        .filter_map(|c| match c {
            ComponentSpec::App(a)
                if a.pools
                    .iter()
                    .any(|p| p.db == d.id && matches!(p.mode, PoolMode::PerRequest)) =>
            {
                Some(a.id.as_str())
            }
            _ => None,
        })
        .collect();
    let refused = errors("db_refused");
    if pooled && matches!(d.pooler, model::Pooler::None) && !connections_within_limit(sc, &d.id) {
        // A few server connections per core keep the cores busy without a crowd.
        let server = (4 * d.cores).clamp(1, d.max_connections);
        let mut c = candidate(
            LeverKind::AddPooler,
            &d.id,
            None,
            vec![
                set(format!("{}.pooler.form", d.id), "Transaction"),
                set(format!("{}.pooler.server_connections", d.id), server),
            ],
        );
        if refused > 0.0 {
            c = c.relieving(Relief::Failures {
                cause: "db_refused".into(),
                before: refused,
                after: 0.0,
            });
        }
        // A tier connecting per request keeps its handshake (to the pooler), but the
        // database no longer sets up a session for each.
        if let Some(t) = model
            .tiers
            .iter()
            .find(|t| per_request_tiers.contains(&t.id.as_str()))
        {
            let acquires = t
                .pools
                .iter()
                .find(|(db, ..)| *db == d.id)
                .map_or(0.0, |(_, _, acquires)| *acquires);
            c.forecast = Forecast::Pooling(Pooling {
                tier: t.id.clone(),
                db: d.id.clone(),
                connects_per_sec: t.served_per_sec * acquires.min(1.0),
                connect_cpu: d.connect_cpu.mean_ms() / 1e3,
                handshake_stays_ms: d.connect_time.mean_ms(),
            });
        }
        out.push(c);
    }
    let down = errors("db_down");
    let killed = sc
        .faults
        .iter()
        .any(|f| matches!(&f.fault, model::Fault::KillPrimary { db, .. } if *db == d.id));
    if d.replicas == 0 && down > 0.0 && killed {
        // Reads move to the replica and survive the primary; writes wait for the
        // promotion.
        let reads = read_share(sc, s, &d.id);
        out.push(
            candidate(
                LeverKind::FailoverReplica,
                &d.id,
                None,
                vec![set(format!("{}.replicas", d.id), 1)],
            )
            .relieving(Relief::Failures {
                cause: "db_down".into(),
                before: down,
                after: down * (1.0 - reads),
            }),
        );
    }
    let stale = figure("stale_reads");
    if stale > 0.0 && !d.read_your_writes {
        out.push(
            candidate(
                LeverKind::ReadYourWrites,
                &d.id,
                None,
                vec![set(format!("{}.read_your_writes", d.id), true)],
            )
            .relieving(Relief::OwnWritesUnseen {
                before: figure("own_writes_unseen"),
                after: 0.0,
            }),
        );
    }
    out
}

/// The share of database `db`'s calls in the run that were reads.
pub(super) fn read_share(sc: &Scenario, s: &Summary, db: &str) -> f64 {
    fn writes(steps: &[model::Step], db: &str, out: &mut std::collections::BTreeSet<String>) {
        use model::Step;
        for step in steps {
            match step {
                Step::Write { db: d, query } if d == db => {
                    out.insert(query.clone());
                }
                Step::Repeat { steps, .. } => writes(steps, db, out),
                Step::Branch {
                    then, otherwise, ..
                } => {
                    writes(then, db, out);
                    writes(otherwise, db, out);
                }
                Step::CacheGet { on_miss, .. } => writes(on_miss, db, out),
                _ => {}
            }
        }
    }
    let mut written = std::collections::BTreeSet::new();
    for e in sc.endpoints.values() {
        writes(&e.steps, db, &mut written);
    }
    let (mut all, mut reads) = (0.0, 0.0);
    for q in s.queries.iter().filter(|q| q.db == db) {
        all += q.count as f64;
        if !written.contains(&q.query) {
            reads += q.count as f64;
        }
    }
    if all > 0.0 { reads / all } else { 0.0 }
}

/// An app tier's levers beyond more instances and bigger pools: bigger instances, a
/// cap on what its memory holds, sessions outside it, faster starts when it is
/// autoscaled, timeouts on the calls that hold its threads.
fn app_candidates(
    sc: &Scenario,
    s: &Summary,
    served: &[(String, String)],
    a: &model::AppSpec,
    t: &TierModel,
) -> Vec<Candidate> {
    let errors = |cause: &str| errors_of(s, cause);
    let figure = |name: &str| figure_of(s, &a.id, name);
    let mut out = Vec::new();
    let scaled = sc
        .components
        .iter()
        .any(|c| matches!(c, ComponentSpec::Autoscaler(scaler) if scaler.tier == a.id));
    if !scaled && t.cpu.is_some_and(|c| c.rho() >= PRESSED) {
        out.push(candidate(
            LeverKind::AppCores,
            &a.id,
            None,
            vec![set(format!("{}.cores", a.id), a.cores * 2)],
        ));
    }
    // A connection opened for every request: keep them in a pool instead (ten per
    // instance, within the database's limit).
    for (k, p) in a.pools.iter().enumerate() {
        let (PoolMode::PerRequest, Some(ComponentSpec::Database(d))) =
            (&p.mode, component(sc, &p.db))
        else {
            continue;
        };
        let acquires = t
            .pools
            .iter()
            .find(|(db, ..)| *db == p.db)
            .map_or(0.0, |(_, _, acquires)| *acquires);
        let connect =
            t.time.breakdown_ms.get("connect").copied().unwrap_or(0.0) / t.time.mean_ms.max(1e-12);
        let busy = fullest(s, &p.db).1;
        if acquires > 0.0 && (connect >= 0.05 || busy >= PRESSED) {
            let size = (d.max_connections / a.instances.max(1)).clamp(1, 10);
            let mut c = candidate(
                LeverKind::UsePool,
                &a.id,
                Some(&p.db),
                vec![
                    set(format!("{}.pools[{k}].mode.form", a.id), "Pooled"),
                    set(format!("{}.pools[{k}].mode.size", a.id), size),
                ],
            );
            c.forecast = Forecast::Pooling(Pooling {
                tier: a.id.clone(),
                db: p.db.clone(),
                connects_per_sec: t.served_per_sec * acquires.min(1.0),
                connect_cpu: d.connect_cpu.mean_ms() / 1e3,
                handshake_stays_ms: 0.0,
            });
            out.push(c);
        }
    }
    // The memory one request holds on this tier (its heaviest endpoint's).
    let per_request = served
        .iter()
        .filter(|(tier, _)| *tier == a.id)
        .filter_map(|(_, e)| sc.endpoints.get(e))
        .map(|e| e.memory_mb)
        .fold(0.0, f64::max);
    // Every thread busy waiting on slow calls while the CPU idles: an event loop admits
    // what memory holds (four times the threads when memory is not modelled).
    // (Of the time a request holds its thread, not the time it waits for one.)
    let part = |p: &str| t.time.breakdown_ms.get(p).copied().unwrap_or(0.0);
    let waiting = ["external", "call", "network"]
        .iter()
        .map(|p| part(p))
        .sum::<f64>()
        / (t.time.mean_ms - part("worker_wait")).max(1e-12);
    if let Concurrency::Threads { workers } = a.concurrency
        && t.workers.is_some_and(|w| w.rho() >= PRESSED)
        && t.cpu.is_some_and(|c| c.rho() < CPU_SATURATED)
        && waiting >= 0.5
    {
        let fits = match a.memory_mb {
            Some(limit) if per_request > 0.0 => {
                (0.8 * (limit - a.base_memory_mb) / per_request).floor() as u32
            }
            _ => workers.saturating_mul(4),
        };
        if fits > workers {
            out.push(candidate(
                LeverKind::EventLoop,
                &a.id,
                None,
                vec![
                    set(format!("{}.concurrency.form", a.id), "Async"),
                    set(format!("{}.concurrency.max_in_flight", a.id), fits),
                ],
            ));
        }
    }
    // Out of memory: admit what fits, with a fifth to spare.
    if let Some(limit) = a.memory_mb
        && figure("out_of_memory_crashes") > 0.0
        && per_request > 0.0
    {
        // A thread fewer also frees its stack.
        let (path, now, per_slot) = match a.concurrency {
            Concurrency::Async { max_in_flight } => ("max_in_flight", max_in_flight, per_request),
            Concurrency::Threads { workers } => {
                ("workers", workers, per_request + a.thread_stack_mb)
            }
        };
        let fits = (0.8 * (limit - a.base_memory_mb) / per_slot)
            .floor()
            .max(1.0) as u32;
        if fits < now {
            out.push(
                candidate(
                    LeverKind::CapInFlight,
                    &a.id,
                    None,
                    vec![set(format!("{}.concurrency.{path}", a.id), fits)],
                )
                .relieving(Relief::Failures {
                    cause: "out_of_memory".into(),
                    before: errors("out_of_memory"),
                    after: 0.0,
                }),
            );
        }
    }
    // Its threads wait for threads: a call without a timeout that holds them.
    let worker_wait = t
        .time
        .breakdown_ms
        .get("worker_wait")
        .copied()
        .unwrap_or(0.0)
        / t.time.mean_ms.max(1e-12);
    if worker_wait >= WAITING_SHARE {
        for (tier, name) in served {
            let (Some(e), Some(o)) = (sc.endpoints.get(name), s.endpoints.get(name)) else {
                continue;
            };
            if *tier != a.id || o.throughput_per_sec <= 0.0 {
                continue;
            }
            for (i, step) in e.steps.iter().enumerate() {
                let model::Step::Call {
                    service,
                    timeout_ms: None,
                    ..
                } = step
                else {
                    continue;
                };
                // Twenty times the endpoint's typical time, at least 100 ms, in 50s.
                let timeout = ((20.0 * o.latency_ms.p50).max(100.0) / 50.0).ceil() * 50.0;
                out.push(
                    candidate(
                        LeverKind::CallTimeout,
                        service,
                        Some(name),
                        vec![set(
                            format!("endpoints[{name:?}].steps[{i}].timeout_ms"),
                            timeout,
                        )],
                    )
                    .relieving(Relief::CallHeld {
                        before_ms: o.latency_ms.max,
                        after_ms: timeout,
                    }),
                );
            }
        }
    }
    let lost = figure("sessions_lost");
    if lost > 0.0 && matches!(a.sessions, model::SessionStore::InMemory) {
        out.push(
            candidate(
                LeverKind::ExternalSessions,
                &a.id,
                None,
                vec![set(format!("{}.sessions.form", a.id), "External")],
            )
            .relieving(Relief::SessionsLost {
                before: lost,
                after: 0.0,
            }),
        );
    }
    // Autoscaled: new instances serve an interval plus a startup after the load rises.
    for c in &sc.components {
        let ComponentSpec::Autoscaler(scaler) = c else {
            continue;
        };
        let faster = (scaler.interval_secs / 5.0).max(1.0).round();
        if scaler.tier == a.id && a.startup_secs > scaler.interval_secs && faster < a.startup_secs {
            out.push(
                candidate(
                    LeverKind::FasterStartup,
                    &a.id,
                    None,
                    vec![set(format!("{}.startup_secs", a.id), faster)],
                )
                .relieving(Relief::ScaleUpDelay {
                    before: scaler.interval_secs + a.startup_secs,
                    after: scaler.interval_secs + faster,
                }),
            );
        }
    }
    out
}

/// Whether `steps` ask cache `id`, and the (db, query) reads its misses run.
fn cache_reads(
    steps: &[model::Step],
    id: &str,
    found: &mut bool,
    reads: &mut Vec<(String, String)>,
) {
    use model::Step;
    for step in steps {
        match step {
            Step::CacheGet { cache, on_miss, .. } => {
                if cache == id {
                    *found = true;
                    for s in on_miss {
                        if let Step::Read { db, query } = s {
                            reads.push((db.clone(), query.clone()));
                        }
                    }
                }
                cache_reads(on_miss, id, found, reads);
            }
            Step::Repeat { steps, .. } => cache_reads(steps, id, found, reads),
            Step::Branch {
                then, otherwise, ..
            } => {
                cache_reads(then, id, found, reads);
                cache_reads(otherwise, id, found, reads);
            }
            _ => {}
        }
    }
}

/// A local cache on several instances: one shared copy sees every request, so its
/// popular keys stay hot. Predicted by Che's approximation at each copy's share of the
/// requests and at all of them, scaled to the hit ratio measured; the databases its
/// misses read lose the misses it saves.
fn share_cache(
    sc: &Scenario,
    s: &Summary,
    served: &[(String, String)],
    cache: &model::CacheSpec,
) -> Vec<Candidate> {
    let model::CacheModel::Keys {
        keys,
        zipf_s,
        capacity,
        ttl_secs,
    } = cache.model
    else {
        return Vec::new();
    };
    let (mut copies, mut reads) = (0.0, Vec::new());
    for (tier, name) in served {
        let Some(e) = sc.endpoints.get(name) else {
            continue;
        };
        let mut found = false;
        cache_reads(&e.steps, &cache.id, &mut found, &mut reads);
        if found {
            copies += s
                .component(tier)
                .map(|r| r.figure("instances"))
                .filter(|n| n.is_finite() && *n > 0.0)
                .unwrap_or(0.0);
        }
    }
    let figure = |name: &str| figure_of(s, &cache.id, name);
    let (gets, hit) = (figure("gets_per_sec"), figure("hit_ratio"));
    if copies < 2.0 || gets <= 0.0 {
        return Vec::new();
    }
    let (Some(local), Some(shared)) = (
        crate::theory::cache_hit_ratio(keys, zipf_s, capacity, ttl_secs, gets / copies),
        crate::theory::cache_hit_ratio(keys, zipf_s, capacity, ttl_secs, gets),
    ) else {
        return Vec::new();
    };
    let miss_ratio = if local < 1.0 {
        (1.0 - shared) / (1.0 - local)
    } else {
        1.0
    };
    let before = gets * (1.0 - hit);
    let after = before * miss_ratio;
    let mut c = candidate(
        LeverKind::ShareCache,
        &cache.id,
        None,
        vec![set(format!("{}.scope", cache.id), "Shared")],
    )
    .relieving(Relief::Misses { before, after });
    // Each database its misses read: the share of its calls they make shrinks.
    let mut dbs: Vec<&str> = reads.iter().map(|(db, _)| db.as_str()).collect();
    dbs.sort_unstable();
    dbs.dedup();
    for db in dbs {
        let calls = |pred: &dyn Fn(&str) -> bool| -> f64 {
            s.queries
                .iter()
                .filter(|q| q.db == db && pred(&q.query))
                .map(|q| q.count as f64)
                .sum()
        };
        let all = calls(&|_| true);
        let missed = calls(&|q| reads.iter().any(|(d, r)| d == db && r == q));
        let f = if all > 0.0 { missed / all } else { 0.0 };
        for r in s
            .saturation
            .iter()
            .filter(|r| r.component == db && r.kind == ResourceKind::Compute)
        {
            c = c.setting(
                r.resource.clone(),
                r.utilization * (1.0 - f + f * miss_ratio),
            );
        }
    }
    vec![c]
}

/// The nominal time of `steps` in milliseconds: their CPU and external calls (what an
/// offload moves; queries and calls count nothing here).
fn nominal_ms(steps: &[model::Step]) -> f64 {
    use model::Step;
    steps
        .iter()
        .map(|step| match step {
            Step::Cpu(d) | Step::External(d) => d.mean_ms(),
            Step::Repeat { times, steps } => times.mean() * nominal_ms(steps),
            Step::Branch {
                probability,
                then,
                otherwise,
            } => probability * nominal_ms(then) + (1.0 - probability) * nominal_ms(otherwise),
            _ => 0.0,
        })
        .sum()
}

/// Inline work this client's endpoints run that another endpoint in its mix hands to a
/// job queue (the same steps, with one `Enqueue` of a job that runs exactly the inline
/// ones): the lever shifts the client's mix to the queued endpoint, when the inline
/// work is a fifth or more of the endpoint's time.
fn offloads(sc: &Scenario, s: &Summary, c: &model::ClientSpec) -> Vec<Candidate> {
    use model::Step;
    let mut out = Vec::new();
    for (k, (name, weight)) in c.mix.iter().enumerate() {
        let (Some(e), Some(outcome)) = (sc.endpoints.get(name), s.endpoints.get(name)) else {
            continue;
        };
        if *weight <= 0.0 || outcome.latency_ms.mean <= 0.0 {
            continue;
        }
        for (j, (other, other_weight)) in c.mix.iter().enumerate() {
            let Some(o) = sc.endpoints.get(other) else {
                continue;
            };
            if j == k {
                continue;
            }
            let Some((i, queue, job)) = o.steps.iter().enumerate().find_map(|(i, st)| match st {
                Step::Enqueue { queue, job } => Some((i, queue, job)),
                _ => None,
            }) else {
                continue;
            };
            let (Some(job_steps), Some(ComponentSpec::Queue(q))) = (
                sc.endpoints.get(job).map(|j| &j.steps),
                component(sc, queue),
            ) else {
                continue;
            };
            let inline: Vec<Step> = o.steps[..i]
                .iter()
                .chain(job_steps.iter())
                .chain(&o.steps[i + 1..])
                .cloned()
                .collect();
            let moved_ms = nominal_ms(job_steps);
            if inline != e.steps || moved_ms < 0.2 * outcome.latency_ms.mean {
                continue;
            }
            let set = |m: usize, w: f64| Override {
                path: format!("{}.mix[{m}].weight", c.id),
                value: w.to_string(),
            };
            let mut cand = candidate(
                LeverKind::Offload,
                &c.id,
                Some(name),
                vec![set(k, 0.0), set(j, other_weight + weight)],
            );
            cand.forecast = Forecast::Offload(Offload {
                endpoint: name.clone(),
                queue: queue.clone(),
                rate: outcome.offered_per_sec,
                moved_ms,
                enqueue_ms: q.enqueue_latency.mean_ms(),
                consumers: q.consumers,
            });
            out.push(cand);
        }
    }
    out
}

/// Expected database queries one request of `steps` makes.
fn queries_per_request(steps: &[model::Step]) -> f64 {
    use model::Step;
    steps
        .iter()
        .map(|step| match step {
            Step::Read { .. } | Step::Write { .. } => 1.0,
            Step::Repeat { times, steps } => times.mean() * queries_per_request(steps),
            Step::Branch {
                probability,
                then,
                otherwise,
            } => {
                probability * queries_per_request(then)
                    + (1.0 - probability) * queries_per_request(otherwise)
            }
            // A cache miss runs its steps only sometimes: counted fully (an upper
            // estimate; the lever's measured effect says the rest).
            Step::CacheGet { on_miss, .. } => queries_per_request(on_miss),
            _ => 0.0,
        })
        .sum()
}

/// N+1 loops this client's endpoints run that another endpoint in its mix does with one
/// query (the same steps, a single `Read` where the loop was): the lever shifts the
/// client's mix from the loop to the batched endpoint.
pub(super) fn batches(sc: &Scenario, s: &Summary, c: &model::ClientSpec) -> Vec<Candidate> {
    use model::Step;
    let mut out = Vec::new();
    for (k, (name, weight)) in c.mix.iter().enumerate() {
        let Some(e) = sc.endpoints.get(name) else {
            continue;
        };
        if *weight <= 0.0 {
            continue;
        }
        for (j, (other, other_weight)) in c.mix.iter().enumerate() {
            let Some(o) = sc.endpoints.get(other) else {
                continue;
            };
            if j == k || e.steps.len() != o.steps.len() {
                continue;
            }
            let differ: Vec<usize> = (0..e.steps.len())
                .filter(|i| e.steps[*i] != o.steps[*i])
                .collect();
            let [i] = differ[..] else {
                continue;
            };
            let (Step::Repeat { times, steps }, Step::Read { db, query: single }) =
                (&e.steps[i], &o.steps[i])
            else {
                continue;
            };
            let [
                Step::Read {
                    db: looped_db,
                    query: looped,
                },
            ] = &steps[..]
            else {
                continue;
            };
            // Worth it only when the loop is a large share of its database's calls.
            let calls: f64 = s
                .queries
                .iter()
                .filter(|q| q.db == *db)
                .map(|q| q.count as f64)
                .sum();
            let looped_calls = s
                .queries
                .iter()
                .find(|q| q.db == *db && q.query == *looped)
                .map_or(0.0, |q| q.count as f64);
            if looped_db != db || times.mean() < 2.0 || calls <= 0.0 || looped_calls < 0.2 * calls {
                continue;
            }
            let set = |m: usize, w: f64| Override {
                path: format!("{}.mix[{m}].weight", c.id),
                value: w.to_string(),
            };
            out.push(Candidate {
                kind: LeverKind::Batch,
                component: c.id.clone(),
                subject: Some(name.clone()),
                changes: vec![set(k, 0.0), set(j, other_weight + weight)],
                forecast: Forecast::Batch(Batch {
                    endpoint: name.clone(),
                    db: db.clone(),
                    looped: looped.clone(),
                    times: times.mean(),
                    single: single.clone(),
                    queries_before: queries_per_request(&e.steps),
                    queries_after: queries_per_request(&o.steps),
                }),
                load: 1.0,
                utilization: Vec::new(),
                relief: None,
            });
        }
    }
    out
}
