//! Receipts: per-part final states, the message's state derived from its parts, and
//! intermediate notices.

use super::machine::{EarlyReceipt, Lifecycle, PartState, Phase, ReceiptIn};
use super::policy::LifecycleConfig;
use super::types::{Action, ClientReceipt, DlrKey, Handled, Ignored, ReceiptReason, ReceiptState};
use crate::message::{Final, FinalScope, FinalState, Progress};

impl Lifecycle {
    /// A receipt for a part of an open message.
    pub(super) fn on_receipt(
        &mut self,
        config: &LifecycleConfig,
        now_ms: u64,
        receipt: ReceiptIn,
        out: &mut Vec<Action>,
    ) -> Handled {
        let Some(track) = self.parts.get_mut(usize::from(receipt.part)) else {
            return Handled::Ignored(Ignored::UnknownPart);
        };
        let connector = match (receipt.matched, track.state) {
            (Some(key), _) => key.connector,
            (None, PartState::InFlight(connector) | PartState::Submitted(connector)) => connector,
            (None, _) => self.connector,
        };
        let Some(state) = config.connector(connector).receipt_state(receipt.state) else {
            return self.on_intermediate(now_ms, receipt, out);
        };
        match track.state {
            PartState::Final(_) => {
                self.unmap(receipt.part, receipt.matched, out);
                Handled::Ignored(Ignored::Duplicate)
            }
            PartState::InFlight(_) if track.early.is_some() => Handled::Ignored(Ignored::Duplicate),
            PartState::InFlight(_) => {
                // The submit's answer is outstanding: hold the receipt until it comes.
                track.early = Some(Box::new(EarlyReceipt {
                    state,
                    error: receipt.error,
                }));
                Handled::Applied
            }
            PartState::Unsent | PartState::Submitted(_) => {
                self.part_final(
                    now_ms,
                    receipt.part,
                    state,
                    receipt.error,
                    receipt.matched,
                    out,
                );
                Handled::Applied
            }
        }
    }

    /// Part `part` reached `state`. The message follows the table in the module docs:
    /// any part failing fails it, every part delivered delivers it.
    pub(super) fn part_final(
        &mut self,
        now_ms: u64,
        part: u8,
        state: FinalState,
        error: u32,
        matched: Option<DlrKey>,
        out: &mut Vec<Action>,
    ) {
        if let Some(track) = self.parts.get_mut(usize::from(part)) {
            track.state = PartState::Final(state);
            track.early = None;
        }
        self.unmap(part, matched, out);
        let all_delivered = self
            .parts
            .iter()
            .all(|track| track.state == PartState::Final(FinalState::Delivered));
        if !state.is_success() || all_delivered {
            self.finish(now_ms, state, error, out);
            return;
        }
        out.push(Action::Log(Progress::Final(Final {
            id: self.id,
            scope: FinalScope::Part(part),
            state,
            error,
            at_ms: now_ms,
        })));
        let unsent = self
            .parts
            .iter()
            .any(|track| track.state == PartState::Unsent);
        if matches!(self.phase, Phase::Queued { .. }) && !unsent {
            self.phase = Phase::AwaitingReceipt;
        }
    }

    /// An intermediate notice (ENROUTE, ACCEPTD…): passed to a client that asked for
    /// them, once per distinct state in a row; never after the part's final state.
    fn on_intermediate(
        &mut self,
        now_ms: u64,
        receipt: ReceiptIn,
        out: &mut Vec<Action>,
    ) -> Handled {
        let part_final = self
            .parts
            .get(usize::from(receipt.part))
            .is_some_and(|track| matches!(track.state, PartState::Final(_)));
        if part_final {
            return Handled::Ignored(Ignored::Closed);
        }
        if !self.registered_delivery.wants_intermediate() {
            return Handled::Applied;
        }
        if self.last_intermediate == Some(receipt.state) {
            return Handled::Ignored(Ignored::Duplicate);
        }
        self.last_intermediate = Some(receipt.state);
        out.push(Action::NotifyClient(ClientReceipt {
            id: self.id,
            user: self.user,
            state: ReceiptState::Intermediate(receipt.state),
            error: receipt.error,
            at_ms: now_ms,
            reason: ReceiptReason::Intermediate,
        }));
        Handled::Applied
    }
}
