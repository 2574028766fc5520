//! The cross-shard mesh: what shards say to each other, and the bounded rings that carry it.
//!
//! # Design
//! - **Rings.** glommio's `channel_mesh` (`MeshBuilder::full(shards, RING_SLOTS)`): one
//!   bounded lock-free SPSC ring per ordered pair of shards, whose consumer is woken
//!   through glommio's own sleep notifier when it is parked. We take it rather than
//!   crossbeam `ArrayQueue` + our own waker because the waking of a parked executor (an
//!   eventfd its io_uring ring watches) is the hard part, and glommio already does it for
//!   shared channels; a hand-rolled waker would have to reach into the reactor anyway.
//! - **Batches.** A ring slot carries a [`Batch`] (up to [`BATCH_MAX`] messages), not one
//!   message: a slot hand-off and a possible wake of the peer cost the same for 1 or 256
//!   messages (see the figures in [`crate::gateway`]). Each shard keeps one outbound queue
//!   per peer ([`Outbound`]); a sender task per peer drains it a batch at a time and waits
//!   (`send_to(..).await`) when the ring is full, and a receiver task per peer applies a
//!   whole batch under one borrow of the shard's core.
//! - **What crosses.** Only owned, `Send`, small values ([`MeshMsg`]): ids, parts, DLR keys
//!   (an inline ≤ 64-byte ID2), events, and for a submit the Accepted record's bytes. Never
//!   an `Rc` or a reference into another shard's state.
//! - **Ownership.** The shard that accepted a message owns it (its WAL, its lifecycle,
//!   its id's shard byte). Other shards only act for it and report back: a bind shard
//!   submits a part and sends the outcome; the index shard maps an ID2 and forwards the
//!   receipt; a receiver shard delivers a receipt and sends the acknowledgement.
//! - **Bounds.** Rings hold [`RING_SLOTS`] batches. Work that can wait is admitted by
//!   credit: parts a bind shard holds for an owner ([`part_credit`]: twice the binds'
//!   windows), receipts a receiver shard holds for an owner ([`receipt_credit`]), and
//!   nothing new goes to a peer whose outbound queue is past [`OUTBOUND_SOFT_MAX`] (the
//!   part or receipt stays queued on its owner). Answers (outcomes, acknowledgements, DLR
//!   inserts, receipt resolutions) are always taken: each answers one admitted item, so
//!   their number is bounded by the credits and windows that admitted them.
//! - **Node view.** Which shard has a bind of a connector up, and which shard has a
//!   receiving session of a user, are plain atomic counters ([`NodeView`]) that each shard
//!   writes for itself and reads for the others: a hint for routing, never state that two
//!   shards change together. A stale hint costs one bounce ([`MeshMsg::PartBounced`],
//!   [`MeshMsg::ReceiptBounced`]), never a loss.

pub mod pump;

use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll, Waker};

use tern_smpp::MessageState;

use crate::lifecycle::{ClientReceipt, DlrKey, Event};
use crate::message::{MessageId, PartRef};

/// Batches a ring holds: large, because a tiny ring makes the producer wait on every wake.
pub const RING_SLOTS: usize = 1024;
/// Most messages in one batch (one ring slot).
pub const BATCH_MAX: usize = 256;
/// Past this many messages queued for a peer, nothing new (parts, receipts) is sent to it.
pub const OUTBOUND_SOFT_MAX: usize = 16_384;
/// Receipts in transit to, or held by, one receiving shard for one user, per owner.
pub const RECEIPT_CREDIT_MIN: u32 = 64;

/// One ring slot's worth of messages.
pub type Batch = Vec<MeshMsg>;

/// Where the upstream deliver_sm_resp of a receipt waits: a token on the bind's shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// The shard of the bind that received the receipt.
    pub shard: u8,
    /// The token its bind waits on (see [`crate::shard::ReceiptOutcome::Parked`]).
    pub token: u64,
}

/// A receipt from upstream as it travels: what it says about which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamReceipt {
    /// The DLR key it names.
    pub key: DlrKey,
    /// Its message_state.
    pub state: MessageState,
    /// Its error code.
    pub error: u32,
    /// Who answers the SMSC once it is applied and durable.
    pub ticket: Ticket,
}

/// A part handed to another shard's bind: the owner keeps the message, the bind shard
/// only needs the record to encode the submit_sm.
#[derive(Debug)]
pub struct RemotePart {
    /// The part.
    pub part: PartRef,
    /// The Accepted record's bytes (`MessageRecord::encode`).
    pub record: Box<[u8]>,
}

/// What a receipt deliver_sm needs from the message record when the record is on another
/// shard.
pub use crate::delivery::ReceiptOrigin;

/// A message from one shard to another.
#[derive(Debug)]
pub enum MeshMsg {
    /// The first message on every ring: names the sending shard.
    Hello {
        /// Its index.
        shard: u8,
    },
    /// Owner → bind shard: submit this part on `connector`.
    Submit {
        /// Connector position in the configuration.
        connector: u16,
        /// The part and its record.
        part: RemotePart,
    },
    /// Bind shard → owner: the outcome of a part it took (SubmitResult, SubmitTimeout or
    /// Disconnected); returns one part credit.
    PartEvent {
        /// The connector it was submitted on.
        connector: u16,
        /// The message.
        id: MessageId,
        /// What happened.
        event: Event,
    },
    /// Bind shard → owner: the part was not submitted (no bind up there any more, or
    /// stopping); queue it again. Returns one part credit.
    PartBounced {
        /// The connector.
        connector: u16,
        /// The part.
        part: PartRef,
    },
    /// Owner → index shard: map `key` to `part`.
    DlrInsert {
        /// The key.
        key: DlrKey,
        /// Its part.
        part: PartRef,
    },
    /// Owner → index shard, at restart (WAL replay): map `key` to `part` unless a run
    /// reopened from disk already does.
    DlrRestore {
        /// The key.
        key: DlrKey,
        /// Its part.
        part: PartRef,
    },
    /// Owner → index shard: the key's final receipt came.
    DlrRemove {
        /// The key.
        key: DlrKey,
    },
    /// Bind shard → index shard: look this receipt up (or park it).
    ReceiptLookup(UpstreamReceipt),
    /// Index shard → owner: apply this receipt to `part`.
    ReceiptApply {
        /// The part the key mapped to.
        part: PartRef,
        /// The receipt.
        receipt: UpstreamReceipt,
    },
    /// Owner or index shard → bind shard: the receipt waiting on `token` is applied and
    /// durable (or given up); answer the SMSC. `refused`: the park was full, answer with
    /// a transient error.
    ReceiptResolved {
        /// The bind shard's token.
        token: u64,
        /// True when the index refused it.
        refused: bool,
    },
    /// Owner → receiver shard: deliver this receipt to one of the user's sessions.
    ClientReceipt {
        /// The receipt.
        receipt: ClientReceipt,
        /// What its deliver_sm needs from the record.
        origin: Option<ReceiptOrigin>,
    },
    /// Receiver shard → owner: the client acknowledged it; returns one receipt credit.
    ReceiptAcked {
        /// The receipt.
        receipt: ClientReceipt,
    },
    /// Receiver shard → owner: no session of the user is left there; queue it again.
    /// Returns one receipt credit.
    ReceiptBounced {
        /// The receipt.
        receipt: ClientReceipt,
    },
    /// Owner → receiver shard: deliver this MO to one of its user's sessions.
    MoDeliver {
        /// The MO (boxed: the other messages are small).
        record: Box<crate::message::MoRecord>,
    },
    /// Receiver shard → owner: the client acknowledged the MO; returns one MO credit.
    MoAcked {
        /// The MO.
        id: MessageId,
        /// Its user (the credit is per user).
        user: u32,
    },
    /// Receiver shard → owner: no session of the user is left there; queue it again.
    /// Returns one MO credit.
    MoBounced {
        /// The MO.
        id: MessageId,
        /// Its user.
        user: u32,
    },
}

/// Parts in transit to one bind shard for one connector, per owner: twice the windows of
/// that connector's binds there, so a bind always has its next window waiting.
pub fn part_credit(window_size: u32, binds_there: u32) -> u32 {
    window_size
        .saturating_mul(binds_there)
        .saturating_mul(2)
        .max(1)
}

/// Receipts in transit to one receiving shard for one user, per owner.
pub fn receipt_credit(client_window_size: u32) -> u32 {
    client_window_size.saturating_mul(2).max(RECEIPT_CREDIT_MIN)
}

/// The shard that holds bind `j` of connector `c` on a node of `shards`.
pub fn bind_shard(connector: usize, bind: usize, shards: usize) -> usize {
    (connector + bind) % shards.max(1)
}

/// Binds of a connector with `binds` binds that live on `shard`.
pub fn binds_on(connector: usize, binds: u32, shard: usize, shards: usize) -> u32 {
    let on = (0..binds as usize)
        .filter(|&j| bind_shard(connector, j, shards) == shard)
        .count();
    u32::try_from(on).unwrap_or(u32::MAX)
}

/// Node-wide hints that each shard writes for itself and reads for the others.
#[derive(Debug)]
pub struct NodeView {
    shards: usize,
    connectors: usize,
    users: usize,
    binds_up: Vec<AtomicU32>,
    receivers: Vec<AtomicU32>,
}

impl NodeView {
    /// Counters for `shards` shards, `connectors` connectors and `users` users, all zero.
    pub fn new(shards: usize, connectors: usize, users: usize) -> NodeView {
        let shards = shards.max(1);
        NodeView {
            shards,
            connectors,
            users,
            binds_up: (0..shards * connectors)
                .map(|_| AtomicU32::new(0))
                .collect(),
            receivers: (0..shards * users).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Shards of the node.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// Binds of `connector` up on `shard`.
    pub fn binds_up(&self, shard: usize, connector: usize) -> u32 {
        self.binds_up
            .get(shard * self.connectors + connector)
            .map_or(0, |a| a.load(Ordering::Acquire))
    }

    /// Adds `delta` (±1) to the binds of `connector` up on `shard`.
    pub fn add_bind_up(&self, shard: usize, connector: usize, up: bool) {
        if connector >= self.connectors {
            return;
        }
        if let Some(a) = self.binds_up.get(shard * self.connectors + connector) {
            add(a, up);
        }
    }

    /// Receiving sessions (receiver, transceiver) of `user` bound on `shard`.
    pub fn receivers(&self, shard: usize, user: usize) -> u32 {
        self.receivers
            .get(shard * self.users + user)
            .map_or(0, |a| a.load(Ordering::Acquire))
    }

    /// A receiving session of `user` on `shard` came (`up`) or went.
    pub fn add_receiver(&self, shard: usize, user: usize, up: bool) {
        if user >= self.users {
            return;
        }
        if let Some(a) = self.receivers.get(shard * self.users + user) {
            add(a, up);
        }
    }
}

fn add(counter: &AtomicU32, up: bool) {
    if up {
        counter.fetch_add(1, Ordering::AcqRel);
    } else {
        // Never below zero, even if a close were reported twice.
        let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1));
    }
}

/// A one-bit doorbell between the core and a task that sleeps until there is work.
#[derive(Debug, Default)]
pub struct Kick {
    kicked: bool,
    waker: Option<Waker>,
}

impl Kick {
    /// Rings the bell: the task runs (again) soon.
    pub fn kick(&mut self) {
        self.kicked = true;
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Ready once rung (and clears it); otherwise remembers the task's waker.
    pub fn poll_take(&mut self, cx: &Context<'_>) -> Poll<()> {
        if std::mem::take(&mut self.kicked) {
            return Poll::Ready(());
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// One peer's outbound queue and the doorbell of its sender task.
#[derive(Debug, Default)]
pub struct Outbound {
    queue: std::collections::VecDeque<MeshMsg>,
    /// The sender task's doorbell.
    pub kick: Kick,
}

impl Outbound {
    /// Queues `msg` and rings the sender.
    pub fn push(&mut self, msg: MeshMsg) {
        self.queue.push_back(msg);
        self.kick.kick();
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// True when new work (not answers) may still go to this peer.
    pub fn has_room(&self) -> bool {
        self.queue.len() < OUTBOUND_SOFT_MAX
    }

    /// Up to [`BATCH_MAX`] messages, oldest first.
    pub fn take_batch(&mut self) -> Batch {
        let n = self.queue.len().min(BATCH_MAX);
        self.queue.drain(..n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_are_spread_round_robin_from_the_connector_index() {
        assert_eq!(binds_on(0, 1, 0, 2), 1);
        assert_eq!(binds_on(0, 1, 1, 2), 0);
        assert_eq!(binds_on(1, 3, 0, 2), 1);
        assert_eq!(binds_on(1, 3, 1, 2), 2);
    }

    #[test]
    fn a_bind_count_never_goes_below_zero() {
        let view = NodeView::new(2, 1, 1);
        view.add_bind_up(1, 0, false);
        assert_eq!(view.binds_up(1, 0), 0);
        view.add_bind_up(1, 0, true);
        assert_eq!(view.binds_up(1, 0), 1);
        assert_eq!(view.binds_up(0, 0), 0);
        view.add_bind_up(5, 0, true); // out of range: ignored, no panic
    }

    #[test]
    fn an_outbound_queue_hands_out_batches_in_order_and_bounded() {
        let mut out = Outbound::default();
        for i in 0..(BATCH_MAX + 3) {
            out.push(MeshMsg::ReceiptResolved {
                token: i as u64,
                refused: false,
            });
        }
        let first = out.take_batch();
        assert_eq!(first.len(), BATCH_MAX);
        assert!(matches!(
            first.first(),
            Some(MeshMsg::ReceiptResolved { token: 0, .. })
        ));
        assert_eq!(out.take_batch().len(), 3);
        assert!(out.is_empty());
    }
}
