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

mod diagnosis;
mod failures;
mod levers;
mod prediction;

use crate::metrics::summary::ResourceKind;
use serde::Serialize;

use diagnosis::diagnose;
use failures::{failures, instances_down_failures};
use levers::{Batch, Candidate, Forecast, Offload, Pooling, candidates, read_share, slots};
use prediction::{Model, TierModel, fullest, load_after};

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
    pub kind: ResourceKind,
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
                kind: r.kind,
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
    let mut sim = crate::engine::Simulation::recording(sc, sc.seed, crate::engine::Record::Summary);
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
    r.kind == ResourceKind::Concurrency
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

/// Component `id`'s figure `name` in the run, 0 when it has none.
fn figure_of(s: &Summary, id: &str, name: &str) -> f64 {
    s.component(id)
        .map(|r| r.figure(name))
        .filter(|x| x.is_finite())
        .unwrap_or(0.0)
}

/// Failed attempts of `cause` in the run.
fn errors_of(s: &Summary, cause: &str) -> f64 {
    s.overall.errors.get(cause).copied().unwrap_or(0) as f64
}

/// Users' requests served per second (what was sent, when nothing was served).
fn load(s: &Summary) -> f64 {
    if s.overall.throughput_per_sec > 0.0 {
        s.overall.throughput_per_sec
    } else {
        s.overall.offered_per_sec
    }
}
