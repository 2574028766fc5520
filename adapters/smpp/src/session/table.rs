//! The table of outbound requests awaiting a response.
//!
//! Every request we send waits the same `response_timeout` and the session's clock never
//! runs backwards, so the order of insertion is also the order of deadlines: the oldest
//! entry is always the next to expire. Entries live in a slab of fixed capacity, threaded
//! on a doubly linked list in insertion order, and are found by sequence number through a
//! hash index. Every operation is O(1) and nothing allocates after construction, whatever
//! order responses come back in.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

use crate::command::CommandId;

/// Marks the end of the list.
const NIL: u32 = u32::MAX;

/// One request awaiting its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outstanding {
    pub(crate) sequence_number: u32,
    pub(crate) command_id: CommandId,
    pub(crate) token: u64,
    pub(crate) deadline: Instant,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    entry: Outstanding,
    older: u32,
    newer: u32,
}

/// Hashes sequence numbers: they are unique and mostly consecutive, so a Fibonacci
/// multiply spreads them well at a fraction of SipHash's cost.
#[derive(Default)]
pub(crate) struct SequenceHasher(u64);

impl Hasher for SequenceHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8 | u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A hash map keyed by sequence number, allocated once at its bound.
pub(crate) type SequenceMap<V> = HashMap<u32, V, BuildHasherDefault<SequenceHasher>>;

/// A `SequenceMap` with room for `capacity` entries.
pub(crate) fn sequence_map<V>(capacity: usize) -> SequenceMap<V> {
    HashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default())
}

/// Outbound requests in deadline order, found by sequence number.
pub(crate) struct RequestTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: SequenceMap<u32>,
    oldest: u32,
    newest: u32,
    capacity: usize,
}

impl core::fmt::Debug for RequestTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RequestTable")
            .field("len", &self.len())
            .finish()
    }
}

impl RequestTable {
    /// An empty table that will never hold more than `capacity` entries.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        RequestTable {
            slots: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            index: sequence_map(capacity),
            oldest: NIL,
            newest: NIL,
            capacity,
        }
    }

    /// How many requests are outstanding.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// True if a request with this sequence number is outstanding.
    pub(crate) fn contains(&self, sequence_number: u32) -> bool {
        self.index.contains_key(&sequence_number)
    }

    /// The outstanding request with this sequence number.
    pub(crate) fn get(&self, sequence_number: u32) -> Option<&Outstanding> {
        let slot = *self.index.get(&sequence_number)?;
        self.slots.get(slot as usize).map(|s| &s.entry)
    }

    /// The request with the earliest deadline.
    pub(crate) fn oldest(&self) -> Option<&Outstanding> {
        self.slots.get(self.oldest as usize).map(|s| &s.entry)
    }

    /// Adds a request as the newest; `false` (and no change) when full or when its
    /// sequence number is already outstanding.
    pub(crate) fn insert(&mut self, entry: Outstanding) -> bool {
        if self.index.len() >= self.capacity || self.contains(entry.sequence_number) {
            return false;
        }
        let slot = Slot {
            entry,
            older: self.newest,
            newer: NIL,
        };
        let at = match self.free.pop() {
            Some(at) => {
                if let Some(s) = self.slots.get_mut(at as usize) {
                    *s = slot;
                }
                at
            }
            None => {
                self.slots.push(slot);
                // Fits: slots.len() <= capacity <= WINDOW_SIZE_MAX + a few, far below NIL.
                (self.slots.len() - 1) as u32
            }
        };
        self.set_newer(self.newest, at);
        self.newest = at;
        if self.oldest == NIL {
            self.oldest = at;
        }
        self.index.insert(entry.sequence_number, at);
        true
    }

    /// Removes and returns the request with this sequence number.
    pub(crate) fn remove(&mut self, sequence_number: u32) -> Option<Outstanding> {
        let at = self.index.remove(&sequence_number)?;
        let slot = *self.slots.get(at as usize)?;
        self.set_newer(slot.older, slot.newer);
        self.set_older(slot.newer, slot.older);
        if self.oldest == at {
            self.oldest = slot.newer;
        }
        if self.newest == at {
            self.newest = slot.older;
        }
        self.free.push(at);
        Some(slot.entry)
    }

    /// Removes and returns the request with the earliest deadline.
    pub(crate) fn pop_oldest(&mut self) -> Option<Outstanding> {
        let sequence_number = self.oldest()?.sequence_number;
        self.remove(sequence_number)
    }

    fn set_newer(&mut self, at: u32, newer: u32) {
        if let Some(s) = self.slots.get_mut(at as usize) {
            s.newer = newer;
        }
    }

    fn set_older(&mut self, at: u32, older: u32) {
        if let Some(s) = self.slots.get_mut(at as usize) {
            s.older = older;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(sequence_number: u32, base: Instant) -> Outstanding {
        Outstanding {
            sequence_number,
            command_id: CommandId::SUBMIT_SM,
            token: u64::from(sequence_number) * 10,
            deadline: base + Duration::from_millis(u64::from(sequence_number)),
        }
    }

    #[test]
    fn removal_in_any_order_keeps_the_oldest_first() {
        let base = Instant::now();
        let mut table = RequestTable::with_capacity(4);
        for seq in 1..=4 {
            assert!(table.insert(entry(seq, base)));
        }
        assert!(!table.insert(entry(5, base)), "full table must refuse");
        assert_eq!(table.remove(2).map(|e| e.token), Some(20));
        assert_eq!(table.remove(1).map(|e| e.token), Some(10));
        assert_eq!(table.oldest().map(|e| e.sequence_number), Some(3));
        assert!(table.insert(entry(6, base)));
        assert_eq!(table.remove(4).map(|e| e.sequence_number), Some(4));
        let order: Vec<u32> = std::iter::from_fn(|| table.pop_oldest())
            .map(|e| e.sequence_number)
            .collect();
        assert_eq!(order, vec![3, 6]);
        assert_eq!(table.len(), 0);
        assert!(table.oldest().is_none());
    }

    #[test]
    fn duplicate_sequence_numbers_and_unknown_removals_change_nothing() {
        let base = Instant::now();
        let mut table = RequestTable::with_capacity(2);
        assert!(table.insert(entry(7, base)));
        assert!(!table.insert(entry(7, base)));
        assert_eq!(table.remove(8), None);
        assert_eq!(table.len(), 1);
        assert_eq!(table.get(7).map(|e| e.token), Some(70));
    }
}
