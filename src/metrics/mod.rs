//! Measurements: counters, time-weighted levels, latency histograms, time series and the
//! end-of-run summary. Pure data; the engine feeds it, the CLI and the window read it.

pub mod breakdown;
pub mod hist;
pub mod level;
pub mod series;
pub mod summary;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::model::Kind;

use breakdown::{Breakdown, PhaseClock};
use hist::{ChartLatencies, LatencyHistogram};
use level::{Counter, DurationSum};

pub use series::SeriesSet;
pub use summary::Summary;

/// A component at a glance, for the canvas: how full it is, its key figures and the
/// rate of work flowing into it, over the window's latest chart points. Numbers only:
/// the window words them (`ui::glance`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Glance {
    pub id: String,
    pub kind: Kind,
    /// The fullest of its resources, 0–1 (utilisation of cores, threads, connections …).
    pub saturation: f64,
    /// Which resource that is (`cpu`, `worker threads`, `pool(db)`, `connections` …).
    pub fullest: String,
    /// Its key figures, by kind.
    pub headline: Headline,
    /// Requests (or gets, or queries) per second arriving.
    pub rate_per_sec: f64,
    /// Share of those that failed here.
    pub error_share: f64,
    /// What faults have broken here right now (none: nothing is).
    pub broken: Vec<Broken>,
}

/// A component's key figures at a glance, by kind (over the window, or now for states
/// and counts).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Headline {
    /// A component the run does not have (added since it started).
    NotRunning,
    Client {
        sent_per_sec: f64,
    },
    Cdn {
        /// Share of its arrivals answered at the edge.
        edge_share: f64,
    },
    Autoscaler {
        /// The tier's instances now, and how many the autoscaler wants.
        instances: f64,
        desired: f64,
        /// Its metric against its target.
        of_target: f64,
    },
    CircuitBreaker {
        state: CircuitState,
        cut_per_sec: f64,
    },
    Queue {
        depth: f64,
        dead_letters: f64,
    },
    RateLimiter {
        passed_per_sec: f64,
        limit_per_sec: f64,
    },
    LoadBalancer {
        routed_per_sec: f64,
        policy: crate::model::Policy,
    },
    App {
        /// CPU utilisation, 0–1 (what colours the node unless something is fuller).
        cpu: f64,
        instances: f64,
        accept_queue: f64,
    },
    Cache {
        hit_ratio: f64,
    },
    Database {
        /// Its busiest node's CPU utilisation, 0–1.
        cpu: f64,
        connections: f64,
        stale_reads_per_sec: f64,
    },
}

/// A circuit breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CircuitState {
    Closed,
    HalfOpen,
    Open,
}

/// Something a fault has broken at a component, while it lasts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Broken {
    /// A database's primary is down (of `shard`, when the database is sharded).
    PrimaryDown { shard: Option<u32>, secs_left: f64 },
    /// Its network answers `extra_ms` late.
    LatencySpike { extra_ms: f64, secs_left: f64 },
    /// An app tier is cut off from `to` (or its packets to it are dropped).
    Partition {
        to: String,
        drop: bool,
        secs_left: f64,
    },
}

impl Glance {
    /// Component `id` of `kind` with nothing measured yet.
    pub fn new(id: String, kind: Kind) -> Self {
        Self {
            id,
            kind,
            saturation: 0.0,
            fullest: String::new(),
            headline: Headline::NotRunning,
            rate_per_sec: 0.0,
            error_share: 0.0,
            broken: Vec::new(),
        }
    }

    /// Takes `resource` at `utilisation` as the fullest if it is fuller than the one so
    /// far (or the first).
    pub fn consider(&mut self, resource: impl Into<String>, utilisation: f64) {
        if utilisation > self.saturation || self.fullest.is_empty() {
            self.saturation = utilisation;
            self.fullest = resource.into();
        }
    }
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCause {
    /// The instance's accept queue was full.
    Rejected,
    /// Waited in the accept queue longer than the queue timeout.
    QueueTimeout,
    /// Waited for a pooled database connection longer than the acquire timeout.
    PoolTimeout,
    /// The database refused a new connection: it was at `max_connections`.
    DbRefused,
    /// The client gave up waiting (the server may still be working on it).
    ClientTimeout,
    /// A rate limiter had no token for it.
    RateLimited,
    /// The load balancer shed it: too many requests were in flight.
    Shed,
    /// The instance holding it crashed.
    Crashed,
    /// Every instance of the tier was down.
    NoInstance,
    /// A circuit breaker was open: the call failed at once without being sent.
    CircuitOpen,
    /// A service it called answered with an error.
    Downstream,
    /// The job queue was full when it tried to enqueue a job.
    QueueFull,
    /// Its instance ran out of memory and crashed.
    OutOfMemory,
    /// The database node it needed was down (a primary before failover completed).
    DbDown,
    /// A network partition cut the instance off from what it called.
    Partitioned,
    /// A service it called did not answer within the call's timeout.
    CallTimeout,
}

impl ErrorCause {
    pub const ALL: [ErrorCause; 16] = [
        Self::Rejected,
        Self::QueueTimeout,
        Self::PoolTimeout,
        Self::DbRefused,
        Self::ClientTimeout,
        Self::RateLimited,
        Self::Shed,
        Self::Crashed,
        Self::NoInstance,
        Self::CircuitOpen,
        Self::Downstream,
        Self::QueueFull,
        Self::OutOfMemory,
        Self::DbDown,
        Self::Partitioned,
        Self::CallTimeout,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::QueueTimeout => "queue_timeout",
            Self::PoolTimeout => "pool_timeout",
            Self::DbRefused => "db_refused",
            Self::ClientTimeout => "client_timeout",
            Self::RateLimited => "rate_limited",
            Self::Shed => "shed",
            Self::Crashed => "crashed",
            Self::NoInstance => "no_instance",
            Self::CircuitOpen => "circuit_open",
            Self::Downstream => "downstream",
            Self::QueueFull => "queue_full",
            Self::OutOfMemory => "out_of_memory",
            Self::DbDown => "db_down",
            Self::Partitioned => "partitioned",
            Self::CallTimeout => "call_timeout",
        }
    }

    /// Plain-words explanation, for reports and tooltips.
    pub fn explain(self) -> &'static str {
        match self {
            Self::Rejected => "the instance's accept queue was full",
            Self::QueueTimeout => "waited too long for a worker before starting",
            Self::PoolTimeout => "waited too long for a database connection from the pool",
            Self::DbRefused => "the database was at max_connections and refused a new one",
            Self::ClientTimeout => "the client stopped waiting for the answer",
            Self::RateLimited => "a rate limiter had no token for it",
            Self::Shed => "the load balancer shed it: too many requests were in flight",
            Self::Crashed => "the instance holding it crashed",
            Self::NoInstance => "every instance of the tier was down",
            Self::CircuitOpen => "a circuit breaker was open and failed the call at once",
            Self::Downstream => "a service it called answered with an error",
            Self::QueueFull => "the job queue was full, so the job could not be enqueued",
            Self::OutOfMemory => "its instance ran out of memory and crashed",
            Self::DbDown => "the database primary was down, before failover completed",
            Self::Partitioned => "a network partition cut its instance off from a dependency",
            Self::CallTimeout => "a service it called did not answer within the call's timeout",
        }
    }
}

/// Latencies are recorded in microseconds, from 1 µs to one day, to 3 significant digits.
pub const HIST_MAX_MICROS: u64 = 86_400_000_000;

pub fn new_histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_MICROS, sigfig)
        .unwrap_or_else(|e| unreachable!("constant histogram bounds are valid: {e}"))
}

/// Request outcomes seen by clients, for one endpoint (the system-wide figures are the
/// endpoints' merged, so each response is recorded once).
#[derive(Clone)]
pub struct OutcomeMeter {
    /// Attempts sent (first attempts and retries): the load offered to the system.
    pub offered: Counter,
    /// Users' requests (first attempts only).
    pub user_requests: Counter,
    /// Failed attempts that the client tried again.
    pub retries: Counter,
    /// Users' requests that failed in the end (after any retries).
    pub user_failures: Counter,
    pub ok: Counter,
    pub errors: [Counter; ErrorCause::ALL.len()],
    /// Latency of successful responses since the warm-up.
    pub latency: LatencyHistogram,
    /// Latency of successful responses since the last chart sample, kept only while
    /// `charting` (a run recording chart series).
    pub interval: ChartLatencies,
    pub charting: bool,
    pub latency_sum: DurationSum,
    /// Where the successful responses' time went, by phase.
    pub breakdown: Breakdown,
}

impl Default for OutcomeMeter {
    fn default() -> Self {
        Self {
            offered: Counter::default(),
            user_requests: Counter::default(),
            retries: Counter::default(),
            user_failures: Counter::default(),
            ok: Counter::default(),
            errors: [Counter::default(); ErrorCause::ALL.len()],
            latency: LatencyHistogram::default(),
            interval: ChartLatencies::default(),
            charting: false,
            latency_sum: DurationSum::default(),
            breakdown: Breakdown::default(),
        }
    }
}

impl OutcomeMeter {
    /// A successful response answered at `now_ns` after `latency_ns` (since the user's
    /// first attempt): its request's clock and the `retries_ns` before this attempt go
    /// into the breakdown.
    #[inline]
    pub fn record_ok(&mut self, latency_ns: u64, clock: &PhaseClock, now_ns: u64, retries_ns: u64) {
        self.breakdown.record(clock, now_ns, retries_ns);
        self.ok.inc();
        if self.charting {
            self.interval.record(latency_ns / 1_000);
        }
        // Everything recorded before the warm-up ends is reset by `mark_warmup`.
        self.latency.record(latency_ns / 1_000);
        self.latency_sum.record(latency_ns);
    }

    #[inline]
    pub fn record_error(&mut self, cause: ErrorCause) {
        self.errors[cause as usize].inc();
    }

    /// Adds another endpoint's outcomes (counts and histograms) into this one.
    pub fn absorb(&mut self, other: &OutcomeMeter) {
        self.offered.absorb(&other.offered);
        self.user_requests.absorb(&other.user_requests);
        self.retries.absorb(&other.retries);
        self.user_failures.absorb(&other.user_failures);
        self.ok.absorb(&other.ok);
        for (a, b) in self.errors.iter_mut().zip(&other.errors) {
            a.absorb(b);
        }
        self.latency.add(&other.latency);
        self.interval.add(&other.interval);
        self.latency_sum.absorb(&other.latency_sum);
        self.breakdown.absorb(&other.breakdown);
    }

    pub fn mark_warmup(&mut self) {
        self.offered.mark_warmup();
        self.user_requests.mark_warmup();
        self.retries.mark_warmup();
        self.user_failures.mark_warmup();
        self.ok.mark_warmup();
        for e in &mut self.errors {
            e.mark_warmup();
        }
        self.latency.reset();
        self.latency_sum.mark_warmup();
        self.breakdown.mark_warmup();
    }
}
