//! Client sessions: the SMSC side of SMPP, where ESMEs bind, submit and get receipts.
//!
//! A [`ClientConn`] is the [`tern_smpp_io::Handler`] of one accepted connection. A
//! submit_sm or data_sm is routed, logged as Accepted in the shard's WAL, and answered
//! only once that record is durable: the answers wait in `awaiting` (bounded by the
//! session's inbound window, so a slow disk stops the reading, not the memory), and one
//! watcher task per batch wakes the connection when the WAL's durable LSN passes them.
//! A submit refused for overload (ESME_RMSGQFUL: the route's queue, the held messages or
//! the WAL is full; ESME_RTHROTTLED: the user's rate) also stops the reading, for
//! `smpp.overload_pause_ms`: a client with hundreds of submits queued behind it would
//! otherwise get as many refusals at once and send them all again (1.7 M refusals in a
//! 10 s closed loop with a 512 window, 256 with the pause).
//!
//! Receivers and transceivers take receipts from the user's outbox, under the window,
//! then the MOs routed to the user ([`crate::mo`]): each part as a deliver_sm with the
//! MO's fields, its record marked done on the client's deliver_sm_resp OK. A
//! message_payload too long for the route's first connector is split there ([`split`]).

mod login;
pub mod split;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use tern_smpp::session::{BindKind as SmppBindKind, CloseReason};
use tern_smpp::tlv::Tlvs;
use tern_smpp::{
    Bind, Body, CommandId, CommandStatus, EsmClass, Pdu, RegisteredDelivery, SmResp, SmppTime,
};
use tern_smpp_io::{BindVerdict, Handler, Link, Lost, Produce};
use tern_wal::{Lsn, WalError};

use crate::config::BindKind;
use crate::lifecycle::{ClientReceipt, Event};
use crate::message::{
    Address, Content, MessageId, MessageRecord, Route, SessionKind, UserId as RecordUserId,
};
use crate::router::MtQuery;
use crate::shard::{AcceptError, Core, CoreRef, unix_now_ms};
use crate::users::{AuthCache, Login, UserId};

/// A bound client's answer that waits for its record to be durable.
struct Awaiting {
    lsn: Lsn,
    sequence_number: u32,
    id: MessageId,
    command: CommandId,
}

/// One client connection's handler.
pub struct ClientConn {
    core: CoreRef,
    auth: Rc<RefCell<AuthCache>>,
    user: Option<UserId>,
    receives: bool,
    /// True while this session counts as one of its user's receiving sessions.
    counted_receiver: bool,
    awaiting: VecDeque<Awaiting>,
    watching: Rc<RefCell<WatchState>>,
    in_flight: HashMap<u64, ClientReceipt>,
    /// MO deliver_sm sent and not answered yet, by token (the same counter as receipts).
    mo_in_flight: HashMap<u64, MessageId>,
    next_token: u64,
    interface_version: u8,
    scratch: Vec<u8>,
    tlv_scratch: Vec<u8>,
    /// A bind whose password check runs off the shard thread.
    pending_login: Option<login::PendingLogin>,
    /// Reading stops until then after a refusal for overload (`smpp.overload_pause_ms`).
    read_paused_until: Option<Instant>,
}

/// The connection's waker and the highest LSN a watcher task already waits for.
#[derive(Default)]
struct WatchState {
    waker: Option<Waker>,
    watched: Option<Lsn>,
}

impl ClientConn {
    /// Starts the pending login's Argon2 check if a slot is free (or finds it remembered).
    fn start_login(&mut self) {
        let snapshot = std::sync::Arc::clone(&self.core.borrow().snapshot);
        let watching = Rc::clone(&self.watching);
        let Some(pending) = self.pending_login.as_mut() else {
            return;
        };
        let Some(user) = snapshot.users.get(pending.user) else {
            return;
        };
        if self
            .auth
            .borrow()
            .is_remembered(user, &pending.password, unix_now_ms())
        {
            // Another bind verified the same login meanwhile.
            pending.result = Some(Rc::new(std::cell::Cell::new(Some(true))));
            return;
        }
        pending.try_start(user.password_phc(), move || {
            if let Some(w) = &watching.borrow().waker {
                w.wake_by_ref();
            }
        });
    }

    /// Answers a bind whose password check ended.
    fn finish_login(&mut self, pending: login::PendingLogin, verified: bool) -> CommandStatus {
        let snapshot = std::sync::Arc::clone(&self.core.borrow().snapshot);
        let Some(user) = snapshot.users.get(pending.user) else {
            return CommandStatus::ESME_RBINDFAIL;
        };
        if !verified {
            tracing::info!(user = user.name(), "bind refused: wrong password");
            return CommandStatus::ESME_RBINDFAIL;
        }
        self.auth
            .borrow_mut()
            .remember_login(user, &pending.password, unix_now_ms());
        if !user.allows(config_kind(pending.kind)) {
            tracing::info!(user = user.name(), "bind refused: kind not allowed");
            return CommandStatus::ESME_RBINDFAIL;
        }
        self.user = Some(pending.user);
        self.receives = pending.kind != SmppBindKind::Transmitter;
        self.interface_version = pending.interface_version;
        CommandStatus::ESME_ROK
    }

    /// A handler for a freshly accepted connection.
    pub fn new(core: CoreRef, auth: Rc<RefCell<AuthCache>>) -> ClientConn {
        ClientConn {
            core,
            auth,
            user: None,
            receives: false,
            counted_receiver: false,
            awaiting: VecDeque::new(),
            watching: Rc::default(),
            in_flight: HashMap::new(),
            mo_in_flight: HashMap::new(),
            next_token: 0,
            interface_version: tern_smpp::INTERFACE_VERSION_34,
            scratch: Vec::new(),
            tlv_scratch: Vec::new(),
            pending_login: None,
            read_paused_until: None,
        }
    }

    fn on_submit(&mut self, link: &mut Link<'_>, seq: u32, pdu: &Pdu<'_>, now: Instant) {
        let command = pdu.command_id();
        let (status, accepted) = match self.build_record(pdu) {
            Ok(record) => {
                let id = record.id;
                match self.core.borrow_mut().accept(record) {
                    Ok(lsn) => (CommandStatus::ESME_ROK, Some((lsn, id))),
                    Err(AcceptError::QueueFull | AcceptError::Wal(WalError::Full { .. })) => {
                        (CommandStatus::ESME_RMSGQFUL, None)
                    }
                    Err(AcceptError::Throttled) => (CommandStatus::ESME_RTHROTTLED, None),
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        (CommandStatus::ESME_RSYSERR, None)
                    }
                }
            }
            Err(status) => (status, None),
        };
        if matches!(
            status,
            CommandStatus::ESME_RMSGQFUL | CommandStatus::ESME_RTHROTTLED
        ) {
            // Overload: stop reading for a while rather than refuse every request the
            // client has queued behind this one (the "the session stops reading").
            let pause_ms = self.core.borrow().snapshot.config.smpp.overload_pause_ms;
            if pause_ms > 0 {
                self.read_paused_until = Some(now + Duration::from_millis(u64::from(pause_ms)));
                self.core.borrow().metrics.overload_pauses.inc();
            }
        }
        match accepted {
            Some((lsn, id)) => {
                self.awaiting.push_back(Awaiting {
                    lsn,
                    sequence_number: seq,
                    id,
                    command,
                });
                self.watch(lsn);
            }
            None => respond_id(link, command, seq, status, b"", now),
        }
    }

    /// Builds the Accepted record of a submit_sm or data_sm, or the status refusing it.
    fn build_record(&mut self, pdu: &Pdu<'_>) -> Result<MessageRecord<'static>, CommandStatus> {
        let user = self.user.ok_or(CommandStatus::ESME_RINVBNDSTS)?;
        let fields = SubmitFields::of(&pdu.body).ok_or(CommandStatus::ESME_RINVCMDID)?;
        let mut core = self.core.borrow_mut();
        let now_ms = unix_now_ms();
        let ttl_ms = u64::from(core.snapshot.config.limits.message_ttl_s) * 1000;
        let (schedule_at_ms, validity_deadline_ms) = message_times(&fields, now_ms, ttl_ms)?;
        let source = std::str::from_utf8(fields.source).unwrap_or("");
        let destination = std::str::from_utf8(fields.destination).unwrap_or("");
        let route = core
            .snapshot
            .router
            .route_mt(&MtQuery {
                user,
                source,
                destination,
            })
            .ok_or(CommandStatus::ESME_RINVDSTADR)?;
        let route = failover_order(&core, route.connectors())?;
        let id = core.next_id().map_err(|_| CommandStatus::ESME_RSYSERR)?;
        let first = route
            .get(0)
            .and_then(|c| core.snapshot.config.connectors.get(usize::from(c.0)));
        let (content, esm_class) = match (fields.content, first) {
            (Content::MessagePayload(payload), Some(connector)) => {
                let shaped = split::shape_payload(
                    payload.into_owned(),
                    fields.data_coding,
                    fields.esm_class,
                    connector,
                    split_reference(id),
                )
                .map_err(|_| CommandStatus::ESME_RINVMSGLEN)?;
                let udhi = if shaped.udhi { split::ESM_UDHI } else { 0 };
                (shaped.content, fields.esm_class | udhi)
            }
            (content, _) => (content, fields.esm_class),
        };
        Ok(MessageRecord {
            id,
            user: RecordUserId(user.0),
            session: SessionKind::Smpp {
                interface_version: self.interface_version,
            },
            accepted_at_ms: now_ms,
            validity_deadline_ms,
            schedule_at_ms,
            source: owned_address(fields.source_ton, fields.source_npi, fields.source),
            destination: owned_address(fields.dest_ton, fields.dest_npi, fields.destination),
            esm_class: EsmClass(esm_class),
            protocol_id: fields.protocol_id,
            priority: fields.priority,
            registered_delivery: RegisteredDelivery(fields.registered_delivery),
            data_coding: fields.data_coding,
            service_type: Cow::Owned(fields.service_type.to_vec()),
            client_ref: Cow::Borrowed(&[]),
            route,
            content,
            tlvs: Cow::Borrowed(&[]),
            callback: Cow::Borrowed(b""),
            idempotency_key: Cow::Borrowed(b""),
        })
    }

    /// Makes sure a watcher task wakes this connection once `lsn` is durable.
    fn watch(&mut self, lsn: Lsn) {
        let mut state = self.watching.borrow_mut();
        if state.watched.is_some() {
            // A watcher is running; the next one starts from produce() when it fires.
            return;
        }
        state.watched = Some(lsn);
        drop(state);
        let Some(durable) = self.core.borrow().durable(lsn) else {
            return;
        };
        let watching = Rc::clone(&self.watching);
        glommio::spawn_local(async move {
            let _ = durable.await;
            let mut state = watching.borrow_mut();
            state.watched = None;
            if let Some(w) = &state.waker {
                w.wake_by_ref();
            }
        })
        .detach();
    }

    /// Answers every submit whose record is durable; true if any went out.
    fn answer_durable(&mut self, link: &mut Link<'_>, now: Instant) {
        loop {
            let Some(front) = self.awaiting.front() else {
                return;
            };
            if !self.core.borrow().is_durable(front.lsn) {
                break;
            }
            let Some(a) = self.awaiting.pop_front() else {
                return;
            };
            let hex = a.id.to_hex();
            respond_id(
                link,
                a.command,
                a.sequence_number,
                CommandStatus::ESME_ROK,
                &hex,
                now,
            );
            self.core.borrow_mut().handle(a.id, Event::Durable);
        }
        if let Some(back) = self.awaiting.back().map(|a| a.lsn) {
            self.watch(back);
        }
    }

    fn send_receipts(&mut self, link: &mut Link<'_>, now: Instant) {
        let Some(user) = self.user.filter(|_| self.receives) else {
            return;
        };
        while link.can_send(CommandId::DELIVER_SM) {
            let Some(receipt) = self.core.borrow_mut().pop_receipt(user.index()) else {
                return;
            };
            // The record may be on another shard: its origin came with the receipt.
            let origin = self.core.borrow_mut().receipt_origin(receipt.id);
            crate::delivery::build_receipt_from(
                origin.as_ref(),
                &receipt,
                link.peer_accepts_tlvs(),
                &mut self.scratch,
                &mut self.tlv_scratch,
            );
            let addresses = origin.map(|o| o.addresses).unwrap_or_default();
            let body = crate::delivery::receipt_body(&addresses, &self.scratch, &self.tlv_scratch);
            let token = self.next_token;
            match link.send_request(body, token, now) {
                Ok(_) => {
                    self.next_token += 1;
                    self.in_flight.insert(token, receipt);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "receipt deliver_sm not sent");
                    self.core.borrow_mut().unpop_receipt(receipt);
                    return;
                }
            }
        }
    }

    /// Sends the MOs owed to the user under the window, part by part as received.
    fn send_mos(&mut self, link: &mut Link<'_>, now: Instant) {
        let Some(user) = self.user.filter(|_| self.receives) else {
            return;
        };
        while link.can_send(CommandId::DELIVER_SM) {
            let Some(mo) = self.core.borrow_mut().pop_mo(user.index()) else {
                return;
            };
            let body = crate::delivery::mo_body(&mo, link.peer_accepts_tlvs());
            let token = self.next_token;
            match link.send_request(body, token, now) {
                Ok(_) => {
                    self.next_token += 1;
                    self.mo_in_flight.insert(token, mo.id);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "MO deliver_sm not sent");
                    self.core.borrow_mut().unpop_mo(mo.id, user.index());
                    return;
                }
            }
        }
    }

    fn on_query(&mut self, link: &mut Link<'_>, seq: u32, pdu: &Pdu<'_>, now: Instant) {
        let Body::QuerySm(query) = &pdu.body else {
            return;
        };
        let id = std::str::from_utf8(&query.message_id)
            .ok()
            .and_then(|t| MessageId::parse(t).ok());
        let state = id.and_then(|id| self.core.borrow().state(id));
        let body = crate::delivery::query_resp(&query.message_id, state);
        let status = if state.is_some() {
            CommandStatus::ESME_ROK
        } else {
            CommandStatus::ESME_RQUERYFAIL
        };
        let _ = link.respond(seq, status, body, now);
    }
}

/// The reference that ties the parts of message `id`: its sequence's low 16 bits, so
/// consecutive messages of a shard (to the same handset, often) never share one.
pub(crate) fn split_reference(id: MessageId) -> u16 {
    u16::try_from(id.sequence() & 0xFFFF).unwrap_or(0)
}

/// The route's connectors with those that have a bind up first, so a down upstream is
/// skipped at once (failover) rather than after retries.
pub(crate) fn failover_order(
    core: &Core,
    connectors: &[crate::router::ConnectorId],
) -> Result<Route, CommandStatus> {
    let mut ids: Vec<_> = connectors
        .iter()
        .map(|c| Core::connector_id(c.index()))
        .collect();
    ids.sort_by_key(|c| !core.connector_up(usize::from(c.0)));
    ids.truncate(crate::message::ROUTE_CONNECTORS_MAX);
    Route::new(&ids).map_err(|_| CommandStatus::ESME_RSYSERR)
}

fn owned_address(ton: u8, npi: u8, digits: &[u8]) -> Address<'static> {
    Address {
        ton,
        npi,
        digits: Cow::Owned(digits.to_vec()),
    }
}

fn respond_id(
    link: &mut Link<'_>,
    command: CommandId,
    seq: u32,
    status: CommandStatus,
    id: &[u8],
    now: Instant,
) {
    let resp = SmResp {
        message_id: id.into(),
        tlvs: Tlvs::EMPTY,
    };
    let body = if command == CommandId::DATA_SM {
        Body::DataSmResp(resp)
    } else {
        Body::SubmitSmResp(resp)
    };
    if let Err(e) = link.respond(seq, status, body, now) {
        tracing::warn!(error = %e, "submit answer not sent");
    }
}

/// The fields of submit_sm and data_sm that a record needs.
struct SubmitFields<'a> {
    service_type: &'a [u8],
    source_ton: u8,
    source_npi: u8,
    source: &'a [u8],
    dest_ton: u8,
    dest_npi: u8,
    destination: &'a [u8],
    esm_class: u8,
    protocol_id: u8,
    priority: u8,
    registered_delivery: u8,
    data_coding: u8,
    content: Content<'static>,
    /// submit_sm's schedule_delivery_time (SMPP time format; empty: now).
    schedule: &'a [u8],
    /// submit_sm's validity_period (empty: the default validity).
    validity: &'a [u8],
    /// data_sm's qos_time_to_live TLV, in seconds.
    time_to_live_s: Option<u32>,
}

impl<'a> SubmitFields<'a> {
    fn of(body: &'a Body<'a>) -> Option<SubmitFields<'a>> {
        match body {
            Body::SubmitSm(sm) => {
                let content = match sm.tlvs.message_payload() {
                    Some(payload) if sm.short_message.is_empty() => {
                        Content::MessagePayload(Cow::Owned(payload.to_vec()))
                    }
                    _ => Content::ShortMessage(Cow::Owned(sm.short_message.to_vec())),
                };
                Some(SubmitFields {
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
                    registered_delivery: sm.registered_delivery,
                    data_coding: sm.data_coding,
                    content,
                    schedule: &sm.schedule_delivery_time,
                    validity: &sm.validity_period,
                    time_to_live_s: None,
                })
            }
            Body::DataSm(sm) => Some(SubmitFields {
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
                registered_delivery: sm.registered_delivery,
                data_coding: sm.data_coding,
                content: Content::MessagePayload(Cow::Owned(
                    sm.tlvs.message_payload().unwrap_or_default().to_vec(),
                )),
                schedule: b"",
                validity: b"",
                time_to_live_s: sm.tlvs.qos_time_to_live(),
            }),
            _ => None,
        }
    }
}

/// When a submit may go out and when it expires (Unix ms), from its
/// schedule_delivery_time and validity_period (absolute or relative SMPP times) or
/// data_sm's qos_time_to_live. A validity is capped at `limits.message_ttl_s`; one
/// already past is ESME_RINVEXPIRY, a malformed schedule or one at or past the validity
/// ESME_RINVSCHED.
fn message_times(
    fields: &SubmitFields<'_>,
    now_ms: u64,
    ttl_ms: u64,
) -> Result<(Option<u64>, u64), CommandStatus> {
    let now_s = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
    let unix_ms = |time: SmppTime| u64::try_from(time.to_unix_s(now_s)).unwrap_or(0) * 1000;
    let default_deadline_ms = now_ms.saturating_add(ttl_ms);
    let asked_ms = match SmppTime::parse(fields.validity) {
        Err(_) => return Err(CommandStatus::ESME_RINVEXPIRY),
        Ok(Some(time)) => Some(unix_ms(time)),
        Ok(None) => fields
            .time_to_live_s
            .map(|s| now_ms.saturating_add(u64::from(s) * 1000)),
    };
    let deadline_ms = match asked_ms {
        Some(ms) if ms <= now_ms => return Err(CommandStatus::ESME_RINVEXPIRY),
        Some(ms) => ms.min(default_deadline_ms),
        None => default_deadline_ms,
    };
    let schedule_at_ms = match SmppTime::parse(fields.schedule) {
        Err(_) => return Err(CommandStatus::ESME_RINVSCHED),
        Ok(None) => None,
        Ok(Some(time)) => Some(unix_ms(time)).filter(|&ms| ms > now_ms),
    };
    if schedule_at_ms.is_some_and(|ms| ms >= deadline_ms) {
        return Err(CommandStatus::ESME_RINVSCHED);
    }
    Ok((schedule_at_ms, deadline_ms))
}

fn config_kind(kind: SmppBindKind) -> BindKind {
    match kind {
        SmppBindKind::Transmitter => BindKind::Tx,
        SmppBindKind::Receiver => BindKind::Rx,
        SmppBindKind::Transceiver => BindKind::Trx,
    }
}

impl Handler for ClientConn {
    fn on_bind(&mut self, kind: SmppBindKind, bind: &Bind<'_>) -> BindVerdict {
        let name = std::str::from_utf8(&bind.system_id).unwrap_or("");
        let snapshot = std::sync::Arc::clone(&self.core.borrow().snapshot);
        let Some(user) = snapshot.users.lookup(name) else {
            tracing::info!(name, "bind refused: unknown user");
            return BindVerdict::Now(CommandStatus::ESME_RBINDFAIL);
        };
        let remembered = snapshot.users.get(user).is_some_and(|u| {
            self.auth
                .borrow()
                .is_remembered(u, &bind.password, unix_now_ms())
        });
        if remembered {
            return BindVerdict::Now(self.on_bind_request(kind, bind));
        }
        self.pending_login = Some(login::PendingLogin {
            kind,
            user,
            password: bind.password.to_vec(),
            interface_version: bind.interface_version,
            result: None,
        });
        self.start_login();
        BindVerdict::Pending
    }

    fn bind_verdict(&mut self) -> Option<CommandStatus> {
        let pending = self.pending_login.as_ref()?;
        let verified = match pending.verified() {
            Some(verified) => verified,
            None => {
                if pending.result.is_none() {
                    self.start_login();
                }
                return None;
            }
        };
        let pending = self.pending_login.take()?;
        Some(self.finish_login(pending, verified))
    }

    fn on_bind_request(&mut self, kind: SmppBindKind, bind: &Bind<'_>) -> CommandStatus {
        let core = self.core.borrow();
        let login = Login {
            name: std::str::from_utf8(&bind.system_id).unwrap_or(""),
            password: &bind.password,
            bind: config_kind(kind),
        };
        // A cache miss costs one Argon2 verification on this thread; see the crate docs.
        let result =
            core.snapshot
                .users
                .authenticate(&mut self.auth.borrow_mut(), login, unix_now_ms());
        match result {
            Ok(user) => {
                self.user = Some(user);
                self.receives = kind != SmppBindKind::Transmitter;
                self.interface_version = bind.interface_version;
                CommandStatus::ESME_ROK
            }
            Err(e) => {
                tracing::info!(error = %e, "bind refused");
                CommandStatus::ESME_RBINDFAIL
            }
        }
    }

    fn on_bound(&mut self, _kind: SmppBindKind, _now: Instant) {
        if let Some(user) = self
            .user
            .filter(|_| self.receives && !self.counted_receiver)
        {
            self.counted_receiver = true;
            self.core.borrow_mut().client_receiver(user.index(), true);
        }
        let waker = self.watching.borrow().waker.clone();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn on_request(&mut self, link: &mut Link<'_>, seq: u32, pdu: &Pdu<'_>, now: Instant) {
        match pdu.command_id() {
            CommandId::SUBMIT_SM | CommandId::DATA_SM => self.on_submit(link, seq, pdu, now),
            CommandId::QUERY_SM => self.on_query(link, seq, pdu, now),
            _ => {
                let _ = link.respond_status(seq, CommandStatus::ESME_RINVCMDID, now);
            }
        }
    }

    fn on_completed(
        &mut self,
        _link: &mut Link<'_>,
        token: u64,
        status: CommandStatus,
        _pdu: Option<&Pdu<'_>>,
        _now: Instant,
    ) {
        if let Some(id) = self.mo_in_flight.remove(&token) {
            let user = self.user.map_or(usize::MAX, |u| u.index());
            let mut core = self.core.borrow_mut();
            if status == CommandStatus::ESME_ROK {
                core.mo_acknowledged(id, user);
            } else {
                // Any refusal is taken as "not now": the MO stays owed (at-least-once).
                core.unpop_mo(id, user);
            }
            return;
        }
        let Some(receipt) = self.in_flight.remove(&token) else {
            return;
        };
        let mut core = self.core.borrow_mut();
        if status == CommandStatus::ESME_ROK {
            core.client_acknowledged(receipt);
        } else {
            core.unpop_receipt(receipt);
        }
    }

    fn on_lost(&mut self, token: u64, _lost: Lost, _now: Instant) {
        if let Some(id) = self.mo_in_flight.remove(&token) {
            let user = self.user.map_or(usize::MAX, |u| u.index());
            self.core.borrow_mut().unpop_mo(id, user);
        }
        if let Some(receipt) = self.in_flight.remove(&token) {
            self.core.borrow_mut().unpop_receipt(receipt);
        }
    }

    fn produce(&mut self, link: &mut Link<'_>, now: Instant) -> Produce {
        if self.pending_login.is_some() {
            // Binding: look again soon (a verification slot may free up).
            return Produce::Continue(Some(login::PendingLogin::poll_at(now)));
        }
        self.answer_durable(link, now);
        if self.core.borrow().stopping && self.awaiting.is_empty() {
            return Produce::Unbind;
        }
        self.send_receipts(link, now);
        self.send_mos(link, now);
        Produce::Continue(None)
    }

    fn read_paused_until(&mut self, now: Instant) -> Option<Instant> {
        if self.read_paused_until.is_some_and(|until| until <= now) {
            self.read_paused_until = None;
        }
        self.read_paused_until
    }

    fn register_waker(&mut self, waker: &Waker) {
        let mut state = self.watching.borrow_mut();
        if !state.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            state.waker = Some(waker.clone());
        }
        self.core.borrow_mut().register_client_waker(waker);
    }

    fn on_closed(&mut self, _reason: Option<CloseReason>) {
        let mut core = self.core.borrow_mut();
        if let Some(waker) = self.watching.borrow_mut().waker.take() {
            core.unregister_client_waker(&waker);
        }
        for (_, receipt) in self.in_flight.drain() {
            core.unpop_receipt(receipt);
        }
        let user = self.user.map_or(usize::MAX, |u| u.index());
        for (_, id) in self.mo_in_flight.drain() {
            core.unpop_mo(id, user);
        }
        if let Some(user) = self.user.filter(|_| self.counted_receiver) {
            self.counted_receiver = false;
            // After the unpops: receipts handed over by other shards go back if no
            // session of the user is left here.
            core.client_receiver(user.index(), false);
        }
        // Unanswered submits stay accepted: their records are in the WAL, and the client,
        // which never got an id, may resubmit (at-least-once).
        for a in self.awaiting.drain(..) {
            if core.is_durable(a.lsn) {
                core.handle(a.id, Event::Durable);
            } else {
                let id = a.id;
                let Some(durable) = core.durable(a.lsn) else {
                    continue;
                };
                let weak = Rc::downgrade(&self.core);
                glommio::spawn_local(async move {
                    if durable.await.is_ok()
                        && let Some(core) = weak.upgrade()
                    {
                        core.borrow_mut().handle(id, Event::Durable);
                    }
                })
                .detach();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_700_000_000_000;
    const TTL_MS: u64 = 48 * 3_600_000;

    fn fields<'a>(schedule: &'a [u8], validity: &'a [u8], ttl_s: Option<u32>) -> SubmitFields<'a> {
        SubmitFields {
            service_type: b"",
            source_ton: 0,
            source_npi: 0,
            source: b"",
            dest_ton: 0,
            dest_npi: 0,
            destination: b"",
            esm_class: 0,
            protocol_id: 0,
            priority: 0,
            registered_delivery: 0,
            data_coding: 0,
            content: Content::ShortMessage(Cow::Borrowed(b"")),
            schedule,
            validity,
            time_to_live_s: ttl_s,
        }
    }

    fn times(f: &SubmitFields<'_>) -> Result<(Option<u64>, u64), CommandStatus> {
        message_times(f, NOW_MS, TTL_MS)
    }

    #[test]
    fn no_times_mean_now_and_the_default_validity() {
        assert_eq!(times(&fields(b"", b"", None)), Ok((None, NOW_MS + TTL_MS)));
    }

    #[test]
    fn a_relative_validity_counts_from_now_and_is_capped_by_the_ttl() {
        // Two hours.
        assert_eq!(
            times(&fields(b"", b"000000020000000R", None)),
            Ok((None, NOW_MS + 2 * 3_600_000))
        );
        // A year asks more than the gateway keeps a message.
        assert_eq!(
            times(&fields(b"", b"010000000000000R", None)),
            Ok((None, NOW_MS + TTL_MS))
        );
    }

    #[test]
    fn an_absolute_validity_in_the_past_is_refused() {
        assert_eq!(
            times(&fields(b"", b"200101000000000+", None)),
            Err(CommandStatus::ESME_RINVEXPIRY)
        );
        assert_eq!(
            times(&fields(b"", b"garbage", None)),
            Err(CommandStatus::ESME_RINVEXPIRY)
        );
    }

    #[test]
    fn a_schedule_holds_the_message_and_must_come_before_its_validity() {
        assert_eq!(
            times(&fields(b"000000001000000R", b"000000020000000R", None)),
            Ok((Some(NOW_MS + 600_000), NOW_MS + 2 * 3_600_000))
        );
        assert_eq!(
            times(&fields(b"000000030000000R", b"000000020000000R", None)),
            Err(CommandStatus::ESME_RINVSCHED)
        );
        assert_eq!(
            times(&fields(b"not a time", b"", None)),
            Err(CommandStatus::ESME_RINVSCHED)
        );
        // A schedule already past means now.
        assert_eq!(
            times(&fields(b"200101000000000+", b"", None)),
            Ok((None, NOW_MS + TTL_MS))
        );
    }

    #[test]
    fn data_sm_time_to_live_sets_the_validity() {
        assert_eq!(
            times(&fields(b"", b"", Some(60))),
            Ok((None, NOW_MS + 60_000))
        );
    }
}
