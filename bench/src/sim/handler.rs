//! The simulator's side of one bind: answers submit_sm, sends receipts and MO messages.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use tern_smpp::session::{BindKind, CloseReason};
use tern_smpp::tlv::{NetworkErrorCode, Tlv, Tlvs};
use tern_smpp::{
    Bind, Body, CommandId, CommandStatus, EsmClass, Pdu, RegisteredDelivery, SmResp, SubmitSm,
};
use tern_sms::message_id::{HexCase, IdRadix, format_id};

use super::config::{FinalState, IdFormat};
use super::shard::ShardState;
use super::stats::bump;
use super::store::{Address, PendingReceipt, Slot, TEXT_KEPT_LEN};
use crate::text::{LONG_PARTS, long_part, receipt_date, unix_now_s};
use tern_smpp_io::{Handler, Link, Lost, Produce};

/// Tokens at or above this mark MO deliver_sm; below, a receipt's slot.
const MO_TOKEN: u64 = 1 << 63;
/// MO sending never catches up more than this far behind its schedule.
const MO_BACKLOG_MAX: Duration = Duration::from_secs(1);

/// Reusable buffers for building PDUs.
#[derive(Debug, Default)]
struct Scratch {
    text: Vec<u8>,
    tlvs: Vec<u8>,
}

/// One simulator connection's handler.
#[derive(Debug)]
pub struct SimConn {
    shard: Rc<RefCell<ShardState>>,
    key: u64,
    system: Option<u32>,
    can_receive: bool,
    submits: u64,
    disconnect: bool,
    tokens: f64,
    refilled_at: Instant,
    next_mo_at: Option<Instant>,
    mo_count: u64,
    scratch: Scratch,
}

impl SimConn {
    /// A handler for a new connection on `shard`.
    pub fn new(shard: Rc<RefCell<ShardState>>) -> SimConn {
        let (key, tokens) = {
            let mut state = shard.borrow_mut();
            let key = state.new_conn_key();
            state.open(key);
            (key, f64::from(state.config.throttle_tps.max(1)))
        };
        SimConn {
            shard,
            key,
            system: None,
            can_receive: false,
            submits: 0,
            disconnect: false,
            tokens,
            refilled_at: Instant::now(),
            next_mo_at: None,
            mo_count: 0,
            scratch: Scratch::default(),
        }
    }

    /// Token bucket of --throttle-tps: true if this submit is within the rate.
    fn take_token(&mut self, tps: u32, now: Instant) -> bool {
        if tps == 0 {
            return true;
        }
        let burst = f64::from(tps);
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * burst).min(burst);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn on_submit(
        &mut self,
        link: &mut Link<'_>,
        sequence_number: u32,
        submit: &SubmitSm<'_>,
        now: Instant,
    ) {
        self.submits += 1;
        let shard = Rc::clone(&self.shard);
        let mut state = shard.borrow_mut();
        let config = Arc::clone(&state.config);
        bump(&state.stats.submits);
        if config.disconnect_after > 0 && self.submits >= config.disconnect_after {
            self.disconnect = true;
        }
        let status = if !self.take_token(config.throttle_tps, now) {
            bump(&state.stats.throttled);
            CommandStatus::ESME_RTHROTTLED
        } else if state.rng.chance(config.fail_ratio) {
            bump(&state.stats.failed);
            CommandStatus(config.fail_status)
        } else {
            CommandStatus::ESME_ROK
        };
        if !status.is_ok() {
            respond_error(link, sequence_number, status, now);
            return;
        }
        let roll = state
            .rng
            .between(0, config.receipt_mix.total().saturating_sub(1));
        let final_state = config.receipt_mix.pick(roll);
        let wants = RegisteredDelivery(submit.registered_delivery)
            .wants_receipt(final_state == FinalState::Delivered);
        let id = state.next_message_id();
        let slot = if wants {
            let receipt = self.pending_receipt(&mut state, id, final_state, submit);
            match state.store.insert(receipt) {
                Some(slot) => Some(slot),
                None => {
                    bump(&state.stats.queue_full);
                    respond_error(link, sequence_number, CommandStatus::ESME_RMSGQFUL, now);
                    return;
                }
            }
        } else {
            None
        };
        if let Some(slot) = slot {
            state.note_held();
            let early = state.rng.chance(config.early_receipt_ratio);
            self.place_receipt(link, &mut state, slot, early, now);
        }
        bump(&state.stats.submits_ok);
        let formatted = format_id(u128::from(id), radix(config.id_format), HexCase::Lower);
        let body = Body::SubmitSmResp(SmResp {
            message_id: formatted.as_bytes().into(),
            tlvs: Tlvs::EMPTY,
        });
        let _ = link.respond(sequence_number, CommandStatus::ESME_ROK, body, now);
    }

    /// Schedules a receipt, or sends it at once (before the submit_sm_resp) when early.
    fn place_receipt(
        &mut self,
        link: &mut Link<'_>,
        state: &mut ShardState,
        slot: Slot,
        early: bool,
        now: Instant,
    ) {
        if early {
            bump(&state.stats.receipts_early);
            if self.can_receive && link.can_send(CommandId::DELIVER_SM) {
                self.send_receipt(link, state, slot, now);
            } else {
                state.route(slot);
            }
            return;
        }
        let delay = state.config.receipt_delay_ms;
        let delay_ms = state.rng.between(delay.min_ms, delay.max_ms);
        state.schedule(slot, now + Duration::from_millis(delay_ms));
    }

    fn pending_receipt(
        &self,
        state: &mut ShardState,
        id: u64,
        final_state: FinalState,
        submit: &SubmitSm<'_>,
    ) -> PendingReceipt {
        let err = if final_state == FinalState::Delivered {
            0
        } else {
            let codes = &state.config.error_codes;
            let pick = state.rng.between(0, codes.len().saturating_sub(1) as u64) as usize;
            codes.get(pick).copied().unwrap_or(1)
        };
        let mut text = [0u8; TEXT_KEPT_LEN];
        let body = if EsmClass(submit.esm_class).has_udhi() {
            let udhl = submit
                .short_message
                .first()
                .map_or(0, |&l| usize::from(l) + 1);
            submit.short_message.get(udhl..).unwrap_or_default()
        } else {
            &submit.short_message[..]
        };
        let len = body.len().min(TEXT_KEPT_LEN);
        if let (Some(dst), Some(src)) = (text.get_mut(..len), body.get(..len)) {
            dst.copy_from_slice(src);
        }
        PendingReceipt {
            id,
            origin: self.key,
            system: self.system.unwrap_or(0),
            state: final_state,
            err,
            submitted_unix_s: unix_now_s(),
            source: Address::new(
                submit.source_addr_ton,
                submit.source_addr_npi,
                &submit.source_addr,
            ),
            destination: Address::new(
                submit.dest_addr_ton,
                submit.dest_addr_npi,
                &submit.destination_addr,
            ),
            text,
            text_len: len as u8,
        }
    }

    /// Encodes the receipt in `slot` as a deliver_sm.
    fn send_receipt(
        &mut self,
        link: &mut Link<'_>,
        state: &mut ShardState,
        slot: Slot,
        now: Instant,
    ) -> bool {
        let Some(receipt) = state.store.get(slot).copied() else {
            return true;
        };
        let config = &state.config;
        let id = format_id(
            u128::from(receipt.id),
            radix(config.receipt_id_format),
            HexCase::Lower,
        );
        let mut err_text = [0u8; 8];
        let err = format_err(receipt.err, &mut err_text);
        let delivered = receipt.state == FinalState::Delivered;
        self.scratch.text.clear();
        tern_sms::Receipt {
            id: &id,
            stat: receipt.state.stat(),
            submitted: Some(1),
            delivered: Some(u32::from(delivered)),
            submit_date: Some(receipt_date(receipt.submitted_unix_s)),
            done_date: Some(receipt_date(unix_now_s())),
            err: Some(err),
            text: Some(receipt.text()),
        }
        .write_to(&mut self.scratch.text);
        let tlvs = if config.no_receipt_tlvs || !link.peer_accepts_tlvs() {
            Tlvs::EMPTY
        } else {
            let network = NetworkErrorCode {
                network_type: 3,
                error_code: receipt.err,
            };
            let list = [
                Tlv::ReceiptedMessageId(id.as_bytes()),
                Tlv::MessageState(receipt.state.message_state()),
                Tlv::NetworkErrorCode(network),
            ];
            let used = if receipt.err == 0 { 2 } else { 3 };
            Tlvs::build(&mut self.scratch.tlvs, list.get(..used).unwrap_or_default())
                .unwrap_or(Tlvs::EMPTY)
        };
        let body = Body::DeliverSm(SubmitSm {
            source_addr_ton: receipt.destination.ton,
            source_addr_npi: receipt.destination.npi,
            source_addr: receipt.destination.as_bytes().into(),
            dest_addr_ton: receipt.source.ton,
            dest_addr_npi: receipt.source.npi,
            destination_addr: receipt.source.as_bytes().into(),
            esm_class: EsmClass::TYPE_DELIVERY_RECEIPT,
            short_message: self.scratch.text.as_slice().into(),
            tlvs,
            ..SubmitSm::default()
        });
        link.send_request(body, u64::from(slot), now).is_ok()
    }

    fn send_ready_receipts(&mut self, link: &mut Link<'_>, now: Instant) {
        let shard = Rc::clone(&self.shard);
        let mut state = shard.borrow_mut();
        while link.can_send(CommandId::DELIVER_SM) {
            let Some(slot) = state.next_ready(self.key) else {
                break;
            };
            if !self.send_receipt(link, &mut state, slot, now) {
                state.unpop_ready(self.key, slot);
                break;
            }
        }
    }

    /// Sends the MO messages due by `now`; returns when the next is due.
    fn send_mo(&mut self, link: &mut Link<'_>, now: Instant) -> Option<Instant> {
        let (rate, long_ratio) = {
            let state = self.shard.borrow();
            (state.config.mo_rate, state.config.mo_long_ratio)
        };
        if !self.can_receive || rate <= 0.0 {
            return None;
        }
        let period = Duration::from_secs_f64(1.0 / rate);
        let mut next = self.next_mo_at.unwrap_or(now);
        if now.saturating_duration_since(next) > MO_BACKLOG_MAX {
            next = now;
        }
        while next <= now {
            let long = self.shard.borrow_mut().rng.chance(long_ratio);
            let parts = if long { u64::from(LONG_PARTS) } else { 1 };
            if (link.outstanding() as u64) + parts > u64::from(self.shard.borrow().config.window) {
                break;
            }
            if !self.send_one_mo(link, long, now) {
                break;
            }
            next += period;
        }
        self.next_mo_at = Some(next);
        Some(next)
    }

    fn send_one_mo(&mut self, link: &mut Link<'_>, long: bool, now: Instant) -> bool {
        self.mo_count += 1;
        let mut source = Vec::with_capacity(16);
        crate::text::fill_pattern("4479########", self.mo_count, &mut source);
        let parts: u8 = if long { LONG_PARTS } else { 1 };
        for seq in 1..=parts {
            if long {
                long_part(self.mo_count as u8, seq, &mut self.scratch.text);
            } else {
                self.scratch.text.clear();
                self.scratch
                    .text
                    .extend_from_slice(b"Tern simulator MO message");
            }
            let esm_class = if long { EsmClass::UDHI } else { 0 };
            let body = Body::DeliverSm(SubmitSm {
                source_addr_ton: 1,
                source_addr_npi: 1,
                source_addr: source.as_slice().into(),
                destination_addr: b"1234".as_slice().into(),
                esm_class,
                short_message: self.scratch.text.as_slice().into(),
                ..SubmitSm::default()
            });
            if link
                .send_request(body, MO_TOKEN | self.mo_count, now)
                .is_err()
            {
                return false;
            }
            bump(&self.shard.borrow().stats.mo_parts);
        }
        bump(&self.shard.borrow().stats.mo_sent);
        true
    }
}

fn radix(format: IdFormat) -> IdRadix {
    match format {
        IdFormat::Hex => IdRadix::Hex,
        IdFormat::Decimal => IdRadix::Decimal,
    }
}

/// `err:` as three digits (more if the code needs them).
fn format_err(code: u16, buf: &mut [u8; 8]) -> &str {
    let mut digits = [b'0'; 5];
    let mut rest = code;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let first = digits.iter().position(|&d| d != b'0').unwrap_or(4).min(2);
    let used = digits.get(first..).unwrap_or_default();
    let len = used.len().min(buf.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(..len), used.get(..len)) {
        dst.copy_from_slice(src);
    }
    std::str::from_utf8(buf.get(..len).unwrap_or_default()).unwrap_or("000")
}

/// submit_sm_resp with an error status and an empty message_id (some ESMEs insist on it).
fn respond_error(link: &mut Link<'_>, sequence_number: u32, status: CommandStatus, now: Instant) {
    let body = Body::SubmitSmResp(SmResp::default());
    let _ = link.respond(sequence_number, status, body, now);
}

impl Handler for SimConn {
    fn on_bind_request(&mut self, kind: BindKind, bind: &Bind<'_>) -> CommandStatus {
        let mut state = self.shard.borrow_mut();
        let status = state.config.authenticate(&bind.system_id, &bind.password);
        if !status.is_ok() {
            bump(&state.stats.binds_refused);
            return status;
        }
        bump(&state.stats.binds);
        let name = String::from_utf8_lossy(&bind.system_id).into_owned();
        self.can_receive = kind.esme_receives();
        self.system = Some(state.register(self.key, &name, self.can_receive));
        status
    }

    fn on_bound(&mut self, _kind: BindKind, _now: Instant) {}

    fn on_request(
        &mut self,
        link: &mut Link<'_>,
        sequence_number: u32,
        pdu: &Pdu<'_>,
        now: Instant,
    ) {
        if self.disconnect {
            // The connection is about to be dropped: requests after the last one counted
            // go unanswered, as on a real link that breaks.
            return;
        }
        match &pdu.body {
            Body::SubmitSm(submit) => self.on_submit(link, sequence_number, submit, now),
            _ => {
                let _ = link.respond_status(sequence_number, CommandStatus::ESME_RINVCMDID, now);
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
        if token >= MO_TOKEN {
            return;
        }
        let mut state = self.shard.borrow_mut();
        let Some(receipt) = state.store.remove(token as Slot) else {
            return;
        };
        state.note_held();
        if status.is_ok() {
            bump(&state.stats.receipts_sent);
            if let Some(c) = state.stats.receipts_by_state.get(receipt.state.index()) {
                bump(c);
            }
        } else {
            bump(&state.stats.receipts_refused);
        }
    }

    fn on_lost(&mut self, token: u64, _lost: Lost, _now: Instant) {
        if token >= MO_TOKEN {
            return;
        }
        let mut state = self.shard.borrow_mut();
        let slot = token as Slot;
        if let Some(system) = state.store.get(slot).map(|r| r.system) {
            bump(&state.stats.receipts_requeued);
            state.route_to_system(system, slot);
        }
    }

    fn produce(&mut self, link: &mut Link<'_>, now: Instant) -> Produce {
        if self.shard.borrow().stopping {
            return Produce::Disconnect;
        }
        if self.disconnect {
            bump(&self.shard.borrow().stats.disconnects);
            return Produce::Disconnect;
        }
        if self.system.is_none() || !self.can_receive {
            return Produce::Continue(None);
        }
        self.send_ready_receipts(link, now);
        Produce::Continue(self.send_mo(link, now))
    }

    fn register_waker(&mut self, waker: &Waker) {
        self.shard.borrow_mut().set_conn_waker(self.key, waker);
    }

    fn on_closed(&mut self, _reason: Option<CloseReason>) {
        self.shard.borrow_mut().close(self.key);
    }
}
