//! A glommio SMPP connection pump, free of any simulator, load-generator or engine logic.
//!
//! It is protocol I/O shared by the engine's client sessions and upstream connectors
//! and by the bench suite's simulator and load generator.
//!
//! [`run`] owns one `TcpStream`, a read buffer and a write buffer, and drives a sans-IO
//! [`Session`]: it frames and decodes every complete PDU in a read, feeds the headers to
//! the session, drains its actions, and hands application PDUs to a role-specific
//! [`Handler`]. Everything the handler and the session want sent is encoded into one
//! reusable output buffer and written with one `write` per turn, never one per PDU.
//!
//! Backpressure: the pump stops reading while the session says `wants_read() == false`
//! or while more than `write_high_water` octets wait to be written, and asks the handler
//! to produce new requests only in the latter case too. Timers: the session's
//! `poll_timeout()` and the handler's own next wake-up arm one glommio timer.
//!
//! Losing the connection (EOF, a failed read or a failed write) reports every
//! outstanding request to [`Handler::on_lost`] as `Abandoned` before the pump returns:
//! a simulator requeues its receipts, the engine requeues its submits.
//!
//! # Why hand-written
//! It sits on every SMPP byte of the gateway, the simulator and the load generator.
//! Existing SMPP crates bring their own I/O model, allocate per PDU and write per PDU;
//! here PDUs decode in place from the read buffer, encode into one reused buffer, and a
//! turn's output leaves in one `write`. Its throughput is measured through its users
//! (`bench/README.md`, `engine/src/gateway/mod.rs`).

#![warn(missing_docs)]

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_lite::io::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;
use glommio::timer::Timer;
use tern_smpp::session::{
    Action, AnswerError, BindKind, CloseReason, Config, ConfigError, Header, RequestError, Role,
    Session,
};
use tern_smpp::tlv::{Tlv, Tlvs};
use tern_smpp::{
    Bind, BindResp, Body, CommandId, CommandStatus, FrameError, Framer, HEADER_LEN,
    INTERFACE_VERSION_34, Pdu, encode_header_only,
};

/// Most loop turns one poll of the pump runs before it yields to other tasks.
const TURNS_PER_POLL_MAX: u32 = 32;

/// How a connection starts: the ESME binds out, the SMSC waits for a bind.
#[derive(Clone, Debug)]
pub enum Start {
    /// Bind as an ESME with these credentials.
    Esme {
        /// The bind kind.
        kind: BindKind,
        /// system_id sent in the bind.
        system_id: String,
        /// password sent in the bind.
        password: String,
        /// system_type sent in the bind.
        system_type: String,
    },
    /// Accept a bind as an SMSC; `system_id` goes into bind_resp.
    Smsc {
        /// Our system_id.
        system_id: String,
    },
}

/// Buffers and session settings of one connection.
#[derive(Clone, Debug)]
pub struct ConnConfig {
    /// The session's timers and windows.
    pub session: Config,
    /// Largest PDU accepted from the peer, in octets.
    pub max_pdu_len: u32,
    /// Size of the read buffer in octets (at least twice `max_pdu_len` is used).
    pub read_buffer_size: usize,
    /// Stop reading and producing while more octets than this wait to be written.
    pub write_high_water: usize,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            session: Config::default(),
            max_pdu_len: tern_smpp::DEFAULT_MAX_PDU_LEN,
            read_buffer_size: 256 * 1024,
            write_high_water: 256 * 1024,
        }
    }
}

/// Why a connection ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The socket failed.
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    /// The session configuration is out of bounds.
    #[error("session config: {0}")]
    Config(#[from] ConfigError),
    /// The SMSC refused our bind.
    #[error("bind refused with {0:?}")]
    BindRefused(CommandStatus),
    /// The session refused a request we asked for (a bug in the caller).
    #[error("request refused: {0}")]
    Request(#[from] RequestError),
    /// The peer broke framing (command_length out of bounds).
    #[error("framing lost: {0}")]
    Framing(#[from] FrameError),
    /// A PDU we built could not be encoded.
    #[error("encode: {0}")]
    Encode(#[from] tern_smpp::EncodeError),
}

/// Why [`Link::send_request`] or [`Link::respond`] could not queue a PDU.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The session does not allow the request now.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The session refused the answer.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// The PDU could not be encoded.
    #[error(transparent)]
    Encode(#[from] tern_smpp::EncodeError),
}

/// What the handler wants after [`Handler::produce`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Produce {
    /// Keep going; call `produce` again at this instant at the latest (or when woken).
    Continue(Option<Instant>),
    /// Unbind gracefully: the session drains both windows, then unbinds.
    Unbind,
    /// Flush what is queued and drop the TCP connection without unbinding.
    Disconnect,
}

/// The handler's view of the session and the output buffer during a callback.
pub struct Link<'a> {
    session: &'a mut Session,
    out: &'a mut Vec<u8>,
}

impl Link<'_> {
    /// True when an application request with `command_id` may be sent now.
    pub fn can_send(&self, command_id: CommandId) -> bool {
        self.session.can_send(command_id).is_ok()
    }

    /// Application requests outstanding (awaiting their response).
    pub fn outstanding(&self) -> usize {
        self.session.outstanding_requests()
    }

    /// False for SMPP 3.3 peers: omit TLVs.
    pub fn peer_accepts_tlvs(&self) -> bool {
        self.session.peer_accepts_tlvs()
    }

    /// Octets waiting to be written.
    pub fn queued_octets(&self) -> usize {
        self.out.len()
    }

    /// Encodes a request with the session's next sequence number; `token` comes back in
    /// [`Handler::on_completed`] or [`Handler::on_lost`].
    pub fn send_request(
        &mut self,
        body: Body<'_>,
        token: u64,
        now: Instant,
    ) -> Result<u32, LinkError> {
        self.session.can_send(body.command_id())?;
        let start = self.out.len();
        // Encode first with a placeholder so a body that cannot be encoded never takes a
        // window slot; the sequence number is patched in once the session allots one.
        Pdu::new(0, body).encode(self.out)?;
        match self
            .session
            .begin_request(self.out_command(start), token, now)
        {
            Ok(sequence_number) => {
                if let Some(slot) = self.out.get_mut(start + 12..start + HEADER_LEN) {
                    slot.copy_from_slice(&sequence_number.to_be_bytes());
                }
                Ok(sequence_number)
            }
            Err(e) => {
                self.out.truncate(start);
                Err(e.into())
            }
        }
    }

    fn out_command(&self, start: usize) -> CommandId {
        let id = self
            .out
            .get(start + 4..start + 8)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u32::from_be_bytes);
        CommandId(id)
    }

    /// Answers a delivered request with `status` and `body` (whose command must be the
    /// request's response).
    pub fn respond(
        &mut self,
        sequence_number: u32,
        status: CommandStatus,
        body: Body<'_>,
        now: Instant,
    ) -> Result<(), LinkError> {
        let start = self.out.len();
        Pdu::response(status, sequence_number, body).encode(self.out)?;
        if let Err(e) = self.session.respond(sequence_number, now) {
            self.out.truncate(start);
            return Err(e.into());
        }
        Ok(())
    }

    /// Answers a delivered request with a header-only response carrying `status`.
    pub fn respond_status(
        &mut self,
        sequence_number: u32,
        status: CommandStatus,
        now: Instant,
    ) -> Result<(), LinkError> {
        let response_id = self.session.respond(sequence_number, now)?;
        encode_header_only(response_id, status, sequence_number, self.out);
        Ok(())
    }
}

/// Outcome of an outbound request that got no response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lost {
    /// No response within the session's response timeout.
    TimedOut,
    /// The session closed with the request outstanding.
    Abandoned,
}

/// An SMSC's answer to a bind: now, or later (a password check off the thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindVerdict {
    /// Answer with this status now (`ESME_ROK` binds).
    Now(CommandStatus),
    /// The handler decides later: the pump asks [`Handler::bind_verdict`] on every turn
    /// until it answers; the handler wakes the connection when it can. Meanwhile the
    /// session stays binding (other requests are refused as the state table says).
    Pending,
}

/// The role-specific logic a connection hands its PDUs to.
pub trait Handler {
    /// SMSC role: decide on a bind (`ESME_ROK` accepts).
    fn on_bind_request(&mut self, kind: BindKind, bind: &Bind<'_>) -> CommandStatus;
    /// SMSC role: decide on a bind now or later; by default [`Handler::on_bind_request`]
    /// answers now.
    fn on_bind(&mut self, kind: BindKind, bind: &Bind<'_>) -> BindVerdict {
        BindVerdict::Now(self.on_bind_request(kind, bind))
    }
    /// SMSC role: the verdict of a bind that [`Handler::on_bind`] left pending, once known.
    fn bind_verdict(&mut self) -> Option<CommandStatus> {
        None
    }
    /// The session is bound.
    fn on_bound(&mut self, kind: BindKind, now: Instant);
    /// A request delivered by the session; answer it through `link` (now or later).
    fn on_request(
        &mut self,
        link: &mut Link<'_>,
        sequence_number: u32,
        pdu: &Pdu<'_>,
        now: Instant,
    );
    /// One of our requests was answered; `pdu` is the decoded response when it had a body.
    fn on_completed(
        &mut self,
        link: &mut Link<'_>,
        token: u64,
        status: CommandStatus,
        pdu: Option<&Pdu<'_>>,
        now: Instant,
    );
    /// One of our requests will get no response.
    fn on_lost(&mut self, token: u64, lost: Lost, now: Instant);
    /// Queue new requests (within the window) and say when to be called again.
    fn produce(&mut self, link: &mut Link<'_>, now: Instant) -> Produce;
    /// Until when to leave the peer's requests unread, if at all. A handler that refused
    /// a request for overload (a full queue, a throttle) answers a later instant, and the
    /// pump stops reading, frames already buffered included, and wakes at that instant:
    /// TCP then pushes back on the peer instead of the handler refusing every request
    /// behind the first. By default reading never pauses.
    fn read_paused_until(&mut self, now: Instant) -> Option<Instant> {
        let _ = now;
        None
    }
    /// Remember `waker` so other tasks can wake this connection (new work, stop).
    fn register_waker(&mut self, waker: &Waker);
    /// The connection is finished.
    fn on_closed(&mut self, reason: Option<CloseReason>);
}

/// Runs one connection until the session closes or the socket fails.
pub async fn run<H: Handler>(
    stream: TcpStream,
    start: Start,
    config: &ConnConfig,
    handler: &mut H,
) -> Result<CloseReason, ConnError> {
    let result = run_inner(stream, start, config, handler).await;
    handler.on_closed(result.as_ref().ok().copied());
    result
}

async fn run_inner<H: Handler>(
    stream: TcpStream,
    start: Start,
    config: &ConnConfig,
    handler: &mut H,
) -> Result<CloseReason, ConnError> {
    stream
        .set_nodelay(true)
        .map_err(|e| ConnError::Io(io::Error::other(e.to_string())))?;
    let role = match start {
        Start::Esme { .. } => Role::Esme,
        Start::Smsc { .. } => Role::Smsc,
    };
    let now = Instant::now();
    let session = Session::new(role, config.session.clone(), now)?;
    let read_size = config.read_buffer_size.max(2 * config.max_pdu_len as usize);
    let mut pump = Pump {
        stream,
        session,
        framer: Framer::new(config.max_pdu_len),
        rbuf: vec![0; read_size],
        rstart: 0,
        rend: 0,
        out: Vec::with_capacity(config.write_high_water * 2),
        written: 0,
        write_high_water: config.write_high_water,
        smsc_system_id: String::new(),
        timer: None,
        handler_deadline: None,
        read_resume: None,
        closed: None,
        unbinding: false,
        pending_bind: None,
        eof: false,
    };
    pump.begin(&start, now)?;
    futures_lite::future::poll_fn(|cx| pump.poll(cx, handler)).await
}

/// What one turn of the pump achieved.
enum Turn {
    /// Something moved; run another turn.
    Progress,
    /// Nothing to do until I/O, a timer or a wake.
    Idle,
    /// The connection is finished.
    Done(CloseReason),
}

struct Pump {
    stream: TcpStream,
    session: Session,
    framer: Framer,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    out: Vec<u8>,
    written: usize,
    write_high_water: usize,
    smsc_system_id: String,
    timer: Option<Timer>,
    handler_deadline: Option<Instant>,
    /// When reading resumes, while the handler pauses it ([`Handler::read_paused_until`]).
    read_resume: Option<Instant>,
    closed: Option<CloseReason>,
    unbinding: bool,
    eof: bool,
    pending_bind: Option<PendingBind>,
}

/// A bind waiting for the handler's verdict.
#[derive(Clone, Copy, Debug)]
struct PendingBind {
    kind: BindKind,
    sequence_number: u32,
    interface_version: u8,
}

impl Pump {
    fn begin(&mut self, start: &Start, now: Instant) -> Result<(), ConnError> {
        match start {
            Start::Esme {
                kind,
                system_id,
                password,
                system_type,
            } => {
                let sequence_number = self.session.bind(*kind, now)?;
                let bind = Bind {
                    system_id: system_id.as_bytes().into(),
                    password: password.as_bytes().into(),
                    system_type: system_type.as_bytes().into(),
                    interface_version: INTERFACE_VERSION_34,
                    ..Bind::default()
                };
                let body = match kind {
                    BindKind::Transmitter => Body::BindTransmitter(bind),
                    BindKind::Receiver => Body::BindReceiver(bind),
                    BindKind::Transceiver => Body::BindTransceiver(bind),
                };
                Pdu::new(sequence_number, body).encode(&mut self.out)?;
            }
            Start::Smsc { system_id } => self.smsc_system_id.clone_from(system_id),
        }
        Ok(())
    }

    fn poll<H: Handler>(
        &mut self,
        cx: &mut Context<'_>,
        handler: &mut H,
    ) -> Poll<Result<CloseReason, ConnError>> {
        for _ in 0..TURNS_PER_POLL_MAX {
            match self.turn(cx, handler) {
                Ok(Turn::Progress) => continue,
                Ok(Turn::Idle) => return self.park(cx, handler),
                Ok(Turn::Done(reason)) => return Poll::Ready(Ok(reason)),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        // Fairness: the other connections of this executor get their turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Arms the timer for the next deadline, then waits for I/O, the timer or a wake.
    fn park<H: Handler>(
        &mut self,
        cx: &mut Context<'_>,
        handler: &mut H,
    ) -> Poll<Result<CloseReason, ConnError>> {
        handler.register_waker(cx.waker());
        let next = [
            self.session.poll_timeout(),
            self.handler_deadline,
            self.read_resume,
        ]
        .into_iter()
        .flatten()
        .min();
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

    fn turn<H: Handler>(
        &mut self,
        cx: &mut Context<'_>,
        handler: &mut H,
    ) -> Result<Turn, ConnError> {
        let now = Instant::now();
        let mut progress = false;
        if self.closed.is_none() && self.session.poll_timeout().is_some_and(|at| at <= now) {
            self.session.handle_timeout(now);
            self.drain(handler, None, now)?;
            progress = true;
        }
        progress |= match self.flush(cx) {
            Ok(wrote) => wrote,
            Err(e) => {
                // A write that fails (the peer died) loses the connection like a failed
                // read: outstanding requests must come back through `on_lost`, or the
                // handler would never learn that they went unanswered.
                self.session.handle_connection_lost(now);
                self.drain(handler, None, now)?;
                return Err(e);
            }
        };
        if let Some(reason) = self.closed {
            return Ok(if self.written >= self.out.len() {
                Turn::Done(reason)
            } else if progress {
                Turn::Progress
            } else {
                Turn::Idle
            });
        }
        if self.pending_octets() < self.write_high_water {
            progress |= self.read(cx, handler, now)?;
        }
        if self.closed.is_none() && self.pending_octets() < self.write_high_water {
            progress |= self.produce(handler, now)?;
        }
        Ok(if progress { Turn::Progress } else { Turn::Idle })
    }

    fn pending_octets(&self) -> usize {
        self.out.len() - self.written
    }

    /// Writes what is queued; true if any octet went out.
    fn flush(&mut self, cx: &mut Context<'_>) -> Result<bool, ConnError> {
        if self.written >= self.out.len() {
            return Ok(false);
        }
        let pending = self.out.get(self.written..).unwrap_or_default();
        match Pin::new(&mut self.stream).poll_write(cx, pending) {
            Poll::Ready(Ok(0)) => Err(io::Error::from(io::ErrorKind::WriteZero).into()),
            Poll::Ready(Ok(n)) => {
                self.written += n;
                if self.written >= self.out.len() {
                    self.out.clear();
                    self.written = 0;
                }
                Ok(true)
            }
            Poll::Ready(Err(e)) if self.closed.is_some() => {
                // Closing anyway: what could not be written is lost with the connection.
                let _ = e;
                self.out.clear();
                self.written = 0;
                Ok(true)
            }
            Poll::Ready(Err(e)) => Err(e.into()),
            Poll::Pending => Ok(false),
        }
    }

    /// Reads once and handles every complete PDU; true if anything was read.
    fn read<H: Handler>(
        &mut self,
        cx: &mut Context<'_>,
        handler: &mut H,
        now: Instant,
    ) -> Result<bool, ConnError> {
        if self.eof || !self.session.wants_read() || self.read_paused(handler, now) {
            return Ok(false);
        }
        if self.rstart < self.rend {
            // Frames left unread while the session did not want them come first.
            let before = self.rstart;
            self.handle_frames(handler, now)?;
            if self.rstart != before {
                return Ok(true);
            }
        }
        self.compact();
        let Some(space) = self.rbuf.get_mut(self.rend..) else {
            return Ok(false);
        };
        match Pin::new(&mut self.stream).poll_read(cx, space) {
            Poll::Pending => Ok(false),
            Poll::Ready(Ok(0)) => {
                self.eof = true;
                self.session.handle_connection_lost(now);
                self.drain(handler, None, now)?;
                Ok(true)
            }
            Poll::Ready(Ok(n)) => {
                self.rend += n;
                self.handle_frames(handler, now)?;
                Ok(true)
            }
            Poll::Ready(Err(e)) => {
                self.session.handle_connection_lost(now);
                self.drain(handler, None, now)?;
                Err(e.into())
            }
        }
    }

    /// Whether the handler pauses reading now; remembers when it resumes.
    fn read_paused<H: Handler>(&mut self, handler: &mut H, now: Instant) -> bool {
        self.read_resume = handler.read_paused_until(now).filter(|&until| until > now);
        self.read_resume.is_some()
    }

    /// Moves a partial PDU to the front when the free tail could not hold a whole one.
    fn compact(&mut self) {
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
        } else if self.rbuf.len() - self.rend < self.framer.max_pdu_len() as usize {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        }
    }

    fn handle_frames<H: Handler>(
        &mut self,
        handler: &mut H,
        now: Instant,
    ) -> Result<(), ConnError> {
        while self.closed.is_none() && self.session.wants_read() && !self.read_paused(handler, now)
        {
            let buf = self.rbuf.get(self.rstart..self.rend).unwrap_or_default();
            let len = match self.framer.frame(buf) {
                Ok(Some(len)) => len,
                Ok(None) => break,
                Err(e) => {
                    e.encode_reply(&mut self.out);
                    self.session.close(now);
                    self.drain(handler, None, now)?;
                    return Ok(());
                }
            };
            let frame_end = self.rstart + len;
            let mut parts = Parts {
                session: &mut self.session,
                out: &mut self.out,
                closed: &mut self.closed,
                system_id: &self.smsc_system_id,
                pending_bind: &mut self.pending_bind,
            };
            let frame = self.rbuf.get(self.rstart..frame_end).unwrap_or_default();
            parts.dispatch(handler, frame, now)?;
            self.rstart = frame_end;
        }
        Ok(())
    }

    fn produce<H: Handler>(&mut self, handler: &mut H, now: Instant) -> Result<bool, ConnError> {
        let before = self.out.len();
        let mut link = Link {
            session: &mut self.session,
            out: &mut self.out,
        };
        let mut progress = false;
        if let Some(pending) = self.pending_bind
            && let Some(status) = handler.bind_verdict()
        {
            self.pending_bind = None;
            let mut parts = Parts {
                session: link.session,
                out: link.out,
                closed: &mut self.closed,
                system_id: &self.smsc_system_id,
                pending_bind: &mut self.pending_bind,
            };
            let PendingBind {
                kind,
                sequence_number,
                interface_version,
            } = pending;
            parts.finish_bind(kind, sequence_number, interface_version, status, now)?;
            // Bound (or refused): the session's actions follow in the drain below.
            progress = true;
            link = Link {
                session: &mut self.session,
                out: &mut self.out,
            };
        }
        match handler.produce(&mut link, now) {
            Produce::Continue(at) => self.handler_deadline = at,
            Produce::Unbind => {
                self.handler_deadline = None;
                if !self.unbinding {
                    self.unbinding = true;
                    progress = true;
                    if self.session.unbind(now).is_err() {
                        self.session.close(now);
                    }
                }
            }
            Produce::Disconnect => {
                self.session.close(now);
                progress = true;
            }
        }
        self.drain(handler, None, now)?;
        Ok(progress || self.out.len() != before)
    }

    fn drain<H: Handler>(
        &mut self,
        handler: &mut H,
        pdu: Option<&Pdu<'_>>,
        now: Instant,
    ) -> Result<(), ConnError> {
        Parts {
            session: &mut self.session,
            out: &mut self.out,
            closed: &mut self.closed,
            system_id: &self.smsc_system_id,
            pending_bind: &mut self.pending_bind,
        }
        .drain(handler, pdu, now)
    }
}

/// The pump's fields a frame's dispatch needs, borrowed apart from the read buffer.
struct Parts<'p> {
    session: &'p mut Session,
    out: &'p mut Vec<u8>,
    closed: &'p mut Option<CloseReason>,
    system_id: &'p str,
    pending_bind: &'p mut Option<PendingBind>,
}

impl Parts<'_> {
    fn dispatch<H: Handler>(
        &mut self,
        handler: &mut H,
        frame: &[u8],
        now: Instant,
    ) -> Result<(), ConnError> {
        match Pdu::decode(frame) {
            Ok(pdu) => {
                let header = Header::new(pdu.command_id(), pdu.command_status, pdu.sequence_number);
                let interface_version = match &pdu.body {
                    Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => {
                        Some(b.interface_version)
                    }
                    Body::BindTransmitterResp(b)
                    | Body::BindReceiverResp(b)
                    | Body::BindTransceiverResp(b) => b.sc_interface_version(),
                    _ => None,
                };
                self.session.handle_pdu(header, interface_version, now);
                self.drain(handler, Some(&pdu), now)
            }
            Err(e) => {
                if let Some(h) = tern_smpp::peek_header(frame) {
                    self.session.reject_request(Header::from(h), e.status, now);
                }
                self.drain(handler, None, now)
            }
        }
    }

    fn drain<H: Handler>(
        &mut self,
        handler: &mut H,
        pdu: Option<&Pdu<'_>>,
        now: Instant,
    ) -> Result<(), ConnError> {
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Send(h) => {
                    encode_header_only(h.command_id, h.command_status, h.sequence_number, self.out)
                }
                Action::BindRequested {
                    kind,
                    sequence_number,
                    interface_version,
                } => {
                    self.answer_bind(handler, pdu, kind, sequence_number, interface_version, now)?
                }
                Action::Bound { kind, .. } => handler.on_bound(kind, now),
                Action::BindRefused { command_status } => {
                    return Err(ConnError::BindRefused(command_status));
                }
                Action::Deliver {
                    sequence_number, ..
                } => {
                    if let Some(pdu) = pdu {
                        handler.on_request(&mut self.link(), sequence_number, pdu, now);
                    }
                }
                Action::Completed {
                    token,
                    command_status,
                    ..
                } => handler.on_completed(&mut self.link(), token, command_status, pdu, now),
                Action::TimedOut { token, .. } => handler.on_lost(token, Lost::TimedOut, now),
                Action::Abandoned { token, .. } => handler.on_lost(token, Lost::Abandoned, now),
                Action::OutbindReceived { .. } | Action::UnmatchedResponse(_) => {}
                Action::Close { reason } => *self.closed = Some(reason),
            }
        }
        Ok(())
    }

    fn link(&mut self) -> Link<'_> {
        Link {
            session: self.session,
            out: self.out,
        }
    }

    fn answer_bind<H: Handler>(
        &mut self,
        handler: &mut H,
        pdu: Option<&Pdu<'_>>,
        kind: BindKind,
        sequence_number: u32,
        interface_version: u8,
        now: Instant,
    ) -> Result<(), ConnError> {
        let verdict = match pdu.map(|p| &p.body) {
            Some(Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b)) => {
                handler.on_bind(kind, b)
            }
            _ => BindVerdict::Now(CommandStatus::ESME_RBINDFAIL),
        };
        let status = match verdict {
            BindVerdict::Now(status) => status,
            BindVerdict::Pending => {
                *self.pending_bind = Some(PendingBind {
                    kind,
                    sequence_number,
                    interface_version,
                });
                return Ok(());
            }
        };
        self.finish_bind(kind, sequence_number, interface_version, status, now)
    }

    /// Answers a bind with `status` (the session binds on `ESME_ROK`).
    fn finish_bind(
        &mut self,
        kind: BindKind,
        sequence_number: u32,
        interface_version: u8,
        status: CommandStatus,
        now: Instant,
    ) -> Result<(), ConnError> {
        if self
            .session
            .answer_bind(sequence_number, status, now)
            .is_err()
        {
            return Ok(());
        }
        let tlvs = if tern_smpp::supports_tlvs(interface_version) {
            Tlvs::from_list(&[Tlv::ScInterfaceVersion(INTERFACE_VERSION_34)])?
        } else {
            Tlvs::EMPTY
        };
        let resp = BindResp {
            system_id: self.system_id.as_bytes().into(),
            tlvs,
        };
        let body = match kind {
            BindKind::Transmitter => Body::BindTransmitterResp(resp),
            BindKind::Receiver => Body::BindReceiverResp(resp),
            BindKind::Transceiver => Body::BindTransceiverResp(resp),
        };
        Pdu::response(status, sequence_number, body).encode(self.out)?;
        Ok(())
    }
}

/// A duration as whole microseconds, saturating.
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
