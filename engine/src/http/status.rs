//! What `GET /v1/messages/{id}` answers: a bounded book of HTTP messages' states, parts
//! and timelines, kept while the shard holds the message and for a bounded number of
//! finished ones after (oldest forgotten first).

use std::collections::VecDeque;

use tern_http::{MessageStatus, PartStatus, StatusState};
use tern_smpp::{CommandStatus, MessageState};

use crate::lifecycle::State;
use crate::message::{FinalState, IdMap, MessageId, MessageRecord};

/// Most timeline entries per message (a message passes through at most ~6 states; retries
/// and failovers add Queued/Sent pairs, which past this bound replace the last entry).
const TIMELINE_MAX: usize = 16;

struct Entry {
    user: u32,
    to: Box<str>,
    from: Box<str>,
    client_ref: Option<Box<str>>,
    state: StatusState,
    error: Option<u32>,
    parts: Vec<PartStatus>,
    timeline: Vec<(StatusState, u64)>,
    finished: bool,
}

/// The status book of one shard.
pub struct StatusBook {
    entries: IdMap<Entry>,
    /// Finished messages, oldest first: evicted past `finished_max`.
    finished: VecDeque<MessageId>,
    finished_max: usize,
}

impl StatusBook {
    /// A book that remembers at most `finished_max` finished messages.
    pub fn new(finished_max: usize) -> StatusBook {
        StatusBook {
            entries: IdMap::default(),
            finished: VecDeque::new(),
            finished_max,
        }
    }

    /// An HTTP message was accepted.
    pub fn accepted(&mut self, record: &MessageRecord<'_>, parts: u8) {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned().into_boxed_str();
        let entry = Entry {
            user: record.user.0,
            to: text(&record.destination.digits),
            from: text(&record.source.digits),
            client_ref: (!record.client_ref.is_empty()).then(|| text(&record.client_ref)),
            state: StatusState::Accepted,
            error: None,
            parts: (1..=parts)
                .map(|part| PartStatus {
                    part,
                    state: StatusState::Accepted,
                    smsc_id: None,
                    error: None,
                })
                .collect(),
            timeline: vec![(StatusState::Accepted, record.accepted_at_ms)],
            finished: false,
        };
        self.entries.insert(record.id, entry);
    }

    /// A part got its upstream answer.
    pub fn submit_result(&mut self, id: MessageId, part: u8, status: CommandStatus, id2: &[u8]) {
        let Some(p) = self.part(id, part) else {
            return;
        };
        if status == CommandStatus::ESME_ROK {
            p.state = StatusState::Sent;
            if !id2.is_empty() {
                p.smsc_id = Some(String::from_utf8_lossy(id2).into_owned());
            }
        } else {
            p.error = Some(status.0);
        }
    }

    /// A part's receipt came.
    pub fn receipt(&mut self, id: MessageId, part: u8, state: MessageState, error: u32) {
        let Some(p) = self.part(id, part) else {
            return;
        };
        if let Some(s) = receipt_state(state) {
            p.state = s;
        }
        if error != 0 {
            p.error = Some(error);
        }
    }

    /// The message's lifecycle is now in `state`.
    pub fn state(&mut self, id: MessageId, state: State, now_ms: u64) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let (s, error) = match state {
            State::Accepted => (StatusState::Accepted, None),
            State::Queued { .. } => (StatusState::Queued, None),
            State::InFlight { .. } | State::AwaitingReceipt { .. } => (StatusState::Sent, None),
            State::Final(f) => final_state(f),
        };
        if error.is_some() {
            entry.error = error;
        }
        if matches!(state, State::Final(_)) {
            for p in &mut entry.parts {
                if matches!(p.state, StatusState::Accepted | StatusState::Queued) {
                    p.state = s;
                }
            }
        }
        if entry.state == s {
            return;
        }
        entry.state = s;
        if entry.timeline.len() >= TIMELINE_MAX {
            entry.timeline.pop();
        }
        entry.timeline.push((s, now_ms));
    }

    /// The shard let go of message `id`: keep it as finished, within the bound.
    pub fn released(&mut self, id: MessageId) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        if entry.finished {
            return;
        }
        if self.finished_max == 0 {
            self.entries.remove(&id);
            return;
        }
        entry.finished = true;
        self.finished.push_back(id);
        while self.finished.len() > self.finished_max {
            if let Some(old) = self.finished.pop_front() {
                self.entries.remove(&old);
            }
        }
    }

    /// The status of `id` for user `user`.
    pub fn get(&self, id: MessageId, user: u32) -> Option<MessageStatus> {
        let e = self.entries.get(&id).filter(|e| e.user == user)?;
        Some(MessageStatus {
            id: id.to_string(),
            to: e.to.to_string(),
            from: e.from.to_string(),
            client_ref: e.client_ref.as_deref().map(str::to_owned),
            state: e.state,
            parts: e.parts.clone(),
            timeline: e.timeline.clone(),
            error: e.error,
        })
    }

    /// The SMSC's id of the first part of `id` that has one (what a receipt callback
    /// names), without copying the rest of the status.
    pub fn smsc_id(&self, id: MessageId, user: u32) -> Option<String> {
        let e = self.entries.get(&id).filter(|e| e.user == user)?;
        e.parts.iter().find_map(|p| p.smsc_id.clone())
    }

    /// Messages followed now (held and finished).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is followed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn part(&mut self, id: MessageId, part: u8) -> Option<&mut PartStatus> {
        self.entries.get_mut(&id)?.parts.get_mut(usize::from(part))
    }
}

fn final_state(f: FinalState) -> (StatusState, Option<u32>) {
    match f {
        FinalState::Delivered => (StatusState::Delivered, None),
        FinalState::Undeliverable | FinalState::Unknown => (StatusState::Failed, None),
        FinalState::Expired => (StatusState::Expired, None),
        FinalState::Rejected => (StatusState::Rejected, None),
        FinalState::Deleted => (StatusState::Cancelled, None),
        FinalState::Failed { status } => (StatusState::Failed, Some(status.0)),
    }
}

fn receipt_state(state: MessageState) -> Option<StatusState> {
    match state {
        MessageState::DELIVERED => Some(StatusState::Delivered),
        MessageState::UNDELIVERABLE | MessageState::UNKNOWN => Some(StatusState::Failed),
        MessageState::EXPIRED => Some(StatusState::Expired),
        MessageState::REJECTED => Some(StatusState::Rejected),
        MessageState::DELETED => Some(StatusState::Cancelled),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: MessageId) -> MessageRecord<'static> {
        use std::borrow::Cow;
        use tern_smpp::{EsmClass, RegisteredDelivery};
        MessageRecord {
            id,
            user: crate::message::UserId(7),
            session: crate::message::SessionKind::Http,
            accepted_at_ms: 1_000,
            validity_deadline_ms: 2_000,
            schedule_at_ms: None,
            source: crate::message::Address {
                ton: 5,
                npi: 0,
                digits: Cow::Borrowed(b"Tern"),
            },
            destination: crate::message::Address {
                ton: 1,
                npi: 1,
                digits: Cow::Borrowed(b"447700900123"),
            },
            esm_class: EsmClass(0),
            protocol_id: 0,
            priority: 0,
            registered_delivery: RegisteredDelivery(1),
            data_coding: 0,
            service_type: Cow::Borrowed(b""),
            client_ref: Cow::Borrowed(b"ref-1"),
            route: crate::message::Route::single(crate::message::ConnectorId(0)),
            content: crate::message::Content::ShortMessage(Cow::Borrowed(b"hi")),
            tlvs: Cow::Borrowed(b""),
            callback: Cow::Borrowed(b""),
            idempotency_key: Cow::Borrowed(b""),
        }
    }

    #[test]
    fn a_delivered_message_shows_its_parts_and_timeline_to_its_owner_only() {
        let id = MessageId::new(0, 1).unwrap();
        let mut book = StatusBook::new(10);
        book.accepted(&record(id), 2);
        book.state(
            id,
            State::Queued {
                connector: crate::message::ConnectorId(0),
                attempt: 1,
                not_before_ms: 0,
            },
            1_001,
        );
        book.submit_result(id, 0, CommandStatus::ESME_ROK, b"abc");
        book.submit_result(id, 1, CommandStatus::ESME_ROK, b"abd");
        book.state(id, State::AwaitingReceipt { parts_pending: 2 }, 1_002);
        book.receipt(id, 0, MessageState::DELIVERED, 0);
        book.receipt(id, 1, MessageState::DELIVERED, 0);
        book.state(id, State::Final(FinalState::Delivered), 1_003);
        book.released(id);
        assert!(book.get(id, 8).is_none());
        let status = book.get(id, 7).unwrap();
        assert_eq!(status.state, StatusState::Delivered);
        assert_eq!(status.parts[1].smsc_id.as_deref(), Some("abd"));
        assert_eq!(status.client_ref.as_deref(), Some("ref-1"));
        let states: Vec<_> = status.timeline.iter().map(|t| t.0).collect();
        assert_eq!(
            states,
            [
                StatusState::Accepted,
                StatusState::Queued,
                StatusState::Sent,
                StatusState::Delivered
            ]
        );
    }

    #[test]
    fn finished_messages_beyond_the_bound_are_forgotten_oldest_first() {
        let mut book = StatusBook::new(2);
        let ids: Vec<_> = (0..3).map(|i| MessageId::new(0, i).unwrap()).collect();
        for &id in &ids {
            book.accepted(&record(id), 1);
            book.state(
                id,
                State::Final(FinalState::Failed {
                    status: CommandStatus(0x45),
                }),
                5,
            );
            book.released(id);
        }
        assert!(book.get(ids[0], 7).is_none());
        assert_eq!(book.get(ids[2], 7).unwrap().error, Some(0x45));
        assert_eq!(book.len(), 2);
    }
}
