//! The event queue: a min-heap on `(time, insertion sequence)`.
//!
//! Events scheduled for the same instant run in the order they were scheduled (FIFO),
//! which together with seeded randomness makes every run reproducible. Any scheduled
//! event can be cancelled through the [`EventId`] that scheduling returned; cancelled
//! entries are dropped lazily when they reach the top of the heap.
//!
//! Handling an event nearly always schedules another, so popping leaves the popped
//! entry in place as a *hole* at the top: the next schedule overwrites it and sifts the
//! new entry down once, instead of a pop's sift down and up followed by a push's sift
//! up. Every key is unique, so the order events come out in does not depend on how the
//! heap holds them.
//!
//! One recurring event may wait beside the heap ([`EventQueue::schedule_aside`]): the
//! engine keeps the first client's next arrival there, so an arrival is taken and its
//! successor scheduled without moving the heap, in the same order it would come out of
//! the heap.

use rustc_hash::FxHashSet;

use super::time::SimTime;

/// Identifies one scheduled event, for cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventId(u64);

#[derive(Clone, Copy)]
struct Entry<E> {
    /// `time << 64 | seq`: one integer comparison orders by time, then FIFO.
    key: u128,
    event: E,
}

/// A deterministic priority queue of future events.
///
/// A binary min-heap of its own rather than `std::collections::BinaryHeap`: the new
/// entry moves down (or up) the heap in registers and is written once, where it
/// belongs. Through `BinaryHeap::peek_mut` it was written to the top, then read back
/// whole by the sift — a wide load of a narrowly written entry, which the processor
/// cannot forward from its store buffer (a stall on nearly every event).
pub struct EventQueue<E> {
    heap: Vec<Entry<E>>,
    next_seq: u64,
    cancelled: FxHashSet<u64>,
    /// The top entry was popped and is only waiting to be overwritten or removed.
    hole: bool,
    /// One event kept beside the heap ([`EventQueue::schedule_aside`]).
    aside: Option<Entry<E>>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self {
            heap: Vec::new(),
            next_seq: 0,
            cancelled: FxHashSet::default(),
            hole: false,
            aside: None,
        }
    }
}

impl<E: Copy> EventQueue<E> {
    /// Schedules `event` at `at`. The caller (the engine) guarantees `at` is not in the past.
    ///
    /// Always inlined: called out of line, the event went through memory to it, written
    /// field by field and read back whole — the same store-forwarding stall as above.
    #[inline(always)]
    pub fn schedule(&mut self, at: SimTime, event: E) -> EventId {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry {
            key: (u128::from(at.0) << 64) | u128::from(seq),
            event,
        };
        if self.hole {
            // The popped entry's slot at the top takes the new one.
            self.hole = false;
            self.sift_down_from_top(entry);
        } else {
            self.sift_up(entry);
        }
        EventId(seq)
    }

    /// Schedules `event` at `at` beside the heap, for a recurring event that is always
    /// scheduled again when it runs (a client's next arrival): it comes out in the same
    /// order as from the heap, but neither scheduling nor taking it moves the heap. At
    /// most one event is aside at a time.
    #[inline(always)]
    pub fn schedule_aside(&mut self, at: SimTime, event: E) -> EventId {
        debug_assert!(self.aside.is_none(), "one event aside at a time");
        let seq = self.next_seq;
        self.next_seq += 1;
        self.aside = Some(Entry {
            key: (u128::from(at.0) << 64) | u128::from(seq),
            event,
        });
        EventId(seq)
    }

    /// Places `entry` in a new slot at the end and moves it up to where it belongs.
    #[inline]
    fn sift_up(&mut self, entry: Entry<E>) {
        let mut pos = self.heap.len();
        self.heap.push(entry);
        while pos > 0 {
            let parent = (pos - 1) / 2;
            let above = self.heap[parent];
            if above.key <= entry.key {
                break;
            }
            self.heap[pos] = above;
            pos = parent;
        }
        self.heap[pos] = entry;
    }

    /// Places `entry` at the top (which is free) and moves it down to where it belongs.
    #[inline]
    fn sift_down_from_top(&mut self, entry: Entry<E>) {
        sift_down_from_top(&mut self.heap, entry, |e| e.key);
    }

    /// Removes the popped entry still at the top, if there is one.
    #[inline]
    fn fill_hole(&mut self) {
        if self.hole {
            self.hole = false;
            self.remove_top();
        }
    }

    /// Removes the top entry: the last one takes its place and moves down.
    #[inline]
    fn remove_top(&mut self) {
        if let Some(last) = self.heap.pop()
            && !self.heap.is_empty()
        {
            self.sift_down_from_top(last);
        }
    }

    /// Cancels a scheduled event. Cancelling an event that already ran is a no-op.
    pub fn cancel(&mut self, id: EventId) {
        if self.aside.is_some_and(|a| a.key as u64 == id.0) {
            self.aside = None;
        } else if id.0 < self.next_seq {
            self.cancelled.insert(id.0);
        }
    }

    /// Time of the next live event, discarding cancelled entries on top.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.fill_hole();
        self.drop_cancelled_top();
        let heap = self.heap.first().map(|e| e.key);
        let aside = self.aside.map(|e| e.key);
        let key = match (heap, aside) {
            (Some(h), Some(a)) => h.min(a),
            (h, a) => h.or(a)?,
        };
        Some(SimTime((key >> 64) as u64))
    }

    /// Removes and returns the next live event if it is due at or before `limit`.
    #[inline]
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        self.fill_hole();
        self.drop_cancelled_top();
        if let Some(aside) = self.aside
            && self.heap.first().is_none_or(|top| aside.key < top.key)
        {
            let at = SimTime((aside.key >> 64) as u64);
            if at > limit {
                return None;
            }
            self.aside = None;
            return Some((at, aside.event));
        }
        let top = self.heap.first()?;
        let at = SimTime((top.key >> 64) as u64);
        if at > limit {
            return None;
        }
        // Left in place as the hole: the handler's first schedule takes its slot.
        self.hole = true;
        Some((at, top.event))
    }

    fn drop_cancelled_top(&mut self) {
        if self.cancelled.is_empty() {
            return;
        }
        while let Some(top) = self.heap.first() {
            let seq = top.key as u64;
            if self.cancelled.remove(&seq) {
                self.remove_top();
            } else {
                break;
            }
        }
    }

    /// Number of entries, including cancelled ones not yet discarded.
    pub fn len(&self) -> usize {
        self.heap.len() - usize::from(self.hole) + usize::from(self.aside.is_some())
    }

    /// No entries at all, cancelled or not (see [`EventQueue::peek_time`] for the next
    /// live one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Places `entry` in the free top slot of `heap`, a binary min-heap by `key`, and moves
/// it down to where it belongs: in registers, written once (see [`EventQueue`]). Also
/// keeps the servers of a planned station in order of their ends.
#[inline(always)]
pub fn sift_down_from_top<T: Copy, K: Ord>(heap: &mut [T], entry: T, key: impl Fn(&T) -> K) {
    let len = heap.len();
    let at = key(&entry);
    let mut pos = 0;
    loop {
        let left = 2 * pos + 1;
        if left >= len {
            break;
        }
        let right = left + 1;
        let child = if right < len && key(&heap[right]) < key(&heap[left]) {
            right
        } else {
            left
        };
        let below = heap[child];
        if at <= key(&below) {
            break;
        }
        heap[pos] = below;
        pos = child;
    }
    heap[pos] = entry;
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
        assert_eq!(q.peek_time(), None);
        assert!(q.is_empty());
    }

    /// The case the property below once shrank to: cancelling an event that already ran
    /// (here while it is the hole at the top) changes nothing.
    #[test]
    fn cancelling_an_event_that_already_ran_changes_nothing() {
        let mut q = EventQueue::default();
        let a = q.schedule(SimTime(0), 'a');
        q.schedule(SimTime(0), 'b');
        assert_eq!(q.pop_until(SimTime::MAX), Some((SimTime(0), 'a')));
        q.cancel(a);
        assert_eq!(q.peek_time(), Some(SimTime(0)));
        assert_eq!(q.pop_until(SimTime::MAX), Some((SimTime(0), 'b')));
        assert_eq!(q.pop_until(SimTime::MAX), None);
    }

    proptest::proptest! {
        /// Whatever the mix of scheduling, popping (with limits), peeking and
        /// cancelling — the popped entry left as a hole, overwritten by the next
        /// schedule or removed by the next pop — events come out exactly as from a
        /// sorted list of `(time, scheduling order)`.
        #[test]
        fn any_mix_of_operations_pops_in_the_order_of_a_sorted_list(
            ops in proptest::collection::vec((0u8..6, 0u64..50), 1..400)
        ) {
            let mut q = EventQueue::default();
            let mut reference = std::collections::BTreeMap::new();
            let mut ids = Vec::new();
            // The key of the event aside, if one is.
            let mut aside = None;
            let (mut now, mut n) = (0u64, 0u32);
            for (op, x) in ops {
                match op {
                    0 | 1 | 5 => {
                        let at = now + x;
                        let id = if op == 5 && aside.is_none() {
                            aside = Some((at, n));
                            q.schedule_aside(SimTime(at), n)
                        } else {
                            q.schedule(SimTime(at), n)
                        };
                        ids.push((id, (at, n)));
                        reference.insert((at, n), n);
                        n += 1;
                    }
                    2 => {
                        let limit = now + x;
                        let expected = reference
                            .first_key_value()
                            .filter(|((at, _), _)| *at <= limit)
                            .map(|(k, v)| (*k, *v));
                        let got = q.pop_until(SimTime(limit));
                        proptest::prop_assert_eq!(
                            got,
                            expected.map(|((at, _), v)| (SimTime(at), v))
                        );
                        if let Some((key, _)) = expected {
                            reference.remove(&key);
                            now = key.0;
                            if aside == Some(key) {
                                aside = None;
                            }
                        }
                    }
                    3 => {
                        let expected = reference.first_key_value().map(|((at, _), _)| SimTime(*at));
                        proptest::prop_assert_eq!(q.peek_time(), expected);
                    }
                    _ => {
                        if let Some((id, key)) = ids.get(x as usize % ids.len().max(1)) {
                            q.cancel(*id);
                            reference.remove(key);
                            if aside == Some(*key) {
                                aside = None;
                            }
                        }
                    }
                }
                proptest::prop_assert!(reference.is_empty() || !q.is_empty());
            }
            while let Some((at, v)) = q.pop_until(SimTime::MAX) {
                let ((want_at, _), want) = reference.pop_first().expect("no more events");
                proptest::prop_assert_eq!((at, v), (SimTime(want_at), want));
            }
            proptest::prop_assert!(reference.is_empty());
        }
    }
}
