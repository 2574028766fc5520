//! Recovery: the live set rebuilt from the WAL after a crash at any point.

mod lifecycle_support;

use std::collections::{BTreeMap, BTreeSet};

use lifecycle_support::{Entry, ModelWal, Seen, T0_MS, accept_into, drive, record};
use proptest::prelude::*;
use tern_engine::lifecycle::{
    Action, Event, Lifecycle, LifecycleConfig, Recovered, Recovery, State, resume_all,
};
use tern_engine::message::{FinalScope, Id2, MessageId, Progress, Record, RecordError, kind};
use tern_smpp::{CommandStatus, MessageState};
use tern_wal::Lsn;

const RECEIPT_ON_FINAL: u8 = 1;

/// Several messages sharing one model WAL.
struct Shard {
    config: LifecycleConfig,
    wal: ModelWal,
    messages: Vec<(Lifecycle, Seen)>,
}

impl Shard {
    fn new() -> Shard {
        Shard {
            config: LifecycleConfig::default(),
            wal: ModelWal::default(),
            messages: Vec::new(),
        }
    }

    /// Accepts a message and makes it durable; returns its index.
    fn accept(&mut self, parts: u8, registered_delivery: u8) -> usize {
        let sequence = self.messages.len() as u64 + 1;
        let lifecycle = accept_into(
            &mut self.wal,
            &record(sequence, parts, &[4, 5], registered_delivery),
        );
        self.messages.push((lifecycle, Seen::default()));
        let index = self.messages.len() - 1;
        self.event(index, Event::Durable);
        index
    }

    fn event(&mut self, index: usize, event: Event) -> Vec<Action> {
        let (lifecycle, seen) = &mut self.messages[index];
        drive(&mut self.wal, lifecycle, seen, &self.config, T0_MS, event).1
    }

    fn id(&self, index: usize) -> MessageId {
        self.messages[index].0.id()
    }

    fn recover(&self, len: usize) -> Recovered {
        recover(&self.wal, len)
    }
}

fn recover(wal: &ModelWal, len: usize) -> Recovered {
    let mut recovery = Recovery::new(1);
    for (lsn, record_kind, payload) in wal.live_after_crash(len) {
        recovery.apply(lsn, record_kind, &payload).unwrap();
    }
    recovery.finish(0)
}

fn submitted(part: u8, text: &str) -> Event {
    Event::SubmitResult {
        part,
        status: CommandStatus::ESME_ROK,
        id2: Some(Id2::new(text.as_bytes()).unwrap()),
    }
}

fn submits(actions: &[Action]) -> BTreeSet<u8> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Submit { part, .. } => Some(*part),
            _ => None,
        })
        .collect()
}

/// Resumes `id` out of `recovered`, then lets its queue hand it over: the parts it
/// submits again.
fn resubmitted_parts(recovered: Recovered, id: MessageId) -> BTreeSet<u8> {
    let config = LifecycleConfig::default();
    let mut lifecycle = recovered
        .into_messages()
        .find(|lifecycle| lifecycle.id() == id)
        .unwrap();
    let mut out = Vec::new();
    lifecycle.resume(T0_MS, &mut out);
    lifecycle.handle(&config, T0_MS, Event::RetryDue, &mut out);
    submits(&out)
}

#[test]
fn recovery_resubmits_accepted_but_unsent() {
    let mut shard = Shard::new();
    let message = shard.accept(1, RECEIPT_ON_FINAL);
    let recovered = shard.recover(shard.wal.entries.len());
    assert_eq!(
        recovered.to_submit().collect::<Vec<_>>(),
        vec![shard.id(message)]
    );
    assert_eq!(
        resubmitted_parts(recovered, shard.id(message)),
        BTreeSet::from([0])
    );
}

#[test]
fn recovery_resubmits_sent_but_unanswered() {
    let mut shard = Shard::new();
    let message = shard.accept(2, RECEIPT_ON_FINAL);
    shard.event(message, Event::RetryDue);
    shard.event(message, submitted(0, "P0"));
    let recovered = shard.recover(shard.wal.entries.len());
    assert_eq!(recovered.to_submit().count(), 1);
    assert_eq!(
        resubmitted_parts(recovered, shard.id(message)),
        BTreeSet::from([1]),
        "part 0 has its ID2: only part 1 goes again"
    );
}

#[test]
fn recovery_reinserts_dlr_entries_for_awaiting_parts_only() {
    let mut shard = Shard::new();
    let waiting = shard.accept(1, RECEIPT_ON_FINAL);
    let finished = shard.accept(1, RECEIPT_ON_FINAL);
    for (index, text) in [(waiting, "W"), (finished, "F")] {
        shard.event(index, Event::RetryDue);
        shard.event(index, submitted(0, text));
    }
    shard.event(
        finished,
        Event::Receipt {
            part: 0,
            state: MessageState::DELIVERED,
            error: 0,
            matched: None,
        },
    );
    let recovered = shard.recover(shard.wal.entries.len());
    assert_eq!(
        recovered.awaiting_receipts().collect::<Vec<_>>(),
        vec![shard.id(waiting)]
    );
    let entries: Vec<_> = shard
        .wal
        .live_after_crash(shard.wal.entries.len())
        .into_iter()
        .filter_map(|(lsn, record_kind, payload)| recovered.dlr_entry(lsn, record_kind, &payload))
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0.id2, Id2::new(b"W").unwrap());
    assert_eq!(entries[0].1.message, shard.id(waiting));
    assert_eq!(
        recovered.get(shard.id(waiting)).unwrap().state(),
        State::AwaitingReceipt { parts_pending: 1 }
    );
}

#[test]
fn recovery_redelivers_owed_receipts() {
    let mut shard = Shard::new();
    let message = shard.accept(1, RECEIPT_ON_FINAL);
    shard.event(message, Event::RetryDue);
    shard.event(
        message,
        Event::SubmitResult {
            part: 0,
            status: CommandStatus::ESME_RINVMSGLEN,
            id2: None,
        },
    );
    let recovered = shard.recover(shard.wal.entries.len());
    let owed: Vec<_> = recovered.receipts_owed().collect();
    assert_eq!(owed.len(), 1);
    assert_eq!(owed[0].id, shard.id(message));
    let (_, actions) = resume_all(recovered, T0_MS);
    assert!(
        matches!(actions.as_slice(), [Action::NotifyClient(receipt)] if receipt.id == shard.id(message))
    );
}

#[test]
fn recovery_completes_a_final_message_whose_follow_up_records_were_lost() {
    let mut shard = Shard::new();
    let message = shard.accept(1, RECEIPT_ON_FINAL);
    shard.event(message, Event::Cancelled);
    let final_at = shard
        .wal
        .entries
        .iter()
        .position(|(_, entry)| matches!(entry, Entry::Record { kind, .. } if *kind == kind::FINAL))
        .unwrap();
    let recovered = shard.recover(final_at + 1);
    assert_eq!(recovered.receipts_owed().count(), 0);
    let (lifecycles, actions) = resume_all(recovered, T0_MS);
    assert_eq!(
        lifecycles[0].state(),
        State::Final(tern_engine::message::FinalState::Deleted)
    );
    assert!(matches!(
        actions.as_slice(),
        [
            Action::Log(Progress::ReceiptPending(_)),
            Action::NotifyClient(_)
        ]
    ));
}

#[test]
fn recovery_drops_closed_messages_and_reports_their_lsns() {
    let mut shard = Shard::new();
    let message = shard.accept(1, 0);
    shard.event(message, Event::Cancelled);
    let done_at = shard
        .wal
        .entries
        .iter()
        .position(|(_, entry)| matches!(entry, Entry::Record { kind, .. } if *kind == kind::DONE))
        .unwrap();
    // Crash after the Done record, before any tombstone.
    let recovered = shard.recover(done_at + 1);
    assert!(recovered.is_empty());
    assert_eq!(recovered.dead_lsns(), &[Lsn(1), Lsn(2), Lsn(3)]);
    // With every tombstone on disk nothing is left at all.
    let recovered = shard.recover(shard.wal.entries.len());
    assert!(recovered.is_empty() && recovered.dead_lsns().is_empty());
}

#[test]
fn recovery_takes_records_in_any_order_and_counts_copies_once() {
    let mut shard = Shard::new();
    let message = shard.accept(1, RECEIPT_ON_FINAL);
    shard.event(message, Event::RetryDue);
    shard.event(message, submitted(0, "A1"));
    let live = shard.wal.live_after_crash(shard.wal.entries.len());
    let (accepted_lsn, accepted_kind, accepted) = live[0].clone();
    let mut recovery = Recovery::new(1);
    // Compaction copied the Accepted record after the Submitted one, and the crash came
    // before the original's tombstone.
    for (lsn, record_kind, payload) in &live[1..] {
        recovery.apply(*lsn, *record_kind, payload).unwrap();
    }
    recovery.apply(Lsn(500), accepted_kind, &accepted).unwrap();
    recovery
        .apply(accepted_lsn, accepted_kind, &accepted)
        .unwrap();
    let recovered = recovery.finish(0);
    assert_eq!(recovered.dead_lsns(), &[accepted_lsn]);
    let lifecycle = recovered.get(shard.id(message)).unwrap();
    assert_eq!(lifecycle.record_lsn(), Some(Lsn(500)));
    assert_eq!(
        lifecycle.state(),
        State::AwaitingReceipt { parts_pending: 1 }
    );
}

#[test]
fn recovery_skips_other_records_and_stops_on_undecodable_ones() {
    let mut recovery = Recovery::new(1);
    recovery.apply(Lsn(1), 0x01, b"another subsystem").unwrap();
    let error = recovery
        .apply(Lsn(2), kind::ACCEPTED, &[1, 2, 3])
        .unwrap_err();
    assert_eq!(error.lsn, Lsn(2));
    assert!(matches!(error.error, RecordError::Truncated { .. }));
}

#[test]
fn recovery_next_sequence_follows_the_highest_id_and_the_floor() {
    let mut shard = Shard::new();
    shard.accept(1, 0);
    shard.accept(1, 0);
    let recovered = shard.recover(shard.wal.entries.len());
    assert_eq!(recovered.next_sequence(), 3);
    let mut recovery = Recovery::new(1);
    for (lsn, record_kind, payload) in shard.wal.live_after_crash(shard.wal.entries.len()) {
        recovery.apply(lsn, record_kind, &payload).unwrap();
    }
    assert_eq!(recovery.finish(1_000).next_sequence(), 1_000);
    assert_eq!(Recovery::new(1).finish(0).next_sequence(), 0);
}

/// What the records in a crash prefix say about one message.
#[derive(Debug, Default)]
struct Logged {
    accepted: bool,
    closed: bool,
    final_message: bool,
    receipt_pending: bool,
    submitted_parts: BTreeSet<u8>,
    final_parts: BTreeSet<u8>,
}

fn logged_in(live: &[(Lsn, u8, Vec<u8>)]) -> BTreeMap<MessageId, Logged> {
    let mut logged: BTreeMap<MessageId, Logged> = BTreeMap::new();
    for (_, record_kind, payload) in live {
        let record = Record::decode(*record_kind, payload).unwrap();
        let entry = logged.entry(record.id()).or_default();
        match record {
            Record::Accepted(_) => entry.accepted = true,
            Record::Progress(Progress::Submitted(submitted)) => {
                entry.submitted_parts.insert(submitted.part);
            }
            Record::Progress(Progress::Final(last)) => match last.scope {
                FinalScope::Message => entry.final_message = true,
                FinalScope::Part(part) => {
                    entry.final_parts.insert(part);
                }
            },
            Record::Progress(Progress::ReceiptPending(_)) => entry.receipt_pending = true,
            Record::Progress(Progress::ReceiptAcknowledged { .. } | Progress::Done { .. }) => {
                entry.closed = true
            }
        }
    }
    logged
}

/// Checks what recovery makes of the first `len` entries of `wal`.
fn check_crash_at(wal: &ModelWal, len: usize) -> Result<(), TestCaseError> {
    let live = wal.live_after_crash(len);
    let logged = logged_in(&live);
    let recovered = recover(wal, len);
    let max_sequence = logged.keys().map(|id| id.sequence()).max();
    prop_assert!(max_sequence.is_none_or(|max| recovered.next_sequence() > max));
    let owed: BTreeSet<MessageId> = recovered
        .receipts_owed()
        .map(|receipt| receipt.id)
        .collect();
    let config = LifecycleConfig::default();
    for (id, what) in &logged {
        let kept = recovered.get(*id);
        if !what.accepted || what.closed {
            prop_assert!(kept.is_none(), "closed message {:?} came back", id);
            continue;
        }
        let Some(lifecycle) = kept else {
            return Err(TestCaseError::fail(format!(
                "acknowledged message {id:?} lost at {len}"
            )));
        };
        let mut lifecycle = lifecycle.clone();
        prop_assert_eq!(
            owed.contains(id),
            what.receipt_pending && what.final_message
        );
        let mut out = Vec::new();
        lifecycle.resume(T0_MS, &mut out);
        lifecycle.handle(&config, T0_MS, Event::RetryDue, &mut out);
        let again = submits(&out);
        if what.final_message {
            prop_assert!(again.is_empty(), "final message {:?} resubmitted", id);
            prop_assert!(lifecycle.is_final());
        }
        for part in what.submitted_parts.union(&what.final_parts) {
            prop_assert!(
                !again.contains(part),
                "part {} of {:?} resubmitted",
                part,
                id
            );
        }
    }
    for lifecycle in recovered.into_messages() {
        prop_assert!(
            logged
                .get(&lifecycle.id())
                .is_some_and(|what| what.accepted)
        );
    }
    Ok(())
}

fn delivered(part: u8, text: &str) -> Event {
    Event::Receipt {
        part,
        state: MessageState::DELIVERED,
        error: 0,
        matched: Some(tern_engine::lifecycle::DlrKey {
            connector: tern_engine::message::ConnectorId(4),
            id2: Id2::new(text.as_bytes()).unwrap(),
        }),
    }
}

#[test]
fn crash_after_every_record_of_a_full_history() {
    let mut shard = Shard::new();
    let closed = shard.accept(1, RECEIPT_ON_FINAL);
    let multipart = shard.accept(3, RECEIPT_ON_FINAL);
    let failed = shard.accept(1, RECEIPT_ON_FINAL);
    let in_flight = shard.accept(1, 0);
    shard.event(in_flight, Event::RetryDue);
    shard.event(closed, Event::RetryDue);
    shard.event(multipart, Event::RetryDue);
    shard.event(closed, submitted(0, "C"));
    shard.event(multipart, submitted(0, "M0"));
    shard.event(failed, Event::RetryDue);
    shard.event(multipart, submitted(1, "M1"));
    shard.event(multipart, delivered(0, "M0"));
    shard.event(closed, delivered(0, "C"));
    shard.event(multipart, Event::SubmitTimeout { part: 2 });
    shard.event(
        failed,
        Event::SubmitResult {
            part: 0,
            status: CommandStatus::ESME_RINVESMCLASS,
            id2: None,
        },
    );
    shard.event(closed, Event::ClientAcknowledged);
    let kinds: BTreeSet<u8> = shard
        .wal
        .entries
        .iter()
        .filter_map(|(_, entry)| match entry {
            Entry::Record { kind, .. } => Some(*kind),
            Entry::Tombstone(_) => None,
        })
        .collect();
    assert_eq!(
        kinds,
        (kind::ACCEPTED..=kind::RECEIPT_ACKNOWLEDGED).collect()
    );
    for len in 0..=shard.wal.entries.len() {
        check_crash_at(&shard.wal, len).unwrap();
    }
    let recovered = shard.recover(shard.wal.entries.len());
    assert_eq!(recovered.len(), 3);
    assert_eq!(
        resubmitted_parts(recovered, shard.id(multipart)),
        BTreeSet::from([2])
    );
}

fn scripted_event() -> impl Strategy<Value = (usize, u8, u8)> {
    (0usize..3, 0u8..10, 0u8..3)
}

fn event_for(choice: u8, part: u8, counter: u32) -> Event {
    match choice {
        0 | 1 => Event::RetryDue,
        2 | 3 => submitted(part, &format!("id-{counter}")),
        4 => Event::SubmitResult {
            part,
            status: CommandStatus::ESME_RTHROTTLED,
            id2: None,
        },
        5 => Event::SubmitTimeout { part },
        6 | 7 => Event::Receipt {
            part,
            state: if counter.is_multiple_of(5) {
                MessageState::UNDELIVERABLE
            } else {
                MessageState::DELIVERED
            },
            error: 0,
            matched: None,
        },
        8 => Event::ClientAcknowledged,
        _ => Event::Cancelled,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Histories of three interleaved messages, cut after every entry: nothing
    /// acknowledged is lost, nothing final or already upstream is submitted again, and
    /// closed messages stay closed.
    #[test]
    fn crash_after_every_record_loses_nothing_and_resubmits_nothing_final(
        shapes in prop::collection::vec((1u8..=3, prop::sample::select(vec![0u8, 1, 2])), 3),
        script in prop::collection::vec(scripted_event(), 1..60),
    ) {
        let mut shard = Shard::new();
        for (parts, registered_delivery) in &shapes {
            shard.accept(*parts, *registered_delivery);
        }
        for (counter, (message, choice, part)) in script.into_iter().enumerate() {
            shard.event(message, event_for(choice, part, counter as u32));
        }
        for len in 0..=shard.wal.entries.len() {
            check_crash_at(&shard.wal, len)?;
        }
    }
}

/// One step of a history with compaction.
#[derive(Debug, Clone)]
enum Step {
    /// An event for message `.0`.
    Event(usize, u8, u8),
    /// Compaction copies forward the live records picked by the mask, oldest first, or
    /// newest first when `.1` (a newer segment may qualify before an older one).
    Compact(u64, bool),
}

impl Shard {
    /// Compaction as the shard runs it: each picked live record is appended again, its
    /// original tombstoned, and its message pointed at the copy (a copy nobody holds is
    /// marked done). The model logs copy and tombstone as two entries, so the crash checks
    /// also cut between them: both copies live, which the WAL itself never leaves.
    fn compact(&mut self, pick: u64, newest_first: bool) {
        let mut live = self.wal.live_after_crash(self.wal.entries.len());
        if newest_first {
            live.reverse();
        }
        for (i, (old, record_kind, payload)) in live.into_iter().enumerate() {
            if (pick >> (i % 64)) & 1 == 0 {
                continue;
            }
            let new = self.wal.append(Entry::Record {
                kind: record_kind,
                payload,
            });
            self.wal.append(Entry::Tombstone(old));
            let held = self
                .messages
                .iter_mut()
                .any(|(lifecycle, _)| lifecycle.relocated(old, new));
            if !held {
                self.wal.append(Entry::Tombstone(new));
            }
        }
    }

    /// Closes every message (cancel, then the client's acknowledgement of any receipt).
    fn close_all(&mut self) {
        for index in 0..self.messages.len() {
            self.event(index, Event::Cancelled);
            self.event(index, Event::ClientAcknowledged);
        }
    }
}

#[test]
fn recovery_after_compaction_moved_every_kind_of_record_out_of_order() {
    let mut shard = Shard::new();
    let multipart = shard.accept(3, RECEIPT_ON_FINAL);
    let owed = shard.accept(1, RECEIPT_ON_FINAL);
    shard.event(multipart, Event::RetryDue);
    shard.event(owed, Event::RetryDue);
    shard.event(multipart, submitted(0, "M0"));
    shard.event(multipart, submitted(1, "M1"));
    shard.event(multipart, delivered(0, "M0"));
    shard.event(owed, submitted(0, "O"));
    shard.event(owed, delivered(0, "O"));
    // Newest first: the Accepted records, Submitted and part Final records land behind
    // the records that followed them in each message's life.
    shard.compact(u64::MAX, true);
    let live = shard.wal.live_after_crash(shard.wal.entries.len());
    let kinds: BTreeSet<u8> = live.iter().map(|(_, kind, _)| *kind).collect();
    assert!(kinds.is_superset(&BTreeSet::from([
        kind::ACCEPTED,
        kind::SUBMITTED,
        kind::FINAL,
        kind::RECEIPT_PENDING
    ])));
    for len in 0..=shard.wal.entries.len() {
        check_crash_at(&shard.wal, len).unwrap();
    }
    let recovered = shard.recover(shard.wal.entries.len());
    assert!(
        recovered.dead_lsns().is_empty(),
        "{:?}",
        recovered.dead_lsns()
    );
    let receipts: Vec<MessageId> = recovered.receipts_owed().map(|r| r.id).collect();
    assert_eq!(receipts, vec![shard.id(owed)]);
    let state = recovered.get(shard.id(multipart)).unwrap().state();
    assert_eq!(state, State::Accepted, "part 2 is still to be sent");
    assert_eq!(
        resubmitted_parts(recovered, shard.id(multipart)),
        BTreeSet::from([2])
    );
    // Every reference followed its copy: closing the messages leaves nothing live.
    shard.close_all();
    assert_eq!(shard.wal.live_records(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Histories with compaction at random points, cut after every entry: recovery loses
    /// nothing and resubmits nothing final whatever order the copies put records in, and
    /// every reference follows its copy (closing every message leaves nothing live).
    #[test]
    fn compaction_at_any_point_keeps_recovery_and_references_right(
        shapes in prop::collection::vec((1u8..=3, prop::sample::select(vec![0u8, 1, 2])), 3),
        script in prop::collection::vec(
            prop_oneof![
                4 => scripted_event().prop_map(|(m, c, p)| Step::Event(m, c, p)),
                1 => (any::<u64>(), any::<bool>()).prop_map(|(pick, newest)| Step::Compact(pick, newest)),
            ],
            1..60,
        ),
    ) {
        let mut shard = Shard::new();
        for (parts, registered_delivery) in &shapes {
            shard.accept(*parts, *registered_delivery);
        }
        for (counter, step) in script.into_iter().enumerate() {
            match step {
                Step::Event(message, choice, part) => {
                    shard.event(message, event_for(choice, part, counter as u32));
                }
                Step::Compact(pick, newest_first) => shard.compact(pick, newest_first),
            }
        }
        for len in 0..=shard.wal.entries.len() {
            check_crash_at(&shard.wal, len)?;
        }
        shard.close_all();
        prop_assert_eq!(shard.wal.live_records(), 0);
    }
}
