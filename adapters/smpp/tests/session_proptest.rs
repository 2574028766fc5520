//! Random sequences of events against one session, in either role, checking the
//! invariants that must hold whatever a peer or the clock does.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tern_smpp::session::{
    Action, BindKind, Config, Header, Role, SEQUENCE_NUMBER_MAX, Session, State,
};
use tern_smpp::{CommandId, CommandStatus};

/// Application requests, listed first so that picks favour them over the rest of ALL.
const APPLICATION: [CommandId; 6] = [
    CommandId::SUBMIT_SM,
    CommandId::DELIVER_SM,
    CommandId::DATA_SM,
    CommandId::QUERY_SM,
    CommandId::ALERT_NOTIFICATION,
    CommandId::SUBMIT_MULTI,
];

/// An application request three times in four, any known command otherwise.
fn command(pick: usize) -> CommandId {
    if pick.is_multiple_of(4) {
        CommandId::ALL[(pick / 4) % CommandId::ALL.len()]
    } else {
        APPLICATION[(pick / 4) % APPLICATION.len()]
    }
}

#[derive(Clone, Debug)]
enum Event {
    /// Any header at all from the peer.
    Raw {
        command_id: u32,
        status: u32,
        sequence_number: u32,
        interface_version: Option<u8>,
    },
    /// A known command from the peer with a plausible sequence number.
    Known {
        pick: usize,
        status: u32,
        sequence_number: u32,
    },
    /// A response to one of our requests (its `_resp`, or a generic_nack).
    Reply {
        pick: usize,
        nack: bool,
        status: u32,
    },
    /// A request with a body that did not decode.
    Reject {
        pick: usize,
        sequence_number: u32,
    },
    Advance {
        ms: u64,
    },
    /// Jump exactly to the session's next deadline.
    ToDeadline,
    /// An Instant earlier than one already seen.
    Backwards {
        ms: u64,
    },
    Begin {
        pick: usize,
    },
    Respond {
        pick: usize,
    },
    AnswerBind {
        ok: bool,
    },
    Bind {
        pick: usize,
    },
    Unbind,
    Outbind,
    /// The app closes, or the connection is lost.
    End {
        lost: bool,
    },
    /// A bind request from the peer.
    PeerBind {
        pick: usize,
        sequence_number: u32,
    },
}

fn event() -> impl Strategy<Value = Event> {
    let status = || prop_oneof![3 => Just(0u32), 1 => 0u32..0x110];
    prop_oneof![
        2 => (any::<u32>(), 0u32..0x110, any::<u32>(), proptest::option::of(any::<u8>())).prop_map(
            |(command_id, status, sequence_number, interface_version)| Event::Raw {
                command_id,
                status,
                sequence_number,
                interface_version
            }
        ),
        6 => (any::<usize>(), status(), 0u32..8).prop_map(
            |(pick, status, sequence_number)| Event::Known { pick, status, sequence_number }
        ),
        3 => (0usize..3, 0u32..8).prop_map(|(pick, sequence_number)| Event::PeerBind { pick, sequence_number }),
        8 => (any::<usize>(), any::<bool>(), status())
            .prop_map(|(pick, nack, status)| Event::Reply { pick, nack, status }),
        1 => (any::<usize>(), 0u32..8).prop_map(|(pick, sequence_number)| Event::Reject { pick, sequence_number }),
        6 => (0u64..2_000).prop_map(|ms| Event::Advance { ms }),
        1 => (0u64..20_000).prop_map(|ms| Event::Advance { ms }),
        2 => Just(Event::ToDeadline),
        1 => (0u64..5_000).prop_map(|ms| Event::Backwards { ms }),
        8 => any::<usize>().prop_map(|pick| Event::Begin { pick }),
        5 => any::<usize>().prop_map(|pick| Event::Respond { pick }),
        3 => prop_oneof![4 => Just(true), 1 => Just(false)].prop_map(|ok| Event::AnswerBind { ok }),
        3 => any::<usize>().prop_map(|pick| Event::Bind { pick }),
        1 => Just(Event::Unbind),
        1 => Just(Event::Outbind),
        1 => any::<bool>().prop_map(|lost| Event::End { lost }),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    let secs = |max: u64| (1u64..=max).prop_map(Duration::from_secs);
    (
        (1u32..=4, 1u32..=4, secs(10)),
        (
            proptest::option::of(1u32..=4),
            proptest::option::of(secs(10)),
        ),
        (proptest::option::of(secs(30)), secs(30)),
        prop_oneof![Just(1u32), (SEQUENCE_NUMBER_MAX - 3)..=SEQUENCE_NUMBER_MAX],
    )
        .prop_map(
            |((window, inbound, response), (timeouts, enquire), (inactivity, bind), first)| {
                Config {
                    window_size: window,
                    inbound_window_size: inbound,
                    response_timeout: response,
                    close_after_timeouts: timeouts.and_then(NonZeroU32::new),
                    enquire_link_interval: enquire,
                    inactivity_timeout: inactivity,
                    bind_timeout: bind,
                    initial_sequence_number: first,
                }
            },
        )
}

/// The test's model of the app around the session.
struct Harness {
    session: Session,
    base: Instant,
    elapsed: Duration,
    /// Requests we sent that may still be answered: (sequence number, command).
    sent: Vec<(u32, CommandId)>,
    /// Delivered requests (and bind requests) awaiting the app's answer.
    delivered: Vec<u32>,
    /// Tokens begun and not yet reported completed, timed out or abandoned.
    open_tokens: HashSet<u64>,
    next_token: u64,
    closed: bool,
}

impl Harness {
    fn now(&self) -> Instant {
        self.base + self.elapsed
    }

    fn pick<T: Copy>(items: &[T], pick: usize) -> Option<T> {
        (!items.is_empty()).then(|| items[pick % items.len()])
    }

    fn apply(&mut self, event: &Event) {
        let now = self.now();
        let s = &mut self.session;
        match *event {
            Event::Raw {
                command_id,
                status,
                sequence_number,
                interface_version,
            } => s.handle_pdu(
                Header::new(
                    CommandId(command_id),
                    CommandStatus(status),
                    sequence_number,
                ),
                interface_version,
                now,
            ),
            Event::Known {
                pick,
                status,
                sequence_number,
            } => {
                let header = Header::new(command(pick), CommandStatus(status), sequence_number);
                s.handle_pdu(header, Some(0x34), now);
            }
            Event::Reply { pick, nack, status } => {
                // Mostly one of the latest requests, which are the likeliest outstanding.
                let recent = self.sent.len().saturating_sub(4);
                let from = if pick.is_multiple_of(8) {
                    &self.sent[..]
                } else {
                    &self.sent[recent..]
                };
                if let Some((seq, id)) = Self::pick(from, pick / 8) {
                    let response_id = if nack {
                        CommandId::GENERIC_NACK
                    } else {
                        id.response().unwrap_or(id)
                    };
                    let header = Header::new(response_id, CommandStatus(status), seq);
                    s.handle_pdu(header, Some(0x34), now);
                }
            }
            Event::Reject {
                pick,
                sequence_number,
            } => {
                let command_id = CommandId::ALL[pick % CommandId::ALL.len()];
                let header = Header::request(command_id, sequence_number);
                s.reject_request(header, CommandStatus::ESME_RINVMSGLEN, now);
            }
            Event::Advance { ms } => {
                self.elapsed += Duration::from_millis(ms);
                let now = self.now();
                self.session.handle_timeout(now);
            }
            Event::ToDeadline => {
                if let Some(at) = s.poll_timeout() {
                    self.elapsed = self.elapsed.max(at.duration_since(self.base));
                    s.handle_timeout(at);
                }
            }
            Event::Backwards { ms } => {
                let earlier = now
                    .checked_sub(Duration::from_millis(ms))
                    .unwrap_or(self.base)
                    .max(self.base);
                s.handle_timeout(earlier);
            }
            Event::Begin { pick } => self.begin(pick, now),
            Event::Respond { pick } => {
                if let Some(seq) = Self::pick(&self.delivered, pick) {
                    self.delivered.retain(|&d| d != seq);
                    let _ = s.respond(seq, now);
                }
            }
            Event::AnswerBind { ok } => {
                let status = if ok {
                    CommandStatus::ESME_ROK
                } else {
                    CommandStatus::ESME_RBINDFAIL
                };
                for &seq in &self.delivered {
                    let _ = s.answer_bind(seq, status, now);
                }
            }
            Event::Bind { pick } => {
                if let Ok(seq) = s.bind(BindKind::ALL[pick % 3], now) {
                    self.note_sequence_number(seq);
                    self.sent.push((seq, BindKind::ALL[pick % 3].request_id()));
                }
            }
            Event::Unbind => {
                let _ = s.unbind(now);
            }
            Event::Outbind => {
                if let Ok(seq) = s.outbind(now) {
                    self.note_sequence_number(seq);
                }
            }
            Event::End { lost: false } => s.close(now),
            Event::End { lost: true } => s.handle_connection_lost(now),
            Event::PeerBind {
                pick,
                sequence_number,
            } => {
                let header = Header::request(BindKind::ALL[pick].request_id(), sequence_number);
                s.handle_pdu(header, Some(0x34), now);
            }
        }
    }

    /// Binds with the peer's cooperation, so that most cases explore the bound states.
    fn bind_first(&mut self, kind: BindKind) {
        let now = self.now();
        let s = &mut self.session;
        match s.role() {
            Role::Esme => {
                let seq = s.bind(kind, now).expect("bind from Open");
                s.handle_pdu(Header::request(kind.response_id(), seq), Some(0x34), now);
            }
            Role::Smsc => {
                s.handle_pdu(Header::request(kind.request_id(), 1), Some(0x34), now);
                s.answer_bind(1, CommandStatus::ESME_ROK, now)
                    .expect("pending bind");
            }
        }
        self.check_actions(false);
        assert_eq!(self.session.state(), State::Bound(kind));
    }

    fn begin(&mut self, pick: usize, now: Instant) {
        let command_id = command(pick);
        let token = self.next_token;
        if let Ok(seq) = self.session.begin_request(command_id, token, now) {
            self.note_sequence_number(seq);
            self.next_token += 1;
            if command_id.response().is_some() {
                self.open_tokens.insert(token);
                self.sent.push((seq, command_id));
            }
        }
    }

    fn note_sequence_number(&self, seq: u32) {
        assert!(
            (1..=SEQUENCE_NUMBER_MAX).contains(&seq),
            "allocated sequence number {seq}"
        );
    }

    /// Drains the actions of one call and checks them.
    fn check_actions(&mut self, was_bound: bool) {
        let mut actions = Vec::new();
        while let Some(action) = self.session.poll_action() {
            actions.push(action);
        }
        assert!(
            actions.len() <= self.session.max_actions_per_call(),
            "{} actions",
            actions.len()
        );
        if self.closed {
            assert!(actions.is_empty(), "actions after Close: {actions:?}");
            return;
        }
        for (i, action) in actions.iter().enumerate() {
            self.check_action(action, was_bound);
            if matches!(action, Action::Close { .. }) {
                assert_eq!(i + 1, actions.len(), "Close is not last: {actions:?}");
                self.closed = true;
            }
        }
    }

    fn check_action(&mut self, action: &Action, was_bound: bool) {
        match *action {
            Action::Send(header) if !header.command_id.is_response() => {
                self.note_sequence_number(header.sequence_number);
                self.sent.push((header.sequence_number, header.command_id));
            }
            Action::Deliver {
                sequence_number, ..
            } => {
                assert!(was_bound, "delivered while not bound");
                self.delivered.push(sequence_number);
            }
            Action::BindRequested {
                sequence_number, ..
            } => self.delivered.push(sequence_number),
            Action::Completed { token, .. }
            | Action::TimedOut { token, .. }
            | Action::Abandoned { token, .. } => {
                assert!(
                    self.open_tokens.remove(&token),
                    "token {token} reported twice or never begun"
                );
            }
            Action::Close { .. } => {
                assert!(
                    self.open_tokens.is_empty(),
                    "closed with unreported tokens {:?}",
                    self.open_tokens
                );
            }
            _ => {}
        }
    }

    fn check_state(&self) {
        let s = &self.session;
        let c = s.config();
        assert!(s.outstanding_requests() <= c.window_size as usize);
        assert!(s.inbound_pending() <= c.inbound_window_size as usize);
        assert_eq!(s.outstanding_requests(), self.open_tokens.len());
        assert_eq!(self.closed, s.state() == State::Closed);
        if self.closed {
            assert_eq!(s.poll_timeout(), None);
            assert!(!s.wants_read());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_events_keep_every_invariant(
        smsc in any::<bool>(),
        config in config(),
        prebind in proptest::option::weighted(0.75, 0usize..3),
        events in proptest::collection::vec(event(), 1..80),
    ) {
        let role = if smsc { Role::Smsc } else { Role::Esme };
        let base = Instant::now();
        let mut h = Harness {
            session: Session::new(role, config, base).expect("strategy makes valid configs"),
            base,
            elapsed: Duration::ZERO,
            sent: Vec::new(),
            delivered: Vec::new(),
            open_tokens: HashSet::new(),
            next_token: 0,
            closed: false,
        };
        if let Some(kind) = prebind {
            h.bind_first(BindKind::ALL[kind]);
        }
        for event in &events {
            let was_bound = matches!(h.session.state(), State::Bound(_));
            h.apply(event);
            h.check_actions(was_bound);
            h.check_state();
        }
    }
}
