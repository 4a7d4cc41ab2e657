//! Runtime state of each component kind. The request flow that moves requests between
//! them lives in [`super::world`]; these are the resources and their statistics.

use std::collections::VecDeque;

use rand_distr::Zipf;

use crate::metrics::breakdown::{Breakdown, Phase};
use crate::metrics::level::{Counter, DurationSum, Level, Moments, Occupancy};
use crate::model::{CacheScope, Policy};
use crate::sim::{EventId, SimDuration, SimRng, SimTime};

use super::arrivals::ArrivalProcess;
use super::lru::Lru;
use super::sampler::Sampler;

/// "No index" marker for optional `u32` indices.
pub const NONE: u32 = u32::MAX;

/// The meters a component keeps, marked at the end of the warm-up: summaries count from
/// the mark. Each kind lists its own meters here, beside its state, once; a meter left
/// out would count the warm-up, which `tests/integration/determinism.rs` catches.
pub trait Warm {
    fn mark_warmup(&mut self, now: SimTime);
}

/// A live request: slab index plus generation, so stale events for a finished request
/// are recognised and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReqRef {
    pub idx: u32,
    pub generation: u32,
}

/// Where a client (or a service call) sends requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Cdn(u32),
    Breaker(u32),
    Limiter(u32),
    LoadBalancer(u32),
    Tier(u32),
}

/// Who is waiting for a request's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A user of a client (the client's meters and retries apply).
    Client,
    /// A request running a `Call` step: it resumes with the outcome.
    Call { parent: ReqRef },
    /// A queue's worker ran it as a job: the queue retries or dead-letters it.
    Job { queue: u32 },
}

/// The state of a circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// Failing calls at once until the given time.
    Open {
        until: SimTime,
    },
    /// Letting probes through: `sent` so far, `ok` of them answered without error.
    HalfOpen {
        sent: u32,
        ok: u32,
    },
}

impl BreakerState {
    /// For charts: 0 closed, 1 half-open, 2 open.
    pub fn level(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen { .. } => 1.0,
            Self::Open { .. } => 2.0,
        }
    }
}

/// A circuit breaker in front of a service.
pub struct Breaker {
    pub id: String,
    pub target: Target,
    pub spec: crate::model::CircuitBreakerSpec,
    pub state: BreakerState,
    /// Sliding window: `(calls, errors)` per tenth of the window, a ring indexed by
    /// the bucket number (time ÷ bucket length) modulo its length.
    pub buckets: [(u32, u32); BREAKER_BUCKETS],
    /// The bucket number of the latest outcome recorded.
    pub bucket_at: u64,
    pub calls: Counter,
    pub failures: Counter,
    pub short_circuited: Counter,
    pub opened: Counter,
    /// 1 while open, for the share of time it was open.
    pub open_level: Level,
}

impl Warm for Breaker {
    fn mark_warmup(&mut self, now: SimTime) {
        self.calls.mark_warmup();
        self.failures.mark_warmup();
        self.short_circuited.mark_warmup();
        self.opened.mark_warmup();
        self.open_level.mark_warmup(now);
    }
}

/// Writes still replicating that a database remembers at most (keys and sessions
/// together): a day of replication lag at a high write rate would otherwise grow memory
/// without bound. Beyond it, further writes are not tracked (and counted as such).
pub const MAX_REMEMBERED_WRITES: usize = crate::model::limits::MAX_REMEMBERED_WRITES as usize;

/// Sessions remembered per tier at most (beyond, new sessions are not tracked), so a
/// changed session count can never grow memory without bound.
pub const MAX_TRACKED_SESSIONS: usize = crate::model::limits::MAX_IN_MEMORY_SESSIONS as usize;

/// Buckets of a circuit breaker's sliding window.
pub const BREAKER_BUCKETS: usize = 10;

impl Breaker {
    /// Whether a call may go through now (a half-open breaker counts it as a probe).
    pub fn admit(&mut self, now: SimTime) -> bool {
        if let BreakerState::Open { until } = self.state {
            if now < until {
                self.short_circuited.inc();
                return false;
            }
            self.state = BreakerState::HalfOpen { sent: 0, ok: 0 };
            self.open_level.set(now, 0);
        }
        if let BreakerState::HalfOpen { sent, ok } = self.state {
            if sent >= self.spec.half_open_probes {
                self.short_circuited.inc();
                return false;
            }
            self.state = BreakerState::HalfOpen { sent: sent + 1, ok };
        }
        self.calls.inc();
        true
    }

    /// Whether [`Breaker::admit`] would let a call through now (without counting it).
    pub fn would_admit(&self, now: SimTime) -> bool {
        match self.state {
            BreakerState::Open { until } => now >= until,
            BreakerState::HalfOpen { sent, .. } => sent < self.spec.half_open_probes,
            BreakerState::Closed => true,
        }
    }

    /// The outcome of a call it let through.
    pub fn record(&mut self, ok: bool, now: SimTime) {
        if !ok {
            self.failures.inc();
        }
        match self.state {
            BreakerState::Closed => {
                let (calls, errors) = self.slide(now, !ok);
                if calls >= self.spec.min_calls
                    && f64::from(errors) >= self.spec.error_threshold * f64::from(calls)
                {
                    self.open(now);
                }
            }
            BreakerState::HalfOpen { sent, ok: good } => {
                if !ok {
                    self.open(now);
                } else if good + 1 >= self.spec.half_open_probes {
                    self.state = BreakerState::Closed;
                    self.buckets = [(0, 0); BREAKER_BUCKETS];
                } else {
                    self.state = BreakerState::HalfOpen { sent, ok: good + 1 };
                }
            }
            // Answers to calls sent before it opened change nothing.
            BreakerState::Open { .. } => {}
        }
    }

    /// Records one outcome in the sliding window; returns the window's calls and errors.
    fn slide(&mut self, now: SimTime, error: bool) -> (u32, u32) {
        let len =
            (SimDuration::from_secs_f64(self.spec.window_secs).0 / BREAKER_BUCKETS as u64).max(1);
        let at = now.0 / len;
        // Clear the buckets that slid out since the last outcome (all of them after a
        // quiet window).
        let stale = at
            .saturating_sub(self.bucket_at)
            .min(BREAKER_BUCKETS as u64);
        for k in 1..=stale {
            self.buckets[((self.bucket_at + k) % BREAKER_BUCKETS as u64) as usize] = (0, 0);
        }
        self.bucket_at = self.bucket_at.max(at);
        let b = &mut self.buckets[(at % BREAKER_BUCKETS as u64) as usize];
        b.0 += 1;
        b.1 += u32::from(error);
        self.buckets
            .iter()
            .fold((0, 0), |(c, e), (bc, be)| (c + bc, e + be))
    }

    fn open(&mut self, now: SimTime) {
        self.opened.inc();
        self.open_level.set(now, 1);
        self.state = BreakerState::Open {
            until: now + SimDuration::from_secs_f64(self.spec.open_secs),
        };
    }
}

/// A job waiting in a queue (or for its retry).
#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub endpoint: u16,
    /// 0 for the first run, then one per retry.
    pub attempt: u8,
    pub enqueued_at: SimTime,
    pub session: u32,
}

/// A broker queue and its consumers.
pub struct JobQueue {
    pub id: String,
    /// The tier whose instances run the jobs.
    pub tier: u32,
    pub spec: crate::model::QueueSpec,
    pub latency: Sampler,
    pub rng: SimRng,
    pub waiting: VecDeque<Job>,
    /// Jobs waiting for a retry, by slot (the `JobRetry` event carries the slot).
    pub retrying: Vec<Job>,
    pub free_retry_slots: Vec<u32>,
    /// Jobs waiting for a retry now (they count against the capacity).
    pub retry_pending: u32,
    pub depth: Level,
    /// Jobs running, against the consumers.
    pub running: Occupancy,
    pub dispatch_armed: bool,
    pub enqueued: Counter,
    pub refused: Counter,
    pub completed: Counter,
    pub failed_runs: Counter,
    pub dead_letters: Counter,
    /// Enqueue to completion of jobs that succeeded: the mean, and the distribution in
    /// microseconds for percentiles.
    pub latency_sum: DurationSum,
    pub latency_hist: hdrhistogram::Histogram<u64>,
}

impl Warm for JobQueue {
    fn mark_warmup(&mut self, now: SimTime) {
        self.depth.mark_warmup(now);
        self.running.mark_warmup(now);
        self.enqueued.mark_warmup();
        self.refused.mark_warmup();
        self.completed.mark_warmup();
        self.failed_runs.mark_warmup();
        self.dead_letters.mark_warmup();
        self.latency_sum.mark_warmup();
        self.latency_hist.reset();
    }
}

impl JobQueue {
    /// Jobs the broker holds: waiting to run and waiting to be retried.
    pub fn held(&self) -> u32 {
        self.waiting.len() as u32 + self.retry_pending
    }

    /// The wait before retry number `attempt` (1-based): exponential with full jitter.
    pub fn backoff(&mut self, attempt: u8) -> SimDuration {
        let exp = self.spec.backoff_ms * 2f64.powi(i32::from(attempt.saturating_sub(1)).min(30));
        SimDuration::from_millis_f64(
            self.rng.uniform() * exp.min(crate::model::limits::MAX_DURATION_MS),
        )
    }
}

/// A CDN: answers a share of requests at the edge.
pub struct Cdn {
    pub id: String,
    pub target: Target,
    pub edge_share: f64,
    pub latency: Sampler,
    pub rng: SimRng,
    pub arrivals: Counter,
    pub edge: Counter,
}

impl Warm for Cdn {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.arrivals.mark_warmup();
        self.edge.mark_warmup();
    }
}

/// Scales an app tier toward a target metric.
pub struct Autoscaler {
    pub id: String,
    pub tier: u32,
    pub spec: crate::model::AutoscalerSpec,
    /// Totals at the previous evaluation: busy core·ns, capacity core·ns, arrivals, queue
    /// requests·ns; the metric is their growth over the interval.
    pub prev: (u128, u128, u64, u128),
    /// When it last evaluated.
    pub last_tick: SimTime,
    pub last_change: Option<SimTime>,
    /// The instance count it asked for last.
    pub desired: u32,
    /// The metric at the last evaluation.
    pub measured: f64,
    pub changes: Counter,
}

impl Warm for Autoscaler {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.changes.mark_warmup();
    }
}

/// A token bucket in front of a load balancer or a tier.
pub struct RateLimiter {
    pub id: String,
    pub target: Target,
    pub rate_per_sec: f64,
    pub burst: f64,
    pub per_client: bool,
    /// Tokens of the shared bucket (index 0) and of each client's (client index + 1),
    /// and when each was last refilled.
    pub buckets: Vec<(f64, SimTime)>,
    /// Tokens the buckets were given since the start (refills, counted before the cap
    /// at `burst` throws the surplus away), with marks at the warm-up and the last
    /// sample: what the limiter could have admitted, for its utilisation.
    pub supplied: f64,
    pub supplied_at_warmup: f64,
    pub supplied_at_sample: f64,
    pub arrivals: Counter,
    pub limited: Counter,
}

impl Warm for RateLimiter {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.arrivals.mark_warmup();
        self.limited.mark_warmup();
        self.supplied_at_warmup = self.supplied;
    }
}

impl RateLimiter {
    /// Admitted over what could have been: at most the tokens its buckets held at the
    /// start of the window (a full burst each) plus those they were given since.
    pub fn utilization(&self, admitted: f64, supplied: f64) -> f64 {
        let capacity = supplied + self.burst * self.buckets.len().max(1) as f64;
        if capacity > 0.0 {
            admitted / capacity
        } else {
            0.0
        }
    }

    /// Takes a token for a request from `client`, if the bucket has one.
    pub fn admit(&mut self, client: u32, now: SimTime) -> bool {
        // Bucket 0 is the shared one, and serves calls and jobs that no client sent.
        let k = if self.per_client && client != NONE {
            client as usize + 1
        } else {
            0
        };
        if self.buckets.len() <= k {
            self.buckets.resize(k + 1, (self.burst, now));
        }
        let (tokens, last) = &mut self.buckets[k];
        let refill = now.since(*last).as_secs_f64() * self.rate_per_sec;
        self.supplied += refill;
        *tokens = (*tokens + refill).min(self.burst);
        *last = now;
        self.arrivals.inc();
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            self.limited.inc();
            false
        }
    }
}

/// A population of users.
pub struct Client {
    pub id: String,
    pub rng: SimRng,
    pub target: Target,
    /// Open-loop arrivals; `None` for closed-loop users.
    pub process: Option<ArrivalProcess>,
    /// The scheduled next open-loop arrival, cancelled when the arrival process changes.
    pub next_arrival: Option<EventId>,
    /// Closed-loop think time and the number of users who should be sending.
    pub think: Option<(Sampler, u32)>,
    /// Closed-loop users that are thinking or waiting for an answer (by user number).
    /// A user numbered at or above the target count stops at its next turn.
    pub user_running: Vec<bool>,
    /// Endpoints with cumulative weights.
    pub mix: Vec<(u16, f64)>,
    pub timeout: Option<SimDuration>,
    pub sessions: u32,
    /// Whether requests need a session key (the target balances by hash).
    pub needs_session: bool,
    /// Outstanding requests' deadlines, in send order (the timeout is the same for all,
    /// so deadlines are ordered too): one armed timer serves them all.
    pub deadlines: VecDeque<(SimTime, ReqRef)>,
    pub deadline_armed: bool,
    /// Drop answered entries from `deadlines` when it grows past this: they would
    /// otherwise linger behind an older unanswered one until their deadline, so the
    /// list would grow with rate × timeout instead of with the requests outstanding.
    pub deadlines_compact_at: usize,
    pub sent: Counter,
    pub retry: crate::model::Retry,
    pub retry_budget: Option<f64>,
    /// Retries the budget still allows (grows by `retry_budget` per first attempt).
    pub retry_tokens: f64,
    /// Retries waiting for their delay, by slot (the `Retry` event carries the slot).
    pub pending_retries: Vec<PendingRetry>,
    pub free_retry_slots: Vec<u32>,
}

impl Warm for Client {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.sent.mark_warmup();
    }
}

/// A retry waiting to be sent.
#[derive(Clone, Copy, Debug)]
pub struct PendingRetry {
    pub user: u32,
    pub session: u32,
    pub endpoint: u16,
    /// The number of this attempt (1 for the first retry).
    pub attempt: u8,
    /// When the user's first attempt was sent: latency counts from there.
    pub first_sent: SimTime,
}

/// Retries the budget keeps in reserve (and starts with).
pub const RETRY_RESERVE: f64 = 10.0;

impl Client {
    /// The wait before retry number `attempt` (1-based), or `None` if the policy or the
    /// budget allows no more. Takes a token from the budget when it allows one.
    pub fn retry_delay(&mut self, attempt: u8) -> Option<SimDuration> {
        use crate::model::Retry;
        let delay_ms = match self.retry {
            Retry::None => return None,
            Retry::Immediate { .. } => 0.0,
            Retry::Fixed { delay_ms, .. } => delay_ms,
            Retry::Backoff {
                base_ms,
                max_ms,
                jitter,
                ..
            } => {
                let exp = base_ms * 2f64.powi(i32::from(attempt.saturating_sub(1)));
                let wait = exp.min(max_ms);
                if jitter {
                    self.rng.uniform() * wait
                } else {
                    wait
                }
            }
        };
        if u32::from(attempt) > self.retry.max_retries() {
            return None;
        }
        if self.retry_budget.is_some() {
            if self.retry_tokens < 1.0 {
                return None;
            }
            self.retry_tokens -= 1.0;
        }
        Some(SimDuration::from_millis_f64(delay_ms))
    }

    /// A first attempt earns the budget its share of a retry.
    pub fn earn_retry_tokens(&mut self) {
        if let Some(share) = self.retry_budget {
            self.retry_tokens = (self.retry_tokens + share).min(RETRY_RESERVE.max(100.0 * share));
        }
    }
}

impl Client {
    /// Picks an endpoint by weight.
    pub fn pick_endpoint(&mut self) -> u16 {
        if self.mix.len() == 1 {
            return self.mix[0].0;
        }
        let total = self.mix.last().map_or(0.0, |m| m.1);
        let x = self.rng.uniform() * total;
        self.mix
            .iter()
            .find(|(_, cum)| x < *cum)
            .or(self.mix.last())
            .map_or(0, |m| m.0)
    }
}

/// A load balancer over the instances of its backend tiers.
pub struct LoadBalancer {
    pub id: String,
    pub policy: Policy,
    pub tiers: Vec<u32>,
    pub rng: SimRng,
    pub rr_next: usize,
    pub routed: Counter,
    /// Requests routed through it and not finished yet.
    pub in_flight: u32,
    /// Load shedding: at this many in flight, new requests are rejected.
    pub max_in_flight: Option<u32>,
    pub shed: Counter,
}

impl Warm for LoadBalancer {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.routed.mark_warmup();
        self.shed.mark_warmup();
    }
}

/// An app tier: a group of identical instances.
pub struct Tier {
    pub id: String,
    /// Every instance the tier has had, in creation order (statistics cover them all).
    pub instances: Vec<u32>,
    /// The instances that take traffic, in the order they came up.
    pub active: Vec<u32>,
    /// Instances asked for: active plus starting.
    pub wanted: u32,
    pub rr_next: usize,
    /// Thread-per-request (`true`) or async event loop.
    pub threads: bool,
    /// Memory an instance has for requests (its memory less the process's own), in KB;
    /// `None`: not modelled.
    pub memory_kb: Option<u64>,
    /// Sessions live in instance memory: which instance holds each session.
    pub in_memory_sessions: bool,
    pub session_owner: rustc_hash::FxHashMap<u32, u32>,
    /// Users logged out: their session was on an instance that died or stopped, or their
    /// request landed on another instance (routing that is not sticky).
    pub sessions_lost: Counter,
    /// Requests it served successfully (from their sending to their end here, whoever
    /// sent them: users, calling services, queues) and where their time went.
    pub served: DurationSum,
    pub breakdown: Breakdown,
    /// Of those, users' requests.
    pub served_users: Counter,
    /// Time to fetch the session from an external store before each request.
    pub session_lookup: Option<Sampler>,
    /// The tier's spec, for instances created during the run.
    pub spec: crate::model::AppSpec,
    /// Chart sampling visits only the instances that may have changed since the last
    /// sample (`awake`); the others are quiet — nothing in them, nothing changing — and
    /// add only their capacity, summed in `quiet`. So a sample costs what the busy
    /// instances cost, not what the tier has.
    pub awake: Vec<u32>,
    pub quiet: QuietShare,
    /// The databases the quiet share's pools are for, in order (`World::tier_dbs` when
    /// instances last went quiet).
    pub dbs: Vec<u32>,
}

impl Warm for Tier {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.sessions_lost.mark_warmup();
        self.served.mark_warmup();
        self.breakdown.mark_warmup();
        self.served_users.mark_warmup();
    }
}

/// The capacity that a tier's quiet instances add to its sampled utilisations: cores,
/// worker slots, and pooled connections per database the tier uses (in
/// `World::tier_dbs` order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuietShare {
    pub cores: f64,
    pub slots: f64,
    pub pools: Vec<f64>,
}

/// Where an instance is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceState {
    /// Starting up: takes no traffic until its startup time has passed.
    Starting,
    /// Taking traffic.
    Active,
    /// Taken out of rotation: finishes the requests it has, takes no new ones.
    Draining,
    /// Drained: holds nothing; may be started again.
    Stopped,
}

/// The connections one instance uses for one database: per shard, a pool for writes
/// (and reads without replicas) and, with replicas, one for reads, numbered from `base`.
#[derive(Clone, Copy, Debug)]
pub struct DbAccess {
    pub db: u32,
    /// The first pool; `NONE` in per-request mode.
    pub base: u32,
    pub shards: u32,
    /// Whether each shard has a reader pool (the database has replicas).
    pub readers: bool,
}

impl DbAccess {
    fn stride(&self) -> u32 {
        if self.readers { 2 } else { 1 }
    }

    /// The writer pool of `shard` (`NONE` in per-request mode).
    pub fn writer(&self, shard: u32) -> u32 {
        if self.base == NONE {
            NONE
        } else {
            self.base + shard * self.stride()
        }
    }

    /// The reader pool of `shard` (`NONE` without replicas or pools).
    pub fn reader(&self, shard: u32) -> u32 {
        if self.base == NONE || !self.readers {
            NONE
        } else {
            self.base + shard * self.stride() + 1
        }
    }

    /// Every pool, writers and readers of all shards.
    pub fn pools(&self) -> std::ops::Range<u32> {
        if self.base == NONE {
            0..0
        } else {
            self.base..self.base + self.shards * self.stride()
        }
    }
}

/// One app instance.
pub struct Instance {
    pub tier: u32,
    pub state: InstanceState,
    pub rng: SimRng,
    /// Workers (thread mode) or event-loop admission slots (async mode).
    pub slots: u32,
    /// Slots in use, against `slots` while the instance is up (0 while it is starting
    /// or stopped).
    pub busy_slots: Occupancy,
    pub accept_queue: VecDeque<(ReqRef, SimTime)>,
    pub queue_cap: u32,
    pub queue_timeout: Option<SimDuration>,
    /// When the accept queue's timeout check is due (`None`: none pending).
    pub queue_deadline_at: Option<SimTime>,
    pub queue_len: Level,
    /// Arrivals that found every slot busy and queued, and the wait of each request
    /// that got a slot (0 for those that got one at once).
    pub delayed: Counter,
    pub queue_wait: DurationSum,
    pub in_system: Level,
    pub sojourn: DurationSum,
    pub arrivals: Counter,
    pub rejected: Counter,
    pub queue_timeouts: Counter,
    /// Station index of the cores.
    pub cores: u32,
    /// How fast its cores are relative to the reference (CPU steps take 1 / this).
    pub cpu_speed: f64,
    pub db_access: Vec<DbAccess>,
    /// Local caches, by cache index.
    pub local_caches: Vec<(u32, Lru)>,
    /// Times it crashed.
    pub crashes: Counter,
    /// Whether admitting a request does more than take a slot (memory to count, a
    /// session to keep or look up): the common case skips all of it.
    pub admission_work: bool,
    /// Times it ran out of memory (counted in `crashes` too).
    pub ooms: Counter,
    /// Memory held by the requests it runs, in KB, and the most it held.
    pub memory_kb: u64,
    pub memory_peak_kb: u64,
    /// Whether chart sampling visits it (see `Tier::awake`).
    pub awake: bool,
}

impl Warm for Instance {
    fn mark_warmup(&mut self, now: SimTime) {
        self.busy_slots.mark_warmup(now);
        self.queue_len.mark_warmup(now);
        self.in_system.mark_warmup(now);
        self.sojourn.mark_warmup();
        self.arrivals.mark_warmup();
        self.rejected.mark_warmup();
        self.crashes.mark_warmup();
        self.ooms.mark_warmup();
        self.queue_timeouts.mark_warmup();
        self.delayed.mark_warmup();
        self.queue_wait.mark_warmup();
    }
}

/// A FCFS multi-server resource: app cores, database cores, a cache server.
pub struct Station {
    pub servers: u32,
    /// What a request waiting in its line is doing, for the latency breakdown.
    pub wait_phase: Phase,
    /// Busy servers, against `servers` while its instance is up (0 while it is down).
    pub busy: Occupancy,
    pub queue: VecDeque<(ReqRef, SimDuration, SimTime)>,
    pub queue_len: Level,
    pub in_system: Level,
    pub sojourn: DurationSum,
    pub wait: DurationSum,
    pub arrivals: Counter,
    /// Arrivals that found every server busy and had to queue.
    pub delayed: Counter,
    /// Times between arrivals and the service times drawn, for the theory beside the
    /// simulated figures (their squared coefficients of variation).
    pub interarrival: Moments,
    pub last_arrival: Option<SimTime>,
    pub service: Moments,
}

impl Warm for Station {
    fn mark_warmup(&mut self, now: SimTime) {
        self.busy.mark_warmup(now);
        self.queue_len.mark_warmup(now);
        self.in_system.mark_warmup(now);
        self.sojourn.mark_warmup();
        self.wait.mark_warmup();
        self.arrivals.mark_warmup();
        self.delayed.mark_warmup();
        self.interarrival.mark_warmup();
        self.service.mark_warmup();
    }
}

impl Station {
    /// A station with `servers` servers, counted in capacity from `now` if `up`; a
    /// request in its line is in `wait_phase`.
    pub fn new(servers: u32, now: SimTime, up: bool, wait_phase: Phase) -> Self {
        let mut busy = Occupancy::default();
        busy.set_servers(now, if up { servers } else { 0 });
        Self {
            servers,
            wait_phase,
            busy,
            queue: VecDeque::new(),
            queue_len: Level::default(),
            in_system: Level::default(),
            sojourn: DurationSum::default(),
            wait: DurationSum::default(),
            arrivals: Counter::default(),
            delayed: Counter::default(),
            interarrival: Moments::default(),
            last_arrival: None,
            service: Moments::default(),
        }
    }

    /// A request arrives now asking for `service`.
    #[inline]
    pub fn record_arrival(&mut self, now: SimTime, service: SimDuration) {
        self.arrivals.inc();
        if let Some(last) = self.last_arrival {
            self.interarrival.record(now.since(last).0);
        }
        self.last_arrival = Some(now);
        self.service.record(service.0);
    }
}

/// A per-instance connection pool to one database (writer or reader side).
pub struct Pool {
    pub db: u32,
    pub shard: u32,
    pub reader: bool,
    pub size: u32,
    pub acquire_timeout: SimDuration,
    /// Connections open or being opened.
    pub open: Level,
    /// Connections in use, against `size` while the instance is up.
    pub in_use: Occupancy,
    /// Requests holding or waiting for a connection, and how long each stayed (from
    /// asking for a connection to giving it back, failing, or timing out).
    pub in_system: Level,
    pub sojourn: DurationSum,
    /// Acquires that found no connection and waited.
    pub delayed: Counter,
    /// Idle connections, by the database node each is bound to.
    pub idle: Vec<u32>,
    /// Requests waiting for a connection with their deadline and start of the wait.
    pub waiters: VecDeque<(ReqRef, SimTime, SimTime)>,
    pub waiting: Level,
    pub deadline_armed: bool,
    pub acquires: Counter,
    pub timeouts: Counter,
    pub wait: DurationSum,
}

impl Warm for Pool {
    fn mark_warmup(&mut self, now: SimTime) {
        self.open.mark_warmup(now);
        self.in_use.mark_warmup(now);
        self.waiting.mark_warmup(now);
        self.acquires.mark_warmup();
        self.timeouts.mark_warmup();
        self.wait.mark_warmup();
        self.in_system.mark_warmup(now);
        self.sojourn.mark_warmup();
        self.delayed.mark_warmup();
    }
}

/// How a cache decides hits.
pub enum HitModel {
    Ratio(f64),
    Keys {
        zipf: Option<Zipf<f64>>,
        keys: u64,
        capacity: u64,
        ttl_ns: Option<u64>,
    },
}

/// A cache component (shared, or the template of per-instance local caches).
pub struct Cache {
    pub id: String,
    pub scope: CacheScope,
    pub model: HitModel,
    /// Station of a shared cache; `NONE` for local caches.
    pub station: u32,
    pub op: Sampler,
    pub network: Sampler,
    pub rng: SimRng,
    pub shared: Option<Lru>,
    /// A latency spike: extra network time per operation until the given time.
    pub spike: Option<(SimTime, SimDuration)>,
    /// Gets, hits or misses (for the rate of gets per chart interval).
    pub gets: Counter,
    pub hits: Counter,
    pub misses: Counter,
    pub sets: Counter,
    /// Writes per second per key behind the cache (0: its data never changes), and
    /// whether a write deletes the key's entry.
    pub update_rate_per_key: f64,
    pub invalidate_on_write: bool,
    /// Hits on an entry its key's write had made stale.
    pub stale_hits: Counter,
}

impl Warm for Cache {
    fn mark_warmup(&mut self, _now: SimTime) {
        self.gets.mark_warmup();
        self.hits.mark_warmup();
        self.stale_hits.mark_warmup();
        self.misses.mark_warmup();
        self.sets.mark_warmup();
    }
}

impl Cache {
    /// Whether an entry stored `age_ns` ago was written since, at `rate` writes per
    /// second to its key: they arrive as a Poisson stream, so at least one came with
    /// probability 1 − e^(−rate·age).
    pub fn written_since(rate: f64, age_ns: u64, rng: &mut SimRng) -> bool {
        rate > 0.0 && rng.chance(-(-rate * age_ns as f64 * 1e-9).exp_m1())
    }

    /// Draws the key of one get from the key space.
    pub fn draw_key(model: &HitModel, rng: &mut SimRng) -> u64 {
        match model {
            HitModel::Ratio(_) => 0,
            HitModel::Keys { zipf, keys, .. } => draw_key(zipf.as_ref(), *keys, rng),
        }
    }
}

/// A key from `0..keys`: Zipf-distributed by rank when `zipf` is given, else uniform.
pub fn draw_key(zipf: Option<&Zipf<f64>>, keys: u64, rng: &mut SimRng) -> u64 {
    match zipf {
        Some(z) => (rng.sample(z) as u64).saturating_sub(1),
        None => rng.below(keys),
    }
}

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
    pub zipf: Option<Zipf<f64>>,
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

/// The extra network time of a latency spike still going on at `now`.
pub fn spike_extra(spike: Option<(SimTime, SimDuration)>, now: SimTime) -> SimDuration {
    match spike {
        Some((until, extra)) if now < until => extra,
        _ => SimDuration::ZERO,
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

/// What a network partition cuts an app tier from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    Db(u32),
    Cache(u32),
    Queue(u32),
    Service(Target),
}

/// A network partition going on: `tier` cannot reach `to` (named `to_id`) until `until`;
/// with `drop` attempts hang instead of failing.
#[derive(Clone, Debug)]
pub struct Partition {
    pub tier: u32,
    pub to: Cut,
    pub to_id: String,
    pub until: SimTime,
    pub drop: bool,
}

/// What an attempt from `tier` to reach `to` at `now` meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crossing {
    /// The network is up.
    Open,
    /// Refused: it fails at once.
    Refused,
    /// Dropped: nothing comes back until the given time.
    DroppedUntil(SimTime),
}

/// What crossing from `tier` to `to` meets at `now`: a refusing partition wins over
/// dropping ones, which hold the attempt until the last of them heals.
#[inline]
pub fn crossing(partitions: &[Partition], now: SimTime, tier: u32, to: Cut) -> Crossing {
    let mut out = Crossing::Open;
    for p in partitions {
        if p.tier == tier && p.to == to && now < p.until {
            if !p.drop {
                return Crossing::Refused;
            }
            out = match out {
                Crossing::DroppedUntil(t) if t >= p.until => out,
                _ => Crossing::DroppedUntil(p.until),
            };
        }
    }
    out
}
