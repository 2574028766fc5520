//! The core's side of the mesh: what it ships to other shards and what it does with what
//! they send (see [`crate::mesh`] for the design and the bounds).

use std::collections::{HashMap, VecDeque};

use tern_wal::Lsn;

use crate::config::Config;
use crate::dlr_index::{Key, LookupOrPark, shard_of};
use crate::lifecycle::{ClientReceipt, DlrKey, Event};
use crate::mesh::{
    Kick, MeshMsg, Outbound, ReceiptOrigin, RemotePart, Ticket, UpstreamReceipt, binds_on,
    part_credit, receipt_credit,
};
use crate::message::{MessageId, PartRef};

use super::{Core, ParkOutcome, unix_now_ms, wake_all};

/// A part a bind of this shard is to submit: one of this shard's own, or one another
/// shard handed over with its record.
#[derive(Debug)]
pub enum SubmitJob {
    /// A part of a message this shard owns (its record is in the core).
    Local(PartRef),
    /// A part of a message another shard owns.
    Remote(RemotePart),
}

impl SubmitJob {
    /// The part.
    pub fn part(&self) -> PartRef {
        match self {
            SubmitJob::Local(part) => *part,
            SubmitJob::Remote(remote) => remote.part,
        }
    }
}

/// A receipt another shard handed over, with what its deliver_sm needs.
#[derive(Debug)]
struct Forwarded {
    origin: Option<ReceiptOrigin>,
    /// Receipts of this message held here (an intermediate one and the final one may
    /// both be waiting).
    holds: u32,
}

/// This shard's mesh state.
pub(super) struct MeshState {
    me: usize,
    shards: usize,
    connectors: usize,
    /// One queue per peer (this shard's own slot stays empty).
    outbound: Vec<Outbound>,
    /// Wakes the forwarder task: parts or receipts may go to another shard.
    pub(super) forward_kick: Kick,
    /// Wakes the acker task: receipts applied here wait for the WAL before their bind
    /// shard may answer the SMSC.
    pub(super) ack_kick: Kick,
    acks_after_sync: VecDeque<(Lsn, Ticket)>,
    /// Parts this shard (as owner) has handed to shard s for connector c: [c * shards + s].
    parts_in_transit: Vec<u32>,
    /// The most it may hand over: 0 where connector c has no bind on shard s.
    part_credit: Vec<u32>,
    /// Receipts this shard (as owner) has handed to shard s for user u: [u * shards + s].
    receipts_in_transit: Vec<u32>,
    receipt_credit: u32,
    /// Parts other shards handed to this shard's binds, per connector.
    remote_ready: Vec<VecDeque<RemotePart>>,
    /// Receipts other shards handed to this shard's sessions, per user.
    forwarded: Vec<VecDeque<ClientReceipt>>,
    forwarded_origins: HashMap<MessageId, Forwarded>,
    /// Receiving sessions bound on this shard, per user.
    receivers: Vec<u32>,
    /// Where the next search for a peer starts (spreads load over peers).
    next_peer: usize,
}

impl MeshState {
    pub(super) fn new(me: usize, config: &Config, shards: usize) -> MeshState {
        let shards = shards.max(1);
        let connectors = config.connectors.len();
        let users = config.users.len();
        let mut credit = vec![0; connectors * shards];
        for (c, connector) in config.connectors.iter().enumerate() {
            for s in (0..shards).filter(|&s| s != me) {
                let there = binds_on(c, connector.binds, s, shards);
                if there > 0
                    && let Some(slot) = credit.get_mut(c * shards + s)
                {
                    *slot = part_credit(connector.window_size, there);
                }
            }
        }
        MeshState {
            me,
            shards,
            connectors,
            outbound: (0..shards).map(|_| Outbound::default()).collect(),
            forward_kick: Kick::default(),
            ack_kick: Kick::default(),
            acks_after_sync: VecDeque::new(),
            parts_in_transit: vec![0; connectors * shards],
            part_credit: credit,
            receipts_in_transit: vec![0; users * shards],
            receipt_credit: receipt_credit(config.smpp.window_size),
            remote_ready: (0..connectors).map(|_| VecDeque::new()).collect(),
            forwarded: (0..users).map(|_| VecDeque::new()).collect(),
            forwarded_origins: HashMap::new(),
            receivers: vec![0; users],
            next_peer: 0,
        }
    }

    /// Queues `msg` for shard `to`.
    pub(super) fn send(&mut self, to: usize, msg: MeshMsg) {
        match self.outbound.get_mut(to) {
            Some(out) if to != self.me => out.push(msg),
            _ => tracing::error!(to, "mesh message for no peer dropped"),
        }
    }

    /// Makes room for `users` users (a reload added some); existing counts stay.
    pub(super) fn grow_users(&mut self, users: usize) {
        if users <= self.receivers.len() {
            return;
        }
        self.receivers.resize(users, 0);
        self.forwarded.resize_with(users, VecDeque::new);
        // Indexed [u * shards + s]: the new users' slots go at the end.
        self.receipts_in_transit.resize(users * self.shards, 0);
    }

    pub(super) fn receivers(&self, user: usize) -> u32 {
        self.receivers.get(user).copied().unwrap_or(0)
    }

    /// True when new work may still go to `peer`.
    pub(super) fn has_room(&self, peer: usize) -> bool {
        self.outbound.get(peer).is_some_and(Outbound::has_room)
    }

    pub(super) fn pop_forwarded(&mut self, user: usize) -> Option<ClientReceipt> {
        self.forwarded.get_mut(user)?.pop_front()
    }

    fn part_slot(&self, connector: usize, shard: usize) -> usize {
        connector * self.shards + shard
    }

    fn adjust(counts: &mut [u32], slot: usize, up: bool) {
        if let Some(n) = counts.get_mut(slot) {
            *n = if up { *n + 1 } else { n.saturating_sub(1) };
        }
    }
}

impl Core {
    /// The shard whose DLR index holds `key`.
    pub(super) fn index_shard(&self, key: &Key<'_>) -> usize {
        let shards = u32::try_from(self.node.shards()).unwrap_or(u32::MAX);
        shard_of(key, shards) as usize
    }

    /// Maps `key` to `part` in its index shard's DLR index; receipts that were parked
    /// waiting for it are applied.
    pub(super) fn insert_dlr(&mut self, key: DlrKey, part: PartRef, now_ms: u64) {
        let Ok(k) = Key::new(u32::from(key.connector.0), key.id2.as_bytes()) else {
            return;
        };
        let index = self.index_shard(&k);
        if index != usize::from(self.shard) {
            self.mesh.send(index, MeshMsg::DlrInsert { key, part });
            return;
        }
        let early: Vec<u64> = self
            .dlr
            .insert(k, part.to_dlr_value(), now_ms)
            .early_receipts
            .to_vec();
        for token in early {
            if let Some(receipt) = self.parked.remove(&token) {
                self.apply_for(part, receipt);
            }
        }
    }

    pub(super) fn remove_dlr(&mut self, key: DlrKey) {
        let Ok(k) = Key::new(u32::from(key.connector.0), key.id2.as_bytes()) else {
            return;
        };
        let index = self.index_shard(&k);
        if index == usize::from(self.shard) {
            self.dlr.remove(k);
        } else {
            self.mesh.send(index, MeshMsg::DlrRemove { key });
        }
    }

    /// Applies `receipt` to `part` on its owner shard, then lets the waiting bind answer.
    pub(super) fn apply_for(&mut self, part: PartRef, receipt: UpstreamReceipt) {
        let owner = usize::from(part.message.shard());
        if owner != usize::from(self.shard) {
            self.mesh
                .send(owner, MeshMsg::ReceiptApply { part, receipt });
            return;
        }
        self.apply_receipt(part, &receipt);
        if receipt.ticket.shard == self.shard {
            // The bind is here: it waits for this shard's WAL itself.
            self.resolve_park(receipt.ticket.token);
            return;
        }
        match self.last_lsn() {
            Some(lsn) => {
                self.mesh.acks_after_sync.push_back((lsn, receipt.ticket));
                self.mesh.ack_kick.kick();
            }
            None => self.finish_ticket(receipt.ticket, ParkOutcome::Resolved),
        }
    }

    /// Ends the wait of the bind that holds `ticket`.
    pub(super) fn finish_ticket(&mut self, ticket: Ticket, outcome: ParkOutcome) {
        if ticket.shard != self.shard {
            let refused = outcome == ParkOutcome::Refused;
            self.mesh.send(
                usize::from(ticket.shard),
                MeshMsg::ReceiptResolved {
                    token: ticket.token,
                    refused,
                },
            );
            return;
        }
        match outcome {
            ParkOutcome::Resolved => self.resolve_park(ticket.token),
            ParkOutcome::Refused => {
                if !self.abandoned_parks.remove(&ticket.token) {
                    self.refused_parks.insert(ticket.token);
                    for q in &self.connectors {
                        wake_all(&q.wakers);
                    }
                }
            }
        }
    }

    /// Looks up a receipt another shard's bind received, as its index shard.
    fn lookup_for(&mut self, receipt: UpstreamReceipt) {
        let key = receipt.key;
        let Ok(k) = Key::new(u32::from(key.connector.0), key.id2.as_bytes()) else {
            self.finish_ticket(receipt.ticket, ParkOutcome::Resolved);
            return;
        };
        let token = self.next_park_token;
        match self.dlr.lookup_or_park(k, token, unix_now_ms()) {
            LookupOrPark::Found(value) => self.apply_for(PartRef::from_dlr_value(value), receipt),
            LookupOrPark::Parked => {
                self.next_park_token += 1;
                self.parked.insert(token, receipt);
            }
            LookupOrPark::Refused => self.finish_ticket(receipt.ticket, ParkOutcome::Refused),
        }
    }

    /// Applies one message from shard `from`.
    pub fn on_mesh(&mut self, from: usize, msg: MeshMsg) {
        match msg {
            MeshMsg::Hello { .. } => {}
            MeshMsg::Submit { connector, part } => self.take_remote_part(from, connector, part),
            MeshMsg::PartEvent {
                connector,
                id,
                event,
            } => {
                self.return_part_credit(usize::from(connector), from);
                self.handle(id, event);
            }
            MeshMsg::PartBounced { connector, part } => {
                self.return_part_credit(usize::from(connector), from);
                self.unpop_ready(usize::from(connector), part);
            }
            MeshMsg::DlrInsert { key, part } => self.insert_dlr(key, part, unix_now_ms()),
            MeshMsg::DlrRestore { key, part } => self.restore_dlr(key, part, unix_now_ms()),
            MeshMsg::DlrRemove { key } => self.remove_dlr(key),
            MeshMsg::ReceiptLookup(receipt) => self.lookup_for(receipt),
            MeshMsg::ReceiptApply { part, receipt } => self.apply_for(part, receipt),
            MeshMsg::ReceiptResolved { token, refused } => {
                let outcome = if refused {
                    ParkOutcome::Refused
                } else {
                    ParkOutcome::Resolved
                };
                let ticket = Ticket {
                    shard: self.shard,
                    token,
                };
                self.finish_ticket(ticket, outcome);
            }
            MeshMsg::ClientReceipt { receipt, origin } => {
                self.take_forwarded(from, receipt, origin)
            }
            MeshMsg::ReceiptAcked { receipt } => {
                self.return_receipt_credit(receipt.user.0 as usize, from);
                self.handle(receipt.id, Event::ClientAcknowledged);
            }
            msg @ (MeshMsg::MoDeliver { .. }
            | MeshMsg::MoAcked { .. }
            | MeshMsg::MoBounced { .. }) => self.on_mo_mesh(from, msg),
            MeshMsg::ReceiptBounced { receipt } => {
                self.return_receipt_credit(receipt.user.0 as usize, from);
                if let Some(queue) = self.outbox.get_mut(receipt.user.0 as usize) {
                    queue.push_front(receipt);
                }
            }
        }
    }

    fn return_part_credit(&mut self, connector: usize, shard: usize) {
        let slot = self.mesh.part_slot(connector, shard);
        MeshState::adjust(&mut self.mesh.parts_in_transit, slot, false);
        self.mesh.forward_kick.kick();
    }

    fn return_receipt_credit(&mut self, user: usize, shard: usize) {
        let slot = user * self.mesh.shards + shard;
        MeshState::adjust(&mut self.mesh.receipts_in_transit, slot, false);
        self.mesh.forward_kick.kick();
    }

    fn take_remote_part(&mut self, from: usize, connector: u16, part: RemotePart) {
        let c = usize::from(connector);
        let up = self.connectors.get(c).is_some_and(|q| q.binds_up > 0);
        if self.stopping || !up {
            let part = part.part;
            self.mesh
                .send(from, MeshMsg::PartBounced { connector, part });
            return;
        }
        if let (Some(queue), Some(q)) = (self.mesh.remote_ready.get_mut(c), self.connectors.get(c))
        {
            queue.push_back(part);
            wake_all(&q.wakers);
        }
    }

    /// Hands the parts other shards gave this shard's binds of `connector` back to their
    /// owners (the last bind went down).
    pub(super) fn bounce_remote_parts(&mut self, connector: usize) {
        let Some(queue) = self.mesh.remote_ready.get_mut(connector) else {
            return;
        };
        let parts: Vec<RemotePart> = queue.drain(..).collect();
        let connector = u16::try_from(connector).unwrap_or(u16::MAX);
        for remote in parts {
            let owner = usize::from(remote.part.message.shard());
            let part = remote.part;
            self.mesh
                .send(owner, MeshMsg::PartBounced { connector, part });
        }
    }

    /// The next part a bind of `connector` should submit: this shard's own first.
    pub fn pop_submit(&mut self, connector: usize) -> Option<SubmitJob> {
        if let Some(part) = self.pop_ready(connector) {
            return Some(SubmitJob::Local(part));
        }
        let remote = self.mesh.remote_ready.get_mut(connector)?.pop_front()?;
        Some(SubmitJob::Remote(remote))
    }

    /// Puts back a job that could not be sent now.
    pub fn unpop_submit(&mut self, connector: usize, job: SubmitJob) {
        match job {
            SubmitJob::Local(part) => self.unpop_ready(connector, part),
            SubmitJob::Remote(remote) => {
                if let Some(queue) = self.mesh.remote_ready.get_mut(connector) {
                    queue.push_front(remote);
                }
            }
        }
    }

    /// The outcome of a part submitted on `connector` by a bind of this shard: applied
    /// here if this shard owns the message, else sent to its owner.
    pub fn part_event(&mut self, connector: usize, part: PartRef, event: Event) {
        let owner = usize::from(part.message.shard());
        if owner == usize::from(self.shard) {
            self.handle(part.message, event);
            return;
        }
        let connector = u16::try_from(connector).unwrap_or(u16::MAX);
        self.mesh.send(
            owner,
            MeshMsg::PartEvent {
                connector,
                id: part.message,
                event,
            },
        );
    }

    fn take_forwarded(
        &mut self,
        from: usize,
        receipt: ClientReceipt,
        origin: Option<ReceiptOrigin>,
    ) {
        let user = receipt.user.0 as usize;
        if self.mesh.receivers(user) == 0 || self.stopping {
            self.mesh.send(from, MeshMsg::ReceiptBounced { receipt });
            return;
        }
        let Some(queue) = self.mesh.forwarded.get_mut(user) else {
            return;
        };
        queue.push_back(receipt);
        let held = self
            .mesh
            .forwarded_origins
            .entry(receipt.id)
            .or_insert(Forwarded { origin, holds: 0 });
        held.holds += 1;
        wake_all(&self.client_wakers);
    }

    fn release_forwarded(&mut self, id: MessageId) {
        if let Some(held) = self.mesh.forwarded_origins.get_mut(&id) {
            held.holds = held.holds.saturating_sub(1);
            if held.holds == 0 {
                self.mesh.forwarded_origins.remove(&id);
            }
        }
    }

    /// Puts back a receipt another shard handed over; if no session of its user is left
    /// here, it goes back to its owner.
    pub(super) fn unpop_forwarded(&mut self, receipt: ClientReceipt) {
        let user = receipt.user.0 as usize;
        if self.mesh.receivers(user) > 0
            && let Some(queue) = self.mesh.forwarded.get_mut(user)
        {
            queue.push_front(receipt);
            wake_all(&self.client_wakers);
            return;
        }
        self.release_forwarded(receipt.id);
        let owner = usize::from(receipt.id.shard());
        self.mesh.send(owner, MeshMsg::ReceiptBounced { receipt });
    }

    /// The client acknowledged `receipt` (deliver_sm_resp OK).
    pub fn client_acknowledged(&mut self, receipt: ClientReceipt) {
        if receipt.id.shard() == self.shard {
            self.handle(receipt.id, Event::ClientAcknowledged);
            return;
        }
        self.release_forwarded(receipt.id);
        let owner = usize::from(receipt.id.shard());
        self.mesh.send(owner, MeshMsg::ReceiptAcked { receipt });
    }

    /// What the deliver_sm of a receipt about `id` needs from its record, wherever it is.
    pub fn receipt_origin(&mut self, id: MessageId) -> Option<ReceiptOrigin> {
        self.ensure_full(id);
        if let Some(record) = self.record(id) {
            return Some(ReceiptOrigin::of(record));
        }
        self.mesh
            .forwarded_origins
            .get(&id)
            .and_then(|held| held.origin.clone())
    }

    /// A receiving session (receiver or transceiver) of `user` bound (`up`) or closed on
    /// this shard. When the last one closes, receipts other shards handed over go back.
    pub fn client_receiver(&mut self, user: usize, up: bool) {
        self.node.add_receiver(usize::from(self.shard), user, up);
        let Some(count) = self.mesh.receivers.get_mut(user) else {
            return;
        };
        *count = if up {
            *count + 1
        } else {
            count.saturating_sub(1)
        };
        if up {
            wake_all(&self.client_wakers);
            return;
        }
        if *count > 0 {
            return;
        }
        self.bounce_guest_mos(user);
        let back: Vec<ClientReceipt> = self
            .mesh
            .forwarded
            .get_mut(user)
            .map(|q| q.drain(..).collect())
            .unwrap_or_default();
        for receipt in back {
            self.release_forwarded(receipt.id);
            let owner = usize::from(receipt.id.shard());
            self.mesh.send(owner, MeshMsg::ReceiptBounced { receipt });
        }
        // This shard's own receipts for the user may now go to another shard's sessions.
        self.mesh.forward_kick.kick();
    }

    /// Hands work to other shards where this shard cannot do it: due parts of connectors
    /// with no bind up here go to a shard with one, receipts of users with no session here
    /// go to a shard with one; each within its credit. Returns when the next queued
    /// message falls due (Unix ms), if any.
    pub fn forward(&mut self) -> Option<u64> {
        if self.stopping || self.node.shards() < 2 {
            return None;
        }
        let mut next_due = None;
        for c in 0..self.mesh.connectors {
            let local_up = self.connectors.get(c).is_some_and(|q| q.binds_up > 0);
            if local_up || !self.remote_bind_up(c) {
                continue;
            }
            if let Some(at_ms) = self.release_due(c) {
                next_due = Some(next_due.map_or(at_ms, |n: u64| n.min(at_ms)));
            }
            self.forward_parts(c);
        }
        for user in 0..self.outbox.len() {
            let owed = self.outbox.get(user).is_some_and(|q| !q.is_empty());
            if owed && self.mesh.receivers(user) == 0 {
                self.forward_receipts(user);
            }
        }
        self.forward_mos();
        next_due
    }

    fn remote_bind_up(&self, connector: usize) -> bool {
        (0..self.node.shards())
            .any(|s| s != usize::from(self.shard) && self.node.binds_up(s, connector) > 0)
    }

    /// A peer that can take one more part of `connector` now.
    fn bind_peer(&mut self, connector: usize) -> Option<usize> {
        let shards = self.mesh.shards;
        (0..shards)
            .map(|i| (self.mesh.next_peer + i) % shards)
            .find(|&s| {
                let slot = self.mesh.part_slot(connector, s);
                s != self.mesh.me
                    && self.node.binds_up(s, connector) > 0
                    && self.mesh.parts_in_transit.get(slot) < self.mesh.part_credit.get(slot)
                    && self.mesh.outbound.get(s).is_some_and(Outbound::has_room)
            })
    }

    fn forward_parts(&mut self, connector: usize) {
        let wire_connector = u16::try_from(connector).unwrap_or(u16::MAX);
        while let Some(peer) = self.bind_peer(connector) {
            let Some(part) = self.pop_ready(connector) else {
                return;
            };
            let Some(record) = self.messages.get(&part.message).map(|e| &e.record) else {
                continue; // finished meanwhile: nothing to send
            };
            self.scratch.clear();
            if let Err(e) = record.encode(&mut self.scratch) {
                // It was encoded once to be logged; this cannot fail short of a bug.
                tracing::error!(error = %e, "record of a queued part does not encode");
                continue;
            }
            let remote = RemotePart {
                part,
                record: self.scratch.as_slice().into(),
            };
            let slot = self.mesh.part_slot(connector, peer);
            MeshState::adjust(&mut self.mesh.parts_in_transit, slot, true);
            self.mesh.next_peer = (peer + 1) % self.mesh.shards;
            self.mesh.send(
                peer,
                MeshMsg::Submit {
                    connector: wire_connector,
                    part: remote,
                },
            );
        }
    }

    /// A peer with a receiving session of `user` that can take one more receipt.
    fn receiver_peer(&self, user: usize) -> Option<usize> {
        let shards = self.mesh.shards;
        (0..shards)
            .map(|i| (self.mesh.next_peer + i) % shards)
            .find(|&s| {
                s != self.mesh.me
                    && self.node.receivers(s, user) > 0
                    && self
                        .mesh
                        .receipts_in_transit
                        .get(user * shards + s)
                        .is_some_and(|&n| n < self.mesh.receipt_credit)
                    && self.mesh.outbound.get(s).is_some_and(Outbound::has_room)
            })
    }

    fn forward_receipts(&mut self, user: usize) {
        while let Some(peer) = self.receiver_peer(user) {
            let Some(receipt) = self.outbox.get_mut(user).and_then(VecDeque::pop_front) else {
                return;
            };
            self.ensure_full(receipt.id);
            let origin = self.record(receipt.id).map(ReceiptOrigin::of);
            let slot = user * self.mesh.shards + peer;
            MeshState::adjust(&mut self.mesh.receipts_in_transit, slot, true);
            self.mesh.next_peer = (peer + 1) % self.mesh.shards;
            self.mesh
                .send(peer, MeshMsg::ClientReceipt { receipt, origin });
        }
    }

    /// Up to one batch of messages queued for `peer`.
    pub fn take_outbound(&mut self, peer: usize) -> crate::mesh::Batch {
        self.mesh
            .outbound
            .get_mut(peer)
            .map(Outbound::take_batch)
            .unwrap_or_default()
    }

    /// Polls the doorbell of the sender task of `peer`.
    pub fn poll_outbound_kick(
        &mut self,
        peer: usize,
        cx: &std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        match self.mesh.outbound.get_mut(peer) {
            Some(out) if !out.is_empty() => std::task::Poll::Ready(()),
            Some(out) => out.kick.poll_take(cx),
            None => std::task::Poll::Pending,
        }
    }

    /// Polls the forwarder's doorbell.
    pub fn poll_forward_kick(&mut self, cx: &std::task::Context<'_>) -> std::task::Poll<()> {
        self.mesh.forward_kick.poll_take(cx)
    }

    /// Polls the acker's doorbell.
    pub fn poll_ack_kick(&mut self, cx: &std::task::Context<'_>) -> std::task::Poll<()> {
        self.mesh.ack_kick.poll_take(cx)
    }

    /// Rings the forwarder (periodic housekeeping: other shards' binds and sessions come
    /// and go without telling this one).
    pub fn kick_forwarder(&mut self) {
        self.mesh.forward_kick.kick();
    }

    /// Sends the resolutions of receipts applied here whose records are now durable;
    /// returns the LSN the next one waits for.
    pub fn release_durable_acks(&mut self) -> Option<Lsn> {
        while let Some(&(lsn, ticket)) = self.mesh.acks_after_sync.front() {
            if !self.is_durable(lsn) {
                return Some(lsn);
            }
            self.mesh.acks_after_sync.pop_front();
            self.finish_ticket(ticket, ParkOutcome::Resolved);
        }
        None
    }

    /// Messages waiting for peers, over all peers (a gauge for tests and statistics).
    pub fn outbound_len(&self) -> usize {
        self.mesh.outbound.iter().map(Outbound::len).sum()
    }
}
