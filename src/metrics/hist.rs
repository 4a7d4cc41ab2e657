//! The latency histogram every successful response is recorded into.
//!
//! It keeps HdrHistogram's layout for 1 µs to [`HIST_MAX_MICROS`] at three significant
//! digits — 2,048 sub-buckets, each bucket twice as wide as the one below — and only
//! counts by index while the run records. The `hdrhistogram` crate does the reading
//! (quantiles, the maximum): [`LatencyHistogram::to_hdr`] hands it the counts. Its own
//! `record` is general (any bounds, resizing, a count type, minimum and maximum kept);
//! for the one layout used here the index is a bit scan and two shifts, a fifth of the
//! instructions, once per request.

use hdrhistogram::Histogram;

use super::{HIST_MAX_MICROS, new_histogram};

/// log2 of half the sub-buckets (1,024): 2,048 sub-buckets give three significant digits.
const HALF_MAGNITUDE: u32 = 10;
const SUB_BUCKET_MASK: u64 = (1 << (HALF_MAGNITUDE + 1)) - 1;

/// The bucket of `value`: how many times it is halved to fit 2,048 sub-buckets.
#[inline(always)]
const fn bucket_of(value: u64) -> u32 {
    63 - HALF_MAGNITUDE - (value | SUB_BUCKET_MASK).leading_zeros()
}

/// The slot of `value` (at least 1) in HdrHistogram's counts for this layout.
#[inline(always)]
fn index_of(value: u64) -> usize {
    let bucket = bucket_of(value);
    ((bucket as usize) << HALF_MAGNITUDE) + (value >> bucket) as usize
}

/// Slots in HdrHistogram's counts for this layout: half a bucket more than the buckets.
const SLOTS: usize = (bucket_of(HIST_MAX_MICROS) as usize + 2) << HALF_MAGNITUDE;

/// The lowest value counted in slot `index` (the inverse of [`index_of`]).
fn value_at(index: usize) -> u64 {
    let half = 1 << HALF_MAGNITUDE;
    if index < 2 * half {
        return index as u64;
    }
    let bucket = (index >> HALF_MAGNITUDE) - 1;
    let sub = (index & (half - 1)) + half;
    (sub as u64) << bucket
}

/// Latencies in microseconds, clamped to 1 µs … [`HIST_MAX_MICROS`].
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: vec![0; SLOTS],
            total: 0,
        }
    }
}

impl LatencyHistogram {
    /// Counts one latency of `micros`, clamped into the histogram's range.
    #[inline(always)]
    pub fn record(&mut self, micros: u64) {
        let slot = index_of(micros.clamp(1, HIST_MAX_MICROS));
        self.counts[slot] += 1;
        self.total += 1;
    }

    /// Latencies recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Adds another histogram's counts into this one.
    pub fn add(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    pub fn reset(&mut self) {
        self.counts.fill(0);
        self.total = 0;
    }

    /// The same counts as an HdrHistogram, for its quantiles and maximum: equal to one
    /// that recorded the latencies itself.
    pub fn to_hdr(&self) -> Histogram<u64> {
        let mut h = new_histogram(3);
        for (index, &n) in self.counts.iter().enumerate() {
            if n > 0 {
                h.record_n(value_at(index), n)
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

    /// The layout is HdrHistogram's: every slot's value maps back to that slot, and the
    /// crate puts the value (and the top of the range) at the same index.
    #[test]
    fn slots_are_hdrhistograms_own() {
        let hdr = new_histogram(3);
        assert_eq!(
            SLOTS,
            hdr.distinct_values(),
            "as many slots as the crate's counts for these bounds"
        );
        for index in 0..SLOTS {
            let v = value_at(index);
            if v == 0 {
                continue; // slot 0 holds values below the lowest trackable (1 µs)
            }
            assert_eq!(index_of(v), index, "value {v}");
            assert_eq!(hdr.lowest_equivalent(v), v, "slot {index} starts at {v}");
        }
    }

    /// Recorded here and handed over, or recorded by the crate directly: the same
    /// histogram, so every quantile and the maximum a report prints are unchanged.
    #[test]
    fn hands_over_the_histogram_the_crate_would_have_recorded() {
        let mut rng = SimRng::stream(7, "latencies");
        let mut ours = LatencyHistogram::default();
        let mut direct = new_histogram(3);
        for k in 0..200_000u64 {
            // Spread over the whole range: microseconds to beyond a day, and the ends.
            let micros = match k % 4 {
                0 => rng.below(2_000),
                1 => rng.below(200_000),
                2 => (rng.exp1() * 1e6) as u64,
                _ => [0, 1, HIST_MAX_MICROS, u64::MAX][(k / 4 % 4) as usize],
            };
            ours.record(micros);
            direct.saturating_record(micros.clamp(1, HIST_MAX_MICROS));
        }
        let handed = ours.to_hdr();
        assert_eq!(handed.len(), direct.len());
        assert_eq!(handed.max(), direct.max());
        assert_eq!(handed.min_nz(), direct.min_nz());
        for q in [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0] {
            assert_eq!(
                handed.value_at_quantile(q),
                direct.value_at_quantile(q),
                "q = {q}"
            );
        }
        assert!(handed == direct, "the same counts in every slot");

        let mut merged = LatencyHistogram::default();
        merged.add(&ours);
        merged.add(&ours);
        assert_eq!(merged.len(), 2 * ours.len());
        merged.reset();
        assert!(merged.is_empty());
        assert_eq!(merged, LatencyHistogram::default());
    }
}
