//! Rebuilding the live messages from the WAL after a restart.

use std::collections::BTreeMap;

use tern_wal::Lsn;

use super::machine::{Lifecycle, PartState, Phase, ReceiptDue};
use super::types::{Action, ClientReceipt, DlrKey, Handled, Ignored};
use crate::message::{
    Final, FinalScope, FinalState, MessageId, MessageRecord, PartRef, Progress, Record,
    RecordError, kind,
};

/// A message record that does not decode: the log is damaged or was written by another
/// format. Recovery stops rather than drop a message silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("message record at {lsn} does not decode: {error}")]
pub struct RecoveryError {
    /// Where.
    pub lsn: Lsn,
    /// Why.
    pub error: RecordError,
}

/// The fold over the WAL's live records that rebuilds the live messages.
///
/// Feed every live record with [`Recovery::apply`] (records of other kinds are skipped),
/// then [`Recovery::finish`]. Records may come in any order: compaction copies an old
/// Accepted record to a new LSN, after the records that follow it in the message's life,
/// so a message's records are gathered first and judged at the end. A record seen twice
/// (a crash between a copy and the tombstone of its original) counts once; the other LSN
/// is dead.
#[derive(Debug, Default)]
pub struct Recovery {
    shard: u8,
    entries: BTreeMap<MessageId, Entry>,
    sequence_max: Option<u64>,
    dead: Vec<Lsn>,
}

#[derive(Debug, Default)]
struct Entry {
    lifecycle: Option<Lifecycle>,
    /// Records seen before the Accepted record.
    early: Vec<(Lsn, Progress)>,
    closing: Option<Lsn>,
}

impl Recovery {
    /// A fold for the WAL of `shard`.
    pub fn new(shard: u8) -> Recovery {
        Recovery {
            shard,
            ..Recovery::default()
        }
    }

    /// Folds one live record.
    pub fn apply(
        &mut self,
        lsn: Lsn,
        record_kind: u8,
        payload: &[u8],
    ) -> Result<(), RecoveryError> {
        if !kind::is_message_kind(record_kind) {
            return Ok(());
        }
        let record =
            Record::decode(record_kind, payload).map_err(|error| RecoveryError { lsn, error })?;
        let id = record.id();
        if id.shard() == self.shard {
            self.sequence_max = self.sequence_max.max(Some(id.sequence()));
        }
        let entry = self.entries.entry(id).or_default();
        match record {
            Record::Accepted(record) => entry.accepted(lsn, &record, &mut self.dead),
            Record::Progress(progress) if progress.closes() => entry.closed(lsn, &mut self.dead),
            Record::Progress(progress) => match &mut entry.lifecycle {
                Some(lifecycle) => lifecycle.restore(lsn, &progress, &mut self.dead),
                None => entry.early.push((lsn, progress)),
            },
        }
        Ok(())
    }

    /// The live set. `sequence_floor` bounds the next sequence from below: pass the WAL's
    /// next LSN, which never goes back, so ids stay unique once every record is reclaimed.
    pub fn finish(self, sequence_floor: u64) -> Recovered {
        let mut dead = self.dead;
        let mut messages = BTreeMap::new();
        for (id, entry) in self.entries {
            dead.extend(entry.early.iter().map(|(lsn, _)| *lsn));
            match (entry.lifecycle, entry.closing) {
                (Some(mut lifecycle), None) => {
                    lifecycle.settle_recovered();
                    messages.insert(id, lifecycle);
                }
                (Some(mut lifecycle), Some(closing)) => {
                    let mut out = Vec::new();
                    lifecycle.logged(&Progress::Done { id }, closing, &mut out);
                    dead.extend(out.iter().filter_map(|action| match action {
                        Action::MarkDone(lsn) => Some(*lsn),
                        _ => None,
                    }));
                }
                // Records of a message whose Accepted record is gone: it was closed and
                // its tombstones only partly survived.
                (None, closing) => dead.extend(closing),
            }
        }
        dead.sort_unstable();
        let next_sequence = self
            .sequence_max
            .map_or(0, |max| max + 1)
            .max(sequence_floor);
        Recovered {
            messages,
            next_sequence,
            dead,
        }
    }
}

impl Entry {
    fn accepted(&mut self, lsn: Lsn, record: &MessageRecord<'_>, dead: &mut Vec<Lsn>) {
        if let Some(lifecycle) = &mut self.lifecycle {
            // The same record twice (a copy and its original): keep the later one.
            let older = lifecycle.record_lsn.map_or(lsn, |known| known.min(lsn));
            lifecycle.record_lsn = lifecycle.record_lsn.max(Some(lsn));
            dead.push(older);
            return;
        }
        let mut lifecycle = Lifecycle::new(record, lsn);
        for (early_lsn, progress) in self.early.drain(..) {
            lifecycle.restore(early_lsn, &progress, dead);
        }
        self.lifecycle = Some(lifecycle);
    }

    fn closed(&mut self, lsn: Lsn, dead: &mut Vec<Lsn>) {
        if let Some(older) = self.closing.replace(lsn) {
            let (keep, drop) = if older > lsn {
                (older, lsn)
            } else {
                (lsn, older)
            };
            self.closing = Some(keep);
            dead.push(drop);
        }
    }
}

/// Keeps the later of two LSNs of the same record in `slot`; the other is dead.
fn keep_later(slot: &mut Option<Lsn>, lsn: Lsn, dead: &mut Vec<Lsn>) {
    match slot.replace(lsn) {
        Some(older) if older > lsn => {
            *slot = Some(older);
            dead.push(lsn);
        }
        Some(older) => dead.push(older),
        None => {}
    }
}

impl Lifecycle {
    /// Applies one recovered record of this message.
    fn restore(&mut self, lsn: Lsn, progress: &Progress, dead: &mut Vec<Lsn>) {
        match progress {
            Progress::Submitted(record) => {
                if let Some(track) = self.parts.get_mut(usize::from(record.part)) {
                    if !matches!(track.state, PartState::Final(_)) {
                        track.state = PartState::Submitted(record.connector);
                        // The shell inserts its entry again from `Recovered::dlr_entry`.
                        track.mapped = true;
                    }
                    keep_later(&mut track.submitted_lsn, lsn, dead);
                } else {
                    dead.push(lsn);
                }
            }
            Progress::Final(record) => match record.scope {
                FinalScope::Message => {
                    self.phase = Phase::Final(record.state);
                    self.final_error = record.error;
                    self.final_at_ms = record.at_ms;
                    keep_later(&mut self.final_lsn, lsn, dead);
                }
                FinalScope::Part(part) => match self.parts.get_mut(usize::from(part)) {
                    Some(track) => {
                        track.state = PartState::Final(record.state);
                        track.mapped = false;
                        keep_later(&mut track.final_lsn, lsn, dead);
                    }
                    None => dead.push(lsn),
                },
            },
            Progress::ReceiptPending(_) => {
                self.receipt = ReceiptDue::Owed;
                keep_later(&mut self.receipt_lsn, lsn, dead);
            }
            Progress::ReceiptAcknowledged { .. } | Progress::Done { .. } => {}
        }
    }

    /// Derives the state of a recovered message from its parts: final if its Final record
    /// survived (or every part is final), awaiting receipts if every part is upstream,
    /// else to be (re)submitted.
    fn settle_recovered(&mut self) {
        if self.is_final() {
            return;
        }
        let states = || self.parts.iter().map(|track| track.state);
        if states().all(|state| matches!(state, PartState::Final(_))) {
            let failed = states().find_map(|state| match state {
                PartState::Final(state) if !state.is_success() => Some(state),
                _ => None,
            });
            self.phase = Phase::Final(failed.unwrap_or(FinalState::Delivered));
        } else if states().any(|state| state == PartState::Unsent) {
            self.phase = Phase::Accepted;
        } else {
            self.phase = Phase::AwaitingReceipt;
        }
    }

    /// After recovery: the actions that pick the message up where the crash left it.
    /// Unsent parts are queued again (a part whose answer never came is sent again:
    /// SMPP gives no way to ask); a final message whose follow-up records were lost logs
    /// them; an owed receipt is offered to the client again.
    pub fn resume(&mut self, now_ms: u64, out: &mut Vec<Action>) -> Handled {
        match (self.phase, self.receipt) {
            (Phase::Accepted, _) => self.queue_first(now_ms, out),
            (Phase::Final(state), ReceiptDue::Undecided) => {
                if self.final_lsn.is_none() {
                    self.final_at_ms = now_ms;
                    out.push(Action::Log(Progress::Final(Final {
                        id: self.id,
                        scope: FinalScope::Message,
                        state,
                        error: self.final_error,
                        at_ms: now_ms,
                    })));
                }
                self.decide_receipt(state, out);
            }
            (Phase::Final(_), ReceiptDue::Owed) => {
                out.extend(self.owed_receipt().map(Action::NotifyClient))
            }
            _ => return Handled::Ignored(Ignored::Unexpected),
        }
        Handled::Applied
    }
}

/// What recovery found: the live messages, the next sequence, the LSNs to mark done.
#[derive(Debug)]
pub struct Recovered {
    messages: BTreeMap<MessageId, Lifecycle>,
    next_sequence: u64,
    dead: Vec<Lsn>,
}

impl Recovered {
    /// The sequence the next message of this shard gets.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Live records that belong to no live message (closed ones whose tombstones were
    /// lost, superseded copies): mark them done.
    pub fn dead_lsns(&self) -> &[Lsn] {
        &self.dead
    }

    /// Number of live messages.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// True if no message is live.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The live message `id`.
    pub fn get(&self, id: MessageId) -> Option<&Lifecycle> {
        self.messages.get(&id)
    }

    /// Messages with parts to (re)submit: accepted but unsent, or sent but unanswered.
    pub fn to_submit(&self) -> impl Iterator<Item = MessageId> + '_ {
        self.messages
            .values()
            .filter(|lifecycle| lifecycle.phase == Phase::Accepted)
            .map(Lifecycle::id)
    }

    /// Messages with parts upstream that wait for their receipts.
    pub fn awaiting_receipts(&self) -> impl Iterator<Item = MessageId> + '_ {
        self.messages
            .values()
            .filter(|lifecycle| !lifecycle.is_final())
            .filter(|lifecycle| {
                lifecycle
                    .parts
                    .iter()
                    .any(|track| matches!(track.state, PartState::Submitted(_)))
            })
            .map(Lifecycle::id)
    }

    /// Final client receipts still owed (sent again when their client binds).
    pub fn receipts_owed(&self) -> impl Iterator<Item = ClientReceipt> + '_ {
        self.messages.values().filter_map(Lifecycle::owed_receipt)
    }

    /// The DLR entry to insert for the live record at `lsn`, if it is the Submitted record
    /// of a part that still awaits its receipt. A second pass over the log calls this for
    /// every record, so that no ID2 is held in memory during the fold.
    pub fn dlr_entry(
        &self,
        lsn: Lsn,
        record_kind: u8,
        payload: &[u8],
    ) -> Option<(DlrKey, PartRef)> {
        if record_kind != kind::SUBMITTED {
            return None;
        }
        let Ok(Progress::Submitted(record)) = Progress::decode(record_kind, payload) else {
            return None;
        };
        let lifecycle = self
            .messages
            .get(&record.id)
            .filter(|lifecycle| !lifecycle.is_final())?;
        let track = lifecycle.parts.get(usize::from(record.part))?;
        let awaiting =
            matches!(track.state, PartState::Submitted(_)) && track.submitted_lsn == Some(lsn);
        awaiting.then_some((
            DlrKey {
                connector: record.connector,
                id2: record.id2,
            },
            PartRef {
                message: record.id,
                part: record.part,
            },
        ))
    }

    /// The live messages, oldest first; call [`Lifecycle::resume`] on each.
    pub fn into_messages(self) -> impl Iterator<Item = Lifecycle> {
        self.messages.into_values()
    }
}

/// Resumes every recovered message at `now_ms` and collects their actions, oldest
/// message first.
pub fn resume_all(recovered: Recovered, now_ms: u64) -> (Vec<Lifecycle>, Vec<Action>) {
    let mut out = Vec::new();
    let lifecycles = recovered
        .into_messages()
        .map(|mut lifecycle| {
            lifecycle.resume(now_ms, &mut out);
            lifecycle
        })
        .collect();
    (lifecycles, out)
}
