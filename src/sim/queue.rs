//! The event queue: a min-heap on `(time, insertion sequence)`.
//!
//! Events scheduled for the same instant run in the order they were scheduled (FIFO),
//! which together with seeded randomness makes every run reproducible. Any scheduled
//! event can be cancelled through the [`EventId`] that scheduling returned; cancelled
//! entries are dropped lazily when they reach the top of the heap.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rustc_hash::FxHashSet;

use super::time::SimTime;

/// Identifies one scheduled event, for cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventId(u64);

struct Entry<E> {
    /// `time << 64 | seq`: one integer comparison orders by time, then FIFO.
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the earliest key is on top.
        other.key.cmp(&self.key)
    }
}

/// A deterministic priority queue of future events.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    cancelled: FxHashSet<u64>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            next_seq: 0,
            cancelled: FxHashSet::default(),
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `event` at `at`. The caller (the engine) guarantees `at` is not in the past.
    pub fn schedule(&mut self, at: SimTime, event: E) -> EventId {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry {
            key: (u128::from(at.0) << 64) | u128::from(seq),
            event,
        });
        EventId(seq)
    }

    /// Cancels a scheduled event. Cancelling an event that already ran is a no-op.
    pub fn cancel(&mut self, id: EventId) {
        if id.0 < self.next_seq {
            self.cancelled.insert(id.0);
        }
    }

    /// Time of the next live event, discarding cancelled entries on top.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.drop_cancelled_top();
        self.heap.peek().map(|e| SimTime((e.key >> 64) as u64))
    }

    /// Removes and returns the next live event if it is due at or before `limit`.
    #[inline]
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        self.drop_cancelled_top();
        let top = self.heap.peek_mut()?;
        let at = SimTime((top.key >> 64) as u64);
        if at > limit {
            return None;
        }
        let entry = std::collections::binary_heap::PeekMut::pop(top);
        Some((at, entry.event))
    }

    fn drop_cancelled_top(&mut self) {
        if self.cancelled.is_empty() {
            return;
        }
        while let Some(top) = self.heap.peek() {
            let seq = top.key as u64;
            if self.cancelled.remove(&seq) {
                self.heap.pop();
            } else {
                break;
            }
        }
    }

    /// Number of entries in the heap, including cancelled ones not yet discarded.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.len() == self.cancelled.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_with_fifo_ties() {
        let mut q = EventQueue::default();
        q.schedule(SimTime(20), "c");
        q.schedule(SimTime(10), "a");
        q.schedule(SimTime(10), "b");
        q.schedule(SimTime(5), "first");
        let order: Vec<_> = std::iter::from_fn(|| q.pop_until(SimTime::MAX)).collect();
        assert_eq!(
            order,
            vec![
                (SimTime(5), "first"),
                (SimTime(10), "a"),
                (SimTime(10), "b"),
                (SimTime(20), "c")
            ]
        );
    }

    #[test]
    fn cancelled_events_never_pop() {
        let mut q = EventQueue::default();
        let a = q.schedule(SimTime(1), 'a');
        q.schedule(SimTime(2), 'b');
        let c = q.schedule(SimTime(3), 'c');
        q.cancel(a);
        q.cancel(c);
        assert_eq!(q.peek_time(), Some(SimTime(2)));
        assert_eq!(q.pop_until(SimTime::MAX), Some((SimTime(2), 'b')));
        assert_eq!(q.pop_until(SimTime::MAX), None);
        assert!(q.is_empty());
    }
}
