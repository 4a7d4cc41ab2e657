//! The latency histograms responses are recorded into: the run's (three significant
//! digits, for the summary) and each chart interval's (two digits, for the charts'
//! percentiles).
//!
//! Both keep HdrHistogram's layout for 1 µs to [`HIST_MAX_MICROS`] at `DIGITS`
//! significant digits — 2^k sub-buckets, each bucket twice as wide as the one below —
//! counted by index, with the range of slots in use. Recording is a bit scan and two
//! shifts, well under half the instructions of the crate's general `record` (any
//! bounds, resizing, minimum and maximum kept). Clearing and reading visit only the slots in use: a chart interval
//! holds a few dozen latencies in a few hundred slots of thousands, and clearing and
//! scanning all of them every simulated second was a quarter of a charted M/M/4 run.
//! Quantiles are HdrHistogram's own (the same walk, the same values, tested against
//! the crate); the summary hands its counts to the crate ([`Latencies::to_hdr`]).

use hdrhistogram::Histogram;

use super::{HIST_MAX_MICROS, new_histogram};

/// The summary's latencies: three significant digits (2,048 sub-buckets).
pub type LatencyHistogram = Latencies<3>;
/// A chart interval's latencies: two significant digits (256 sub-buckets).
pub type ChartLatencies = Latencies<2>;

/// Latencies in microseconds, clamped to 1 µs … [`HIST_MAX_MICROS`], in
/// HdrHistogram's layout for `DIGITS` significant digits.
#[derive(Clone, Debug, PartialEq)]
pub struct Latencies<const DIGITS: u8> {
    counts: Vec<u64>,
    total: u64,
    /// The slots in use are within `lo..=hi` (none when `total` is 0).
    lo: usize,
    hi: usize,
}

impl<const DIGITS: u8> Default for Latencies<DIGITS> {
    fn default() -> Self {
        Self {
            counts: vec![0; Self::SLOTS],
            total: 0,
            lo: usize::MAX,
            hi: 0,
        }
    }
}

impl<const DIGITS: u8> Latencies<DIGITS> {
    /// log2 of half the sub-buckets: HdrHistogram takes the least power of two that
    /// resolves 2·10^`DIGITS` values one by one (2,048 for three digits).
    const HALF: u32 = (2 * 10u64.pow(DIGITS as u32)).next_power_of_two().ilog2() - 1;
    const SUB_BUCKET_MASK: u64 = (1 << (Self::HALF + 1)) - 1;
    /// Slots in HdrHistogram's counts for this layout: half a bucket more than the
    /// buckets.
    const SLOTS: usize = (Self::bucket_of(HIST_MAX_MICROS) as usize + 2) << Self::HALF;

    /// The bucket of `value`: how many times it is halved to fit the sub-buckets.
    #[inline(always)]
    const fn bucket_of(value: u64) -> u32 {
        63 - Self::HALF - (value | Self::SUB_BUCKET_MASK).leading_zeros()
    }

    /// The slot of `value` (at least 1).
    #[inline(always)]
    fn index_of(value: u64) -> usize {
        let bucket = Self::bucket_of(value);
        ((bucket as usize) << Self::HALF) + (value >> bucket) as usize
    }

    /// The lowest value counted in slot `index`, and how many values share it.
    fn range_at(index: usize) -> (u64, u64) {
        let half = 1 << Self::HALF;
        if index < 2 * half {
            return (index as u64, 1);
        }
        let bucket = (index >> Self::HALF) - 1;
        let sub = (index & (half - 1)) + half;
        ((sub as u64) << bucket, 1 << bucket)
    }

    /// Counts one latency of `micros`, clamped into the histogram's range.
    #[inline(always)]
    pub fn record(&mut self, micros: u64) {
        let slot = Self::index_of(micros.clamp(1, HIST_MAX_MICROS));
        self.counts[slot] += 1;
        self.total += 1;
        self.lo = self.lo.min(slot);
        self.hi = self.hi.max(slot);
    }

    /// Latencies recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The slots that may hold counts.
    fn used(&self) -> std::ops::Range<usize> {
        if self.total == 0 {
            0..0
        } else {
            self.lo..self.hi + 1
        }
    }

    /// Adds another histogram's counts into this one.
    pub fn add(&mut self, other: &Self) {
        let used = other.used();
        for (a, b) in self.counts[used.clone()]
            .iter_mut()
            .zip(&other.counts[used])
        {
            *a += b;
        }
        if other.total > 0 {
            self.total += other.total;
            self.lo = self.lo.min(other.lo);
            self.hi = self.hi.max(other.hi);
        }
    }

    /// Empties it, clearing only the slots in use.
    pub fn reset(&mut self) {
        let used = self.used();
        self.counts[used].fill(0);
        self.total = 0;
        self.lo = usize::MAX;
        self.hi = 0;
    }

    /// The values at `quantiles` (ascending, each in 0–1), as
    /// `hdrhistogram::Histogram::value_at_quantile` gives them: the highest value
    /// equivalent to the first slot where the count reaches ⌈q·n⌉ (at least 1), the
    /// lowest for q = 0. `None` when empty.
    pub fn quantiles<const N: usize>(&self, quantiles: [f64; N]) -> Option<[u64; N]> {
        if self.total == 0 {
            return None;
        }
        // Runs of slots that do not reach the count sought are skipped by their sum.
        const RUN: usize = 16;
        let mut out = [0; N];
        let end = self.hi + 1;
        let (mut seen, mut next, mut at) = (0u64, self.lo, self.lo);
        for (o, q) in out.iter_mut().zip(quantiles) {
            let target = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
            while seen < target && next < end {
                if let Some(run) = self.counts.get(next..next + RUN) {
                    let sum: u64 = run.iter().sum();
                    if seen + sum < target {
                        seen += sum;
                        next += RUN;
                        continue;
                    }
                }
                seen += self.counts[next];
                at = next;
                next += 1;
            }
            let (low, width) = Self::range_at(at);
            *o = if q == 0.0 { low } else { low + width - 1 };
        }
        Some(out)
    }

    /// The same counts as an HdrHistogram (equal to one that recorded the latencies
    /// itself), for the summary's quantiles and maximum.
    pub fn to_hdr(&self) -> Histogram<u64> {
        let mut h = new_histogram(DIGITS);
        for index in self.used() {
            let n = self.counts[index];
            if n > 0 {
                h.record_n(Self::range_at(index).0, n)
                    .unwrap_or_else(|e| unreachable!("every slot's value is in range: {e}"));
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimRng;

    /// The layouts are HdrHistogram's: every slot's value maps back to that slot, and
    /// the crate counts the value (and the top of the range) in the same slot.
    fn slots_are_hdrhistograms_own<const DIGITS: u8>() {
        let hdr = new_histogram(DIGITS);
        let slots = Latencies::<DIGITS>::SLOTS;
        assert_eq!(slots, hdr.distinct_values(), "{DIGITS} digits");
        for index in 1..slots {
            let (v, width) = Latencies::<DIGITS>::range_at(index);
            assert_eq!(Latencies::<DIGITS>::index_of(v), index, "value {v}");
            assert_eq!(hdr.lowest_equivalent(v), v, "slot {index} starts at {v}");
            assert_eq!(hdr.highest_equivalent(v), v + width - 1, "slot {index}");
        }
    }

    #[test]
    fn both_layouts_are_hdrhistograms_own() {
        slots_are_hdrhistograms_own::<3>();
        slots_are_hdrhistograms_own::<2>();
    }

    /// Latencies over the whole range: microseconds to beyond a day, and the ends.
    fn latencies(rng: &mut SimRng, n: u64) -> Vec<u64> {
        (0..n)
            .map(|k| match k % 4 {
                0 => rng.below(2_000),
                1 => rng.below(200_000),
                2 => (rng.exp1() * 1e6) as u64,
                _ => [0, 1, HIST_MAX_MICROS, u64::MAX][(k / 4 % 4) as usize],
            })
            .collect()
    }

    /// Recorded here, or by the crate directly: the same histogram, the same quantiles
    /// (so every figure a report or a chart prints is unchanged), whatever the count.
    fn agrees_with_the_crate<const DIGITS: u8>() {
        let mut rng = SimRng::stream(7, "latencies");
        let quantiles = [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0];
        let mut ours = Latencies::<DIGITS>::default();
        for n in [0, 1, 2, 3, 10, 99, 100, 101, 1_000, 200_000] {
            let mut direct = new_histogram(DIGITS);
            ours.reset();
            for micros in latencies(&mut rng, n) {
                ours.record(micros);
                direct.saturating_record(micros.clamp(1, HIST_MAX_MICROS));
            }
            assert_eq!(ours.len(), n);
            let handed = ours.to_hdr();
            assert!(handed == direct, "{n}: the same counts in every slot");
            assert_eq!(handed.max(), direct.max());
            let expected = quantiles.map(|q| direct.value_at_quantile(q));
            match ours.quantiles(quantiles) {
                Some(got) => assert_eq!(got, expected, "{DIGITS} digits, {n} latencies"),
                None => assert_eq!(n, 0),
            }
        }
    }

    #[test]
    fn hands_over_and_reads_what_the_crate_would_have_recorded() {
        agrees_with_the_crate::<3>();
        agrees_with_the_crate::<2>();
    }

    /// Adding, and clearing what is in use, leave the histograms as if recorded anew.
    #[test]
    fn adds_and_clears_only_what_is_in_use() {
        let mut rng = SimRng::stream(8, "latencies");
        let (mut a, mut b) = (ChartLatencies::default(), ChartLatencies::default());
        let (xs, ys) = (latencies(&mut rng, 500), latencies(&mut rng, 300));
        xs.iter().for_each(|x| a.record(*x));
        ys.iter().for_each(|y| b.record(*y));
        let mut both = ChartLatencies::default();
        xs.iter().chain(&ys).for_each(|v| both.record(*v));
        let mut merged = ChartLatencies::default();
        merged.add(&a);
        merged.add(&ChartLatencies::default());
        merged.add(&b);
        assert_eq!(merged, both);
        merged.reset();
        assert_eq!(merged, ChartLatencies::default());
        assert!(merged.counts.iter().all(|c| *c == 0));
        assert_eq!(merged.quantiles([0.5]), None);
    }
}
