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
//! - **failures** at their root (connections refused, out of memory, a primary or a
//!   tier's instances down, sessions lost, stale reads): when something fails, the
//!   advice is about that first;
//! - **levers** in the least disruptive order of the domain (fix queries and data →
//!   contain overload → resilience → pool sizing → cache → horizontal and vertical scale
//!   → async workers → database capacity), each a set of `--set` overrides with its
//!   **predicted** effect: the resource that runs out first afterwards, the load it
//!   then takes, and the mean latency from an M/M/c model of each station calibrated on
//!   the measured waits; for a lever against failures, its [`Relief`]: what it removes.
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
    /// What made users' requests fail (or lose what they had) at its root, the most
    /// first: connections refused, memory exhausted, a primary down, sessions lost,
    /// stale reads. Overload's own symptoms (rejections, timeouts) are not here: they
    /// belong to the resource that runs out first.
    pub failures: Vec<Failure>,
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

impl Advice {
    /// The resource the advice is about: the root of the failures when something fails,
    /// else the one with the least headroom.
    pub fn first_resource(&self) -> Option<&str> {
        self.failures
            .first()
            .map(|f| f.resource.as_str())
            .or_else(|| self.headroom.first().map(|h| h.resource.as_str()))
    }

    /// The first lever that helps.
    pub fn first_lever(&self) -> Option<&Lever> {
        self.levers.iter().find(|l| l.helps())
    }
}

/// A root cause of failures, and the resource behind it.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    pub component: String,
    /// e.g. `postgres connections`, `app memory`, `shop_db primary`, `app sessions`.
    pub resource: String,
    pub what: FailureKind,
    /// How many in the measured span.
    pub count: f64,
    /// Per user request (for stale reads: per replica read).
    pub share: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The database refused connections: the pools together exceed max_connections.
    ConnectionsRefused,
    /// Instances crashed out of memory: too many requests in flight for their memory.
    OutOfMemory,
    /// Queries failed while the database's primary was down.
    PrimaryDown,
    /// Users logged out: their session lived in an instance that died.
    SessionsLost,
    /// Replica reads returned rows older than the latest write.
    StaleReads,
    /// Requests failed while instances of a tier were down (crashed or killed).
    InstancesDown,
    /// Cache hits served an entry its key's write had made stale (before its TTL).
    StaleCacheReads,
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
    /// Spread a sharded database's load evenly: shard by a key without a few giant
    /// owners (a hot shard is a data-layout problem, like a missing index).
    SpreadKey,
    /// Admit at a rate limiter what the tier behind it can serve, and reject the rest
    /// at once instead of letting it queue until it times out (a change on the server's
    /// side, so before one every client must make).
    LimitRate,
    /// Cap a client's retries (a retry budget) when they multiply the load.
    RetryBudget,
    /// Give a call a timeout, so a slow service cannot hold its caller's threads.
    CallTimeout,
    /// Cap an instance's requests in flight at what its memory holds.
    CapInFlight,
    /// Keep sessions in a shared store rather than in an instance's memory.
    ExternalSessions,
    /// Send the reads of a user who just wrote to the primary.
    ReadYourWrites,
    /// Delete a cache entry when its key is written, so no stale entry is served.
    InvalidateOnWrite,
    /// Give a database without replicas one to fail over to.
    FailoverReplica,
    /// Start new instances faster, so an autoscaled tier keeps up with a spike.
    FasterStartup,
    /// Keep connections in a pool instead of opening one for every request.
    UsePool,
    /// Give each instance's pool more connections (within max_connections).
    GrowPool,
    /// Serve a tier whose threads all wait on slow calls from an event loop, which
    /// holds a waiting request in its own memory rather than in a thread and its stack.
    EventLoop,
    /// Put a transaction pooler in front of a database whose pools exceed its
    /// max_connections.
    AddPooler,
    /// One shared cache instead of a copy inside each of many instances.
    ShareCache,
    /// Answer more requests at a CDN's edge.
    EdgeCache,
    /// Run more instances of an app tier.
    AddInstances,
    /// Give each instance of an app tier more cores (vertical scaling).
    AppCores,
    /// Move slow work (an email, a PDF) out of the request onto a job queue's workers.
    Offload,
    /// More consumers for a job queue.
    AddConsumers,
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
    /// What it removes besides waiting: failures, lost sessions, stale reads, the
    /// delay before new instances serve.
    pub relief: Option<Relief>,
}

/// What a lever removes that latency does not show, before and after.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "what")]
pub enum Relief {
    /// Failed attempts of one cause (`db_refused`, `out_of_memory`, `db_down`) in the
    /// measured span.
    Failures {
        cause: String,
        before: f64,
        after: f64,
    },
    /// Users logged out in the measured span.
    SessionsLost { before: f64, after: f64 },
    /// Replica reads by users whose own last write had not reached the replicas (they
    /// may not see their own update); others' recent writes can still read stale.
    OwnWritesUnseen { before: f64, after: f64 },
    /// Seconds from a spike until the first new instance serves (the autoscaler's
    /// interval plus the startup time).
    ScaleUpDelay { before: f64, after: f64 },
    /// The longest a call holds its caller's thread: the slowest call answered before,
    /// the timeout after.
    CallHeld { before_ms: f64, after_ms: f64 },
    /// Users' requests that failed in the end.
    UserFailures { before: f64, after: f64 },
    /// Jobs waiting in a queue, on average (M/M/c after the change; a backlog that
    /// grew without end before, when its consumers were saturated).
    Backlog { before: f64, after: f64 },
    /// The busiest shard's load over the average shard's.
    HotShard { before: f64, after: f64 },
    /// Cache hits on stale entries.
    StaleCacheHits { before: f64, after: f64 },
    /// Cache misses per second (Che's approximation of an LRU's hit ratio, scaled to
    /// the one measured).
    Misses { before: f64, after: f64 },
}

impl Relief {
    /// Whether the change is large enough to count.
    fn helps(&self) -> bool {
        match *self {
            Self::Failures { before, after, .. }
            | Self::SessionsLost { before, after }
            | Self::UserFailures { before, after }
            | Self::Backlog { before, after }
            | Self::StaleCacheHits { before, after }
            | Self::Misses { before, after }
            | Self::OwnWritesUnseen { before, after } => {
                before > 0.0 && after <= (1.0 - HELPS) * before
            }
            Self::ScaleUpDelay { before, after } => after <= (1.0 - HELPS) * before,
            Self::HotShard { before, after } => after - 1.0 <= (1.0 - HELPS) * (before - 1.0),
            Self::CallHeld {
                before_ms,
                after_ms,
            } => after_ms <= (1.0 - HELPS) * before_ms,
        }
    }

    /// The replicated figure that measures it, when there is one.
    fn figure(&self, component: &str) -> Option<String> {
        match self {
            Self::Failures { cause, .. } => Some(format!("overall.errors.{cause}")),
            Self::SessionsLost { .. } => Some(format!("components.{component}.sessions_lost")),
            Self::OwnWritesUnseen { .. } => {
                Some(format!("components.{component}.own_writes_unseen"))
            }
            Self::UserFailures { .. } => Some("overall.user_failures".to_owned()),
            Self::Backlog { .. } => Some(format!("components.{component}.mean_depth")),
            Self::HotShard { .. } => Some(format!("components.{component}.hot_shard_ratio")),
            Self::StaleCacheHits { .. } => Some(format!("components.{component}.stale_hits")),
            Self::Misses { .. } => Some(format!("components.{component}.misses_per_sec")),
            Self::ScaleUpDelay { .. } | Self::CallHeld { .. } => None,
        }
    }
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
    /// The figure its [`Relief`] names (failures of its cause, sessions lost, stale
    /// reads), when it has one.
    pub relieved: Option<Difference>,
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
/// How much more an autoscaled tier `id` can grow: its most instances over those it
/// ran on average (1 for a tier without an autoscaler). Its own resources run out only
/// at its most instances.
fn growth(sc: &Scenario, s: &Summary, id: &str) -> f64 {
    sc.components
        .iter()
        .find_map(|c| match c {
            ComponentSpec::Autoscaler(a) if a.tier == id => Some(a.max_instances),
            _ => None,
        })
        .and_then(|most| {
            let now = s.component(id)?.figure("instances");
            (now.is_finite() && now > 0.0).then(|| (f64::from(most) / now).max(1.0))
        })
        .unwrap_or(1.0)
}

pub fn analyse(sc: &Scenario, s: &Summary) -> Advice {
    let x = load(s);
    let growth = |id: &str| growth(sc, s, id);
    let mut headroom: Vec<Headroom> = s
        .saturation
        .iter()
        .map(|r| {
            let u = r.utilization / growth(&r.component);
            let (at, room) = if u > 1e-9 && !is_structural(sc, r) {
                (x / u, 1.0 / u - 1.0)
            } else {
                (f64::INFINITY, f64::INFINITY)
            };
            Headroom {
                component: r.component.clone(),
                resource: r.resource.clone(),
                kind: r.kind.clone(),
                utilization: r.utilization,
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
                forecast,
                load,
                utilization,
                relief,
            } = c;
            let variant = variant_of(sc, &changes).ok()?;
            let mut predicted = match &forecast {
                Forecast::Batch(b) => model.predict_batch(b, sc, s),
                Forecast::Pooling(p) => model.predict_pooling(p, &variant, s),
                Forecast::Offload(o) => model.predict_offload(o, s),
                Forecast::Generic => model.predict(
                    &variant,
                    s,
                    load * load_after(kind, sc, s, &component),
                    &utilization,
                ),
            };
            if let Some(r) = relief {
                if r.helps() {
                    predicted.helps = true;
                    predicted.unhelpful = None;
                }
                predicted.relief = Some(r);
            }
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
        failures: failures(sc, s),
        levers,
        replications: 0,
        closed_loop: closed_loop(sc, s),
    }
}

/// The root causes of the run's failures, the largest share first.
fn failures(sc: &Scenario, s: &Summary) -> Vec<Failure> {
    let errors = |cause: &str| s.overall.errors.get(cause).copied().unwrap_or(0) as f64;
    let users = s.overall.user_requests.max(1) as f64;
    let figure = |id: &str, name: &str| {
        s.component(id)
            .map(|r| r.figure(name))
            .filter(|x| x.is_finite())
            .unwrap_or(0.0)
    };
    let mut out = Vec::new();
    let mut push = |c: &str, resource: String, what: FailureKind, count: f64, share: f64| {
        out.push(Failure {
            component: c.to_owned(),
            resource,
            what,
            count,
            share,
        })
    };
    for c in &sc.components {
        match c {
            ComponentSpec::App(a) => {
                let oom = errors("out_of_memory");
                if figure(&a.id, "out_of_memory_crashes") > 0.0 && oom > 0.0 {
                    push(
                        &a.id,
                        format!("{} memory", a.id),
                        FailureKind::OutOfMemory,
                        oom,
                        oom / users,
                    );
                }
                let down = instances_down_failures(sc, s, &a.id);
                if down > 0.0 {
                    push(
                        &a.id,
                        format!("{} instances", a.id),
                        FailureKind::InstancesDown,
                        down,
                        down / users,
                    );
                }
                let lost = figure(&a.id, "sessions_lost");
                if lost > 0.0 && matches!(a.sessions, model::SessionStore::InMemory) {
                    push(
                        &a.id,
                        format!("{} sessions", a.id),
                        FailureKind::SessionsLost,
                        lost,
                        lost / users,
                    );
                }
            }
            ComponentSpec::Cache(cache) => {
                let stale = figure(&cache.id, "stale_hits");
                if stale > 0.0 {
                    push(
                        &cache.id,
                        format!("{} TTL", cache.id),
                        FailureKind::StaleCacheReads,
                        stale,
                        figure(&cache.id, "stale_share"),
                    );
                }
            }
            ComponentSpec::Database(d) => {
                let refused = errors("db_refused");
                if refused > 0.0 && !connections_within_limit(sc, &d.id) {
                    push(
                        &d.id,
                        format!("{} connections", d.id),
                        FailureKind::ConnectionsRefused,
                        refused,
                        refused / users,
                    );
                }
                let down = errors("db_down");
                let killed = sc.faults.iter().any(
                    |f| matches!(&f.fault, model::Fault::KillPrimary { db, .. } if *db == d.id),
                );
                if down > 0.0 && killed {
                    push(
                        &d.id,
                        format!("{} primary", d.id),
                        FailureKind::PrimaryDown,
                        down,
                        down / users,
                    );
                }
                let stale = figure(&d.id, "stale_reads");
                if stale > 0.0 {
                    push(
                        &d.id,
                        format!("{} replication lag", d.id),
                        FailureKind::StaleReads,
                        stale,
                        figure(&d.id, "stale_share"),
                    );
                }
            }
            _ => {}
        }
    }
    out.sort_by(|a, b| b.share.total_cmp(&a.share));
    out
}

/// Failed attempts while instances of tier `id` were killed by a fault: none of them
/// left, or what calls them failing. Zero when no fault kills the tier.
fn instances_down_failures(sc: &Scenario, s: &Summary, id: &str) -> f64 {
    let killed = sc
        .faults
        .iter()
        .any(|f| matches!(&f.fault, model::Fault::KillInstances { tier, .. } if tier == id));
    if !killed {
        return 0.0;
    }
    ["no_instance", "crashed", "downstream", "circuit_open"]
        .iter()
        .map(|c| s.overall.errors.get(*c).copied().unwrap_or(0) as f64)
        .sum()
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
        let figure = lever
            .predicted
            .relief
            .as_ref()
            .and_then(|r| r.figure(&lever.component));
        lever.verified = verified(&paired(&base, &b, Pairing::Common), figure.as_deref());
    }
    // What was measured decides the order: helpful levers first, least disruptive first.
    advice.levers.sort_by_key(|l| (!l.helps(), l.kind));
    advice.replications = n;
    Ok(())
}

fn verified(c: &Comparison, relief: Option<&str>) -> Option<Verified> {
    let mean_ms = c.get("overall.latency_ms.mean")?.clone();
    let p99_ms = c.get("overall.latency_ms.p99")?.clone();
    let user_error_rate = c.get("overall.user_error_rate")?.clone();
    // Significantly lower (or higher) by at least `by` of A's mean, or `points`.
    let lower =
        |d: &Difference, by: f64| d.significant() && d.b_minus_a.mean <= -by * d.a.mean.abs();
    let higher = |d: &Difference| d.significant() && d.b_minus_a.mean >= HELPS * d.a.mean.abs();
    let fewer_failures = user_error_rate.significant() && user_error_rate.b_minus_a.mean <= -0.01;
    let relieved = relief.and_then(|f| c.get(f)).cloned();
    // A lever that removes what it is for (failures, lost sessions, stale reads) may
    // cost some latency: that is its price, said beside it, not a reason to rank it
    // last; it must not fail more users' requests.
    let removes = relieved.as_ref().is_some_and(|d| lower(d, HELPS));
    let more_failures = user_error_rate.significant() && user_error_rate.b_minus_a.mean >= 0.01;
    let helps = if removes {
        !more_failures
    } else {
        (lower(&mean_ms, HELPS) || fewer_failures) && !higher(&mean_ms) && !higher(&p99_ms)
    };
    Some(Verified {
        mean_ms,
        p99_ms,
        throughput_per_sec: c.get("overall.throughput_per_sec")?.clone(),
        error_rate: c.get("overall.error_rate")?.clone(),
        user_error_rate,
        relieved,
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
    /// The share of its calls the primary serves (the writes, when reads go to
    /// replicas): only those wait in the primary's line.
    primary_share: f64,
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
    /// Per resource of an autoscaled tier, how much its tier can still grow.
    growth: std::collections::BTreeMap<String, f64>,
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
    fn predict(
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
            let scale = dbs.get(&db.id).map_or(1.0, |(before, after, _)| {
                after.rho() / before.rho().max(1e-12)
            });
            for r in s
                .saturation
                .iter()
                .filter(|r| r.component == db.id && r.kind == "compute")
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
    fn predict_offload(&self, o: &Offload, s: &Summary) -> Predicted {
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
    fn predict_pooling(&self, p: &Pooling, variant: &Scenario, s: &Summary) -> Predicted {
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
                let u = if r.component == p.db && r.kind == "compute" {
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
    /// How its effect is predicted.
    forecast: Forecast,
    /// The share of today's load the change leaves (a CDN answering more at its edge).
    load: f64,
    /// Resources whose utilisation the change sets directly, and to what.
    utilization: Vec<(String, f64)>,
    relief: Option<Relief>,
}

/// How a lever's effect is predicted.
#[derive(Clone, Debug)]
enum Forecast {
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
struct Offload {
    endpoint: String,
    queue: String,
    /// Users' requests per second the move concerns.
    rate: f64,
    /// The moved steps' nominal time, and the enqueue's, in milliseconds.
    moved_ms: f64,
    enqueue_ms: f64,
    consumers: u32,
}

/// A tier that opens a connection to a database for every request, and what keeping
/// them in a pool saves: the handshake in every request, the setup on the database.
#[derive(Clone, Debug)]
struct Pooling {
    tier: String,
    db: String,
    /// Connections opened per second, and the database CPU each costs (seconds).
    connects_per_sec: f64,
    connect_cpu: f64,
    /// With an external pooler the request still opens its (client) connection: the
    /// handshake stays, only the database's setup goes (milliseconds of handshake).
    handshake_stays_ms: f64,
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
fn candidates(sc: &Scenario, s: &Summary, model: &Model) -> Vec<Candidate> {
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
                out.extend(app_candidates(sc, s, a, t));
            }
            ComponentSpec::Cache(cache) if cache.scope == model::CacheScope::Local => {
                out.extend(share_cache(sc, s, cache));
            }
            ComponentSpec::Cache(cache) if !cache.invalidate_on_write => {
                // Stale hits: delete an entry when its key is written.
                let stale = s
                    .component(&cache.id)
                    .map(|r| r.figure("stale_hits"))
                    .filter(|x| x.is_finite())
                    .unwrap_or(0.0);
                if stale > 0.0 {
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
                    let before = s
                        .component(&q.id)
                        .map(|r| r.figure("mean_depth"))
                        .filter(|x| x.is_finite())
                        .unwrap_or(0.0);
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
fn slots(c: &Concurrency) -> u32 {
    match *c {
        Concurrency::Threads { workers } => workers,
        Concurrency::Async { max_in_flight } => max_in_flight,
    }
}

fn set(path: String, value: impl ToString) -> Override {
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
    let errors = |cause: &str| s.overall.errors.get(cause).copied().unwrap_or(0) as f64;
    let figure = |name: &str| {
        s.component(&d.id)
            .map(|r| r.figure(name))
            .filter(|x| x.is_finite())
            .unwrap_or(0.0)
    };
    let mut out = Vec::new();
    // A hot shard: every shard at the average of their loads once the key spreads.
    let shards: Vec<(String, f64)> = s
        .saturation
        .iter()
        .filter(|r| r.component == d.id && r.kind == "compute" && r.resource.contains("#s"))
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
fn read_share(sc: &Scenario, s: &Summary, db: &str) -> f64 {
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
fn app_candidates(sc: &Scenario, s: &Summary, a: &model::AppSpec, t: &TierModel) -> Vec<Candidate> {
    let errors = |cause: &str| s.overall.errors.get(cause).copied().unwrap_or(0) as f64;
    let figure = |name: &str| {
        s.component(&a.id)
            .map(|r| r.figure(name))
            .filter(|x| x.is_finite())
            .unwrap_or(0.0)
    };
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
    let per_request = model::tier_endpoints(sc)
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
        for (tier, name) in model::tier_endpoints(sc) {
            let (Some(e), Some(o)) = (sc.endpoints.get(&name), s.endpoints.get(&name)) else {
                continue;
            };
            if tier != a.id || o.throughput_per_sec <= 0.0 {
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
                        Some(&name),
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
fn share_cache(sc: &Scenario, s: &Summary, cache: &model::CacheSpec) -> Vec<Candidate> {
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
    for (tier, name) in model::tier_endpoints(sc) {
        let Some(e) = sc.endpoints.get(&name) else {
            continue;
        };
        let mut found = false;
        cache_reads(&e.steps, &cache.id, &mut found, &mut reads);
        if found {
            copies += s
                .component(&tier)
                .map(|r| r.figure("instances"))
                .filter(|n| n.is_finite() && *n > 0.0)
                .unwrap_or(0.0);
        }
    }
    let figure = |name: &str| {
        s.component(&cache.id)
            .map(|r| r.figure(name))
            .filter(|x| x.is_finite())
            .unwrap_or(0.0)
    };
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
            .filter(|r| r.component == db && r.kind == "compute")
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
