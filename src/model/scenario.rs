//! The scenario as data: what a user writes in a `.ron` file, edits in the window and
//! shares with a team. No behaviour lives here; [`super::validate`] checks it and the
//! engine builds a running simulation from the checked result.
//!
//! Units are in the field names: `_ms` for milliseconds, `_secs` for seconds,
//! `_per_sec` for rates. Every field with a sensible default may be left out of a file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::dist::Dist;

/// The scenario format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A whole system under load: the workload, the topology and how long to run it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// File format version; files from a newer Bottleneck are refused with a clear error.
    pub version: u32,
    /// A short title.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub name: String,
    /// What the scenario shows: what to look at and what to change.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub description: String,
    /// What the scenario teaches, for the window's Lessons menu and checklist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson: Option<Lesson>,
    /// Seed of every random stream. A scenario plus a seed determines a run exactly.
    #[serde(default = "defaults::seed", skip_serializing_if = "defaults::is_seed")]
    pub seed: u64,
    /// Run length, warm-up and chart resolution.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub run: RunSpec,
    /// The endpoints of the workload: each is a script of steps an app instance executes.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub endpoints: BTreeMap<String, Endpoint>,
    /// The topology: clients, load balancers, app tiers, caches, databases.
    pub components: Vec<ComponentSpec>,
    /// Changes made while a run was going, replayed at their simulated times so the run
    /// can be reproduced exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimedChange>,
    /// Things that break at a simulated time: planned in the file, or made with the
    /// window's fault buttons during a run (recorded so the run replays).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<TimedFault>,
    /// Service-level objectives the system must meet (`bottleneck check`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slos: Vec<Slo>,
    /// Where each component sits on the canvas, by id (x, y). Components without a
    /// position are laid out automatically.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub layout: BTreeMap<String, (f32, f32)>,
}

impl Scenario {
    /// The most instances app tier `app` can run: its own count, or its autoscaler's
    /// maximum when that is higher.
    pub fn most_instances(&self, app: &AppSpec) -> u32 {
        self.components
            .iter()
            .filter_map(|x| match x {
                ComponentSpec::Autoscaler(a) if a.tier == app.id => Some(a.max_instances),
                _ => None,
            })
            .fold(app.instances, u32::max)
    }
}

/// What a scenario teaches: its topic, what to watch, and what to try, each step a change
/// the window applies with one click (and undoes), e.g.
/// `(topic: "Databases", watch: "…", steps: [(say: "Add an index", set: ["shop_db.queries[\"search\"].indexed=true"])])`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    /// The topic it belongs to in the Lessons menu (e.g. "Databases").
    pub topic: String,
    /// What to look at while it runs, in a sentence.
    pub watch: String,
    /// What to try, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<LessonStep>,
}

/// One thing to try: what to do, in words, and the change that does it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonStep {
    /// What to do and what to expect, in a sentence.
    pub say: String,
    /// The change, as `--set` overrides (`COMPONENT.PATH=VALUE`) applied in order;
    /// empty: only look.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<String>,
}

impl LessonStep {
    /// `scenario` with this step's changes made, or why they no longer apply (the
    /// scenario was edited since the lesson was written).
    pub fn applied_to(&self, scenario: &Scenario) -> Result<Scenario, String> {
        let overrides = self
            .set
            .iter()
            .map(|s| s.parse())
            .collect::<Result<Vec<super::overrides::Override>, String>>()?;
        let mut changed = scenario.clone();
        super::overrides::apply(&mut changed, &overrides)?;
        Ok(changed)
    }
}

/// A service-level objective, e.g. `(objective: Latency(percentile: P99, below_ms: 200.0))`
/// for all requests, or with `endpoint: "GET /product"` for one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// The endpoint it is about; `None`: all requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub objective: Objective,
}

/// What a service-level objective asks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Objective {
    /// A latency percentile of successful requests stays below `below_ms`.
    Latency {
        percentile: Percentile,
        below_ms: f64,
    },
    /// The share of users' requests that fail in the end (after any retries) stays
    /// below `below` (0–1).
    ErrorRate { below: f64 },
    /// Successful requests per second stay above `above_per_sec`.
    Throughput { above_per_sec: f64 },
    /// Any figure of the summary, by the path `run --replications --format csv` names
    /// it, stays below `below`: e.g. `stations.app.cpu.mean_wait_ms` (time waiting for a
    /// core), `components.postgres.cpu_util` (a share, 0–1). Written without `endpoint`.
    Figure { figure: String, below: f64 },
}

impl Objective {
    /// Its form's position in [`Objective::FORMS`].
    pub fn form(&self) -> usize {
        match self {
            Self::Latency { .. } => 0,
            Self::ErrorRate { .. } => 1,
            Self::Throughput { .. } => 2,
            Self::Figure { .. } => 3,
        }
    }

    /// The forms an objective takes, as written in a file.
    pub const FORMS: [&'static str; 4] = ["Latency", "ErrorRate", "Throughput", "Figure"];

    /// A new objective of form `i` (of [`Objective::FORMS`]) with a typical bound.
    pub fn of_form(i: usize) -> Self {
        match i {
            0 => Self::Latency {
                percentile: Percentile::P99,
                below_ms: 200.0,
            },
            1 => Self::ErrorRate { below: 0.01 },
            2 => Self::Throughput {
                above_per_sec: 100.0,
            },
            _ => Self::Figure {
                figure: "overall.latency_ms.mean".to_owned(),
                below: 100.0,
            },
        }
    }
}

/// The sections a [`Objective::Figure`] path may start with (those of the summary).
pub const FIGURE_SECTIONS: [&str; 7] = [
    "overall",
    "endpoints",
    "components",
    "stations",
    "queries",
    "saturation",
    "cost",
];

/// A latency percentile (or the mean).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Percentile {
    Mean,
    P50,
    P95,
    P99,
    P999,
}

impl Percentile {
    /// Its name in the summary's latency figures.
    pub fn field(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::P50 => "p50",
            Self::P95 => "p95",
            Self::P99 => "p99",
            Self::P999 => "p999",
        }
    }
}

impl Slo {
    /// The summary figure it judges, by the path replications name it with
    /// (`overall.latency_ms.p99`, `endpoints.GET /x.user_error_rate`, …).
    pub fn figure(&self) -> String {
        let scope = match &self.endpoint {
            Some(e) => format!("endpoints.{e}"),
            None => "overall".to_owned(),
        };
        match &self.objective {
            Objective::Latency { percentile, .. } => {
                format!("{scope}.latency_ms.{}", percentile.field())
            }
            Objective::ErrorRate { .. } => format!("{scope}.user_error_rate"),
            Objective::Throughput { .. } => format!("{scope}.throughput_per_sec"),
            Objective::Figure { figure, .. } => figure.clone(),
        }
    }

    /// The bound, and whether the figure must stay below it (else above).
    pub fn bound(&self) -> (f64, bool) {
        match self.objective {
            Objective::Latency { below_ms, .. } => (below_ms, true),
            Objective::ErrorRate { below } => (below, true),
            Objective::Throughput { above_per_sec } => (above_per_sec, false),
            Objective::Figure { below, .. } => (below, true),
        }
    }

    /// In a few words, e.g. `p99 of GET /product below 200 ms`.
    pub fn describe(&self) -> String {
        let of = self
            .endpoint
            .as_deref()
            .map_or(String::from("all requests"), |e| e.to_owned());
        match &self.objective {
            Objective::Latency {
                percentile,
                below_ms,
            } => format!("{} latency of {of} below {below_ms} ms", percentile.field()),
            Objective::Figure { figure, below } => format!("{figure} below {below}"),
            Objective::ErrorRate { below } => {
                format!("failed share of {of} below {}%", below * 100.0)
            }
            Objective::Throughput { above_per_sec } => {
                format!("throughput of {of} above {above_per_sec}/s")
            }
        }
    }
}

/// A fault at a simulated time, e.g. `(at_secs: 60.0, fault: FlushCache(cache: "redis"))`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedFault {
    pub at_secs: f64,
    pub fault: Fault,
}

/// Something that breaks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Fault {
    /// `count` instances of an app tier crash: the requests they hold fail at once and
    /// they start again after the tier's startup time (with cold local caches).
    KillInstances { tier: String, count: u32 },
    /// A cache loses every entry (shared, or every instance's local copy): the misses
    /// that follow all go to the database at once (a stampede).
    FlushCache { cache: String },
    /// Every network round trip to a database or a shared cache takes `extra_ms` longer
    /// for `duration_secs`.
    LatencySpike {
        target: String,
        extra_ms: f64,
        duration_secs: f64,
    },
    /// The primary of a database's shard `shard` (counted from 0; the only one when the
    /// database is not sharded) dies: queries on it fail, and so do those it was
    /// running, until a replica has been promoted `failover_secs` later (without
    /// replicas: until it has restarted). The node count stays the same: the old
    /// primary comes back as a replica.
    KillPrimary {
        db: String,
        #[serde(default, skip_serializing_if = "is_zero_u32")]
        shard: u32,
        failover_secs: f64,
    },
    /// The network between an app tier and one of its dependencies (a database, a shared
    /// cache, a queue or a called service) is cut for `duration_secs`; `mode` says how
    /// the tier finds out.
    Partition {
        from: String,
        to: String,
        duration_secs: f64,
        #[serde(default, skip_serializing_if = "PartitionMode::is_reset")]
        mode: PartitionMode,
    },
}

/// How a network partition shows to the side that tries to cross it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartitionMode {
    /// Connections are refused or reset: every attempt fails at once (`partitioned`).
    #[default]
    Reset,
    /// Packets are silently dropped: every attempt hangs, holding what the request
    /// holds, until the partition heals (then it goes through) or a call's own timeout
    /// ends the wait first (`call_timeout`).
    Drop,
}

impl PartitionMode {
    fn is_reset(&self) -> bool {
        *self == Self::Reset
    }
}

impl Fault {
    /// The component the fault hits.
    pub fn component(&self) -> &str {
        match self {
            Self::KillInstances { tier, .. } => tier,
            Self::FlushCache { cache } => cache,
            Self::LatencySpike { target, .. } => target,
            Self::KillPrimary { db, .. } => db,
            Self::Partition { from, .. } => from,
        }
    }

    /// Every component the fault names.
    pub fn components_mut(&mut self) -> Vec<&mut String> {
        match self {
            Self::KillInstances { tier: c, .. }
            | Self::FlushCache { cache: c }
            | Self::LatencySpike { target: c, .. }
            | Self::KillPrimary { db: c, .. } => vec![c],
            Self::Partition { from, to, .. } => vec![from, to],
        }
    }

    /// In a few words, for the timeline and the status bar.
    pub fn describe(&self) -> String {
        match self {
            Self::KillInstances { tier, count } => format!("kill {count} instance(s) of {tier}"),
            Self::FlushCache { cache } => format!("flush {cache}"),
            Self::LatencySpike {
                target,
                extra_ms,
                duration_secs,
            } => format!("{target} +{extra_ms} ms for {duration_secs} s"),
            Self::KillPrimary {
                db,
                shard,
                failover_secs,
            } => {
                let which = if *shard == 0 {
                    String::new()
                } else {
                    format!(" shard {shard}")
                };
                format!("kill the primary of {db}{which} (failover {failover_secs} s)")
            }
            Self::Partition {
                from,
                to,
                duration_secs,
                mode,
            } => match mode {
                PartitionMode::Reset => format!("partition {from} from {to} for {duration_secs} s"),
                PartitionMode::Drop => {
                    format!("drop packets from {from} to {to} for {duration_secs} s")
                }
            },
        }
    }
}

/// A change to parameters of one component at a simulated time, e.g.
/// `(at_secs: 30.0, component: "app", set: [("instances", "8")])`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedChange {
    /// Simulated seconds since the start of the run.
    pub at_secs: f64,
    /// The id of the component changed.
    pub component: String,
    /// `(parameter path, new value)` pairs, applied in order (see `model::params::apply`).
    pub set: Vec<(String, String)>,
}

/// How long to simulate and what to measure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSpec {
    /// Simulated seconds to run (after which the run ends).
    #[serde(skip_serializing_if = "defaults::is_duration")]
    pub duration_secs: f64,
    /// Simulated seconds at the start excluded from the summary, while queues fill.
    #[serde(skip_serializing_if = "defaults::is_warmup")]
    pub warmup_secs: f64,
    /// Resolution of the time series shown in charts, in simulated seconds.
    #[serde(skip_serializing_if = "defaults::is_sample_interval")]
    pub sample_interval_secs: f64,
}

impl Default for RunSpec {
    fn default() -> Self {
        Self {
            duration_secs: defaults::duration(),
            warmup_secs: defaults::warmup(),
            sample_interval_secs: defaults::sample_interval(),
        }
    }
}

/// One endpoint of the workload (e.g. `GET /product/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// What the app instance does, in order.
    pub steps: Vec<Step>,
    /// Memory one request of this endpoint holds on its instance while it runs, in MB
    /// (buffers, the decoded body, the result set).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub memory_mb: f64,
}

fn is_false(x: &bool) -> bool {
    !*x
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_zero_u32(x: &u32) -> bool {
    *x == 0
}

/// One step of an endpoint's script.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Step {
    /// CPU work on one of the instance's cores (queues for a core when all are busy).
    Cpu(Dist),
    /// Look a key up in a cache; on a miss run `on_miss`, then store the key.
    CacheGet {
        cache: String,
        #[serde(default, skip_serializing_if = "defaults::is_default")]
        on_miss: Vec<Step>,
        #[serde(default = "defaults::yes", skip_serializing_if = "defaults::is_yes")]
        set_on_miss: bool,
    },
    /// A read query. Holds a connection of the instance's pool for that database while
    /// it runs; served by a read replica when the database has replicas.
    Read { db: String, query: String },
    /// A write query: always on the primary, holding a pooled connection while it runs.
    Write { db: String, query: String },
    /// A call to a service outside the model (payment API, S3 …): pure latency.
    /// In thread mode it holds the worker thread; in async mode it holds nothing.
    External(Dist),
    /// Run `steps` `times` times in a row (the N of an N+1 query pattern): a fixed
    /// number (`times: 20`), or drawn for each request (`times: Geometric(mean: 0.5,
    /// max: 3)` for a retry loop, `Poisson(mean: 20.0, max: 100)` for a fan-out).
    Repeat { times: Count, steps: Vec<Step> },
    /// With probability `probability` run `then`, otherwise `otherwise`.
    Branch {
        probability: f64,
        then: Vec<Step>,
        #[serde(default, skip_serializing_if = "defaults::is_default")]
        otherwise: Vec<Step>,
    },
    /// Call another service: `endpoint` runs on an instance of the tier behind `service`
    /// (its load balancer, an app tier, a rate limiter or a circuit breaker) while this
    /// request waits for the answer. An error there fails this request too, and so does
    /// no answer within `timeout_ms` (the service goes on working on it).
    Call {
        service: String,
        endpoint: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<f64>,
    },
    /// Put a job on a queue and go on at once: `job` (an endpoint) runs later on the
    /// queue's workers. A full queue fails the request.
    Enqueue { queue: String, job: String },
}

/// How many times a `Repeat` runs its steps: a number, or drawn for each request.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Count {
    Fixed(u32),
    Drawn(CountDist),
}

/// A distribution of counts, each cut at `max`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum CountDist {
    /// 0, 1, 2, … each less likely by the same factor, with mean `mean`: the retries
    /// of a loop whose every try fails with probability mean ÷ (1 + mean).
    Geometric { mean: f64, max: u32 },
    /// Poisson with mean `mean`: a fan-out that varies around its mean.
    Poisson { mean: f64, max: u32 },
    /// Every count from `min` to `max` equally likely.
    Uniform { min: u32, max: u32 },
}

impl Count {
    /// The most it can be.
    pub fn max(&self) -> u32 {
        match self {
            Self::Fixed(n) => *n,
            Self::Drawn(CountDist::Geometric { max, .. } | CountDist::Poisson { max, .. }) => *max,
            Self::Drawn(CountDist::Uniform { max, .. }) => *max,
        }
    }

    /// Its mean, with the cut at `max` (for a Poisson count, about).
    pub fn mean(&self) -> f64 {
        match self {
            Self::Fixed(n) => f64::from(*n),
            Self::Drawn(CountDist::Geometric { mean, max }) => {
                // E[min(K, m)] = q + q² + … + q^m, q = mean ÷ (1 + mean) the chance to
                // go on.
                let q = mean / (1.0 + mean);
                q * (1.0 - q.powi(i32::try_from(*max).unwrap_or(i32::MAX))) / (1.0 - q)
            }
            Self::Drawn(CountDist::Poisson { mean, max }) => mean.min(f64::from(*max)),
            Self::Drawn(CountDist::Uniform { min, max }) => {
                0.5 * (f64::from(*min) + f64::from(*max))
            }
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(n) => write!(f, "{n}"),
            Self::Drawn(CountDist::Geometric { mean, max }) => {
                write!(f, "geometric({mean}, ≤{max})")
            }
            Self::Drawn(CountDist::Poisson { mean, max }) => write!(f, "poisson({mean}, ≤{max})"),
            Self::Drawn(CountDist::Uniform { min, max }) => write!(f, "{min}..{max}"),
        }
    }
}

/// Every component kind, listed once: its [`ComponentSpec`] variant and [`Kind`] (the
/// variant's name, as written in a scenario file) and its spec type. `with_kinds!(m!
/// args)` calls `m!(args; Variant(Spec) …)` with the list, so the enums, `Kind::ALL`,
/// [`for_each_spec!`] and the dispatch to each kind's [`ComponentKind`] impl are all
/// generated from it. The order is the palette's.
macro_rules! with_kinds {
    ($m:ident! $($args:tt)*) => {
        $m! {$($args)*;
            Client(ClientSpec)
            Cdn(CdnSpec)
            RateLimiter(RateLimiterSpec)
            LoadBalancer(LoadBalancerSpec)
            App(AppSpec)
            Cache(CacheSpec)
            Database(DatabaseSpec)
            Autoscaler(AutoscalerSpec)
            CircuitBreaker(CircuitBreakerSpec)
            Queue(QueueSpec)
        }
    };
}
pub(crate) use with_kinds;

/// What the model knows about a kind of component besides its parameters ([`Params`]):
/// implemented next to each spec, so a kind's description, defaults and references sit
/// together.
///
/// [`Params`]: super::params::Params
pub trait ComponentKind: super::params::Params + Sized {
    /// What the kind is, in one sentence (palette tooltips).
    const HELP: &'static str;

    /// A new component with default parameters and the id `id`; references are left
    /// empty.
    fn with_id(id: String) -> Self;

    /// The ids it refers to (its outgoing edges in the topology).
    fn references(&self) -> Vec<&str>;

    /// The same references, to rename one.
    fn references_mut(&mut self) -> Vec<&mut String>;

    /// Drops its references to `id`, a component being deleted: a single reference is
    /// left empty (to be reconnected); a kind with a list of references overrides this
    /// so that the entry leaves the list.
    fn forget(&mut self, id: &str) {
        for reference in self.references_mut() {
            if reference == id {
                reference.clear();
            }
        }
    }

    /// Its list price per hour as written, before any run (see [`super::price`]): 0 for
    /// a kind paid per request or through the instances it runs.
    fn list_price_per_hour(&self) -> f64;
}

/// A spec type as its [`ComponentSpec`] variant (generated from [`with_kinds!`]'s list):
/// lets code generic over a kind find a component of the same kind.
pub trait Variant: Sized {
    /// `c`'s spec if `c` is of this kind.
    fn of(c: &ComponentSpec) -> Option<&Self>;
}

macro_rules! kind_enums {
    (; $($variant:ident($spec:ident))*) => {
        /// A component of the topology. Each kind carries its own parameters.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub enum ComponentSpec {
            $($variant($spec),)*
        }

        /// A kind of component: what a [`ComponentSpec`] variant is, without its
        /// parameters (the palette, the canvas's shapes, the engine's numbering). Written
        /// in figures and JSON by its name in a scenario file (`"LoadBalancer"`).
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        pub enum Kind {
            $($variant,)*
        }

        impl Kind {
            /// Every kind, in palette order.
            pub const ALL: [Kind; [$(stringify!($variant)),*].len()] = [$(Kind::$variant),*];

            /// Its name as written in a scenario file.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant),)*
                }
            }
        }

        $(
            impl Variant for $spec {
                fn of(c: &ComponentSpec) -> Option<&Self> {
                    match c {
                        ComponentSpec::$variant(s) => Some(s),
                        _ => None,
                    }
                }
            }
        )*

        impl ComponentSpec {
            /// What a kind is, in one sentence (palette tooltips).
            pub fn kind_help(kind: Kind) -> &'static str {
                match kind {
                    $(Kind::$variant => <$spec as ComponentKind>::HELP,)*
                }
            }

            /// A new component of `kind` with default parameters and the id `id`;
            /// references are left empty.
            pub fn new_of_kind(kind: Kind, id: String) -> Self {
                match kind {
                    $(Kind::$variant => Self::$variant(<$spec as ComponentKind>::with_id(id)),)*
                }
            }
        }
    };
}
with_kinds!(kind_enums!);

/// A `match` over every [`ComponentSpec`] variant with the same body:
/// `for_each_spec!(value, |spec, kind| body)` binds `spec` to the variant's spec and
/// `kind` to its [`Kind`]. Generated from [`with_kinds!`]'s list, so code that treats
/// every kind alike names none of them.
macro_rules! for_each_spec {
    ($value:expr, |$spec:pat_param, $kind:pat_param| $body:expr) => {
        {
            // Named here so the expansion finds them wherever it is used (redundant,
            // hence allowed, in this module, where they are already in scope).
            #[allow(unused_imports)]
            use $crate::model::scenario::{for_each_spec_arms, with_kinds};
            with_kinds!(for_each_spec_arms! $value, $spec, $kind, $body)
        }
    };
}
pub(crate) use for_each_spec;

macro_rules! for_each_spec_arms {
    ($value:expr, $spec:pat_param, $kind:pat_param, $body:expr; $($variant:ident($ty:ident))*) => {
        match $value {
            $(
                $crate::model::ComponentSpec::$variant($spec) => {
                    let $kind = $crate::model::Kind::$variant;
                    $body
                }
            )*
        }
    };
}
pub(crate) use for_each_spec_arms;

/// The same body once for every kind, in [`Kind::ALL`]'s order, with `T` naming the
/// kind's spec type: `for_each_kind!(|T| body)`, for code generic over kinds that has
/// no component in hand (a kind's chart series, walked once for all its components).
macro_rules! for_each_kind {
    (|$t:ident| $body:expr) => {{
        #[allow(unused_imports)]
        use $crate::model::scenario::{for_each_kind_arms, with_kinds};
        with_kinds!(for_each_kind_arms! $t, $body)
    }};
}
pub(crate) use for_each_kind;

macro_rules! for_each_kind_arms {
    ($t:ident, $body:expr; $($variant:ident($ty:ident))*) => {{
        $({
            type $t = $crate::model::$ty;
            $body;
        })*
    }};
}
pub(crate) use for_each_kind_arms;

impl ComponentSpec {
    /// The component's unique id, as used in references and RNG streams.
    pub fn id(&self) -> &str {
        for_each_spec!(self, |c, _| &c.id)
    }

    /// What kind of component it is.
    pub fn kind(&self) -> Kind {
        for_each_spec!(self, |_, kind| kind)
    }

    /// The kind's name as written in a scenario file.
    pub fn kind_name(&self) -> &'static str {
        self.kind().name()
    }

    /// The ids this component refers to (its outgoing edges in the topology).
    pub fn references(&self) -> Vec<&str> {
        for_each_spec!(self, |c, _| c.references())
    }

    /// The same references, to rename one.
    pub fn references_mut(&mut self) -> Vec<&mut String> {
        for_each_spec!(self, |c, _| c.references_mut())
    }

    /// Drops its references to `id` (see [`ComponentKind::forget`]).
    pub fn forget(&mut self, id: &str) {
        for_each_spec!(self, |c, _| c.forget(id))
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A population of users sending requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    pub id: String,
    /// The load balancer or app tier the requests go to.
    pub target: String,
    /// How requests arrive: an open stream at a rate, or closed-loop users.
    pub arrivals: Arrivals,
    /// Endpoint weights, e.g. `[("GET /product", 9.0), ("POST /order", 1.0)]`.
    /// Empty means every endpoint with equal weight.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub mix: Vec<(String, f64)>,
    /// The client gives up after this long and counts a timeout; the server keeps working
    /// on the request. `None` waits forever.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub timeout_ms: Option<f64>,
    /// Number of distinct user sessions (the key for sticky hash routing). Closed-loop
    /// users are their own sessions.
    #[serde(
        default = "defaults::sessions",
        skip_serializing_if = "defaults::is_sessions"
    )]
    pub sessions: u32,
    /// What the client does after a failed attempt (an error or its own timeout).
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub retry: Retry,
    /// Retries allowed as a share of first attempts (0.1: at most one retry per ten
    /// requests, with a reserve of 10); `None`: no budget.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub retry_budget: Option<f64>,
}

impl ComponentKind for ClientSpec {
    const HELP: &'static str = "Users sending requests: an open stream at a rate, or closed-loop \
         users who wait for each answer and think before the next.";

    fn with_id(id: String) -> Self {
        ClientSpec {
            id,
            target: String::new(),
            arrivals: Arrivals::Poisson {
                rate_per_sec: 100.0,
            },
            mix: Vec::new(),
            timeout_ms: None,
            sessions: defaults::sessions(),
            retry: Retry::None,
            retry_budget: None,
        }
    }

    fn references(&self) -> Vec<&str> {
        vec![self.target.as_str()]
    }

    fn references_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.target]
    }

    fn list_price_per_hour(&self) -> f64 {
        0.0
    }
}

/// A client's retry policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Retry {
    /// A failed request fails.
    #[default]
    None,
    /// Try again at once, up to `max_retries` more times.
    Immediate { max_retries: u32 },
    /// Wait `delay_ms` before each retry.
    Fixed { max_retries: u32, delay_ms: f64 },
    /// Wait `base_ms` × 2^(retry − 1), at most `max_ms`; with `jitter`, a uniformly
    /// random part of that ("full jitter"), so retries of many clients spread out.
    Backoff {
        max_retries: u32,
        base_ms: f64,
        max_ms: f64,
        #[serde(default = "defaults::yes", skip_serializing_if = "defaults::is_yes")]
        jitter: bool,
    },
}

impl Retry {
    /// Retries it allows after the first attempt.
    pub fn max_retries(&self) -> u32 {
        match *self {
            Self::None => 0,
            Self::Immediate { max_retries }
            | Self::Fixed { max_retries, .. }
            | Self::Backoff { max_retries, .. } => max_retries,
        }
    }

    /// The longest it waits before a retry, in milliseconds.
    pub fn longest_delay_ms(&self) -> f64 {
        match *self {
            Self::None | Self::Immediate { .. } => 0.0,
            Self::Fixed { delay_ms, .. } => delay_ms,
            Self::Backoff { max_ms, .. } => max_ms,
        }
    }
}

/// The arrival process of a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Arrivals {
    /// Independent arrivals at a constant average rate (exponential gaps).
    Poisson { rate_per_sec: f64 },
    /// Perfectly regular arrivals.
    Constant { rate_per_sec: f64 },
    /// A two-state Markov-modulated Poisson process: quiet and burst periods with
    /// exponentially distributed lengths.
    Bursty {
        low_per_sec: f64,
        high_per_sec: f64,
        mean_low_secs: f64,
        mean_high_secs: f64,
    },
    /// Poisson arrivals whose rate moves linearly from `from_per_sec` at `start_secs` to
    /// `to_per_sec` at `end_secs`, constant before and after.
    Ramp {
        from_per_sec: f64,
        to_per_sec: f64,
        #[serde(default, skip_serializing_if = "defaults::is_default")]
        start_secs: f64,
        end_secs: f64,
    },
    /// Poisson arrivals at `base_per_sec`, jumping to `peak_per_sec` during
    /// `[at_secs, at_secs + duration_secs)`.
    Spike {
        base_per_sec: f64,
        peak_per_sec: f64,
        at_secs: f64,
        duration_secs: f64,
    },
    /// Poisson arrivals whose rate follows straight lines between `(secs, rate_per_sec)`
    /// points (e.g. a daily curve), constant after the last point.
    Profile { points: Vec<(f64, f64)> },
    /// A fixed number of users, each sending one request, waiting for the answer (or
    /// its timeout), then thinking for `think` before the next.
    Closed { users: u32, think: Dist },
}

/// A CDN or static-file offload: a share of requests is answered at the edge, the rest
/// goes on to the origin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdnSpec {
    pub id: String,
    /// Where the requests the edge does not answer go: a rate limiter, a load balancer or
    /// an app tier.
    pub target: String,
    /// Share of requests answered at the edge (static files, cached pages), 0–1.
    pub edge_share: f64,
    /// Time to answer from the edge.
    #[serde(
        default = "defaults::edge_latency",
        skip_serializing_if = "defaults::is_edge_latency"
    )]
    pub edge_latency: Dist,
    /// Price per million requests answered at the edge, in dollars.
    #[serde(
        default = "defaults::cdn_price",
        skip_serializing_if = "defaults::is_cdn_price"
    )]
    pub price_per_million: f64,
}

impl ComponentKind for CdnSpec {
    const HELP: &'static str = "A CDN or static-file offload: a share of the requests is answered \
         at the edge and never reaches the origin, which then has that much less load.";

    fn with_id(id: String) -> Self {
        CdnSpec {
            id,
            target: String::new(),
            edge_share: 0.5,
            edge_latency: defaults::edge_latency(),
            price_per_million: defaults::cdn_price(),
        }
    }

    fn references(&self) -> Vec<&str> {
        vec![self.target.as_str()]
    }

    fn references_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.target]
    }

    fn list_price_per_hour(&self) -> f64 {
        // Paid per request: in the measured cost only.
        0.0
    }
}

/// A circuit breaker on a dependency: when too many calls through it fail, it opens and
/// fails calls at once (without sending them) for `open_secs`, then lets a few probes
/// through (half-open) and closes again if they succeed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerSpec {
    pub id: String,
    /// The service it protects: a rate limiter, a load balancer or an app tier.
    pub target: String,
    /// Share of failed calls (0–1) over the window that opens it.
    #[serde(
        default = "defaults::breaker_threshold",
        skip_serializing_if = "defaults::is_breaker_threshold"
    )]
    pub error_threshold: f64,
    /// Length of the window the error share is measured over, in seconds.
    #[serde(
        default = "defaults::breaker_window",
        skip_serializing_if = "defaults::is_breaker_window"
    )]
    pub window_secs: f64,
    /// Calls needed in the window before it may open (so two failures of three do not).
    #[serde(
        default = "defaults::breaker_min_calls",
        skip_serializing_if = "defaults::is_breaker_min_calls"
    )]
    pub min_calls: u32,
    /// How long it stays open before probing.
    #[serde(
        default = "defaults::breaker_open",
        skip_serializing_if = "defaults::is_breaker_open"
    )]
    pub open_secs: f64,
    /// Calls let through while half-open; if all succeed it closes, one failure reopens it.
    #[serde(
        default = "defaults::breaker_probes",
        skip_serializing_if = "defaults::is_breaker_probes"
    )]
    pub half_open_probes: u32,
}

impl ComponentKind for CircuitBreakerSpec {
    const HELP: &'static str = "Sits in front of a service that is called: when too many calls \
         fail it opens and fails calls at once for a while, so callers stop piling threads onto a \
         broken dependency; then it probes and closes if the service recovered.";

    fn with_id(id: String) -> Self {
        CircuitBreakerSpec {
            id,
            target: String::new(),
            error_threshold: defaults::breaker_threshold(),
            window_secs: defaults::breaker_window(),
            min_calls: defaults::breaker_min_calls(),
            open_secs: defaults::breaker_open(),
            half_open_probes: defaults::breaker_probes(),
        }
    }

    fn references(&self) -> Vec<&str> {
        vec![self.target.as_str()]
    }

    fn references_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.target]
    }

    fn list_price_per_hour(&self) -> f64 {
        0.0
    }
}

/// A message broker queue with a pool of consumers: jobs enqueued by requests wait here
/// and run on the `workers` tier, `consumers` at a time. A failed job is retried with
/// exponential backoff; past `max_retries` it goes to the dead-letter queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    pub id: String,
    /// The app tier whose instances run the jobs (their cores, threads and pools).
    pub workers: String,
    /// Jobs running at once (consumer threads pulling from the queue).
    #[serde(
        default = "defaults::consumers",
        skip_serializing_if = "defaults::is_consumers"
    )]
    pub consumers: u32,
    /// Jobs the broker holds waiting; an enqueue beyond it fails.
    #[serde(
        default = "defaults::queue_capacity",
        skip_serializing_if = "defaults::is_queue_capacity"
    )]
    pub capacity: u32,
    /// Time an enqueue takes (network round trip to the broker).
    #[serde(
        default = "defaults::enqueue_latency",
        skip_serializing_if = "defaults::is_enqueue_latency"
    )]
    pub enqueue_latency: Dist,
    /// Chance that a job that ran fails anyway (a flaky mail server, a bad input).
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub failure_probability: f64,
    /// Retries of a failed job before it goes to the dead-letter queue.
    #[serde(
        default = "defaults::job_retries",
        skip_serializing_if = "defaults::is_job_retries"
    )]
    pub max_retries: u32,
    /// Wait before retry n: `backoff_ms` × 2^(n − 1), with full jitter.
    #[serde(
        default = "defaults::job_backoff",
        skip_serializing_if = "defaults::is_job_backoff"
    )]
    pub backoff_ms: f64,
    /// Price of the broker per hour.
    #[serde(
        default = "defaults::queue_price",
        skip_serializing_if = "defaults::is_queue_price"
    )]
    pub price_per_hour: f64,
}

impl ComponentKind for QueueSpec {
    const HELP: &'static str = "A broker queue with consumers: requests enqueue jobs (emails, \
         PDFs) and answer at once; the jobs run later on a worker tier, with retries and a \
         dead-letter queue for jobs that keep failing.";

    fn with_id(id: String) -> Self {
        QueueSpec {
            id,
            workers: String::new(),
            consumers: defaults::consumers(),
            capacity: defaults::queue_capacity(),
            enqueue_latency: defaults::enqueue_latency(),
            failure_probability: 0.0,
            max_retries: defaults::job_retries(),
            backoff_ms: defaults::job_backoff(),
            price_per_hour: defaults::queue_price(),
        }
    }

    fn references(&self) -> Vec<&str> {
        vec![self.workers.as_str()]
    }

    fn references_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.workers]
    }

    fn list_price_per_hour(&self) -> f64 {
        self.price_per_hour
    }
}

/// A token bucket in front of a load balancer or an app tier: requests beyond the rate
/// (after a burst) are rejected at once instead of queueing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimiterSpec {
    pub id: String,
    /// The load balancer or app tier it protects.
    pub target: String,
    /// Requests admitted per second, on average.
    pub rate_per_sec: f64,
    /// Requests admitted at once after a quiet period (the bucket's size).
    #[serde(
        default = "defaults::burst",
        skip_serializing_if = "defaults::is_burst"
    )]
    pub burst: f64,
    /// One bucket per client (each gets the rate) instead of one shared by all.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub per_client: bool,
}

impl ComponentKind for RateLimiterSpec {
    const HELP: &'static str = "A token bucket in front of a load balancer or an app tier: \
         requests beyond its rate are rejected at once instead of queueing, so an overload fails \
         fast and the rest is served in time.";

    fn with_id(id: String) -> Self {
        RateLimiterSpec {
            id,
            target: String::new(),
            rate_per_sec: 100.0,
            burst: defaults::burst(),
            per_client: false,
        }
    }

    fn references(&self) -> Vec<&str> {
        vec![self.target.as_str()]
    }

    fn references_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.target]
    }

    fn list_price_per_hour(&self) -> f64 {
        0.0
    }
}

/// Spreads requests over the instances of one or more app tiers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerSpec {
    pub id: String,
    /// How the next instance is chosen.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub policy: Policy,
    /// App tiers behind it; tiers with different instance sizes make a mixed fleet.
    pub backends: Vec<String>,
    /// Load shedding: with this many requests in flight behind it, new ones are
    /// rejected at once. `None`: never shed.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub max_in_flight: Option<u32>,
    /// Price per hour.
    #[serde(
        default = "defaults::lb_price",
        skip_serializing_if = "defaults::is_lb_price"
    )]
    pub price_per_hour: f64,
}

impl ComponentKind for LoadBalancerSpec {
    const HELP: &'static str = "Spreads requests over the instances of one or more app tiers, and \
         can shed load beyond a number of requests in flight.";

    fn with_id(id: String) -> Self {
        LoadBalancerSpec {
            id,
            policy: Policy::RoundRobin,
            backends: Vec::new(),
            max_in_flight: None,
            price_per_hour: defaults::lb_price(),
        }
    }

    fn references(&self) -> Vec<&str> {
        self.backends.iter().map(String::as_str).collect()
    }

    fn references_mut(&mut self) -> Vec<&mut String> {
        self.backends.iter_mut().collect()
    }

    fn forget(&mut self, id: &str) {
        self.backends.retain(|b| b != id);
    }

    fn list_price_per_hour(&self) -> f64 {
        self.price_per_hour
    }
}

/// Load-balancing policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Policy {
    /// Each instance in turn, whatever its load.
    #[default]
    RoundRobin,
    /// A uniformly random instance.
    Random,
    /// The instance with the fewest requests in flight.
    LeastConnections,
    /// Two random instances; the less loaded one wins.
    PowerOfTwoChoices,
    /// Hash of the user's session: sticky, so a session always lands on one instance.
    Hash,
}

/// A tier of identical app instances running the endpoints' scripts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub id: String,
    /// Number of instances.
    #[serde(default = "defaults::one", skip_serializing_if = "defaults::is_one")]
    pub instances: u32,
    /// CPU cores per instance: CPU steps queue for them.
    #[serde(
        default = "defaults::app_cores",
        skip_serializing_if = "defaults::is_app_cores"
    )]
    pub cores: u32,
    /// How fast one core is, relative to the core the CPU steps were measured on: at
    /// 2.0 every CPU step takes half as long (a faster instance type). With tiers of
    /// different speeds behind one load balancer, a mixed fleet.
    #[serde(
        default = "defaults::cpu_speed",
        skip_serializing_if = "defaults::is_cpu_speed"
    )]
    pub cpu_speed: f64,
    /// Thread-per-request or async event loop.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub concurrency: Concurrency,
    /// Requests that wait for a worker (or event-loop slot) beyond this many are rejected.
    #[serde(
        default = "defaults::accept_queue",
        skip_serializing_if = "defaults::is_accept_queue"
    )]
    pub accept_queue: u32,
    /// A request still waiting for a worker after this long is dropped when it would start.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub queue_timeout_ms: Option<f64>,
    /// Time a new instance takes before it receives traffic (scale-out during a run).
    #[serde(
        default = "defaults::startup_secs",
        skip_serializing_if = "defaults::is_startup_secs"
    )]
    pub startup_secs: f64,
    /// One connection pool per database the endpoints use, per instance.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub pools: Vec<PoolSpec>,
    /// Memory of one instance in MB; requests beyond it crash the instance (out of
    /// memory). `None`: memory is not modelled.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub memory_mb: Option<f64>,
    /// Memory the process uses at rest (runtime, code, caches), in MB.
    #[serde(
        default = "defaults::base_memory",
        skip_serializing_if = "defaults::is_base_memory"
    )]
    pub base_memory_mb: f64,
    /// Memory each worker thread reserves for its stack, in MB (thread-per-request
    /// only): the threads start with the instance, so their stacks count with the
    /// base against `memory_mb`. An event loop has no thread per request.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub thread_stack_mb: f64,
    /// Where user sessions live.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub sessions: SessionStore,
    /// Price of one instance per hour (its size's price); `None`: estimated from its
    /// cores and their speed at [`defaults::APP_PRICE_PER_CORE_HOUR`] per reference
    /// core.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub price_per_hour: Option<f64>,
}

impl ComponentKind for AppSpec {
    const HELP: &'static str = "A tier of identical app instances running the endpoints' scripts \
         on their cores, with a worker pool, a connection pool per database, optional memory \
         limits and user sessions in memory or in a store.";

    fn with_id(id: String) -> Self {
        AppSpec {
            id,
            instances: 2,
            cores: defaults::app_cores(),
            cpu_speed: defaults::cpu_speed(),
            concurrency: Concurrency::default(),
            accept_queue: defaults::accept_queue(),
            queue_timeout_ms: None,
            startup_secs: defaults::startup_secs(),
            pools: Vec::new(),
            memory_mb: None,
            base_memory_mb: defaults::base_memory(),
            thread_stack_mb: 0.0,
            sessions: SessionStore::Stateless,
            price_per_hour: None,
        }
    }

    fn references(&self) -> Vec<&str> {
        self.pools.iter().map(|p| p.db.as_str()).collect()
    }

    fn references_mut(&mut self) -> Vec<&mut String> {
        self.pools.iter_mut().map(|p| &mut p.db).collect()
    }

    fn forget(&mut self, id: &str) {
        self.pools.retain(|p| p.db != id);
    }

    fn list_price_per_hour(&self) -> f64 {
        f64::from(self.instances) * super::price::app_instance(self)
    }
}

impl AppSpec {
    /// Memory an instance holds whatever its load: the process at rest and, for
    /// thread-per-request, every worker thread's stack.
    pub fn fixed_memory_mb(&self) -> f64 {
        self.base_memory_mb
            + match self.concurrency {
                Concurrency::Threads { workers } => f64::from(workers) * self.thread_stack_mb,
                Concurrency::Async { .. } => 0.0,
            }
    }

    /// The memory an instance has for its requests, in KB (`None`: not modelled).
    pub fn requests_memory_kb(&self) -> Option<u64> {
        self.memory_mb
            .map(|m| ((m - self.fixed_memory_mb()).max(0.0) * 1024.0) as u64)
    }
}

/// Where an app tier keeps user sessions (logins, carts).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum SessionStore {
    /// No session state (or it travels in a token).
    #[default]
    Stateless,
    /// In the instance's memory: needs sticky (hash) routing, and an instance that
    /// crashes or is stopped logs out every user whose session it held.
    InMemory,
    /// In an external store (Redis): every request looks its session up first, and no
    /// instance holds anything to lose.
    External { lookup: Dist },
}

/// How an app instance runs concurrent requests.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Concurrency {
    /// Thread per request: a request holds one of `workers` threads for its whole script,
    /// including while it waits on the database or an external call.
    Threads { workers: u32 },
    /// Async event loop: waiting steps hold nothing; at most `max_in_flight` requests are
    /// admitted at once (memory), CPU steps still need a core.
    Async { max_in_flight: u32 },
}

impl Default for Concurrency {
    fn default() -> Self {
        Self::Threads { workers: 200 }
    }
}

/// The connections an instance keeps to one database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// The database component.
    pub db: String,
    /// Pooled connections, or a fresh connection per request.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub mode: PoolMode,
}

/// Connection management for one database.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum PoolMode {
    /// Up to `size` connections per instance, opened on demand and kept. A query waits
    /// for a free connection; after `acquire_timeout_ms` the request fails. Reads from
    /// replicas use a second pool of the same size.
    Pooled { size: u32, acquire_timeout_ms: f64 },
    /// Every request opens its own connection at its first query (paying the database's
    /// connect time and CPU), holds it to the end, then closes it.
    PerRequest,
}

impl Default for PoolMode {
    fn default() -> Self {
        Self::Pooled {
            size: 10,
            acquire_timeout_ms: 1000.0,
        }
    }
}

/// Adds and removes instances of an app tier to keep a metric near its target. New
/// instances take traffic after the tier's `startup_secs` (the warm-up).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscalerSpec {
    pub id: String,
    /// The app tier it scales.
    pub tier: String,
    /// What it keeps near a target.
    pub metric: ScaleMetric,
    #[serde(default = "defaults::one", skip_serializing_if = "defaults::is_one")]
    pub min_instances: u32,
    pub max_instances: u32,
    /// How often it looks at the metric (averaged over that interval).
    #[serde(
        default = "defaults::scale_interval",
        skip_serializing_if = "defaults::is_scale_interval"
    )]
    pub interval_secs: f64,
    /// After a change, how long it waits before changing again.
    #[serde(
        default = "defaults::scale_cooldown",
        skip_serializing_if = "defaults::is_scale_cooldown"
    )]
    pub cooldown_secs: f64,
}

impl ComponentKind for AutoscalerSpec {
    const HELP: &'static str = "Adds and removes instances of an app tier to keep CPU, request \
         rate or queue depth per instance near a target; new instances help only after their \
         startup time.";

    fn with_id(id: String) -> Self {
        AutoscalerSpec {
            id,
            tier: String::new(),
            metric: ScaleMetric::Cpu { target: 0.6 },
            min_instances: 2,
            max_instances: 10,
            interval_secs: defaults::scale_interval(),
            cooldown_secs: defaults::scale_cooldown(),
        }
    }

    fn references(&self) -> Vec<&str> {
        vec![self.tier.as_str()]
    }

    fn references_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.tier]
    }

    fn list_price_per_hour(&self) -> f64 {
        // Its tier's instances are priced with the tier.
        0.0
    }
}

/// The metric an autoscaler tracks, with its target per instance.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ScaleMetric {
    /// CPU utilisation of the tier (0–1).
    Cpu { target: f64 },
    /// Requests per second arriving per instance.
    RequestRate { per_instance: f64 },
    /// Requests waiting in accept queues per instance (time-averaged).
    QueueDepth { per_instance: f64 },
}

/// A cache: shared (Redis-like, over the network) or local to each instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    pub id: String,
    /// Shared by all instances, or one independent copy inside each instance.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub scope: CacheScope,
    /// How hits happen: a fixed ratio, or a key space from which the hit ratio emerges.
    pub model: CacheModel,
    /// Operations served at once (Redis: 1). Shared caches only.
    #[serde(default = "defaults::one", skip_serializing_if = "defaults::is_one")]
    pub servers: u32,
    /// Time the cache spends on one get or set.
    #[serde(
        default = "defaults::cache_op",
        skip_serializing_if = "defaults::is_cache_op"
    )]
    pub op_time: Dist,
    /// Network round trip per operation. Shared caches only.
    #[serde(
        default = "defaults::cache_network",
        skip_serializing_if = "defaults::is_cache_network"
    )]
    pub network_latency: Dist,
    /// Price of a shared cache per hour; `None`: estimated from its servers at
    /// [`defaults::CACHE_PRICE_PER_SERVER_HOUR`]. Local caches cost nothing extra.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub price_per_hour: Option<f64>,
    /// Writes per second to the data behind the cache (Keys model), spread evenly
    /// over its keys: an entry stored before its key's last write is stale until it
    /// expires, unless writes invalidate it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub updates_per_sec: f64,
    /// A write deletes its key's entry, so the next get misses and reads the new value
    /// (cache-aside invalidation) instead of serving a stale one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub invalidate_on_write: bool,
}

impl ComponentKind for CacheSpec {
    const HELP: &'static str = "A cache in front of the database: shared over the network (Redis) \
         or local inside each instance.";

    fn with_id(id: String) -> Self {
        CacheSpec {
            id,
            scope: CacheScope::Shared,
            model: CacheModel::HitRatio { ratio: 0.8 },
            servers: 1,
            op_time: defaults::cache_op(),
            network_latency: defaults::cache_network(),
            price_per_hour: None,
            updates_per_sec: 0.0,
            invalidate_on_write: false,
        }
    }

    fn references(&self) -> Vec<&str> {
        Vec::new()
    }

    fn references_mut(&mut self) -> Vec<&mut String> {
        Vec::new()
    }

    fn list_price_per_hour(&self) -> f64 {
        super::price::cache(self)
    }
}

/// Where a cache lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacheScope {
    #[default]
    Shared,
    Local,
}

/// How cache hits are decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum CacheModel {
    /// Every get hits with probability `ratio`.
    HitRatio { ratio: f64 },
    /// Gets ask for keys from `0..keys` with Zipf popularity of exponent `zipf_s`
    /// (0 is uniform, ~1 is typical web traffic). The cache holds `capacity` keys, evicts
    /// the least recently used, and an entry expires `ttl_secs` after it was stored.
    Keys {
        keys: u64,
        #[serde(
            default = "defaults::zipf_s",
            skip_serializing_if = "defaults::is_zipf_s"
        )]
        zipf_s: f64,
        capacity: u64,
        #[serde(default, skip_serializing_if = "defaults::is_default")]
        ttl_secs: Option<f64>,
    },
}

/// A database: a primary and optional read replicas, each with its own cores and
/// connection limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    pub id: String,
    /// Cores per node serving queries (a query's cost is CPU/IO time on one core).
    #[serde(
        default = "defaults::db_cores",
        skip_serializing_if = "defaults::is_db_cores"
    )]
    pub cores: u32,
    /// Connections a node accepts; opening one more is refused.
    #[serde(
        default = "defaults::max_connections",
        skip_serializing_if = "defaults::is_max_connections"
    )]
    pub max_connections: u32,
    /// Network round trip per query.
    #[serde(
        default = "defaults::db_network",
        skip_serializing_if = "defaults::is_db_network"
    )]
    pub network_latency: Dist,
    /// Time to open a connection (TCP, TLS, authentication), paid by the requester.
    #[serde(
        default = "defaults::connect_time",
        skip_serializing_if = "defaults::is_connect_time"
    )]
    pub connect_time: Dist,
    /// Database CPU spent setting up a new connection (a backend process, session state).
    #[serde(
        default = "defaults::connect_cpu",
        skip_serializing_if = "defaults::is_connect_cpu"
    )]
    pub connect_cpu: Dist,
    /// The queries the endpoints run, by name.
    pub queries: BTreeMap<String, QuerySpec>,
    /// Read replicas, each a node like the primary; reads are spread over them.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub replicas: u32,
    /// How a read picks its replica.
    #[serde(default, skip_serializing_if = "ReplicaPolicy::is_default")]
    pub replica_policy: ReplicaPolicy,
    /// Time for a write to reach the replicas. A replica read of a key written less than
    /// this long ago returns the old row (a stale read).
    #[serde(
        default = "defaults::no_lag",
        skip_serializing_if = "defaults::is_no_lag"
    )]
    pub replication_lag: Dist,
    /// Reads of a user session that wrote within the last replication lag go to the
    /// primary, so users always see their own writes.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub read_your_writes: bool,
    /// Primaries the key space is split over (each with its own replicas); a query goes
    /// to the shard of its key.
    #[serde(default = "defaults::one", skip_serializing_if = "defaults::is_one")]
    pub shards: u32,
    /// The rows queries touch: which key each query reads or writes decides its shard
    /// and whether a replica read is stale.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub keys: KeySpace,
    /// An external connection pooler (PgBouncer) in front of every node.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub pooler: Pooler,
    /// Price of one node (the primary or a replica) per hour; `None`: estimated from its
    /// cores at [`defaults::DB_PRICE_PER_CORE_HOUR`].
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub price_per_hour: Option<f64>,
}

impl ComponentKind for DatabaseSpec {
    const HELP: &'static str = "A primary with optional read replicas (and replication lag), \
         optionally split into shards by key; each node has cores and a connection limit, each \
         named query a cost, and a connection pooler may sit in front.";

    fn with_id(id: String) -> Self {
        DatabaseSpec {
            id,
            cores: defaults::db_cores(),
            max_connections: defaults::max_connections(),
            network_latency: defaults::db_network(),
            connect_time: defaults::connect_time(),
            connect_cpu: defaults::connect_cpu(),
            queries: [(
                "query".to_owned(),
                QuerySpec {
                    cost: Dist::Exp { mean_ms: 1.0 },
                    unindexed_cost: None,
                    indexed: true,
                },
            )]
            .into(),
            replicas: 0,
            replica_policy: ReplicaPolicy::Random,
            replication_lag: defaults::no_lag(),
            read_your_writes: false,
            shards: 1,
            keys: KeySpace::default(),
            pooler: Pooler::None,
            price_per_hour: None,
        }
    }

    fn references(&self) -> Vec<&str> {
        Vec::new()
    }

    fn references_mut(&mut self) -> Vec<&mut String> {
        Vec::new()
    }

    fn list_price_per_hour(&self) -> f64 {
        super::price::database(self)
    }
}

/// How a read picks the replica it goes to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicaPolicy {
    /// A uniformly random replica.
    #[default]
    Random,
    /// The replica with the fewest queries running or queued (ties at random).
    LeastLoaded,
}

impl ReplicaPolicy {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Keys drawn from `0..keys` with Zipf popularity of exponent `zipf_s` (0: uniform).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpace {
    pub keys: u64,
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub zipf_s: f64,
}

impl Default for KeySpace {
    fn default() -> Self {
        Self {
            keys: 1_000_000,
            zipf_s: 0.0,
        }
    }
}

/// How app connections reach a database node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Pooler {
    /// Straight to the database: each pooled connection is a database connection.
    #[default]
    None,
    /// Through a pooler in transaction mode: apps hold cheap client connections to it,
    /// and each query borrows one of its `server_connections` per node for as long as
    /// it runs. The database sees only those.
    Transaction { server_connections: u32 },
}

/// The cost of one named query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// Time on a database core with the right index in place.
    pub cost: Dist,
    /// Time on a database core without the index (a scan), if an index matters.
    #[serde(default, skip_serializing_if = "defaults::is_default")]
    pub unindexed_cost: Option<Dist>,
    /// Whether the index exists. Only meaningful with `unindexed_cost`.
    #[serde(default = "defaults::yes", skip_serializing_if = "defaults::is_yes")]
    pub indexed: bool,
}

impl QuerySpec {
    /// The cost that applies given the index flag.
    pub fn effective_cost(&self) -> &Dist {
        match (&self.unindexed_cost, self.indexed) {
            (Some(scan), false) => scan,
            _ => &self.cost,
        }
    }
}

/// Defaults of omitted fields, documented in one place.
pub mod defaults {
    use super::Dist;

    /// Whether a field is at its type's default (plain `#[serde(default)]` fields are
    /// left out of a saved file then).
    pub fn is_default<T: Default + PartialEq>(x: &T) -> bool {
        *x == T::default()
    }
    pub fn is_accept_queue(x: &u32) -> bool {
        *x == accept_queue()
    }
    pub fn is_app_cores(x: &u32) -> bool {
        *x == app_cores()
    }
    pub fn is_base_memory(x: &f64) -> bool {
        *x == base_memory()
    }
    pub fn is_breaker_min_calls(x: &u32) -> bool {
        *x == breaker_min_calls()
    }
    pub fn is_breaker_open(x: &f64) -> bool {
        *x == breaker_open()
    }
    pub fn is_breaker_probes(x: &u32) -> bool {
        *x == breaker_probes()
    }
    pub fn is_breaker_threshold(x: &f64) -> bool {
        *x == breaker_threshold()
    }
    pub fn is_breaker_window(x: &f64) -> bool {
        *x == breaker_window()
    }
    pub fn is_burst(x: &f64) -> bool {
        *x == burst()
    }
    pub fn is_cache_network(x: &Dist) -> bool {
        *x == cache_network()
    }
    pub fn is_cache_op(x: &Dist) -> bool {
        *x == cache_op()
    }
    pub fn is_cdn_price(x: &f64) -> bool {
        *x == cdn_price()
    }
    pub fn is_connect_cpu(x: &Dist) -> bool {
        *x == connect_cpu()
    }
    pub fn is_connect_time(x: &Dist) -> bool {
        *x == connect_time()
    }
    pub fn is_consumers(x: &u32) -> bool {
        *x == consumers()
    }
    pub fn is_db_cores(x: &u32) -> bool {
        *x == db_cores()
    }
    pub fn is_db_network(x: &Dist) -> bool {
        *x == db_network()
    }
    pub fn is_edge_latency(x: &Dist) -> bool {
        *x == edge_latency()
    }
    pub fn is_enqueue_latency(x: &Dist) -> bool {
        *x == enqueue_latency()
    }
    pub fn is_job_backoff(x: &f64) -> bool {
        *x == job_backoff()
    }
    pub fn is_job_retries(x: &u32) -> bool {
        *x == job_retries()
    }
    pub fn is_lb_price(x: &f64) -> bool {
        *x == lb_price()
    }
    pub fn is_max_connections(x: &u32) -> bool {
        *x == max_connections()
    }
    pub fn is_no_lag(x: &Dist) -> bool {
        *x == no_lag()
    }
    pub fn is_one(x: &u32) -> bool {
        *x == one()
    }
    pub fn is_queue_capacity(x: &u32) -> bool {
        *x == queue_capacity()
    }
    pub fn is_queue_price(x: &f64) -> bool {
        *x == queue_price()
    }
    pub fn is_scale_cooldown(x: &f64) -> bool {
        *x == scale_cooldown()
    }
    pub fn is_scale_interval(x: &f64) -> bool {
        *x == scale_interval()
    }
    pub fn is_seed(x: &u64) -> bool {
        *x == seed()
    }
    pub fn is_sessions(x: &u32) -> bool {
        *x == sessions()
    }
    pub fn is_startup_secs(x: &f64) -> bool {
        *x == startup_secs()
    }
    pub fn is_yes(x: &bool) -> bool {
        *x == yes()
    }
    pub fn is_zipf_s(x: &f64) -> bool {
        *x == zipf_s()
    }

    pub fn duration() -> f64 {
        60.0
    }
    pub fn is_duration(x: &f64) -> bool {
        *x == duration()
    }
    pub fn warmup() -> f64 {
        10.0
    }
    pub fn is_warmup(x: &f64) -> bool {
        *x == warmup()
    }
    pub fn sample_interval() -> f64 {
        1.0
    }
    pub fn is_sample_interval(x: &f64) -> bool {
        *x == sample_interval()
    }
    pub fn seed() -> u64 {
        1
    }
    pub fn yes() -> bool {
        true
    }
    pub fn one() -> u32 {
        1
    }
    pub fn sessions() -> u32 {
        10_000
    }
    pub fn app_cores() -> u32 {
        2
    }
    pub fn cpu_speed() -> f64 {
        1.0
    }
    pub fn is_cpu_speed(x: &f64) -> bool {
        *x == cpu_speed()
    }
    pub fn accept_queue() -> u32 {
        100
    }
    pub fn base_memory() -> f64 {
        256.0
    }
    pub fn startup_secs() -> f64 {
        5.0
    }
    pub fn burst() -> f64 {
        50.0
    }
    pub fn edge_latency() -> Dist {
        Dist::LogNormal {
            mean_ms: 15.0,
            cv: 0.5,
        }
    }
    pub fn cdn_price() -> f64 {
        0.75
    }
    pub fn breaker_threshold() -> f64 {
        0.5
    }
    pub fn breaker_window() -> f64 {
        10.0
    }
    pub fn breaker_min_calls() -> u32 {
        20
    }
    pub fn breaker_open() -> f64 {
        5.0
    }
    pub fn breaker_probes() -> u32 {
        5
    }
    pub fn consumers() -> u32 {
        10
    }
    pub fn queue_capacity() -> u32 {
        10_000
    }
    pub fn enqueue_latency() -> Dist {
        Dist::Constant { ms: 1.0 }
    }
    pub fn job_retries() -> u32 {
        3
    }
    pub fn job_backoff() -> f64 {
        1000.0
    }
    pub fn queue_price() -> f64 {
        0.05
    }
    pub fn scale_interval() -> f64 {
        15.0
    }
    pub fn scale_cooldown() -> f64 {
        60.0
    }
    /// Estimated price of an app core-hour in dollars (general-purpose cloud VMs).
    pub const APP_PRICE_PER_CORE_HOUR: f64 = 0.048;
    /// Estimated price of a database core-hour (managed databases cost about twice).
    pub const DB_PRICE_PER_CORE_HOUR: f64 = 0.10;
    /// Estimated price of a shared cache server-hour.
    pub const CACHE_PRICE_PER_SERVER_HOUR: f64 = 0.07;
    pub fn lb_price() -> f64 {
        0.025
    }
    pub fn zipf_s() -> f64 {
        1.0
    }
    pub fn cache_op() -> Dist {
        Dist::Constant { ms: 0.05 }
    }
    pub fn cache_network() -> Dist {
        Dist::Constant { ms: 0.2 }
    }
    pub fn no_lag() -> Dist {
        Dist::Constant { ms: 0.0 }
    }
    pub fn db_cores() -> u32 {
        4
    }
    pub fn max_connections() -> u32 {
        100
    }
    pub fn db_network() -> Dist {
        Dist::Constant { ms: 0.3 }
    }
    pub fn connect_time() -> Dist {
        Dist::Constant { ms: 3.0 }
    }
    pub fn connect_cpu() -> Dist {
        Dist::Constant { ms: 1.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list in `with_kinds!` drives the enums and each kind's own impl: a new
    /// component of every kind is of that kind, written under its name in a file, and
    /// has a description and a sane list price.
    #[test]
    fn every_kind_builds_a_component_of_itself_named_as_in_a_file() {
        for kind in Kind::ALL {
            let c = ComponentSpec::new_of_kind(kind, format!("x_{}", kind.name()));
            assert_eq!(c.kind(), kind);
            assert_eq!(c.id(), format!("x_{}", kind.name()));
            let ron = ron::to_string(&c).expect("serialises");
            assert!(ron.starts_with(kind.name()), "{ron}");
            assert_eq!(ron::from_str::<ComponentSpec>(&ron).expect("parses"), c);
            assert!(ComponentSpec::kind_help(kind).ends_with('.'));
            let price = for_each_spec!(&c, |c, _| c.list_price_per_hour());
            assert!(price.is_finite() && price >= 0.0, "{kind}: {price}");
        }
    }

    /// Renaming and deleting go through the same references as the topology reads: a
    /// reference renamed is what `references` then names, and deleting what it refers
    /// to leaves none of them pointing at it.
    #[test]
    fn renaming_and_forgetting_reach_every_reference_of_every_kind() {
        for kind in Kind::ALL {
            let mut c = ComponentSpec::new_of_kind(kind, "c".into());
            // A list of references (backends, pools) starts empty: give it two.
            match &mut c {
                ComponentSpec::LoadBalancer(lb) => lb.backends = vec!["a".into(), "b".into()],
                ComponentSpec::App(a) => {
                    let pool = |db: &str| PoolSpec {
                        db: db.into(),
                        mode: PoolMode::default(),
                    };
                    a.pools = vec![pool("a"), pool("b")];
                }
                _ => {}
            }
            let n = c.references().len();
            for r in c.references_mut() {
                *r = "gone".into();
            }
            assert_eq!(c.references(), vec!["gone"; n], "{kind}");
            c.forget("gone");
            // A single reference is left empty; a list's entries leave it.
            let left = if matches!(kind, Kind::LoadBalancer | Kind::App) {
                vec![]
            } else {
                vec![""; n]
            };
            assert_eq!(c.references(), left, "{kind}");
            assert!(
                !c.references().contains(&"gone"),
                "{kind}: {:?}",
                c.references()
            );
        }
    }
}
