//! Queueing stations: first-come-first-served multi-server resources (app cores,
//! database cores, a cache's servers).
//!
//! A station serves in one of two ways:
//!
//! - **By events** (app cores): a request finding every server busy waits in the
//!   station's line, and each `ServiceDone` event starts the next one. Live changes
//!   (crashes, restarts, more or fewer cores) act on the line as it stands.
//! - **Planned at arrival** (database and cache servers): a request's start and end are
//!   decided when it arrives ([`Station::plan`]), from each server's end of the work
//!   already planned for it: the Lindley recursion, exact for a first-come-first-served
//!   line whose requests bring their service time with them. The request then comes
//!   back through one event, after its service and the network's way back, where by
//!   events it took two (the network, then the service); a typical request's remote
//!   calls are a quarter of its events. The busy servers and the line are brought up
//!   to date ([`Station::settle`]) before anything reads them.

use std::collections::VecDeque;

use crate::metrics::breakdown::Phase;
use crate::metrics::level::{Counter, DurationSum, Level, Moments, Occupancy};
use crate::sim::queue::sift_down_from_top;
use crate::sim::{SimDuration, SimTime};

use super::components::{ReqRef, Warm};

/// A FCFS multi-server resource: app cores, database cores, a cache server.
pub struct Station {
    pub servers: u32,
    /// What a request waiting in its line is doing, for the latency breakdown.
    pub wait_phase: Phase,
    /// Busy servers, against `servers` while its instance is up (0 while it is down).
    pub busy: Occupancy,
    /// The line of a station served by events: request, service, arrival.
    pub queue: VecDeque<(ReqRef, SimDuration, SimTime)>,
    pub queue_len: Level,
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
    /// Of a station planned at arrival: its servers' planned work.
    plan: Plan,
}

/// The planned work of a station that decides each request's start and end when it
/// arrives (empty for a station served by events).
///
/// A server's busy spell is counted in [`Station::busy`] from its start; its end is
/// recorded there when the server is next given a request, or when the station is
/// settled. A planned request is counted in [`Station::queue_len`] from its arrival;
/// its start is recorded there once passed, at the next request or settling.
#[derive(Debug, Default)]
struct Plan {
    /// Its servers, a binary min-heap on the end of their planned work: the first is
    /// the one free earliest, found at once however many cores a database has.
    servers: Vec<Server>,
    /// Servers taken away that still finish their planned work: its ends.
    retiring: Vec<SimTime>,
    /// Starts of the planned requests counted in the line, in order (they never
    /// decrease).
    starts: VecDeque<SimTime>,
    /// Reused by [`Station::settle`] to put the ends it records in order.
    due: Vec<SimTime>,
}

/// A server of a planned station.
#[derive(Clone, Copy, Debug)]
struct Server {
    /// When its planned work ends (not after now: it is idle).
    end: SimTime,
    /// Whether its busy spell is still counted in the busy level (its end not yet
    /// recorded there).
    counted: bool,
}

/// When a planned request starts and ends its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    pub start: SimTime,
    pub end: SimTime,
}

impl Warm for Station {
    fn mark_warmup(&mut self, now: SimTime) {
        self.settle(now);
        self.busy.mark_warmup(now);
        self.queue_len.mark_warmup(now);
        self.sojourn.mark_warmup();
        self.wait.mark_warmup();
        self.arrivals.mark_warmup();
        self.delayed.mark_warmup();
        self.interarrival.mark_warmup();
        self.service.mark_warmup();
    }
}

impl Station {
    /// A station served by events, with `servers` servers, counted in capacity from
    /// `now` if `up`; a request in its line is in `wait_phase`.
    pub fn new(servers: u32, now: SimTime, up: bool, wait_phase: Phase) -> Self {
        let mut busy = Occupancy::default();
        busy.set_servers(now, if up { servers } else { 0 });
        Self {
            servers,
            wait_phase,
            busy,
            queue: VecDeque::new(),
            queue_len: Level::default(),
            sojourn: DurationSum::default(),
            wait: DurationSum::default(),
            arrivals: Counter::default(),
            delayed: Counter::default(),
            interarrival: Moments::default(),
            last_arrival: None,
            service: Moments::default(),
            plan: Plan::default(),
        }
    }

    /// A station planned at arrival (see the module's documentation) with `servers`
    /// servers (at least one), up from `now`.
    pub fn planned(servers: u32, now: SimTime, wait_phase: Phase) -> Self {
        let mut st = Self::new(servers, now, true, wait_phase);
        let servers = servers.max(1) as usize;
        st.plan.servers = vec![
            Server {
                end: now,
                counted: false,
            };
            servers
        ];
        st
    }

    /// Whether requests are planned at arrival rather than served by events.
    #[inline]
    pub fn is_planned(&self) -> bool {
        !self.plan.servers.is_empty()
    }

    /// Requests at the station: in service or in its line (of a planned station, as of
    /// its last [`Station::settle`]). Not a level of its own: its time average is that
    /// of the two, see [`Station::mean_in_system`].
    #[inline]
    pub fn in_system(&self) -> u32 {
        self.busy.value() + self.queue_len.value()
    }

    /// Mean requests at the station since the warm-up.
    pub fn mean_in_system(&self, warmup_end: SimTime, now: SimTime) -> f64 {
        Level::mean_of_sum_since_warmup(self.busy.level(), &self.queue_len, warmup_end, now)
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

    /// Plans a request arriving now at a planned station for `service`: the server
    /// free earliest takes it, once free. Its wait and its time at the station are
    /// recorded now.
    #[inline]
    pub fn plan(&mut self, now: SimTime, service: SimDuration) -> Planned {
        debug_assert!(self.is_planned());
        if !self.plan.retiring.is_empty() {
            // Servers taken away are finishing: the capacity follows them exactly.
            self.settle(now);
        }
        self.record_arrival(now, service);
        let plan = &mut self.plan;
        leave_line_until(now, &mut plan.starts, &mut self.queue_len);
        let first = plan.servers[0];
        let start = first.end.max(now);
        let end = start + service;
        let mut counted = first.counted;
        if start == now {
            // An idle server: its last spell ended at `first.end`, a new one lasts to
            // `end` (a zero service is over at once).
            if first.counted {
                self.busy.dec_back_to(first.end);
            }
            counted = end > now;
            if counted {
                self.busy.inc(now);
            }
        }
        // The served one's new end in place of its old, then down to where it belongs.
        sift_down_from_top(&mut plan.servers, Server { end, counted }, |s| s.end);
        if start > now {
            // Its spell goes on through this request.
            self.delayed.inc();
            self.queue_len.inc(now);
            plan.starts.push_back(start);
        }
        self.wait.record(start.since(now).0);
        self.sojourn.record(end.since(now).0);
        Planned { start, end }
    }

    /// Brings a planned station's busy servers and line up to `now`: the servers whose
    /// planned work ended go idle, and the requests whose start came leave the line,
    /// each at its own time. (Nothing to do for a station served by events.)
    pub fn settle(&mut self, now: SimTime) {
        let plan = &mut self.plan;
        leave_line_until(now, &mut plan.starts, &mut self.queue_len);
        // In time order, so that the capacity follows servers taken away exactly.
        plan.due.clear();
        for server in &mut plan.servers {
            if server.counted && server.end <= now {
                server.counted = false;
                plan.due.push(server.end);
            }
        }
        if !plan.retiring.is_empty() {
            plan.due
                .extend(plan.retiring.iter().copied().filter(|end| *end <= now));
            plan.retiring.retain(|end| *end > now);
        }
        plan.due.sort_unstable();
        for &end in &plan.due {
            self.busy.dec_back_to(end);
        }
    }

    /// Gives a planned station `servers` servers (at least one) from `now`. New servers
    /// take new requests at once; of those taken away, the idle go first and the busy
    /// finish their planned work (a request planned keeps its start).
    pub fn replan_servers(&mut self, now: SimTime, servers: u32) {
        self.settle(now);
        let plan = &mut self.plan;
        let servers = servers.max(1) as usize;
        // In order of their ends, a valid heap, and the idle leave before the busy.
        // (Settled: a server is counted busy exactly when its work ends after now.)
        plan.servers.sort_unstable_by_key(|server| server.end);
        if servers >= plan.servers.len() {
            let idle = Server {
                end: now,
                counted: false,
            };
            plan.servers.resize(servers, idle);
            plan.servers.sort_unstable_by_key(|server| server.end);
            return;
        }
        let leaving = plan.servers.len() - servers;
        plan.retiring.extend(
            plan.servers
                .drain(..leaving)
                .filter(|server| server.end > now)
                .map(|server| server.end),
        );
    }
}

/// The planned requests whose start came by `now` leave the line (`starts`, counted in
/// `queue_len`), each at its start.
#[inline(always)]
fn leave_line_until(now: SimTime, starts: &mut VecDeque<SimTime>, queue_len: &mut Level) {
    while let Some(&start) = starts.front()
        && start <= now
    {
        queue_len.dec_back_to(start);
        starts.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BinaryHeap, VecDeque};

    use super::*;
    use crate::sim::SimRng;

    /// What a first-come-first-served line with `servers` servers does, run by events:
    /// each job's start, and the busy servers and line length between events.
    struct ByEvents {
        starts: Vec<SimTime>,
        /// `(time, busy, waiting)` from each event on.
        steps: Vec<(SimTime, u32, u32)>,
    }

    fn by_events(servers: u32, jobs: &[(SimTime, SimDuration)]) -> ByEvents {
        let mut starts = vec![SimTime::ZERO; jobs.len()];
        let mut steps = vec![(SimTime::ZERO, 0, 0)];
        let mut ends = BinaryHeap::new();
        let mut line: VecDeque<usize> = VecDeque::new();
        let (mut busy, mut next) = (0u32, 0usize);
        loop {
            // Departures before arrivals at the same instant: a server free at `t`
            // takes a request arriving at `t`.
            let departure = ends.peek().map(|e: &std::cmp::Reverse<SimTime>| e.0);
            let arrival = jobs.get(next).map(|j| j.0);
            let now = match (departure, arrival) {
                (Some(d), Some(a)) if d <= a => d,
                (Some(d), None) => d,
                (_, Some(a)) => a,
                (None, None) => break,
            };
            if departure == Some(now) {
                ends.pop();
                match line.pop_front() {
                    Some(j) => {
                        starts[j] = now;
                        ends.push(std::cmp::Reverse(now + jobs[j].1));
                    }
                    None => busy -= 1,
                }
            } else {
                if busy < servers {
                    busy += 1;
                    starts[next] = now;
                    ends.push(std::cmp::Reverse(now + jobs[next].1));
                } else {
                    line.push_back(next);
                }
                next += 1;
            }
            steps.push((now, busy, line.len() as u32));
        }
        ByEvents { starts, steps }
    }

    /// The reference's value at `t`, and its area up to `t`.
    fn read(
        steps: &[(SimTime, u32, u32)],
        t: SimTime,
        pick: fn(&(SimTime, u32, u32)) -> u32,
    ) -> (u32, u128) {
        let mut area = 0u128;
        let mut value = 0;
        for (k, s) in steps.iter().enumerate() {
            if s.0 > t {
                break;
            }
            let until = steps.get(k + 1).map_or(t, |n| n.0.min(t));
            value = pick(s);
            area += u128::from(value) * u128::from(until.0 - s.0.0);
        }
        (value, area)
    }

    fn jobs(seed: u64, n: usize, mean_gap: f64, mean_service: f64) -> Vec<(SimTime, SimDuration)> {
        let mut rng = SimRng::stream(seed, "station-test");
        let mut t = 0.0;
        (0..n)
            .map(|k| {
                t += rng.exp1() * mean_gap;
                // Some arrivals share an instant, and some services are zero.
                let at = if k % 17 == 5 {
                    (t - rng.exp1() * mean_gap).max(0.0)
                } else {
                    t
                };
                let service = if k % 23 == 7 {
                    0.0
                } else {
                    rng.exp1() * mean_service
                };
                (SimTime(at as u64), SimDuration(service as u64))
            })
            .scan(SimTime::ZERO, |last, (at, s)| {
                *last = (*last).max(at);
                Some((*last, s))
            })
            .collect()
    }

    /// Planned at arrival, a station starts every request when the same line run by
    /// events would, and its busy servers and line have the same values and the same
    /// time integrals (to the nanosecond) whenever they are read.
    #[test]
    fn planning_at_arrival_is_the_line_run_by_events() {
        for (servers, gap, service) in [
            (1, 1_000.0, 800.0),
            (3, 1_000.0, 2_900.0),
            (8, 100.0, 700.0),
            (64, 10.0, 630.0),
        ] {
            let jobs = jobs(u64::from(servers), 20_000, gap, service);
            let reference = by_events(servers, &jobs);
            let mut st = Station::planned(servers, SimTime::ZERO, Phase::DbQueue);
            let mut reads = 0;
            for (k, &(at, service)) in jobs.iter().enumerate() {
                // Read it between arrivals now and then, as samples do.
                let before = SimTime(at.0.saturating_sub(1));
                if k % 97 == 0 && k > 0 && jobs[k - 1].0 < before {
                    let at = before;
                    st.settle(at);
                    let busy = read(&reference.steps, at, |s| s.1);
                    let line = read(&reference.steps, at, |s| s.2);
                    assert_eq!(
                        (st.busy.value(), st.queue_len.value()),
                        (busy.0, line.0),
                        "at {at:?}"
                    );
                    assert_eq!(st.busy.level().area_until(at), busy.1);
                    assert_eq!(st.queue_len.area_until(at), line.1);
                    reads += 1;
                }
                let planned = st.plan(at, service);
                assert_eq!(planned.start, reference.starts[k], "request {k}");
                assert_eq!(planned.end, planned.start + service);
            }
            let end = reference.steps.last().map(|s| s.0).unwrap_or_default() + SimDuration(1);
            st.settle(end);
            assert_eq!((st.busy.value(), st.queue_len.value()), (0, 0));
            assert_eq!(
                st.busy.level().area_until(end),
                read(&reference.steps, end, |s| s.1).1
            );
            assert_eq!(
                st.queue_len.area_until(end),
                read(&reference.steps, end, |s| s.2).1
            );
            assert!(reads > 100);
        }
    }

    /// Servers taken away while busy finish what was planned for them and count in the
    /// capacity until then; new requests go to the servers kept; servers added take
    /// requests at once.
    #[test]
    fn servers_taken_away_finish_their_planned_work() {
        let ms = |x: u64| SimDuration(x * 1_000_000);
        let t = |x: u64| SimTime(x * 1_000_000);
        let mut st = Station::planned(3, SimTime::ZERO, Phase::DbQueue);
        st.plan(t(0), ms(10));
        st.plan(t(0), ms(20));
        st.plan(t(0), ms(30));
        // All three busy: the fourth waits for the first to finish.
        assert_eq!(st.plan(t(1), ms(5)).start, t(10));
        st.replan_servers(t(2), 1);
        st.busy.set_servers(t(2), 1);
        assert_eq!(st.busy.capacity().value(), 3, "the busy still count");
        // The server kept is the one free last (at 30): the next request waits for it.
        assert_eq!(st.plan(t(3), ms(1)).start, t(30));
        st.settle(t(25));
        assert_eq!(st.busy.value(), 1);
        assert_eq!(st.busy.capacity().value(), 1);
        st.replan_servers(t(40), 2);
        st.busy.set_servers(t(40), 2);
        assert_eq!(st.plan(t(40), ms(4)).start, t(40));
        assert_eq!(st.plan(t(40), ms(4)).start, t(40));
        st.settle(t(50));
        assert_eq!((st.busy.value(), st.queue_len.value()), (0, 0));
        // Busy time never exceeds the capacity's.
        let (busy, capacity) = (
            st.busy.level().area_until(t(50)),
            st.busy.capacity().area_until(t(50)),
        );
        assert!(busy <= capacity, "{busy} > {capacity}");
        assert_eq!(busy, u128::from(ms(10 + 20 + 30 + 5 + 1 + 4 + 4).0));
    }
}
