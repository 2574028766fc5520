//! The SMPP session as a sans-IO state machine, for both ends of a link (ESME and SMSC).
//!
//! # Shape
//!
//! A [`Session`] owns no socket and reads no clock. Its caller (the glommio shard, or a
//! test with a virtual clock) decodes PDUs and hands the session their [`Header`]s with
//! [`Session::handle_pdu`], calls [`Session::handle_timeout`] when
//! [`Session::poll_timeout`] says so, and after every call drains
//! [`Session::poll_action`] until it returns `None`. Every method that can move time
//! takes `now: Instant`. The session decides what is allowed, allocates sequence numbers,
//! tracks outstanding requests and their deadlines, and tells the caller what to send,
//! deliver, report or close ([`Action`]). Bodies never reach it: the caller encodes
//! requests and responses that have a body (bind, submit_sm, deliver_sm_resp, …) with
//! the sequence number the session gives it, and encodes the header-only PDUs the session
//! asks for ([`Action::Send`]) with the codec's `encode_header_only`.
//!
//! [`Header`] here is the three fields the session reads, without `command_length`: the
//! session depends on nothing but [`crate::command`] and is tested apart from the codec.
//! A decoded [`crate::Header`] converts with `Header::from(h)`.
//!
//! # States (SMPP 3.4 §2.3)
//!
//! ```text
//! Open      ── bind() (ESME) / bind received (SMSC) ─────────────────────► Binding
//! Binding   ── bind_resp OK / answer_bind(OK) ───────────────────────────► Bound(TX|RX|TRX)
//! Binding   ── bind_resp error or generic_nack / answer_bind(error) ─────► Open
//! Bound     ── unbind() / inactivity / unbind received with answers due ─► Unbinding
//! Unbinding ── unbind_resp received / our unbind_resp sent / timeout ────► Closed
//! Open, Binding, Bound ── unbind received, nothing to answer ─────────────► Closed
//! any       ── bind_timeout before Bound / enquire_link, bind or unbind
//!              unanswered / too many timeouts / close() / connection lost ► Closed
//! ESME in Open: outbind received → Action::OutbindReceived; the app calls bind().
//! ```
//!
//! What the peer may send in each state, and what the session does with it (our role in
//! parentheses; "refuse S" = answer the request's `_resp`, or generic_nack when it has none,
//! with status S and do not deliver):
//!
//! | inbound request | Open | Binding | Bound(kind) | Unbinding |
//! |---|---|---|---|---|
//! | bind_* (SMSC) | `BindRequested` → Binding | refuse `RALYBND` | refuse `RALYBND` | refuse `RINVBNDSTS` |
//! | bind_* (ESME) | refuse `RINVCMDID` | same | same | same |
//! | outbind (ESME) | `OutbindReceived` | refuse `RALYBND` | refuse `RALYBND` | refuse `RINVBNDSTS` |
//! | outbind (SMSC) | refuse `RINVCMDID` | same | same | same |
//! | enquire_link | answer OK | answer OK | answer OK | answer OK |
//! | unbind | answer OK, close | answer OK, close | answer OK once the app has answered every delivered request (or after `response_timeout`), close | answer OK, close (crossed unbinds) |
//! | submit_sm, submit_multi, query_sm, cancel_sm, replace_sm, the broadcast_sm family (SMSC) | refuse `RINVBNDSTS` | refuse `RINVBNDSTS` | TX/TRX: deliver; RX: refuse `RINVBNDSTS` | refuse `RINVBNDSTS` |
//! | deliver_sm, alert_notification (ESME) | refuse `RINVBNDSTS` | refuse `RINVBNDSTS` | RX/TRX: deliver; TX: refuse `RINVBNDSTS` | refuse `RINVBNDSTS` |
//! | data_sm | refuse `RINVBNDSTS` | refuse `RINVBNDSTS` | deliver when the bind carries the peer's direction, else `RINVBNDSTS` | refuse `RINVBNDSTS` |
//! | a command the peer's role never sends (an ESME's deliver_sm) | refuse `RINVBNDSTS` | same | refuse `RINVCMDID` | refuse `RINVBNDSTS` |
//! | unknown command id | generic_nack `RINVCMDID` | same | same | same |
//!
//! A delivered request beyond `inbound_window_size` unanswered ones is refused with
//! `ESME_RTHROTTLED` (the caller should have stopped reading: [`Session::wants_read`]);
//! one that reuses the sequence number of a request still awaiting our answer is refused
//! with `ESME_RSYSERR`, because the peer could not tell the two answers apart. Requests
//! with sequence number 0 or above 0x7FFFFFFF are accepted and answered with the same
//! number: be lenient in what you accept.
//!
//! Responses are accepted in every state but Closed and matched by sequence number; the
//! match also requires the response to be the request's `_resp` or a generic_nack.
//! Anything else is reported as [`Action::UnmatchedResponse`] and otherwise ignored.
//!
//! What we may send: [`Session::can_send`] applies the same table to our own role:
//! application requests only while Bound, only in our role's direction, and only on a
//! bind that carries it (an ESME's submit_sm needs TX/TRX, an SMSC's deliver_sm RX/TRX).
//! Unknown (vendor) request ids are let through on any bind: the app knows what it sends.
//!
//! # Error responses without a body
//!
//! When the session refuses a request it asks for a header-only `_resp` with an error
//! status. SMPP 3.4 §3.2 lets an error response carry no body for most commands. For
//! bind_*_resp and submit_sm_resp / data_sm_resp / deliver_sm_resp some decoders insist
//! on the mandatory `system_id` / `message_id` C-string: a caller that talks to such
//! peers may append one NUL byte (an empty C-string) to those responses.
//!
//! # Timers
//!
//! - every request we send (application, bind, enquire_link, unbind) waits at most
//!   `response_timeout`. An application request that expires is reported
//!   [`Action::TimedOut`] (its window slot is free again; a late response is then
//!   unmatched); `close_after_timeouts` of them in a row close the session as a dead peer.
//!   An expired bind, enquire_link or unbind closes the session.
//! - `enquire_link_interval` with nothing received while bound: send enquire_link.
//! - `inactivity_timeout` with no PDU but enquire_link(_resp) in either direction while
//!   bound: unbind. enquire_link proves the link is alive; inactivity frees a bind nobody
//!   uses, so keep-alives must not reset it.
//! - `bind_timeout` from the session's start to Bound (SMPP 5.0 `session_init_timer`).
//!
//! A `now` earlier than one already seen is taken as the latest seen, so deadlines never
//! move backwards and the oldest request is always the next to expire.
//!
//! # Unbinding
//!
//! - Local ([`Session::unbind`], or inactivity): no new requests either way (the
//!   peer's are refused `ESME_RINVBNDSTS`); unbind is sent once every request we sent is
//!   answered or timed out and the app has answered every request delivered to it, so
//!   no acknowledgement is lost in either direction — or after `response_timeout` at
//!   the latest; then the session waits `response_timeout` for unbind_resp and closes.
//! - Peer: inbound requests are refused from then on; the unbind_resp is sent once the
//!   app has answered every request already delivered, so acknowledged work reaches the
//!   peer; after `response_timeout` the rest are dropped ([`Session::respond`] then fails
//!   with [`AnswerError::Closed`]) and unbind_resp goes out anyway.
//!
//! On close every application request still outstanding is reported
//! [`Action::Abandoned`], then [`Action::Close`] comes last; nothing follows it.
//!
//! # Bounds
//!
//! Outbound application requests ≤ `window_size`, plus at most two session requests
//! (bind, or enquire_link and unbind). Inbound requests awaiting the app ≤
//! `inbound_window_size`. One call produces at most `window_size + 2` actions
//! ([`Session::max_actions_per_call`]: a close reports every outstanding request): the
//! action queue is allocated at that size once and, drained after every call as the
//! contract says, never grows. Nothing allocates after [`Session::new`].
//!
//! # Why hand-written
//!
//! The session sits on the hot path (every PDU passes through it) and is the place
//! where peers' protocol deviations are absorbed; existing crates tie the state machine
//! to their own I/O and PDU types. This one works on headers only, allocates nothing
//! per PDU, and is driven by tests with a virtual clock (`tests/session_pair.rs`).
//! Outstanding requests live in a fixed slab threaded in deadline order and indexed by
//! sequence number (`table.rs`), so matching a response, expiring the oldest request
//! and finding the next deadline are all O(1) whatever order responses come in. The
//! index hashes sequence numbers with one multiply instead of SipHash: the numbers are
//! ours or echo ours, and SipHash tripled the cost of a message.
//!
//! # Measured
//!
//! Criterion, `window_size` 64, on the 2-vCPU build VM while other builds ran (load
//! 5–8, so figures are noisy upper bounds):
//!
//! | per message | time |
//! |---|---|
//! | ESME: `begin_request` + `handle_pdu(submit_sm_resp)` + drain + `poll_timeout`, 32 in flight | 69–87 ns |
//! | SMSC: `handle_pdu(submit_sm)` + drain + `respond` + `poll_timeout` | 55–66 ns |
//! | the same two with a SipHash index | 240 ns / 108 ns |
//!
//! Command: `cargo bench -p tern-smpp --bench session -- --warm-up-time 1
//! --measurement-time 3` (`benches/session.rs`, `[[bench]] name = "session"`,
//! `harness = false`).

mod inbound;
mod rules;
mod table;
mod timers;
mod types;

use std::collections::VecDeque;
use std::time::Instant;

pub use types::{
    Action, AnswerError, BindKind, CloseReason, Config, ConfigError, Header, RequestError, Role,
    SEQUENCE_NUMBER_MAX, State, TIMER_DURATION_MAX, WINDOW_SIZE_MAX,
};
use types::{INTERFACE_VERSION_33, INTERFACE_VERSION_34};

use crate::command::{CommandId, CommandStatus};
use rules::Permission;
use table::{Outstanding, RequestTable, SequenceMap};

/// Session requests that may be outstanding beside a full window: enquire_link and
/// unbind (or, before the bind completes, the bind alone).
const SESSION_REQUESTS_MAX: usize = 2;

/// Actions one call can add beyond one per window slot: a close after a peer's unbind
/// sends unbind_resp, abandons up to `window_size` requests, then closes.
const ACTIONS_BEYOND_WINDOW: usize = 2;

/// Where the session is, with what each state needs to remember.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    /// ESME: our bind with this sequence number is outstanding. SMSC: the peer's bind
    /// with this sequence number awaits the app's `answer_bind`.
    Binding {
        kind: BindKind,
        sequence_number: u32,
    },
    Bound(BindKind),
    /// We unbind: first both windows drain (until `drain_deadline` at most), then unbind
    /// goes out and awaits unbind_resp.
    LocalUnbind {
        reason: CloseReason,
        unbind_sent: bool,
        drain_deadline: Instant,
    },
    /// The peer sent unbind: its unbind_resp waits for the app's answers until `deadline`.
    PeerUnbind {
        sequence_number: u32,
        deadline: Instant,
    },
    Closed,
}

/// One SMPP session (one bind on one connection), driven by its caller.
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: Config,
    phase: Phase,
    outbound: RequestTable,
    /// Outbound application requests in `outbound` (the rest are session requests).
    app_outstanding: usize,
    /// Delivered inbound requests awaiting the app's answer: sequence number → the
    /// response's command id.
    inbound: SequenceMap<CommandId>,
    actions: VecDeque<Action>,
    next_sequence_number: u32,
    consecutive_timeouts: u32,
    enquire_link_pending: bool,
    peer_interface_version: Option<u8>,
    started_at: Instant,
    latest_now: Instant,
    last_received_at: Instant,
    last_activity_at: Instant,
}

impl Session {
    /// A session that starts in Open at `now` (when the connection was established).
    pub fn new(role: Role, config: Config, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        // Validated above: both sizes are at most WINDOW_SIZE_MAX, so they fit a usize.
        let window_size = config.window_size as usize;
        let inbound_window_size = config.inbound_window_size as usize;
        Ok(Session {
            role,
            phase: Phase::Open,
            outbound: RequestTable::with_capacity(window_size + SESSION_REQUESTS_MAX),
            app_outstanding: 0,
            inbound: table::sequence_map(inbound_window_size),
            actions: VecDeque::with_capacity(window_size + ACTIONS_BEYOND_WINDOW),
            next_sequence_number: config.initial_sequence_number,
            consecutive_timeouts: 0,
            enquire_link_pending: false,
            peer_interface_version: None,
            started_at: now,
            latest_now: now,
            last_received_at: now,
            last_activity_at: now,
            config,
        })
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration the session runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The SMPP state.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Open => State::Open,
            Phase::Binding { kind, .. } => State::Binding(kind),
            Phase::Bound(kind) => State::Bound(kind),
            Phase::LocalUnbind { .. } | Phase::PeerUnbind { .. } => State::Unbinding,
            Phase::Closed => State::Closed,
        }
    }

    /// True once the session has closed; it then ignores every event.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Outbound application requests awaiting a response (at most `window_size`).
    pub fn outstanding_requests(&self) -> usize {
        self.app_outstanding
    }

    /// Inbound requests delivered to the app and not yet answered.
    pub fn inbound_pending(&self) -> usize {
        self.inbound.len()
    }

    /// The peer's interface_version once known (from its bind, or from bind_resp's
    /// sc_interface_version, where absence means 3.3).
    pub fn peer_interface_version(&self) -> Option<u8> {
        self.peer_interface_version
    }

    /// False for SMPP 3.3 peers (and while unknown): the caller must then omit TLVs.
    pub fn peer_accepts_tlvs(&self) -> bool {
        self.peer_interface_version
            .is_some_and(|v| v >= INTERFACE_VERSION_34)
    }

    /// The most actions a single call can queue (`window_size + 2`).
    pub fn max_actions_per_call(&self) -> usize {
        self.config.window_size as usize + ACTIONS_BEYOND_WINDOW
    }

    /// False when the caller should stop reading PDUs: closed, or the app already holds
    /// `inbound_window_size` unanswered requests.
    pub fn wants_read(&self) -> bool {
        !self.is_closed() && self.inbound.len() < self.config.inbound_window_size as usize
    }

    /// The next thing for the caller to do, oldest first.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When to call [`Session::handle_timeout`] next; `None` when no timer runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_deadline()
    }

    /// Whether an application request with this command could be sent now.
    pub fn can_send(&self, command_id: CommandId) -> Result<(), RequestError> {
        if command_id.is_response() || rules::is_session_command(command_id) {
            return Err(RequestError::ManagedBySession(command_id));
        }
        let kind = match self.phase {
            Phase::Open | Phase::Binding { .. } => return Err(RequestError::NotBound),
            Phase::LocalUnbind { .. } | Phase::PeerUnbind { .. } | Phase::Closed => {
                return Err(RequestError::Closing);
            }
            Phase::Bound(kind) => kind,
        };
        if rules::permission(self.role, command_id, kind) != Permission::Allowed {
            return Err(RequestError::NotAllowed(command_id));
        }
        let needs_slot = command_id.response().is_some();
        if needs_slot && self.app_outstanding >= self.config.window_size as usize {
            return Err(RequestError::WindowFull);
        }
        Ok(())
    }

    /// Reserves a window slot for an application request and returns the sequence number
    /// to encode it with. `token` comes back in [`Action::Completed`] / [`Action::TimedOut`]
    /// / [`Action::Abandoned`]. Requests without a response (alert_notification) take no
    /// slot and are not tracked.
    pub fn begin_request(
        &mut self,
        command_id: CommandId,
        token: u64,
        now: Instant,
    ) -> Result<u32, RequestError> {
        self.can_send(command_id)?;
        let now = self.clock(now);
        self.last_activity_at = now;
        let sequence_number = self.allocate_sequence_number();
        if command_id.response().is_some() {
            self.track(command_id, sequence_number, token, now)?;
            self.app_outstanding += 1;
        }
        Ok(sequence_number)
    }

    /// ESME role: starts a bind from Open and returns the sequence number to encode the
    /// bind_* PDU with (interface_version 0x34 or what the link needs).
    pub fn bind(&mut self, kind: BindKind, now: Instant) -> Result<u32, RequestError> {
        if self.role != Role::Esme {
            return Err(RequestError::WrongRole);
        }
        self.check_open()?;
        let now = self.clock(now);
        let sequence_number = self.allocate_sequence_number();
        self.track(kind.request_id(), sequence_number, 0, now)?;
        self.phase = Phase::Binding {
            kind,
            sequence_number,
        };
        Ok(sequence_number)
    }

    /// SMSC role: returns the sequence number for an outbind PDU (which has no response);
    /// the ESME is then expected to bind within `bind_timeout`.
    pub fn outbind(&mut self, now: Instant) -> Result<u32, RequestError> {
        if self.role != Role::Smsc {
            return Err(RequestError::WrongRole);
        }
        self.check_open()?;
        let now = self.clock(now);
        self.last_activity_at = now;
        Ok(self.allocate_sequence_number())
    }

    /// Starts the unbind handshake: no new requests; unbind goes out (as an
    /// [`Action::Send`]) once the window has drained; closes on unbind_resp or timeout.
    pub fn unbind(&mut self, now: Instant) -> Result<(), RequestError> {
        match self.phase {
            Phase::Open | Phase::Binding { .. } => Err(RequestError::NotBound),
            Phase::LocalUnbind { .. } | Phase::PeerUnbind { .. } | Phase::Closed => {
                Err(RequestError::Closing)
            }
            Phase::Bound(_) => {
                let now = self.clock(now);
                self.start_local_unbind(CloseReason::UnboundLocally, now);
                Ok(())
            }
        }
    }

    /// Closes at once without a handshake (after a refused bind, on shutdown).
    pub fn close(&mut self, now: Instant) {
        if !self.is_closed() {
            self.clock(now);
            self.close_with(CloseReason::Local);
        }
    }

    /// The connection broke: report outstanding requests abandoned and close.
    pub fn handle_connection_lost(&mut self, now: Instant) {
        if !self.is_closed() {
            self.clock(now);
            self.close_with(CloseReason::ConnectionLost);
        }
    }

    /// The app answers a delivered request; returns the response command id to encode
    /// with that sequence number (and the app's status and body).
    pub fn respond(
        &mut self,
        sequence_number: u32,
        now: Instant,
    ) -> Result<CommandId, AnswerError> {
        if self.is_closed() {
            return Err(AnswerError::Closed);
        }
        let response_id = self
            .inbound
            .remove(&sequence_number)
            .ok_or(AnswerError::UnknownSequence(sequence_number))?;
        let now = self.clock(now);
        self.last_activity_at = now;
        if let Phase::PeerUnbind {
            sequence_number, ..
        } = self.phase
            && self.inbound.is_empty()
        {
            self.finish_peer_unbind(sequence_number);
        }
        self.send_unbind_when_drained(now);
        Ok(response_id)
    }

    /// SMSC role: the app's verdict on an [`Action::BindRequested`]. `ESME_ROK` binds;
    /// any other status returns the session to Open. Returns the bind_*_resp command id
    /// to encode with that sequence number and status.
    pub fn answer_bind(
        &mut self,
        sequence_number: u32,
        command_status: CommandStatus,
        now: Instant,
    ) -> Result<CommandId, AnswerError> {
        if self.is_closed() {
            return Err(AnswerError::Closed);
        }
        let kind = match self.phase {
            Phase::Binding {
                kind,
                sequence_number: pending,
            } if self.role == Role::Smsc && pending == sequence_number => kind,
            _ => return Err(AnswerError::UnknownSequence(sequence_number)),
        };
        let now = self.clock(now);
        if command_status.is_ok() {
            self.enter_bound(kind, now);
        } else {
            self.phase = Phase::Open;
        }
        Ok(kind.response_id())
    }

    /// A PDU arrived. `interface_version` is the bind request's interface_version or the
    /// bind_resp's sc_interface_version TLV, `None` for other PDUs or when absent (which
    /// counts as SMPP 3.3).
    pub fn handle_pdu(&mut self, header: Header, interface_version: Option<u8>, now: Instant) {
        if self.is_closed() {
            return;
        }
        let now = self.note_received(header.command_id, now);
        if header.command_id.is_response() {
            self.on_response(header, interface_version, now);
        } else {
            self.on_request(header, interface_version, now);
        }
    }

    /// A request whose body did not decode: answer it with `command_status` (e.g.
    /// `ESME_RINVMSGLEN`, or `ESME_RINVCMDID` for an unknown id) without delivering it.
    /// A response with a broken body still answers its request: pass it to
    /// [`Session::handle_pdu`] instead; this method does that for you.
    pub fn reject_request(&mut self, header: Header, command_status: CommandStatus, now: Instant) {
        if self.is_closed() {
            return;
        }
        if header.command_id.is_response() {
            return self.handle_pdu(header, None, now);
        }
        self.note_received(header.command_id, now);
        self.refuse(header, command_status);
    }

    /// Runs every timer due at `now`; harmless when none is.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        let now = self.clock(now);
        self.on_timeout(now);
    }

    /// Never lets time run backwards (see the module docs).
    fn clock(&mut self, now: Instant) -> Instant {
        if now > self.latest_now {
            self.latest_now = now;
        }
        self.latest_now
    }

    /// Records traffic: anything received keeps enquire_link quiet; anything but
    /// enquire_link(_resp) also counts as activity.
    fn note_received(&mut self, command_id: CommandId, now: Instant) -> Instant {
        let now = self.clock(now);
        self.last_received_at = now;
        if command_id != CommandId::ENQUIRE_LINK && command_id != CommandId::ENQUIRE_LINK_RESP {
            self.last_activity_at = now;
        }
        now
    }

    fn check_open(&self) -> Result<(), RequestError> {
        match self.phase {
            Phase::Open => Ok(()),
            Phase::Binding { .. } | Phase::Bound(_) => Err(RequestError::AlreadyBound),
            Phase::LocalUnbind { .. } | Phase::PeerUnbind { .. } | Phase::Closed => {
                Err(RequestError::Closing)
            }
        }
    }

    /// The next sequence number: 1..=0x7FFFFFFF, wrapping, skipping any still outstanding.
    fn allocate_sequence_number(&mut self) -> u32 {
        let mut candidate = self.next_sequence_number;
        // Bounded: the table holds fewer entries than this many distinct candidates.
        for _ in 0..=self.outbound.len() {
            candidate = self.next_sequence_number;
            self.next_sequence_number = if candidate >= SEQUENCE_NUMBER_MAX {
                1
            } else {
                candidate + 1
            };
            if !self.outbound.contains(candidate) {
                break;
            }
        }
        candidate
    }

    /// Records an outbound request awaiting its response.
    fn track(
        &mut self,
        command_id: CommandId,
        sequence_number: u32,
        token: u64,
        now: Instant,
    ) -> Result<(), RequestError> {
        let entry = Outstanding {
            sequence_number,
            command_id,
            token,
            deadline: timers::after(now, self.config.response_timeout),
        };
        // Cannot fail: capacity covers a full window plus every session request, and the
        // number was allocated free; refusing beats corrupting the table if it ever did.
        if self.outbound.insert(entry) {
            Ok(())
        } else {
            Err(RequestError::WindowFull)
        }
    }

    fn enter_bound(&mut self, kind: BindKind, now: Instant) {
        self.phase = Phase::Bound(kind);
        self.last_activity_at = now;
        let peer_interface_version = self.peer_interface_version.unwrap_or(INTERFACE_VERSION_33);
        self.push(Action::Bound {
            kind,
            peer_interface_version,
        });
    }

    fn start_local_unbind(&mut self, reason: CloseReason, now: Instant) {
        self.phase = Phase::LocalUnbind {
            reason,
            unbind_sent: false,
            drain_deadline: timers::after(now, self.config.response_timeout),
        };
        self.send_unbind_when_drained(now);
    }

    /// Sends the pending local unbind once every request in both directions is answered,
    /// or at the drain deadline (by which every request we sent has expired anyway).
    fn send_unbind_when_drained(&mut self, now: Instant) {
        let Phase::LocalUnbind {
            reason,
            unbind_sent: false,
            drain_deadline,
        } = self.phase
        else {
            return;
        };
        let drained = self.app_outstanding == 0 && self.inbound.is_empty();
        if !drained && now < drain_deadline {
            return;
        }
        let sequence_number = self.allocate_sequence_number();
        if self
            .track(CommandId::UNBIND, sequence_number, 0, now)
            .is_err()
        {
            return self.close_with(reason);
        }
        self.phase = Phase::LocalUnbind {
            reason,
            unbind_sent: true,
            drain_deadline,
        };
        self.push(Action::Send(Header::request(
            CommandId::UNBIND,
            sequence_number,
        )));
    }

    /// Answers the peer's unbind and closes.
    fn finish_peer_unbind(&mut self, sequence_number: u32) {
        self.push(Action::Send(Header::new(
            CommandId::UNBIND_RESP,
            CommandStatus::ESME_ROK,
            sequence_number,
        )));
        self.close_with(CloseReason::UnboundByPeer);
    }

    /// Reports every outstanding application request abandoned, then closes.
    fn close_with(&mut self, reason: CloseReason) {
        while let Some(entry) = self.outbound.pop_oldest() {
            if !rules::is_session_command(entry.command_id) {
                self.push(Action::Abandoned {
                    sequence_number: entry.sequence_number,
                    token: entry.token,
                    command_id: entry.command_id,
                });
            }
        }
        self.app_outstanding = 0;
        self.inbound.clear();
        self.enquire_link_pending = false;
        self.phase = Phase::Closed;
        self.push(Action::Close { reason });
    }

    /// Answers a request the session will not deliver: with its `_resp`, or with
    /// generic_nack when it has none or is unknown (its `_resp` would be unknown too).
    fn refuse(&mut self, header: Header, command_status: CommandStatus) {
        let command_id = Some(header.command_id)
            .filter(|id| id.is_known())
            .and_then(CommandId::response)
            .unwrap_or(CommandId::GENERIC_NACK);
        self.push(Action::Send(Header::new(
            command_id,
            command_status,
            header.sequence_number,
        )));
    }

    fn push(&mut self, action: Action) {
        self.actions.push_back(action);
    }
}
