//! The running system: every component's state, the event loop's dispatch, and the life
//! of a request (client → load balancer → instance → script steps → response).
//!
//! A request holds resources simultaneously: its worker slot for the whole script, a
//! pooled connection for each query, a core for each CPU step. That simultaneous
//! possession is what makes thread pools fill while CPUs idle, so it is modelled
//! literally here rather than as a network of independent queues.

mod build;
mod live;

use std::collections::BTreeMap;

use crate::metrics::breakdown::{Phase, PhaseClock};
use crate::metrics::level::Counter;
use crate::metrics::{ErrorCause, OutcomeMeter};
use crate::model::CacheScope;
use crate::model::limits::MAX_STEP_NESTING;
use crate::sim::{EventQueue, SimDuration, SimTime};

use super::components::*;
use super::program::{Op, Program};

/// Everything that can happen.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// The next open-loop arrival of a client.
    Arrival { client: u32 },
    /// A closed-loop user finished thinking.
    UserReady { client: u32, user: u32 },
    /// The oldest outstanding request of a client may have timed out.
    ClientDeadline { client: u32 },
    /// A server of a station finished a request's work.
    ServiceDone { station: u32, req: ReqRef },
    /// A pure delay (network, external call, connection setup) finished.
    Resume { req: ReqRef },
    /// The earliest outstanding call timeout may be up.
    CallDeadlines,
    /// The oldest waiter of a pool may have timed out.
    PoolDeadline { pool: u32 },
    /// The oldest request in an instance's accept queue may have timed out.
    QueueDeadline { inst: u32 },
    /// An instance added during the run has started and takes traffic.
    InstanceUp { inst: u32 },
    /// A CDN's edge answered a request.
    EdgeDone { req: ReqRef },
    /// An autoscaler evaluates its metric.
    AutoscaleTick { scaler: u32 },
    /// A client's retry is due: `slot` in its pending retries.
    Retry { client: u32, slot: u32 },
    /// A queue may start jobs (consumers free, jobs waiting).
    JobDispatch { queue: u32 },
    /// A failed job's retry is due: `slot` in the queue's retrying jobs.
    JobRetry { queue: u32, slot: u32 },
    /// End of the warm-up: summaries count from here.
    WarmupEnd,
    /// Take a time-series sample.
    Sample,
}

/// Client deadlines kept before answered ones are dropped (see `Client::deadlines`).
pub const DEADLINES_COMPACT_MIN: usize = 1024;

/// The slot of `Request::keys` holding the current query's key (cache lookups use the
/// slots below, one per nesting depth).
const DB_KEY: usize = MAX_STEP_NESTING;

/// Phases of a multi-stage operation (a query, a cache access).
mod phase {
    pub const START: u8 = 0;
    pub const CONNECTED: u8 = 1;
    pub const CONNECT_CPU_DONE: u8 = 2;
    /// At the station (or on the way back from it): it resumes once answered.
    pub const SERVED: u8 = 3;
    /// Waiting in a pooler for a server connection.
    pub const GATE_WAIT: u8 = 4;
    /// Given a pooler's server connection: on to the database.
    pub const GATE_GRANTED: u8 = 5;
    /// Held by a partition that drops packets (since `sub_enter`), before the operation.
    pub const PARTITION_WAIT: u8 = 6;
}

/// A request in flight.
#[derive(Clone, Debug)]
pub struct Request {
    pub generation: u32,
    pub live: bool,
    /// Who waits for its outcome: a client's user, a calling request or a queue.
    pub origin: Origin,
    /// The circuit breaker it passed (`NONE`: none), told of its outcome.
    pub breaker: u32,
    /// The error of the service it called, reported when it resumes.
    pub call_error: Option<ErrorCause>,
    /// The request its `Call` step waits for, and when it stops waiting (a call with
    /// a timeout).
    pub call_child: Option<ReqRef>,
    pub call_deadline: Option<SimTime>,
    pub client: u32,
    pub user: u32,
    pub session: u32,
    pub endpoint: u16,
    /// The load balancer it went through (`NONE`: none), for load shedding's count.
    pub lb: u32,
    /// The attempt: 0 for the first, then one per retry.
    pub attempt: u8,
    pub sent_at: SimTime,
    /// When the user's first attempt was sent (latency is what the user waited).
    pub first_sent: SimTime,
    /// The client has its answer (or gave up): later outcomes are not reported to it.
    pub client_done: bool,
    /// Its instance crashed: it has failed, and it ends at its next step.
    pub doomed: bool,
    pub instance: u32,
    pub inst_enter: SimTime,
    pub admitted: bool,
    pub pc: u32,
    pub phase: u8,
    pub sub_enter: SimTime,
    pub counters: [u32; MAX_STEP_NESTING + 1],
    /// Cache keys by nesting depth, and the current query's key at [`DB_KEY`].
    pub keys: [u64; MAX_STEP_NESTING + 1],
    /// The connection used by the current query: pool (or `NONE` for an own connection)
    /// and database node.
    pub conn_pool: u32,
    pub conn_node: u32,
    /// When it asked its pool for the current connection.
    pub conn_since: SimTime,
    /// Connections this request opened itself (per-request mode): `(db, node)`.
    pub own_conns: Vec<(u32, u32)>,
    /// Where its time went so far, for the latency breakdown.
    pub clock: PhaseClock,
    /// What it will be doing once served by the station it waits in.
    pub serve_phase: Phase,
}

impl Request {
    fn blank() -> Self {
        Self {
            generation: 0,
            live: false,
            origin: Origin::Client,
            breaker: NONE,
            call_error: None,
            call_child: None,
            call_deadline: None,
            client: NONE,
            user: NONE,
            session: 0,
            endpoint: 0,
            lb: NONE,
            attempt: 0,
            sent_at: SimTime::ZERO,
            first_sent: SimTime::ZERO,
            client_done: false,
            doomed: false,
            instance: NONE,
            inst_enter: SimTime::ZERO,
            admitted: false,
            pc: 0,
            phase: 0,
            sub_enter: SimTime::ZERO,
            counters: [0; MAX_STEP_NESTING + 1],
            keys: [0; MAX_STEP_NESTING + 1],
            conn_pool: NONE,
            conn_node: NONE,
            conn_since: SimTime::ZERO,
            own_conns: Vec::new(),
            clock: PhaseClock::default(),
            serve_phase: Phase::Cpu,
        }
    }
}

/// Where a request went when it was routed.
enum Routed {
    Instance(u32),
    /// A CDN answered it at the edge, after this long.
    Edge(SimDuration),
    Refused(ErrorCause),
}

/// What an operation step decided, computed while the program is borrowed and carried
/// out after.
enum Action {
    /// Go on with the next operation immediately.
    Continue,
    /// Visit a station planned at arrival: its service is spent in `phase`, then the
    /// way `back` (the network's, when it is not zero) in `back_phase`.
    Serve {
        station: u32,
        service: SimDuration,
        phase: Phase,
        back: SimDuration,
        back_phase: Phase,
    },
    /// Wait for a pure delay, spent in the phase given.
    Delay(SimDuration, Phase),
    /// Acquire a connection for a query.
    Acquire { db: u32, write: bool },
    /// Send a call to a service and wait for it (at most `timeout`).
    Call {
        target: Target,
        endpoint: u16,
        timeout: Option<SimDuration>,
    },
    /// Put a job on a queue (and go on if it fits).
    Enqueue { queue: u32, job: u16 },
    /// The request failed.
    Fail(ErrorCause),
    /// It waits to be woken (in a pooler's line).
    Park,
    /// The request ended.
    Done,
}

/// The whole simulated system.
pub struct World {
    pub now: SimTime,
    /// The run's seed: instances created mid-run derive their streams from it.
    pub seed: u64,
    pub queue: EventQueue<Event>,
    pub warmup_end: SimTime,
    pub warm: bool,
    pub sample_interval: SimDuration,
    pub last_sample: SimTime,
    /// Whether chart sampling lets quiet instances sleep (see `Tier::awake`); off, it
    /// visits every instance, as a check that both give the same series.
    pub lazy_sampling: bool,

    pub clients: Vec<Client>,
    pub lbs: Vec<LoadBalancer>,
    pub limiters: Vec<RateLimiter>,
    pub cdns: Vec<Cdn>,
    pub autoscalers: Vec<Autoscaler>,
    pub breakers: Vec<Breaker>,
    pub queues: Vec<JobQueue>,
    /// Network partitions injected as faults (expired ones are dropped when the next
    /// one comes).
    pub partitions: Vec<Partition>,
    pub tiers: Vec<Tier>,
    pub instances: Vec<Instance>,
    pub stations: Vec<Station>,
    pub pools: Vec<Pool>,
    pub caches: Vec<Cache>,
    pub dbs: Vec<Database>,
    pub db_nodes: Vec<DbNode>,
    pub programs: Vec<Program>,
    /// Every endpoint's operations, one after another (see `program`).
    pub ops: Vec<Op>,

    pub requests: Vec<Request>,
    free: Vec<u32>,
    /// Requests alive in the system (time averages come from the instances' levels).
    pub in_flight: u32,
    /// Every request carries a user session (a database reads a session's own writes
    /// from the primary, or a tier keeps sessions in memory).
    pub sessions_needed: bool,
    /// Memory one request of each endpoint holds on its instance, in KB.
    pub endpoint_memory_kb: Vec<u64>,

    /// Client-side outcomes per endpoint; system-wide figures merge these.
    pub per_endpoint: Vec<OutcomeMeter>,
    /// Responses that arrived after their client had given up.
    pub late_responses: Counter,
    /// Timeouts of outstanding calls, earliest first: `(deadline, request slot,
    /// generation)`; and when `CallDeadlines` events are due.
    pub call_timeouts: std::collections::BTreeSet<(SimTime, u32, u32)>,
    pub call_timer: Option<SimTime>,
    /// Reused to merge the endpoints' interval histograms at each sample.
    pub interval_scratch: crate::metrics::hist::ChartLatencies,
    /// Reused for each chart sample's values.
    pub sample_values: Vec<f64>,
    /// Each component's index among those of its kind, by id.
    pub index: BTreeMap<String, u32>,
}

impl World {
    /// Carries out one event.
    pub fn handle(&mut self, event: Event) {
        match event {
            Event::Arrival { client } => {
                self.schedule_next_arrival(client);
                self.send(client, NONE);
            }
            Event::ServiceDone { station, req } => self.service_done(station, req),
            Event::Resume { req } => {
                if self.is_live(req) {
                    self.advance(req);
                }
            }
            other => self.handle_other(other),
        }
    }

    /// The events other than arrivals, service completions and resumptions: kept out
    /// of line so that the loop's common path stays small in the instruction cache.
    #[inline(never)]
    fn handle_other(&mut self, event: Event) {
        match event {
            Event::Arrival { .. } | Event::ServiceDone { .. } | Event::Resume { .. } => {
                unreachable!("handled by World::handle")
            }
            Event::UserReady { client, user } => {
                if self.user_may_send(client, user) {
                    self.send(client, user);
                }
            }
            Event::InstanceUp { inst } => self.instance_up(inst),
            Event::AutoscaleTick { scaler } => self.autoscale(scaler),
            Event::EdgeDone { req } => {
                if self.is_live(req) {
                    self.finish(req, Ok(()));
                }
            }
            Event::Retry { client, slot } => {
                let c = &mut self.clients[client as usize];
                let p = c.pending_retries[slot as usize];
                c.free_retry_slots.push(slot);
                self.send_attempt(
                    client,
                    p.user,
                    p.endpoint,
                    p.session,
                    p.attempt,
                    p.first_sent,
                );
            }
            Event::ClientDeadline { client } => self.client_deadlines(client),
            Event::CallDeadlines => self.call_deadlines(),
            Event::PoolDeadline { pool } => self.pool_deadlines(pool),
            Event::QueueDeadline { inst } => self.queue_deadlines(inst),
            Event::JobDispatch { queue } => self.dispatch_jobs(queue),
            Event::JobRetry { queue, slot } => {
                let q = &mut self.queues[queue as usize];
                let job = q.retrying[slot as usize];
                q.free_retry_slots.push(slot);
                q.retry_pending -= 1;
                q.waiting.push_back(job);
                q.depth.inc(self.now);
                self.arm_dispatch(queue);
            }
            Event::WarmupEnd => self.mark_warmup(),
            Event::Sample => {
                // The engine takes the sample (it owns the series); here we only re-arm.
                self.queue
                    .schedule(self.now + self.sample_interval, Event::Sample);
            }
        }
    }

    /// Instances app tier `id` has created so far (stopped ones included).
    pub fn instances_created(&self, id: &str) -> u32 {
        self.tiers
            .iter()
            .find(|t| t.id == id)
            .map_or(0, |t| t.instances.len() as u32)
    }

    /// What the run holds in memory now, by kind.
    pub fn footprint(&self) -> super::Footprint {
        // Every field is named, so a new collection of component state does not compile
        // until it says here whether what it holds can grow during a run.
        let World {
            requests,
            queue,
            clients,
            instances,
            caches,
            dbs,
            tiers,
            queues,
            // Sized by the scenario (or, for partitions and call timeouts, by what is in
            // flight: the requests counted above).
            now: _,
            seed: _,
            warmup_end: _,
            warm: _,
            sample_interval: _,
            last_sample: _,
            lazy_sampling: _,
            lbs: _,
            limiters: _,
            cdns: _,
            autoscalers: _,
            breakers: _,
            partitions: _,
            stations: _,
            pools: _,
            db_nodes: _,
            programs: _,
            ops: _,
            free: _,
            in_flight: _,
            sessions_needed: _,
            endpoint_memory_kb: _,
            per_endpoint: _,
            late_responses: _,
            call_timeouts: _,
            call_timer: _,
            interval_scratch: _,
            sample_values: _,
            index: _,
        } = self;
        super::Footprint {
            requests: requests.len(),
            events: queue.len(),
            client_deadlines: clients.iter().map(|c| c.deadlines.len()).sum(),
            pending_retries: clients.iter().map(|c| c.pending_retries.len()).sum(),
            instances: instances.len(),
            cache_entries: caches
                .iter()
                .filter_map(|c| c.shared.as_ref().map(|l| l.len()))
                .chain(
                    instances
                        .iter()
                        .flat_map(|i| i.local_caches.iter().map(|(_, l)| l.len())),
                )
                .sum(),
            remembered_writes: dbs
                .iter()
                .map(|d| d.visible_at.len() + d.session_visible.len())
                .sum(),
            sessions: tiers.iter().map(|t| t.session_owner.len()).sum(),
            jobs: queues
                .iter()
                .map(|q| q.waiting.len() + q.retrying.len())
                .sum(),
        }
    }

    /// What an event acts for, in words: the client, the request's endpoint and who sent
    /// it, or the component. Names the loop when simulated time stops advancing.
    pub fn event_source(&self, event: &Event) -> String {
        let client = |c: u32| format!("client {:?}", self.clients[c as usize].id);
        let request = |r: ReqRef| {
            let q = &self.requests[r.idx as usize];
            let endpoint = &self.programs[q.endpoint as usize].name;
            match q.origin {
                Origin::Client if q.client != NONE => {
                    format!("endpoint {endpoint:?} sent by {}", client(q.client))
                }
                Origin::Job { queue } => format!(
                    "job {endpoint:?} of queue {:?}",
                    self.queues[queue as usize].id
                ),
                _ => format!("endpoint {endpoint:?}"),
            }
        };
        match *event {
            Event::Arrival { client: c }
            | Event::UserReady { client: c, .. }
            | Event::ClientDeadline { client: c }
            | Event::Retry { client: c, .. } => client(c),
            Event::ServiceDone { req, .. } | Event::Resume { req } | Event::EdgeDone { req } => {
                request(req)
            }
            Event::PoolDeadline { .. } => "a connection pool".to_owned(),
            Event::QueueDeadline { inst } => format!(
                "the accept queue of app tier {:?}",
                self.tiers[self.instances[inst as usize].tier as usize].id
            ),
            Event::CallDeadlines => "call timeouts".to_owned(),
            Event::InstanceUp { inst } => format!(
                "app tier {:?}",
                self.tiers[self.instances[inst as usize].tier as usize].id
            ),
            Event::AutoscaleTick { scaler } => {
                format!("autoscaler {:?}", self.autoscalers[scaler as usize].id)
            }
            Event::JobDispatch { queue } | Event::JobRetry { queue, .. } => {
                format!("queue {:?}", self.queues[queue as usize].id)
            }
            Event::WarmupEnd | Event::Sample => "the run itself".to_owned(),
        }
    }

    /// Brings the stations planned at arrival (caches' and databases') up to now, for
    /// whatever reads their busy servers and lines next.
    pub fn settle_stations(&mut self) {
        let now = self.now;
        let planned = self.caches.iter().map(|c| c.station);
        for s in planned.chain(self.db_nodes.iter().map(|n| n.station)) {
            if s != NONE {
                self.stations[s as usize].settle(now);
            }
        }
    }

    #[inline]
    fn is_live(&self, r: ReqRef) -> bool {
        let q = &self.requests[r.idx as usize];
        q.live && q.generation == r.generation
    }

    // ----- clients -------------------------------------------------------------------

    /// A user's new request: its first attempt.
    #[inline(always)]
    fn send(&mut self, client: u32, user: u32) {
        let now = self.now;
        let c = &mut self.clients[client as usize];
        let endpoint = c.pick_endpoint();
        // Only sticky (hash) routing reads the session; drawing it only then keeps the
        // hot path lean without changing any other stream.
        let session = if user != NONE {
            user
        } else if c.needs_session {
            c.rng.below(u64::from(c.sessions)) as u32
        } else {
            0
        };
        c.earn_retry_tokens();
        self.per_endpoint[endpoint as usize].user_requests.inc();
        self.send_attempt(client, user, endpoint, session, 0, now);
    }

    /// Sends one attempt of a user's request into the system.
    fn send_attempt(
        &mut self,
        client: u32,
        user: u32,
        endpoint: u16,
        session: u32,
        attempt: u8,
        first_sent: SimTime,
    ) {
        let now = self.now;
        let c = &mut self.clients[client as usize];
        c.sent.inc();
        let timeout = c.timeout;
        let target = c.target;

        let r = self.new_request(Origin::Client, client, endpoint, session);
        let q = &mut self.requests[r.idx as usize];
        q.user = user;
        q.attempt = attempt;
        q.first_sent = first_sent;
        self.per_endpoint[endpoint as usize].offered.inc();

        if let Some(t) = timeout {
            let c = &mut self.clients[client as usize];
            c.deadlines.push_back((now + t, r));
            if c.deadlines.len() > c.deadlines_compact_at {
                self.compact_deadlines(client);
            }
            let c = &mut self.clients[client as usize];
            if !c.deadline_armed {
                c.deadline_armed = true;
                self.queue
                    .schedule(now + t, Event::ClientDeadline { client });
            }
        }

        self.dispatch(target, session, r);
    }

    /// A fresh request in the slab, sent now.
    #[inline(always)]
    fn new_request(&mut self, origin: Origin, client: u32, endpoint: u16, session: u32) -> ReqRef {
        let now = self.now;
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.requests.push(Request::blank());
                (self.requests.len() - 1) as u32
            }
        };
        let q = &mut self.requests[idx as usize];
        let generation = q.generation;
        q.live = true;
        q.origin = origin;
        q.breaker = NONE;
        q.call_error = None;
        q.call_child = None;
        q.call_deadline = None;
        q.client = client;
        q.user = NONE;
        q.session = session;
        q.endpoint = endpoint;
        q.lb = NONE;
        q.attempt = 0;
        q.sent_at = now;
        q.first_sent = now;
        q.client_done = false;
        q.doomed = false;
        q.instance = NONE;
        q.admitted = false;
        q.pc = self.programs[endpoint as usize].entry;
        q.phase = phase::START;
        q.conn_pool = NONE;
        q.conn_node = NONE;
        q.own_conns.clear();
        q.clock.start(now.0, Phase::Network);
        self.in_flight += 1;
        ReqRef { idx, generation }
    }

    /// Sends request `r` to `target`: into an instance, or answered on the way.
    #[inline(always)]
    fn dispatch(&mut self, target: Target, session: u32, r: ReqRef) {
        // Straight to a tier is the common case: route it without the general router.
        let routed = match target {
            Target::Tier(t) => self.route_to_tier(t),
            _ => self.route(target, session, r),
        };
        match routed {
            Routed::Instance(inst) => self.arrive_at_instance(inst, r),
            Routed::Edge(latency) => {
                self.requests[r.idx as usize]
                    .clock
                    .enter(self.now.0, Phase::Edge);
                self.queue
                    .schedule(self.now + latency, Event::EdgeDone { req: r });
            }
            Routed::Refused(cause) => self.finish(r, Err(cause)),
        }
    }

    /// Starts a call from request `parent` to a service; the parent resumes when it
    /// is answered.
    ///
    /// Out of line, as are `enqueue` and `release_gate`: inlined, these rarer steps
    /// made `advance` a fifth larger, and its common path sparser in the instruction
    /// cache.
    #[inline(never)]
    fn call(
        &mut self,
        parent: ReqRef,
        target: Target,
        endpoint: u16,
        timeout: Option<SimDuration>,
    ) {
        let now = self.now;
        let p = &self.requests[parent.idx as usize];
        let (client, session) = (p.client, p.session);
        let child = self.new_request(Origin::Call { parent }, client, endpoint, session);
        let p = &mut self.requests[parent.idx as usize];
        p.clock.enter(now.0, Phase::Call);
        p.call_child = Some(child);
        p.call_deadline = timeout.map(|t| now + t);
        if let Some(deadline) = p.call_deadline {
            self.call_timeouts
                .insert((deadline, parent.idx, parent.generation));
            self.arm_call_deadlines(deadline);
        }
        self.dispatch(target, session, child);
    }

    /// Makes sure a `CallDeadlines` event is due at or before `at` (an event armed for
    /// later is superseded: only the latest armed counts).
    fn arm_call_deadlines(&mut self, at: SimTime) {
        if self.call_timer.is_none_or(|t| t > at) {
            self.call_timer = Some(at);
            self.queue.schedule(at, Event::CallDeadlines);
        }
    }

    /// Stops the clock of `parent`'s outstanding call, if it has one (answered, or the
    /// caller gone).
    fn disarm_call(&mut self, parent: ReqRef) {
        let p = &mut self.requests[parent.idx as usize];
        if let Some(deadline) = p.call_deadline.take() {
            self.call_timeouts
                .remove(&(deadline, parent.idx, parent.generation));
        }
    }

    /// Every call whose timeout is up times out, earliest first. Outstanding timeouts
    /// are kept in order and removed when their call is answered, so they number the
    /// calls outstanding, not the calls made within the longest timeout.
    fn call_deadlines(&mut self) {
        let now = self.now;
        if self.call_timer != Some(now) {
            return; // superseded by an earlier arming
        }
        self.call_timer = None;
        while let Some(&(deadline, idx, generation)) = self.call_timeouts.first()
            && deadline <= now
        {
            self.call_timeouts.pop_first();
            self.call_deadline(ReqRef { idx, generation });
        }
        if let Some(&(next, _, _)) = self.call_timeouts.first() {
            self.arm_call_deadlines(next);
        }
    }

    /// A call's timeout is up: the caller stops waiting and fails (the service goes on
    /// working, and its answer is ignored). A circuit breaker the call passed counts it
    /// as failed now. A deadline of an earlier call that already ended finds the caller
    /// before its current deadline, or not waiting, and does nothing.
    fn call_deadline(&mut self, parent: ReqRef) {
        let now = self.now;
        if !self.is_live(parent) {
            return;
        }
        let p = &mut self.requests[parent.idx as usize];
        let Some(child) = p.call_child else {
            return;
        };
        if p.call_deadline.is_none_or(|d| now < d) {
            return;
        }
        p.call_deadline = None;
        p.call_child = None;
        p.call_error = Some(ErrorCause::CallTimeout);
        if self.is_live(child) {
            let c = &mut self.requests[child.idx as usize];
            let breaker = std::mem::replace(&mut c.breaker, NONE);
            if breaker != NONE {
                self.breakers[breaker as usize].record(false, now);
            }
        }
        self.advance(parent);
    }

    /// The service called by `parent` answered `child`.
    #[inline(never)]
    fn call_answered(&mut self, parent: ReqRef, child: ReqRef, outcome: Result<(), ErrorCause>) {
        if !self.is_live(parent) {
            return;
        }
        let p = &mut self.requests[parent.idx as usize];
        if p.call_child != Some(child) {
            // It answered after the caller's timeout.
            return;
        }
        p.call_child = None;
        self.disarm_call(parent);
        let p = &mut self.requests[parent.idx as usize];
        // A call cut by a circuit breaker says so; any other failure of the service is
        // the caller's downstream error.
        p.call_error = outcome.err().map(|cause| match cause {
            ErrorCause::CircuitOpen => ErrorCause::CircuitOpen,
            _ => ErrorCause::Downstream,
        });
        // Resume through the queue: a chain of calls failing at once must not recurse.
        self.queue.schedule(self.now, Event::Resume { req: parent });
    }

    // ----- queues and jobs ----------------------------------------------------------

    /// A request puts a job on `queue`; `false` if the broker is full.
    #[inline(never)]
    fn enqueue(&mut self, queue: u32, job: u16, session: u32) -> bool {
        let now = self.now;
        let q = &mut self.queues[queue as usize];
        if q.held() >= q.spec.capacity {
            q.refused.inc();
            return false;
        }
        q.enqueued.inc();
        q.waiting.push_back(Job {
            endpoint: job,
            attempt: 0,
            enqueued_at: now,
            session,
        });
        q.depth.inc(now);
        self.arm_dispatch(queue);
        true
    }

    pub(super) fn arm_dispatch(&mut self, queue: u32) {
        let q = &mut self.queues[queue as usize];
        if !q.dispatch_armed {
            q.dispatch_armed = true;
            self.queue.schedule(self.now, Event::JobDispatch { queue });
        }
    }

    /// Consumers take waiting jobs while some are free.
    fn dispatch_jobs(&mut self, queue: u32) {
        let now = self.now;
        self.queues[queue as usize].dispatch_armed = false;
        loop {
            let q = &mut self.queues[queue as usize];
            if q.running.value() >= q.spec.consumers {
                return;
            }
            let Some(job) = q.waiting.pop_front() else {
                return;
            };
            q.depth.dec(now);
            q.running.inc(now);
            let tier = q.tier;
            let r = self.new_request(Origin::Job { queue }, NONE, job.endpoint, job.session);
            let rq = &mut self.requests[r.idx as usize];
            rq.attempt = job.attempt;
            rq.first_sent = job.enqueued_at;
            self.dispatch(Target::Tier(tier), job.session, r);
        }
    }

    /// A job's run ended: done, retried after a backoff, or dead-lettered.
    #[inline(never)]
    fn job_ended(&mut self, queue: u32, r: ReqRef, outcome: Result<(), ErrorCause>) {
        let now = self.now;
        let rq = &self.requests[r.idx as usize];
        let job = Job {
            endpoint: rq.endpoint,
            attempt: rq.attempt,
            enqueued_at: rq.first_sent,
            session: rq.session,
        };
        let q = &mut self.queues[queue as usize];
        q.running.dec(now);
        let p = q.spec.failure_probability;
        let ok = outcome.is_ok() && !(p > 0.0 && q.rng.chance(p));
        if ok {
            q.completed.inc();
            let ns = now.since(job.enqueued_at).0;
            q.latency_sum.record(ns);
            q.latency_hist
                .saturating_record((ns / 1_000).clamp(1, crate::metrics::HIST_MAX_MICROS));
        } else {
            q.failed_runs.inc();
            if u32::from(job.attempt) < q.spec.max_retries {
                let next = Job {
                    attempt: job.attempt + 1,
                    ..job
                };
                let delay = q.backoff(next.attempt);
                let slot = store_in_free_slot(&mut q.retrying, &mut q.free_retry_slots, next);
                q.retry_pending += 1;
                self.queue
                    .schedule(now + delay, Event::JobRetry { queue, slot });
            } else {
                q.dead_letters.inc();
            }
        }
        self.arm_dispatch(queue);
    }

    /// Drops the deadlines of requests already answered (or given up on), so the list
    /// holds about the requests outstanding.
    #[cold]
    fn compact_deadlines(&mut self, client: u32) {
        let requests = &self.requests;
        let c = &mut self.clients[client as usize];
        c.deadlines.retain(|&(_, r)| {
            let q = &requests[r.idx as usize];
            q.live && q.generation == r.generation && !q.client_done
        });
        c.deadlines_compact_at = (2 * c.deadlines.len()).max(DEADLINES_COMPACT_MIN);
    }

    fn client_deadlines(&mut self, client: u32) {
        let now = self.now;
        loop {
            let c = &mut self.clients[client as usize];
            let Some(&(deadline, r)) = c.deadlines.front() else {
                c.deadline_armed = false;
                return;
            };
            let answered = !self.is_live(r) || self.requests[r.idx as usize].client_done;
            if answered {
                self.clients[client as usize].deadlines.pop_front();
                continue;
            }
            if deadline > now {
                self.queue
                    .schedule(deadline, Event::ClientDeadline { client });
                return;
            }
            self.clients[client as usize].deadlines.pop_front();
            // The client gives up; the server keeps working on the request.
            self.respond(r, Err(ErrorCause::ClientTimeout));
        }
    }

    /// Reports an outcome to the client (once per request).
    #[inline(always)]
    pub(super) fn respond(&mut self, r: ReqRef, outcome: Result<(), ErrorCause>) {
        let now = self.now;
        let q = &mut self.requests[r.idx as usize];
        match q.origin {
            Origin::Client => {}
            Origin::Call { parent } => {
                if !q.client_done {
                    q.client_done = true;
                    self.call_answered(parent, r, outcome);
                }
                return;
            }
            Origin::Job { queue } => {
                if !q.client_done {
                    q.client_done = true;
                    self.job_ended(queue, r, outcome);
                }
                return;
            }
        }
        if q.client_done {
            if !q.doomed {
                self.late_responses.inc();
            }
            return;
        }
        q.client_done = true;
        let (client, user) = (q.client, q.user);
        match outcome {
            Ok(()) => {
                let latency = now.since(q.first_sent).0;
                let retries = q.sent_at.since(q.first_sent).0;
                let meter = &mut self.per_endpoint[q.endpoint as usize];
                meter.record_ok(latency, &q.clock, now.0, retries);
            }
            Err(cause) => {
                if self.client_error(r, cause) {
                    // The user waits for the retry.
                    return;
                }
            }
        }
        if user != NONE && self.user_may_send(client, user) {
            let c = &mut self.clients[client as usize];
            if let Some((think, _)) = &c.think {
                let t = now + think.sample(&mut c.rng);
                self.queue.schedule(t, Event::UserReady { client, user });
            }
        }
    }

    /// Counts a failed answer to the client of `r`, and schedules its retry if the
    /// client retries it (`true`: the user waits for that).
    #[inline(never)]
    fn client_error(&mut self, r: ReqRef, cause: ErrorCause) -> bool {
        let now = self.now;
        let q = &self.requests[r.idx as usize];
        let (client, user, endpoint, session, attempt, first_sent) = (
            q.client,
            q.user,
            q.endpoint,
            q.session,
            q.attempt,
            q.first_sent,
        );
        let meter = &mut self.per_endpoint[endpoint as usize];
        meter.record_error(cause);
        let next = attempt.saturating_add(1);
        let c = &mut self.clients[client as usize];
        let Some(delay) = c.retry_delay(next) else {
            meter.user_failures.inc();
            return false;
        };
        meter.retries.inc();
        let retry = PendingRetry {
            user,
            session,
            endpoint,
            attempt: next,
            first_sent,
        };
        let slot = store_in_free_slot(&mut c.pending_retries, &mut c.free_retry_slots, retry);
        self.queue
            .schedule(now + delay, Event::Retry { client, slot });
        true
    }

    /// Whether closed-loop `user` is still among the users that should send; a user
    /// beyond a lowered count stops here.
    fn user_may_send(&mut self, client: u32, user: u32) -> bool {
        let c = &mut self.clients[client as usize];
        let wanted = c.think.as_ref().map_or(0, |(_, users)| *users);
        if user < wanted {
            true
        } else {
            if let Some(running) = c.user_running.get_mut(user as usize) {
                *running = false;
            }
            false
        }
    }

    // ----- routing -------------------------------------------------------------------

    /// An app tier without a load balancer takes requests on its instances in turn.
    #[inline]
    fn route_to_tier(&mut self, t: u32) -> Routed {
        let tier = &mut self.tiers[t as usize];
        let n = tier.active.len();
        if n == 0 {
            return Routed::Refused(ErrorCause::NoInstance);
        }
        let i = tier.active[round_robin(&mut tier.rr_next, n)];
        Routed::Instance(i)
    }

    /// Where request `r` goes: an instance, an answer from a CDN's edge, or a refusal on
    /// the way.
    fn route(&mut self, target: Target, session: u32, r: ReqRef) -> Routed {
        match target {
            Target::Cdn(c) => {
                let cdn = &mut self.cdns[c as usize];
                cdn.arrivals.inc();
                if cdn.rng.chance(cdn.edge_share) {
                    cdn.edge.inc();
                    Routed::Edge(cdn.latency.sample(&mut cdn.rng))
                } else {
                    let next = cdn.target;
                    self.route(next, session, r)
                }
            }
            Target::Breaker(b) => {
                let breaker = &mut self.breakers[b as usize];
                if breaker.admit(self.now) {
                    self.requests[r.idx as usize].breaker = b;
                    let next = breaker.target;
                    self.route(next, session, r)
                } else {
                    Routed::Refused(ErrorCause::CircuitOpen)
                }
            }
            Target::Limiter(l) => {
                let client = self.requests[r.idx as usize].client;
                let limiter = &mut self.limiters[l as usize];
                if limiter.admit(client, self.now) {
                    let next = limiter.target;
                    self.route(next, session, r)
                } else {
                    Routed::Refused(ErrorCause::RateLimited)
                }
            }
            Target::Tier(t) => self.route_to_tier(t),
            Target::LoadBalancer(l) => {
                let lb = &mut self.lbs[l as usize];
                if lb.max_in_flight.is_some_and(|max| lb.in_flight >= max) {
                    lb.shed.inc();
                    return Routed::Refused(ErrorCause::Shed);
                }
                lb.in_flight += 1;
                self.requests[r.idx as usize].lb = l;
                lb.routed.inc();
                let n: usize = lb
                    .tiers
                    .iter()
                    .map(|t| self.tiers[*t as usize].active.len())
                    .sum();
                if n == 0 {
                    lb.in_flight -= 1;
                    self.requests[r.idx as usize].lb = NONE;
                    return Routed::Refused(ErrorCause::NoInstance);
                }
                let nth = |k: usize| -> u32 {
                    let mut k = k;
                    for t in &lb.tiers {
                        let insts = &self.tiers[*t as usize].active;
                        if k < insts.len() {
                            return insts[k];
                        }
                        k -= insts.len();
                    }
                    unreachable!("instance index within the load balancer's backends")
                };
                let load = |i: u32| self.instances[i as usize].in_system.value();
                use crate::model::Policy::*;
                Routed::Instance(match lb.policy {
                    RoundRobin => nth(round_robin(&mut lb.rr_next, n)),
                    Random => nth(lb.rng.below(n as u64) as usize),
                    Hash => {
                        // Rendezvous hashing: a session goes to the instance that scores
                        // highest for it, so when an instance leaves or joins only the
                        // sessions it held (or wins) move; the rest stay where they are.
                        let score = |i: u32| {
                            crate::sim::rng::mix64((u64::from(session) << 32) | u64::from(i))
                        };
                        let mut best = nth(0);
                        let mut best_score = score(best);
                        for k in 1..n {
                            let i = nth(k);
                            let s = score(i);
                            if s > best_score {
                                best = i;
                                best_score = s;
                            }
                        }
                        best
                    }
                    PowerOfTwoChoices => {
                        // Two distinct backends (as NGINX's `random two`): a backend
                        // compared with itself would be a wasted choice.
                        let (i, j) = two_distinct(&mut lb.rng, n);
                        let (a, b) = (nth(i), nth(j));
                        if load(b) < load(a) { b } else { a }
                    }
                    LeastConnections => least_loaded((0..n).map(nth), load, &mut lb.rng),
                })
            }
        }
    }

    // ----- app instances -------------------------------------------------------------

    #[inline(always)]
    fn arrive_at_instance(&mut self, inst: u32, r: ReqRef) {
        self.wake(inst);
        let now = self.now;
        let i = &mut self.instances[inst as usize];
        i.arrivals.inc();
        if i.busy_slots.value() < i.slots {
            i.in_system.inc(now);
            i.busy_slots.inc(now);
            i.queue_wait.record(0);
            let q = &mut self.requests[r.idx as usize];
            q.instance = inst;
            q.inst_enter = now;
            q.admitted = true;
            if !i.admission_work {
                self.advance(r);
                return;
            }
            match self.admit(inst, r) {
                Some(SimDuration::ZERO) => self.advance(r),
                Some(delay) => {
                    self.requests[r.idx as usize]
                        .clock
                        .enter(now.0, Phase::External);
                    self.queue.schedule(now + delay, Event::Resume { req: r });
                }
                // The instance crashed under it: it ends (as a failure) from the queue.
                None => {
                    self.queue.schedule(now, Event::Resume { req: r });
                }
            }
        } else if (i.accept_queue.len() as u32) < i.queue_cap {
            i.in_system.inc(now);
            i.delayed.inc();
            i.accept_queue.push_back((r, now));
            i.queue_len.inc(now);
            let q = &mut self.requests[r.idx as usize];
            q.instance = inst;
            q.inst_enter = now;
            q.clock.enter(now.0, Phase::WorkerWait);
            if let Some(t) = i.queue_timeout
                && i.queue_deadline_at.is_none()
            {
                self.arm_queue_deadline(inst, now + t);
            }
        } else {
            i.rejected.inc();
            self.finish(r, Err(ErrorCause::Rejected));
        }
    }

    /// A worker slot of `inst` came free: start the next queued request, dropping those
    /// that waited past the queue timeout.
    pub(super) fn start_next_queued(&mut self, inst: u32) {
        let now = self.now;
        loop {
            let i = &mut self.instances[inst as usize];
            if i.busy_slots.value() >= i.slots {
                return;
            }
            let Some((r, since)) = i.accept_queue.pop_front() else {
                return;
            };
            i.queue_len.dec(now);
            if let Some(t) = i.queue_timeout
                && now.since(since) >= t
            {
                i.queue_timeouts.inc();
                self.finish(r, Err(ErrorCause::QueueTimeout));
                continue;
            }
            i.busy_slots.inc(now);
            i.queue_wait.record(now.since(since).0);
            let q = &mut self.requests[r.idx as usize];
            q.admitted = true;
            // Start it through the queue rather than recursing: a chain of requests that
            // fail at once must not grow the call stack.
            let delay = if i.admission_work {
                self.admit(inst, r).unwrap_or(SimDuration::ZERO)
            } else {
                SimDuration::ZERO
            };
            if delay > SimDuration::ZERO {
                self.requests[r.idx as usize]
                    .clock
                    .enter(now.0, Phase::External);
            }
            self.queue.schedule(now + delay, Event::Resume { req: r });
        }
    }

    /// Makes the accept queue of `inst` check its timeouts at `at` (an earlier check
    /// pending is dropped: only the latest one armed counts).
    pub(super) fn arm_queue_deadline(&mut self, inst: u32, at: SimTime) {
        self.instances[inst as usize].queue_deadline_at = Some(at);
        self.queue.schedule(at, Event::QueueDeadline { inst });
    }

    /// Requests that waited in the accept queue for its timeout leave it now, as they
    /// would in a real server (not when a worker frees up and finds them expired).
    fn queue_deadlines(&mut self, inst: u32) {
        let now = self.now;
        if self.instances[inst as usize].queue_deadline_at != Some(now) {
            return; // superseded by a later arming
        }
        self.instances[inst as usize].queue_deadline_at = None;
        loop {
            let i = &mut self.instances[inst as usize];
            let Some(t) = i.queue_timeout else {
                return;
            };
            let Some(&(r, since)) = i.accept_queue.front() else {
                return;
            };
            if since + t > now {
                self.arm_queue_deadline(inst, since + t);
                return;
            }
            i.accept_queue.pop_front();
            i.queue_len.dec(now);
            i.queue_timeouts.inc();
            self.finish(r, Err(ErrorCause::QueueTimeout));
        }
    }

    /// A request starts on `inst`: it takes its memory (crashing the instance when that
    /// runs out) and its session. Returns the wait before its script starts (an external
    /// session lookup), or `None` if the instance crashed.
    fn admit(&mut self, inst: u32, r: ReqRef) -> Option<SimDuration> {
        let q = &self.requests[r.idx as usize];
        let (endpoint, session) = (q.endpoint as usize, q.session);
        let i = &mut self.instances[inst as usize];
        let tier = &mut self.tiers[i.tier as usize];
        let memory = self.endpoint_memory_kb[endpoint];
        if memory > 0 {
            i.memory_kb += memory;
            i.memory_peak_kb = i.memory_peak_kb.max(i.memory_kb);
            if tier.memory_kb.is_some_and(|limit| i.memory_kb > limit) {
                i.ooms.inc();
                self.crash(inst, ErrorCause::OutOfMemory);
                return None;
            }
        }
        if tier.in_memory_sessions {
            match tier.session_owner.get(&session) {
                Some(&owner) if owner == inst => {}
                Some(_) => {
                    // Its session is on another instance: the user must log in again.
                    tier.sessions_lost.inc();
                    tier.session_owner.insert(session, inst);
                }
                None if tier.session_owner.len() < MAX_TRACKED_SESSIONS => {
                    tier.session_owner.insert(session, inst);
                }
                None => {}
            }
        }
        let lookup = match tier.session_lookup.as_ref() {
            Some(s) => s.sample(&mut i.rng),
            None => SimDuration::ZERO,
        };
        Some(lookup)
    }

    /// Runs the request's script from its program counter until it has to wait.
    fn advance(&mut self, r: ReqRef) {
        loop {
            // A request of a crashed instance ends between operations, once what the
            // current one holds (a connection, a core) has been given back.
            let q = &mut self.requests[r.idx as usize];
            if q.doomed && matches!(q.phase, phase::START | phase::PARTITION_WAIT) {
                self.finish(r, Err(ErrorCause::Crashed));
                return;
            }
            // CPU work, nearly every endpoint's first and last step, is tested for
            // before the jump on the kind of operation: a branch the processor predicts
            // from the steps before it, where that jump is the loop's hardest to predict.
            if let Op::Cpu(s) = &self.ops[q.pc as usize] {
                q.pc += 1;
                let i = &mut self.instances[q.instance as usize];
                let (cores, d) = (i.cores, cpu_time(s, i));
                self.station_arrive(cores, r, d, Phase::Cpu);
                return;
            }
            let action = self.step(r);
            match action {
                Action::Continue => {}
                Action::Serve {
                    station,
                    service,
                    phase,
                    back,
                    back_phase,
                } => {
                    self.visit(r, station, service, phase, back, back_phase);
                    return;
                }
                Action::Delay(d, phase) => {
                    let now = self.now;
                    self.requests[r.idx as usize].clock.enter(now.0, phase);
                    self.queue.schedule(now + d, Event::Resume { req: r });
                    return;
                }
                Action::Acquire { db, write } => {
                    if !self.acquire(r, db, write) {
                        return;
                    }
                }
                Action::Done => {
                    self.finish_inline(r, Ok(()));
                    return;
                }
                Action::Fail(cause) => {
                    self.finish(r, Err(cause));
                    return;
                }
                Action::Park => return,
                Action::Call {
                    target,
                    endpoint,
                    timeout,
                } => {
                    self.call(r, target, endpoint, timeout);
                    return;
                }
                Action::Enqueue { queue, job } => {
                    let session = self.requests[r.idx as usize].session;
                    if !self.enqueue(queue, job, session) {
                        self.finish(r, Err(ErrorCause::QueueFull));
                        return;
                    }
                }
            }
        }
    }

    /// Executes (a phase of) the current operation, any but CPU work (which `advance`
    /// serves before it steps).
    fn step(&mut self, r: ReqRef) -> Action {
        let now = self.now;
        let q = &mut self.requests[r.idx as usize];
        let inst = q.instance as usize;
        let op = &self.ops[q.pc as usize];
        // (A request held by a partition implies a partition in the list: it only
        // loses expired entries when a new one is added.)
        if !self.partitions.is_empty()
            && (q.phase == phase::START || q.phase == phase::PARTITION_WAIT)
        {
            let tier = self.instances[inst].tier;
            if let Some(action) = network_gate(
                q,
                op,
                tier,
                now,
                &self.partitions,
                &self.caches,
                &mut self.breakers,
            ) {
                return action;
            }
        }
        match op {
            Op::Cpu(_) => unreachable!("advance serves CPU steps before it steps"),
            Op::External(s) => {
                q.pc += 1;
                Action::Delay(s.sample(&mut self.instances[inst].rng), Phase::External)
            }
            Op::Jump(t) => {
                q.pc = *t;
                Action::Continue
            }
            Op::Branch { p, else_target } => {
                if self.instances[inst].rng.chance(*p) {
                    q.pc += 1;
                } else {
                    q.pc = *else_target;
                }
                Action::Continue
            }
            Op::RepeatStart { times, end, slot } => {
                let times = times.draw(&mut self.instances[inst].rng);
                if times == 0 {
                    q.pc = *end;
                } else {
                    q.counters[*slot as usize] = times;
                    q.pc += 1;
                }
                Action::Continue
            }
            Op::RepeatEnd { body, slot } => {
                let c = &mut q.counters[*slot as usize];
                *c -= 1;
                if *c > 0 {
                    q.pc = *body;
                } else {
                    q.pc += 1;
                }
                Action::Continue
            }
            Op::End => Action::Done,
            Op::Call {
                target,
                endpoint,
                timeout,
            } => {
                if q.phase == phase::START {
                    q.phase = phase::SERVED;
                    Action::Call {
                        target: *target,
                        endpoint: *endpoint,
                        timeout: *timeout,
                    }
                } else {
                    q.phase = phase::START;
                    q.pc += 1;
                    match q.call_error.take() {
                        Some(cause) => Action::Fail(cause),
                        None => Action::Continue,
                    }
                }
            }
            Op::Enqueue { queue, job } => {
                if q.phase == phase::START {
                    q.phase = phase::SERVED;
                    let jq = &mut self.queues[*queue as usize];
                    Action::Delay(jq.latency.sample(&mut jq.rng), Phase::Network)
                } else {
                    q.phase = phase::START;
                    q.pc += 1;
                    Action::Enqueue {
                        queue: *queue,
                        job: *job,
                    }
                }
            }
            Op::CacheGet {
                cache,
                hit_target,
                slot,
            } => {
                let c = &mut self.caches[*cache as usize];
                if let Some(trip) = cache_trip(c, q, &mut self.instances[inst].rng, now) {
                    return trip;
                }
                // Served: decide hit or miss.
                q.phase = phase::START;
                // A hit's entry age, to tell whether a write made it stale.
                let (hit, age) = match c.scope {
                    CacheScope::Shared => match &c.model {
                        HitModel::Ratio(p) => (c.rng.chance(*p), None),
                        HitModel::Keys { ttl_ns, .. } => {
                            let key = Cache::draw_key(&c.model, &mut c.rng);
                            q.keys[*slot as usize] = key;
                            let age = c.shared.as_mut().and_then(|l| l.age(key, now, *ttl_ns));
                            (age.is_some(), age)
                        }
                    },
                    CacheScope::Local => {
                        let i = &mut self.instances[inst];
                        match &c.model {
                            HitModel::Ratio(p) => (i.rng.chance(*p), None),
                            HitModel::Keys { ttl_ns, .. } => {
                                let key = Cache::draw_key(&c.model, &mut i.rng);
                                q.keys[*slot as usize] = key;
                                let age = i
                                    .local_caches
                                    .iter_mut()
                                    .find(|(ci, _)| ci == cache)
                                    .and_then(|(_, l)| l.age(key, now, *ttl_ns));
                                (age.is_some(), age)
                            }
                        }
                    }
                };
                // Written since it was stored: stale, or (invalidated) gone.
                let written = match age {
                    Some(age) if c.update_rate_per_key > 0.0 => {
                        let rate = c.update_rate_per_key;
                        let rng = match c.scope {
                            CacheScope::Shared => &mut c.rng,
                            CacheScope::Local => &mut self.instances[inst].rng,
                        };
                        Cache::written_since(rate, age, rng)
                    }
                    _ => false,
                };
                let hit = hit && !(written && c.invalidate_on_write);
                if hit && written {
                    c.stale_hits.inc();
                }
                c.gets.inc();
                if hit {
                    c.hits.inc();
                    q.pc = *hit_target;
                } else {
                    c.misses.inc();
                    q.pc += 1;
                }
                Action::Continue
            }
            Op::CacheSet { cache, slot } => {
                let c = &mut self.caches[*cache as usize];
                if let Some(trip) = cache_trip(c, q, &mut self.instances[inst].rng, now) {
                    return trip;
                }
                q.phase = phase::START;
                q.pc += 1;
                c.sets.inc();
                let key = q.keys[*slot as usize];
                if c.scope == CacheScope::Shared {
                    if let Some(l) = c.shared.as_mut() {
                        l.insert(key, now);
                    }
                } else if let Some((_, l)) = self.instances[inst]
                    .local_caches
                    .iter_mut()
                    .find(|(ci, _)| ci == cache)
                    && matches!(c.model, HitModel::Keys { .. })
                {
                    l.insert(key, now);
                }
                Action::Continue
            }
            Op::Query { db, query, write } => {
                let database = &mut self.dbs[*db as usize];
                match q.phase {
                    phase::START => {
                        if database.needs_key {
                            let rng = &mut self.instances[inst].rng;
                            q.keys[DB_KEY] = draw_key(database.zipf.as_ref(), database.keys, rng);
                        }
                        Action::Acquire {
                            db: *db,
                            write: *write,
                        }
                    }
                    phase::CONNECTED => {
                        // Handshake done; the database spends CPU setting the session up
                        // (a pooler's client connection costs the database nothing).
                        q.phase = phase::CONNECT_CPU_DONE;
                        q.sub_enter = now;
                        let node = &mut self.db_nodes[q.conn_node as usize];
                        let cpu = database.connect_cpu.sample(&mut node.rng);
                        if cpu.0 == 0 || database.pooler.is_some() {
                            Action::Continue
                        } else {
                            Action::Serve {
                                station: node.station,
                                service: cpu,
                                phase: Phase::Connect,
                                back: SimDuration::ZERO,
                                back_phase: Phase::Connect,
                            }
                        }
                    }
                    phase::CONNECT_CPU_DONE | phase::GATE_GRANTED => {
                        let node = &mut self.db_nodes[q.conn_node as usize];
                        if database.pooler.is_some() && q.phase == phase::CONNECT_CPU_DONE {
                            // Transaction pooling: a server connection for this query.
                            if node.gate_free == 0 {
                                q.phase = phase::GATE_WAIT;
                                q.clock.enter(now.0, Phase::PoolWait);
                                node.gate_waiters.push_back((r, now));
                                node.gate_waiting.inc(now);
                                return Action::Park;
                            }
                            node.gate_free -= 1;
                            node.gate_wait.record(0);
                        }
                        // The query's round trip on the network is spent after its
                        // service, so that one event brings it back (see
                        // `super::station`).
                        q.phase = phase::SERVED;
                        q.sub_enter = now;
                        let extra = spike_extra(database.spike, now);
                        let back = SimDuration(database.network.sample(&mut node.rng).0 + extra.0);
                        if node.is_down(now) {
                            // Nobody answers: give the connection back and fail.
                            q.call_error = Some(ErrorCause::DbDown);
                            return Action::Delay(back, Phase::Network);
                        }
                        if !*write && node.replica && database.track_stale {
                            database.replica_reads.inc();
                            if database
                                .visible_at
                                .get(&q.keys[DB_KEY])
                                .is_some_and(|t| *t > now)
                            {
                                database.stale_reads.inc();
                            }
                        }
                        let qr = &mut database.queries[*query as usize];
                        let cost = qr.cost.sample(&mut node.rng);
                        qr.count.inc();
                        qr.time.record(cost.0);
                        Action::Serve {
                            station: node.station,
                            service: cost,
                            phase: Phase::DbService,
                            back,
                            back_phase: Phase::Network,
                        }
                    }
                    _ => {
                        // Query answered (or its node died): give the connection back.
                        q.phase = phase::START;
                        q.pc += 1;
                        let pool = q.conn_pool;
                        let node = q.conn_node;
                        let since = q.conn_since;
                        q.conn_pool = NONE;
                        q.conn_node = NONE;
                        if self.db_nodes[node as usize]
                            .killed_at
                            .is_some_and(|t| t >= q.sub_enter)
                        {
                            q.call_error = Some(ErrorCause::DbDown);
                        }
                        let failed = q.call_error.take();
                        if failed.is_none()
                            && *write
                            && (database.track_stale || database.read_your_writes)
                        {
                            let n = &mut self.db_nodes[node as usize];
                            let visible = now + database.lag.sample(&mut n.rng);
                            database.written(q.keys[DB_KEY], q.session, visible, now);
                        }
                        if database.pooler.is_some() {
                            self.release_gate(node);
                        }
                        if pool != NONE {
                            self.release(pool, node, since);
                        }
                        match failed {
                            Some(cause) => Action::Fail(cause),
                            None => Action::Continue,
                        }
                    }
                }
            }
        }
    }

    /// A query behind a pooler is done with its server connection: the next query
    /// waiting in the pooler gets it.
    #[inline(never)]
    fn release_gate(&mut self, node: u32) {
        let now = self.now;
        let n = &mut self.db_nodes[node as usize];
        if let Some((w, since)) = n.gate_waiters.pop_front() {
            n.gate_waiting.dec(now);
            n.gate_wait.record(now.since(since).0);
            self.requests[w.idx as usize].phase = phase::GATE_GRANTED;
            self.queue.schedule(now, Event::Resume { req: w });
        } else {
            n.gate_free += 1;
        }
    }

    /// Ends a request at its instance (success or failure) and reports to the client.
    pub(super) fn finish(&mut self, r: ReqRef, outcome: Result<(), ErrorCause>) {
        self.finish_inline(r, outcome);
    }

    /// [`World::finish`], inlined where a request's program ends: once per request.
    #[inline(always)]
    fn finish_inline(&mut self, r: ReqRef, outcome: Result<(), ErrorCause>) {
        let now = self.now;
        let q = &mut self.requests[r.idx as usize];
        let (inst, admitted, doomed, endpoint, lb, breaker, inst_enter) = (
            q.instance,
            q.admitted,
            q.doomed,
            q.endpoint,
            q.lb,
            q.breaker,
            q.inst_enter,
        );
        if lb != NONE {
            let lb = &mut self.lbs[lb as usize];
            lb.in_flight = lb.in_flight.saturating_sub(1);
        }
        if breaker != NONE {
            self.breakers[breaker as usize].record(outcome.is_ok(), now);
        }
        let q = &mut self.requests[r.idx as usize];
        if !q.own_conns.is_empty() {
            let own = std::mem::take(&mut q.own_conns);
            for (_, node) in &own {
                self.close_db_connection(*node);
            }
            self.requests[r.idx as usize].own_conns = own;
        }
        self.respond(r, outcome);
        if self.requests[r.idx as usize].call_deadline.is_some() {
            self.disarm_call(r);
        }
        let q = &mut self.requests[r.idx as usize];
        q.live = false;
        q.generation = q.generation.wrapping_add(1);
        self.free.push(r.idx);
        self.in_flight -= 1;
        if inst != NONE {
            let i = &mut self.instances[inst as usize];
            if outcome.is_ok() {
                let q = &self.requests[r.idx as usize];
                let tier = &mut self.tiers[i.tier as usize];
                tier.served.record(now.since(q.sent_at).0);
                tier.breakdown.record(&q.clock, now.0, 0);
                if matches!(q.origin, Origin::Client) {
                    tier.served_users.inc();
                }
            }
            i.in_system.dec(now);
            i.sojourn.record(now.since(inst_enter).0);
            if admitted {
                // A crashed instance's memory is gone already.
                if i.admission_work && !doomed {
                    let memory = self.endpoint_memory_kb[endpoint as usize];
                    i.memory_kb = i.memory_kb.saturating_sub(memory);
                }
                i.busy_slots.dec(now);
                // Most instances have nobody waiting: no call then.
                if !i.accept_queue.is_empty() {
                    self.start_next_queued(inst);
                }
            }
            let i = &self.instances[inst as usize];
            if i.state == InstanceState::Draining && i.in_system.value() == 0 {
                self.stop_instance(inst);
            }
        }
    }

    // ----- stations ------------------------------------------------------------------

    fn station_arrive(&mut self, s: u32, r: ReqRef, service: SimDuration, phase: Phase) {
        let now = self.now;
        let q = &mut self.requests[r.idx as usize];
        q.sub_enter = now;
        let st = &mut self.stations[s as usize];
        st.record_arrival(now, service);
        if st.busy.value() < st.servers {
            q.clock.enter(now.0, phase);
            st.busy.inc(now);
            st.wait.record(0);
            self.queue
                .schedule(now + service, Event::ServiceDone { station: s, req: r });
        } else {
            q.clock.enter(now.0, st.wait_phase);
            q.serve_phase = phase;
            st.delayed.inc();
            st.queue.push_back((r, service, now));
            st.queue_len.inc(now);
        }
    }

    /// A request visits a station planned at arrival: it comes back once served (its
    /// service spent in `phase`) and after the way `back` (spent in `back_phase`).
    #[inline]
    fn visit(
        &mut self,
        r: ReqRef,
        s: u32,
        service: SimDuration,
        phase: Phase,
        back: SimDuration,
        back_phase: Phase,
    ) {
        let now = self.now;
        let st = &mut self.stations[s as usize];
        let wait_phase = st.wait_phase;
        let planned = st.plan(now, service);
        let q = &mut self.requests[r.idx as usize];
        q.sub_enter = now;
        if planned.start > now {
            q.clock.enter(now.0, wait_phase);
        }
        q.clock.enter(planned.start.0, phase);
        if back.0 > 0 && back_phase != phase {
            q.clock.enter(planned.end.0, back_phase);
        }
        self.queue
            .schedule(planned.end + back, Event::Resume { req: r });
    }

    fn service_done(&mut self, s: u32, r: ReqRef) {
        let now = self.now;
        let st = &mut self.stations[s as usize];
        let enter = self.requests[r.idx as usize].sub_enter;
        st.sojourn.record(now.since(enter).0);
        // With servers removed during the run, a finishing server may have to go idle
        // even with work waiting.
        if st.busy.value() > st.servers {
            st.busy.dec(now);
        } else if let Some((next, service, since)) = st.queue.pop_front() {
            st.queue_len.dec(now);
            st.wait.record(now.since(since).0);
            let q = &mut self.requests[next.idx as usize];
            q.clock.enter(now.0, q.serve_phase);
            self.queue.schedule(
                now + service,
                Event::ServiceDone {
                    station: s,
                    req: next,
                },
            );
        } else {
            st.busy.dec(now);
        }
        // A request whose program ends with this service answers here, past the step's
        // jump on the kind of operation.
        let q = &self.requests[r.idx as usize];
        if !q.doomed && matches!(self.ops[q.pc as usize], Op::End) {
            self.finish_inline(r, Ok(()));
        } else {
            self.advance(r);
        }
    }

    // ----- connections ---------------------------------------------------------------

    /// Gets a connection for the current query. Returns `true` if the request can go on
    /// now; otherwise it was parked (waiting, connecting) or failed.
    fn acquire(&mut self, r: ReqRef, db: u32, write: bool) -> bool {
        let now = self.now;
        let q = &self.requests[r.idx as usize];
        let (inst, key, session) = (q.instance as usize, q.keys[DB_KEY], q.session);
        let Some(access) = self.instances[inst]
            .db_access
            .iter()
            .find(|a| a.db == db)
            .copied()
        else {
            unreachable!("validation guarantees a pool for every database a tier queries")
        };
        let database = &mut self.dbs[db as usize];
        let shard = database.shard_of(key);
        // Read-your-writes: a session whose write has not reached the replicas yet reads
        // from the primary.
        let pending_own_write = !write
            && (database.read_your_writes || database.track_stale)
            && database
                .session_visible
                .get(&session)
                .is_some_and(|t| *t > now);
        let own_write = pending_own_write && database.read_your_writes;
        if own_write {
            database.own_write_reads.inc();
        } else if pending_own_write {
            // To a replica that may not have the user's own write yet.
            database.own_writes_unseen.inc();
        }

        if access.base == NONE {
            // Per-request connection: reuse this request's own to the shard, or open one
            // to its primary.
            let node = database.primary(shard);
            let q = &mut self.requests[r.idx as usize];
            if q.own_conns.iter().any(|&(_, n)| n == node) {
                q.conn_pool = NONE;
                q.conn_node = node;
                q.phase = phase::CONNECT_CPU_DONE;
                return true;
            }
            return self.open_connection(r, NONE, node);
        }

        let pool_idx = if !write && !own_write && access.readers {
            access.reader(shard)
        } else {
            access.writer(shard)
        };
        let pool = &mut self.pools[pool_idx as usize];
        pool.acquires.inc();
        pool.in_system.inc(now);
        self.requests[r.idx as usize].conn_since = now;
        // A read picks its replica first, then a connection to it.
        let replica = self.pools[pool_idx as usize]
            .reader
            .then(|| self.pick_replica(db, shard));
        let pool = &mut self.pools[pool_idx as usize];
        let idle = match replica {
            None => pool.idle.pop(),
            Some(node) => match pool.idle.iter().rposition(|n| *n == node) {
                Some(k) => Some(pool.idle.swap_remove(k)),
                // None to it: open one if the pool may, else use another idle one.
                None if pool.open.value() < pool.size => None,
                None => self.pick_idle_reader(pool_idx),
            },
        };
        let pool = &mut self.pools[pool_idx as usize];
        if let Some(node) = idle {
            pool.in_use.inc(now);
            pool.wait.record(0);
            let q = &mut self.requests[r.idx as usize];
            q.conn_pool = pool_idx;
            q.conn_node = node;
            q.phase = phase::CONNECT_CPU_DONE;
            return true;
        }
        if pool.open.value() < pool.size {
            pool.open.inc(now);
            pool.in_use.inc(now);
            pool.wait.record(0);
            let node = match replica {
                Some(node) => node,
                None => self.node_for_new_connection(pool_idx),
            };
            return self.open_connection(r, pool_idx, node);
        }
        // Pool exhausted: wait in line.
        self.requests[r.idx as usize]
            .clock
            .enter(now.0, Phase::PoolWait);
        let pool = &mut self.pools[pool_idx as usize];
        let deadline = now + pool.acquire_timeout;
        pool.waiters.push_back((r, deadline, now));
        pool.waiting.inc(now);
        pool.delayed.inc();
        if !pool.deadline_armed {
            pool.deadline_armed = true;
            self.queue
                .schedule(deadline, Event::PoolDeadline { pool: pool_idx });
        }
        false
    }

    /// The database node a new connection of `pool` goes to: the primary for writers,
    /// a replica picked by the database's policy for readers.
    pub(super) fn node_for_new_connection(&mut self, pool_idx: u32) -> u32 {
        let pool = &self.pools[pool_idx as usize];
        let (db, shard) = (pool.db, pool.shard);
        if pool.reader {
            self.pick_replica(db, shard)
        } else {
            self.dbs[db as usize].primary(shard)
        }
    }

    /// The replica of `shard` a read goes to: a random one, or the one with the fewest
    /// queries in progress (ties at random).
    fn pick_replica(&mut self, db: u32, shard: u32) -> u32 {
        let database = &mut self.dbs[db as usize];
        let first = (shard * database.per_shard) as usize;
        let replicas = &database.nodes[first + 1..first + database.per_shard as usize];
        if let [only] = replicas {
            // Nothing to choose (and no random draw for it).
            return *only;
        }
        match database.replica_policy {
            crate::model::ReplicaPolicy::Random => {
                replicas[database.rng.below(replicas.len() as u64) as usize]
            }
            crate::model::ReplicaPolicy::LeastLoaded => {
                let now = self.now;
                for &n in replicas {
                    self.stations[self.db_nodes[n as usize].station as usize].settle(now);
                }
                let load = |n: u32| {
                    let station = self.db_nodes[n as usize].station;
                    self.stations[station as usize].in_system()
                };
                least_loaded(replicas.iter().copied(), load, &mut database.rng)
            }
        }
    }

    /// An idle connection of reader pool `pool_idx` when none goes to the replica a
    /// read picked: a random one, or the one to the least loaded replica.
    fn pick_idle_reader(&mut self, pool_idx: u32) -> Option<u32> {
        let pool = &self.pools[pool_idx as usize];
        if pool.idle.is_empty() {
            return None;
        }
        let database = &mut self.dbs[pool.db as usize];
        let k = match database.replica_policy {
            crate::model::ReplicaPolicy::Random => {
                database.rng.below(pool.idle.len() as u64) as usize
            }
            crate::model::ReplicaPolicy::LeastLoaded => {
                let now = self.now;
                for &n in &pool.idle {
                    self.stations[self.db_nodes[n as usize].station as usize].settle(now);
                }
                let load = |k: usize| {
                    let station = self.db_nodes[pool.idle[k] as usize].station;
                    self.stations[station as usize].in_system()
                };
                least_loaded(0..pool.idle.len(), load, &mut database.rng)
            }
        };
        Some(self.pools[pool_idx as usize].idle.swap_remove(k))
    }

    /// Opens a new connection to `node` for the request (for `pool`, or its own when
    /// `pool` is `NONE`). Fails the request if the node is at `max_connections`.
    pub(super) fn open_connection(&mut self, r: ReqRef, pool: u32, node: u32) -> bool {
        let now = self.now;
        let n = &mut self.db_nodes[node as usize];
        let database = &self.dbs[n.db as usize];
        let pooled = database.pooler.is_some();
        let refused = if n.is_down(now) {
            Some(ErrorCause::DbDown)
        } else if !pooled && n.connections.value() >= database.max_connections {
            n.refused.inc();
            Some(ErrorCause::DbRefused)
        } else {
            None
        };
        if let Some(cause) = refused {
            if pool != NONE {
                // The connection it was opening is not there: it leaves the pool.
                let since = self.requests[r.idx as usize].conn_since;
                let p = &mut self.pools[pool as usize];
                p.open.dec(now);
                p.in_use.dec(now);
                p.in_system.dec(now);
                p.sojourn.record(now.since(since).0);
            }
            self.finish(r, Err(cause));
            return false;
        }
        if !pooled {
            n.connections.inc(now);
            n.peak_connections = n.peak_connections.max(n.connections.value());
        }
        let handshake = database.connect_time.sample(&mut n.rng);
        let db = n.db;
        let q = &mut self.requests[r.idx as usize];
        q.conn_pool = pool;
        q.conn_node = node;
        q.phase = phase::CONNECTED;
        q.clock.enter(now.0, Phase::Connect);
        if pool == NONE {
            q.own_conns.push((db, node));
        }
        self.queue
            .schedule(now + handshake, Event::Resume { req: r });
        false
    }

    /// A connection to `node` closes. Behind a pooler it was a client connection to the
    /// pooler, which keeps its server connections to the database open.
    pub(super) fn close_db_connection(&mut self, node: u32) {
        let n = &mut self.db_nodes[node as usize];
        if self.dbs[n.db as usize].pooler.is_none() {
            n.connections.dec(self.now);
        }
    }

    /// Returns a pooled connection held since `since`: straight to the next waiter,
    /// else to the idle set.
    fn release(&mut self, pool_idx: u32, node: u32, since: SimTime) {
        let now = self.now;
        let pool = &mut self.pools[pool_idx as usize];
        pool.in_system.dec(now);
        pool.sojourn.record(now.since(since).0);
        if pool.open.value() > pool.size {
            // The pool was made smaller during the run: close this connection.
            pool.in_use.dec(now);
            pool.open.dec(now);
            self.close_db_connection(node);
            return;
        }
        if let Some((w, _, since)) = pool.waiters.pop_front() {
            pool.waiting.dec(now);
            pool.wait.record(now.since(since).0);
            let q = &mut self.requests[w.idx as usize];
            q.conn_pool = pool_idx;
            q.conn_node = node;
            q.phase = phase::CONNECT_CPU_DONE;
            self.queue.schedule(now, Event::Resume { req: w });
        } else {
            pool.in_use.dec(now);
            pool.idle.push(node);
        }
    }

    fn pool_deadlines(&mut self, pool_idx: u32) {
        let now = self.now;
        loop {
            let pool = &mut self.pools[pool_idx as usize];
            let Some(&(r, deadline, since)) = pool.waiters.front() else {
                pool.deadline_armed = false;
                return;
            };
            if deadline > now {
                self.queue
                    .schedule(deadline, Event::PoolDeadline { pool: pool_idx });
                return;
            }
            pool.waiters.pop_front();
            pool.waiting.dec(now);
            pool.timeouts.inc();
            pool.wait.record(now.since(since).0);
            pool.in_system.dec(now);
            pool.sojourn.record(now.since(since).0);
            self.finish(r, Err(ErrorCause::PoolTimeout));
        }
    }

    // ----- measurement ---------------------------------------------------------------

    /// The end of the warm-up: every meter marks it, so the summary counts from here.
    fn mark_warmup(&mut self) {
        // Every field is named, so a new collection of component state does not compile
        // until it says here whether it has meters to mark.
        let World {
            now,
            warm,
            per_endpoint,
            late_responses,
            clients,
            lbs,
            limiters,
            cdns,
            autoscalers,
            tiers,
            breakers,
            queues,
            instances,
            stations,
            pools,
            caches,
            dbs,
            db_nodes,
            // State without meters.
            seed: _,
            queue: _,
            warmup_end: _,
            sample_interval: _,
            last_sample: _,
            lazy_sampling: _,
            partitions: _,
            programs: _,
            ops: _,
            requests: _,
            free: _,
            in_flight: _,
            sessions_needed: _,
            endpoint_memory_kb: _,
            call_timeouts: _,
            call_timer: _,
            interval_scratch: _,
            sample_values: _,
            index: _,
        } = self;
        let now = *now;
        *warm = true;
        for m in per_endpoint {
            m.mark_warmup();
        }
        late_responses.mark_warmup();
        fn mark<T: Warm>(items: &mut [T], now: SimTime) {
            for item in items {
                item.mark_warmup(now);
            }
        }
        // Each kind marks its own meters.
        mark(clients, now);
        mark(lbs, now);
        mark(limiters, now);
        mark(cdns, now);
        mark(autoscalers, now);
        mark(tiers, now);
        mark(breakers, now);
        mark(queues, now);
        mark(instances, now);
        mark(stations, now);
        mark(pools, now);
        mark(caches, now);
        mark(dbs, now);
        mark(db_nodes, now);
    }
}

/// The CPU time of a step drawn from `s` on instance `i` (scaled by its CPU speed).
#[inline(always)]
fn cpu_time(s: &super::sampler::Sampler, i: &mut Instance) -> SimDuration {
    let d = s.sample(&mut i.rng);
    if i.cpu_speed != 1.0 {
        SimDuration::from_sampled_nanos(d.0 as f64 / i.cpu_speed)
    } else {
        d
    }
}

/// Whose turn it is in a round robin over `n` (> 0) members, moving the turn on. Only
/// after members left can the turn be past the end, so it wraps without a division else.
#[inline]
fn round_robin(turn: &mut usize, n: usize) -> usize {
    let k = if *turn < n { *turn } else { *turn % n };
    *turn = if k + 1 == n { 0 } else { k + 1 };
    k
}

/// The item of least `load`, ties broken uniformly at random (the k-th tie replaces
/// the pick with probability 1/k).
fn least_loaded<T: Copy>(
    items: impl Iterator<Item = T>,
    load: impl Fn(T) -> u32,
    rng: &mut crate::sim::SimRng,
) -> T {
    let mut best: Option<(T, u32)> = None;
    let mut ties = 0;
    for item in items {
        let l = load(item);
        match best {
            Some((_, b)) if l > b => {}
            Some((_, b)) if l == b => {
                ties += 1;
                if rng.below(ties) == 0 {
                    best = Some((item, l));
                }
            }
            _ => {
                best = Some((item, l));
                ties = 1;
            }
        }
    }
    best.map(|(item, _)| item)
        .unwrap_or_else(|| unreachable!("a shard with a reader pool has replicas"))
}

/// Two distinct indices from `0..n`, uniformly (`n` ≥ 2; with one backend, it twice).
#[inline]
pub fn two_distinct(rng: &mut crate::sim::SimRng, n: usize) -> (usize, usize) {
    if n < 2 {
        return (0, 0);
    }
    let i = rng.below(n as u64) as usize;
    let j = rng.below(n as u64 - 1) as usize;
    (i, if j >= i { j + 1 } else { j })
}

/// An operation that crosses the network to a dependency fails at once while a
/// partition refuses connections, and hangs where one drops packets until it heals, or
/// until a call's timeout if that comes first; the time held is taken off the call's
/// timeout. `None`: the operation goes on as usual. Kept out of [`World::step`]: it only
/// The trip of a cache operation to where it is served, in phases: over the network to a
/// shared cache, then through its server; or the lookup's time in the instance's own
/// memory. `None` once served: the operation itself comes next.
#[inline(always)]
fn cache_trip(
    c: &mut Cache,
    q: &mut Request,
    local: &mut crate::sim::SimRng,
    now: SimTime,
) -> Option<Action> {
    match (c.scope, q.phase) {
        (CacheScope::Shared, phase::START) => {
            // The round trip on the network is spent after the cache's work, so that
            // one event brings the request back (see `super::station`).
            q.phase = phase::SERVED;
            let extra = spike_extra(c.spike, now);
            let back = SimDuration(c.network.sample(&mut c.rng).0 + extra.0);
            Some(Action::Serve {
                station: c.station,
                service: c.op.sample(&mut c.rng),
                phase: Phase::Cache,
                back,
                back_phase: Phase::Cache,
            })
        }
        (CacheScope::Local, phase::START) => {
            q.phase = phase::SERVED;
            Some(Action::Delay(c.op.sample(local), Phase::Cache))
        }
        _ => None,
    }
}

/// runs while partitions exist.
#[cold]
#[inline(never)]
fn network_gate(
    q: &mut Request,
    op: &Op,
    tier: u32,
    now: SimTime,
    partitions: &[Partition],
    caches: &[Cache],
    breakers: &mut [Breaker],
) -> Option<Action> {
    let held_before = q.phase == phase::PARTITION_WAIT;
    let to = match op {
        Op::Query { db, .. } => Cut::Db(*db),
        Op::CacheGet { cache, .. } | Op::CacheSet { cache, .. }
            if caches[*cache as usize].scope == CacheScope::Shared =>
        {
            Cut::Cache(*cache)
        }
        Op::Call { target, .. } => Cut::Service(*target),
        Op::Enqueue { queue, .. } => Cut::Queue(*queue),
        _ => return None,
    };
    // A circuit breaker sits on the caller's side: an open one answers at once without
    // touching the network, and it counts the calls a partition fails.
    let breaker = match op {
        Op::Call {
            target: Target::Breaker(b),
            ..
        } => Some(*b as usize),
        _ => None,
    };
    q.phase = phase::START;
    if breaker.is_some_and(|b| !breakers[b].would_admit(now)) {
        return None;
    }
    let since = if held_before { q.sub_enter } else { now };
    let mut fail = |cause| {
        if let Some(b) = breaker
            && breakers[b].admit(now)
        {
            breakers[b].record(false, now);
        }
        Some(Action::Fail(cause))
    };
    match crossing(partitions, now, tier, to) {
        Crossing::Open => match op {
            Op::Call {
                target,
                endpoint,
                timeout,
            } if held_before => {
                // The call goes out now, with what is left of its timeout.
                q.phase = phase::SERVED;
                Some(Action::Call {
                    target: *target,
                    endpoint: *endpoint,
                    timeout: timeout.map(|t| SimDuration(t.0.saturating_sub(now.since(since).0))),
                })
            }
            _ => None,
        },
        Crossing::Refused => fail(ErrorCause::Partitioned),
        Crossing::DroppedUntil(heals) => {
            let deadline = match op {
                Op::Call {
                    timeout: Some(t), ..
                } => Some(since + *t),
                _ => None,
            };
            if deadline.is_some_and(|d| d <= now) {
                return fail(ErrorCause::CallTimeout);
            }
            q.phase = phase::PARTITION_WAIT;
            q.sub_enter = since;
            let wake = deadline.map_or(heals, |d| d.min(heals));
            Some(Action::Delay(wake.since(now), Phase::Network))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round robin takes each member in turn, and a turn left past the end by members
    /// that left wraps as a remainder would.
    #[test]
    fn round_robin_takes_turns_and_wraps_after_members_leave() {
        let mut turn = 0;
        let taken: Vec<usize> = (0..7).map(|_| round_robin(&mut turn, 3)).collect();
        assert_eq!(taken, [0, 1, 2, 0, 1, 2, 0]);
        // Five members, the turn at the fifth; then two leave.
        let mut turn = 4;
        assert_eq!(round_robin(&mut turn, 3), 1);
        assert_eq!(round_robin(&mut turn, 3), 2);
        assert_eq!(round_robin(&mut turn, 3), 0);
    }

    /// The instances `route` picks, `n` times at one instant, for the first load
    /// balancer of `ron` (nothing admitted: every backend keeps its load).
    fn picks(ron: &str, n: usize) -> Vec<u32> {
        let sc = crate::model::load_str(ron).expect("valid");
        let mut w = World::build(&sc, 1);
        (0..n)
            .map(|_| {
                let r = w.new_request(Origin::Client, 0, 0, 0);
                match w.route(Target::LoadBalancer(0), 0, r) {
                    Routed::Instance(i) => i,
                    _ => panic!("not routed to an instance"),
                }
            })
            .collect()
    }

    const THREE_IDLE: &str = r#"Scenario(
        version: 1,
        endpoints: {"GET /": (steps: [Cpu(Exp(mean_ms: 1.0))])},
        components: [
            Client(id: "users", target: "lb", arrivals: Poisson(rate_per_sec: 1.0)),
            LoadBalancer(id: "lb", policy: LeastConnections, backends: ["app"]),
            App(id: "app", instances: 3),
        ],
    )"#;

    #[test]
    fn least_connections_breaks_ties_at_random() {
        // Three idle backends tie every time. Round-robin tie-breaking (as before)
        // would follow 0, 1, 2, 0, … every time; a random tie-break follows the
        // previous pick's successor a third of the time, and picks each a third.
        let p = picks(THREE_IDLE, 30_000);
        let successor = p.windows(2).filter(|w| w[1] == (w[0] + 1) % 3).count();
        let share = successor as f64 / (p.len() - 1) as f64;
        // Binomial(29,999, 1/3): standard deviation 0.0027; five of them.
        assert!((share - 1.0 / 3.0).abs() < 0.014, "successor share {share}");
        for i in 0..3 {
            let k = p.iter().filter(|x| **x == i).count() as f64 / p.len() as f64;
            assert!((k - 1.0 / 3.0).abs() < 0.014, "instance {i} share {k}");
        }
    }

    #[test]
    fn two_distinct_draws_each_ordered_pair_equally_often() {
        let mut rng = crate::sim::SimRng::stream(7, "pairs");
        for n in 2..=5usize {
            let mut counts = vec![0u32; n * n];
            let draws = 20_000 * n * (n - 1);
            for _ in 0..draws {
                let (i, j) = two_distinct(&mut rng, n);
                assert_ne!(i, j, "a backend compared with itself");
                counts[i * n + j] += 1;
            }
            // Every ordered pair of distinct backends 20,000 times on average (SD 141).
            for i in 0..n {
                for j in (0..n).filter(|j| *j != i) {
                    let c = f64::from(counts[i * n + j]);
                    assert!((c - 20_000.0).abs() < 5.0 * 141.5, "n {n}: ({i}, {j}) {c}");
                }
            }
        }
    }
}
