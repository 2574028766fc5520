//! The load generator's side of one bind: paced submits, receipts, MO.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tern_smpp::session::{BindKind, CloseReason};
use tern_smpp::{
    Bind, Body, CommandId, CommandStatus, EsmClass, MessageState, Pdu, SmResp, SubmitSm,
};
use tern_sms::udh::split_user_data;

use super::Shared;
use super::report::Counts;
use super::tracker::{Expect, ReceiptMatch, id_key};
use crate::rng::Rng;
use crate::text::{LONG_PARTS, fill_pattern, long_part};
use tern_smpp_io::{Handler, Link, Lost, Produce, micros};

/// How often a finished connection checks whether the whole run is over.
const DONE_POLL: Duration = Duration::from_millis(20);

/// One shard's counters and histograms.
#[derive(Debug)]
pub struct ShardResults {
    /// Counters.
    pub counts: Counts,
    /// submit→resp latency, µs.
    pub resp_us: Histogram<u64>,
    /// submit→receipt latency, µs.
    pub receipt_us: Histogram<u64>,
}

/// One load connection's handler; it survives reconnects.
#[derive(Debug)]
pub struct LoadConn {
    shared: Arc<Shared>,
    results: Rc<RefCell<ShardResults>>,
    /// submit_sm PDUs still to send (count mode).
    quota: u64,
    sender_done: bool,
    period: Option<Duration>,
    next_intended: Instant,
    send_until: Option<Instant>,
    counter: u64,
    rng: Rng,
    bound: bool,
    /// Set at the first bind, when the schedule starts.
    bound_once: bool,
    /// Set once the run is over for this connection (it unbound on purpose).
    pub finished: bool,
    source: Vec<u8>,
    destination: Vec<u8>,
    text: Vec<u8>,
}

impl LoadConn {
    /// A handler that sends `quota` PDUs (a receiver only when `sender` is false).
    pub fn new(
        shared: Arc<Shared>,
        results: Rc<RefCell<ShardResults>>,
        index: usize,
        sender: bool,
        quota: u64,
    ) -> LoadConn {
        let config = &shared.config;
        let senders = config.connections.max(1) as f64;
        let period = (config.rate > 0.0).then(|| Duration::from_secs_f64(senders / config.rate));
        let send_until = config
            .duration_s
            .map(|d| shared.base + Duration::from_secs_f64(d));
        let seed = config.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        LoadConn {
            results,
            quota,
            sender_done: !sender,
            period,
            next_intended: shared.base,
            send_until,
            counter: (index as u64) << 40,
            rng: Rng::new(seed),
            bound: false,
            bound_once: false,
            finished: false,
            source: Vec::new(),
            destination: Vec::new(),
            text: Vec::new(),
            shared,
        }
    }

    fn now_ns(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.shared.base).as_nanos())
            .unwrap_or(u64::MAX)
    }

    /// Marks this sender finished (once) so the run can end.
    pub fn give_up(&mut self) {
        if !self.sender_done {
            self.sender_done = true;
            self.shared.sender_finished(Instant::now());
        }
        self.finished = true;
    }

    fn send_submits(&mut self, link: &mut Link<'_>, now: Instant) -> Option<Instant> {
        let window = self.shared.config.window as usize;
        loop {
            if self.send_until.is_some_and(|until| now >= until) {
                self.quota = 0;
            }
            if self.quota == 0 {
                return None;
            }
            let intended = match self.period {
                Some(_) if self.next_intended > now => return Some(self.next_intended),
                Some(_) => self.next_intended,
                None => now,
            };
            let long = self.quota >= u64::from(LONG_PARTS)
                && self.rng.chance(self.shared.config.long_ratio);
            let parts = if long { usize::from(LONG_PARTS) } else { 1 };
            if link.outstanding() + parts > window || !link.can_send(CommandId::SUBMIT_SM) {
                return None;
            }
            if !self.send_message(link, long, intended, now) {
                return None;
            }
            if let Some(period) = self.period {
                self.next_intended += period * parts as u32;
            }
        }
    }

    fn send_message(
        &mut self,
        link: &mut Link<'_>,
        long: bool,
        intended: Instant,
        now: Instant,
    ) -> bool {
        self.counter += 1;
        let config = &self.shared.config;
        fill_pattern(&config.source, self.counter, &mut self.source);
        fill_pattern(&config.destination, self.counter, &mut self.destination);
        let token = self.now_ns(intended);
        let parts: u8 = if long { LONG_PARTS } else { 1 };
        for seq in 1..=parts {
            if long {
                long_part(self.counter as u8, seq, &mut self.text);
            } else {
                self.text.clear();
                self.text.extend_from_slice(b"Tern bench message ");
                self.text
                    .extend_from_slice(self.counter.to_string().as_bytes());
            }
            let body = Body::SubmitSm(SubmitSm {
                source_addr_ton: 5,
                source_addr: self.source.as_slice().into(),
                dest_addr_ton: 1,
                dest_addr_npi: 1,
                destination_addr: self.destination.as_slice().into(),
                esm_class: if long { EsmClass::UDHI } else { 0 },
                registered_delivery: config.registered_delivery,
                short_message: self.text.as_slice().into(),
                ..SubmitSm::default()
            });
            if link.send_request(body, token, now).is_err() {
                return seq > 1;
            }
            self.quota = self.quota.saturating_sub(1);
            self.results.borrow_mut().counts.sent += 1;
        }
        if long {
            self.results.borrow_mut().counts.long_messages += 1;
        }
        true
    }

    fn on_deliver(&mut self, deliver: &SubmitSm<'_>, now: Instant) {
        let mut results = self.results.borrow_mut();
        if !EsmClass(deliver.esm_class).is_receipt() {
            results.counts.mo_parts += 1;
            let first_or_single = !EsmClass(deliver.esm_class).has_udhi()
                || split_user_data(&deliver.short_message)
                    .ok()
                    .and_then(|(udh, _)| udh.concat())
                    .is_none_or(|c| c.seq == 1);
            if first_or_single {
                results.counts.mo_received += 1;
            }
            return;
        }
        results.counts.receipts_received += 1;
        let text = deliver
            .tlvs
            .message_payload()
            .unwrap_or(&deliver.short_message);
        let merged = tern_sms::merge_receipt(
            deliver.tlvs.receipted_message_id(),
            deliver.tlvs.message_state(),
            text,
        );
        let Ok(receipt) = merged else {
            results.counts.receipts_unreadable += 1;
            return;
        };
        let state = receipt
            .state
            .and_then(|s| MessageState(s.value()).name())
            .unwrap_or("UNKNOWN");
        *results
            .counts
            .receipt_states
            .entry(state.to_owned())
            .or_default() += 1;
        let Some(key) = id_key(receipt.id.as_bytes(), self.shared.config.receipt_id_format) else {
            results.counts.receipts_unreadable += 1;
            return;
        };
        let now_ns = self.now_ns(now);
        if let ReceiptMatch::Matched { submitted_ns } = self.shared.tracker.receipt(key, now_ns) {
            results.counts.receipts_matched += 1;
            let _ = results
                .receipt_us
                .record(micros(Duration::from_nanos(now_ns.saturating_sub(submitted_ns))).max(1));
        }
    }

    fn on_submit_resp(
        &mut self,
        token: u64,
        status: CommandStatus,
        pdu: Option<&Pdu<'_>>,
        now: Instant,
    ) {
        let now_ns = self.now_ns(now);
        let mut results = self.results.borrow_mut();
        let latency_us = micros(Duration::from_nanos(now_ns.saturating_sub(token))).max(1);
        let _ = results.resp_us.record(latency_us);
        if !status.is_ok() {
            *results.counts.failed.entry(status.0).or_default() += 1;
            return;
        }
        results.counts.acked += 1;
        if self.shared.config.registered_delivery & 0x03 == 0 {
            return;
        }
        let message_id = match pdu.map(|p| &p.body) {
            Some(Body::SubmitSmResp(resp)) => &resp.message_id[..],
            _ => &[],
        };
        let Some(key) = id_key(message_id, self.shared.config.resp_id_format) else {
            results.counts.receipts_untracked += 1;
            return;
        };
        match self.shared.tracker.expect(key, token) {
            Expect::Tracked => {}
            Expect::Matched { receipt_ns } => {
                results.counts.receipts_matched += 1;
                let _ = results
                    .receipt_us
                    .record(micros(Duration::from_nanos(receipt_ns.saturating_sub(token))).max(1));
            }
            Expect::Full => results.counts.receipts_untracked += 1,
        }
    }
}

impl Handler for LoadConn {
    fn on_bind_request(&mut self, _kind: BindKind, _bind: &Bind<'_>) -> CommandStatus {
        CommandStatus::ESME_RINVCMDID
    }

    fn on_bound(&mut self, _kind: BindKind, now: Instant) {
        if !self.bound_once {
            // The open-loop schedule (and the duration) starts at the first bind, not at
            // the run's start: the bind's own time (a password hash on a gateway whose
            // login cache is cold, 100-200 ms) is not the target's latency for the
            // messages that would have been due meanwhile. After a reconnect the
            // schedule runs on, so messages due while it was down count as late.
            self.bound_once = true;
            let shift = now.saturating_duration_since(self.next_intended);
            self.next_intended += shift;
            self.send_until = self.send_until.map(|until| until + shift);
        }
        self.bound = true;
    }

    fn on_request(
        &mut self,
        link: &mut Link<'_>,
        sequence_number: u32,
        pdu: &Pdu<'_>,
        now: Instant,
    ) {
        match &pdu.body {
            Body::DeliverSm(deliver) => {
                let _ = link.respond(
                    sequence_number,
                    CommandStatus::ESME_ROK,
                    Body::DeliverSmResp(SmResp::default()),
                    now,
                );
                self.on_deliver(deliver, now);
            }
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
        pdu: Option<&Pdu<'_>>,
        now: Instant,
    ) {
        self.on_submit_resp(token, status, pdu, now);
    }

    fn on_lost(&mut self, _token: u64, _lost: Lost, _now: Instant) {
        self.results.borrow_mut().counts.lost += 1;
        if self.shared.config.duration_s.is_none() {
            self.quota += 1;
        }
    }

    fn produce(&mut self, link: &mut Link<'_>, now: Instant) -> Produce {
        if !self.bound {
            return Produce::Continue(None);
        }
        if !self.sender_done {
            let next = self.send_submits(link, now);
            if self.quota > 0 || link.outstanding() > 0 {
                return Produce::Continue(next);
            }
            self.sender_done = true;
            self.shared.sender_finished(now);
        }
        if self.shared.run_over(now) {
            self.finished = true;
            Produce::Unbind
        } else {
            Produce::Continue(Some(now + DONE_POLL))
        }
    }

    fn register_waker(&mut self, _waker: &Waker) {}

    fn on_closed(&mut self, _reason: Option<CloseReason>) {
        self.bound = false;
    }
}
