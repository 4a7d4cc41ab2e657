//! The advisor: which resource runs out first and why, and which lever fixes it.
//!
//! From one run's [`Summary`] and its scenario it works out, with the operational laws
//! and queueing theory, and no further simulation:
//!
//! - **headroom**: every resource's demand per user request (utilisation law, D = U·c/X)
//!   and the load at which it saturates (bottleneck law, X = c/D = X_now/U); held
//!   resources (threads, connections) by Little's law at their current holding times;
//! - **diagnosis** per app tier: compute-bound (its CPU saturated), concurrency-bound
//!   (CPU idle, its requests waiting on a held resource) with the chain of what waits on
//!   what, or neither;
//! - **levers** in the least disruptive order of the domain (fix queries → pool sizing →
//!   cache → horizontal scale → async offload → replicas → database capacity →
//!   sharding), each a set of `--set` overrides with its **predicted** effect: the
//!   resource that runs out first afterwards, the load it then takes, and the mean
//!   latency from an M/M/c model of each station calibrated on the measured waits.
//!
//! [`verify`] then re-runs every lever with replications on common random numbers
//! (`experiment::compare::paired`), so each prediction stands beside its measured
//! effect. The words are the report's and the window's; here are numbers and names.

use serde::Serialize;

use crate::experiment::compare::{Comparison, Difference, Pairing, paired};
use crate::experiment::{self, Control};
use crate::metrics::Summary;
use crate::metrics::summary::TierTime;
use crate::model::overrides::{self, Override};
use crate::model::{self, ComponentSpec, Concurrency, PoolMode, Scenario, ValidScenario};

/// Everything the advisor says about one run.
#[derive(Clone, Debug, Serialize)]
pub struct Advice {
    pub scenario: String,
    /// Users' requests served per second: today's load.
    pub load_per_sec: f64,
    pub mean_ms: f64,
    pub p99_ms: f64,
    /// Every resource, the least headroom first.
    pub headroom: Vec<Headroom>,
    /// One per app tier that served requests.
    pub diagnoses: Vec<Diagnosis>,
    /// Helpful levers first, each group in the domain's order.
    pub levers: Vec<Lever>,
    /// Replications each verification ran (0 before [`verify`]).
    pub replications: usize,
    /// For a closed loop of users: exact mean value analysis beside the simulation.
    pub closed_loop: Option<ClosedLoop>,
}

/// A closed loop (users who think, send, wait for the answer, think again) solved by
/// mean value analysis with each queueing station's measured demand per request.
#[derive(Clone, Debug, Serialize)]
pub struct ClosedLoop {
    pub users: u32,
    pub think_ms: f64,
    /// Exact when every station is one exponential server (a product-form network);
    /// otherwise each station counts as one server of its total demand, an
    /// approximation.
    pub exact: bool,
    pub throughput_per_sec: f64,
    pub response_ms: f64,
    pub simulated_throughput_per_sec: f64,
    pub simulated_response_ms: f64,
}

/// How far one resource is from running out.
#[derive(Clone, Debug, Serialize)]
pub struct Headroom {
    pub component: String,
    /// e.g. `app cpu`, `app pool(db)`, `db cpu`.
    pub resource: String,
    /// `compute`, `concurrency`, `queue` or `limit`.
    pub kind: String,
    pub utilization: f64,
    /// Users' requests per second at which it is fully used, at today's demand per
    /// request (for held resources, at today's holding times). Infinite when unused.
    pub saturates_at_per_sec: f64,
    /// How much more load than today it takes (0.25: 25 % more).
    pub headroom: f64,
}

/// What limits an app tier, the way an engineer says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Its CPU is saturated: requests queue for a core; latency grows with load.
    Compute,
    /// Its CPU is not busy, but requests wait on a held resource (a worker thread, a
    /// pool connection) that waits on something else.
    Concurrency,
    /// Nothing it holds is saturated; its time goes where the breakdown says.
    Unsaturated,
}

/// The diagnosis of one app tier.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnosis {
    pub tier: String,
    pub bound: Bound,
    pub cpu_util: f64,
    /// Mean time of the requests it served, and its largest phase.
    pub mean_ms: f64,
    pub largest_phase: String,
    pub largest_share: f64,
    /// What its requests wait for, then what that waits for.
    pub chain: Vec<Link>,
}

/// One link of a waiting chain: a resource, the share of the tier's request time spent
/// waiting for it, and how full it is.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    pub resource: String,
    pub share: Option<f64>,
    pub utilization: Option<f64>,
}

/// The levers in the domain's order, least disruptive first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeverKind {
    /// Add the missing index on the query that dominates a database.
    AddIndex,
    /// Replace an N+1 loop of queries by one query (send the loop's traffic to the
    /// endpoint that batches it).
    Batch,
    /// Cap a client's retries (a retry budget) when they multiply the load.
    RetryBudget,
    /// Give each instance's pool more connections (within max_connections).
    GrowPool,
    /// Run more instances of an app tier.
    AddInstances,
    /// Give the database more cores.
    DatabaseCores,
}

/// One concrete change to the scenario, its predicted and (once verified) measured
/// effect, and what it costs.
#[derive(Clone, Debug, Serialize)]
pub struct Lever {
    pub kind: LeverKind,
    /// The component it changes, and the thing it acts on (a query, a pool's database).
    pub component: String,
    pub subject: Option<String>,
    /// The change, as `--set` overrides.
    pub changes: Vec<String>,
    pub predicted: Predicted,
    /// List price per hour after minus before.
    pub cost_change_per_hour: f64,
    pub verified: Option<Verified>,
}

impl Lever {
    /// Whether it helps: as measured once verified, as predicted before.
    pub fn helps(&self) -> bool {
        self.verified
            .as_ref()
            .map_or(self.predicted.helps, |v| v.helps)
    }
}

/// What the operational laws and queueing theory predict a lever does.
#[derive(Clone, Debug, Serialize)]
pub struct Predicted {
    /// It lowers the mean latency by at least 10 %, or raises the capacity by as much
    /// while a resource is at least [`PRESSED`] full.
    pub helps: bool,
    /// Why it does not, when it does not.
    pub unhelpful: Option<Unhelpful>,
    /// Mean latency afterwards (None: some resource would be saturated).
    pub mean_ms: Option<f64>,
    /// The load at which the first resource runs out afterwards, and which one.
    pub saturates_at_per_sec: f64,
    pub bottleneck: String,
}

/// Why a lever would not help.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unhelpful {
    /// The resource that runs out first stays the same (and latency barely moves).
    SameBottleneck,
    /// It adds room, but nothing is close to running out and latency barely moves.
    NotNeeded,
}

/// A lever's effect measured by re-running: B (with the lever) minus A, replication
/// by replication on the same seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    pub mean_ms: Difference,
    pub p99_ms: Difference,
    pub throughput_per_sec: Difference,
    pub error_rate: Difference,
    /// Users' requests that failed in the end (after any retries).
    pub user_error_rate: Difference,
    /// Measured, it helps: the mean latency lower by 10 % or users' failures lower by a
    /// point, significantly, and neither the mean nor the p99 significantly 10 % worse.
    pub helps: bool,
}

/// The retry budget the advisor proposes: one retry per ten requests.
const RETRY_BUDGET: f64 = 0.1;
/// Attempts per user request from which retries count as multiplying the load.
const AMPLIFIED: f64 = 1.3;
/// A change of relative size below this is no help.
const HELPS: f64 = 0.10;
/// Utilisation of the fullest resource from which more capacity is worth its price.
pub const PRESSED: f64 = 0.5;
/// Utilisation from which a tier's CPU counts as saturated.
const CPU_SATURATED: f64 = 0.7;
/// Share of a tier's request time spent waiting while holding a thread (for a thread,
/// a connection, the database's cores) that makes it concurrency-bound (with its CPU
/// below [`CPU_SATURATED`]).
const WAITING_SHARE: f64 = 0.2;
/// Utilisation from which a database counts as nearly full.
const DB_SATURATED: f64 = 0.8;
/// Queueing formulas stop at this utilisation: a saturated station's measured wait is
/// finite only because something upstream limits how many reach it.
const RHO_CAP: f64 = 0.98;

/// The advice for `s`, a run of `sc`, without re-running anything.
pub fn analyse(sc: &Scenario, s: &Summary) -> Advice {
    let x = load(s);
    let mut headroom: Vec<Headroom> = s
        .saturation
        .iter()
        .map(|r| {
            let u = r.utilization;
            let (at, room) = if u > 1e-9 && !is_structural(sc, r) {
                (x / u, 1.0 / u - 1.0)
            } else {
                (f64::INFINITY, f64::INFINITY)
            };
            Headroom {
                component: r.component.clone(),
                resource: r.resource.clone(),
                kind: r.kind.clone(),
                utilization: u,
                saturates_at_per_sec: at,
                headroom: room,
            }
        })
        .collect();
    headroom.sort_by(|a, b| a.saturates_at_per_sec.total_cmp(&b.saturates_at_per_sec));

    let model = Model::new(sc, s);
    let diagnoses = sc
        .components
        .iter()
        .filter_map(|c| match c {
            ComponentSpec::App(a) => diagnose(&a.id, s, &model),
            _ => None,
        })
        .collect();

    let mut levers: Vec<Lever> = candidates(sc, s, &model)
        .into_iter()
        .filter_map(|c| {
            let Candidate {
                kind,
                component,
                subject,
                changes,
                batch,
            } = c;
            let variant = variant_of(sc, &changes).ok()?;
            let predicted = match &batch {
                Some(b) => model.predict_batch(b, sc, s),
                None => model.predict(&variant, s, load_after(kind, sc, s, &component)),
            };
            Some(Lever {
                kind,
                component,
                subject,
                cost_change_per_hour: model::price::per_hour(&variant) - model::price::per_hour(sc),
                changes: changes.iter().map(ToString::to_string).collect(),
                predicted,
                verified: None,
            })
        })
        .collect();
    levers.sort_by_key(|l| (!l.helps(), l.kind));

    Advice {
        scenario: s.scenario.clone(),
        load_per_sec: x,
        mean_ms: s.overall.latency_ms.mean,
        p99_ms: s.overall.latency_ms.p99,
        headroom,
        diagnoses,
        levers,
        replications: 0,
        closed_loop: closed_loop(sc, s),
    }
}

/// Mean value analysis of the scenario when its only client is a closed loop.
fn closed_loop(sc: &Scenario, s: &Summary) -> Option<ClosedLoop> {
    let clients: Vec<&model::ClientSpec> = sc
        .components
        .iter()
        .filter_map(|c| match c {
            ComponentSpec::Client(c) => Some(c),
            _ => None,
        })
        .collect();
    let [client] = clients[..] else {
        return None;
    };
    let model::Arrivals::Closed { users, think } = &client.arrivals else {
        return None;
    };
    let x = s.overall.throughput_per_sec;
    if x <= 0.0 {
        return None;
    }
    // Each queueing station's demand per request: its busy servers ÷ throughput.
    let stations: Vec<_> = s.stations.iter().filter(|st| st.theory.is_some()).collect();
    let demands: Vec<f64> = stations
        .iter()
        .map(|st| st.utilization * f64::from(st.servers) / x)
        .collect();
    let exact = stations.iter().all(|st| {
        st.servers == 1
            && st.theory.as_ref().is_some_and(|t| {
                (t.service_scv - 1.0).abs() <= crate::theory::EXPONENTIAL_SCV_SLACK
            })
    });
    let think_ms = think.mean_ms();
    let (throughput, response) = crate::theory::mva(*users, think_ms / 1e3, &demands);
    Some(ClosedLoop {
        users: *users,
        think_ms,
        exact,
        throughput_per_sec: throughput,
        response_ms: response * 1e3,
        simulated_throughput_per_sec: x,
        simulated_response_ms: s.overall.latency_ms.mean,
    })
}

/// Runs the scenario with its own seed and analyses it.
pub fn advise(sc: &ValidScenario) -> Advice {
    let mut sim = crate::engine::Simulation::new(sc);
    sim.run_to_end();
    analyse(sc, &sim.summary())
}

/// [`advise`], the run counted on `ctl` (one replication planned and done) and
/// stopped by it; a run whose simulated time stands still is an error, not advice.
pub fn advise_with(sc: &ValidScenario, ctl: &Control) -> Result<Advice, experiment::Stopped> {
    ctl.plan(1);
    let summary = experiment::run_seeded(sc, sc.seed, ctl)?;
    Ok(analyse(sc, &summary))
}

/// Measures every lever's effect: `n` replications of the scenario and of each lever
/// on the same seeds, paired.
pub fn verify(
    sc: &ValidScenario,
    advice: &mut Advice,
    n: usize,
    ctl: &Control,
) -> Result<(), experiment::Error> {
    let n = n.max(2);
    let variants: Vec<ValidScenario> = advice
        .levers
        .iter()
        .map(|l| {
            let changes: Vec<Override> = l.changes.iter().filter_map(|c| c.parse().ok()).collect();
            variant_of(sc, &changes).map_err(experiment::Error::Invalid)
        })
        .collect::<Result<_, _>>()?;
    ctl.plan(n * (1 + variants.len()));
    let base = experiment::replicate_planned(sc, n, ctl).map_err(experiment::Error::Stopped)?;
    for (lever, variant) in advice.levers.iter_mut().zip(&variants) {
        let b =
            experiment::replicate_planned(variant, n, ctl).map_err(experiment::Error::Stopped)?;
        lever.verified = verified(&paired(&base, &b, Pairing::Common));
    }
    // What was measured decides the order: helpful levers first, least disruptive first.
    advice.levers.sort_by_key(|l| (!l.helps(), l.kind));
    advice.replications = n;
    Ok(())
}

fn verified(c: &Comparison) -> Option<Verified> {
    let mean_ms = c.get("overall.latency_ms.mean")?.clone();
    let p99_ms = c.get("overall.latency_ms.p99")?.clone();
    let user_error_rate = c.get("overall.user_error_rate")?.clone();
    // Significantly lower (or higher) by at least `by` of A's mean, or `points`.
    let lower =
        |d: &Difference, by: f64| d.significant() && d.b_minus_a.mean <= -by * d.a.mean.abs();
    let higher = |d: &Difference| d.significant() && d.b_minus_a.mean >= HELPS * d.a.mean.abs();
    let fewer_failures = user_error_rate.significant() && user_error_rate.b_minus_a.mean <= -0.01;
    let helps = (lower(&mean_ms, HELPS) || fewer_failures) && !higher(&mean_ms) && !higher(&p99_ms);
    Some(Verified {
        mean_ms,
        p99_ms,
        throughput_per_sec: c.get("overall.throughput_per_sec")?.clone(),
        error_rate: c.get("overall.error_rate")?.clone(),
        user_error_rate,
        helps,
    })
}

/// The scenario with `changes` applied and validated.
pub fn variant_of(sc: &Scenario, changes: &[Override]) -> Result<ValidScenario, String> {
    let mut v = sc.clone();
    overrides::apply(&mut v, changes)?;
    model::validate(v).map_err(|e| e.to_string())
}

/// Whether `r` is a database's connections that load cannot exhaust: pools keep their
/// connections open, so a database's connections grow with load only while the pools
/// together may open more than it allows.
fn is_structural(sc: &Scenario, r: &crate::metrics::summary::Saturation) -> bool {
    r.kind == "concurrency"
        && r.resource.ends_with(" connections")
        && connections_within_limit(sc, &r.component)
}

/// Whether every instance's pools to database `db` together (at the tiers' configured
/// instances) stay within its max_connections (or go through a pooler): then load
/// never exhausts its connections.
fn connections_within_limit(sc: &Scenario, db: &str) -> bool {
    let Some(ComponentSpec::Database(d)) = component(sc, db) else {
        return false;
    };
    if !matches!(d.pooler, model::Pooler::None) {
        return true;
    }
    let mut total = 0u64;
    for c in &sc.components {
        let ComponentSpec::App(a) = c else { continue };
        let instances = sc.most_instances(a);
        for p in a.pools.iter().filter(|p| p.db == db) {
            match p.mode {
                // Readers have a pool of the same size to the replicas.
                PoolMode::Pooled { size, .. } => {
                    total +=
                        u64::from(instances) * u64::from(size) * if d.replicas > 0 { 2 } else { 1 }
                }
                PoolMode::PerRequest => return false,
            }
        }
    }
    total <= u64::from(d.max_connections) * u64::from(d.replicas + 1)
}

fn component<'a>(sc: &'a Scenario, id: &str) -> Option<&'a ComponentSpec> {
    sc.components.iter().find(|c| c.id() == id)
}

/// Users' requests served per second (what was sent, when nothing was served).
fn load(s: &Summary) -> f64 {
    if s.overall.throughput_per_sec > 0.0 {
        s.overall.throughput_per_sec
    } else {
        s.overall.offered_per_sec
    }
}

// ----- the model of the system the predictions use ---------------------------------

/// A multi-server station seen as `copies` identical M/M/c queues (one per instance).
#[derive(Clone, Copy, Debug)]
struct Queue {
    copies: f64,
    servers: f64,
    /// Arrivals per second, all copies together.
    lambda: f64,
    /// Mean service (or holding) time, seconds.
    service: f64,
    /// Measured mean wait, seconds.
    wait: f64,
}

impl Queue {
    fn rho(&self) -> f64 {
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
    id: String,
    cpu: Queue,
    /// Each query: its share of the database's calls, its measured mean cost and its
    /// nominal mean cost in the scenario (seconds).
    queries: Vec<(String, f64, f64, f64)>,
}

/// One app tier.
#[derive(Clone, Debug)]
struct TierModel {
    id: String,
    /// Instances the scenario asks for, and those up on average in the run.
    configured: u32,
    instances: f64,
    served_per_sec: f64,
    time: TierTime,
    cpu: Option<Queue>,
    workers: Option<Queue>,
    /// Per database: its pool (None for per-request connections) and acquires per
    /// served request.
    pools: Vec<(String, Option<Queue>, f64)>,
}

struct Model {
    x: f64,
    /// Users' requests (attempts) app tiers served per second, wasted ones included.
    user_served: f64,
    tiers: Vec<TierModel>,
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
    fn new(sc: &Scenario, s: &Summary) -> Self {
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
                            let st = s.station(&name)?;
                            let acquires = if time.served_per_sec > 0.0 {
                                st.throughput_per_sec / time.served_per_sec
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
                    });
                }
                _ => {}
            }
        }
        Self {
            x: load(s),
            user_served: s.tiers.values().map(|t| t.user_requests_per_sec).sum(),
            tiers,
            dbs,
        }
    }

    /// What `variant` (this model's scenario with a lever applied) would do.
    /// What `variant` would do with the load on every resource multiplied by `load`
    /// (1 unless the lever removes load, as a retry budget does).
    fn predict(&self, variant: &Scenario, s: &Summary, load: f64) -> Predicted {
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
            dbs.insert(db.id.clone(), (db.cpu, after));
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
                let Some((db_before, db_after)) = dbs.get(db) else {
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
                delta_db += acquires * (waits_after - measured + service_change);
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
                    service: (workers.service + delta_own + delta_cpu).max(1e-9),
                    lambda: workers.lambda * load,
                    ..*workers
                };
                let name = s
                    .saturation
                    .iter()
                    .find(|r| {
                        r.component == t.id
                            && r.kind == "concurrency"
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
            let scale = dbs
                .get(&db.id)
                .map_or(1.0, |(before, after)| after.rho() / before.rho().max(1e-12));
            for r in s
                .saturation
                .iter()
                .filter(|r| r.component == db.id && r.kind == "compute")
            {
                util_after.push((r.resource.clone(), r.utilization * scale));
            }
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

    /// What batching an N+1 loop would do: the database loses the loop's calls and
    /// their service and gains one query per request; the endpoint loses the loop's
    /// round trips and waits; the waits for the database scale with Erlang C.
    fn predict_batch(&self, b: &Batch, sc: &Scenario, s: &Summary) -> Predicted {
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
                let u = if r.component == b.db && r.kind == "compute" {
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
        let (bottleneck, u) = util_after
            .iter()
            .cloned()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or_default();
        let capacity = if u > 1e-9 { self.x / u } else { f64::INFINITY };
        let before_u = s
            .saturation
            .iter()
            .map(|r| r.utilization)
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
        }
    }
}

/// The share of today's load a lever leaves: a retry budget of `RETRY_BUDGET` caps a
/// client's attempts at 1 + budget per user request.
fn load_after(kind: LeverKind, sc: &Scenario, s: &Summary, client: &str) -> f64 {
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
fn fullest(s: &Summary, id: &str) -> (String, f64) {
    s.saturation
        .iter()
        .filter(|r| r.component == id)
        .max_by(|a, b| a.utilization.total_cmp(&b.utilization))
        .map_or((id.to_owned(), 0.0), |r| {
            (r.resource.clone(), r.utilization)
        })
}

fn diagnose(tier: &str, s: &Summary, model: &Model) -> Option<Diagnosis> {
    let t = model.tiers.iter().find(|t| t.id == tier)?;
    let mean = t.time.mean_ms;
    if t.served_per_sec <= 0.0 || mean <= 0.0 {
        return None;
    }
    let part = |name: &str| t.time.breakdown_ms.get(name).copied().unwrap_or(0.0);
    let share = |ms: f64| ms / mean;
    let cpu_util = s.component(tier).map_or(0.0, |c| c.figure("cpu_util"));
    let (largest_phase, largest) = t
        .time
        .breakdown_ms
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(k, v)| (k.clone(), *v))
        .unwrap_or_default();
    // Waiting while holding a thread (and a connection): for a thread, a connection,
    // or the database's cores.
    let waiting = part("worker_wait") + part("pool_wait") + part("db_queue");
    // Or most of the time in a database that is nearly full: the wait is coming.
    let busiest_db = t
        .pools
        .iter()
        .map(|(db, _, _)| fullest(s, db).1)
        .fold(0.0, f64::max);
    let in_db = share(part("db_queue") + part("db_service"));
    let bound = if cpu_util >= CPU_SATURATED {
        Bound::Compute
    } else if share(waiting) >= WAITING_SHARE || (in_db >= 0.5 && busiest_db >= DB_SATURATED) {
        Bound::Concurrency
    } else {
        Bound::Unsaturated
    };
    let mut chain = Vec::new();
    let util_of = |resource: &str| {
        s.saturation
            .iter()
            .find(|r| r.resource == resource)
            .map(|r| r.utilization)
    };
    match bound {
        Bound::Compute => chain.push(Link {
            resource: format!("{tier} cpu"),
            share: Some(share(part("cpu") + part("core_wait"))),
            utilization: Some(cpu_util),
        }),
        Bound::Concurrency | Bound::Unsaturated => {
            if share(part("worker_wait")) >= 0.05 {
                let workers = s
                    .saturation
                    .iter()
                    .find(|r| {
                        r.component == tier
                            && r.kind == "concurrency"
                            && !r.resource.contains("pool(")
                    })
                    .map_or(format!("{tier} worker threads"), |r| r.resource.clone());
                chain.push(Link {
                    utilization: util_of(&workers),
                    resource: workers,
                    share: Some(share(part("worker_wait"))),
                });
            }
            // The pool its requests waited for longest (if they did), then what its
            // connections wait for: the database's fullest resource.
            let pool = t
                .pools
                .iter()
                .filter_map(|(db, p, _)| p.map(|p| (db, p.lambda * p.wait)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(db, _)| db);
            let pooled_wait = share(part("pool_wait")) >= 0.05;
            if let Some(db) = pool
                && pooled_wait
            {
                let resource = format!("{tier} pool({db})");
                chain.push(Link {
                    utilization: util_of(&resource),
                    resource,
                    share: Some(share(part("pool_wait"))),
                });
            }
            let db = if pooled_wait {
                pool
            } else {
                // The busiest database the tier queries.
                t.pools
                    .iter()
                    .map(|(db, _, _)| db)
                    .max_by(|a, b| fullest(s, a).1.total_cmp(&fullest(s, b).1))
            };
            if let Some(db) = db
                && (pooled_wait || share(part("db_queue")) >= 0.05)
            {
                let (resource, utilization) = fullest(s, db);
                chain.push(Link {
                    resource,
                    share: Some(share(part("db_queue") + part("db_service"))),
                    utilization: Some(utilization),
                });
            } else if chain.is_empty() && bound == Bound::Concurrency {
                chain.push(Link {
                    resource: largest_phase.clone(),
                    share: Some(share(largest)),
                    utilization: None,
                });
            }
        }
    }
    Some(Diagnosis {
        tier: tier.to_owned(),
        bound,
        cpu_util,
        mean_ms: mean,
        largest_share: share(largest),
        largest_phase,
        chain,
    })
}

/// A lever the run makes relevant, before its prediction.
struct Candidate {
    kind: LeverKind,
    component: String,
    subject: Option<String>,
    changes: Vec<Override>,
    /// For [`LeverKind::Batch`]: what the batching replaces.
    batch: Option<Batch>,
}

/// An N+1 loop and the endpoint that does the same work with one query.
#[derive(Clone, Debug)]
struct Batch {
    endpoint: String,
    db: String,
    /// The query run in the loop, its mean count per request; the one that replaces it.
    looped: String,
    times: f64,
    single: String,
    /// Queries per request before and after.
    queries_before: f64,
    queries_after: f64,
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
        batch: None,
    }
}

/// The levers the run makes relevant.
fn candidates(sc: &Scenario, s: &Summary, model: &Model) -> Vec<Candidate> {
    let set = |path: String, value: String| Override { path, value };
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
                    .filter(|r| r.component == d.id && r.kind == "compute")
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
                            vec![set(
                                format!("{}.queries[{name:?}].indexed", d.id),
                                "true".into(),
                            )],
                        ));
                    }
                }
                if busy >= 0.5 {
                    out.push(candidate(
                        LeverKind::DatabaseCores,
                        &d.id,
                        None,
                        vec![set(format!("{}.cores", d.id), (d.cores * 2).to_string())],
                    ));
                }
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
                if !scaled.contains(&a.id.as_str()) && t.served_per_sec > 0.0 {
                    out.push(candidate(
                        LeverKind::AddInstances,
                        &a.id,
                        None,
                        vec![set(
                            format!("{}.instances", a.id),
                            (a.instances * 2).to_string(),
                        )],
                    ));
                }
            }
            ComponentSpec::Client(c) => {
                out.extend(batches(sc, s, c));
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
fn batches(sc: &Scenario, s: &Summary, c: &model::ClientSpec) -> Vec<Candidate> {
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
                batch: Some(Batch {
                    endpoint: name.clone(),
                    db: db.clone(),
                    looped: looped.clone(),
                    times: times.mean(),
                    single: single.clone(),
                    queries_before: queries_per_request(&e.steps),
                    queries_after: queries_per_request(&o.steps),
                }),
            });
        }
    }
    out
}
