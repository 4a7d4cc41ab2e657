//! A client: open-loop arrivals or closed-loop users, timeouts and retries.

use std::collections::{BTreeMap, VecDeque};

use crate::metrics::level::Counter;
use crate::metrics::{Glance, Headline};
use crate::model::{Arrivals, ClientSpec};
use crate::sim::{EventId, SimDuration, SimRng, SimTime};

use crate::engine::arrivals::ArrivalProcess;
use crate::engine::components::*;
use crate::engine::measure::{GlanceReader, SampleSpan, SeriesSink, SummaryParts, named};
use crate::engine::sampler::Sampler;
use crate::engine::world::{DEADLINES_COMPACT_MIN, Event, World};

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

impl World {
    pub(in crate::engine) fn build_client(&mut self, s: &ClientSpec) {
        let client = self.clients.len() as u32;
        let mut rng = SimRng::stream(self.seed, &s.id);
        let target = self.target_of(&s.target);
        let process = ArrivalProcess::new(&s.arrivals, &mut rng);
        let think = match &s.arrivals {
            Arrivals::Closed { users, think } => Some((Sampler::new(think), *users)),
            _ => None,
        };
        let needs_session = self.needs_session(target);
        self.clients.push(Client {
            id: s.id.clone(),
            rng,
            target,
            process,
            next_arrival: None,
            think,
            user_running: Vec::new(),
            mix: self.mix(&s.mix),
            timeout: s.timeout_ms.map(SimDuration::from_millis_f64),
            sessions: s.sessions,
            needs_session,
            deadlines: VecDeque::new(),
            deadline_armed: false,
            deadlines_compact_at: DEADLINES_COMPACT_MIN,
            sent: Counter::default(),
            retry: s.retry,
            retry_budget: s.retry_budget,
            retry_tokens: RETRY_RESERVE,
            pending_retries: Vec::new(),
            free_retry_slots: Vec::new(),
        });
        self.schedule_next_arrival(client);
        self.start_users(client);
    }

    /// Schedules the client's next open-loop arrival after now, if its process has one.
    /// (Always inlined, as is `World::send`: both run once per open-loop request, and a
    /// call costs a fair share of what they do.)
    #[inline(always)]
    pub(in crate::engine) fn schedule_next_arrival(&mut self, client: u32) {
        let now = self.now;
        let c = &mut self.clients[client as usize];
        let Some(p) = c.process.as_mut() else {
            c.next_arrival = None;
            return;
        };
        c.next_arrival = p.next_after(now, &mut c.rng).map(|t| {
            // The first client's arrivals, every scenario's most frequent event, wait
            // beside the event heap: one sift less a request.
            if client == 0 {
                self.queue.schedule_aside(t, Event::Arrival { client })
            } else {
                self.queue.schedule(t, Event::Arrival { client })
            }
        });
    }

    /// Starts every closed-loop user up to the target count that is not already running;
    /// users start spread over one think time, not all at once.
    pub(in crate::engine) fn start_users(&mut self, client: u32) {
        let now = self.now;
        let c = &mut self.clients[client as usize];
        let Some((think, users)) = &c.think else {
            return;
        };
        let users = *users as usize;
        if c.user_running.len() < users {
            c.user_running.resize(users, false);
        }
        for user in 0..users {
            if !c.user_running[user] {
                c.user_running[user] = true;
                let t = now + think.sample(&mut c.rng);
                self.queue.schedule(
                    t,
                    Event::UserReady {
                        client,
                        user: user as u32,
                    },
                );
            }
        }
    }

    /// Applies the live parameters of `new` to client `at`.
    pub(in crate::engine) fn change_client(
        &mut self,
        at: u32,
        old: &crate::model::ClientSpec,
        new: &crate::model::ClientSpec,
    ) {
        let mix = self.mix(&new.mix);
        let c = &mut self.clients[at as usize];
        c.mix = mix;
        c.timeout = new.timeout_ms.map(SimDuration::from_millis_f64);
        c.sessions = new.sessions;
        c.retry = new.retry;
        c.retry_budget = new.retry_budget;
        if old.arrivals != new.arrivals {
            self.change_arrivals(at, &new.arrivals);
        }
    }

    pub(in crate::engine) fn change_arrivals(
        &mut self,
        client: u32,
        arrivals: &crate::model::Arrivals,
    ) {
        let c = &mut self.clients[client as usize];
        if let Some(id) = c.next_arrival.take() {
            self.queue.cancel(id);
        }
        c.process = ArrivalProcess::new(arrivals, &mut c.rng);
        c.think = match arrivals {
            crate::model::Arrivals::Closed { users, think } => Some((Sampler::new(think), *users)),
            // Closed-loop users stop at their next turn (`user_may_send`).
            _ => None,
        };
        self.schedule_next_arrival(client);
        self.start_users(client);
    }

    /// A client's figures in the summary, its resources in the saturation ranking and its
    /// stations.
    pub(in crate::engine) fn client_figures(
        &self,
        id: &str,
        f: &mut BTreeMap<String, f64>,
        parts: &mut SummaryParts,
    ) {
        if let Some(c) = self.clients.iter().find(|c| c.id == id) {
            f.insert(
                "sent_per_sec".into(),
                c.sent.since_warmup() as f64 / parts.span_nz,
            );
        }
    }
}

impl super::Runtime for crate::model::ClientSpec {
    const BUILD_STAGE: u8 = 7;

    fn build(&self, w: &mut World) {
        w.build_client(self);
    }

    fn change(&self, w: &mut World, at: u32, old: &Self) {
        w.change_client(at, old, self);
    }

    fn figures(&self, w: &World, f: &mut BTreeMap<String, f64>, parts: &mut SummaryParts) {
        w.client_figures(&self.id, f, parts);
    }

    /// A client's chart series.
    fn traffic_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan) {
        let SampleSpan { secs, .. } = span;
        for c in &mut w.clients {
            out.put(
                || named(&c.id, "sent_per_sec"),
                || c.sent.take_sample() as f64 / secs,
            );
        }
    }

    /// A client at a glance: what it sends, and what share of all requests fail.
    fn glance(&self, _w: &World, g: &mut Glance, read: &GlanceReader) {
        g.rate_per_sec = read.get(&g.id, "sent_per_sec");
        g.error_share = GlanceReader::share(
            read.get("", "errors_per_sec"),
            read.get("", "offered_per_sec"),
        );
        g.headline = Headline::Client {
            sent_per_sec: g.rate_per_sec,
        };
    }
}
