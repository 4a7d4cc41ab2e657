//! Open-loop arrival processes: when does the next request arrive?
//!
//! Non-stationary processes (ramp, spike, profile) are Poisson processes whose rate
//! follows a piecewise-linear curve; the next arrival is found by inverting the
//! cumulative rate (time rescaling), which is exact and needs no thinning.

use crate::model::Arrivals;
use crate::sim::{SimRng, SimTime};

/// The state of one open arrival process.
#[derive(Clone, Debug)]
pub enum ArrivalProcess {
    /// Exponential gaps of mean `mean_gap_ns` (`None`: a rate of zero, no arrivals).
    Poisson {
        mean_gap_ns: Option<f64>,
    },
    Constant {
        rate_per_sec: f64,
    },
    Bursty {
        rates_per_sec: [f64; 2],
        mean_secs: [f64; 2],
        high: bool,
        next_switch_secs: f64,
    },
    /// `(secs, rate_per_sec)` points, rate linear between them, constant outside.
    Profile {
        points: Vec<(f64, f64)>,
    },
}

impl ArrivalProcess {
    /// The process for an open-loop spec, or `None` for closed-loop users.
    pub fn new(spec: &Arrivals, rng: &mut SimRng) -> Option<Self> {
        Some(match spec {
            Arrivals::Poisson { rate_per_sec } => Self::Poisson {
                mean_gap_ns: (*rate_per_sec > 0.0).then(|| 1e9 / rate_per_sec),
            },
            Arrivals::Constant { rate_per_sec } => Self::Constant {
                rate_per_sec: *rate_per_sec,
            },
            Arrivals::Bursty {
                low_per_sec,
                high_per_sec,
                mean_low_secs,
                mean_high_secs,
            } => Self::Bursty {
                rates_per_sec: [*low_per_sec, *high_per_sec],
                mean_secs: [*mean_low_secs, *mean_high_secs],
                high: false,
                next_switch_secs: rng.exp1() * mean_low_secs,
            },
            Arrivals::Ramp { .. } | Arrivals::Spike { .. } | Arrivals::Profile { .. } => {
                Self::Profile {
                    points: spec.profile()?,
                }
            }
            Arrivals::Closed { .. } => return None,
        })
    }

    /// The time of the next arrival after `now`, or `None` if no more will come.
    #[inline(always)]
    pub fn next_after(&mut self, now: SimTime, rng: &mut SimRng) -> Option<SimTime> {
        match self {
            // The hot path: exponential gaps, computed in integer nanoseconds.
            Self::Poisson { mean_gap_ns } => {
                let gap_ns = rng.exp1() * (*mean_gap_ns)?;
                Some(now + crate::sim::SimDuration::from_sampled_nanos(gap_ns))
            }
            _ => self.next_after_slow(now, rng),
        }
    }

    /// [`ArrivalProcess::next_after`] for the processes other than Poisson.
    #[inline(never)]
    fn next_after_slow(&mut self, now: SimTime, rng: &mut SimRng) -> Option<SimTime> {
        let next_secs = match self {
            Self::Poisson { .. } => unreachable!("handled by next_after"),
            Self::Constant { rate_per_sec } => {
                if *rate_per_sec <= 0.0 {
                    return None;
                }
                now.as_secs_f64() + 1.0 / *rate_per_sec
            }
            Self::Bursty {
                rates_per_sec,
                mean_secs,
                high,
                next_switch_secs,
            } => {
                // Memoryless in each state: draw a gap at the current rate; if a switch
                // comes first, restart from the switch at the new rate.
                let mut t = now.as_secs_f64();
                let mut switches = 0;
                loop {
                    let rate = rates_per_sec[usize::from(*high)];
                    let gap = if rate > 0.0 {
                        rng.exp1() / rate
                    } else {
                        f64::INFINITY
                    };
                    if t + gap < *next_switch_secs {
                        break t + gap;
                    }
                    t = *next_switch_secs;
                    *high = !*high;
                    *next_switch_secs = t + rng.exp1() * mean_secs[usize::from(*high)];
                    switches += 1;
                    if switches > 1_000_000 && rates_per_sec.iter().all(|r| *r <= 0.0) {
                        return None;
                    }
                }
            }
            Self::Profile { points } => {
                next_profile_arrival(points, now.as_secs_f64(), rng.exp1())?
            }
        };
        Some(SimTime::from_secs_f64(next_secs).max(now))
    }
}

/// Solves `∫_now^x rate(u) du = mass` for `x` over a piecewise-linear rate curve: constant
/// before the first point, linear between points (a jump where two points share a time),
/// constant after the last point.
fn next_profile_arrival(points: &[(f64, f64)], now: f64, mut mass: f64) -> Option<f64> {
    let (first_t, first_r) = points[0];
    let (last_t, last_r) = points[points.len() - 1];
    let pieces = std::iter::once((f64::NEG_INFINITY, first_t, first_r, first_r))
        .chain(points.windows(2).map(|w| (w[0].0, w[1].0, w[0].1, w[1].1)))
        .chain(std::iter::once((last_t, f64::INFINITY, last_r, last_r)));
    let mut s = now;
    for (a, b, ra, rb) in pieces {
        if b <= s {
            continue;
        }
        let start = s.max(a);
        if b.is_infinite() || a.is_infinite() {
            // Constant piece.
            if ra <= 0.0 {
                if b.is_infinite() {
                    return None;
                }
                s = b;
                continue;
            }
            let x = start + mass / ra;
            if x < b {
                return Some(x);
            }
            mass -= ra * (b - start);
            s = b;
            continue;
        }
        let k = (rb - ra) / (b - a);
        let rs = ra + k * (start - a);
        let len = b - start;
        let piece_mass = rs * len + 0.5 * k * len * len;
        if mass <= piece_mass {
            let y = if k.abs() < 1e-12 {
                mass / rs
            } else {
                (-rs + (rs * rs + 2.0 * k * mass).max(0.0).sqrt()) / k
            };
            return Some(start + y.clamp(0.0, len));
        }
        mass -= piece_mass;
        s = b;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_arrivals(p: &mut ArrivalProcess, from: f64, to: f64, seed: u64) -> usize {
        let mut rng = SimRng::stream(seed, "arrivals-test");
        let mut t = SimTime::from_secs_f64(from);
        let mut n = 0;
        while let Some(next) = p.next_after(t, &mut rng) {
            if next.as_secs_f64() >= to {
                break;
            }
            n += 1;
            t = next;
        }
        n
    }

    #[test]
    fn ramp_delivers_the_integral_of_its_rate() {
        // 0 → 1000/s over 10 s: expect 5000 arrivals in [0, 10), Poisson sd ≈ 71.
        let mut p = ArrivalProcess::new(
            &Arrivals::Ramp {
                from_per_sec: 0.0,
                to_per_sec: 1000.0,
                start_secs: 0.0,
                end_secs: 10.0,
            },
            &mut SimRng::stream(1, "x"),
        )
        .unwrap();
        let n = count_arrivals(&mut p, 0.0, 10.0, 1) as f64;
        assert!((n - 5000.0).abs() < 5.0 * 5000f64.sqrt(), "{n}");
        // After the ramp the rate stays at 1000/s.
        let n = count_arrivals(&mut p, 10.0, 20.0, 2) as f64;
        assert!((n - 10_000.0).abs() < 5.0 * 100.0, "{n}");
    }

    #[test]
    fn spike_multiplies_rate_only_during_the_spike() {
        let spec = Arrivals::Spike {
            base_per_sec: 100.0,
            peak_per_sec: 2000.0,
            at_secs: 5.0,
            duration_secs: 2.0,
        };
        let mut p = ArrivalProcess::new(&spec, &mut SimRng::stream(1, "x")).unwrap();
        let before = count_arrivals(&mut p, 0.0, 5.0, 3) as f64;
        let during = count_arrivals(&mut p, 5.0, 7.0, 4) as f64;
        let after = count_arrivals(&mut p, 7.0, 12.0, 5) as f64;
        assert!((before - 500.0).abs() < 5.0 * 500f64.sqrt(), "{before}");
        assert!((during - 4000.0).abs() < 5.0 * 4000f64.sqrt(), "{during}");
        assert!((after - 500.0).abs() < 5.0 * 500f64.sqrt(), "{after}");
    }

    #[test]
    fn bursty_long_run_rate_is_the_time_weighted_mean() {
        // Equal mean periods: long-run rate (100 + 900) / 2 = 500/s.
        let spec = Arrivals::Bursty {
            low_per_sec: 100.0,
            high_per_sec: 900.0,
            mean_low_secs: 1.0,
            mean_high_secs: 1.0,
        };
        let mut p = ArrivalProcess::new(&spec, &mut SimRng::stream(9, "x")).unwrap();
        let n = count_arrivals(&mut p, 0.0, 2000.0, 6) as f64 / 2000.0;
        // The modulating chain dominates the variance: ~1000 switches, so ±3%.
        assert!((n - 500.0).abs() < 25.0, "{n}");
    }

    #[test]
    fn zero_rate_ends_the_stream() {
        let mut p = ArrivalProcess::new(
            &Arrivals::Poisson { rate_per_sec: 0.0 },
            &mut SimRng::stream(1, "z"),
        )
        .unwrap();
        assert_eq!(
            p.next_after(SimTime::ZERO, &mut SimRng::stream(1, "z")),
            None
        );
    }
}
