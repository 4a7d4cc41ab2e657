//! Where a request's time goes: every request carries a [`PhaseClock`] that charges the
//! time since its last change to the phase it was in, and a successful response adds its
//! clock to its endpoint's [`Breakdown`]. Every instant between sending and answering is
//! charged to exactly one phase, so the parts add up to the measured mean latency.

/// What a request is doing (or waiting for) at a given instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Phase {
    /// In an instance's accept queue, waiting for a worker thread (or an event-loop slot).
    WorkerWait,
    /// Runnable, waiting for one of its instance's cores.
    CoreWait,
    /// Running on a core.
    Cpu,
    /// Waiting for a pooled connection (or a pooler's server connection).
    PoolWait,
    /// Opening a database connection: the handshake and the database's session setup.
    Connect,
    /// In a database's line, waiting for one of its cores.
    DbQueue,
    /// A query being served by the database.
    DbService,
    /// A cache operation: the way there, its line and its service.
    Cache,
    /// Crossing the network: to the database, to a queue's broker, held by a partition.
    Network,
    /// A pure delay outside the system: an external call, a session lookup.
    External,
    /// Waiting for a called service to answer.
    Call,
    /// Answered at a CDN's edge.
    Edge,
    /// Earlier attempts and the waits before retrying them.
    Retries,
}

impl Phase {
    /// Every phase, in the order of a request's journey (the report's order).
    pub const ALL: [Phase; 13] = [
        Phase::Retries,
        Phase::Edge,
        Phase::WorkerWait,
        Phase::CoreWait,
        Phase::Cpu,
        Phase::PoolWait,
        Phase::Connect,
        Phase::Network,
        Phase::DbQueue,
        Phase::DbService,
        Phase::Cache,
        Phase::External,
        Phase::Call,
    ];

    /// The phases a request's clock charges (retries are worked out at the answer).
    const CLOCKED: usize = Phase::Retries as usize;

    /// Its name in files and figure paths.
    pub const fn name(self) -> &'static str {
        match self {
            Phase::WorkerWait => "worker_wait",
            Phase::CoreWait => "core_wait",
            Phase::Cpu => "cpu",
            Phase::PoolWait => "pool_wait",
            Phase::Connect => "connect",
            Phase::DbQueue => "db_queue",
            Phase::DbService => "db_service",
            Phase::Cache => "cache",
            Phase::Network => "network",
            Phase::External => "external",
            Phase::Call => "call",
            Phase::Edge => "edge",
            Phase::Retries => "retries",
        }
    }

    /// What it means, in a few words.
    pub const fn label(self) -> &'static str {
        match self {
            Phase::WorkerWait => "waiting for a worker thread",
            Phase::CoreWait => "waiting for a core",
            Phase::Cpu => "on CPU",
            Phase::PoolWait => "waiting for a pool connection",
            Phase::Connect => "opening connections",
            Phase::DbQueue => "in the database's queue",
            Phase::DbService => "in query service",
            Phase::Cache => "in the cache",
            Phase::Network => "on the network",
            Phase::External => "in external calls",
            Phase::Call => "waiting on a called service",
            Phase::Edge => "at the CDN edge",
            Phase::Retries => "in failed attempts and retry waits",
        }
    }

    /// Time waiting for a held resource (a thread, a connection) rather than working.
    pub const fn is_held_wait(self) -> bool {
        matches!(self, Phase::WorkerWait | Phase::PoolWait)
    }

    pub fn of_name(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A request's time so far, by phase (nanoseconds), and the phase it is in since when.
/// Only the phases it has been in count (`touched`, a bit per phase): a request passes
/// through a few of them, so starting and recording cost what it used, not every phase.
#[derive(Clone, Copy, Debug)]
pub struct PhaseClock {
    spent: [u64; Phase::CLOCKED],
    touched: u16,
    phase: Phase,
    since: u64,
}

impl Default for PhaseClock {
    fn default() -> Self {
        Self {
            spent: [0; Phase::CLOCKED],
            touched: 0,
            phase: Phase::Network,
            since: 0,
        }
    }
}

impl PhaseClock {
    /// Starts from nothing at `now_ns`, in `phase`.
    #[inline]
    pub fn start(&mut self, now_ns: u64, phase: Phase) {
        self.touched = 0;
        self.phase = phase;
        self.since = now_ns;
    }

    /// Charges the time since the last change to the current phase and enters `phase`.
    ///
    /// A phase left at the instant it was entered is not marked as touched: it has
    /// nothing to add (a request sent straight onto a free core leaves the network at
    /// once), and recording would visit it for nothing.
    #[inline]
    pub fn enter(&mut self, now_ns: u64, phase: Phase) {
        debug_assert!(phase != Phase::Retries, "retries are not clocked");
        let k = self.phase as usize;
        let bit = 1 << k;
        let elapsed = now_ns - self.since;
        if self.touched & bit == 0 {
            if elapsed > 0 {
                self.touched |= bit;
                self.spent[k] = elapsed;
            }
        } else {
            self.spent[k] += elapsed;
        }
        self.phase = phase;
        self.since = now_ns;
    }

    /// Nanoseconds charged to `phase` so far (up to the last change).
    pub fn spent(&self, phase: Phase) -> u64 {
        let k = phase as usize;
        if k < Phase::CLOCKED && self.touched & (1 << k) != 0 {
            self.spent[k]
        } else {
            0
        }
    }
}

/// The time of an endpoint's successful responses by phase, with a warm-up mark.
#[derive(Clone, Copy, Debug, Default)]
pub struct Breakdown {
    total_ns: [u128; Phase::ALL.len()],
    at_warmup: [u128; Phase::ALL.len()],
}

impl Breakdown {
    /// Adds one successful response answered at `now_ns`: its clock, charged up to now,
    /// and the `retries_ns` between the user's first attempt and this one.
    #[inline]
    pub fn record(&mut self, clock: &PhaseClock, now_ns: u64, retries_ns: u64) {
        let mut touched = clock.touched;
        while touched != 0 {
            let k = touched.trailing_zeros() as usize;
            touched &= touched - 1;
            self.total_ns[k] += u128::from(clock.spent[k]);
        }
        self.total_ns[clock.phase as usize] += u128::from(now_ns - clock.since);
        if retries_ns > 0 {
            self.total_ns[Phase::Retries as usize] += u128::from(retries_ns);
        }
    }

    pub fn mark_warmup(&mut self) {
        self.at_warmup = self.total_ns;
    }

    pub fn absorb(&mut self, other: &Breakdown) {
        for k in 0..Phase::ALL.len() {
            self.total_ns[k] += other.total_ns[k];
            self.at_warmup[k] += other.at_warmup[k];
        }
    }

    /// Mean milliseconds per response in `phase` since the warm-up, over `responses`.
    pub fn mean_ms(&self, phase: Phase, responses: u64) -> f64 {
        if responses == 0 {
            return 0.0;
        }
        let k = phase as usize;
        (self.total_ns[k] - self.at_warmup[k]) as f64 / responses as f64 / 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instant_is_charged_to_exactly_one_phase() {
        let mut clock = PhaseClock::default();
        clock.start(1_000, Phase::Network);
        clock.enter(1_500, Phase::WorkerWait);
        clock.enter(4_000, Phase::Cpu);
        clock.enter(4_000, Phase::PoolWait);
        clock.enter(9_000, Phase::DbService);
        let mut b = Breakdown::default();
        b.record(&clock, 10_000, 700);
        let parts: Vec<f64> = Phase::ALL.iter().map(|p| b.mean_ms(*p, 1)).collect();
        let total: f64 = parts.iter().sum();
        assert!((total - (10_000.0 - 1_000.0 + 700.0) / 1e6).abs() < 1e-12);
        assert_eq!(b.mean_ms(Phase::WorkerWait, 1), 2_500.0 / 1e6);
        assert_eq!(b.mean_ms(Phase::Cpu, 1), 0.0);
        assert_eq!(b.mean_ms(Phase::PoolWait, 1), 5_000.0 / 1e6);
        assert_eq!(b.mean_ms(Phase::DbService, 1), 1_000.0 / 1e6);
        assert_eq!(b.mean_ms(Phase::Retries, 1), 700.0 / 1e6);
    }

    #[test]
    fn a_restarted_clock_forgets_its_previous_request() {
        let mut clock = PhaseClock::default();
        clock.start(0, Phase::Cpu);
        clock.enter(5, Phase::DbService);
        clock.start(100, Phase::Network);
        clock.enter(110, Phase::Cpu);
        assert_eq!(clock.spent(Phase::Cpu), 0);
        assert_eq!(clock.spent(Phase::Network), 10);
        let mut b = Breakdown::default();
        b.record(&clock, 130, 0);
        assert_eq!(b.mean_ms(Phase::DbService, 1), 0.0);
        assert_eq!(b.mean_ms(Phase::Cpu, 1), 20.0 / 1e6);
    }

    #[test]
    fn the_warm_up_mark_drops_what_came_before() {
        let mut clock = PhaseClock::default();
        clock.start(0, Phase::Cpu);
        let mut b = Breakdown::default();
        b.record(&clock, 5_000_000, 0);
        b.mark_warmup();
        b.record(&clock, 2_000_000, 0);
        assert_eq!(b.mean_ms(Phase::Cpu, 1), 2.0);
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        for p in Phase::ALL {
            assert_eq!(Phase::of_name(p.name()), Some(p));
        }
        let mut names: Vec<_> = Phase::ALL.iter().map(|p| p.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Phase::ALL.len());
    }
}
