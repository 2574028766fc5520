//! One keep-alive connection of the load generator: paced, pipelined POSTs out, answers
//! in, matched to their requests in order (HTTP/1.1 answers pipelined requests in the
//! order they came).
//!
//! A [`Sender`] holds what survives a reconnect (quota, pacing, counters); a `Pump` owns
//! one TCP connection and is driven by `poll` like `tern-smpp-io`'s pump: each turn
//! flushes, reads and parses every whole response, then writes new requests while fewer
//! than `--concurrency` are in flight; idle, it parks on I/O or on a timer for the next
//! paced send or the oldest request's timeout.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;
use glommio::timer::Timer;
use serde::Deserialize;

use super::Shared;
use super::config::LONG_TEXT_CHARS;
use super::report::{ErrorKind, HttpShardResults};
use super::wire::{self, BODY_LEN_MAX, HEAD_LEN_MAX, WireError};
use crate::load::tracker::{Expect, IdMatch, id_key};
use crate::rng::Rng;
use crate::text::fill_pattern;
use tern_smpp_io::micros;

/// Text length of the short messages of a `--long-mix` run.
const SHORT_TEXT_CHARS: usize = 40;
/// Read buffer a connection starts with.
const READ_BUF_LEN: usize = 64 * 1024;
/// Read buffer a connection may grow to: one whole response of the largest size.
const READ_BUF_LEN_MAX: usize = HEAD_LEN_MAX + BODY_LEN_MAX + 1024;
/// No new request is encoded while this much is still unwritten.
const WRITE_HIGH_WATER: usize = 256 * 1024;
/// Turns per poll before yielding to the executor's other tasks.
const TURNS_PER_POLL_MAX: usize = 64;

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnEnd {
    /// Everything sent and answered.
    Finished,
    /// Lost, with its unanswered requests counted under this cause.
    Lost(ErrorKind),
}

/// A request written and not yet answered.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    /// Intended send time, ns after the run's base (latency is measured from here).
    intended_ns: u64,
    /// When it was encoded, ns after the base (timeouts are measured from here).
    queued_ns: u64,
    /// Messages in it.
    messages: u64,
}

/// What the sender can do now.
enum Next {
    /// A request was encoded.
    Sent(InFlight),
    /// The next one is due at this time (open loop).
    At(Instant),
    /// Quota spent or time over.
    Done,
}

#[derive(Deserialize)]
struct AcceptedBody<'a> {
    #[serde(borrow)]
    messages: Vec<AcceptedEntry<'a>>,
}

#[derive(Deserialize)]
struct AcceptedEntry<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

/// The sending side of one connection; it survives reconnects.
#[derive(Debug)]
pub struct Sender {
    shared: Arc<Shared>,
    results: Rc<RefCell<HttpShardResults>>,
    /// Messages still to send (`u64::MAX` in duration mode).
    quota: u64,
    period: Option<Duration>,
    next_intended: Instant,
    send_until: Option<Instant>,
    counter: u64,
    rng: Rng,
    authorization: String,
    path: &'static str,
    body: Vec<u8>,
    text: String,
    destination: Vec<u8>,
    done: bool,
}

impl Sender {
    /// A sender of `quota` messages, connection number `index`.
    pub fn new(
        shared: Arc<Shared>,
        results: Rc<RefCell<HttpShardResults>>,
        index: usize,
        quota: u64,
    ) -> Sender {
        let config = &shared.config;
        let connections = config.connections.max(1) as f64;
        let period =
            (config.rate > 0.0).then(|| Duration::from_secs_f64(connections / config.rate));
        let send_until = config
            .duration_s
            .map(|d| shared.base + Duration::from_secs_f64(d));
        let seed = config.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Sender {
            quota,
            period,
            next_intended: shared.base,
            send_until,
            counter: (index as u64) << 40,
            rng: Rng::new(seed),
            authorization: wire::basic_auth(&config.user, &config.password),
            path: if config.batch > 1 {
                "/v1/messages/batch"
            } else {
                "/v1/messages"
            },
            body: Vec::new(),
            text: String::new(),
            destination: Vec::new(),
            done: false,
            results,
            shared,
        }
    }

    /// True once the sender has sent all it will and said so to the run.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// True while messages remain to be sent.
    pub fn has_quota(&self) -> bool {
        self.quota > 0 && self.send_until.is_none_or(|until| Instant::now() < until)
    }

    /// Marks this sender finished so that the run can end (counted once).
    pub fn finish(&mut self, now: Instant) {
        self.quota = 0;
        if !self.done {
            self.done = true;
            self.shared.sender_finished(now);
        }
    }

    fn now_ns(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.shared.base).as_nanos())
            .unwrap_or(u64::MAX)
    }

    fn next(&mut self, out: &mut Vec<u8>, now: Instant) -> Next {
        if self.send_until.is_some_and(|until| now >= until) {
            self.quota = 0;
        }
        if self.quota == 0 {
            return Next::Done;
        }
        let intended = match self.period {
            Some(_) if self.next_intended > now => {
                // Wake at the end of the run too, not a whole period after it.
                let at = self
                    .send_until
                    .map_or(self.next_intended, |until| until.min(self.next_intended));
                return Next::At(at);
            }
            Some(_) => self.next_intended,
            None => now,
        };
        let batch = self.shared.config.batch;
        let messages = (batch as u64).min(self.quota);
        self.body.clear();
        if batch > 1 {
            self.body.extend_from_slice(b"{\"messages\":[");
        }
        let mut long_messages = 0;
        for i in 0..messages {
            if i > 0 {
                self.body.push(b',');
            }
            long_messages += u64::from(self.push_message());
        }
        if batch > 1 {
            self.body.extend_from_slice(b"]}");
        }
        let host = &self.shared.target.host;
        wire::push_post(out, self.path, host, &self.authorization, &self.body);
        self.quota = self.quota.saturating_sub(messages);
        if let Some(period) = self.period {
            self.next_intended += period.saturating_mul(u32::try_from(messages).unwrap_or(1));
        }
        let mut results = self.results.borrow_mut();
        results.counts.requests_sent += 1;
        results.counts.messages_sent += messages;
        results.counts.long_messages += long_messages;
        Next::Sent(InFlight {
            intended_ns: self.now_ns(intended),
            queued_ns: self.now_ns(now),
            messages,
        })
    }

    /// Appends one message object to the body; true when its text is long.
    fn push_message(&mut self) -> bool {
        self.counter += 1;
        let config = &self.shared.config;
        let (len, long) = match config.long_mix {
            Some(p) if self.rng.chance(p) => (LONG_TEXT_CHARS, true),
            Some(_) => (SHORT_TEXT_CHARS, false),
            None => (config.text_len, config.text_len > 160),
        };
        fill_pattern(&config.destination, self.counter, &mut self.destination);
        self.text.clear();
        self.text.push_str("Tern bench message ");
        self.text.push_str(&self.counter.to_string());
        let filler = " lorem ipsum dolor sit amet";
        while self.text.len() < len {
            let room = len - self.text.len();
            self.text
                .push_str(filler.get(..room.min(filler.len())).unwrap_or_default());
        }
        self.text.truncate(len);
        let b = &mut self.body;
        b.extend_from_slice(b"{\"to\":");
        wire::push_json_str(
            b,
            std::str::from_utf8(&self.destination).unwrap_or_default(),
        );
        b.extend_from_slice(b",\"from\":");
        wire::push_json_str(b, &config.source);
        b.extend_from_slice(b",\"text\":");
        wire::push_json_str(b, &self.text);
        b.extend_from_slice(b",\"reference\":\"r");
        b.extend_from_slice(self.counter.to_string().as_bytes());
        b.push(b'"');
        if let Some(url) = self.shared.callback_url.get() {
            b.extend_from_slice(b",\"receipts\":\"final\",\"callback_url\":");
            wire::push_json_str(b, url);
        }
        b.push(b'}');
        long
    }

    fn on_response(&mut self, request: InFlight, status: u16, body: &[u8], now: Instant) {
        let now_ns = self.now_ns(now);
        let mut results = self.results.borrow_mut();
        let latency_us = micros(Duration::from_nanos(
            now_ns.saturating_sub(request.intended_ns),
        ));
        let _ = results.request_us.record(latency_us.max(1));
        if !(200..300).contains(&status) {
            *results.counts.refused.entry(status).or_default() += request.messages;
            return;
        }
        let ids = match serde_json::from_slice::<AcceptedBody<'_>>(body) {
            Ok(accepted) => accepted.messages,
            Err(_) => Vec::new(),
        };
        let answered = (ids.len() as u64).min(request.messages);
        results.counts.accepted += answered;
        results
            .counts
            .error(ErrorKind::Malformed, request.messages - answered);
        if self.shared.callback_url.get().is_none() {
            return;
        }
        for entry in ids.iter().take(answered as usize) {
            let Some(key) = id_key(entry.id.as_bytes(), IdMatch::Text) else {
                continue;
            };
            match self.shared.tracker.expect(key, request.intended_ns) {
                Expect::Tracked => {}
                Expect::Matched { receipt_ns } => {
                    results.counts.callbacks_matched += 1;
                    results.counts.callbacks_early += 1;
                    let us = micros(Duration::from_nanos(
                        receipt_ns.saturating_sub(request.intended_ns),
                    ));
                    let _ = results.callback_us.record(us.max(1));
                }
                Expect::Full => results.counts.callbacks_untracked += 1,
            }
        }
    }
}

/// Runs one connection until its sender is done or the connection is lost.
pub async fn run(stream: TcpStream, sender: &mut Sender) -> ConnEnd {
    let _ = stream.set_nodelay(true);
    let concurrency = sender.shared.config.concurrency;
    let timeout = Duration::from_secs(sender.shared.config.response_timeout_s.clamp(1, 3600));
    let mut pump = Pump {
        stream,
        out: Vec::with_capacity(64 * 1024),
        written: 0,
        rbuf: vec![0; READ_BUF_LEN],
        rstart: 0,
        rend: 0,
        scratch: Vec::new(),
        inflight: VecDeque::with_capacity(concurrency),
        concurrency,
        timeout_ns: u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX),
        next_send: None,
        timer: None,
    };
    let end = futures_lite::future::poll_fn(|cx| pump.poll(cx, sender)).await;
    if let ConnEnd::Lost(kind) = end {
        let lost: u64 = pump.inflight.iter().map(|r| r.messages).sum();
        sender.results.borrow_mut().counts.error(kind, lost);
    }
    end
}

struct Pump {
    stream: TcpStream,
    out: Vec<u8>,
    written: usize,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    scratch: Vec<u8>,
    inflight: VecDeque<InFlight>,
    concurrency: usize,
    timeout_ns: u64,
    next_send: Option<Instant>,
    timer: Option<Timer>,
}

impl Pump {
    fn poll(&mut self, cx: &mut Context<'_>, sender: &mut Sender) -> Poll<ConnEnd> {
        for _ in 0..TURNS_PER_POLL_MAX {
            match self.turn(cx, sender) {
                Ok(true) => continue,
                Ok(false) => return self.park(cx, sender),
                Err(end) => return Poll::Ready(end),
            }
        }
        // Fairness: the executor's other connections get their turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn park(&mut self, cx: &mut Context<'_>, sender: &Sender) -> Poll<ConnEnd> {
        let timeout_at = self.inflight.front().map(|r| {
            sender.shared.base + Duration::from_nanos(r.queued_ns.saturating_add(self.timeout_ns))
        });
        let next = match (timeout_at, self.next_send) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(at) = next {
            let wait = at.saturating_duration_since(Instant::now());
            let timer = self.timer.get_or_insert_with(|| Timer::new(wait));
            timer.reset(wait);
            if Pin::new(timer).poll(cx).is_ready() {
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    }

    /// One turn; `Ok(true)` when something moved, `Err` when the connection is over.
    fn turn(&mut self, cx: &mut Context<'_>, sender: &mut Sender) -> Result<bool, ConnEnd> {
        let now = Instant::now();
        if let Some(front) = self.inflight.front()
            && sender.now_ns(now).saturating_sub(front.queued_ns) >= self.timeout_ns
        {
            return Err(ConnEnd::Lost(ErrorKind::Timeout));
        }
        let mut progress = self.flush(cx)?;
        progress |= self.read(cx, sender, now)?;
        progress |= self.produce(sender, now);
        // After `produce`: it is what notices that the run's time is up.
        if sender.quota == 0 && self.inflight.is_empty() && self.written >= self.out.len() {
            return Err(ConnEnd::Finished);
        }
        Ok(progress)
    }

    fn flush(&mut self, cx: &mut Context<'_>) -> Result<bool, ConnEnd> {
        let Some(pending) = self.out.get(self.written..).filter(|p| !p.is_empty()) else {
            return Ok(false);
        };
        match Pin::new(&mut self.stream).poll_write(cx, pending) {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => Err(ConnEnd::Lost(ErrorKind::Closed)),
            Poll::Ready(Ok(n)) => {
                self.written += n;
                if self.written >= self.out.len() {
                    self.out.clear();
                    self.written = 0;
                }
                Ok(true)
            }
            Poll::Pending => Ok(false),
        }
    }

    fn read(
        &mut self,
        cx: &mut Context<'_>,
        sender: &mut Sender,
        now: Instant,
    ) -> Result<bool, ConnEnd> {
        if self.inflight.is_empty() {
            return Ok(false);
        }
        self.make_room()?;
        let Some(space) = self.rbuf.get_mut(self.rend..) else {
            return Err(ConnEnd::Lost(ErrorKind::Malformed));
        };
        match Pin::new(&mut self.stream).poll_read(cx, space) {
            Poll::Pending => Ok(false),
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => Err(ConnEnd::Lost(ErrorKind::Closed)),
            Poll::Ready(Ok(n)) => {
                self.rend += n;
                self.handle_responses(sender, now)?;
                Ok(true)
            }
        }
    }

    /// Compacts the read buffer, growing it (bounded) when a response fills it.
    fn make_room(&mut self) -> Result<(), ConnEnd> {
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
        } else if self.rend == self.rbuf.len() {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
            if self.rend == self.rbuf.len() {
                if self.rbuf.len() >= READ_BUF_LEN_MAX {
                    return Err(ConnEnd::Lost(ErrorKind::Malformed));
                }
                let len = (self.rbuf.len() * 2).min(READ_BUF_LEN_MAX);
                self.rbuf.resize(len, 0);
            }
        }
        Ok(())
    }

    fn handle_responses(&mut self, sender: &mut Sender, now: Instant) -> Result<(), ConnEnd> {
        loop {
            let input = self.rbuf.get(self.rstart..self.rend).unwrap_or_default();
            let response = match wire::parse_response(input, &mut self.scratch) {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(()),
                Err(WireError::Unframed) | Err(_) => {
                    return Err(ConnEnd::Lost(ErrorKind::Malformed));
                }
            };
            self.rstart += response.consumed;
            if (100..200).contains(&response.status) {
                continue;
            }
            let Some(request) = self.inflight.pop_front() else {
                // An answer nobody asked for: the pipeline is out of step.
                return Err(ConnEnd::Lost(ErrorKind::Malformed));
            };
            let body = response.body.slice(input, &self.scratch);
            sender.on_response(request, response.status, body, now);
            if response.close {
                return Err(ConnEnd::Lost(ErrorKind::Closed));
            }
        }
    }

    fn produce(&mut self, sender: &mut Sender, now: Instant) -> bool {
        self.next_send = None;
        let mut progress = false;
        while self.inflight.len() < self.concurrency
            && self.out.len() - self.written < WRITE_HIGH_WATER
        {
            match sender.next(&mut self.out, now) {
                Next::Sent(request) => {
                    self.inflight.push_back(request);
                    progress = true;
                }
                Next::At(at) => {
                    self.next_send = Some(at);
                    break;
                }
                Next::Done => break,
            }
        }
        progress
    }
}
