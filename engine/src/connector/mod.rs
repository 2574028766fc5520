//! Upstream connectors: the ESME side of SMPP, binds to an SMSC that submit the shard's
//! queued messages under a window and a throughput limit and take receipts back.
//!
//! One task per bind ([`run_bind`]) connects, binds and runs an [`UpstreamConn`] on the
//! shared pump, and reconnects with exponential backoff (the connector's min/max) when the
//! bind is refused or lost. ID2s from submit_sm_resp and from receipts are normalised per
//! the connector's quirks so the two meet in the DLR index: a numeric format (hex or
//! decimal) becomes its decimal value, text stays byte for byte.
//!
//! An MO (deliver_sm that is not a receipt, or data_sm) goes to the core
//! ([`crate::mo`]): logged and answered OK once durable, like a receipt, or answered at
//! once with the refusal (no route, the user's bound, the WAL).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use glommio::net::TcpStream;
use glommio::timer::sleep;
use tern_smpp::session::{BindKind as SmppBindKind, CloseReason};
use tern_smpp::tlv::{Tlv, Tlvs};
use tern_smpp::{
    Bind, Body, CommandId, CommandStatus, EsmClass, MessageState, Pdu, SmResp, SubmitSm,
};
use tern_smpp_io::{ConnConfig, Handler, Link, Lost, Produce, Start};
use tern_sms::message_id::{IdRadix, parse_id};
use tern_wal::Lsn;

use crate::config::{BindKind, ConnectorConfig, IdFormat};
use crate::lifecycle::{DlrKey, Event};
use crate::message::MessageRecord;
use crate::message::{Id2, PartRef};
use crate::shard::{Core, CoreRef, MoReceived, ParkOutcome, ReceiptOutcome, SubmitJob};

/// Most submits sent in one produce turn, so one bind cannot starve the executor.
const SUBMITS_PER_TURN_MAX: usize = 256;

/// A token bucket of `rate_per_s` tokens, holding at most one second's worth.
#[derive(Debug)]
pub struct TokenBucket {
    rate_per_s: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate_per_s: u32, now: Instant) -> TokenBucket {
        let rate = f64::from(rate_per_s.max(1));
        TokenBucket {
            rate_per_s: rate,
            tokens: rate,
            at: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed_s = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed_s * self.rate_per_s).min(self.rate_per_s);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// When the next token is due.
    pub fn next_at(&self) -> Instant {
        let missing = (1.0 - self.tokens).max(0.0);
        self.at + Duration::from_secs_f64(missing / self.rate_per_s)
    }
}

/// An ID2 as `format` writes it, normalised for the DLR key: numbers as decimal digits.
pub fn normalise_id2(raw: &[u8], format: IdFormat) -> Option<Id2> {
    let text = std::str::from_utf8(raw).ok()?.trim_end_matches('\0').trim();
    let radix = match format {
        IdFormat::Text => return Id2::new(text.as_bytes()).ok(),
        IdFormat::Hex => IdRadix::Hex,
        IdFormat::Decimal => IdRadix::Decimal,
    };
    let value = parse_id(text, radix).ok()?;
    Id2::new(value.to_string().as_bytes()).ok()
}

/// What a receipt's deliver_sm_resp waits for: the SMSC forgets a receipt once it is
/// answered, so the answer goes out only when what the receipt changed is durable.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// Everything up to this LSN must be durable.
    Lsn(Lsn),
    /// A parked receipt: first its match (or its give-up), then the WAL.
    Park(u64),
}

/// A deliver_sm_resp (or, for an MO data_sm, data_sm_resp) not sent yet.
#[derive(Debug, Clone, Copy)]
struct PendingResp {
    sequence_number: u32,
    wait: Wait,
    /// The request it answers: DELIVER_SM or DATA_SM.
    command: CommandId,
}

/// The empty response body to `command` (data_sm or deliver_sm).
fn sm_resp(command: CommandId) -> Body<'static> {
    if command == CommandId::DATA_SM {
        Body::DataSmResp(SmResp::default())
    } else {
        Body::DeliverSmResp(SmResp::default())
    }
}

/// The handler of one upstream bind.
pub struct UpstreamConn {
    core: CoreRef,
    index: usize,
    config: ConnectorConfig,
    /// The snapshot generation `config` was taken from.
    generation: u64,
    bucket: TokenBucket,
    bound: bool,
    scratch: Vec<u8>,
    pending: VecDeque<PendingResp>,
    /// Entries of `pending` still waiting on a parked receipt (`Wait::Park`).
    parks_waiting: usize,
    watch: Rc<RefCell<Watch>>,
}

/// The bind's waker and whether a durability watcher task is running.
#[derive(Default)]
struct Watch {
    waker: Option<Waker>,
    running: bool,
}

impl UpstreamConn {
    /// A handler for bind of connector `index`; the bucket takes this bind's share of tps.
    pub fn new(core: CoreRef, index: usize, config: ConnectorConfig) -> UpstreamConn {
        let share = (config.tps_max / config.binds.max(1)).max(1);
        let generation = core.borrow().snapshot.generation;
        UpstreamConn {
            core,
            index,
            bucket: TokenBucket::new(share, Instant::now()),
            config,
            generation,
            bound: false,
            scratch: Vec::new(),
            pending: VecDeque::new(),
            parks_waiting: 0,
            watch: Rc::default(),
        }
    }

    /// Takes this connector's settings from a reloaded snapshot: rate, window and quirks
    /// apply from this turn on (the session's own window, fixed at bind, stays the
    /// ceiling until the next reconnect).
    fn refresh_settings(&mut self, now: Instant) {
        let core = self.core.borrow();
        if core.snapshot.generation == self.generation {
            return;
        }
        self.generation = core.snapshot.generation;
        let Some(live) = core.snapshot.config.connectors.get(self.index) else {
            return;
        };
        if live.tps_max != self.config.tps_max {
            let share = (live.tps_max / live.binds.max(1)).max(1);
            self.bucket = TokenBucket::new(share, now);
        }
        self.config = live.clone();
    }

    /// Sends the receipt answers whose wait is over; the others keep waiting (SMPP lets
    /// responses go out of order, so one parked receipt does not hold up the rest).
    ///
    /// Called on every deferred answer, so it must not scan the whole list each time: the
    /// LSN waits were appended in LSN order, so once one is not durable the rest are not
    /// either and the scan stops there, unless a parked receipt further on may have been
    /// resolved. (A park resolved earlier waits on the LSN of its resolution, which can be
    /// later than those behind it; those then wait with it, at most one sync longer.)
    fn answer_receipts(&mut self, link: &mut Link<'_>, now: Instant) {
        let mut unsynced: Option<Lsn> = None;
        let mut i = 0;
        while let Some(pending) = self.pending.get(i).copied() {
            let lsn = match pending.wait {
                Wait::Park(token) => {
                    let mut core = self.core.borrow_mut();
                    match core.take_park_outcome(token) {
                        None => {
                            i += 1;
                            continue;
                        }
                        Some(ParkOutcome::Refused) => {
                            // The index shard's park was full: the SMSC sends it again.
                            drop(core);
                            self.pending.remove(i);
                            self.parks_waiting = self.parks_waiting.saturating_sub(1);
                            let status = CommandStatus::ESME_RX_T_APPN;
                            let body = sm_resp(pending.command);
                            let _ = link.respond(pending.sequence_number, status, body, now);
                            continue;
                        }
                        Some(ParkOutcome::Resolved) => {
                            self.parks_waiting = self.parks_waiting.saturating_sub(1);
                            core.last_lsn()
                        }
                    }
                }
                Wait::Lsn(lsn) => Some(lsn),
            };
            let durable = lsn.is_none_or(|lsn| self.core.borrow().is_durable(lsn));
            if durable {
                self.pending.remove(i);
                let body = sm_resp(pending.command);
                let _ = link.respond(pending.sequence_number, CommandStatus::ESME_ROK, body, now);
                continue;
            }
            if let (Some(lsn), Some(p)) = (lsn, self.pending.get_mut(i)) {
                p.wait = Wait::Lsn(lsn);
                unsynced = Some(unsynced.map_or(lsn, |o: Lsn| o.max(lsn)));
            }
            if self.parks_waiting == 0 {
                break;
            }
            i += 1;
        }
        if let Some(lsn) = unsynced {
            // Wake once everything waiting now is durable (the last LSN wait is the
            // latest but for a resolved park's, which `unsynced` has seen).
            let last = self.pending.back().and_then(|p| match p.wait {
                Wait::Lsn(lsn) => Some(lsn),
                Wait::Park(_) => None,
            });
            self.watch_durable(last.map_or(lsn, |last| last.max(lsn)));
        }
    }

    /// Wakes this bind once `lsn` is durable (one watcher at a time).
    fn watch_durable(&mut self, lsn: Lsn) {
        if self.watch.borrow().running {
            return;
        }
        let Some(durable) = self.core.borrow().durable(lsn) else {
            return;
        };
        self.watch.borrow_mut().running = true;
        let watch = Rc::clone(&self.watch);
        glommio::spawn_local(async move {
            let _ = durable.await;
            let mut watch = watch.borrow_mut();
            watch.running = false;
            if let Some(w) = &watch.waker {
                w.wake_by_ref();
            }
        })
        .detach();
    }

    /// Sends `job`'s submit_sm; false if the link cannot take it now.
    fn submit(&mut self, link: &mut Link<'_>, job: &SubmitJob, now: Instant) -> bool {
        let part = job.part();
        match job {
            SubmitJob::Local(_) => {
                let core = Rc::clone(&self.core);
                let core = core.borrow();
                let Some(record) = core.record(part.message) else {
                    return true; // finished meanwhile: nothing to send
                };
                self.submit_record(link, part, record, now)
            }
            SubmitJob::Remote(remote) => match MessageRecord::decode(&remote.record) {
                Ok(record) => self.submit_record(link, part, &record, now),
                Err(e) => {
                    // Its owner encoded it; this is a bug, not peer data. The owner hears
                    // a transient failure and retries under its backoff and validity.
                    tracing::error!(error = %e, "a handed-over record does not decode");
                    let event = Event::SubmitResult {
                        part: part.part,
                        status: CommandStatus::ESME_RSYSERR,
                        id2: None,
                    };
                    self.core.borrow_mut().part_event(self.index, part, event);
                    true
                }
            },
        }
    }

    fn submit_record(
        &mut self,
        link: &mut Link<'_>,
        part: PartRef,
        record: &MessageRecord<'_>,
        now: Instant,
    ) -> bool {
        let Some(payload) = record.content.part(part.part) else {
            return true;
        };
        let mut list: Vec<Tlv<'_>> = Vec::new();
        if payload.in_message_payload {
            list.push(Tlv::MessagePayload(payload.bytes));
        }
        if let Some(sar) = payload.sar {
            list.push(Tlv::SarMsgRefNum(sar.reference));
            list.push(Tlv::SarTotalSegments(sar.total));
            list.push(Tlv::SarSegmentSeqnum(sar.seq));
        }
        let tlvs = Tlvs::build(&mut self.scratch, &list).unwrap_or(Tlvs::EMPTY);
        let body = Body::SubmitSm(SubmitSm {
            service_type: record.service_type.as_ref().into(),
            source_addr_ton: record.source.ton,
            source_addr_npi: record.source.npi,
            source_addr: record.source.digits.as_ref().into(),
            dest_addr_ton: record.destination.ton,
            dest_addr_npi: record.destination.npi,
            destination_addr: record.destination.digits.as_ref().into(),
            esm_class: record.esm_class.0 & !EsmClass::TYPE_MASK,
            protocol_id: record.protocol_id,
            priority_flag: record.priority,
            // We always ask upstream for a receipt: it is how we learn the final state.
            registered_delivery: 1,
            data_coding: record.data_coding,
            short_message: if payload.in_message_payload {
                (&[][..]).into()
            } else {
                payload.bytes.into()
            },
            tlvs,
            ..SubmitSm::default()
        });
        match link.send_request(body, part.to_dlr_value(), now) {
            Ok(_) => true,
            Err(e) => {
                tracing::debug!(error = %e, "submit_sm not sent now");
                false
            }
        }
    }

    fn on_receipt(&mut self, link: &mut Link<'_>, seq: u32, sm: &SubmitSm<'_>, now: Instant) {
        let text: &[u8] = match sm.tlvs.message_payload() {
            Some(p) if sm.short_message.is_empty() => p,
            _ => &sm.short_message,
        };
        let merged = tern_sms::receipt::merge_receipt(
            sm.tlvs.receipted_message_id(),
            sm.tlvs.message_state(),
            text,
        );
        let status = match merged {
            Ok(merged) => {
                let format = self.config.quirks.receipt_id;
                let id2 = normalise_id2(merged.id.as_bytes(), format);
                let state = merged
                    .state
                    .map_or(MessageState::UNKNOWN, |s| MessageState(s.value()));
                let error = merged
                    .fields
                    .err
                    .and_then(tern_sms::receipt::err_code)
                    .unwrap_or(0);
                match id2 {
                    Some(id2) => {
                        let key = DlrKey {
                            connector: Core::connector_id(self.index),
                            id2,
                        };
                        let outcome = self.core.borrow_mut().receipt(key, state, error);
                        let last = self.core.borrow().last_lsn();
                        match (outcome, last) {
                            (ReceiptOutcome::Refused, _) => CommandStatus::ESME_RX_T_APPN,
                            (ReceiptOutcome::Parked(token), _) => {
                                return self.defer(seq, Wait::Park(token), link, now);
                            }
                            (ReceiptOutcome::Applied, Some(lsn)) => {
                                return self.defer(seq, Wait::Lsn(lsn), link, now);
                            }
                            (ReceiptOutcome::Applied, None) => CommandStatus::ESME_ROK,
                        }
                    }
                    None => CommandStatus::ESME_ROK,
                }
            }
            // An unreadable receipt is acknowledged: the SMSC would resend it forever.
            Err(_) => CommandStatus::ESME_ROK,
        };
        let body = Body::DeliverSmResp(SmResp::default());
        let _ = link.respond(seq, status, body, now);
    }

    fn defer(&mut self, seq: u32, wait: Wait, link: &mut Link<'_>, now: Instant) {
        self.defer_answer(seq, wait, CommandId::DELIVER_SM, link, now);
    }

    fn defer_answer(
        &mut self,
        seq: u32,
        wait: Wait,
        command: CommandId,
        link: &mut Link<'_>,
        now: Instant,
    ) {
        if matches!(wait, Wait::Park(_)) {
            self.parks_waiting += 1;
        }
        self.pending.push_back(PendingResp {
            sequence_number: seq,
            wait,
            command,
        });
        self.answer_receipts(link, now);
    }

    /// An MO: logged and answered once durable, or refused at once (see [`crate::mo`]).
    fn on_mo(&mut self, link: &mut Link<'_>, seq: u32, pdu: &Pdu<'_>, now: Instant) {
        let command = pdu.command_id();
        let received = match crate::mo::Inbound::of(&pdu.body) {
            Some(mo) => self.core.borrow_mut().mo_receive(self.index, &mo),
            None => MoReceived::Refused(CommandStatus::ESME_RINVCMDID),
        };
        match received {
            MoReceived::Logged(lsn) => self.defer_answer(seq, Wait::Lsn(lsn), command, link, now),
            MoReceived::Refused(status) => {
                let _ = link.respond(seq, status, sm_resp(command), now);
            }
        }
    }
}

impl Handler for UpstreamConn {
    fn on_bind_request(&mut self, _kind: SmppBindKind, _bind: &Bind<'_>) -> CommandStatus {
        CommandStatus::ESME_RINVCMDID
    }

    fn on_bound(&mut self, _kind: SmppBindKind, _now: Instant) {
        self.bound = true;
        self.core.borrow_mut().set_bind_up(self.index, true);
        tracing::info!(connector = %self.config.name, "bound upstream");
    }

    fn on_request(&mut self, link: &mut Link<'_>, seq: u32, pdu: &Pdu<'_>, now: Instant) {
        match &pdu.body {
            Body::DeliverSm(sm)
                if sm.esm_class & EsmClass::TYPE_MASK == EsmClass::TYPE_DELIVERY_RECEIPT =>
            {
                self.on_receipt(link, seq, sm, now)
            }
            Body::DeliverSm(_) | Body::DataSm(_) => self.on_mo(link, seq, pdu, now),
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
        pdu: Option<&Pdu<'_>>,
        _now: Instant,
    ) {
        let part = PartRef::from_dlr_value(token);
        let id2 = match pdu.map(|p| &p.body) {
            Some(Body::SubmitSmResp(resp)) if status == CommandStatus::ESME_ROK => {
                normalise_id2(&resp.message_id, self.config.quirks.submit_resp_id)
            }
            _ => None,
        };
        let event = Event::SubmitResult {
            part: part.part,
            status,
            id2,
        };
        self.core.borrow_mut().part_event(self.index, part, event);
    }

    fn on_lost(&mut self, token: u64, lost: Lost, _now: Instant) {
        let part = PartRef::from_dlr_value(token);
        let event = match lost {
            Lost::TimedOut => Event::SubmitTimeout { part: part.part },
            Lost::Abandoned => Event::Disconnected,
        };
        self.core.borrow_mut().part_event(self.index, part, event);
    }

    fn produce(&mut self, link: &mut Link<'_>, now: Instant) -> Produce {
        self.answer_receipts(link, now);
        if self.core.borrow().stopping {
            return Produce::Unbind;
        }
        if !self.bound {
            return Produce::Continue(None);
        }
        self.refresh_settings(now);
        let next_due_ms = self.core.borrow_mut().release_due(self.index);
        let mut deadline = next_due_ms.map(|at_ms| {
            let wait_ms = at_ms.saturating_sub(crate::shard::unix_now_ms());
            now + Duration::from_millis(wait_ms)
        });
        for _ in 0..SUBMITS_PER_TURN_MAX {
            if !link.can_send(CommandId::SUBMIT_SM)
                || link.outstanding() >= self.config.window_size as usize
            {
                break;
            }
            let Some(job) = self.core.borrow_mut().pop_submit(self.index) else {
                break;
            };
            if !self.bucket.take(now) {
                self.core.borrow_mut().unpop_submit(self.index, job);
                let at = self.bucket.next_at();
                deadline = Some(deadline.map_or(at, |d| d.min(at)));
                break;
            }
            if !self.submit(link, &job, now) {
                self.core.borrow_mut().unpop_submit(self.index, job);
                break;
            }
        }
        Produce::Continue(deadline)
    }

    fn register_waker(&mut self, waker: &Waker) {
        let mut watch = self.watch.borrow_mut();
        if !watch.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            watch.waker = Some(waker.clone());
        }
        drop(watch);
        self.core
            .borrow_mut()
            .register_connector_waker(self.index, waker);
    }

    fn on_closed(&mut self, reason: Option<CloseReason>) {
        if let Some(waker) = self.watch.borrow_mut().waker.take() {
            self.core
                .borrow_mut()
                .unregister_connector_waker(self.index, &waker);
        }
        // Unanswered receipts come again from the SMSC on the next bind.
        self.parks_waiting = 0;
        for pending in self.pending.drain(..) {
            if let Wait::Park(token) = pending.wait {
                self.core.borrow_mut().abandon_park(token);
            }
        }
        if self.bound {
            self.bound = false;
            self.core.borrow_mut().set_bind_up(self.index, false);
        }
        tracing::info!(connector = %self.config.name, ?reason, "upstream bind closed");
    }
}

/// The pump settings of an upstream bind.
fn conn_config(config: &ConnectorConfig) -> ConnConfig {
    let mut conn = ConnConfig::default();
    conn.session.window_size = config.window_size;
    conn.session.response_timeout = Duration::from_millis(u64::from(config.response_timeout_ms));
    conn.session.enquire_link_interval = Some(Duration::from_secs(u64::from(
        config.enquire_link_interval_s.max(1),
    )));
    conn
}

fn smpp_kind(kind: BindKind) -> SmppBindKind {
    match kind {
        BindKind::Tx => SmppBindKind::Transmitter,
        BindKind::Rx => SmppBindKind::Receiver,
        BindKind::Trx => SmppBindKind::Transceiver,
    }
}

/// Keeps one bind of connector `index` up until the shard stops: connect, bind, pump,
/// and on any failure wait (doubling from min to max backoff) and try again.
pub async fn run_bind(core: CoreRef, index: usize, config: ConnectorConfig, addr: SocketAddr) {
    let min_ms = u64::from(config.reconnect_backoff_min_ms.max(1));
    let max_ms = u64::from(config.reconnect_backoff_max_ms).max(min_ms);
    let mut backoff_ms = min_ms;
    let conn = conn_config(&config);
    while !core.borrow().stopping {
        // Each (re)connect binds with the settings in force now (a reload may have
        // changed the window); the address and credentials only change at a restart.
        let conn = match core.borrow().snapshot.config.connectors.get(index) {
            Some(live) => conn_config(live),
            None => conn.clone(),
        };
        let start = Start::Esme {
            kind: smpp_kind(config.bind),
            system_id: config.system_id.clone(),
            password: config.password.expose().to_owned(),
            system_type: config.system_type.clone(),
        };
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let live = core.borrow().snapshot.config.connectors.get(index).cloned();
                let mut handler =
                    UpstreamConn::new(core.clone(), index, live.unwrap_or_else(|| config.clone()));
                let result = tern_smpp_io::run(stream, start, &conn, &mut handler).await;
                if handler_was_bound(&result) {
                    backoff_ms = min_ms;
                }
                if let Err(e) = result {
                    tracing::warn!(connector = %config.name, error = %e, "upstream bind failed");
                }
            }
            Err(e) => tracing::warn!(connector = %config.name, error = %e, "connect failed"),
        }
        if core.borrow().stopping {
            break;
        }
        sleep(Duration::from_millis(backoff_ms)).await;
        backoff_ms = (backoff_ms * 2).min(max_ms);
    }
}

fn handler_was_bound(result: &Result<CloseReason, tern_smpp_io::ConnError>) -> bool {
    result.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_decimal_ids_of_the_same_number_normalise_alike() {
        let hex = normalise_id2(b"1f", IdFormat::Hex).expect("hex");
        let decimal = normalise_id2(b"0031", IdFormat::Decimal).expect("decimal");
        assert_eq!(hex, decimal);
        assert_eq!(hex.as_bytes(), b"31");
    }

    #[test]
    fn text_ids_are_kept_byte_for_byte_without_trailing_nul() {
        let id = normalise_id2(b"Ab-01\0", IdFormat::Text).expect("text");
        assert_eq!(id.as_bytes(), b"Ab-01");
        assert_ne!(normalise_id2(b"ab-01", IdFormat::Text), Some(id));
    }

    #[test]
    fn an_id_that_is_not_a_number_of_its_format_is_refused() {
        assert_eq!(normalise_id2(b"xyz", IdFormat::Hex), None);
        assert_eq!(normalise_id2(b"12a", IdFormat::Decimal), None);
    }

    #[test]
    fn token_bucket_allows_one_second_of_burst_then_paces() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, start);
        let taken = (0..20).filter(|_| bucket.take(start)).count();
        assert_eq!(taken, 10);
        assert!(bucket.next_at() > start);
        assert!(bucket.take(start + Duration::from_millis(100)));
        assert!(!bucket.take(start + Duration::from_millis(100)));
    }
}
