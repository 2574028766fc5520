//! The compact form of a single-part message waiting for its receipt.

use tern_smpp::{MessageState, RegisteredDelivery};
use tern_wal::Lsn;

use super::machine::{Lifecycle, PartState, PartTrack, Phase, ReceiptDue, Round};
use crate::message::{ConnectorId, MessageId, Route, UserId};

/// Largest LSN a slot holds (48 bits: 8.9 years of records at 1 M/s).
pub const SLOT_LSN_MAX: u64 = (1 << 48) - 1;

/// What a single-part message awaiting its receipt keeps in memory: 24 bytes, so that
/// millions of them fit (see the module docs for the arithmetic). Everything else is in
/// its WAL records.
///
/// Only a [`Lifecycle`] in state AwaitingReceipt with one part, its Submitted record
/// logged and no early receipt held can be parked ([`MessageSlot::park`]); others stay in
/// their full form. The validity deadline is rounded up to the second, so an unparked
/// message never expires early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct MessageSlot {
    record_lsn: [u16; 3],
    submitted_lsn: [u16; 3],
    connector: u16,
    registered_delivery: u8,
    /// The last intermediate state passed to the client, plus one (0: none).
    last_intermediate: u8,
    deadline_s: u32,
    user: u32,
}

fn pack_lsn(lsn: Lsn) -> Option<[u16; 3]> {
    let value = lsn.get();
    (value <= SLOT_LSN_MAX).then_some([value as u16, (value >> 16) as u16, (value >> 32) as u16])
}

fn unpack_lsn(words: [u16; 3]) -> Lsn {
    let [low, middle, high] = words.map(u64::from);
    Lsn(low | (middle << 16) | (high << 32))
}

impl MessageSlot {
    /// An unused slot (a place in a table, never a message).
    pub const VACANT: MessageSlot = MessageSlot {
        record_lsn: [0; 3],
        submitted_lsn: [0; 3],
        connector: 0,
        registered_delivery: 0,
        last_intermediate: 0,
        deadline_s: 0,
        user: 0,
    };

    /// A slot with only a deadline set, for tables' tests.
    #[cfg(test)]
    pub fn for_test(deadline_s: u32) -> MessageSlot {
        MessageSlot {
            deadline_s,
            ..MessageSlot::VACANT
        }
    }

    /// The LSN of the part's Submitted record.
    pub fn submitted_lsn(&self) -> Lsn {
        unpack_lsn(self.submitted_lsn)
    }

    /// The user the message belongs to.
    pub fn user(&self) -> UserId {
        UserId(self.user)
    }

    /// The compact form of `lifecycle`, or `None` if it must stay in full form.
    pub fn park(lifecycle: &Lifecycle) -> Option<MessageSlot> {
        let [part] = lifecycle.parts.as_slice() else {
            return None;
        };
        let PartState::Submitted(connector) = part.state else {
            return None;
        };
        if lifecycle.phase != Phase::AwaitingReceipt
            || !part.mapped
            || part.early.is_some()
            || part.final_lsn.is_some()
        {
            return None;
        }
        let last_intermediate = match lifecycle.last_intermediate {
            None => 0,
            Some(state) => state.0.checked_add(1)?,
        };
        Some(MessageSlot {
            record_lsn: pack_lsn(lifecycle.record_lsn?)?,
            submitted_lsn: pack_lsn(part.submitted_lsn?)?,
            connector: connector.0,
            registered_delivery: lifecycle.registered_delivery.0,
            last_intermediate,
            deadline_s: u32::try_from(lifecycle.deadline_ms.div_ceil(1000)).ok()?,
            user: lifecycle.user.0,
        })
    }

    /// The full form of message `id` parked in this slot.
    pub fn unpark(self, id: MessageId) -> Lifecycle {
        let connector = ConnectorId(self.connector);
        let mut part = PartTrack::new(PartState::Submitted(connector));
        part.submitted_lsn = Some(unpack_lsn(self.submitted_lsn));
        part.mapped = true;
        Lifecycle {
            id,
            user: UserId(self.user),
            registered_delivery: RegisteredDelivery(self.registered_delivery),
            deadline_ms: u64::from(self.deadline_s) * 1000,
            schedule_at_ms: 0,
            // Awaiting its receipt, a message is never submitted again: the route is done.
            route: Route::single(connector),
            route_index: 0,
            connector,
            attempt: 1,
            phase: Phase::AwaitingReceipt,
            parts: vec![part],
            round: Round::default(),
            last_status: None,
            last_intermediate: self.last_intermediate.checked_sub(1).map(MessageState),
            final_error: 0,
            final_at_ms: 0,
            receipt: ReceiptDue::Undecided,
            record_lsn: Some(unpack_lsn(self.record_lsn)),
            final_lsn: None,
            receipt_lsn: None,
            released: false,
        }
    }

    /// The LSN of the message's Accepted record.
    pub fn record_lsn(&self) -> Lsn {
        unpack_lsn(self.record_lsn)
    }

    /// The validity deadline, rounded up to the second (Unix ms).
    pub fn deadline_ms(&self) -> u64 {
        u64::from(self.deadline_s) * 1000
    }

    /// The WAL copied the record at `old` to `new`: point at the copy. False if neither
    /// LSN of the slot is `old`, or `new` does not fit (then unpark, relocate, keep full).
    pub fn relocated(&mut self, old: Lsn, new: Lsn) -> bool {
        let Some(packed) = pack_lsn(new) else {
            return false;
        };
        if self.record_lsn() == old {
            self.record_lsn = packed;
        } else if unpack_lsn(self.submitted_lsn) == old {
            self.submitted_lsn = packed;
        } else {
            return false;
        }
        true
    }
}
