//! Simulated time: integer nanoseconds since the start of a run.
//!
//! Durations are sampled as `f64` milliseconds from distributions and rounded to whole
//! nanoseconds at the moment they are scheduled, so simulated time never drifts through
//! floating-point addition and two runs with the same seed agree to the nanosecond.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in simulated time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

pub const NANOS_PER_MILLI: f64 = 1e6;
pub const NANOS_PER_SEC: f64 = 1e9;

impl SimTime {
    pub const ZERO: Self = Self(0);
    pub const MAX: Self = Self(u64::MAX);

    pub fn from_secs_f64(secs: f64) -> Self {
        Self(SimDuration::from_secs_f64(secs).0)
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC
    }

    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_MILLI
    }

    pub fn nanos(self) -> u64 {
        self.0
    }

    /// Time elapsed since `earlier`; zero if `earlier` is in the future.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: Self = Self(0);

    /// Rounds to the nearest nanosecond; negative and NaN inputs become zero and huge
    /// inputs saturate, so a sampled duration can never wrap the clock.
    pub fn from_millis_f64(ms: f64) -> Self {
        Self::from_nanos_f64(ms * NANOS_PER_MILLI)
    }

    pub fn from_secs_f64(secs: f64) -> Self {
        Self::from_nanos_f64(secs * NANOS_PER_SEC)
    }

    /// A sampled duration (a non-negative nanosecond count) rounded to the nearest
    /// integer, for the event loop: adding one half and truncating is exact here, where
    /// `f64::round` is a library call on some targets and the checks of
    /// [`SimDuration::from_secs_f64`] are not needed.
    ///
    /// Through `i64`: x86-64 converts a float to a signed integer in one instruction, to
    /// an unsigned one in a dozen. The two agree below 2^63 ns (292 years); above, this
    /// saturates at 2^63 − 1 instead of 2^64 − 1, which a saturating `SimTime` addition
    /// treats alike: never.
    #[inline]
    pub fn from_sampled_nanos(nanos: f64) -> Self {
        Self((nanos + 0.5) as i64 as u64)
    }

    fn from_nanos_f64(nanos: f64) -> Self {
        if nanos.is_nan() || nanos <= 0.0 {
            Self(0)
        } else if nanos >= u64::MAX as f64 {
            Self(u64::MAX)
        } else {
            Self(nanos.round() as u64)
        }
    }

    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_MILLI
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC
    }

    pub fn nanos(self) -> u64 {
        self.0
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        self.since(rhs)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.as_secs_f64())
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.as_millis_f64();
        if ms < 1.0 {
            write!(f, "{:.1}µs", ms * 1e3)
        } else if ms < 1e3 {
            write!(f, "{ms:.2}ms")
        } else {
            write!(f, "{:.3}s", ms / 1e3)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_to_nanos_and_never_wrap() {
        assert_eq!(SimDuration::from_millis_f64(1.5).nanos(), 1_500_000);
        assert_eq!(SimDuration::from_millis_f64(-3.0), SimDuration::ZERO);
        assert_eq!(SimDuration::from_millis_f64(f64::NAN), SimDuration::ZERO);
        assert_eq!(SimDuration::from_secs_f64(1e30).nanos(), u64::MAX);
        assert_eq!(SimTime(5) + SimDuration(u64::MAX), SimTime::MAX);
        assert_eq!(SimTime(5).since(SimTime(9)), SimDuration::ZERO);
    }
}
