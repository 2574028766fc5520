//! The vocabulary of the session: roles, bind kinds, states, configuration, actions, errors.

use core::time::Duration;
use std::num::NonZeroU32;

use thiserror::Error;

use crate::command::{CommandId, CommandStatus};

/// Highest sequence number SMPP allows (3.4 §5.1.4: 0x00000001–0x7FFFFFFF).
pub const SEQUENCE_NUMBER_MAX: u32 = 0x7FFF_FFFF;

/// Largest `window_size` / `inbound_window_size` a [`Config`] accepts; bounds the memory of
/// one session's request tables.
pub const WINDOW_SIZE_MAX: u32 = 65_536;

/// Longest duration a [`Config`] accepts for any of its timers.
pub const TIMER_DURATION_MAX: Duration = Duration::from_secs(24 * 60 * 60);

/// The SMPP 3.3 `interface_version`: peers at or below it do not understand TLVs.
pub(crate) const INTERFACE_VERSION_33: u8 = 0x33;

/// The SMPP 3.4 `interface_version`, the first that carries TLVs.
pub(crate) const INTERFACE_VERSION_34: u8 = 0x34;

/// Which end of the link this session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The client: binds out to an SMSC, submits messages, receives deliveries.
    Esme,
    /// The server: accepts binds from ESMEs, receives submissions, delivers messages.
    Smsc,
}

impl Role {
    /// The role at the other end of the link.
    pub const fn peer(self) -> Role {
        match self {
            Role::Esme => Role::Smsc,
            Role::Smsc => Role::Esme,
        }
    }
}

/// The three kinds of bind (3.4 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindKind {
    /// bind_transmitter: the ESME submits, the SMSC does not deliver.
    Transmitter,
    /// bind_receiver: the SMSC delivers, the ESME does not submit.
    Receiver,
    /// bind_transceiver: both directions.
    Transceiver,
}

impl BindKind {
    /// Every bind kind, for iteration in tests and configuration.
    pub const ALL: [BindKind; 3] = [
        BindKind::Transmitter,
        BindKind::Receiver,
        BindKind::Transceiver,
    ];

    /// The bind request for this kind.
    pub const fn request_id(self) -> CommandId {
        match self {
            BindKind::Transmitter => CommandId::BIND_TRANSMITTER,
            BindKind::Receiver => CommandId::BIND_RECEIVER,
            BindKind::Transceiver => CommandId::BIND_TRANSCEIVER,
        }
    }

    /// The bind response for this kind.
    pub const fn response_id(self) -> CommandId {
        match self {
            BindKind::Transmitter => CommandId::BIND_TRANSMITTER_RESP,
            BindKind::Receiver => CommandId::BIND_RECEIVER_RESP,
            BindKind::Transceiver => CommandId::BIND_TRANSCEIVER_RESP,
        }
    }

    /// The kind a bind request asks for, or `None` if `command_id` is not a bind request.
    pub const fn from_request(command_id: CommandId) -> Option<BindKind> {
        match command_id {
            CommandId::BIND_TRANSMITTER => Some(BindKind::Transmitter),
            CommandId::BIND_RECEIVER => Some(BindKind::Receiver),
            CommandId::BIND_TRANSCEIVER => Some(BindKind::Transceiver),
            _ => None,
        }
    }

    /// True if the ESME may issue message requests (submit_sm, …) on this bind.
    pub const fn esme_transmits(self) -> bool {
        matches!(self, BindKind::Transmitter | BindKind::Transceiver)
    }

    /// True if the SMSC may issue message requests (deliver_sm, …) on this bind.
    pub const fn esme_receives(self) -> bool {
        matches!(self, BindKind::Receiver | BindKind::Transceiver)
    }
}

/// The session states of SMPP 3.4 §2.3, plus the two handshakes in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Connected, not bound (3.4 OPEN).
    Open,
    /// A bind is in flight: sent and unanswered (ESME) or awaiting the app's answer (SMSC).
    Binding(BindKind),
    /// Bound (3.4 BOUND_TX, BOUND_RX, BOUND_TRX).
    Bound(BindKind),
    /// An unbind handshake is under way, started by either side; no new requests.
    Unbinding,
    /// Finished: the caller closes the connection; the session emits nothing more.
    Closed,
}

/// The three header fields the session reads and writes (`command_length` is the codec's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// The PDU's command.
    pub command_id: CommandId,
    /// `ESME_ROK` in requests; the outcome in responses.
    pub command_status: CommandStatus,
    /// Pairs a response with its request.
    pub sequence_number: u32,
}

impl Header {
    /// A header from its three fields.
    pub const fn new(
        command_id: CommandId,
        command_status: CommandStatus,
        sequence_number: u32,
    ) -> Self {
        Header {
            command_id,
            command_status,
            sequence_number,
        }
    }

    /// A request header: status `ESME_ROK`.
    pub const fn request(command_id: CommandId, sequence_number: u32) -> Self {
        Header::new(command_id, CommandStatus::ESME_ROK, sequence_number)
    }
}

impl From<crate::header::Header> for Header {
    /// The session's view of a decoded header (the length is the framer's business).
    fn from(h: crate::header::Header) -> Self {
        Header::new(h.command_id, h.command_status, h.sequence_number)
    }
}

impl From<&crate::header::Header> for Header {
    fn from(h: &crate::header::Header) -> Self {
        Header::from(*h)
    }
}

/// Timers and bounds of one session. Every field is bounded by [`Config::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Most outbound application requests awaiting a response (1..=[`WINDOW_SIZE_MAX`]).
    pub window_size: u32,
    /// Most inbound requests delivered to the app and not yet answered
    /// (1..=[`WINDOW_SIZE_MAX`]); beyond it requests are refused with `ESME_RTHROTTLED`.
    pub inbound_window_size: u32,
    /// How long any request we send (application, bind, enquire_link, unbind) may wait
    /// for its response; also how long a peer's unbind waits for the app's answers.
    pub response_timeout: Duration,
    /// Close as a dead peer after this many application requests time out with no
    /// response received in between; `None` never closes for that reason.
    pub close_after_timeouts: Option<NonZeroU32>,
    /// Send enquire_link when nothing has been received for this long while bound;
    /// `None` never sends one.
    pub enquire_link_interval: Option<Duration>,
    /// Unbind when no PDU other than enquire_link(_resp) has passed in either direction
    /// for this long while bound; `None` never does.
    pub inactivity_timeout: Option<Duration>,
    /// Close when the session is not bound this long after it started (SMPP 5.0
    /// `session_init_timer`).
    pub bind_timeout: Duration,
    /// The first sequence number this session allocates (1..=[`SEQUENCE_NUMBER_MAX`]).
    pub initial_sequence_number: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window_size: 10,
            inbound_window_size: 100,
            response_timeout: Duration::from_secs(10),
            close_after_timeouts: NonZeroU32::new(5),
            enquire_link_interval: Some(Duration::from_secs(30)),
            inactivity_timeout: None,
            bind_timeout: Duration::from_secs(30),
            initial_sequence_number: 1,
        }
    }
}

impl Config {
    /// Checks every bound; [`crate::session::Session::new`] calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_window("window_size", self.window_size)?;
        check_window("inbound_window_size", self.inbound_window_size)?;
        check_duration("response_timeout", Some(self.response_timeout))?;
        check_duration("enquire_link_interval", self.enquire_link_interval)?;
        check_duration("inactivity_timeout", self.inactivity_timeout)?;
        check_duration("bind_timeout", Some(self.bind_timeout))?;
        if !(1..=SEQUENCE_NUMBER_MAX).contains(&self.initial_sequence_number) {
            return Err(ConfigError::SequenceNumber(self.initial_sequence_number));
        }
        Ok(())
    }
}

fn check_window(field: &'static str, size: u32) -> Result<(), ConfigError> {
    if (1..=WINDOW_SIZE_MAX).contains(&size) {
        Ok(())
    } else {
        Err(ConfigError::WindowSize { field, size })
    }
}

fn check_duration(field: &'static str, duration: Option<Duration>) -> Result<(), ConfigError> {
    match duration {
        Some(d) if d.is_zero() || d > TIMER_DURATION_MAX => Err(ConfigError::Duration { field }),
        _ => Ok(()),
    }
}

/// A [`Config`] value out of its bounds.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// A window size outside 1..=[`WINDOW_SIZE_MAX`].
    #[error("{field} = {size} is outside 1..={WINDOW_SIZE_MAX}")]
    WindowSize {
        /// The offending field.
        field: &'static str,
        /// Its value.
        size: u32,
    },
    /// A timer that is zero or longer than [`TIMER_DURATION_MAX`].
    #[error("{field} must be above zero and at most one day")]
    Duration {
        /// The offending field.
        field: &'static str,
    },
    /// An initial sequence number outside 1..=[`SEQUENCE_NUMBER_MAX`].
    #[error("initial_sequence_number {0} is outside 1..=0x7FFFFFFF")]
    SequenceNumber(u32),
}

/// What the session asks its caller to do; drained with `poll_action()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this header-only PDU (the codec's `encode_header_only`): enquire_link(_resp),
    /// unbind(_resp), generic_nack, and error responses the session answers by itself.
    Send(Header),
    /// ESME role: the SMSC sent outbind; decode its body and call `bind()` if willing.
    OutbindReceived {
        /// The outbind's sequence number (outbind has no response).
        sequence_number: u32,
    },
    /// SMSC role: an ESME asks to bind; authenticate its body, then call `answer_bind()`.
    BindRequested {
        /// The kind asked for.
        kind: BindKind,
        /// The bind's sequence number, to pass back to `answer_bind()`.
        sequence_number: u32,
        /// The ESME's interface_version (below 0x34: send no TLVs, not even in bind_resp).
        interface_version: u8,
    },
    /// The session is now bound.
    Bound {
        /// The kind of bind.
        kind: BindKind,
        /// The peer's interface version; below 0x34 the caller omits TLVs.
        peer_interface_version: u8,
    },
    /// ESME role: the SMSC refused our bind; the session is back in Open (bind again or close).
    BindRefused {
        /// The refusal status (from bind_resp or generic_nack).
        command_status: CommandStatus,
    },
    /// Hand the request just passed to `handle_pdu()` to the app; answer it via `respond()`
    /// (requests without a response, alert_notification, need no answer).
    Deliver {
        /// The request's command.
        command_id: CommandId,
        /// Its sequence number, for `respond()`.
        sequence_number: u32,
    },
    /// An outbound application request got its response (or a generic_nack).
    Completed {
        /// The request's sequence number.
        sequence_number: u32,
        /// The app's token given to `begin_request()`.
        token: u64,
        /// The response's command (the request's `_resp`, or generic_nack).
        command_id: CommandId,
        /// The response's status.
        command_status: CommandStatus,
    },
    /// An outbound application request got no response within `response_timeout`; the
    /// peer may or may not have acted on it. Its window slot is free again.
    TimedOut {
        /// The request's sequence number (a late response will be reported unmatched).
        sequence_number: u32,
        /// The app's token.
        token: u64,
        /// The request's command.
        command_id: CommandId,
    },
    /// The session closed with this application request unanswered; same caveat as
    /// [`Action::TimedOut`]. Always emitted before [`Action::Close`].
    Abandoned {
        /// The request's sequence number.
        sequence_number: u32,
        /// The app's token.
        token: u64,
        /// The request's command.
        command_id: CommandId,
    },
    /// A response that answers nothing outstanding: late after a timeout, a wrong
    /// command_id for its sequence number, or a peer's bug. Reported, otherwise ignored.
    UnmatchedResponse(Header),
    /// Flush what is queued for sending, then close the connection. The last action.
    Close {
        /// Why.
        reason: CloseReason,
    },
}

/// Why a session closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// We sent unbind and got unbind_resp (or a generic_nack for it).
    UnboundLocally,
    /// The peer sent unbind and we answered unbind_resp.
    UnboundByPeer,
    /// Nothing but enquire_link passed for `inactivity_timeout`; we unbound.
    Inactivity,
    /// Not bound within `bind_timeout`, or our bind got no bind_resp in time.
    BindTimeout,
    /// Our unbind got no unbind_resp within `response_timeout`.
    UnbindTimeout,
    /// Our enquire_link got no response within `response_timeout`.
    EnquireLinkTimeout,
    /// `close_after_timeouts` application requests timed out in a row.
    DeadPeer,
    /// The caller reported the connection lost.
    ConnectionLost,
    /// The app called `close()`.
    Local,
}

/// Why a request cannot be sent now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The session is not bound yet (or, for `bind()`, not in a state to bind).
    #[error("session is not bound")]
    NotBound,
    /// Bound, but this role or bind kind may not send the command (3.4 table 2-1).
    #[error("{0} is not allowed on this bind")]
    NotAllowed(CommandId),
    /// As many application requests are outstanding as `window_size` allows.
    #[error("window full")]
    WindowFull,
    /// The session is unbinding or closed: no new requests.
    #[error("session is unbinding or closed")]
    Closing,
    /// Binds, unbind, enquire_link, outbind and generic_nack go through the session's own
    /// methods or are sent by it; responses go through `respond()`.
    #[error("{0} is sent by the session itself, not with begin_request()")]
    ManagedBySession(CommandId),
    /// The method belongs to the other role (bind() is the ESME's, outbind() the SMSC's).
    #[error("not available to this role")]
    WrongRole,
    /// A bind is already in flight or done.
    #[error("already bound or binding")]
    AlreadyBound,
}

/// Why the app's answer to an inbound request was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum AnswerError {
    /// No delivered request (or pending bind) has this sequence number.
    #[error("no request awaits an answer with sequence number {0}")]
    UnknownSequence(u32),
    /// The session closed; the answer must not be sent.
    #[error("session is closed")]
    Closed,
}
