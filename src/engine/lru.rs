//! A bounded LRU set of cache keys with per-entry insertion time (for TTL expiry).
//! Memory is `O(capacity)`: entries are allocated as they arrive, never beyond the
//! capacity, and a key space at most [`DIRECT_KEYS_PER_ENTRY`] times the capacity (and
//! at most [`DIRECT_KEYS_MAX`] keys) is indexed by a table of one slot per key (at most
//! 32 bytes per entry).

use rustc_hash::FxHashMap;

use crate::sim::SimTime;

const NIL: u32 = u32::MAX;

/// A key space up to this many keys per entry of capacity is indexed directly...
pub const DIRECT_KEYS_PER_ENTRY: u64 = 8;
/// ...and up to this many keys in all (a 16 MiB table, made and filled when the run
/// starts: a larger space is hashed, growing only as keys arrive).
pub const DIRECT_KEYS_MAX: u64 = 1 << 22;

/// Where each key's entry is. A lookup's cost is mostly waiting for memory (the keys
/// are spread over a space larger than the CPU's caches): a slot per key takes one
/// read where a hash map takes two (its control bytes, then its bucket). A cache's keys
/// are a three-tier run's single largest cost after the event loop's own.
#[derive(Clone, Debug)]
enum Index {
    /// Slot `k` holds key `k`'s node (`NIL`: absent); keys are `0..len`.
    Direct(Vec<u32>),
    /// Key → node, for a key space too large for a slot per key.
    Hashed(FxHashMap<u64, u32>),
}

impl Index {
    #[inline]
    fn get(&self, key: u64) -> Option<u32> {
        match self {
            Self::Direct(slots) => slots.get(key as usize).copied().filter(|&i| i != NIL),
            Self::Hashed(map) => map.get(&key).copied(),
        }
    }

    #[inline]
    fn insert(&mut self, key: u64, node: u32) {
        match self {
            Self::Direct(slots) => match slots.get_mut(key as usize) {
                Some(slot) => *slot = node,
                // A key outside the space it was built for: index it by hashing from
                // now on (never the case for keys drawn from `0..keys`).
                None => {
                    let mut map: FxHashMap<u64, u32> = slots
                        .iter()
                        .enumerate()
                        .filter(|(_, i)| **i != NIL)
                        .map(|(k, i)| (k as u64, *i))
                        .collect();
                    map.insert(key, node);
                    *self = Self::Hashed(map);
                }
            },
            Self::Hashed(map) => {
                map.insert(key, node);
            }
        }
    }

    #[inline]
    fn remove(&mut self, key: u64) {
        match self {
            Self::Direct(slots) => {
                if let Some(slot) = slots.get_mut(key as usize) {
                    *slot = NIL;
                }
            }
            Self::Hashed(map) => {
                map.remove(&key);
            }
        }
    }

    fn clear(&mut self) {
        match self {
            Self::Direct(slots) => slots.fill(NIL),
            Self::Hashed(map) => *map = FxHashMap::default(),
        }
    }
}

#[derive(Clone, Debug)]
struct Node {
    key: u64,
    stored_at: SimTime,
    prev: u32,
    next: u32,
}

/// Least-recently-used key set. Lookups never iterate the index, so a hash order cannot
/// affect results (and both indexes give the same ones).
#[derive(Clone, Debug)]
pub struct Lru {
    capacity: usize,
    index: Index,
    nodes: Vec<Node>,
    /// Most recently used.
    head: u32,
    /// Least recently used: evicted first.
    tail: u32,
}

impl Lru {
    /// An empty set of at most `capacity` keys, any `u64`.
    pub fn new(capacity: u64) -> Self {
        Self::with_key_space(capacity, u64::MAX)
    }

    /// An empty set of at most `capacity` keys drawn from `0..keys`.
    pub fn with_key_space(capacity: u64, keys: u64) -> Self {
        let capacity = capacity.max(1);
        let index = if keys
            <= capacity
                .saturating_mul(DIRECT_KEYS_PER_ENTRY)
                .min(DIRECT_KEYS_MAX)
        {
            Index::Direct(vec![NIL; keys as usize])
        } else {
            Index::Hashed(FxHashMap::default())
        };
        Self {
            capacity: capacity as usize,
            index,
            nodes: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }

    /// Forgets every key (a flush, a restarted instance), keeping how keys are indexed.
    pub fn clear(&mut self) {
        self.index.clear();
        self.nodes = Vec::new();
        self.head = NIL;
        self.tail = NIL;
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether `key` is present and younger than `ttl_ns`; a hit becomes most recent,
    /// an expired entry counts as a miss (it is replaced by the next `insert`).
    ///
    /// Returns how long ago the entry was stored (nanoseconds), `None` on a miss.
    pub fn age(&mut self, key: u64, now: SimTime, ttl_ns: Option<u64>) -> Option<u64> {
        let idx = self.index.get(key)?;
        let age = now.0.saturating_sub(self.nodes[idx as usize].stored_at.0);
        if ttl_ns.is_some_and(|ttl| age >= ttl) {
            return None;
        }
        self.unlink(idx);
        self.push_front(idx);
        Some(age)
    }

    /// Stores `key` as most recent, evicting the least recent key when full.
    pub fn insert(&mut self, key: u64, now: SimTime) {
        if let Some(idx) = self.index.get(key) {
            self.nodes[idx as usize].stored_at = now;
            self.unlink(idx);
            self.push_front(idx);
            return;
        }
        let idx = if self.nodes.len() < self.capacity {
            self.nodes.push(Node {
                key,
                stored_at: now,
                prev: NIL,
                next: NIL,
            });
            (self.nodes.len() - 1) as u32
        } else {
            let idx = self.tail;
            self.unlink(idx);
            let old = self.nodes[idx as usize].key;
            self.index.remove(old);
            let n = &mut self.nodes[idx as usize];
            n.key = key;
            n.stored_at = now;
            idx
        };
        self.index.insert(key, idx);
        self.push_front(idx);
    }

    fn unlink(&mut self, idx: u32) {
        let (prev, next) = {
            let n = &self.nodes[idx as usize];
            (n.prev, n.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
    }

    fn push_front(&mut self, idx: u32) {
        let old_head = self.head;
        {
            let n = &mut self.nodes[idx as usize];
            n.prev = NIL;
            n.next = old_head;
        }
        if old_head != NIL {
            self.nodes[old_head as usize].prev = idx;
        }
        self.head = idx;
        if self.tail == NIL {
            self.tail = idx;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut l = Lru::new(2);
        let t = SimTime(0);
        l.insert(1, t);
        l.insert(2, t);
        assert!(l.age(1, t, None).is_some()); // 1 is now most recent
        l.insert(3, t); // evicts 2
        assert!(l.age(1, t, None).is_some());
        assert!(l.age(2, t, None).is_none());
        assert!(l.age(3, t, None).is_some());
        assert_eq!(l.len(), 2);
    }

    /// The same gets and puts give the same hits, ages and evictions whether keys are
    /// indexed by a slot each or by hashing; a key outside the space (never drawn by a
    /// cache, but possible) moves the index to hashing without losing an entry; a clear
    /// forgets every key.
    #[test]
    fn a_direct_index_behaves_as_a_hashed_one() {
        let (capacity, keys) = (50, 300);
        let mut direct = Lru::with_key_space(capacity, keys);
        let mut hashed = Lru::new(capacity);
        assert!(matches!(direct.index, Index::Direct(_)));
        assert!(matches!(hashed.index, Index::Hashed(_)));
        let mut rng = crate::sim::SimRng::stream(3, "lru");
        for step in 0..20_000u64 {
            let now = SimTime(step * 10);
            // Skewed keys, so some stay hot and some are evicted.
            let key = rng.below(keys).min(rng.below(keys));
            let (a, b) = (
                direct.age(key, now, Some(2_000)),
                hashed.age(key, now, Some(2_000)),
            );
            assert_eq!(a, b, "step {step}, key {key}");
            if a.is_none() {
                direct.insert(key, now);
                hashed.insert(key, now);
            }
            assert_eq!(direct.len(), hashed.len());
        }
        assert_eq!(direct.len(), capacity as usize);
        let now = SimTime(1_000_000);
        direct.insert(keys + 7, now);
        assert!(matches!(direct.index, Index::Hashed(_)));
        assert_eq!(direct.age(keys + 7, now, None), Some(0));
        let present = (0..keys)
            .filter(|&k| direct.age(k, now, None).is_some())
            .count();
        assert_eq!(present, capacity as usize - 1);
        let mut cleared = Lru::with_key_space(capacity, keys);
        cleared.insert(3, now);
        cleared.clear();
        assert_eq!(cleared.len(), 0);
        assert!(cleared.age(3, now, None).is_none());
        assert!(matches!(cleared.index, Index::Direct(_)));
        // Direct up to eight keys per entry, and a bounded table in all.
        assert!(matches!(
            Lru::with_key_space(10, 80).index,
            Index::Direct(_)
        ));
        assert!(matches!(
            Lru::with_key_space(10, 81).index,
            Index::Hashed(_)
        ));
        let huge = Lru::with_key_space(DIRECT_KEYS_MAX, DIRECT_KEYS_MAX + 1);
        assert!(matches!(huge.index, Index::Hashed(_)));
    }

    /// Against the definition, a list in order of use: the same hits, ages, evictions
    /// and size, with a node per key and with hashing, through clears.
    #[test]
    fn behaves_as_a_list_in_order_of_use() {
        let (capacity, keys) = (40u64, 240u64);
        let mut direct = Lru::with_key_space(capacity, keys);
        let mut hashed = Lru::new(capacity);
        // Most recent last: (key, stored at).
        let mut list: Vec<(u64, u64)> = Vec::new();
        let mut rng = crate::sim::SimRng::stream(5, "lru list");
        for step in 0..30_000u64 {
            let now = step * 7;
            let key = rng.below(keys).min(rng.below(keys));
            let ttl = Some(1_500);
            let expected = list.iter().position(|e| e.0 == key).and_then(|at| {
                let age = now - list[at].1;
                (age < 1_500).then(|| {
                    let e = list.remove(at);
                    list.push(e);
                    age
                })
            });
            for lru in [&mut direct, &mut hashed] {
                assert_eq!(lru.age(key, SimTime(now), ttl), expected, "step {step}");
            }
            if expected.is_none() {
                match list.iter().position(|e| e.0 == key) {
                    Some(at) => {
                        list.remove(at);
                    }
                    None if list.len() == capacity as usize => {
                        list.remove(0);
                    }
                    None => {}
                }
                list.push((key, now));
                direct.insert(key, SimTime(now));
                hashed.insert(key, SimTime(now));
            }
            assert_eq!(direct.len(), list.len());
            assert_eq!(hashed.len(), list.len());
            if step % 10_007 == 10_006 {
                list.clear();
                direct.clear();
                hashed.clear();
            }
        }
    }

    #[test]
    fn entries_expire_after_ttl() {
        let mut l = Lru::new(10);
        l.insert(7, SimTime(100));
        assert_eq!(l.age(7, SimTime(150), Some(100)), Some(50));
        assert!(l.age(7, SimTime(200), Some(100)).is_none());
        l.insert(7, SimTime(200));
        assert!(l.age(7, SimTime(250), Some(100)).is_some());
    }
}
