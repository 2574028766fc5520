//! An ESME session and an SMSC session driven against each other over a simulated link
//! with a virtual clock (after quinn-proto's `Pair`): every behaviour the session promises,
//! proven end to end without a socket or a real clock.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use tern_smpp::session::{
    Action, AnswerError, BindKind, CloseReason, Config, Header, RequestError, Role,
    SEQUENCE_NUMBER_MAX, Session, State,
};
use tern_smpp::{CommandId, CommandStatus};

const LATENCY: Duration = Duration::from_millis(5);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A PDU on the wire: its header and, for binds and bind responses, the interface version.
#[derive(Clone, Copy, Debug)]
struct Wire {
    arrive_at: Instant,
    header: Header,
    interface_version: Option<u8>,
}

/// One end of the link: its session, its inbox, and what its app has seen.
struct Side {
    session: Session,
    inbox: VecDeque<Wire>,
    /// Every action this side's session produced, in order.
    log: Vec<Action>,
    /// Answer every delivered request at once with ESME_ROK.
    auto_answer: bool,
    /// SMSC: answer every bind request at once with this status.
    bind_answer: Option<CommandStatus>,
    /// interface_version this side advertises in bind / sc_interface_version in bind_resp.
    interface_version: Option<u8>,
    /// Drops everything that arrives: a peer that has died without closing the socket.
    deaf: bool,
    /// Delivered requests the app has not answered yet.
    held: Vec<(CommandId, u32)>,
}

impl Side {
    fn new(role: Role, config: Config, now: Instant) -> Self {
        Side {
            session: Session::new(role, config, now).expect("valid config"),
            inbox: VecDeque::new(),
            log: Vec::new(),
            auto_answer: true,
            bind_answer: Some(CommandStatus::ESME_ROK),
            interface_version: Some(0x34),
            deaf: false,
            held: Vec::new(),
        }
    }

    fn count(&self, matches: impl Fn(&Action) -> bool) -> usize {
        self.log.iter().filter(|a| matches(a)).count()
    }

    fn sent(&self, command_id: CommandId) -> Vec<Header> {
        self.log
            .iter()
            .filter_map(|a| match a {
                Action::Send(h) if h.command_id == command_id => Some(*h),
                _ => None,
            })
            .collect()
    }

    fn close_reason(&self) -> Option<CloseReason> {
        self.log.iter().find_map(|a| match a {
            Action::Close { reason } => Some(*reason),
            _ => None,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    Esme,
    Smsc,
}

struct Pair {
    now: Instant,
    esme: Side,
    smsc: Side,
}

impl Pair {
    fn new(esme: Config, smsc: Config) -> Self {
        let now = Instant::now();
        Pair {
            now,
            esme: Side::new(Role::Esme, esme, now),
            smsc: Side::new(Role::Smsc, smsc, now),
        }
    }

    fn with_config(config: Config) -> Self {
        Pair::new(config.clone(), config)
    }

    fn bound(kind: BindKind, config: Config) -> Self {
        let mut pair = Pair::with_config(config);
        pair.bind(kind);
        assert_eq!(pair.esme.session.state(), State::Bound(kind));
        assert_eq!(pair.smsc.session.state(), State::Bound(kind));
        pair
    }

    fn side(&mut self, end: End) -> &mut Side {
        match end {
            End::Esme => &mut self.esme,
            End::Smsc => &mut self.smsc,
        }
    }

    /// Puts a PDU from `from` on the wire to the other end.
    fn transmit(&mut self, from: End, header: Header, interface_version: Option<u8>) {
        let arrive_at = self.now + LATENCY;
        let to = match from {
            End::Esme => End::Smsc,
            End::Smsc => End::Esme,
        };
        self.side(to).inbox.push_back(Wire {
            arrive_at,
            header,
            interface_version,
        });
    }

    /// The ESME binds and the link runs until the handshake is over.
    fn bind(&mut self, kind: BindKind) {
        let seq = self
            .esme
            .session
            .bind(kind, self.now)
            .expect("bind from Open");
        let iv = self.esme.interface_version;
        self.transmit(End::Esme, Header::request(kind.request_id(), seq), iv);
        self.advance(LATENCY * 4);
    }

    /// `from`'s app sends an application request; returns its sequence number.
    fn request(
        &mut self,
        from: End,
        command_id: CommandId,
        token: u64,
    ) -> Result<u32, RequestError> {
        let now = self.now;
        let seq = self
            .side(from)
            .session
            .begin_request(command_id, token, now)?;
        self.transmit(from, Header::request(command_id, seq), None);
        Ok(seq)
    }

    /// `end`'s app answers a held request with `status`.
    fn answer(&mut self, end: End, seq: u32, status: CommandStatus) {
        let now = self.now;
        let side = self.side(end);
        side.held.retain(|&(_, s)| s != seq);
        let response_id = side.session.respond(seq, now).expect("a held request");
        self.transmit(end, Header::new(response_id, status, seq), None);
    }

    /// Drains `end`'s actions: sends go on the wire, the scripted app reacts to the rest.
    fn drain(&mut self, end: End) -> bool {
        let mut any = false;
        while let Some(action) = self.side(end).session.poll_action() {
            any = true;
            self.side(end).log.push(action);
            match action {
                Action::Send(header) => self.transmit(end, header, None),
                Action::Deliver {
                    command_id,
                    sequence_number,
                } => self.on_deliver(end, command_id, sequence_number),
                Action::BindRequested {
                    sequence_number, ..
                } => self.on_bind_requested(end, sequence_number),
                _ => {}
            }
        }
        any
    }

    fn on_deliver(&mut self, end: End, command_id: CommandId, seq: u32) {
        if command_id.response().is_none() {
            return;
        }
        self.side(end).held.push((command_id, seq));
        if self.side(end).auto_answer {
            self.answer(end, seq, CommandStatus::ESME_ROK);
        }
    }

    fn on_bind_requested(&mut self, end: End, seq: u32) {
        let now = self.now;
        let side = self.side(end);
        let Some(status) = side.bind_answer else {
            return;
        };
        let iv = side.interface_version.filter(|_| status.is_ok());
        let response_id = side
            .session
            .answer_bind(seq, status, now)
            .expect("pending bind");
        self.transmit(end, Header::new(response_id, status, seq), iv);
    }

    /// Hands `end` every PDU that has arrived by now.
    fn receive(&mut self, end: End) -> bool {
        let now = self.now;
        let side = self.side(end);
        let mut any = false;
        while side.inbox.front().is_some_and(|w| w.arrive_at <= now) {
            let Some(wire) = side.inbox.pop_front() else {
                break;
            };
            any = true;
            if !side.deaf {
                side.session
                    .handle_pdu(wire.header, wire.interface_version, now);
            }
        }
        any
    }

    fn fire_timers(&mut self, end: End) -> bool {
        let now = self.now;
        let session = &mut self.side(end).session;
        match session.poll_timeout() {
            Some(at) if at <= now => {
                session.handle_timeout(now);
                true
            }
            _ => false,
        }
    }

    /// Runs both ends at the current instant until neither has anything left to do.
    fn drive(&mut self) {
        loop {
            let mut any = false;
            for end in [End::Esme, End::Smsc] {
                any |= self.drain(end);
                any |= self.receive(end);
                any |= self.fire_timers(end);
                any |= self.drain(end);
            }
            if !any {
                break;
            }
        }
    }

    /// Moves the virtual clock forward by `by`, stopping at every arrival and timer.
    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        self.drive();
        while let Some(next) = self.next_event().filter(|&at| at <= until) {
            self.now = self.now.max(next);
            self.drive();
        }
        self.now = until;
        self.drive();
    }

    fn next_event(&self) -> Option<Instant> {
        [&self.esme, &self.smsc]
            .into_iter()
            .flat_map(|s| {
                [
                    s.inbox.front().map(|w| w.arrive_at),
                    s.session.poll_timeout(),
                ]
            })
            .flatten()
            .min()
    }

    /// Puts a hand-made PDU into `end`'s inbox, as if its peer had sent it.
    fn inject(&mut self, end: End, header: Header) {
        let from = match end {
            End::Esme => End::Smsc,
            End::Smsc => End::Esme,
        };
        self.transmit(from, header, None);
        self.advance(LATENCY);
    }
}

fn config() -> Config {
    Config {
        window_size: 3,
        inbound_window_size: 3,
        response_timeout: RESPONSE_TIMEOUT,
        close_after_timeouts: None,
        enquire_link_interval: None,
        inactivity_timeout: None,
        bind_timeout: Duration::from_secs(30),
        initial_sequence_number: 1,
    }
}

fn submit_resp(status: CommandStatus, seq: u32) -> Header {
    Header::new(CommandId::SUBMIT_SM_RESP, status, seq)
}

#[test]
fn each_bind_kind_binds_both_ends_and_reports_the_peer_version() {
    for kind in BindKind::ALL {
        let pair = Pair::bound(kind, config());
        assert!(pair.esme.log.contains(&Action::Bound {
            kind,
            peer_interface_version: 0x34
        }));
        assert!(pair.smsc.log.iter().any(|a| matches!(
            a,
            Action::BindRequested { kind: k, interface_version: 0x34, .. } if *k == kind
        )));
        assert!(
            pair.smsc
                .log
                .iter()
                .any(|a| matches!(a, Action::Bound { kind: k, .. } if *k == kind))
        );
        assert!(pair.esme.session.peer_accepts_tlvs());
    }
}

#[test]
fn refused_bind_reports_the_status_and_allows_another_attempt() {
    let mut pair = Pair::with_config(config());
    pair.smsc.bind_answer = Some(CommandStatus::ESME_RINVPASWD);
    pair.bind(BindKind::Transmitter);
    assert!(pair.esme.log.contains(&Action::BindRefused {
        command_status: CommandStatus::ESME_RINVPASWD
    }));
    assert_eq!(pair.esme.session.state(), State::Open);
    assert_eq!(pair.smsc.session.state(), State::Open);
    assert_eq!(
        pair.esme
            .session
            .begin_request(CommandId::SUBMIT_SM, 1, pair.now),
        Err(RequestError::NotBound)
    );

    pair.smsc.bind_answer = Some(CommandStatus::ESME_ROK);
    pair.bind(BindKind::Transmitter);
    assert_eq!(
        pair.esme.session.state(),
        State::Bound(BindKind::Transmitter)
    );
}

#[test]
fn window_full_refuses_until_a_response_frees_a_slot() {
    let mut pair = Pair::bound(BindKind::Transmitter, config());
    pair.smsc.auto_answer = false;
    for token in 0..3 {
        pair.request(End::Esme, CommandId::SUBMIT_SM, token)
            .expect("room in the window");
    }
    pair.advance(LATENCY * 2);
    assert_eq!(pair.esme.session.outstanding_requests(), 3);
    assert_eq!(
        pair.esme.session.can_send(CommandId::SUBMIT_SM),
        Err(RequestError::WindowFull)
    );
    assert_eq!(
        pair.request(End::Esme, CommandId::SUBMIT_SM, 3),
        Err(RequestError::WindowFull)
    );

    let (_, first) = pair.smsc.held[0];
    pair.answer(End::Smsc, first, CommandStatus::ESME_ROK);
    pair.advance(LATENCY * 2);
    assert_eq!(pair.esme.session.outstanding_requests(), 2);
    assert!(pair.request(End::Esme, CommandId::SUBMIT_SM, 3).is_ok());
}

#[test]
fn responses_out_of_order_complete_the_right_tokens() {
    let mut pair = Pair::bound(BindKind::Transceiver, config());
    pair.smsc.auto_answer = false;
    let seqs: Vec<u32> = (100..103)
        .map(|token| {
            pair.request(End::Esme, CommandId::SUBMIT_SM, token)
                .expect("room")
        })
        .collect();
    pair.advance(LATENCY * 2);
    let statuses = [
        CommandStatus::ESME_ROK,
        CommandStatus::ESME_RTHROTTLED,
        CommandStatus::ESME_RINVDSTADR,
    ];
    for i in [2, 0, 1] {
        pair.answer(End::Smsc, seqs[i], statuses[i]);
    }
    pair.advance(LATENCY * 2);
    let completed: Vec<(u64, CommandStatus)> = pair
        .esme
        .log
        .iter()
        .filter_map(|a| match a {
            Action::Completed {
                token,
                command_status,
                command_id: CommandId::SUBMIT_SM_RESP,
                ..
            } => Some((*token, *command_status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        completed,
        vec![(102, statuses[2]), (100, statuses[0]), (101, statuses[1])]
    );
    assert_eq!(pair.esme.session.outstanding_requests(), 0);
}

#[test]
fn response_timeout_reports_timed_out_and_frees_the_slot_and_a_late_response_is_unmatched() {
    let mut pair = Pair::bound(
        BindKind::Transmitter,
        Config {
            window_size: 1,
            ..config()
        },
    );
    pair.smsc.auto_answer = false;
    let seq = pair
        .request(End::Esme, CommandId::SUBMIT_SM, 7)
        .expect("room");
    pair.advance(RESPONSE_TIMEOUT - LATENCY);
    assert_eq!(pair.esme.count(|a| matches!(a, Action::TimedOut { .. })), 0);
    pair.advance(LATENCY);
    assert!(pair.esme.log.contains(&Action::TimedOut {
        sequence_number: seq,
        token: 7,
        command_id: CommandId::SUBMIT_SM
    }));
    assert!(pair.request(End::Esme, CommandId::SUBMIT_SM, 8).is_ok());

    pair.answer(End::Smsc, seq, CommandStatus::ESME_ROK);
    pair.advance(LATENCY * 2);
    assert!(
        pair.esme
            .log
            .contains(&Action::UnmatchedResponse(submit_resp(
                CommandStatus::ESME_ROK,
                seq
            )))
    );
    assert_eq!(
        pair.esme.session.state(),
        State::Bound(BindKind::Transmitter)
    );
}

#[test]
fn enquire_link_keeps_an_idle_bind_alive() {
    let interval = Duration::from_secs(5);
    let mut pair = Pair::bound(
        BindKind::Transceiver,
        Config {
            enquire_link_interval: Some(interval),
            ..config()
        },
    );
    pair.advance(Duration::from_secs(60));
    let enquiries = pair.esme.sent(CommandId::ENQUIRE_LINK).len();
    assert!(enquiries >= 5, "only {enquiries} enquire_link sent in 60 s");
    assert!(!pair.smsc.sent(CommandId::ENQUIRE_LINK_RESP).is_empty());
    assert_eq!(
        pair.esme.session.state(),
        State::Bound(BindKind::Transceiver)
    );
    assert_eq!(
        pair.smsc.session.state(),
        State::Bound(BindKind::Transceiver)
    );
    assert_eq!(pair.esme.count(|a| matches!(a, Action::Deliver { .. })), 0);
}

#[test]
fn unanswered_enquire_link_detects_a_dead_peer() {
    let interval = Duration::from_secs(5);
    let mut esme_config = config();
    esme_config.enquire_link_interval = Some(interval);
    let mut pair = Pair::new(esme_config, config());
    pair.bind(BindKind::Transceiver);
    pair.smsc.deaf = true;
    pair.advance(interval + RESPONSE_TIMEOUT + LATENCY * 4);
    assert_eq!(
        pair.esme.close_reason(),
        Some(CloseReason::EnquireLinkTimeout)
    );
    assert!(pair.esme.session.is_closed());
    assert_eq!(pair.esme.session.poll_timeout(), None);
}

#[test]
fn consecutive_timeouts_close_the_session_as_a_dead_peer() {
    let mut pair = Pair::bound(
        BindKind::Transmitter,
        Config {
            close_after_timeouts: NonZeroU32::new(2),
            ..config()
        },
    );
    pair.smsc.deaf = true;
    for token in 0..3 {
        pair.request(End::Esme, CommandId::SUBMIT_SM, token)
            .expect("room");
    }
    pair.advance(RESPONSE_TIMEOUT + LATENCY);
    let tail: Vec<&Action> = pair.esme.log.iter().rev().take(4).rev().collect();
    assert!(
        matches!(tail[0], Action::TimedOut { token: 0, .. }),
        "{tail:?}"
    );
    assert!(
        matches!(tail[1], Action::TimedOut { token: 1, .. }),
        "{tail:?}"
    );
    assert!(
        matches!(tail[2], Action::Abandoned { token: 2, .. }),
        "{tail:?}"
    );
    assert_eq!(
        *tail[3],
        Action::Close {
            reason: CloseReason::DeadPeer
        }
    );
}

#[test]
fn esme_unbind_waits_for_outstanding_responses_then_completes_the_handshake() {
    let mut pair = Pair::bound(BindKind::Transmitter, config());
    pair.smsc.auto_answer = false;
    let a = pair
        .request(End::Esme, CommandId::SUBMIT_SM, 1)
        .expect("room");
    let b = pair
        .request(End::Esme, CommandId::SUBMIT_SM, 2)
        .expect("room");
    pair.advance(LATENCY * 2);
    pair.esme.session.unbind(pair.now).expect("bound");
    assert_eq!(pair.esme.session.state(), State::Unbinding);
    assert_eq!(
        pair.esme.session.can_send(CommandId::SUBMIT_SM),
        Err(RequestError::Closing)
    );
    pair.advance(LATENCY * 2);
    assert!(
        pair.esme.sent(CommandId::UNBIND).is_empty(),
        "unbind before the window drained"
    );

    pair.answer(End::Smsc, b, CommandStatus::ESME_ROK);
    pair.answer(End::Smsc, a, CommandStatus::ESME_ROK);
    pair.advance(LATENCY * 8);
    assert_eq!(
        pair.esme.count(|a| matches!(a, Action::Completed { .. })),
        2
    );
    assert_eq!(pair.esme.sent(CommandId::UNBIND).len(), 1);
    assert_eq!(pair.esme.close_reason(), Some(CloseReason::UnboundLocally));
    assert_eq!(pair.smsc.close_reason(), Some(CloseReason::UnboundByPeer));
    assert_eq!(
        pair.esme.count(|a| matches!(a, Action::Abandoned { .. })),
        0
    );
}

#[test]
fn smsc_unbind_waits_for_its_app_to_answer_delivered_requests() {
    let mut pair = Pair::bound(BindKind::Transceiver, config());
    pair.smsc.auto_answer = false;
    pair.request(End::Esme, CommandId::SUBMIT_SM, 1)
        .expect("room");
    pair.request(End::Esme, CommandId::SUBMIT_SM, 2)
        .expect("room");
    pair.advance(LATENCY * 2);
    pair.smsc.session.unbind(pair.now).expect("bound");
    pair.advance(LATENCY * 2);
    assert!(
        pair.smsc.sent(CommandId::UNBIND).is_empty(),
        "unbind before the answers"
    );

    // A request that crosses the unbind is refused, not delivered.
    pair.request(End::Esme, CommandId::SUBMIT_SM, 3)
        .expect("the ESME does not know yet");
    pair.advance(LATENCY * 2);
    assert_eq!(pair.smsc.held.len(), 2);

    for (_, seq) in pair.smsc.held.clone() {
        pair.answer(End::Smsc, seq, CommandStatus::ESME_ROK);
    }
    pair.advance(LATENCY * 8);
    let completed: Vec<CommandStatus> = pair
        .esme
        .log
        .iter()
        .filter_map(|a| match a {
            Action::Completed { command_status, .. } => Some(*command_status),
            _ => None,
        })
        .collect();
    assert_eq!(
        completed,
        vec![
            CommandStatus::ESME_RINVBNDSTS,
            CommandStatus::ESME_ROK,
            CommandStatus::ESME_ROK
        ]
    );
    assert_eq!(pair.smsc.close_reason(), Some(CloseReason::UnboundLocally));
    assert_eq!(pair.esme.close_reason(), Some(CloseReason::UnboundByPeer));
}

#[test]
fn peer_unbind_is_answered_once_delivered_requests_are_answered() {
    let mut pair = Pair::bound(BindKind::Transmitter, config());
    pair.smsc.auto_answer = false;
    pair.request(End::Esme, CommandId::SUBMIT_SM, 1)
        .expect("room");
    pair.advance(LATENCY * 2);
    // An unbind that overtakes the answer (the ESME gave up on its request).
    pair.inject(End::Smsc, Header::request(CommandId::UNBIND, 900));
    assert_eq!(pair.smsc.session.state(), State::Unbinding);
    assert!(pair.smsc.sent(CommandId::UNBIND_RESP).is_empty());

    let (_, seq) = pair.smsc.held[0];
    pair.answer(End::Smsc, seq, CommandStatus::ESME_ROK);
    pair.advance(LATENCY);
    assert_eq!(
        pair.smsc.sent(CommandId::UNBIND_RESP),
        vec![Header::new(
            CommandId::UNBIND_RESP,
            CommandStatus::ESME_ROK,
            900
        )]
    );
    assert_eq!(pair.smsc.close_reason(), Some(CloseReason::UnboundByPeer));
}

#[test]
fn peer_unbind_drops_unanswered_requests_after_the_response_timeout() {
    let mut pair = Pair::bound(BindKind::Transmitter, config());
    pair.smsc.auto_answer = false;
    pair.request(End::Esme, CommandId::SUBMIT_SM, 1)
        .expect("room");
    pair.advance(LATENCY * 2);
    pair.inject(End::Smsc, Header::request(CommandId::UNBIND, 900));
    pair.advance(RESPONSE_TIMEOUT);
    assert_eq!(pair.smsc.sent(CommandId::UNBIND_RESP).len(), 1);
    assert_eq!(pair.smsc.close_reason(), Some(CloseReason::UnboundByPeer));
    let (_, seq) = pair.smsc.held[0];
    assert_eq!(
        pair.smsc.session.respond(seq, pair.now),
        Err(AnswerError::Closed)
    );
}

#[test]
fn requests_before_bind_are_refused_with_invbndsts_and_not_delivered() {
    let mut pair = Pair::with_config(config());
    pair.inject(End::Smsc, Header::request(CommandId::SUBMIT_SM, 41));
    pair.inject(End::Smsc, Header::request(CommandId::ENQUIRE_LINK, 42));
    assert_eq!(
        pair.smsc.sent(CommandId::SUBMIT_SM_RESP),
        vec![submit_resp(CommandStatus::ESME_RINVBNDSTS, 41)]
    );
    assert_eq!(
        pair.smsc.sent(CommandId::ENQUIRE_LINK_RESP),
        vec![Header::new(
            CommandId::ENQUIRE_LINK_RESP,
            CommandStatus::ESME_ROK,
            42
        )]
    );
    assert_eq!(pair.smsc.count(|a| matches!(a, Action::Deliver { .. })), 0);
    assert_eq!(pair.smsc.session.state(), State::Open);
}

#[test]
fn deliver_sm_to_a_transmitter_bind_is_refused_both_ways() {
    let mut pair = Pair::bound(BindKind::Transmitter, config());
    assert_eq!(
        pair.smsc.session.can_send(CommandId::DELIVER_SM),
        Err(RequestError::NotAllowed(CommandId::DELIVER_SM))
    );
    pair.inject(End::Esme, Header::request(CommandId::DELIVER_SM, 77));
    assert_eq!(
        pair.esme.sent(CommandId::DELIVER_SM_RESP),
        vec![Header::new(
            CommandId::DELIVER_SM_RESP,
            CommandStatus::ESME_RINVBNDSTS,
            77
        )]
    );
    assert_eq!(pair.esme.count(|a| matches!(a, Action::Deliver { .. })), 0);
}

#[test]
fn submit_sm_from_a_receiver_bind_is_refused_and_deliver_sm_flows() {
    let mut pair = Pair::bound(BindKind::Receiver, config());
    assert_eq!(
        pair.esme.session.can_send(CommandId::SUBMIT_SM),
        Err(RequestError::NotAllowed(CommandId::SUBMIT_SM))
    );
    pair.inject(End::Smsc, Header::request(CommandId::SUBMIT_SM, 5));
    assert_eq!(
        pair.smsc.sent(CommandId::SUBMIT_SM_RESP),
        vec![submit_resp(CommandStatus::ESME_RINVBNDSTS, 5)]
    );

    pair.request(End::Smsc, CommandId::DELIVER_SM, 55)
        .expect("receiver bind");
    pair.advance(LATENCY * 4);
    assert!(pair.smsc.log.iter().any(|a| matches!(
        a,
        Action::Completed {
            token: 55,
            command_id: CommandId::DELIVER_SM_RESP,
            ..
        }
    )));
}

#[test]
fn a_second_bind_is_refused_with_alybnd() {
    let mut pair = Pair::bound(BindKind::Transceiver, config());
    assert_eq!(
        pair.esme.session.bind(BindKind::Transmitter, pair.now),
        Err(RequestError::AlreadyBound)
    );
    pair.inject(End::Smsc, Header::request(CommandId::BIND_TRANSMITTER, 9));
    assert_eq!(
        pair.smsc.sent(CommandId::BIND_TRANSMITTER_RESP),
        vec![Header::new(
            CommandId::BIND_TRANSMITTER_RESP,
            CommandStatus::ESME_RALYBND,
            9
        )]
    );
    assert_eq!(
        pair.smsc.session.state(),
        State::Bound(BindKind::Transceiver)
    );
}

#[test]
fn unknown_command_id_is_answered_with_generic_nack() {
    let mut pair = Pair::bound(BindKind::Transceiver, config());
    pair.inject(End::Smsc, Header::request(CommandId(0x0000_0777), 31));
    assert_eq!(
        pair.smsc.sent(CommandId::GENERIC_NACK),
        vec![Header::new(
            CommandId::GENERIC_NACK,
            CommandStatus::ESME_RINVCMDID,
            31
        )]
    );
    assert_eq!(pair.smsc.count(|a| matches!(a, Action::Deliver { .. })), 0);
}

#[test]
fn generic_nack_completes_the_request_it_names() {
    let mut pair = Pair::bound(BindKind::Transmitter, config());
    pair.smsc.auto_answer = false;
    let seq = pair
        .request(End::Esme, CommandId::SUBMIT_SM, 12)
        .expect("room");
    pair.inject(
        End::Esme,
        Header::new(CommandId::GENERIC_NACK, CommandStatus::ESME_RINVCMDLEN, seq),
    );
    assert!(pair.esme.log.contains(&Action::Completed {
        sequence_number: seq,
        token: 12,
        command_id: CommandId::GENERIC_NACK,
        command_status: CommandStatus::ESME_RINVCMDLEN,
    }));
    assert_eq!(pair.esme.session.outstanding_requests(), 0);
}

#[test]
fn a_response_of_the_wrong_command_is_unmatched_and_the_request_stays() {
    let mut pair = Pair::bound(BindKind::Transceiver, config());
    pair.smsc.auto_answer = false;
    let seq = pair
        .request(End::Esme, CommandId::SUBMIT_SM, 1)
        .expect("room");
    let wrong = Header::new(CommandId::DATA_SM_RESP, CommandStatus::ESME_ROK, seq);
    pair.inject(End::Esme, wrong);
    assert!(pair.esme.log.contains(&Action::UnmatchedResponse(wrong)));
    assert_eq!(pair.esme.session.outstanding_requests(), 1);
}

#[test]
fn sequence_numbers_wrap_from_the_maximum_to_one() {
    let mut pair = Pair::with_config(Config {
        initial_sequence_number: SEQUENCE_NUMBER_MAX - 1,
        ..config()
    });
    pair.bind(BindKind::Transmitter);
    let a = pair
        .request(End::Esme, CommandId::SUBMIT_SM, 1)
        .expect("room");
    let b = pair
        .request(End::Esme, CommandId::SUBMIT_SM, 2)
        .expect("room");
    pair.advance(LATENCY * 4);
    assert!(pair.esme.log.contains(&Action::Bound {
        kind: BindKind::Transmitter,
        peer_interface_version: 0x34
    }));
    assert_eq!((a, b), (SEQUENCE_NUMBER_MAX, 1));
    assert_eq!(
        pair.esme.count(|a| matches!(a, Action::Completed { .. })),
        2
    );
}

#[test]
fn outbind_asks_the_esme_to_bind() {
    let mut pair = Pair::with_config(config());
    let seq = pair.smsc.session.outbind(pair.now).expect("SMSC in Open");
    assert_eq!(
        pair.esme.session.outbind(pair.now),
        Err(RequestError::WrongRole)
    );
    pair.inject(End::Esme, Header::request(CommandId::OUTBIND, seq));
    assert_eq!(
        pair.esme.log,
        vec![Action::OutbindReceived {
            sequence_number: seq
        }]
    );
    pair.bind(BindKind::Receiver);
    assert_eq!(pair.esme.session.state(), State::Bound(BindKind::Receiver));
    assert_eq!(pair.smsc.session.state(), State::Bound(BindKind::Receiver));
}

#[test]
fn an_smsc_without_sc_interface_version_is_treated_as_smpp_33() {
    let mut pair = Pair::with_config(config());
    pair.smsc.interface_version = None;
    pair.bind(BindKind::Transceiver);
    assert!(pair.esme.log.contains(&Action::Bound {
        kind: BindKind::Transceiver,
        peer_interface_version: 0x33
    }));
    assert!(!pair.esme.session.peer_accepts_tlvs());
    assert!(pair.smsc.session.peer_accepts_tlvs());
}

#[test]
fn a_full_inbound_window_stops_reading_and_throttles_extra_requests() {
    let mut pair = Pair::bound(
        BindKind::Transmitter,
        Config {
            window_size: 5,
            inbound_window_size: 2,
            ..config()
        },
    );
    pair.smsc.auto_answer = false;
    for token in 0..2 {
        pair.request(End::Esme, CommandId::SUBMIT_SM, token)
            .expect("room");
    }
    pair.advance(LATENCY * 2);
    assert!(!pair.smsc.session.wants_read());
    let seq = pair
        .request(End::Esme, CommandId::SUBMIT_SM, 2)
        .expect("room");
    pair.advance(LATENCY * 4);
    assert_eq!(
        pair.smsc.sent(CommandId::SUBMIT_SM_RESP),
        vec![submit_resp(CommandStatus::ESME_RTHROTTLED, seq)]
    );
    let (_, first) = pair.smsc.held[0];
    pair.answer(End::Smsc, first, CommandStatus::ESME_ROK);
    assert!(pair.smsc.session.wants_read());
}

#[test]
fn inactivity_unbinds_an_idle_bind_even_with_keep_alives() {
    let mut pair = Pair::bound(
        BindKind::Transceiver,
        Config {
            enquire_link_interval: Some(Duration::from_secs(5)),
            inactivity_timeout: Some(Duration::from_secs(60)),
            ..config()
        },
    );
    pair.advance(Duration::from_secs(59));
    assert_eq!(
        pair.esme.session.state(),
        State::Bound(BindKind::Transceiver)
    );
    pair.advance(Duration::from_secs(2));
    assert!(
        !pair.esme.sent(CommandId::UNBIND).is_empty()
            || !pair.smsc.sent(CommandId::UNBIND).is_empty()
    );
    assert!(pair.esme.session.is_closed() && pair.smsc.session.is_closed());
    let reasons = [pair.esme.close_reason(), pair.smsc.close_reason()];
    assert!(
        reasons.contains(&Some(CloseReason::Inactivity)),
        "{reasons:?}"
    );
}

#[test]
fn a_connection_that_never_binds_is_closed_after_the_bind_timeout() {
    let mut pair = Pair::with_config(config());
    pair.advance(Duration::from_secs(29));
    assert_eq!(pair.smsc.session.state(), State::Open);
    pair.advance(Duration::from_secs(1));
    assert_eq!(pair.smsc.close_reason(), Some(CloseReason::BindTimeout));
    assert_eq!(pair.esme.close_reason(), Some(CloseReason::BindTimeout));
}

#[test]
fn connection_loss_abandons_outstanding_requests_then_closes() {
    let mut pair = Pair::bound(BindKind::Transmitter, config());
    pair.smsc.auto_answer = false;
    pair.request(End::Esme, CommandId::SUBMIT_SM, 1)
        .expect("room");
    pair.request(End::Esme, CommandId::SUBMIT_SM, 2)
        .expect("room");
    pair.esme.session.handle_connection_lost(pair.now);
    pair.drain(End::Esme);
    let tail: Vec<Action> = pair.esme.log.iter().rev().take(3).rev().copied().collect();
    assert!(matches!(tail[0], Action::Abandoned { token: 1, .. }));
    assert!(matches!(tail[1], Action::Abandoned { token: 2, .. }));
    assert_eq!(
        tail[2],
        Action::Close {
            reason: CloseReason::ConnectionLost
        }
    );
    let before = pair.esme.log.len();
    pair.inject(End::Esme, submit_resp(CommandStatus::ESME_ROK, 1));
    pair.advance(RESPONSE_TIMEOUT * 2);
    assert_eq!(
        pair.esme.log.len(),
        before,
        "a closed session must stay silent"
    );
}
