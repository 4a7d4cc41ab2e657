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
mod lru;
mod measure;
mod program;
mod sampler;
mod world;

use crate::metrics::{SeriesSet, Summary};
use crate::model::ValidScenario;
use crate::sim::{SimRng, SimTime};

pub use sampler::Sampler;
use world::{Event, World};

/// How a call to [`Simulation::advance_until`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advance {
    /// Simulated time reached the requested target.
    ReachedTarget,
    /// The event budget ran out first; call again to continue.
    BudgetExhausted,
    /// The run reached its configured duration.
    Finished,
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
}

impl Simulation {
    /// A simulation with the scenario's own seed.
    pub fn new(scenario: &ValidScenario) -> Self {
        Self::with_seed(scenario, scenario.seed)
    }

    /// A simulation with an explicit seed (e.g. from the command line).
    pub fn with_seed(scenario: &ValidScenario, seed: u64) -> Self {
        let world = World::build(scenario, seed);
        let series = SeriesSet::new(world.series_names());
        Self {
            end: SimTime::from_secs_f64(scenario.run.duration_secs),
            scenario: scenario.clone(),
            seed,
            world,
            events: 0,
            series,
        }
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

    /// Events processed so far.
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
        let limit = target.min(self.end);
        let mut budget = max_events;
        loop {
            match self.world.queue.peek_time() {
                Some(t) if t <= limit => {
                    if budget == 0 {
                        return Advance::BudgetExhausted;
                    }
                    budget -= 1;
                    let Some((t, event)) = self.world.queue.pop() else {
                        unreachable!("peeked an event")
                    };
                    self.world.now = t;
                    self.events += 1;
                    if let Event::Sample = event {
                        let values = self.world.take_sample();
                        self.series.push(t.as_secs_f64(), &values);
                    }
                    self.world.handle(event);
                }
                _ => {
                    self.world.now = self.world.now.max(limit);
                    return if self.world.now >= self.end {
                        Advance::Finished
                    } else {
                        Advance::ReachedTarget
                    };
                }
            }
        }
    }

    /// Runs to the configured duration.
    pub fn run_to_end(&mut self) {
        self.advance_until(self.end, u64::MAX);
    }

    /// Everything measured since the warm-up (since the start while still warming up).
    pub fn summary(&self) -> Summary {
        self.world.summary(&self.scenario, self.seed, self.events)
    }

    /// The time series sampled so far.
    pub fn series(&self) -> &SeriesSet {
        &self.series
    }

    /// Requests currently inside the system.
    pub fn in_flight(&self) -> u32 {
        self.world.in_flight
    }

    /// The random stream a component id draws from under this run's seed: exposed so
    /// tests can prove that streams depend only on the seed and the id.
    pub fn stream_for(&self, id: &str) -> SimRng {
        SimRng::stream(self.seed, id)
    }
}
