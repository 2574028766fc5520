//! One hot generation: an open-addressing table of 16-byte slots kept sorted by fingerprint.
//!
//! A slot is `[fingerprint, value]`; fingerprint 0 marks it empty. The home slot of a
//! fingerprint is `fp * home_slots >> 64`, which is monotonic in `fp`, and linear probing
//! keeps each cluster in fingerprint order (ordered hashing, Amble & Knuth 1974). Together
//! they keep the whole array sorted, which buys three things: a miss stops at the first
//! larger fingerprint instead of at the end of the cluster, freezing a generation into a
//! sorted run needs no sort, and probing never wraps (an overflow tail past the last home
//! slot absorbs the last cluster).

/// Slots per table, in sixteenths of the home slots, that may be filled before the table
/// reports itself full: 7/8 keeps probe sequences short (≈ 4.5 slots on a hit) while the
/// footprint stays at 16 B / 0.875 ≈ 18.3 B per entry.
const LOAD_MAX_EIGHTHS: usize = 7;

/// Bytes of one slot: a 64-bit fingerprint and a 64-bit value.
pub(crate) const SLOT_BYTES: usize = 16;

/// A 16-byte slot: fingerprint (0 = empty), value.
type Slot = [u64; 2];

/// What an insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// The fingerprint was new to this table.
    New,
    /// The fingerprint was present; its value was overwritten.
    Replaced,
}

/// The table is at its load limit, or the last cluster reached the end of the overflow tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableFull;

/// A fixed-capacity generation table. Never grows: a full table is sealed and a new one opened.
#[derive(Debug)]
pub(crate) struct Table {
    slots: Box<[Slot]>,
    home_slots: usize,
    len: usize,
    len_max: usize,
}

impl Table {
    /// Slots past the last home slot for a table with `home_slots` home slots.
    pub(crate) fn overflow_slots(home_slots: usize) -> usize {
        (home_slots / 16).clamp(64, 1024)
    }

    /// Bytes a table with `home_slots` home slots occupies.
    pub(crate) fn bytes_for(home_slots: usize) -> usize {
        (home_slots + Self::overflow_slots(home_slots)) * SLOT_BYTES
    }

    /// An empty table. Memory comes zeroed from the allocator (calloc), so pages are only
    /// made resident as entries land on them.
    pub(crate) fn new(home_slots: usize) -> Self {
        let home_slots = home_slots.max(1);
        let total = home_slots + Self::overflow_slots(home_slots);
        Self {
            slots: vec![[0u64; 2]; total].into_boxed_slice(),
            home_slots,
            len: 0,
            len_max: home_slots * LOAD_MAX_EIGHTHS / 8,
        }
    }

    /// Entries stored.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of slot memory held.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.len() * SLOT_BYTES
    }

    fn home(&self, fp: u64) -> usize {
        ((u128::from(fp) * self.home_slots as u128) >> 64) as usize
    }

    /// Index of the first slot at or after `fp`'s home that is empty or holds a fingerprint
    /// `>= fp`; `slots.len()` if the tail is all smaller.
    fn seek(&self, fp: u64) -> usize {
        let mut i = self.home(fp);
        while let Some(&[slot_fp, _]) = self.slots.get(i) {
            if slot_fp == 0 || slot_fp >= fp {
                return i;
            }
            i += 1;
        }
        i
    }

    /// The value stored for `fp`.
    pub(crate) fn get(&self, fp: u64) -> Option<u64> {
        match self.slots.get(self.seek(fp)) {
            Some(&[slot_fp, value]) if slot_fp == fp => Some(value),
            _ => None,
        }
    }

    /// Stores `value` under `fp` (non-zero), overwriting a previous value.
    pub(crate) fn insert(&mut self, fp: u64, value: u64) -> Result<Stored, TableFull> {
        debug_assert_ne!(fp, 0, "fingerprint 0 marks empty slots");
        let at = self.seek(fp);
        if let Some(slot) = self.slots.get_mut(at)
            && slot[0] == fp
        {
            slot[1] = value;
            return Ok(Stored::Replaced);
        }
        if self.len >= self.len_max {
            return Err(TableFull);
        }
        let tail = self.slots.get(at..).unwrap_or_default();
        let Some(gap) = tail.iter().position(|slot| slot[0] == 0) else {
            return Err(TableFull);
        };
        // Shift the rest of the cluster one slot right to keep it sorted.
        self.slots.copy_within(at..at + gap, at + 1);
        if let Some(slot) = self.slots.get_mut(at) {
            *slot = [fp, value];
        }
        self.len += 1;
        Ok(Stored::New)
    }

    /// Removes `fp`, returning its value. Backward-shift deletion: displaced successors move
    /// one slot left, so no tombstones build up and lookups stay short.
    pub(crate) fn remove(&mut self, fp: u64) -> Option<u64> {
        let at = self.seek(fp);
        let value = match self.slots.get(at) {
            Some(&[slot_fp, value]) if slot_fp == fp && fp != 0 => value,
            _ => return None,
        };
        let mut end = at + 1;
        while let Some(&[next_fp, _]) = self.slots.get(end) {
            if next_fp == 0 || self.home(next_fp) >= end {
                break;
            }
            end += 1;
        }
        self.slots.copy_within(at + 1..end, at);
        if let Some(slot) = self.slots.get_mut(end - 1) {
            *slot = [0, 0];
        }
        self.len -= 1;
        Some(value)
    }

    /// Entries in ascending fingerprint order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.slots
            .iter()
            .filter(|slot| slot[0] != 0)
            .map(|&[fp, value]| (fp, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn mix(i: u64) -> u64 {
        let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (x ^ (x >> 31)) | 1
    }

    #[test]
    fn table_fills_to_seven_eighths_then_reports_full() {
        let mut table = Table::new(1024);
        let mut stored = 0u64;
        while table.insert(mix(stored), stored) == Ok(Stored::New) {
            stored += 1;
        }
        assert_eq!(table.len(), 1024 * 7 / 8);
        for i in 0..stored {
            assert_eq!(table.get(mix(i)), Some(i));
        }
    }

    #[test]
    fn table_stays_sorted_through_inserts_and_removes() {
        let mut table = Table::new(4096);
        let mut model = HashMap::new();
        for i in 0..3000u64 {
            let fp = mix(i % 2000);
            if i % 3 == 2 {
                assert_eq!(table.remove(fp), model.remove(&fp));
            } else {
                assert!(table.insert(fp, i).is_ok());
                model.insert(fp, i);
            }
        }
        let fps: Vec<u64> = table.iter().map(|(fp, _)| fp).collect();
        assert!(fps.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(table.len(), model.len());
        for (fp, value) in &model {
            assert_eq!(table.get(*fp), Some(*value));
        }
        assert_eq!(table.get(mix(99_999)), None);
    }

    #[test]
    fn extreme_fingerprints_land_in_bounds() {
        let mut table = Table::new(64);
        for fp in [1, 2, u64::MAX, u64::MAX - 1, u64::MAX - 2] {
            assert_eq!(table.insert(fp, fp), Ok(Stored::New));
        }
        assert_eq!(table.get(u64::MAX), Some(u64::MAX));
        assert_eq!(table.remove(u64::MAX - 1), Some(u64::MAX - 1));
        assert_eq!(table.get(u64::MAX), Some(u64::MAX));
        assert_eq!(table.get(u64::MAX - 2), Some(u64::MAX - 2));
        assert_eq!(table.remove(0), None);
    }

    #[test]
    fn overwrite_replaces_value_without_growing() {
        let mut table = Table::new(64);
        assert_eq!(table.insert(5, 1), Ok(Stored::New));
        assert_eq!(table.insert(5, 2), Ok(Stored::Replaced));
        assert_eq!(table.len(), 1);
        assert_eq!(table.get(5), Some(2));
    }

    proptest! {
        /// A small table driven past its load limit, where clusters are long and deletions
        /// shift them: it answers like a `HashMap` of the inserts it accepted.
        #[test]
        fn table_answers_like_a_hashmap_at_high_load(
            ops in prop::collection::vec((0u64..400, 0u8..4), 1..3000)
        ) {
            let mut table = Table::new(256);
            let mut model = HashMap::new();
            for (k, action) in ops {
                let fp = mix(k);
                if action == 0 {
                    prop_assert_eq!(table.remove(fp), model.remove(&fp));
                } else if table.insert(fp, k).is_ok() {
                    model.insert(fp, k);
                } else {
                    prop_assert!(!model.contains_key(&fp));
                }
                prop_assert_eq!(table.get(fp), model.get(&fp).copied());
            }
            prop_assert_eq!(table.len(), model.len());
            let fps: Vec<u64> = table.iter().map(|(fp, _)| fp).collect();
            prop_assert!(fps.windows(2).all(|w| w[0] < w[1]));
            for (fp, value) in &model {
                prop_assert_eq!(table.get(*fp), Some(*value));
            }
        }
    }
}
