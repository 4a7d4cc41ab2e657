//! Time-weighted levels and counters with snapshots for the warm-up boundary and for
//! each chart sample, so one cumulative record serves both the summary and the charts.

use crate::sim::SimTime;

/// A quantity that changes at events and is averaged over time (queue length, busy
/// servers, connections in use). Keeps the exact integral in integer nanoseconds.
///
/// The integral is not summed interval by interval: up to `now` it is
/// `value · now − Σ tᵢ·Δᵢ`, the sum over its changes (by Δᵢ at tᵢ) — the same integer
/// (summation by parts), but a step of one adds or subtracts the time, where the
/// interval's area took a multiplication and the time of the last change.
#[derive(Clone, Debug, Default)]
pub struct Level {
    value: u32,
    /// Σ tᵢ·Δᵢ over its changes, in value·ns.
    moments: i128,
    /// When it last changed: checked in debug builds only (the area is read at or
    /// after its last change, the one condition summation by parts needs).
    #[cfg(debug_assertions)]
    last_ns: u64,
    area_at_warmup: u128,
    area_at_sample: u128,
}

impl Level {
    #[inline]
    pub fn value(&self) -> u32 {
        self.value
    }

    #[inline]
    pub fn set(&mut self, now: SimTime, value: u32) {
        let delta = i128::from(value) - i128::from(self.value);
        self.moments += delta * i128::from(now.0);
        self.value = value;
        self.changed(now);
    }

    #[inline]
    pub fn add(&mut self, now: SimTime, delta: i32) {
        let v = self.value.saturating_add_signed(delta);
        self.set(now, v);
    }

    #[inline]
    pub fn inc(&mut self, now: SimTime) {
        self.value += 1;
        self.moments += i128::from(now.0);
        self.changed(now);
    }

    #[inline]
    pub fn dec(&mut self, now: SimTime) {
        if self.value > 0 {
            self.value -= 1;
            self.moments -= i128::from(now.0);
            self.changed(now);
        }
    }

    /// One less from `at`, a time already passed, though changes after it may be
    /// recorded: the area up to any time after every change stays exact, since the sum
    /// over the changes does not depend on their order. (Until it is recorded, the value
    /// counts one too many: its caller records it before the value is read.)
    #[inline]
    pub fn dec_back_to(&mut self, at: SimTime) {
        if self.value > 0 {
            self.value -= 1;
            self.moments -= i128::from(at.0);
            #[cfg(debug_assertions)]
            {
                self.last_ns = self.last_ns.max(at.0);
            }
        }
    }

    /// Notes the time of a change (debug builds), for the check in `area_until`.
    #[inline(always)]
    fn changed(&mut self, _now: SimTime) {
        #[cfg(debug_assertions)]
        {
            debug_assert!(self.last_ns <= _now.0, "a level changed back in time");
            self.last_ns = _now.0;
        }
    }

    /// ∫ value dt from the start of the run to `now` (not before its last change), in
    /// value·ns.
    pub fn area_until(&self, now: SimTime) -> u128 {
        #[cfg(debug_assertions)]
        debug_assert!(self.last_ns <= now.0, "a level read before its last change");
        (i128::from(self.value) * i128::from(now.0) - self.moments) as u128
    }

    /// Marks the end of the warm-up: the summary averages from here.
    pub fn mark_warmup(&mut self, now: SimTime) {
        self.area_at_warmup = self.area_until(now);
    }

    /// Time average since the warm-up, given the warm-up end and `now`.
    pub fn mean_since_warmup(&self, warmup_end: SimTime, now: SimTime) -> f64 {
        let span = now.0.saturating_sub(warmup_end.0);
        if span == 0 {
            return f64::from(self.value);
        }
        (self.area_until(now) - self.area_at_warmup) as f64 / span as f64
    }

    /// Time average since the warm-up of the sum of `a` and `b`: a level that is always
    /// their sum needs no updates of its own. The same figure to the bit as a level kept
    /// beside them (the integer areas add exactly).
    pub fn mean_of_sum_since_warmup(
        a: &Level,
        b: &Level,
        warmup_end: SimTime,
        now: SimTime,
    ) -> f64 {
        let span = now.0.saturating_sub(warmup_end.0);
        if span == 0 {
            return f64::from(a.value + b.value);
        }
        (a.area_until(now) + b.area_until(now) - a.area_at_warmup - b.area_at_warmup) as f64
            / span as f64
    }

    /// Time average since the previous sample; moves the sample mark to `now`.
    pub fn take_sample_mean(&mut self, prev_sample: SimTime, now: SimTime) -> f64 {
        let area = self.area_until(now);
        let span = now.0.saturating_sub(prev_sample.0);
        let mean = if span == 0 {
            f64::from(self.value)
        } else {
            to_f64(area - self.area_at_sample) / span as f64
        };
        self.area_at_sample = area;
        mean
    }

    /// Moves the sample mark to `at` without taking a sample: a level left unread
    /// through samples it did not change in (see lazy sampling in the engine) catches
    /// up before it changes again. `at` is not before its last change.
    pub fn skip_sample(&mut self, at: SimTime) {
        self.area_at_sample = self.area_until(at);
    }
}

/// `x` as an `f64`: exactly what `x as f64` gives when `x` fits in 64 bits (a sample's
/// area nearly always does: a hundred busy servers for six years), without the slow
/// software conversion of a 128-bit integer; within one rounding of it above.
#[inline]
fn to_f64(x: u128) -> f64 {
    let (high, low) = ((x >> 64) as u64, x as u64);
    if high == 0 {
        low as f64
    } else {
        high as f64 * 18_446_744_073_709_551_616.0 + low as f64
    }
}

/// The busy servers of a resource (cores, worker threads, pooled connections,
/// consumers) against the servers it has, for utilisation.
///
/// Capacity is the servers the resource has while it is up (`servers`, 0 while down),
/// but never fewer than are busy: servers taken away — fewer cores or a smaller pool
/// during a run, an instance that crashed or stopped — still count while they finish
/// what they hold. So busy ≤ capacity at every instant, and utilisation (busy time over
/// capacity time) stays within [0, 1] over any window, through crashes, restarts,
/// scaling and live changes.
#[derive(Clone, Debug, Default)]
pub struct Occupancy {
    busy: Level,
    capacity: Level,
    /// The servers it has (0 while down), without those still finishing.
    servers: Level,
}

impl Occupancy {
    /// Busy servers now.
    #[inline]
    pub fn value(&self) -> u32 {
        self.busy.value()
    }

    /// The busy servers over time.
    pub fn level(&self) -> &Level {
        &self.busy
    }

    /// The servers counted as capacity over time.
    pub fn capacity(&self) -> &Level {
        &self.capacity
    }

    /// The servers it has over time (0 while down), without those taken away that are
    /// still finishing: what it costs.
    pub fn servers(&self) -> &Level {
        &self.servers
    }

    /// One more server busy.
    #[inline]
    pub fn inc(&mut self, now: SimTime) {
        self.busy.inc(now);
        if self.busy.value() > self.capacity.value() {
            self.capacity.set(now, self.busy.value());
        }
    }

    /// Sets the busy servers (e.g. a pooler's connections, held all the time).
    pub fn set(&mut self, now: SimTime, busy: u32) {
        self.busy.set(now, busy);
        self.capacity
            .set(now, self.servers.value().max(self.busy.value()));
    }

    /// One server less busy.
    #[inline]
    pub fn dec(&mut self, now: SimTime) {
        self.busy.dec(now);
        if self.capacity.value() > self.servers.value() {
            self.capacity
                .set(now, self.servers.value().max(self.busy.value()));
        }
    }

    /// One server less busy from `at`, a time already passed (see
    /// [`Level::dec_back_to`]). The capacity follows servers taken away that finish
    /// exactly when their ends are given in time order, after every change of
    /// `servers`.
    #[inline]
    pub fn dec_back_to(&mut self, at: SimTime) {
        self.busy.dec_back_to(at);
        if self.capacity.value() > self.servers.value() {
            self.capacity
                .set(at, self.servers.value().max(self.busy.value()));
        }
    }

    /// The resource has `servers` from now (0: it is down).
    pub fn set_servers(&mut self, now: SimTime, servers: u32) {
        self.servers.set(now, servers);
        self.capacity.set(now, servers.max(self.busy.value()));
    }

    /// Marks the end of the warm-up on its levels.
    pub fn mark_warmup(&mut self, now: SimTime) {
        self.busy.mark_warmup(now);
        self.capacity.mark_warmup(now);
        self.servers.mark_warmup(now);
    }

    /// [`Level::skip_sample`] of the capacity only, when nothing was busy since the
    /// last sample read it (a level that stayed at zero has nothing to catch up).
    pub fn skip_capacity_sample(&mut self, at: SimTime) {
        debug_assert_eq!(self.busy.value(), 0, "busy servers to catch up");
        self.capacity.skip_sample(at);
    }

    /// Mean busy servers and mean capacity since the previous sample (moves both marks).
    pub fn take_sample_means(&mut self, prev: SimTime, now: SimTime) -> (f64, f64) {
        (
            self.busy.take_sample_mean(prev, now),
            self.capacity.take_sample_mean(prev, now),
        )
    }

    /// Adds its busy servers and its capacity since the previous sample to two sums
    /// (moves both marks).
    #[inline]
    pub fn take_sample_into(
        &mut self,
        now: SimTime,
        busy: &mut SampleSum,
        capacity: &mut SampleSum,
    ) {
        busy.take(&mut self.busy, now);
        capacity.take(&mut self.capacity, now);
    }
}

/// Several levels summed over one sample interval — a tier's instances — in exact
/// integer areas, divided once at the end: the same whatever order they are added in.
#[derive(Clone, Copy, Debug, Default)]
pub struct SampleSum {
    /// ∫ Σ value dt over the interval, in value·ns.
    area: u128,
    /// Σ value now (the mean of an interval of no length).
    value: u64,
}

impl SampleSum {
    /// Adds `level` since its sample mark and moves the mark to `now`.
    #[inline]
    pub fn take(&mut self, level: &mut Level, now: SimTime) {
        let area = level.area_until(now);
        self.area += area - level.area_at_sample;
        self.value += u64::from(level.value);
        level.area_at_sample = area;
    }

    /// Adds a level that held `value` over the whole interval `prev..now`.
    #[inline]
    pub fn add_constant(&mut self, value: u64, prev: SimTime, now: SimTime) {
        self.area += u128::from(value) * u128::from(now.0.saturating_sub(prev.0));
        self.value += value;
    }

    /// The sum's time average over `prev..now`.
    pub fn mean(&self, prev: SimTime, now: SimTime) -> f64 {
        let span = now.0.saturating_sub(prev.0);
        if span == 0 {
            self.value as f64
        } else {
            to_f64(self.area) / span as f64
        }
    }
}

/// An event count with warm-up and sample marks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counter {
    total: u64,
    at_warmup: u64,
    at_sample: u64,
}

impl Counter {
    #[inline]
    pub fn inc(&mut self) {
        self.total += 1;
    }

    #[inline]
    pub fn add(&mut self, n: u64) {
        self.total += n;
    }

    pub fn mark_warmup(&mut self) {
        self.at_warmup = self.total;
    }

    /// Count since the warm-up.
    pub fn since_warmup(&self) -> u64 {
        self.total - self.at_warmup
    }

    /// Count since the previous sample; moves the sample mark.
    pub fn take_sample(&mut self) -> u64 {
        let n = self.total - self.at_sample;
        self.at_sample = self.total;
        n
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Adds another counter (all its marks) into this one.
    pub fn absorb(&mut self, other: &Counter) {
        self.total += other.total;
        self.at_warmup += other.at_warmup;
        self.at_sample += other.at_sample;
    }
}

/// A sum of durations (nanoseconds) with a warm-up mark: for mean waits and sojourns.
#[derive(Clone, Copy, Debug, Default)]
pub struct DurationSum {
    total_ns: u128,
    at_warmup: u128,
    count: u64,
    count_at_warmup: u64,
}

impl DurationSum {
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.total_ns += u128::from(ns);
        self.count += 1;
    }

    pub fn mark_warmup(&mut self) {
        self.at_warmup = self.total_ns;
        self.count_at_warmup = self.count;
    }

    /// Adds another sum (with its warm-up mark) into this one.
    pub fn absorb(&mut self, other: &DurationSum) {
        self.total_ns += other.total_ns;
        self.at_warmup += other.at_warmup;
        self.count += other.count;
        self.count_at_warmup += other.count_at_warmup;
    }

    /// Mean since the warm-up, in milliseconds (0 when nothing was recorded).
    pub fn mean_ms_since_warmup(&self) -> f64 {
        let n = self.count - self.count_at_warmup;
        if n == 0 {
            0.0
        } else {
            (self.total_ns - self.at_warmup) as f64 / n as f64 / 1e6
        }
    }

    pub fn count_since_warmup(&self) -> u64 {
        self.count - self.count_at_warmup
    }

    /// Total since the warm-up, in seconds.
    pub fn total_secs_since_warmup(&self) -> f64 {
        (self.total_ns - self.at_warmup) as f64 / 1e9
    }
}

/// Count, sum and sum of squares of a quantity (nanoseconds), with a warm-up mark: for
/// the squared coefficient of variation of interarrival and service times.
#[derive(Clone, Copy, Debug, Default)]
pub struct Moments {
    total: [f64; 3],
    at_warmup: [f64; 3],
}

impl Moments {
    #[inline]
    pub fn record(&mut self, ns: u64) {
        // Through `i64`: one instruction on x86-64 where `u64` takes six, and the same
        // value for every duration below 292 years (2^63 ns), the longest there is.
        let x = ns.min(i64::MAX as u64) as i64 as f64;
        self.total[0] += 1.0;
        self.total[1] += x;
        self.total[2] += x * x;
    }

    pub fn mark_warmup(&mut self) {
        self.at_warmup = self.total;
    }

    pub fn absorb(&mut self, other: &Moments) {
        for k in 0..3 {
            self.total[k] += other.total[k];
            self.at_warmup[k] += other.at_warmup[k];
        }
    }

    /// Values recorded since the warm-up.
    pub fn count_since_warmup(&self) -> f64 {
        self.total[0] - self.at_warmup[0]
    }

    /// Mean since the warm-up, in seconds (NaN when nothing was recorded).
    pub fn mean_secs_since_warmup(&self) -> f64 {
        let n = self.count_since_warmup();
        (self.total[1] - self.at_warmup[1]) / n / 1e9
    }

    /// Variance ÷ mean² since the warm-up (NaN with fewer than two values or a zero
    /// mean).
    pub fn scv_since_warmup(&self) -> f64 {
        let n = self.count_since_warmup();
        if n < 2.0 {
            return f64::NAN;
        }
        let mean = (self.total[1] - self.at_warmup[1]) / n;
        let square = (self.total[2] - self.at_warmup[2]) / n;
        if mean <= 0.0 {
            return f64::NAN;
        }
        ((square - mean * mean) / (mean * mean)).max(0.0) * n / (n - 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The area is exact only from a level's last change on (summation by parts):
    /// debug builds catch a read from before it.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "a level read before its last change")]
    fn reading_a_level_before_its_last_change_is_caught() {
        let mut l = Level::default();
        l.inc(SimTime(10));
        l.area_until(SimTime(5));
    }

    #[test]
    fn an_area_converts_as_the_language_converts_it() {
        for x in [0u128, 1, (1 << 53) + 1, u64::MAX as u128] {
            assert_eq!(to_f64(x), x as f64, "{x}");
        }
        for x in [
            (u64::MAX as u128) + 1,
            (1 << 100) + (1 << 47) + 3,
            u128::MAX,
        ] {
            let (a, b) = (to_f64(x), x as f64);
            assert!((a - b).abs() <= b * f64::EPSILON, "{x}: {a} against {b}");
        }
    }

    #[test]
    fn moments_give_the_squared_coefficient_of_variation() {
        let mut m = Moments::default();
        m.record(999);
        m.mark_warmup();
        for x in [2, 2, 2, 2] {
            m.record(x);
        }
        assert_eq!(m.scv_since_warmup(), 0.0);
        let mut m = Moments::default();
        for x in [1, 3] {
            m.record(x);
        }
        // Sample variance 2, mean 2: SCV 0.5.
        assert!((m.scv_since_warmup() - 0.5).abs() < 1e-12);
        assert!((m.mean_secs_since_warmup() - 2e-9).abs() < 1e-21);
    }

    #[test]
    fn occupancy_counts_servers_taken_away_while_they_finish() {
        let mut o = Occupancy::default();
        o.set_servers(SimTime(0), 2);
        o.inc(SimTime(0));
        o.inc(SimTime(0));
        // The resource goes down with both servers busy: they still count until done.
        o.set_servers(SimTime(10), 0);
        assert_eq!(o.capacity().value(), 2);
        o.dec(SimTime(20));
        assert_eq!(o.capacity().value(), 1);
        o.dec(SimTime(30));
        assert_eq!(o.capacity().value(), 0);
        // busy = capacity throughout: utilisation exactly 1, never above.
        let busy = o.level().area_until(SimTime(40));
        let capacity = o.capacity().area_until(SimTime(40));
        assert_eq!(busy, capacity);
        // Busy beyond the servers (a live change lowered them) raises capacity too.
        o.set_servers(SimTime(40), 1);
        o.inc(SimTime(40));
        o.inc(SimTime(40));
        assert_eq!(o.capacity().value(), 2);
        o.dec(SimTime(50));
        assert_eq!(o.capacity().value(), 1);
    }

    /// Levels summed over a sample interval average to the sum of their own means,
    /// whatever order they are added in, and leave each level's mark at the sample.
    #[test]
    fn a_sample_sum_is_the_sum_of_the_levels_means_in_any_order() {
        let levels = || {
            let (mut a, mut b) = (Level::default(), Level::default());
            a.set(SimTime(0), 3); // 3 over 0..10, 1 over 10..40
            a.set(SimTime(10), 1);
            b.set(SimTime(5), 2); // 0 over 0..5, 2 over 5..40
            (a, b)
        };
        let (mut a, mut b) = levels();
        let means = a.take_sample_mean(SimTime(0), SimTime(40))
            + b.take_sample_mean(SimTime(0), SimTime(40));
        for order in [[0, 1], [1, 0]] {
            let (mut a, mut b) = levels();
            let mut sum = SampleSum::default();
            for k in order {
                sum.take(if k == 0 { &mut a } else { &mut b }, SimTime(40));
            }
            // (30 + 30) + 70 over 40 ns, plus a constant 4 over the interval.
            sum.add_constant(4, SimTime(0), SimTime(40));
            assert_eq!(sum.mean(SimTime(0), SimTime(40)), means + 4.0);
            assert_eq!(sum.mean(SimTime(40), SimTime(40)), 1.0 + 2.0 + 4.0);
            // The marks moved: the next interval starts from 40.
            assert_eq!(a.take_sample_mean(SimTime(40), SimTime(50)), 1.0);
        }
    }

    /// A station's requests in system are its busy servers plus its line, not a level of
    /// their own: the mean of the two added gives, to the bit, what a third level moved
    /// beside them gave, warm-up mark included.
    #[test]
    fn the_mean_of_a_sum_is_that_of_a_level_kept_as_the_sum() {
        let (mut busy, mut line, mut both) = (Level::default(), Level::default(), Level::default());
        let mut rng = crate::sim::SimRng::stream(5, "levels");
        let mut t = 0;
        for step in 0..10_000 {
            t += rng.below(1_000_000_007);
            let now = SimTime(t);
            if step == 3_000 {
                for l in [&mut busy, &mut line, &mut both] {
                    l.mark_warmup(now);
                }
            }
            let (b, q) = (rng.below(64) as u32, rng.below(5_000) as u32);
            busy.set(now, b);
            line.set(now, q);
            both.set(now, b + q);
        }
        // At many instants after the last change: exactly equal, not merely within a
        // rounding (two means added would differ in the last bit at some of them).
        let warmup = SimTime(t / 3);
        for k in 0..200 {
            let now = SimTime(t + k * 7_919_333);
            let kept = both.mean_since_warmup(warmup, now);
            assert!(kept > 0.0);
            assert_eq!(
                Level::mean_of_sum_since_warmup(&busy, &line, warmup, now),
                kept
            );
        }
        assert_eq!(
            Level::mean_of_sum_since_warmup(&busy, &line, SimTime(t), SimTime(t)),
            both.mean_since_warmup(SimTime(t), SimTime(t))
        );
    }

    #[test]
    fn level_integrates_exactly() {
        let mut l = Level::default();
        l.set(SimTime(0), 2); // 2 for 10ns
        l.set(SimTime(10), 4); // 4 for 30ns
        l.mark_warmup(SimTime(20)); // area so far 20 + 40 = 60
        assert_eq!(l.mean_since_warmup(SimTime(20), SimTime(40)), 4.0);
        assert_eq!(l.take_sample_mean(SimTime(0), SimTime(40)), 140.0 / 40.0);
        l.set(SimTime(40), 0);
        assert_eq!(l.take_sample_mean(SimTime(40), SimTime(50)), 0.0);
    }
}
