//! Messages waiting for their receipt, in their compact form ([`MessageSlot`], 24 bytes).
//!
//! # Why
//! A message the upstream took may wait hours for its delivery receipt (48 h validity is
//! common). Held in full (its Accepted record and machine) it costs ≈ 1.5 KiB; a carrier
//! with 10 million receipts outstanding would need 15 GB. Once a single-part message has
//! waited [`crate::config::LimitsConfig::messages_park_after_ms`] for its receipt the shard
//! *parks* it: only its [`MessageSlot`] stays in memory, and the record is read back from
//! the WAL by its LSN when the receipt (or its expiry) comes.
//!
//! # Design
//! Our message ids are a per-shard sequence, so slots live in **dense chunks** of
//! [`CHUNK_SLOTS`] indexed by the sequence (no key stored, no hashing): 24 B per message
//! plus one occupancy bit. Receipts come back roughly in submission order, so a chunk
//! empties as a whole and is freed. The stragglers whose receipts never come would pin
//! their chunks: when a chunk other than the newest falls to [`CHUNK_SPARSE_BELOW`] live
//! slots, its survivors move to a **sparse tier** (a `BTreeMap` keyed by sequence, ≈ 48 B
//! each) and the chunk is freed. So a parked message costs at most
//! `24 × CHUNK_SLOTS / CHUNK_SPARSE_BELOW` = 96 B in a chunk, usually 24 B, and ≈ 48 B in
//! the sparse tier. The table holds at most `max` slots (`limits.messages_parked_max`);
//! past it a message stays in full form, under `limits.messages_held_max`.
//!
//! **Expiry.** [`ParkedTable::sweep`] walks the table in sequence order from a cursor,
//! a bounded number of slots per call, and hands back those whose validity deadline has
//! passed; the shard expires them. A full cycle over 10 M slots at the budget the shard
//! uses takes seconds, which is the precision of expiry for parked messages.

use std::collections::BTreeMap;

use tern_wal::Lsn;

use super::{Core, Entry};
use crate::lifecycle::{Event, MessageSlot};
use crate::message::{MessageId, MessageRecord, Record};

/// Slots per dense chunk (a power of two): 24 KiB of slots and a 128-byte bitmap.
pub const CHUNK_SLOTS: usize = 1024;
/// A chunk (not the newest) with fewer live slots than this moves them to the sparse tier.
pub const CHUNK_SPARSE_BELOW: u32 = (CHUNK_SLOTS / 4) as u32;

const CHUNK_BITS: u32 = CHUNK_SLOTS.trailing_zeros();
const WORDS: usize = CHUNK_SLOTS / 64;

struct Chunk {
    slots: Box<[MessageSlot]>,
    occupied: [u64; WORDS],
    live: u32,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            slots: vec![MessageSlot::VACANT; CHUNK_SLOTS].into_boxed_slice(),
            occupied: [0; WORDS],
            live: 0,
        }
    }

    fn is_set(&self, index: usize) -> bool {
        self.occupied
            .get(index / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }

    fn set(&mut self, index: usize, slot: MessageSlot) -> bool {
        let (Some(word), Some(place)) =
            (self.occupied.get_mut(index / 64), self.slots.get_mut(index))
        else {
            return false;
        };
        let bit = 1 << (index % 64);
        let fresh = *word & bit == 0;
        *word |= bit;
        *place = slot;
        if fresh {
            self.live += 1;
        }
        true
    }

    fn take(&mut self, index: usize) -> Option<MessageSlot> {
        let word = self.occupied.get_mut(index / 64)?;
        let bit = 1 << (index % 64);
        if *word & bit == 0 {
            return None;
        }
        *word &= !bit;
        self.live -= 1;
        self.slots.get(index).copied()
    }

    /// Live slots as (index, slot), in order.
    fn live_slots(&self) -> impl Iterator<Item = (usize, MessageSlot)> + '_ {
        self.occupied
            .iter()
            .enumerate()
            .flat_map(move |(w, &word)| {
                let mut bits = word;
                std::iter::from_fn(move || {
                    if bits == 0 {
                        return None;
                    }
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let index = w * 64 + b;
                    self.slots.get(index).map(|s| (index, *s))
                })
            })
    }
}

/// The parked messages of one shard, keyed by their id's sequence.
pub struct ParkedTable {
    chunks: BTreeMap<u64, Chunk>,
    sparse: BTreeMap<u64, MessageSlot>,
    len: usize,
    max: usize,
    /// Where the expiry sweep goes on (a sequence).
    cursor: u64,
}

impl ParkedTable {
    /// An empty table for at most `max` slots.
    pub fn new(max: usize) -> ParkedTable {
        ParkedTable {
            chunks: BTreeMap::new(),
            sparse: BTreeMap::new(),
            len: 0,
            max,
            cursor: 0,
        }
    }

    /// Slots held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no slot is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots held in the sparse tier.
    #[cfg(test)]
    pub fn sparse_len(&self) -> usize {
        self.sparse.len()
    }

    /// Dense chunks allocated.
    #[cfg(test)]
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Approximate bytes of memory the table uses (for the gauge and the docs' claim).
    pub fn approx_bytes(&self) -> usize {
        let chunk = CHUNK_SLOTS * std::mem::size_of::<MessageSlot>() + WORDS * 8 + 64;
        self.chunks.len() * chunk + self.sparse.len() * 48
    }

    /// True when there is room for one more slot.
    pub fn has_room(&self) -> bool {
        self.len < self.max
    }

    /// Parks `slot` under `sequence`; false when the table is full (or the sequence is
    /// already parked, which the shard never does).
    pub fn insert(&mut self, sequence: u64, slot: MessageSlot) -> bool {
        if !self.has_room() || self.contains(sequence) {
            return false;
        }
        let key = sequence >> CHUNK_BITS;
        let index = (sequence as usize) & (CHUNK_SLOTS - 1);
        // A straggler's chunk that was already emptied into the sparse tier is not made
        // again for one slot: below the newest chunk, late arrivals go sparse.
        let newest = self.chunks.keys().next_back().copied();
        let chunk = match self.chunks.get_mut(&key) {
            Some(chunk) => chunk,
            None if newest.is_none_or(|n| key >= n) => {
                self.chunks.entry(key).or_insert_with(Chunk::new)
            }
            None => {
                self.sparse.insert(sequence, slot);
                self.len += 1;
                return true;
            }
        };
        if chunk.set(index, slot) {
            self.len += 1;
            true
        } else {
            false
        }
    }

    /// True when `sequence` is parked.
    pub fn contains(&self, sequence: u64) -> bool {
        let index = (sequence as usize) & (CHUNK_SLOTS - 1);
        self.chunks
            .get(&(sequence >> CHUNK_BITS))
            .is_some_and(|c| c.is_set(index))
            || self.sparse.contains_key(&sequence)
    }

    /// The slot parked under `sequence`.
    pub fn get(&self, sequence: u64) -> Option<MessageSlot> {
        let index = (sequence as usize) & (CHUNK_SLOTS - 1);
        if let Some(chunk) = self.chunks.get(&(sequence >> CHUNK_BITS))
            && chunk.is_set(index)
        {
            return chunk.slots.get(index).copied();
        }
        self.sparse.get(&sequence).copied()
    }

    /// A mutable view of the slot parked under `sequence` (to follow a relocation).
    pub fn get_mut(&mut self, sequence: u64) -> Option<&mut MessageSlot> {
        let index = (sequence as usize) & (CHUNK_SLOTS - 1);
        let in_chunk = self
            .chunks
            .get(&(sequence >> CHUNK_BITS))
            .is_some_and(|c| c.is_set(index));
        if in_chunk {
            return self
                .chunks
                .get_mut(&(sequence >> CHUNK_BITS))
                .and_then(|c| c.slots.get_mut(index));
        }
        self.sparse.get_mut(&sequence)
    }

    /// Takes the slot parked under `sequence` out of the table.
    pub fn remove(&mut self, sequence: u64) -> Option<MessageSlot> {
        let key = sequence >> CHUNK_BITS;
        let index = (sequence as usize) & (CHUNK_SLOTS - 1);
        let taken = match self.chunks.get_mut(&key) {
            Some(chunk) => chunk.take(index),
            None => None,
        };
        let taken = match taken {
            Some(slot) => {
                self.settle_chunk(key);
                Some(slot)
            }
            None => self.sparse.remove(&sequence),
        };
        if taken.is_some() {
            self.len -= 1;
        }
        taken
    }

    /// Frees chunk `key` when empty, or moves its few survivors to the sparse tier when it
    /// is not the newest chunk and fell under [`CHUNK_SPARSE_BELOW`].
    fn settle_chunk(&mut self, key: u64) {
        let newest = self.chunks.keys().next_back().copied();
        let Some(chunk) = self.chunks.get(&key) else {
            return;
        };
        if chunk.live == 0 {
            self.chunks.remove(&key);
        } else if chunk.live < CHUNK_SPARSE_BELOW && newest != Some(key) {
            let Some(chunk) = self.chunks.remove(&key) else {
                return;
            };
            let base = key << CHUNK_BITS;
            for (index, slot) in chunk.live_slots() {
                self.sparse.insert(base + index as u64, slot);
            }
        }
    }

    /// Walks up to `budget` slots from the cursor (wrapping at the end) and appends to
    /// `expired` the sequences whose deadline is at or before `now_ms`. The caller removes
    /// them (by expiring their messages).
    pub fn sweep(&mut self, now_ms: u64, budget: usize, expired: &mut Vec<u64>) {
        let mut seen = 0;
        let mut wrapped = false;
        while seen < budget && !self.is_empty() {
            let from = self.cursor;
            let chunk = self.chunks.range(from >> CHUNK_BITS..).next();
            let sparse = self.sparse.range(from..).next();
            // The next thing in sequence order: a chunk (from the cursor within it) or a
            // sparse slot.
            let chunk_start = chunk.map(|(k, _)| (k << CHUNK_BITS).max(from));
            match (chunk_start, sparse) {
                (Some(start), s) if s.is_none_or(|(seq, _)| start <= *seq) => {
                    let Some((key, chunk)) = chunk else {
                        break;
                    };
                    let base = key << CHUNK_BITS;
                    let first = (start - base) as usize;
                    for (index, slot) in chunk.live_slots() {
                        if index >= first && slot.deadline_ms() <= now_ms {
                            expired.push(base + index as u64);
                        }
                    }
                    seen += CHUNK_SLOTS - first;
                    self.cursor = base + CHUNK_SLOTS as u64;
                }
                (_, Some((seq, slot))) => {
                    if slot.deadline_ms() <= now_ms {
                        expired.push(*seq);
                    }
                    seen += 1;
                    self.cursor = seq + 1;
                }
                _ => {
                    // Past the end: start over, once per call.
                    if wrapped {
                        break;
                    }
                    wrapped = true;
                    self.cursor = 0;
                }
            }
        }
    }
}

/// Slots the expiry sweep looks at per housekeeping turn (64 chunks: ≈ 1.3 M slots/s at
/// the 50 ms turn, so 10 M parked messages are all looked at every ≈ 8 s).
const SWEEP_SLOTS_PER_TURN: usize = 64 * CHUNK_SLOTS;
/// How often the messages held in full form are checked for a passed deadline.
const FULL_SWEEP_INTERVAL_MS: u64 = 10_000;

impl Core {
    /// The slot of message `id`, if it is parked here.
    pub(super) fn parked_slot(&self, id: MessageId) -> Option<MessageSlot> {
        if id.shard() != self.shard {
            return None;
        }
        self.slots.get(id.sequence())
    }

    /// Parks message `id` (held in full) if its machine allows the compact form and the
    /// table has room; true if it did.
    pub(super) fn park(&mut self, id: MessageId) -> bool {
        let Some(entry) = self.messages.get(&id) else {
            return false;
        };
        let Some(slot) = MessageSlot::park(&entry.lifecycle) else {
            return false;
        };
        if !self.slots.insert(id.sequence(), slot) {
            return false;
        }
        self.messages.remove(&id);
        true
    }

    /// The WAL's compaction copied the record at `old` (one of parked message `id`'s) to
    /// `new`: the slot follows. False if `id` is not parked here or the slot holds no
    /// such LSN. A new LSN past what a slot can hold brings the message back whole first.
    pub(super) fn relocated_parked(&mut self, id: MessageId, old: Lsn, new: Lsn) -> bool {
        if id.shard() != self.shard {
            return false;
        }
        let Some(slot) = self.slots.get_mut(id.sequence()) else {
            return false;
        };
        let moved_record = slot.record_lsn() == old;
        if slot.relocated(old, new) {
            if moved_record {
                // The copy is readable once durable; until then the original is (its
                // segment is reclaimed only after the copy is durable).
                self.fresh_copies.push_back((new, old));
            }
            return true;
        }
        let holds_old = slot.record_lsn() == old || slot.submitted_lsn() == old;
        holds_old
            && self.ensure_full(id)
            && self
                .messages
                .get_mut(&id)
                .is_some_and(|entry| entry.lifecycle.relocated(old, new))
    }

    /// Notes that message `id` may have become parkable (after an event): it is parked
    /// `limits.messages_park_after_ms` later if it still is. Bounded by the messages held:
    /// at most one entry per message in full form, except after a message was unparked.
    pub(super) fn queue_park(&mut self, id: MessageId, now_ms: u64) {
        let limits = &self.snapshot.config.limits;
        if limits.messages_park_after_ms == 0
            || self.park_queue.len() >= limits.messages_held_max as usize
        {
            return;
        }
        if self
            .messages
            .get(&id)
            .is_some_and(|e| MessageSlot::park(&e.lifecycle).is_some())
        {
            self.park_queue.push_back((now_ms, id));
        }
    }

    /// Parks the messages that became parkable `messages_park_after_ms` ago and still are.
    pub fn park_due(&mut self, now_ms: u64) {
        if let Some(wal) = self.wal.as_ref() {
            // Copies are made in LSN order: the durable ones are at the front.
            while self
                .fresh_copies
                .front()
                .is_some_and(|(copy, _)| wal.is_durable(*copy))
            {
                self.fresh_copies.pop_front();
            }
        }
        let after = u64::from(self.snapshot.config.limits.messages_park_after_ms);
        if after == 0 {
            self.park_queue.clear();
            return;
        }
        while let Some(&(at_ms, id)) = self.park_queue.front() {
            if at_ms.saturating_add(after) > now_ms {
                break;
            }
            self.park_queue.pop_front();
            self.park(id);
        }
    }

    /// Brings message `id` back to full form if it is parked: its Accepted record is read
    /// back from the WAL. True when the message is now held in full. A record that cannot
    /// be read back (a damaged log) gives the message up: logged, counted, its LSNs
    /// released.
    pub(crate) fn ensure_full(&mut self, id: MessageId) -> bool {
        if self.messages.contains_key(&id) {
            return true;
        }
        let Some(slot) = self.parked_slot(id) else {
            return false;
        };
        self.slots.remove(id.sequence());
        match self.read_record(id, slot.record_lsn()) {
            Ok(record) => {
                self.metrics.messages_unparked.inc();
                let lifecycle = slot.unpark(id);
                self.messages
                    .insert(id, Box::new(Entry { lifecycle, record }));
                true
            }
            Err(error) => {
                self.metrics.parked_read_failures.inc();
                tracing::error!(?id, lsn = slot.record_lsn().get(), %error,
                    "parked message's record cannot be read back; message given up");
                if let Some(wal) = self.wal.as_mut() {
                    let _ = wal.mark_done(slot.record_lsn());
                    let _ = wal.mark_done(slot.submitted_lsn());
                }
                false
            }
        }
    }

    fn read_record(&mut self, id: MessageId, lsn: Lsn) -> Result<MessageRecord<'static>, String> {
        let reader = self.reader.as_ref().ok_or("the WAL is closed")?;
        let mut found = reader
            .read(lsn, &mut self.read_buf)
            .map_err(|e| e.to_string())?;
        if found.is_none()
            && let Some(&(_, original)) = self.fresh_copies.iter().find(|(copy, _)| *copy == lsn)
        {
            found = reader
                .read(original, &mut self.read_buf)
                .map_err(|e| e.to_string())?;
        }
        let kind = found.ok_or("no such record in the WAL")?;
        match Record::decode(kind, &self.read_buf) {
            Ok(Record::Accepted(record)) if record.id == id => Ok(record.into_owned()),
            Ok(_) => Err(format!(
                "the record at LSN {} is not its Accepted record",
                lsn.get()
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Expires the messages whose validity deadline passed: parked ones a bounded sweep
    /// at a time, those in full form every `FULL_SWEEP_INTERVAL_MS`.
    pub fn expire_due(&mut self, now_ms: u64) {
        let mut expired = std::mem::take(&mut self.expired);
        expired.clear();
        self.slots.sweep(now_ms, SWEEP_SLOTS_PER_TURN, &mut expired);
        for sequence in expired.drain(..) {
            if let Ok(id) = MessageId::new(self.shard, sequence) {
                self.handle(id, Event::ValidityExpired);
            }
        }
        if now_ms >= self.next_full_sweep_ms {
            self.next_full_sweep_ms = now_ms.saturating_add(FULL_SWEEP_INTERVAL_MS);
            expired.extend(
                self.messages
                    .iter()
                    .filter(|(_, e)| !e.lifecycle.is_final() && e.lifecycle.deadline_ms() <= now_ms)
                    .map(|(id, _)| id.get()),
            );
            for value in expired.drain(..) {
                if let Ok(id) = MessageId::from_u64(value) {
                    self.handle(id, Event::ValidityExpired);
                }
            }
        }
        self.expired = expired;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::MessageSlot;

    fn slot(deadline_s: u32) -> MessageSlot {
        MessageSlot::for_test(deadline_s)
    }

    #[test]
    fn parked_slots_come_back_by_sequence() {
        let mut table = ParkedTable::new(10_000);
        for seq in 0..3000 {
            assert!(table.insert(seq, slot(seq as u32)));
        }
        assert_eq!(table.len(), 3000);
        assert_eq!(table.chunks(), 3);
        assert_eq!(table.get(1234), Some(slot(1234)));
        assert_eq!(table.remove(1234), Some(slot(1234)));
        assert_eq!(table.remove(1234), None);
        assert!(!table.contains(1234));
        assert_eq!(table.len(), 2999);
    }

    #[test]
    fn a_full_table_refuses_and_a_duplicate_is_refused() {
        let mut table = ParkedTable::new(2);
        assert!(table.insert(5, slot(1)));
        assert!(!table.insert(5, slot(2)));
        assert!(table.insert(6, slot(1)));
        assert!(!table.insert(7, slot(1)));
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn emptied_chunks_are_freed() {
        let mut table = ParkedTable::new(10_000);
        for seq in 0..2048 {
            table.insert(seq, slot(1));
        }
        for seq in 0..1024 {
            table.remove(seq);
        }
        assert_eq!(table.chunks(), 1);
        assert_eq!(table.sparse_len(), 0);
    }

    #[test]
    fn stragglers_move_to_the_sparse_tier_and_stay_reachable() {
        let mut table = ParkedTable::new(100_000);
        for seq in 0..(4 * CHUNK_SLOTS as u64) {
            table.insert(seq, slot(seq as u32));
        }
        // Every 100th message of the first three chunks never gets its receipt.
        for seq in 0..(3 * CHUNK_SLOTS as u64) {
            if seq % 100 != 0 {
                table.remove(seq);
            }
        }
        assert_eq!(table.chunks(), 1, "only the newest chunk stays dense");
        let stragglers = (0..(3 * CHUNK_SLOTS as u64))
            .filter(|s| s % 100 == 0)
            .count();
        assert_eq!(table.sparse_len(), stragglers);
        for seq in (0..(3 * CHUNK_SLOTS as u64)).step_by(100) {
            assert_eq!(table.get(seq), Some(slot(seq as u32)));
        }
        // A late park below the newest chunk goes sparse rather than making a chunk.
        assert!(table.insert(1, slot(1)));
        assert_eq!(table.chunks(), 1);
        assert_eq!(table.remove(1), Some(slot(1)));
        assert!(table.approx_bytes() < 40 * 1024 + stragglers * 48);
    }

    #[test]
    fn the_sweep_finds_every_expired_slot_within_one_cycle() {
        let mut table = ParkedTable::new(100_000);
        for seq in 0..5000u64 {
            // Deadlines 1..=10 s; sparse ones too.
            table.insert(seq, slot((seq % 10 + 1) as u32));
        }
        for seq in 0..3000u64 {
            if seq % 7 != 0 {
                table.remove(seq);
            }
        }
        let expect: Vec<u64> = (0..5000u64)
            .filter(|s| (*s >= 3000 || s % 7 == 0) && s % 10 < 4)
            .collect();
        let mut found = Vec::new();
        // Small budgets: the cursor must carry on where it stopped.
        for _ in 0..200 {
            table.sweep(4_000, 97, &mut found);
        }
        found.sort_unstable();
        found.dedup();
        assert_eq!(found, expect);
    }

    #[test]
    fn a_sweep_of_an_empty_table_ends() {
        let mut table = ParkedTable::new(10);
        let mut found = Vec::new();
        table.sweep(u64::MAX, 1_000, &mut found);
        assert!(found.is_empty());
        table.insert(3, slot(1));
        table.remove(3);
        table.sweep(u64::MAX, 1_000, &mut found);
        assert!(found.is_empty());
    }

    #[test]
    fn slot_table_costs_about_24_bytes_per_dense_message() {
        let mut table = ParkedTable::new(1 << 20);
        for seq in 0..(1u64 << 20) {
            table.insert(seq, slot(1));
        }
        let per = table.approx_bytes() as f64 / (1u64 << 20) as f64;
        assert!(per < 25.0, "{per} B per parked message");
    }
}
