//! The model of the system the predictions use: each station as M/M/c queues
//! calibrated on the waits measured, and what a lever does to them.

use super::*;
use crate::metrics::summary::ResourceKind;

/// A multi-server station seen as `copies` identical M/M/c queues (one per instance).
#[derive(Clone, Copy, Debug)]
pub(super) struct Queue {
    pub(super) copies: f64,
    pub(super) servers: f64,
    /// Arrivals per second, all copies together.
    pub(super) lambda: f64,
    /// Mean service (or holding) time, seconds.
    pub(super) service: f64,
    /// Measured mean wait, seconds.
    pub(super) wait: f64,
}

impl Queue {
    pub(super) fn rho(&self) -> f64 {
        if self.copies <= 0.0 || self.servers <= 0.0 {
            return f64::INFINITY;
        }
        self.lambda * self.service / (self.copies * self.servers)
    }

    /// The Erlang C wait at this load, with ρ capped at [`RHO_CAP`].
    fn theory_wait(&self) -> f64 {
        let c = self.servers.round().max(1.0);
        let rho = self.rho().min(RHO_CAP);
        let lambda = rho * c / self.service.max(1e-12);
        crate::theory::predict(c as u32, lambda, self.service, 1.0, 1.0).map_or(0.0, |p| p.wait)
    }

    /// The measured wait scaled by what Erlang C says the change does to it; `None`
    /// when the changed station would be saturated.
    fn wait_after(&self, after: &Queue) -> Option<f64> {
        if after.rho() >= 1.0 {
            return None;
        }
        let before = self.theory_wait();
        let then = after.theory_wait();
        Some(if before > 1e-15 {
            self.wait * then / before
        } else {
            then
        })
    }
}

/// One database's primary CPU and its queries' costs.
#[derive(Clone, Debug)]
struct DbModel {
    pub(super) id: String,
    pub(super) cpu: Queue,
    /// Each query: its share of the database's calls, its measured mean cost and its
    /// nominal mean cost in the scenario (seconds).
    pub(super) queries: Vec<(String, f64, f64, f64)>,
    /// The share of its calls the primary serves (the writes, when reads go to
    /// replicas): only those wait in the primary's line.
    pub(super) primary_share: f64,
}

/// One app tier.
#[derive(Clone, Debug)]
pub(super) struct TierModel {
    pub(super) id: String,
    /// Instances the scenario asks for, and those up on average in the run.
    pub(super) configured: u32,
    pub(super) instances: f64,
    pub(super) served_per_sec: f64,
    pub(super) time: TierTime,
    pub(super) cpu: Option<Queue>,
    pub(super) workers: Option<Queue>,
    /// Per database: its pool (None for per-request connections) and acquires per
    /// served request.
    pub(super) pools: Vec<(String, Option<Queue>, f64)>,
}

pub(super) struct Model {
    pub(super) x: f64,
    /// Per resource of an autoscaled tier, how much its tier can still grow.
    pub(super) growth: std::collections::BTreeMap<String, f64>,
    /// Users' requests (attempts) app tiers served per second, wasted ones included.
    pub(super) user_served: f64,
    pub(super) tiers: Vec<TierModel>,
    dbs: Vec<DbModel>,
}

fn queue_of(s: &Summary, name: &str, copies: f64, servers: f64) -> Option<Queue> {
    let st = s.station(name)?;
    if st.throughput_per_sec <= 0.0 {
        return None;
    }
    Some(Queue {
        copies,
        servers,
        lambda: st.throughput_per_sec,
        service: ((st.mean_sojourn_ms - st.mean_wait_ms) / 1e3).max(1e-9),
        wait: st.mean_wait_ms / 1e3,
    })
}

impl Model {
    pub(super) fn new(sc: &Scenario, s: &Summary) -> Self {
        let mut tiers = Vec::new();
        let mut dbs = Vec::new();
        for c in &sc.components {
            match c {
                ComponentSpec::App(a) => {
                    let Some(time) = s.tiers.get(&a.id) else {
                        continue;
                    };
                    let n = s
                        .component(&a.id)
                        .map_or(f64::from(a.instances), |r| r.figure("instances"));
                    let n = if n.is_finite() && n > 0.0 {
                        n
                    } else {
                        f64::from(a.instances)
                    };
                    let slots = match a.concurrency {
                        Concurrency::Threads { workers } => workers,
                        Concurrency::Async { max_in_flight } => max_in_flight,
                    };
                    let pools = a
                        .pools
                        .iter()
                        .filter_map(|p| {
                            let name = format!("{}.pool({})", a.id, p.db);
                            // Connections opened per request have no pool station: the
                            // database's queries per request stand in (exact when this
                            // tier is the only one querying it).
                            let per_sec = match s.station(&name) {
                                Some(st) => st.throughput_per_sec,
                                None if matches!(p.mode, PoolMode::PerRequest) => {
                                    s.queries
                                        .iter()
                                        .filter(|q| q.db == p.db)
                                        .map(|q| q.count as f64)
                                        .sum::<f64>()
                                        / s.measured_secs.max(1e-9)
                                }
                                None => return None,
                            };
                            let acquires = if time.served_per_sec > 0.0 {
                                per_sec / time.served_per_sec
                            } else {
                                0.0
                            };
                            let queue = match p.mode {
                                PoolMode::Pooled { size, .. } => {
                                    queue_of(s, &name, n, f64::from(size))
                                }
                                PoolMode::PerRequest => None,
                            };
                            Some((p.db.clone(), queue, acquires))
                        })
                        .collect();
                    tiers.push(TierModel {
                        id: a.id.clone(),
                        configured: a.instances,
                        instances: n,
                        served_per_sec: time.served_per_sec,
                        time: time.clone(),
                        cpu: queue_of(s, &format!("{}.cpu", a.id), n, f64::from(a.cores)),
                        workers: queue_of(s, &format!("{}.workers", a.id), n, f64::from(slots)),
                        pools,
                    });
                }
                ComponentSpec::Database(d) => {
                    let name = if d.shards > 1 {
                        format!("{}#s0.cpu", d.id)
                    } else {
                        format!("{}.cpu", d.id)
                    };
                    let Some(cpu) = queue_of(s, &name, 1.0, f64::from(d.cores)) else {
                        continue;
                    };
                    let ours: Vec<_> = s.queries.iter().filter(|q| q.db == d.id).collect();
                    let calls: f64 = ours.iter().map(|q| q.count as f64).sum();
                    let queries = ours
                        .iter()
                        .map(|q| {
                            (
                                q.query.clone(),
                                if calls > 0.0 {
                                    q.count as f64 / calls
                                } else {
                                    0.0
                                },
                                q.mean_ms / 1e3,
                                d.queries
                                    .get(&q.query)
                                    .map_or(q.mean_ms, |qs| qs.effective_cost().mean_ms())
                                    / 1e3,
                            )
                        })
                        .collect();
                    dbs.push(DbModel {
                        id: d.id.clone(),
                        cpu,
                        queries,
                        primary_share: if d.replicas > 0 {
                            1.0 - read_share(sc, s, &d.id)
                        } else {
                            1.0
                        },
                    });
                }
                _ => {}
            }
        }
        Self {
            x: load(s),
            growth: s
                .saturation
                .iter()
                .map(|r| (r.resource.clone(), growth(sc, s, &r.component)))
                .filter(|(_, g)| *g > 1.0)
                .collect(),
            user_served: s.tiers.values().map(|t| t.user_requests_per_sec).sum(),
            tiers,
            dbs,
        }
    }

    /// What `variant` (this model's scenario with a lever applied) would do.
    /// What `variant` would do with the load on every resource multiplied by `load`
    /// (1 unless the lever removes load, as a retry budget does).
    pub(super) fn predict(
        &self,
        variant: &Scenario,
        s: &Summary,
        load: f64,
        utilization: &[(String, f64)],
    ) -> Predicted {
        let mut saturated = false;
        // Each database: its CPU after the change, and what Erlang C says of its wait
        // before and after.
        let mut dbs = std::collections::BTreeMap::new();
        for db in &self.dbs {
            let Some(ComponentSpec::Database(spec)) = component(variant, &db.id) else {
                continue;
            };
            // A query whose cost the change leaves alone keeps its measured mean; one it
            // changes scales by its nominal costs' ratio.
            let service: f64 = db
                .queries
                .iter()
                .map(|(q, share, measured, nominal)| {
                    let after = spec
                        .queries
                        .get(q)
                        .map_or(*nominal, |qs| qs.effective_cost().mean_ms() / 1e3);
                    if *nominal > 0.0 {
                        share * measured * (after / nominal - 1.0)
                    } else {
                        0.0
                    }
                })
                .sum();
            let after = Queue {
                servers: f64::from(spec.cores),
                service: (db.cpu.service + service).max(1e-9),
                lambda: db.cpu.lambda * load,
                ..db.cpu
            };
            if after.rho() >= 1.0 {
                saturated = true;
            }
            dbs.insert(db.id.clone(), (db.cpu, after, db.primary_share));
        }

        let mut delta_user = 0.0;
        let mut util_after: Vec<(String, f64)> = Vec::new();
        for t in &self.tiers {
            let Some(ComponentSpec::App(spec)) = component(variant, &t.id) else {
                continue;
            };
            let n = t.instances * f64::from(spec.instances) / f64::from(t.configured.max(1));
            let part = |name: &str| t.time.breakdown_ms.get(name).copied().unwrap_or(0.0) / 1e3;
            let mut delta_own = 0.0;
            // A query waits for a connection, then in its database's line. With a
            // saturated database the pool only decides where the waiting happens (a
            // bigger pool moves it into the database's line), so the two waits are
            // predicted together: the pool as M/M/c on its holding time without the
            // database's line, plus the database as M/M/c, scaled to what was measured.
            let mut delta_db = 0.0;
            for (db, pool, acquires) in &t.pools {
                let Some((db_before, db_after, primary_share)) = dbs.get(db) else {
                    continue;
                };
                let service_change = db_after.service - db_before.service;
                let db_theory = (db_before.theory_wait(), db_after.theory_wait());
                let (pool_theory, measured) = match pool {
                    Some(pool) => {
                        let size = spec
                            .pools
                            .iter()
                            .find(|p| p.db == *db)
                            .and_then(|p| match p.mode {
                                PoolMode::Pooled { size, .. } => Some(f64::from(size)),
                                PoolMode::PerRequest => None,
                            })
                            .unwrap_or(pool.servers);
                        let own = (pool.service - db_before.wait).max(1e-9);
                        let before = Queue {
                            service: own,
                            ..*pool
                        };
                        let after = Queue {
                            copies: n,
                            servers: size,
                            service: (own + service_change).max(1e-9),
                            lambda: pool.lambda * load,
                            ..*pool
                        };
                        let db_wait_after = if db_theory.0 > 1e-15 {
                            db_before.wait * db_theory.1 / db_theory.0
                        } else {
                            db_theory.1
                        };
                        let held = Queue {
                            service: after.service + db_wait_after,
                            ..after
                        };
                        util_after.push((format!("{} pool({db})", t.id), held.rho()));
                        if after.rho() >= 1.0 {
                            saturated = true;
                        }
                        (
                            (before.theory_wait(), after.theory_wait()),
                            pool.wait + db_before.wait,
                        )
                    }
                    None => ((0.0, 0.0), db_before.wait),
                };
                let theory_before = pool_theory.0 + db_theory.0;
                let theory_after = pool_theory.1 + db_theory.1;
                let waits_after = if theory_before > 1e-15 {
                    measured * theory_after / theory_before
                } else {
                    theory_after
                };
                delta_db += acquires * primary_share * (waits_after - measured + service_change);
            }
            delta_own += delta_db;
            let mut delta_cpu = 0.0;
            let mut delta_workers = 0.0;
            if let Some(cpu) = &t.cpu {
                let after = Queue {
                    copies: n,
                    servers: f64::from(spec.cores),
                    lambda: cpu.lambda * load,
                    ..*cpu
                };
                util_after.push((format!("{} cpu", t.id), after.rho()));
                match cpu.wait_after(&after) {
                    Some(w) if cpu.wait > 0.0 => {
                        delta_cpu = part("core_wait") * (w / cpu.wait) - part("core_wait")
                    }
                    Some(_) => {}
                    None => saturated = true,
                }
            }
            if let Some(workers) = &t.workers {
                let after = Queue {
                    copies: n,
                    servers: f64::from(slots(&spec.concurrency)),
                    service: (workers.service + delta_own + delta_cpu).max(1e-9),
                    lambda: workers.lambda * load,
                    ..*workers
                };
                let name = s
                    .saturation
                    .iter()
                    .find(|r| {
                        r.component == t.id
                            && r.kind == ResourceKind::Concurrency
                            && !r.resource.contains("pool(")
                    })
                    .map_or(format!("{} worker threads", t.id), |r| r.resource.clone());
                util_after.push((name, after.rho()));
                match workers.wait_after(&after) {
                    Some(w) if workers.wait > 0.0 => {
                        delta_workers =
                            part("worker_wait") * (w / workers.wait) - part("worker_wait")
                    }
                    Some(_) => {}
                    None => saturated = true,
                }
            }
            if self.user_served <= 0.0 {
                continue;
            }
            // Users' requests it serves: each phase changes in the proportion it changes
            // at the tier (whose requests include those their clients gave up on, so
            // absolute changes there would overstate what users see).
            let users = t.time.user_requests_per_sec / self.user_served;
            let user = |names: &[&str]| -> f64 {
                names
                    .iter()
                    .map(|n| s.overall.breakdown_ms.get(*n).copied().unwrap_or(0.0) / 1e3)
                    .sum()
            };
            let db_phases = ["pool_wait", "db_queue", "db_service", "connect", "network"];
            let tier_db: f64 = db_phases.iter().map(|n| part(n)).sum();
            for (delta, at_tier, for_users) in [
                (delta_cpu, part("core_wait"), user(&["core_wait"])),
                (delta_workers, part("worker_wait"), user(&["worker_wait"])),
                (delta_db, tier_db, user(&db_phases)),
            ] {
                delta_user += users
                    * if at_tier > 1e-12 {
                        for_users * delta / at_tier
                    } else {
                        delta
                    };
            }
            // Requests other services sent it: what they wait for changes as much.
            let called = (t.served_per_sec - t.time.user_requests_per_sec).max(0.0);
            delta_user += called / self.user_served * (delta_own + delta_cpu + delta_workers);
        }
        for db in &self.dbs {
            let scale = dbs.get(&db.id).map_or(1.0, |(before, after, _)| {
                after.rho() / before.rho().max(1e-12)
            });
            for r in s
                .saturation
                .iter()
                .filter(|r| r.component == db.id && r.kind == ResourceKind::Compute)
            {
                util_after.push((r.resource.clone(), r.utilization * scale));
            }
        }
        // What the lever sets directly (a queue's consumers, a shard's share of the keys).
        for (name, u) in utilization {
            util_after.retain(|(n, _)| n != name);
            util_after.push((name.clone(), *u));
        }
        // Everything the lever does not touch keeps its utilisation (connections the
        // pools keep open do not grow with load, see `analyse`).
        for r in &s.saturation {
            if is_structural(variant, r) {
                continue;
            }
            if !util_after.iter().any(|(name, _)| *name == r.resource) {
                util_after.push((r.resource.clone(), r.utilization * load));
            }
        }
        let mean_before = s.overall.latency_ms.mean;
        let mean_ms = (!saturated).then(|| (mean_before + delta_user * 1e3).max(0.0));
        self.conclude(s, &util_after, mean_ms)
    }

    /// What moving inline work to a job queue would do: the requests lose the work's
    /// time and gain an enqueue; the queue's consumers take it on (M/M/c occupancy).
    pub(super) fn predict_offload(&self, o: &Offload, s: &Summary) -> Predicted {
        let served: f64 = s.endpoints.values().map(|e| e.throughput_per_sec).sum();
        let Some(e) = s.endpoints.get(&o.endpoint) else {
            return self.conclude(s, &[], None);
        };
        let mean_ms = (served > 0.0).then(|| {
            let saved = (o.moved_ms - o.enqueue_ms).max(0.0);
            (s.overall.latency_ms.mean - e.throughput_per_sec / served * saved).max(0.0)
        });
        let consumers = format!("{} consumers", o.queue);
        let mut util_after: Vec<(String, f64)> = s
            .saturation
            .iter()
            .filter(|r| r.resource != consumers)
            .map(|r| (r.resource.clone(), r.utilization))
            .collect();
        util_after.push((
            consumers,
            o.rate * o.moved_ms / 1e3 / f64::from(o.consumers.max(1)),
        ));
        let mut p = self.conclude(s, &util_after, mean_ms);
        if util_after.last().is_some_and(|(_, u)| *u >= 1.0) {
            // The requests are faster, but the consumers cannot keep up: say so.
            p.helps = false;
            p.unhelpful = Some(Unhelpful::SameBottleneck);
        }
        p
    }

    /// What keeping connections in a pool would do: the database no longer sets up a
    /// connection per request (its line shortens, by Erlang C), and the tier's requests
    /// no longer pay the handshake.
    pub(super) fn predict_pooling(
        &self,
        p: &Pooling,
        variant: &Scenario,
        s: &Summary,
    ) -> Predicted {
        let (Some(db), Some(t)) = (
            self.dbs.iter().find(|d| d.id == p.db),
            self.tiers.iter().find(|t| t.id == p.tier),
        ) else {
            return self.conclude(s, &[], None);
        };
        let before = db.cpu;
        let busy = before.lambda * before.service;
        let lambda = (before.lambda - p.connects_per_sec).max(1e-9);
        let after = Queue {
            lambda,
            service: ((busy - p.connects_per_sec * p.connect_cpu) / lambda).max(1e-9),
            ..before
        };
        let ratio = if before.theory_wait() > 1e-15 {
            after.theory_wait() / before.theory_wait()
        } else {
            1.0
        };
        let user = |name: &str| s.overall.breakdown_ms.get(name).copied().unwrap_or(0.0);
        let users = if self.user_served > 0.0 {
            t.time.user_requests_per_sec / self.user_served
        } else {
            0.0
        };
        let mean_ms = (after.rho() < 1.0).then(|| {
            let saved = (user("connect") - p.handshake_stays_ms).max(0.0);
            (s.overall.latency_ms.mean - users * saved - user("db_queue") * (1.0 - ratio)).max(0.0)
        });
        let scale = (after.lambda * after.service) / busy.max(1e-12);
        let util_after: Vec<(String, f64)> = s
            .saturation
            .iter()
            .filter(|r| !is_structural(variant, r))
            .map(|r| {
                let u = if r.component == p.db && r.kind == ResourceKind::Compute {
                    r.utilization * scale
                } else {
                    r.utilization
                };
                (r.resource.clone(), u)
            })
            .collect();
        self.conclude(s, &util_after, mean_ms)
    }

    /// What batching an N+1 loop would do: the database loses the loop's calls and
    /// their service and gains one query per request; the endpoint loses the loop's
    /// round trips and waits; the waits for the database scale with Erlang C.
    pub(super) fn predict_batch(&self, b: &Batch, sc: &Scenario, s: &Summary) -> Predicted {
        let (Some(db), Some(e)) = (
            self.dbs.iter().find(|d| d.id == b.db),
            s.endpoints.get(&b.endpoint),
        ) else {
            return self.conclude(s, &[], None);
        };
        let mean_of = |query: &str| {
            db.queries
                .iter()
                .find(|(q, ..)| q == query)
                .map(|(_, _, measured, _)| *measured)
                .filter(|m| *m > 0.0)
                .or_else(|| match component(sc, &b.db) {
                    Some(ComponentSpec::Database(d)) => d
                        .queries
                        .get(query)
                        .map(|q| q.effective_cost().mean_ms() / 1e3),
                    _ => None,
                })
                .unwrap_or(0.0)
        };
        let (looped, single) = (mean_of(&b.looped), mean_of(&b.single));
        let rate = e.offered_per_sec;
        let before = db.cpu;
        let busy = before.lambda * before.service;
        let lambda = (before.lambda - rate * (b.times - 1.0)).max(1e-9);
        let after = Queue {
            lambda,
            service: ((busy - rate * b.times * looped + rate * single) / lambda).max(1e-9),
            ..before
        };
        let ratio = if before.theory_wait() > 1e-15 {
            after.theory_wait() / before.theory_wait()
        } else {
            1.0
        };
        let saturated = after.rho() >= 1.0;
        let part = |o: &crate::metrics::summary::Outcomes, name: &str| {
            o.breakdown_ms.get(name).copied().unwrap_or(0.0)
        };
        // Every endpoint's waits for the database scale with its queue; the batched one
        // also makes fewer queries (fewer round trips and waits) and trades the loop's
        // service for one query's.
        let time_after = |name: &str, o: &crate::metrics::summary::Outcomes| {
            let waits = part(o, "pool_wait") + part(o, "db_queue");
            let mut t = o.latency_ms.mean - waits + waits * ratio;
            if name == b.endpoint && b.queries_before > 0.0 {
                let fewer = b.queries_after / b.queries_before;
                t -= (part(o, "network") + waits * ratio) * (1.0 - fewer)
                    + (b.times * looped - single) * 1e3;
            }
            t.max(0.0)
        };
        let served: f64 = s.endpoints.values().map(|o| o.throughput_per_sec).sum();
        let mean_ms = (!saturated && served > 0.0).then(|| {
            s.endpoints
                .iter()
                .map(|(name, o)| o.throughput_per_sec * time_after(name, o))
                .sum::<f64>()
                / served
        });
        let scale = (after.lambda * after.service) / busy.max(1e-12);
        let calls = after.lambda / before.lambda.max(1e-12);
        let pool = format!("pool({})", b.db);
        let util_after: Vec<(String, f64)> = s
            .saturation
            .iter()
            .filter(|r| !is_structural(sc, r))
            .map(|r| {
                let u = if r.component == b.db && r.kind == ResourceKind::Compute {
                    r.utilization * scale
                } else if r.resource.contains(&pool) {
                    r.utilization * calls
                } else {
                    r.utilization
                };
                (r.resource.clone(), u)
            })
            .collect();
        self.conclude(s, &util_after, mean_ms)
    }

    /// The prediction from each resource's utilisation after a lever and the mean
    /// latency after it (None: something saturated).
    fn conclude(
        &self,
        s: &Summary,
        util_after: &[(String, f64)],
        mean_ms: Option<f64>,
    ) -> Predicted {
        // An autoscaled tier's resources fill only at its most instances.
        let room = |name: &str, u: f64| u / self.growth.get(name).copied().unwrap_or(1.0);
        let (bottleneck, u) = util_after
            .iter()
            .map(|(name, u)| (name.clone(), room(name, *u)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or_default();
        let capacity = if u > 1e-9 { self.x / u } else { f64::INFINITY };
        let before_u = s
            .saturation
            .iter()
            .map(|r| room(&r.resource, r.utilization))
            .fold(0.0, f64::max);
        let capacity_before = if before_u > 1e-9 {
            self.x / before_u
        } else {
            f64::INFINITY
        };
        let mean_before = s.overall.latency_ms.mean;
        let faster = mean_ms.is_some_and(|m| m <= (1.0 - HELPS) * mean_before);
        let roomier =
            capacity.is_finite() && capacity >= (1.0 + HELPS) * capacity_before && u < 1.0;
        // More room is worth paying for only when something is close to running out.
        let pressed = before_u >= PRESSED;
        let (helps, unhelpful) = if faster || (roomier && pressed) {
            (true, None)
        } else if roomier {
            (false, Some(Unhelpful::NotNeeded))
        } else {
            (false, Some(Unhelpful::SameBottleneck))
        };
        Predicted {
            helps,
            unhelpful,
            mean_ms,
            saturates_at_per_sec: capacity,
            bottleneck,
            relief: None,
        }
    }
}

/// The share of today's load a lever leaves: a retry budget of `RETRY_BUDGET` caps a
/// client's attempts at 1 + budget per user request.
pub(super) fn load_after(kind: LeverKind, sc: &Scenario, s: &Summary, client: &str) -> f64 {
    if kind != LeverKind::RetryBudget {
        return 1.0;
    }
    let Some(ComponentSpec::Client(_)) = component(sc, client) else {
        return 1.0;
    };
    let amplification = s.overall.amplification.max(1.0);
    (amplification.min(1.0 + RETRY_BUDGET)) / amplification
}

/// The fullest resource of component `id` and its utilisation.
pub(super) fn fullest(s: &Summary, id: &str) -> (String, f64) {
    s.saturation
        .iter()
        .filter(|r| r.component == id)
        .max_by(|a, b| a.utilization.total_cmp(&b.utilization))
        .map_or((id.to_owned(), 0.0), |r| {
            (r.resource.clone(), r.utilization)
        })
}
