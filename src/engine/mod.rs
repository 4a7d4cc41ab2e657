//! The simulation engine: builds a running system from a validated scenario and advances
//! it through simulated time.
//!
//! ```no_run
//! use bottleneck::{engine::Simulation, model};
//! let scenario = model::load_file("scenarios/three_tier.ron".as_ref()).unwrap();
//! let mut sim = Simulation::new(&scenario);
//! sim.run_to_end();
//! println!("{:.0} req/s", sim.summary().overall.throughput_per_sec);
//! ```

mod arrivals;
mod components;
mod kinds;
mod lru;
mod measure;
pub use measure::query_rate_metric;
mod program;
mod sampler;
mod station;
mod world;

use crate::metrics::{Glance, SeriesSet, Summary};
use crate::model::{
    self, Fault, Problems, Scenario, TimedChange, TimedFault, ValidScenario, params,
};
use crate::sim::{SimDuration, SimRng, SimTime};

pub use sampler::Sampler;
use world::{Event, World};

/// What a run holds in memory, counted by kind of state (see [`Simulation::footprint`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Request slots: the most requests that were in flight at once.
    pub requests: usize,
    /// Scheduled events (including cancelled ones not yet dropped).
    pub events: usize,
    /// Client deadlines remembered.
    pub client_deadlines: usize,
    /// Retry slots: the most retries that waited at once.
    pub pending_retries: usize,
    /// App instances created.
    pub instances: usize,
    /// Entries of every cache (shared, and every instance's local copies).
    pub cache_entries: usize,
    /// Writes still replicating remembered by databases.
    pub remembered_writes: usize,
    /// Sessions remembered by tiers that keep them in memory.
    pub sessions: usize,
    /// Jobs held by queues (waiting and waiting for a retry).
    pub jobs: usize,
}

/// How a call to [`Simulation::advance_until`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advance {
    /// Simulated time reached the requested target.
    ReachedTarget,
    /// The event budget ran out first; call again to continue.
    BudgetExhausted,
    /// The run reached its configured duration.
    Finished,
    /// Simulated time stopped advancing: something loops without taking time. The run
    /// cannot go on; [`Simulation::stall`] says where.
    Stalled,
}

/// Events at one instant beyond which simulated time is taken to have stopped, plus,
/// for each request in flight, [`STALL_EVENTS_PER_STEP`] for each step its script may
/// run (at least [`STALL_EVENTS_PER_REQUEST`]): a crash or a healed partition wakes
/// every request it holds at once, and a script of zero-time steps runs them all at one
/// instant, but a finite amount of work in flight ends.
pub const STALL_EVENTS: u64 = 10_000_000;
/// See [`STALL_EVENTS`].
pub const STALL_EVENTS_PER_REQUEST: u64 = 1_000;
/// See [`STALL_EVENTS`].
pub const STALL_EVENTS_PER_STEP: u64 = 4;
/// Events watched, once the limit is passed, to name what loops.
const STALL_WATCH: u64 = 100_000;

/// Changes and faults made during a run take effect at a multiple of this (see
/// `Simulation::advance_to_round_instant`).
pub const CHANGE_RESOLUTION: SimDuration = SimDuration(100_000_000);

/// Simulated time stopped advancing: where, and what kept happening.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "simulated time stopped advancing at {at}: {events} events happened at that one instant, \
     most of them for {culprit}. Something loops without taking time, e.g. closed-loop users \
     whose requests fail at once and who think for no time, or jobs that enqueue \
     themselves with no latency; give the loop a duration"
)]
pub struct Stall {
    /// The instant time stopped at.
    pub at: SimTime,
    /// Events processed at that instant.
    pub events: u64,
    /// What most of the watched events acted for (a client, an endpoint, a queue).
    pub culprit: String,
}

/// What a run keeps besides its summary. Either way the summary is the same, to the bit:
/// a sample reads the meters and changes nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// The chart series too: every `sample_interval_secs`, one value per series (the
    /// window, `run --series`).
    Series,
    /// Only the summary: no sample is taken (`run`, replications, sweeps, plans).
    Summary,
}

/// A running simulation of one scenario with one seed.
///
/// Building may fail (the scenario is validated first); running never does. Results depend
/// only on the scenario and the seed, never on how the run is chunked into calls.
pub struct Simulation {
    scenario: ValidScenario,
    seed: u64,
    world: World,
    end: SimTime,
    events: u64,
    series: SeriesSet,
    /// The components as they are now: the scenario's, with the changes applied so far.
    current: Scenario,
    /// Every change of the run in time order: the scenario's own timeline, with changes
    /// made during the run inserted as they happen.
    timeline: Vec<TimedChange>,
    /// Index in `timeline` of the next change to apply, and its time.
    next_change: usize,
    next_change_at: Option<SimTime>,
    /// Every fault of the run in time order (the scenario's and those injected), the
    /// index of the next to apply and its time.
    faults: Vec<TimedFault>,
    next_fault: usize,
    next_fault_at: Option<SimTime>,
    /// The latest instant events were processed at, and how many so far.
    instant: SimTime,
    at_instant: u64,
    /// Events at one instant before a stall is suspected, and those one request in
    /// flight may add (see [`STALL_EVENTS`]).
    stall_events: u64,
    stall_per_request: u64,
    /// Set when simulated time stopped advancing: the run cannot go on.
    stall: Option<Stall>,
}

/// Why a change could not be made to a running simulation.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("there is no component {0:?}")]
    NoSuchComponent(String),
    /// A parameter that cannot change mid-run, or a value that does not parse.
    #[error("{0}")]
    NotLive(String),
    /// The changed scenario would be invalid.
    #[error(transparent)]
    Invalid(#[from] Problems),
    #[error("the run has ended")]
    Finished,
}

impl Simulation {
    /// A simulation with the scenario's own seed.
    pub fn new(scenario: &ValidScenario) -> Self {
        Self::with_seed(scenario, scenario.seed)
    }

    /// A simulation with an explicit seed (e.g. from the command line), recording the
    /// chart series.
    pub fn with_seed(scenario: &ValidScenario, seed: u64) -> Self {
        Self::recording(scenario, seed, Record::Series)
    }

    /// A simulation with `seed` that keeps what `record` says.
    pub fn recording(scenario: &ValidScenario, seed: u64, record: Record) -> Self {
        let mut world = World::build(scenario, seed);
        if record == Record::Series {
            world.record_series();
        }
        let series = SeriesSet::new(world.series_names());
        let timeline = scenario.timeline.clone();
        let mut sim = Self {
            end: SimTime::from_secs_f64(scenario.run.duration_secs),
            scenario: scenario.clone(),
            seed,
            world,
            events: 0,
            series,
            current: scenario.scenario().clone(),
            timeline,
            next_change: 0,
            next_change_at: None,
            faults: scenario.faults.clone(),
            next_fault: 0,
            next_fault_at: None,
            instant: SimTime::ZERO,
            at_instant: 0,
            stall_events: STALL_EVENTS,
            stall_per_request: (STALL_EVENTS_PER_STEP as f64
                * model::validate::max_steps_per_request(scenario))
            .clamp(STALL_EVENTS_PER_REQUEST as f64, 1e12) as u64,
            stall: None,
        };
        sim.update_next_change();
        sim.update_next_fault();
        sim
    }

    fn update_next_fault(&mut self) {
        self.next_fault_at = self
            .faults
            .get(self.next_fault)
            .map(|f| SimTime::from_secs_f64(f.at_secs));
    }

    /// Every fault of this run in time order: saved with the scenario, it replays.
    pub fn faults(&self) -> &[TimedFault] {
        &self.faults
    }

    /// Makes something break now, as the window's fault buttons do; recorded in the
    /// faults so the run replays.
    pub fn inject(&mut self, fault: Fault) -> Result<(), ChangeError> {
        if self.is_finished() {
            return Err(ChangeError::Finished);
        }
        let now = self.advance_to_round_instant()?;
        let mut check = self.current.clone();
        check.timeline.clear();
        check.faults = vec![TimedFault {
            at_secs: now.as_secs_f64(),
            fault: fault.clone(),
        }];
        model::validate(check)?;
        self.world.apply_fault(&fault);
        self.faults.insert(
            self.next_fault,
            TimedFault {
                at_secs: now.as_secs_f64(),
                fault,
            },
        );
        self.next_fault += 1;
        self.update_next_fault();
        Ok(())
    }

    fn update_next_change(&mut self) {
        self.next_change_at = self
            .timeline
            .get(self.next_change)
            .map(|c| SimTime::from_secs_f64(c.at_secs));
    }

    /// The components as they are now, with every change so far applied.
    pub fn current(&self) -> &Scenario {
        &self.current
    }

    /// Every change of this run in time order (the scenario's own and those made during
    /// the run): saved with the scenario, it replays the run exactly.
    pub fn timeline(&self) -> &[TimedChange] {
        &self.timeline
    }

    /// Runs on to the next whole tenth of a simulated second (or the run's end), where a
    /// change or fault made "now" takes effect: a frame ends at an arbitrary nanosecond,
    /// and the saved file should say `at_secs: 32.3`, the time the user meant, not
    /// `32.237508212`. Every event due by then happens first, exactly as when replayed.
    fn advance_to_round_instant(&mut self) -> Result<SimTime, ChangeError> {
        let step = CHANGE_RESOLUTION.nanos();
        let at = SimTime(self.world.now.nanos().div_ceil(step).saturating_mul(step)).min(self.end);
        self.advance_until(at, u64::MAX);
        if self.is_finished() {
            return Err(ChangeError::Finished);
        }
        Ok(self.world.now)
    }

    /// Changes parameters of `component` now, as a user would on the running system.
    /// The change is recorded in the timeline; later changes to the same component that
    /// were waiting to be replayed are dropped (the user took over).
    pub fn change(
        &mut self,
        component: &str,
        set: Vec<(String, String)>,
    ) -> Result<(), ChangeError> {
        if self.is_finished() {
            return Err(ChangeError::Finished);
        }
        // Everything due at this instant happens first, exactly as when replayed.
        let now = self.advance_to_round_instant()?;
        let position = self
            .current
            .components
            .iter()
            .position(|c| c.id() == component)
            .ok_or_else(|| ChangeError::NoSuchComponent(component.to_owned()))?;
        let mut spec = self.current.components[position].clone();
        for (path, value) in &set {
            params::apply(&mut spec, path, value, true).map_err(ChangeError::NotLive)?;
        }
        let mut changed = self.current.clone();
        changed.components[position] = spec;
        changed.timeline.clear();
        let changed = model::validate(changed)?.into_inner();
        // A running system keeps the instances it created (stopped ones restart first),
        // so the budget counts each tier at the most it has had.
        let mut held = changed.clone();
        for c in &mut held.components {
            if let crate::model::ComponentSpec::App(a) = c {
                a.instances = a.instances.max(self.world.instances_created(&a.id));
            }
        }
        model::validate::within_budget(&held)?;

        let pending = self.timeline.split_off(self.next_change);
        self.timeline.push(TimedChange {
            at_secs: now.as_secs_f64(),
            component: component.to_owned(),
            set,
        });
        self.timeline
            .extend(pending.into_iter().filter(|c| c.component != component));
        let old = std::mem::replace(
            &mut self.current.components[position],
            changed.components[position].clone(),
        );
        self.world
            .apply_change(&old, &self.current.components[position]);
        self.next_change += 1;
        self.update_next_change();
        Ok(())
    }

    /// Applies the next change of the timeline (validated with the scenario).
    fn apply_next_change(&mut self) {
        let change = &self.timeline[self.next_change];
        if let Some(position) = self
            .current
            .components
            .iter()
            .position(|c| c.id() == change.component)
        {
            let old = self.current.components[position].clone();
            let mut new = old.clone();
            let applied = change
                .set
                .iter()
                .all(|(path, value)| params::apply(&mut new, path, value, true).is_ok());
            if applied {
                self.world.apply_change(&old, &new);
                self.current.components[position] = new;
            }
        }
        self.next_change += 1;
        self.update_next_change();
    }

    pub fn scenario(&self) -> &ValidScenario {
        &self.scenario
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Current simulated time.
    pub fn now(&self) -> SimTime {
        self.world.now
    }

    /// When the run ends.
    pub fn end(&self) -> SimTime {
        self.end
    }

    /// The system's events processed so far (arrivals, departures, timeouts …; not the
    /// chart samples, so the count is the same whether series are recorded or not).
    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn is_finished(&self) -> bool {
        self.world.now >= self.end
    }

    /// Processes the next event, if it is not past the end. Returns its time, or `None`
    /// when no event is left before the end of the run.
    pub fn step(&mut self) -> Option<SimTime> {
        let next = self.world.queue.peek_time().filter(|t| *t <= self.end)?;
        self.advance_until(next, 1);
        Some(next)
    }

    /// Processes events up to and including simulated time `target` (capped at the end of
    /// the run), or until `max_events` have been processed.
    pub fn advance_until(&mut self, target: SimTime, max_events: u64) -> Advance {
        let advance = self.run_events(target, max_events);
        // Whatever reads the world next sees the planned stations as of now.
        self.world.settle_stations();
        advance
    }

    fn run_events(&mut self, target: SimTime, max_events: u64) -> Advance {
        if self.stall.is_some() {
            return Advance::Stalled;
        }
        let limit = target.min(self.end);
        let mut budget = max_events;
        loop {
            // A recorded change happens after every event at or before its time.
            // Recorded changes and faults happen after every event at or before their
            // time; a change before a fault due at the same instant.
            let change = match (self.next_change_at, self.next_fault_at) {
                (Some(c), Some(f)) => Some(c.min(f)),
                (c, f) => c.or(f),
            }
            .filter(|at| *at <= limit);
            let horizon = change.unwrap_or(limit);
            // Every event up to the horizon: handling one never moves a recorded change.
            loop {
                if budget == 0 {
                    if self.world.queue.peek_time().is_some_and(|t| t <= horizon) {
                        return Advance::BudgetExhausted;
                    }
                    break;
                }
                let Some((t, event)) = self.world.queue.pop_until(horizon) else {
                    break;
                };
                budget -= 1;
                if t == self.instant {
                    self.at_instant += 1;
                    if self.at_instant > self.stall_events
                        && self.at_instant
                            > self.stall_events
                                + self.stall_per_request * u64::from(self.world.in_flight)
                    {
                        // The watch handles this event, and more at this instant.
                        if self.watch_for_stall(t, event) {
                            return Advance::Stalled;
                        }
                        continue;
                    }
                } else {
                    self.instant = t;
                    self.at_instant = 1;
                }
                self.world.now = t;
                if let Event::Sample = event {
                    let values = self.world.take_sample();
                    self.series.push(t.as_secs_f64(), values);
                } else {
                    self.events += 1;
                }
                self.world.handle(event);
            }
            if let Some(at) = change {
                self.world.now = self.world.now.max(at);
                if self.next_change_at == Some(at) {
                    self.apply_next_change();
                } else {
                    let fault = self.faults[self.next_fault].fault.clone();
                    self.world.apply_fault(&fault);
                    self.next_fault += 1;
                    self.update_next_fault();
                }
                continue;
            }
            self.world.now = self.world.now.max(limit);
            return if self.world.now >= self.end {
                Advance::Finished
            } else {
                Advance::ReachedTarget
            };
        }
    }

    /// Runs to the configured duration (or until simulated time stops advancing).
    pub fn run_to_end(&mut self) {
        self.advance_until(self.end, u64::MAX);
    }

    /// Why the run cannot go on, if simulated time stopped advancing.
    pub fn stall(&self) -> Option<&Stall> {
        self.stall.as_ref()
    }

    /// Too many events at one instant: handles `first` and up to [`STALL_WATCH`] more at
    /// this instant (whatever the caller's event budget), counting what each acts for.
    /// Returns `true` (and records the stall) if the instant is still not over; `false`
    /// if time moves on after all.
    #[cold]
    #[inline(never)]
    fn watch_for_stall(&mut self, at: SimTime, first: world::Event) -> bool {
        let mut sources: std::collections::BTreeMap<String, u64> = Default::default();
        let mut event = first;
        for _ in 0..STALL_WATCH {
            *sources.entry(self.world.event_source(&event)).or_default() += 1;
            self.world.now = at;
            if let Event::Sample = event {
                let values = self.world.take_sample();
                self.series.push(at.as_secs_f64(), values);
            } else {
                self.events += 1;
            }
            self.world.handle(event);
            if self.world.queue.peek_time() != Some(at) {
                return false;
            }
            let Some((_, next)) = self.world.queue.pop_until(at) else {
                return false;
            };
            self.at_instant += 1;
            event = next;
        }
        // The event in hand goes back, to run first if the run is ever resumed.
        self.world.queue.schedule(at, event);
        let culprit = sources
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(s, _)| s)
            .unwrap_or_default();
        self.stall = Some(Stall {
            at,
            events: self.at_instant,
            culprit,
        });
        true
    }

    /// Everything measured since the warm-up (since the start while still warming up).
    pub fn summary(&self) -> Summary {
        self.world.summary(&self.current, self.seed, self.events)
    }

    /// The time series sampled so far.
    pub fn series(&self) -> &SeriesSet {
        &self.series
    }

    /// Every component at a glance: saturation, key figures and rate over the last
    /// `window_secs` of chart samples (at least the last one), its instances and state as
    /// of the last sample, and what a fault has broken there as of now.
    pub fn glance(&self, window_secs: f64) -> Vec<Glance> {
        self.world.glance(&self.current, &self.series, window_secs)
    }

    /// Requests currently inside the system.
    pub fn in_flight(&self) -> u32 {
        self.world.in_flight
    }

    /// Makes every chart sample read every instance, as it did before quiet instances
    /// slept through samples: the reference the lazy sampling is tested against.
    #[doc(hidden)]
    pub fn sample_every_instance(&mut self) {
        self.world.lazy_sampling = false;
    }

    /// The app instances the next chart sample will read (the others are quiet).
    #[doc(hidden)]
    pub fn instances_awake(&self) -> usize {
        self.world.tiers.iter().map(|t| t.awake.len()).sum()
    }

    /// What the run holds in memory now, counted by kind: each count stays within the
    /// scenario's [`crate::model::budget::Estimate`] however long it runs.
    pub fn footprint(&self) -> Footprint {
        self.world.footprint()
    }

    /// The random stream a component id draws from under this run's seed: exposed so
    /// tests can prove that streams depend only on the seed and the id.
    pub fn stream_for(&self, id: &str) -> SimRng {
        SimRng::stream(self.seed, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_that_takes_no_time_stops_the_run_with_an_error_naming_it() {
        // Validation refuses this file (users with no think time whose requests fail at
        // once); the engine's own guard must still stop it rather than spin forever, as
        // it did before the guard existed.
        let text = include_str!("../../tests/broken/closed_loop_zero_think.ron");
        let scenario = model::parse_str(text).expect("parses");
        let sc = ValidScenario::unchecked(scenario);
        let mut sim = Simulation::new(&sc);
        assert_eq!(sim.advance_until(sim.end(), u64::MAX), Advance::Stalled);
        let stall = sim.stall().expect("a stall").clone();
        assert_eq!(stall.at, SimTime::ZERO);
        assert!(stall.events > STALL_EVENTS, "{stall:?}");
        assert_eq!(stall.culprit, "client \"users\"");
        let message = stall.to_string();
        assert!(message.contains("stopped advancing at 0.000s"), "{message}");
        // It stays stopped, however it is driven.
        assert_eq!(sim.advance_until(sim.end(), 10), Advance::Stalled);
        sim.run_to_end();
        assert!(!sim.is_finished());
    }

    #[test]
    fn the_budget_counts_at_least_what_the_engine_holds() {
        use crate::model::budget::*;
        use components::*;
        use std::mem::size_of;
        // Vectors grow by doubling: an item may cost twice its size.
        let grown = |bytes: usize| 2 * bytes;
        // A heap entry: its 128-bit key and the event, aligned to 16 bytes.
        let event = (size_of::<u128>() + size_of::<Event>()).next_multiple_of(16);
        let queue_entry = size_of::<(ReqRef, crate::sim::SimDuration, SimTime)>();
        let deadline = size_of::<(SimTime, ReqRef)>();
        // A request: its slot and free-list entry, two scheduled events (its next step
        // and a call's deadline), a place in one queue, two deadline entries (the list
        // is compacted at twice the requests outstanding).
        let request = grown(size_of::<world::Request>() + size_of::<u32>())
            + grown(2 * event)
            + grown(queue_entry)
            + grown(2 * deadline);
        assert!(
            request as f64 <= REQUEST_BYTES,
            "a request takes {request} bytes"
        );
        let instance = grown(size_of::<Instance>() + size_of::<Station>()) + grown(event);
        assert!(
            instance as f64 <= INSTANCE_BYTES,
            "an instance takes {instance}"
        );
        let pool = grown(size_of::<Pool>());
        assert!(pool as f64 <= POOL_BYTES, "a pool takes {pool}");
        let retry = grown(size_of::<PendingRetry>() + size_of::<u32>()) + grown(event);
        assert!(retry as f64 <= RETRY_BYTES, "a retry takes {retry}");
        // A job: in the waiting list, in a retry slot, and its retry's event.
        let job =
            grown(size_of::<Job>()) + grown(size_of::<Job>() + size_of::<u32>()) + grown(event);
        assert!(job as f64 <= JOB_BYTES, "a job takes {job}");
        // A closed-loop user: its next turn and its running flag.
        let user = grown(event) + grown(size_of::<bool>());
        assert!(user as f64 <= USER_BYTES, "a user takes {user}");
        // An instance's empty copy of a local cache, in its list.
        let copy = grown(size_of::<(u32, super::lru::Lru)>());
        assert!(copy as f64 <= CACHE_COPY_BYTES, "a cache copy takes {copy}");
        let histogram = crate::metrics::new_histogram(3).distinct_values() * size_of::<u64>();
        assert!(
            (2 * histogram) as f64 <= ENDPOINT_BYTES,
            "a histogram takes {histogram}"
        );
    }

    #[test]
    fn a_busy_instant_watched_for_a_stall_runs_exactly_as_unwatched() {
        // A thousand users who all think exactly a second send at the same instants,
        // each request three zero-time CPU steps: thousands of events at one instant,
        // then time moves on. With the watch's threshold
        // lowered below them, the watch takes over at that instant and hands back when
        // it ends; the run must be the same, event for event. (It once handled the
        // event that triggered it twice.)
        let text = r#"Scenario(
            version: 1,
            run: (duration_secs: 5.0, warmup_secs: 0.0),
            endpoints: {"GET /": (steps: [Repeat(times: 3, steps: [Cpu(Constant(ms: 0.0))])])},
            components: [
                Client(id: "users", target: "web",
                       arrivals: Closed(users: 1000, think: Constant(ms: 1000.0))),
                App(id: "web", cores: 64, concurrency: Threads(workers: 2000)),
            ],
        )"#;
        let sc = model::load_str(text).expect("valid");
        let mut plain = Simulation::new(&sc);
        plain.run_to_end();
        let mut watched = Simulation::new(&sc);
        watched.stall_events = 1_000;
        watched.stall_per_request = 0;
        assert_eq!(
            watched.advance_until(watched.end(), u64::MAX),
            Advance::Finished
        );
        assert!(watched.stall().is_none());
        assert_eq!(
            crate::report::json(&watched.summary()),
            crate::report::json(&plain.summary())
        );
    }

    #[test]
    fn many_events_at_one_instant_are_not_a_stall_when_time_moves_on() {
        // Every one of 2,000 users is answered at once and thinks for a whole
        // millisecond: a burst of events at each instant, but time advances.
        let text = r#"Scenario(
            version: 1,
            run: (duration_secs: 2.0, warmup_secs: 0.0),
            endpoints: {"GET /": (steps: [Cpu(Constant(ms: 0.0))])},
            components: [
                Client(id: "users", target: "web",
                       arrivals: Closed(users: 2000, think: Constant(ms: 1.0))),
                App(id: "web", cores: 64, concurrency: Threads(workers: 5000)),
            ],
        )"#;
        let sc = model::load_str(text).expect("valid");
        let mut sim = Simulation::new(&sc);
        assert_eq!(sim.advance_until(sim.end(), u64::MAX), Advance::Finished);
        assert!(sim.stall().is_none());
    }
}
