//! Early receipts waiting for their own submit_sm_resp.
//!
//! A fixed-size slab of at most `parked_max` entries, each on two intrusive lists: the FIFO
//! of all parked receipts in arrival (= deadline) order, and the chain of receipts for the
//! same fingerprint. A map from fingerprint to chain head finds a key's receipts on insert.
//! Nothing grows past `parked_max`, whatever the arrival rate.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const NIL: u32 = u32::MAX;

/// Largest `parked_max` the slab's 32-bit links can address.
pub(crate) const PARKED_MAX_LIMIT: usize = (u32::MAX - 1) as usize;

/// Fingerprints are already uniform hashes: use them as their own hash.
#[derive(Default)]
pub(crate) struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used for fingerprints; fold anything else in for completeness.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type FingerprintMap = HashMap<u64, u32, BuildHasherDefault<FingerprintHasher>>;

#[derive(Debug, Clone, Copy)]
struct Parked {
    fp: u64,
    token: u64,
    deadline_ms: u64,
    /// Next receipt with the same fingerprint, or next free slot when free.
    key_next: u32,
    fifo_prev: u32,
    fifo_next: u32,
}

/// The bounded set of parked receipts.
#[derive(Debug)]
pub(crate) struct Park {
    slots: Vec<Parked>,
    free_head: u32,
    fifo_head: u32,
    fifo_tail: u32,
    by_fp: FingerprintMap,
    len: usize,
    len_max: usize,
}

impl Park {
    /// An empty park for at most `len_max` receipts (clamped to [`PARKED_MAX_LIMIT`]).
    pub(crate) fn new(len_max: usize) -> Self {
        let len_max = len_max.min(PARKED_MAX_LIMIT);
        Self {
            slots: Vec::new(),
            free_head: NIL,
            fifo_head: NIL,
            fifo_tail: NIL,
            by_fp: FingerprintMap::with_capacity_and_hasher(
                len_max.min(1 << 16),
                Default::default(),
            ),
            len: 0,
            len_max,
        }
    }

    /// Receipts parked now.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes held by the slab and the map (their capacity, not their use).
    pub(crate) fn bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Parked>() + self.by_fp.capacity() * 16
    }

    fn slot(&self, index: u32) -> Option<&Parked> {
        self.slots.get(index as usize)
    }

    fn slot_mut(&mut self, index: u32) -> Option<&mut Parked> {
        self.slots.get_mut(index as usize)
    }

    /// Parks `token` under `fp` until `deadline_ms`; false when the park is full.
    pub(crate) fn park(&mut self, fp: u64, token: u64, deadline_ms: u64) -> bool {
        let Some(index) = self.allocate() else {
            return false;
        };
        let entry = Parked {
            fp,
            token,
            deadline_ms,
            key_next: NIL,
            fifo_prev: self.fifo_tail,
            fifo_next: NIL,
        };
        if let Some(slot) = self.slot_mut(index) {
            *slot = entry;
        }
        match self.slot_mut(entry.fifo_prev) {
            Some(tail) => tail.fifo_next = index,
            None => self.fifo_head = index,
        }
        self.fifo_tail = index;
        self.append_to_key_chain(fp, index);
        self.len += 1;
        true
    }

    fn allocate(&mut self) -> Option<u32> {
        if self.len >= self.len_max {
            return None;
        }
        if let Some(free) = self.slot(self.free_head).map(|s| s.key_next) {
            let index = self.free_head;
            self.free_head = free;
            return Some(index);
        }
        let index = u32::try_from(self.slots.len()).ok()?;
        self.slots.push(Parked {
            fp: 0,
            token: 0,
            deadline_ms: 0,
            key_next: NIL,
            fifo_prev: NIL,
            fifo_next: NIL,
        });
        Some(index)
    }

    /// Keeps a key's receipts in arrival order: an intermediate receipt before the final one.
    fn append_to_key_chain(&mut self, fp: u64, index: u32) {
        let Some(&head) = self.by_fp.get(&fp) else {
            self.by_fp.insert(fp, index);
            return;
        };
        let mut at = head;
        while let Some(next) = self.slot(at).map(|s| s.key_next).filter(|&n| n != NIL) {
            at = next;
        }
        if let Some(last) = self.slot_mut(at) {
            last.key_next = index;
        }
    }

    /// Moves every receipt parked under `fp` into `out`, oldest first.
    pub(crate) fn take_key(&mut self, fp: u64, out: &mut Vec<u64>) {
        if self.len == 0 {
            return;
        }
        let Some(mut at) = self.by_fp.remove(&fp) else {
            return;
        };
        while let Some(slot) = self.slot(at).copied() {
            out.push(slot.token);
            self.unlink_fifo(at, slot);
            self.release(at);
            at = slot.key_next;
        }
    }

    /// The earliest deadline of a parked receipt.
    pub(crate) fn next_deadline_ms(&self) -> Option<u64> {
        self.slot(self.fifo_head).map(|s| s.deadline_ms)
    }

    /// Takes the oldest receipt out if its deadline has passed.
    pub(crate) fn pop_expired(&mut self, now_ms: u64) -> Option<u64> {
        let index = self.fifo_head;
        let slot = self
            .slot(index)
            .copied()
            .filter(|s| s.deadline_ms <= now_ms)?;
        self.unlink_fifo(index, slot);
        self.unlink_key_chain(index, slot);
        self.release(index);
        Some(slot.token)
    }

    fn unlink_fifo(&mut self, index: u32, slot: Parked) {
        debug_assert!(self.slot(index).is_some());
        match self.slot_mut(slot.fifo_prev) {
            Some(prev) => prev.fifo_next = slot.fifo_next,
            None => self.fifo_head = slot.fifo_next,
        }
        match self.slot_mut(slot.fifo_next) {
            Some(next) => next.fifo_prev = slot.fifo_prev,
            None => self.fifo_tail = slot.fifo_prev,
        }
    }

    fn unlink_key_chain(&mut self, index: u32, slot: Parked) {
        let Some(&head) = self.by_fp.get(&slot.fp) else {
            return;
        };
        if head == index {
            if slot.key_next == NIL {
                self.by_fp.remove(&slot.fp);
            } else {
                self.by_fp.insert(slot.fp, slot.key_next);
            }
            return;
        }
        let mut at = head;
        while let Some(next) = self.slot(at).map(|s| s.key_next) {
            if next == index {
                if let Some(prev) = self.slot_mut(at) {
                    prev.key_next = slot.key_next;
                }
                return;
            }
            at = next;
        }
    }

    fn release(&mut self, index: u32) {
        let free_head = self.free_head;
        if let Some(slot) = self.slot_mut(index) {
            slot.key_next = free_head;
            slot.fp = 0;
            self.free_head = index;
            self.len -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_for_one_key_come_back_in_arrival_order() {
        let mut park = Park::new(8);
        assert!(park.park(7, 1, 100));
        assert!(park.park(9, 2, 100));
        assert!(park.park(7, 3, 100));
        let mut out = Vec::new();
        park.take_key(7, &mut out);
        assert_eq!(out, vec![1, 3]);
        assert_eq!(park.len(), 1);
        assert_eq!(park.pop_expired(100), Some(2));
        assert_eq!(park.len(), 0);
    }

    #[test]
    fn park_refuses_past_its_bound_and_reuses_freed_slots() {
        let mut park = Park::new(2);
        assert!(park.park(1, 1, 10));
        assert!(park.park(2, 2, 10));
        assert!(!park.park(3, 3, 10));
        assert_eq!(park.pop_expired(9), None);
        assert_eq!(park.pop_expired(10), Some(1));
        assert!(park.park(3, 3, 20));
        assert_eq!(park.slots.len(), 2);
        let mut out = Vec::new();
        park.take_key(3, &mut out);
        assert_eq!(out, vec![3]);
        assert_eq!(park.next_deadline_ms(), Some(10));
    }

    #[test]
    fn timed_out_receipt_leaves_its_key_chain() {
        let mut park = Park::new(4);
        assert!(park.park(5, 1, 10));
        assert!(park.park(5, 2, 20));
        assert_eq!(park.pop_expired(15), Some(1));
        let mut out = Vec::new();
        park.take_key(5, &mut out);
        assert_eq!(out, vec![2]);
        assert_eq!(park.next_deadline_ms(), None);
    }
}
