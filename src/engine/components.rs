//! What every component kind's runtime shares: request references, routing targets,
//! partitions, the [`Warm`] mark, and queueing stations (from `super::station`). Each
//! kind's own state is in `super::kinds` (re-exported here); the request flow that moves
//! requests between them lives in [`super::world`].

use crate::sim::math;
use crate::sim::{SimDuration, SimRng, SimTime};

pub use super::kinds::*;
pub use super::station::Station;

/// "No index" marker for optional `u32` indices.
pub const NONE: u32 = u32::MAX;

/// The meters a component keeps, marked at the end of the warm-up: summaries count from
/// the mark. Each kind lists its own meters beside its state (`super::kinds`), once; a
/// meter left out would count the warm-up, which `tests/integration/determinism.rs`
/// catches.
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

/// Puts `item` in a slot of `slots` freed earlier (listed in `free`), or in a new one at
/// the end; returns its slot, for an event to find it by. (Pending retries of clients and
/// of queues' jobs.)
pub fn store_in_free_slot<T>(slots: &mut Vec<T>, free: &mut Vec<u32>, item: T) -> u32 {
    match free.pop() {
        Some(slot) => {
            slots[slot as usize] = item;
            slot
        }
        None => {
            slots.push(item);
            (slots.len() - 1) as u32
        }
    }
}

/// A key from `0..keys`: Zipf-distributed by rank when `zipf` is given, else uniform.
pub fn draw_key(zipf: Option<&Zipf>, keys: u64, rng: &mut SimRng) -> u64 {
    match zipf {
        Some(z) => z.sample(rng).saturating_sub(1),
        None => rng.below(keys),
    }
}

/// Zipf's law over ranks `1..=n`: rank k drawn with probability ∝ k^−s.
///
/// The rejection-inversion sampler of `rand_distr::Zipf` (Jason Crease's), drawing the
/// same two uniforms per try and accepting the same tries, written out so that the
/// common exponent s = 1 needs one `exp` a try instead of an `exp` and two `pow` calls
/// (x^−1 is 1/x, y^1 is y), and the rank is truncated rather than floored by a library
/// call (it is positive). Key popularity was a twentieth of the three-tier scenario's
/// time.
#[derive(Clone, Debug)]
pub struct Zipf {
    s: f64,
    /// The total mass of the continuous envelope.
    t: f64,
    /// 1 / (1 − s), when s ≠ 1.
    q: f64,
}

impl Zipf {
    /// `None` unless n ≥ 1 and s ≥ 0 (both finite).
    pub fn new(n: f64, s: f64) -> Option<Self> {
        if !(s >= 0.0 && s.is_finite() && n >= 1.0 && n.is_finite()) {
            return None;
        }
        let (q, t) = if s == 1.0 {
            (0.0, 1.0 + math::ln(n))
        } else {
            let q = 1.0 / (1.0 - s);
            (q, (math::powf(n, 1.0 - s) - s) * q)
        };
        Some(Self { s, t, q })
    }

    /// A rank in `1..=n`.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> u64 {
        loop {
            let inv_b = self.inv_cdf(rng.uniform());
            // `inv_b + 1` is at least 1: truncating is flooring.
            let rank = (inv_b + 1.0) as u64;
            let x = rank as f64;
            let ratio = if self.s == 1.0 {
                // (1/x)·y, rounded as x^−1 · y^1 was.
                if x > 1.0 { (1.0 / x) * inv_b } else { 1.0 / x }
            } else {
                let r = math::powf(x, -self.s);
                if x > 1.0 {
                    r * math::powf(inv_b, self.s)
                } else {
                    r
                }
            };
            if rng.uniform() < ratio {
                return rank;
            }
        }
    }

    #[inline]
    fn inv_cdf(&self, p: f64) -> f64 {
        let pt = p * self.t;
        if pt <= 1.0 {
            pt
        } else if self.s != 1.0 {
            math::powf(pt * (1.0 - self.s) + self.s, self.q)
        } else {
            math::exp(pt - 1.0)
        }
    }
}

/// The extra network time of a latency spike still going on at `now`.
pub fn spike_extra(spike: Option<(SimTime, SimDuration)>, now: SimTime) -> SimDuration {
    match spike {
        Some((until, extra)) if now < until => extra,
        _ => SimDuration::ZERO,
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::Distribution as _;

    /// Draw for draw what `rand_distr::Zipf` gives on the same stream, for the common
    /// s = 1 (where the `pow` calls are replaced) and others.
    #[test]
    fn zipf_draws_what_rand_distr_draws() {
        for (n, s) in [
            (100_000.0, 1.0),
            (20.0, 1.0),
            (1_000.0, 0.8),
            (50.0, 1.3),
            (7.0, 0.0),
        ] {
            let ours = Zipf::new(n, s).unwrap();
            let theirs = rand_distr::Zipf::new(n, s).unwrap();
            let (mut a, mut b) = (SimRng::stream(5, "zipf"), SimRng::stream(5, "zipf"));
            for k in 0..100_000 {
                let (x, y) = (ours.sample(&mut a), theirs.sample(b.generator()) as u64);
                assert_eq!(x, y, "n {n}, s {s}: draw {k}");
            }
        }
    }

    /// Each rank's share is its Zipf probability, within four standard errors.
    #[test]
    fn zipf_ranks_have_their_probabilities() {
        let (n, s, draws) = (10u64, 1.0, 200_000);
        let z = Zipf::new(n as f64, s).unwrap();
        let mut rng = SimRng::stream(11, "zipf-freq");
        let mut counts = vec![0u64; n as usize + 1];
        for _ in 0..draws {
            counts[z.sample(&mut rng) as usize] += 1;
        }
        assert_eq!(counts[0], 0, "ranks start at 1");
        let norm: f64 = (1..=n).map(|k| math::powf(k as f64, -s)).sum();
        for k in 1..=n {
            let p = math::powf(k as f64, -s) / norm;
            let share = counts[k as usize] as f64 / draws as f64;
            let se = (p * (1.0 - p) / draws as f64).sqrt();
            assert!(
                (share - p).abs() < 4.0 * se,
                "rank {k}: {share} against {p}"
            );
        }
    }
}
