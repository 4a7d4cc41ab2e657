//! A bounded LRU set of cache keys with per-entry insertion time (for TTL expiry).
//! Memory is `O(capacity)`, allocated as entries arrive, never beyond the capacity.

use rustc_hash::FxHashMap;

use crate::sim::SimTime;

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node {
    key: u64,
    stored_at: SimTime,
    prev: u32,
    next: u32,
}

/// Least-recently-used key set. Lookups never iterate the map, so its hash order cannot
/// affect results.
#[derive(Clone, Debug)]
pub struct Lru {
    capacity: usize,
    map: FxHashMap<u64, u32>,
    nodes: Vec<Node>,
    /// Most recently used.
    head: u32,
    /// Least recently used: evicted first.
    tail: u32,
}

impl Lru {
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity: capacity.max(1) as usize,
            map: FxHashMap::default(),
            nodes: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The most keys it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether `key` is present and younger than `ttl_ns`; a hit becomes most recent,
    /// an expired entry counts as a miss (it is replaced by the next `insert`).
    ///
    /// Returns how long ago the entry was stored (nanoseconds), `None` on a miss.
    pub fn age(&mut self, key: u64, now: SimTime, ttl_ns: Option<u64>) -> Option<u64> {
        let &idx = self.map.get(&key)?;
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
        if let Some(&idx) = self.map.get(&key) {
            self.nodes[idx as usize].stored_at = now;
            self.unlink(idx);
            self.push_front(idx);
            return;
        }
        let idx = if self.map.len() < self.capacity {
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
            self.map.remove(&old);
            let n = &mut self.nodes[idx as usize];
            n.key = key;
            n.stored_at = now;
            idx
        };
        self.map.insert(key, idx);
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
