//! The per-message state machine: its fields, the event dispatch, and WAL bookkeeping.

use tern_smpp::{CommandStatus, MessageState, RegisteredDelivery};
use tern_wal::Lsn;

use super::policy::LifecycleConfig;
use super::types::{
    Action, ClientReceipt, DlrKey, Event, Handled, Ignored, ReceiptReason, ReceiptState, State,
};
use crate::message::{
    ConnectorId, Final, FinalScope, FinalState, MessageId, MessageRecord, Progress, ReceiptPending,
    Route, UserId,
};

/// One message's life, driven by [`Lifecycle::handle`]; see the module docs for the
/// transitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub(super) id: MessageId,
    pub(super) user: UserId,
    pub(super) registered_delivery: RegisteredDelivery,
    pub(super) deadline_ms: u64,
    pub(super) schedule_at_ms: u64,
    pub(super) route: Route,
    pub(super) route_index: u8,
    pub(super) connector: ConnectorId,
    pub(super) attempt: u8,
    pub(super) phase: Phase,
    pub(super) parts: Vec<PartTrack>,
    pub(super) round: Round,
    pub(super) last_status: Option<CommandStatus>,
    pub(super) last_intermediate: Option<MessageState>,
    pub(super) final_error: u32,
    pub(super) final_at_ms: u64,
    pub(super) receipt: ReceiptDue,
    pub(super) record_lsn: Option<Lsn>,
    pub(super) final_lsn: Option<Lsn>,
    pub(super) receipt_lsn: Option<Lsn>,
    pub(super) released: bool,
}

/// The machine's own view of [`State`]; attempt and connector live beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Accepted,
    Queued { not_before_ms: u64 },
    InFlight,
    AwaitingReceipt,
    Final(FinalState),
}

/// Outcome of the current submission round, acted on once no part is in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Round {
    pub(super) transient: bool,
    pub(super) failover: Option<CommandStatus>,
}

/// Whether a final client receipt is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReceiptDue {
    /// Not decided: the message is not final, or recovery found its Final record alone.
    Undecided,
    Owed,
    NotWanted,
    Acknowledged,
}

/// One part: where it is, and the LSNs of its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PartTrack {
    pub(super) state: PartState,
    pub(super) submitted_lsn: Option<Lsn>,
    pub(super) final_lsn: Option<Lsn>,
    /// The part's DLR entry was inserted and not yet removed.
    pub(super) mapped: bool,
    /// A final receipt that came while the submit's answer was outstanding.
    pub(super) early: Option<Box<EarlyReceipt>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PartState {
    Unsent,
    InFlight(ConnectorId),
    Submitted(ConnectorId),
    Final(FinalState),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EarlyReceipt {
    pub(super) state: FinalState,
    pub(super) error: u32,
}

/// A receipt event's fields.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReceiptIn {
    pub(super) part: u8,
    pub(super) state: MessageState,
    pub(super) error: u32,
    pub(super) matched: Option<DlrKey>,
}

impl PartTrack {
    pub(super) fn new(state: PartState) -> PartTrack {
        PartTrack {
            state,
            submitted_lsn: None,
            final_lsn: None,
            mapped: false,
            early: None,
        }
    }
}

impl Lifecycle {
    /// The machine of a message just logged as `record` at `record_lsn` (state Accepted).
    pub fn new(record: &MessageRecord<'_>, record_lsn: Lsn) -> Lifecycle {
        let part_count = usize::from(record.content.part_count());
        let connector = record.route.get(0).unwrap_or_default();
        Lifecycle {
            id: record.id,
            user: record.user,
            registered_delivery: record.registered_delivery,
            deadline_ms: record.validity_deadline_ms,
            schedule_at_ms: record.schedule_at_ms.unwrap_or(0),
            route: record.route,
            route_index: 0,
            connector,
            attempt: 0,
            phase: Phase::Accepted,
            parts: vec![PartTrack::new(PartState::Unsent); part_count],
            round: Round::default(),
            last_status: None,
            last_intermediate: None,
            final_error: 0,
            final_at_ms: 0,
            receipt: ReceiptDue::Undecided,
            record_lsn: Some(record_lsn),
            final_lsn: None,
            receipt_lsn: None,
            released: false,
        }
    }

    /// The message.
    pub fn id(&self) -> MessageId {
        self.id
    }

    /// Where it stands.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Accepted => State::Accepted,
            Phase::Queued { not_before_ms } => State::Queued {
                connector: self.connector,
                attempt: self.attempt,
                not_before_ms,
            },
            Phase::InFlight => State::InFlight {
                connector: self.connector,
                attempt: self.attempt,
            },
            Phase::AwaitingReceipt => State::AwaitingReceipt {
                parts_pending: self.parts_pending(),
            },
            Phase::Final(state) => State::Final(state),
        }
    }

    /// True once final: no Submit will follow.
    pub fn is_final(&self) -> bool {
        matches!(self.phase, Phase::Final(_))
    }

    /// True once its closing record is logged and every LSN was handed to MarkDone: the
    /// shell drops the machine.
    pub fn is_released(&self) -> bool {
        self.released
    }

    /// Number of parts.
    pub fn part_count(&self) -> u8 {
        self.parts.len() as u8
    }

    /// Parts without a final state.
    pub fn parts_pending(&self) -> u8 {
        self.parts
            .iter()
            .filter(|part| !matches!(part.state, PartState::Final(_)))
            .count() as u8
    }

    /// The validity deadline (Unix ms).
    pub fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }

    /// The LSN of the Accepted record, where the shell reads what it needs to submit the
    /// message or build its client receipt.
    pub fn record_lsn(&self) -> Option<Lsn> {
        self.record_lsn
    }

    /// The final client receipt, while one is owed (to send again when the client binds).
    pub fn owed_receipt(&self) -> Option<ClientReceipt> {
        let Phase::Final(state) = self.phase else {
            return None;
        };
        if self.receipt != ReceiptDue::Owed {
            return None;
        }
        Some(ClientReceipt {
            id: self.id,
            user: self.user,
            state: ReceiptState::Final(state),
            error: self.final_error,
            at_ms: self.final_at_ms,
            reason: ReceiptReason::for_final(self.registered_delivery, state)?,
        })
    }

    /// Applies `event` at `now_ms`, appending what the shell must do to `out`.
    pub fn handle(
        &mut self,
        config: &LifecycleConfig,
        now_ms: u64,
        event: Event,
        out: &mut Vec<Action>,
    ) -> Handled {
        if self.is_final() {
            return self.handle_closed(config, event, out);
        }
        match event {
            Event::Durable => self.on_durable(now_ms, out),
            Event::RetryDue => self.on_retry_due(config, now_ms, out),
            Event::SubmitResult { part, status, id2 } => {
                self.on_submit_result(config, now_ms, part, status, id2, out)
            }
            Event::SubmitTimeout { part } => self.on_submit_lost(config, now_ms, Some(part), out),
            Event::Disconnected => self.on_submit_lost(config, now_ms, None, out),
            Event::Receipt {
                part,
                state,
                error,
                matched,
            } => {
                let receipt = ReceiptIn {
                    part,
                    state,
                    error,
                    matched,
                };
                self.on_receipt(config, now_ms, receipt, out)
            }
            Event::ValidityExpired if now_ms < self.deadline_ms => {
                Handled::Ignored(Ignored::NotDue)
            }
            Event::ValidityExpired => {
                self.finish(now_ms, FinalState::Expired, 0, out);
                Handled::Applied
            }
            Event::Cancelled => {
                self.finish(now_ms, FinalState::Deleted, 0, out);
                Handled::Applied
            }
            Event::ClientAcknowledged => Handled::Ignored(Ignored::Unexpected),
        }
    }

    /// Events after the final state: the client's acknowledgement closes the message; a
    /// final receipt for a part still mapped removes its DLR entry; the rest is dropped.
    fn handle_closed(
        &mut self,
        config: &LifecycleConfig,
        event: Event,
        out: &mut Vec<Action>,
    ) -> Handled {
        match event {
            Event::ClientAcknowledged => match self.receipt {
                ReceiptDue::Owed => {
                    self.receipt = ReceiptDue::Acknowledged;
                    out.push(Action::Log(Progress::ReceiptAcknowledged { id: self.id }));
                    Handled::Applied
                }
                ReceiptDue::Acknowledged => Handled::Ignored(Ignored::Duplicate),
                ReceiptDue::Undecided | ReceiptDue::NotWanted => {
                    Handled::Ignored(Ignored::Unexpected)
                }
            },
            Event::Receipt {
                part,
                state,
                matched,
                ..
            } => self.late_receipt(config, part, state, matched, out),
            _ => Handled::Ignored(Ignored::Closed),
        }
    }

    fn late_receipt(
        &mut self,
        config: &LifecycleConfig,
        part: u8,
        state: MessageState,
        matched: Option<DlrKey>,
        out: &mut Vec<Action>,
    ) -> Handled {
        let Some(track) = self.parts.get(usize::from(part)) else {
            return Handled::Ignored(Ignored::UnknownPart);
        };
        let part_final = matches!(track.state, PartState::Final(_));
        let connector = matched.map_or(self.connector, |key| key.connector);
        if config.connector(connector).receipt_state(state).is_some() {
            self.unmap(part, matched, out);
        }
        Handled::Ignored(if part_final {
            Ignored::Duplicate
        } else {
            Ignored::Closed
        })
    }

    /// Removes part `part`'s DLR entry, found by `matched`, if it is still there.
    pub(super) fn unmap(&mut self, part: u8, matched: Option<DlrKey>, out: &mut Vec<Action>) {
        if let (Some(key), Some(track)) = (matched, self.parts.get_mut(usize::from(part)))
            && track.mapped
        {
            track.mapped = false;
            out.push(Action::RemoveDlr { key });
        }
    }

    /// The message is final: log it, then owe the client a receipt or close.
    pub(super) fn finish(
        &mut self,
        now_ms: u64,
        state: FinalState,
        error: u32,
        out: &mut Vec<Action>,
    ) {
        self.phase = Phase::Final(state);
        self.final_error = error;
        self.final_at_ms = now_ms;
        for part in &mut self.parts {
            part.early = None;
        }
        out.push(Action::Log(Progress::Final(Final {
            id: self.id,
            scope: FinalScope::Message,
            state,
            error,
            at_ms: now_ms,
        })));
        self.decide_receipt(state, out);
    }

    /// Owes the client its final receipt if registered_delivery asks for one, else closes.
    pub(super) fn decide_receipt(&mut self, state: FinalState, out: &mut Vec<Action>) {
        if ReceiptReason::for_final(self.registered_delivery, state).is_none() {
            self.receipt = ReceiptDue::NotWanted;
            out.push(Action::Log(Progress::Done { id: self.id }));
            return;
        }
        self.receipt = ReceiptDue::Owed;
        out.push(Action::Log(Progress::ReceiptPending(ReceiptPending {
            id: self.id,
            user: self.user,
        })));
        out.extend(self.owed_receipt().map(Action::NotifyClient));
    }

    /// Records that `progress`, from a [`Action::Log`] of this machine, went into the WAL
    /// at `lsn`. Records made obsolete are handed to [`Action::MarkDone`]; a closing record
    /// releases every LSN of the message, its own included. False if it is another
    /// message's record.
    pub fn logged(&mut self, progress: &Progress, lsn: Lsn, out: &mut Vec<Action>) -> bool {
        if progress.id() != self.id {
            return false;
        }
        match progress {
            Progress::Submitted(record) => {
                if let Some(track) = self.parts.get_mut(usize::from(record.part))
                    && let Some(old) = track.submitted_lsn.replace(lsn)
                {
                    out.push(Action::MarkDone(old));
                }
            }
            Progress::Final(record) => match record.scope {
                FinalScope::Message => self.final_lsn = Some(lsn),
                FinalScope::Part(part) => self.part_final_logged(part, lsn, out),
            },
            Progress::ReceiptPending(_) => self.receipt_lsn = Some(lsn),
            Progress::ReceiptAcknowledged { .. } | Progress::Done { .. } => self.release(lsn, out),
        }
        true
    }

    /// A part's Final record makes its Submitted record obsolete.
    fn part_final_logged(&mut self, part: u8, lsn: Lsn, out: &mut Vec<Action>) {
        if let Some(track) = self.parts.get_mut(usize::from(part)) {
            if let Some(old) = track.final_lsn.replace(lsn) {
                out.push(Action::MarkDone(old));
            }
            if let Some(submitted) = track.submitted_lsn.take() {
                out.push(Action::MarkDone(submitted));
            }
        }
    }

    /// Hands every LSN of the message to MarkDone. The closing record is already appended,
    /// so its tombstones come after it in the log: recovery never sees the tombstones
    /// without the record that closed the message.
    fn release(&mut self, closing_lsn: Lsn, out: &mut Vec<Action>) {
        let parts = self
            .parts
            .iter_mut()
            .flat_map(|part| [part.submitted_lsn.take(), part.final_lsn.take()]);
        let own = [
            self.record_lsn.take(),
            self.final_lsn.take(),
            self.receipt_lsn.take(),
        ];
        out.extend(
            own.into_iter()
                .chain(parts)
                .flatten()
                .chain([closing_lsn])
                .map(Action::MarkDone),
        );
        self.released = true;
    }

    /// The WAL copied the record at `old` to `new` (compaction): point at the copy. False
    /// if no record of this message is at `old`.
    pub fn relocated(&mut self, old: Lsn, new: Lsn) -> bool {
        let parts = self
            .parts
            .iter_mut()
            .flat_map(|part| [&mut part.submitted_lsn, &mut part.final_lsn]);
        let own = [
            &mut self.record_lsn,
            &mut self.final_lsn,
            &mut self.receipt_lsn,
        ];
        match own.into_iter().chain(parts).find(|lsn| **lsn == Some(old)) {
            Some(slot) => {
                *slot = Some(new);
                true
            }
            None => false,
        }
    }
}
