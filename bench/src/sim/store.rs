//! The bounded receipt store: every receipt the simulator owes, from its submit_sm until
//! the ESME acknowledges its deliver_sm.
//!
//! A slab of at most `capacity` slots (grown on demand, never beyond) and a binary heap
//! of due times over slot numbers. A slot is either waiting in the heap, queued for a
//! bind, or in flight as a deliver_sm; it is freed on deliver_sm_resp. When every slot is
//! taken the simulator answers submit_sm with `ESME_RMSGQFUL`: memory stays bounded by
//! `capacity × size_of::<PendingReceipt>()` whatever the ESME does.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::config::FinalState;

/// Longest address kept; longer ones are cut (the simulator echoes them only).
pub const ADDRESS_KEPT_MAX_LEN: usize = 32;
/// Characters of the original text repeated in a receipt.
pub const TEXT_KEPT_LEN: usize = tern_sms::receipt::RECEIPT_TEXT_CHARS;

/// An SMPP address kept inline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// Type of number.
    pub ton: u8,
    /// Numbering plan.
    pub npi: u8,
    bytes: [u8; ADDRESS_KEPT_MAX_LEN],
    len: u8,
}

impl Address {
    /// Keeps the first [`ADDRESS_KEPT_MAX_LEN`] octets of `addr`.
    pub fn new(ton: u8, npi: u8, addr: &[u8]) -> Address {
        let mut bytes = [0; ADDRESS_KEPT_MAX_LEN];
        let len = addr.len().min(ADDRESS_KEPT_MAX_LEN);
        let src = addr.get(..len).unwrap_or_default();
        if let Some(dst) = bytes.get_mut(..len) {
            dst.copy_from_slice(src);
        }
        Address {
            ton,
            npi,
            bytes,
            len: len as u8,
        }
    }

    /// The address octets.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// A receipt owed to an ESME.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingReceipt {
    /// The message id (formatted per the receipt id format when sent).
    pub id: u64,
    /// The connection that submitted the message (preferred for delivery).
    pub origin: u64,
    /// The shard-local index of the system_id that submitted it.
    pub system: u32,
    /// The final state reported.
    pub state: FinalState,
    /// The `err:` code.
    pub err: u16,
    /// When it was submitted, seconds since the Unix epoch.
    pub submitted_unix_s: u64,
    /// The submit_sm's source (the receipt's destination).
    pub source: Address,
    /// The submit_sm's destination (the receipt's source).
    pub destination: Address,
    /// The start of the original text.
    pub text: [u8; TEXT_KEPT_LEN],
    /// Octets of `text` in use.
    pub text_len: u8,
}

impl PendingReceipt {
    /// The kept text octets.
    pub fn text(&self) -> &[u8] {
        self.text
            .get(..usize::from(self.text_len))
            .unwrap_or_default()
    }
}

/// Slot number in the store.
pub type Slot = u32;

/// The bounded slab plus due-time heap.
#[derive(Debug)]
pub struct ReceiptStore {
    slots: Vec<Option<PendingReceipt>>,
    free: Vec<Slot>,
    capacity: usize,
    heap: BinaryHeap<Reverse<(Instant, Slot)>>,
}

impl ReceiptStore {
    /// A store that never holds more than `capacity` receipts (capped at `u32::MAX`).
    pub fn new(capacity: usize) -> ReceiptStore {
        let capacity = capacity.min(u32::MAX as usize);
        ReceiptStore {
            slots: Vec::new(),
            free: Vec::new(),
            capacity,
            heap: BinaryHeap::new(),
        }
    }

    /// Receipts held.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// True when no receipt is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when a new receipt would be refused.
    pub fn is_full(&self) -> bool {
        self.free.is_empty() && self.slots.len() >= self.capacity
    }

    /// The most receipts ever held at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Stores `receipt`; `None` when full.
    pub fn insert(&mut self, receipt: PendingReceipt) -> Option<Slot> {
        if let Some(slot) = self.free.pop() {
            if let Some(entry) = self.slots.get_mut(slot as usize) {
                *entry = Some(receipt);
            }
            return Some(slot);
        }
        if self.slots.len() >= self.capacity {
            return None;
        }
        let slot = self.slots.len() as Slot;
        self.slots.push(Some(receipt));
        Some(slot)
    }

    /// Makes `slot` due at `due`.
    pub fn schedule(&mut self, slot: Slot, due: Instant) {
        // The heap holds each live slot at most once, so it never exceeds `capacity`.
        self.heap.push(Reverse((due, slot)));
    }

    /// The earliest due time, if any receipt waits.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((due, _))| *due)
    }

    /// A slot due at `now` or earlier, earliest first.
    pub fn pop_due(&mut self, now: Instant) -> Option<Slot> {
        match self.heap.peek() {
            Some(Reverse((due, _))) if *due <= now => self.heap.pop().map(|Reverse((_, s))| s),
            _ => None,
        }
    }

    /// The receipt in `slot`.
    pub fn get(&self, slot: Slot) -> Option<&PendingReceipt> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// Frees `slot` and returns what it held.
    pub fn remove(&mut self, slot: Slot) -> Option<PendingReceipt> {
        let taken = self.slots.get_mut(slot as usize).and_then(Option::take);
        if taken.is_some() {
            self.free.push(slot);
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn receipt(id: u64) -> PendingReceipt {
        PendingReceipt {
            id,
            origin: 0,
            system: 0,
            state: FinalState::Delivered,
            err: 0,
            submitted_unix_s: 0,
            source: Address::new(1, 1, b"123"),
            destination: Address::new(1, 1, b"456"),
            text: [0; TEXT_KEPT_LEN],
            text_len: 0,
        }
    }

    #[test]
    fn full_store_refuses_and_freed_slot_is_reused() {
        let mut store = ReceiptStore::new(2);
        let a = store.insert(receipt(1)).unwrap();
        store.insert(receipt(2)).unwrap();
        assert!(store.is_full());
        assert_eq!(store.insert(receipt(3)), None);
        assert_eq!(store.remove(a).map(|r| r.id), Some(1));
        assert_eq!(store.remove(a), None);
        assert_eq!(store.insert(receipt(4)), Some(a));
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn due_slots_come_out_earliest_first_and_not_before_due() {
        let mut store = ReceiptStore::new(8);
        let t0 = Instant::now();
        for (i, ms) in [30u64, 10, 20].into_iter().enumerate() {
            let slot = store.insert(receipt(i as u64)).unwrap();
            store.schedule(slot, t0 + Duration::from_millis(ms));
        }
        assert_eq!(store.next_due(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(store.pop_due(t0), None);
        let slots: Vec<_> =
            std::iter::from_fn(|| store.pop_due(t0 + Duration::from_millis(25))).collect();
        let due: Vec<_> = slots
            .iter()
            .filter_map(|&s| store.get(s).map(|r| r.id))
            .collect();
        assert_eq!(due, [1, 2]);
    }

    #[test]
    fn long_address_is_cut_to_the_kept_length() {
        let long = [b'7'; 80];
        assert_eq!(
            Address::new(0, 0, &long).as_bytes().len(),
            ADDRESS_KEPT_MAX_LEN
        );
    }
}
