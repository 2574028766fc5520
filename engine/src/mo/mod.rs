//! Mobile-originated messages: routed by destination to a user, durable in the WAL of the
//! shard that received them, delivered to the user's SMPP receivers or HTTP callback.
//!
//! # Design
//! - **Door.** An MO (a deliver_sm that is not a receipt, or a data_sm) from an upstream
//!   bind is routed by its destination (`[[routes.mo]]`, longest prefix). No route: the
//!   SMSC gets the connector's `mo_unrouted` answer, ESME_RX_P_APPN by default. SMPP 3.4
//!   §5.1.3 leaves the SMSC to retry after ESME_RX_T_APPN and to give up after
//!   ESME_RX_P_APPN; a destination no route covers stays unroutable however often it is
//!   retried, so retrying only fills the SMSC's queue (the operator who is adding a route
//!   can choose `transient` for the while). A user already holding its bound of MOs on
//!   the shard (`receipts_pending_max`, the user's or the node's) gets ESME_RMSGQFUL, so
//!   the SMSC keeps it and retries later: refused at the door, never dropped.
//! - **Durable before answered.** The MO is one [`MoRecord`] appended to the receiving
//!   shard's WAL; the upstream's deliver_sm_resp / data_sm_resp goes out only once that
//!   record is durable (the receipts' rule, carried by the bind in `crate::connector`).
//!   The record is marked done when its user took it, and replayed at start while live.
//! - **To SMPP clients.** A user without `mo_url` gets its MOs as deliver_sm on one of
//!   its receiver or transceiver binds, part by part as received (UDH or SAR TLVs pass
//!   through; the client reassembles). The shard that received the MO owns it; with no
//!   receiving session of the user there, it goes over the mesh to a shard that has one
//!   (within the receipts' credit per user and peer); the client's deliver_sm_resp comes
//!   back to the owner, which marks the record done. A session that closes puts what it
//!   held back in its queue, or back to its owner.
//! - **To HTTP.** A user with `mo_url` gets every MO as a callback through the shard's
//!   `tern_http::Dispatcher` (its retries, backoff and per-host bounds). Concatenated
//!   parts are reassembled first with [`tern_sms::Reassembler`] (bounded: groups, bytes,
//!   timeout); one callback carries the whole message, and its acknowledgement marks
//!   every part done. A group released incomplete (timeout, eviction, a reused reference)
//!   is delivered with the parts it has. A callback the dispatcher gave up on stays owed
//!   and is offered again.
//! - **Bounds.** Per user and shard, at most `receipts_pending_max` MOs held (queued,
//!   in flight, in reassembly); the reassembler's own bounds; in-flight callbacks are
//!   bounded by the dispatcher's queue; MOs handed to another shard by the credit.
//!
//! # Known gaps
//! - A duplicate part (same reference and sequence) for an HTTP user is taken as the
//!   SMSC's resend: its record is marked done and only the first copy is delivered.
//! - A user routed MOs before a reload that removes it: its recovered MOs are dropped
//!   with a warning (there is nobody to give them to).

pub mod callback;
mod parts;

use std::collections::{HashMap, VecDeque};
use std::task::Waker;

use tern_http::{CallbackMethod, CallbackSpec, CallbackStyle, MoNotice, ReceiptRequest};
use tern_sms::{InsertStatus, Partial, Reassembler, ReassemblyConfig};
use tern_wal::Lsn;

use crate::config::{Config, MoFormat, MoMethod, UserConfig};
use crate::message::{MessageId, MoRecord};

pub use parts::{ConcatRef, LinkText, MoContent, content_of};

/// The origin of a concatenation reference: the connector and the handset's number.
type Origin = (u16, Vec<u8>);

/// One MO this shard owns and has not yet seen taken.
#[derive(Debug)]
struct Held {
    lsn: Lsn,
    record: MoRecord,
}

/// One callback owed: the MO ids it stands for (every part of a reassembled message)
/// and what it says.
#[derive(Debug, Clone)]
pub struct MoCallback {
    /// The user it goes to.
    pub user: u32,
    /// The MO records it acknowledges.
    pub ids: Vec<MessageId>,
    /// What it says.
    pub notice: MoNotice,
}

/// What became of an MO given to the book.
#[derive(Debug, Default)]
pub struct Placed {
    /// Records that are done at once (a duplicate part): mark them done.
    pub done: Vec<Lsn>,
    /// True when a callback became ready (wake the pump).
    pub callback_ready: bool,
    /// True when an MO waits for an SMPP session (wake sessions or forward it).
    pub smpp_ready: bool,
}

/// The MOs of one shard: held records, per-user queues, reassembly and callbacks owed.
pub struct MoBook {
    held: HashMap<MessageId, Held>,
    /// MOs held per user (the bound counts these).
    pending: Vec<u32>,
    pending_max: Vec<u32>,
    /// Where each user's MOs go: `Some` for an HTTP callback.
    specs: Vec<Option<CallbackSpec>>,
    /// MOs of this shard waiting for an SMPP session, per user.
    smpp: Vec<VecDeque<MessageId>>,
    /// MOs other shards handed to this shard's sessions, per user, and their records.
    guests: Vec<VecDeque<MessageId>>,
    guest_records: HashMap<MessageId, MoRecord>,
    /// MOs this shard handed to shard s for user u: [u * shards + s].
    in_transit: Vec<u32>,
    shards: usize,
    reassembler: Reassembler<Origin>,
    groups: HashMap<(Origin, u16), Vec<MessageId>>,
    callbacks: VecDeque<MoCallback>,
    callbacks_in_flight: HashMap<u64, MoCallback>,
    next_token: u64,
    pump: Option<Waker>,
    next_sequence: u64,
    /// Per connector: how its text is read, and its name.
    connectors: Vec<parts::LinkText>,
    connector_names: Vec<String>,
    /// User names, for notices.
    users: Vec<String>,
}

/// The callback spec of a user's `mo_url`, `mo_method` and `mo_format`.
pub fn user_spec(user: &UserConfig) -> Option<CallbackSpec> {
    let url = user.mo_url.clone()?;
    let method = match user.mo_method {
        MoMethod::Get => CallbackMethod::Get,
        MoMethod::Post => CallbackMethod::Post,
    };
    let style = match user.mo_format {
        MoFormat::Json => CallbackStyle::Json,
        MoFormat::Form => CallbackStyle::Form,
        MoFormat::Kannel => CallbackStyle::Kannel { mask: 0 },
        MoFormat::Jasmin => CallbackStyle::Jasmin { level: 0 },
    };
    Some(CallbackSpec {
        url,
        method,
        style,
        receipts: ReceiptRequest::default(),
    })
}

impl MoBook {
    /// An empty book for `config` on a node of `shards` shards.
    pub fn new(config: &Config, shards: usize) -> MoBook {
        let users = config.users.len();
        let shards = shards.max(1);
        MoBook {
            held: HashMap::new(),
            pending: vec![0; users],
            pending_max: config
                .users
                .iter()
                .map(|u| {
                    u.receipts_pending_max
                        .unwrap_or(config.limits.receipts_pending_max)
                })
                .collect(),
            specs: config.users.iter().map(user_spec).collect(),
            smpp: (0..users).map(|_| VecDeque::new()).collect(),
            guests: (0..users).map(|_| VecDeque::new()).collect(),
            guest_records: HashMap::new(),
            in_transit: vec![0; users * shards],
            shards,
            reassembler: Reassembler::new(ReassemblyConfig::default()),
            groups: HashMap::new(),
            callbacks: VecDeque::new(),
            callbacks_in_flight: HashMap::new(),
            next_token: 0,
            pump: None,
            next_sequence: 0,
            connectors: config.connectors.iter().map(parts::LinkText::of).collect(),
            connector_names: config.connectors.iter().map(|c| c.name.clone()).collect(),
            users: config.users.iter().map(|u| u.name.clone()).collect(),
        }
    }

    /// The sequence of the next MO id (with [`crate::message::MO_SEQUENCE_BIT`] set).
    pub fn next_sequence(&mut self) -> u64 {
        let sequence = crate::message::MO_SEQUENCE_BIT | self.next_sequence;
        self.next_sequence += 1;
        sequence
    }

    /// Notes a recovered id, so new ids come after it.
    pub fn recovered_id(&mut self, id: MessageId) {
        let sequence = id.sequence() & !crate::message::MO_SEQUENCE_BIT;
        self.next_sequence = self.next_sequence.max(sequence + 1);
    }

    /// True when `user` exists and holds fewer MOs on this shard than its bound.
    pub fn has_room(&self, user: usize) -> bool {
        match (self.pending.get(user), self.pending_max.get(user)) {
            (Some(n), Some(max)) => n < max,
            _ => false,
        }
    }

    /// True when `user`'s MOs go to an HTTP callback.
    pub fn is_http(&self, user: usize) -> bool {
        self.specs.get(user).is_some_and(Option::is_some)
    }

    /// The callback spec of `user`.
    pub fn spec(&self, user: usize) -> Option<&CallbackSpec> {
        self.specs.get(user)?.as_ref()
    }

    /// MOs held for `user` on this shard.
    pub fn pending(&self, user: usize) -> u32 {
        self.pending.get(user).copied().unwrap_or(0)
    }

    /// Takes `record` (logged at `lsn`) and queues it for its user: an SMPP queue, or
    /// reassembly and a callback. `notice` builds the callback's notice from the parts.
    pub fn place(&mut self, record: MoRecord, lsn: Lsn, now_ms: u64) -> Placed {
        let user = record.user.0 as usize;
        let id = record.id;
        let mut placed = Placed::default();
        if let Some(n) = self.pending.get_mut(user) {
            *n += 1;
        }
        let http = self.is_http(user);
        let content = http.then(|| self.content(&record));
        self.held.insert(id, Held { lsn, record });
        let Some(content) = content else {
            if let Some(queue) = self.smpp.get_mut(user) {
                queue.push_back(id);
                placed.smpp_ready = true;
            }
            return placed;
        };
        let Some(concat) = content.concat else {
            self.push_callback(user, vec![id], vec![content.units]);
            placed.callback_ready = true;
            return placed;
        };
        let origin: Origin = (
            self.held.get(&id).map_or(0, |h| h.record.connector.0),
            self.held
                .get(&id)
                .map(|h| h.record.source.clone())
                .unwrap_or_default(),
        );
        let outcome = self.reassembler.insert(
            origin.clone(),
            concat.reference,
            concat.total,
            concat.seq,
            &content.units,
            now_ms,
        );
        for partial in outcome.released {
            placed.callback_ready |= self.release_partial(partial);
        }
        let key = (origin, concat.reference);
        match outcome.status {
            InsertStatus::Complete(done) => {
                let mut ids = self.groups.remove(&key).unwrap_or_default();
                ids.push(id);
                self.push_callback(user, ids, done.parts);
                placed.callback_ready = true;
            }
            InsertStatus::Pending { .. } => self.groups.entry(key).or_default().push(id),
            InsertStatus::Duplicate => {
                if let Some(lsn) = self.forget(id) {
                    placed.done.push(lsn);
                }
            }
            InsertStatus::Invalid(_) => {
                // Not a part we can place: delivered on its own, as received.
                self.push_callback(user, vec![id], vec![content.units]);
                placed.callback_ready = true;
            }
        }
        placed
    }

    fn release_partial(&mut self, partial: Partial<Origin>) -> bool {
        let key = (partial.origin, partial.reference);
        let ids = self.groups.remove(&key).unwrap_or_default();
        let Some(user) = ids
            .first()
            .and_then(|id| self.held.get(id))
            .map(|h| h.record.user.0 as usize)
        else {
            return false;
        };
        tracing::warn!(reason = ?partial.reason, "MO delivered with parts missing");
        let units: Vec<Vec<u8>> = partial.parts.into_iter().map(|(_, data)| data).collect();
        self.push_callback(user, ids, units);
        true
    }

    fn push_callback(&mut self, user: usize, ids: Vec<MessageId>, units: Vec<Vec<u8>>) {
        let notice = self.notice(&ids, &units);
        self.callbacks.push_back(MoCallback {
            user: u32::try_from(user).unwrap_or(u32::MAX),
            ids,
            notice,
        });
        if let Some(w) = self.pump.take() {
            w.wake();
        }
    }

    fn content(&self, record: &MoRecord) -> MoContent {
        let link = self.connectors.get(usize::from(record.connector.0));
        parts::content_of(record, link.copied().unwrap_or_default())
    }

    /// The notice of the MO made of `ids` (in part order) whose user data is `units`.
    fn notice(&self, ids: &[MessageId], units: &[Vec<u8>]) -> MoNotice {
        let first = ids
            .first()
            .and_then(|id| self.held.get(id))
            .map(|h| &h.record);
        let connector = first
            .and_then(|r| self.connector_name(r.connector.0))
            .unwrap_or_default();
        let link = first
            .and_then(|r| self.connectors.get(usize::from(r.connector.0)))
            .copied()
            .unwrap_or_default();
        let encoding = first.map(|r| parts::content_of(r, link).encoding);
        let bytes: Vec<u8> = units.concat();
        let text = match encoding {
            Some(encoding) if encoding != tern_sms::Encoding::Binary => {
                tern_sms::encoding::decode(encoding, &bytes)
            }
            _ => String::new(),
        };
        let digits = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        MoNotice {
            id: ids.first().map(|id| id.to_string()).unwrap_or_default(),
            from: first.map(|r| digits(&r.source)).unwrap_or_default(),
            to: first.map(|r| digits(&r.destination)).unwrap_or_default(),
            text,
            bytes,
            data_coding: first.map_or(0, |r| r.data_coding),
            connector,
            received_at_ms: first.map_or(0, |r| r.received_at_ms),
        }
    }

    fn connector_name(&self, connector: u16) -> Option<String> {
        self.connector_names.get(usize::from(connector)).cloned()
    }

    /// The name of user `user`, for logs and notices.
    pub fn user_name(&self, user: usize) -> &str {
        self.users.get(user).map_or("", String::as_str)
    }

    /// Releases groups whose reassembly timed out; true if a callback became ready.
    pub fn expire(&mut self, now_ms: u64) -> bool {
        let mut ready = false;
        while let Some(partial) = self.reassembler.poll_expired(now_ms) {
            ready |= self.release_partial(partial);
        }
        ready
    }

    /// Forgets a record this shard owns (its user took it); returns its LSN to mark done.
    pub fn forget(&mut self, id: MessageId) -> Option<Lsn> {
        let held = self.held.remove(&id)?;
        if let Some(n) = self.pending.get_mut(held.record.user.0 as usize) {
            *n = n.saturating_sub(1);
        }
        Some(held.lsn)
    }

    /// The WAL copied MO `id`'s record from `old` to `new` (compaction): point at the
    /// copy. False if this shard holds no record of `id` at `old`.
    pub fn relocated(&mut self, id: MessageId, old: Lsn, new: Lsn) -> bool {
        match self.held.get_mut(&id) {
            Some(held) if held.lsn == old => {
                held.lsn = new;
                true
            }
            _ => false,
        }
    }

    /// The record of an MO this shard owns or holds for another shard.
    pub fn record(&self, id: MessageId) -> Option<&MoRecord> {
        self.held
            .get(&id)
            .map(|h| &h.record)
            .or_else(|| self.guest_records.get(&id))
    }

    /// The next MO for an SMPP session of `user`: this shard's own first, then guests.
    pub fn pop_smpp(&mut self, user: usize) -> Option<MessageId> {
        if let Some(id) = self.smpp.get_mut(user)?.pop_front() {
            return Some(id);
        }
        self.guests.get_mut(user)?.pop_front()
    }

    /// The next MO of this shard for `user` to hand to another shard.
    pub fn pop_own_smpp(&mut self, user: usize) -> Option<MessageId> {
        self.smpp.get_mut(user)?.pop_front()
    }

    /// True when MOs of this shard wait for an SMPP session of `user`.
    pub fn smpp_waiting(&self, user: usize) -> bool {
        self.smpp.get(user).is_some_and(|q| !q.is_empty())
    }

    /// Puts back an MO of this shard at the front of `user`'s queue.
    pub fn unpop_own(&mut self, user: usize, id: MessageId) {
        if self.held.contains_key(&id)
            && let Some(queue) = self.smpp.get_mut(user)
        {
            queue.push_front(id);
        }
    }

    /// Takes an MO another shard handed over.
    pub fn take_guest(&mut self, record: MoRecord) {
        let user = record.user.0 as usize;
        if let Some(queue) = self.guests.get_mut(user) {
            queue.push_back(record.id);
            self.guest_records.insert(record.id, record);
        }
    }

    /// Puts back a guest MO at the front of its user's queue.
    pub fn unpop_guest(&mut self, user: usize, id: MessageId) {
        if self.guest_records.contains_key(&id)
            && let Some(queue) = self.guests.get_mut(user)
        {
            queue.push_front(id);
        }
    }

    /// Forgets a guest MO (taken, or going back to its owner); returns its record.
    pub fn drop_guest(&mut self, id: MessageId) -> Option<MoRecord> {
        self.guest_records.remove(&id)
    }

    /// Every guest MO of `user` queued here (its last session closed).
    pub fn drain_guests(&mut self, user: usize) -> Vec<MoRecord> {
        let ids: Vec<MessageId> = self
            .guests
            .get_mut(user)
            .map(|q| q.drain(..).collect())
            .unwrap_or_default();
        ids.into_iter()
            .filter_map(|id| self.guest_records.remove(&id))
            .collect()
    }

    /// MOs in transit to `peer` for `user`.
    pub fn in_transit(&self, user: usize, peer: usize) -> u32 {
        self.in_transit
            .get(user * self.shards + peer)
            .copied()
            .unwrap_or(0)
    }

    /// One more (`up`) or one fewer MO in transit to `peer` for `user`.
    pub fn adjust_transit(&mut self, user: usize, peer: usize, up: bool) {
        if let Some(n) = self.in_transit.get_mut(user * self.shards + peer) {
            *n = if up { *n + 1 } else { n.saturating_sub(1) };
        }
    }

    /// The next callback to dispatch and its token; it stays in flight until its outcome.
    pub fn next_callback(&mut self) -> Option<(u64, MoCallback)> {
        let callback = self.callbacks.pop_front()?;
        let token = callback::MO_TOKEN_BIT | (self.next_token & !callback::MO_TOKEN_BIT);
        self.next_token = self.next_token.wrapping_add(1);
        self.callbacks_in_flight.insert(token, callback.clone());
        Some((token, callback))
    }

    /// A callback could not be dispatched now (or was given up): offered again later.
    pub fn callback_unsent(&mut self, token: u64) {
        if let Some(callback) = self.callbacks_in_flight.remove(&token) {
            self.callbacks.push_back(callback);
            if let Some(w) = self.pump.take() {
                w.wake();
            }
        }
    }

    /// A callback was acknowledged: the ids it stands for.
    pub fn callback_acknowledged(&mut self, token: u64) -> Option<MoCallback> {
        self.callbacks_in_flight.remove(&token)
    }

    /// Remembers the pump's waker (woken when a callback becomes ready).
    pub fn register_pump(&mut self, waker: &Waker) {
        self.pump = Some(waker.clone());
    }

    /// Callbacks waiting to be dispatched.
    pub fn callbacks_queued(&self) -> usize {
        self.callbacks.len()
    }
}

/// The fields of an MO deliver_sm or data_sm, borrowed from the PDU.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    /// service_type.
    pub service_type: &'a [u8],
    /// TON of the handset.
    pub source_ton: u8,
    /// NPI of the handset.
    pub source_npi: u8,
    /// The handset.
    pub source: &'a [u8],
    /// TON of the number it was sent to.
    pub dest_ton: u8,
    /// NPI of the number it was sent to.
    pub dest_npi: u8,
    /// The number it was sent to.
    pub destination: &'a [u8],
    /// esm_class.
    pub esm_class: u8,
    /// protocol_id (0 for data_sm).
    pub protocol_id: u8,
    /// priority_flag (0 for data_sm).
    pub priority: u8,
    /// data_coding.
    pub data_coding: u8,
    /// short_message (empty for data_sm).
    pub short_message: &'a [u8],
    /// The TLVs as received.
    pub tlvs: &'a [u8],
}

impl<'a> Inbound<'a> {
    /// The MO fields of a deliver_sm or data_sm body; `None` for any other body.
    pub fn of(body: &'a tern_smpp::Body<'a>) -> Option<Inbound<'a>> {
        match body {
            tern_smpp::Body::DeliverSm(sm) => Some(Inbound {
                service_type: &sm.service_type,
                source_ton: sm.source_addr_ton,
                source_npi: sm.source_addr_npi,
                source: &sm.source_addr,
                dest_ton: sm.dest_addr_ton,
                dest_npi: sm.dest_addr_npi,
                destination: &sm.destination_addr,
                esm_class: sm.esm_class,
                protocol_id: sm.protocol_id,
                priority: sm.priority_flag,
                data_coding: sm.data_coding,
                short_message: &sm.short_message,
                tlvs: sm.tlvs.as_bytes(),
            }),
            tern_smpp::Body::DataSm(sm) => Some(Inbound {
                service_type: &sm.service_type,
                source_ton: sm.source_addr_ton,
                source_npi: sm.source_addr_npi,
                source: &sm.source_addr,
                dest_ton: sm.dest_addr_ton,
                dest_npi: sm.dest_addr_npi,
                destination: &sm.destination_addr,
                esm_class: sm.esm_class,
                protocol_id: 0,
                priority: 0,
                data_coding: sm.data_coding,
                short_message: &[],
                tlvs: sm.tlvs.as_bytes(),
            }),
            _ => None,
        }
    }
}
