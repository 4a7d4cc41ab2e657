//! The end-of-run summary: plain serialisable data for the CLI (table, JSON, CSV), the
//! window and the tests. Maps are ordered, so the same run always serialises to the same
//! bytes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::Kind;

/// Everything a run measured after its warm-up.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    /// Simulated time covered, in seconds.
    pub simulated_secs: f64,
    /// Simulated time measured (after the warm-up), in seconds.
    pub measured_secs: f64,
    /// Events processed.
    pub events: u64,
    /// All endpoints together.
    pub overall: Outcomes,
    pub endpoints: BTreeMap<String, Outcomes>,
    /// Key figures of each component, in scenario order.
    pub components: Vec<ComponentReport>,
    /// Where the time of the requests each app tier served went.
    pub tiers: BTreeMap<String, TierTime>,
    /// Every queueing station with its Little's-law self-check.
    pub stations: Vec<StationReport>,
    /// Database queries, most total time first.
    pub queries: Vec<QueryReport>,
    /// Resources ranked by saturation, fullest first.
    pub saturation: Vec<Saturation>,
    /// What the topology costs.
    pub cost: Cost,
}

/// The price of the topology, averaged over the measured time.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cost {
    /// Dollars per hour.
    pub per_hour: f64,
    /// Dollars per million requests served.
    pub per_million_requests: f64,
}

/// What clients experienced.
#[derive(Clone, Debug, Serialize)]
pub struct Outcomes {
    /// Attempts sent (first attempts and retries): the load on the system.
    pub offered: u64,
    /// Users' requests (first attempts).
    pub user_requests: u64,
    /// Failed attempts the client tried again.
    pub retries: u64,
    /// Attempts per user request: above 1 when retries multiply the load.
    pub amplification: f64,
    /// Users' requests that failed in the end, after any retries.
    pub user_failures: u64,
    /// `user_failures` ÷ users' requests answered (ok or failed in the end).
    pub user_error_rate: f64,
    /// Successful responses.
    pub ok: u64,
    /// Failed attempts by cause.
    pub errors: BTreeMap<String, u64>,
    pub offered_per_sec: f64,
    pub throughput_per_sec: f64,
    /// Failed attempts ÷ (ok + failed attempts).
    pub error_rate: f64,
    /// Latency of successful responses.
    pub latency_ms: Latency,
    /// Where the mean successful response's time went, in milliseconds by phase
    /// (`cpu`, `pool_wait`, `db_queue` … see `metrics::breakdown::Phase`); the parts add
    /// up to `latency_ms.mean`.
    pub breakdown_ms: BTreeMap<String, f64>,
}

/// Latency statistics in milliseconds (percentiles from an HDR histogram, 3 significant
/// digits; the mean is exact).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// The requests one app tier served successfully, whoever sent them (users, calling
/// services, queues): from being sent to ending at the tier.
#[derive(Clone, Debug, Serialize)]
pub struct TierTime {
    pub served_per_sec: f64,
    /// Of those, users' requests (not calls from other services or queued jobs).
    pub user_requests_per_sec: f64,
    pub mean_ms: f64,
    /// The mean request's time by phase, in milliseconds (adds up to `mean_ms`).
    pub breakdown_ms: BTreeMap<String, f64>,
}

/// A component's key figures, by name (`cpu_util`, `hit_ratio` …).
#[derive(Clone, Debug, Serialize)]
pub struct ComponentReport {
    pub id: String,
    pub kind: Kind,
    pub figures: BTreeMap<String, f64>,
}

impl ComponentReport {
    pub fn figure(&self, name: &str) -> f64 {
        self.figures.get(name).copied().unwrap_or(f64::NAN)
    }
}

/// One queueing station: a set of servers with a FIFO line in front.
#[derive(Clone, Debug, Serialize)]
pub struct StationReport {
    /// e.g. `app#0.cpu`, `app#0.workers`, `app#0.pool(main)`, `main.cpu`.
    pub name: String,
    pub servers: u32,
    /// Busy servers ÷ servers, time-averaged.
    pub utilization: f64,
    /// Time-averaged number waiting (not in service).
    pub mean_queue: f64,
    /// L: time-averaged number present (waiting + in service).
    pub mean_in_system: f64,
    /// λ: departures per second.
    pub throughput_per_sec: f64,
    /// W: mean time present, in milliseconds.
    pub mean_sojourn_ms: f64,
    /// Mean time waiting before service, in milliseconds.
    pub mean_wait_ms: f64,
    /// Fraction of arrivals that found every server busy and waited.
    pub p_wait: f64,
    /// |L − λW| ÷ max(L, λW): Little's law holds when this is near zero.
    pub littles_law_gap: f64,
    /// Queueing theory at the measured load, beside the simulated figures (stations of
    /// cores and cache servers while stable; none for held resources such as worker
    /// threads and pool connections, whose holding time depends on what they wait for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theory: Option<StationTheory>,
}

/// What queueing theory predicts for one copy of a station (one instance's cores) fed
/// at the measured rate with the measured service and arrival variability.
#[derive(Clone, Debug, Serialize)]
pub struct StationTheory {
    /// Kendall's notation and formula, e.g. `M/M/4 (Erlang C)`, `G/D/2 (Allen–Cunneen,
    /// approximate)`.
    pub model: String,
    /// The formula is exact for that model; otherwise an approximation.
    pub exact: bool,
    /// Copies sharing the traffic (instances up, time-averaged).
    pub copies: f64,
    /// Offered load per server, ρ = λS/c.
    pub rho: f64,
    /// Squared coefficients of variation of interarrival and service times (1 for
    /// Poisson arrivals and exponential service, 0 for constant).
    pub arrival_scv: f64,
    pub service_scv: f64,
    /// Mean service time, in milliseconds.
    pub service_ms: f64,
    /// Predicted mean wait and response (wait + service), in milliseconds.
    pub wait_ms: f64,
    pub response_ms: f64,
}

/// Time spent by one named query.
#[derive(Clone, Debug, Serialize)]
pub struct QueryReport {
    pub db: String,
    pub query: String,
    pub count: u64,
    pub total_secs: f64,
    pub mean_ms: f64,
}

/// What kind of resource is saturated, which says what kind of lever helps. Written
/// `compute`, `concurrency`, `queue` or `limit` in reports and JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// CPU: adding cores or instances helps.
    Compute,
    /// A pool of threads or connections: waiting, not working.
    Concurrency,
    /// A queue's consumers.
    Queue,
    /// A rate limit: its tokens run out.
    Limit,
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Compute => "compute",
            Self::Concurrency => "concurrency",
            Self::Queue => "queue",
            Self::Limit => "limit",
        })
    }
}

/// How full one resource is.
#[derive(Clone, Debug, Serialize)]
pub struct Saturation {
    /// The component it belongs to.
    pub component: String,
    /// e.g. `app cpu`, `app workers`, `app pool(main)`, `main cpu`, `main connections`.
    pub resource: String,
    /// What kind of resource it is (CPU, a pool, a queue's consumers, a rate limit).
    pub kind: ResourceKind,
    /// Fraction in use, time-averaged (0–1).
    pub utilization: f64,
}

impl Summary {
    pub fn component(&self, id: &str) -> Option<&ComponentReport> {
        self.components.iter().find(|c| c.id == id)
    }

    pub fn station(&self, name: &str) -> Option<&StationReport> {
        self.stations.iter().find(|s| s.name == name)
    }
}
