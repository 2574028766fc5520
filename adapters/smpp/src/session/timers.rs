//! The session's timers: response deadlines, bind, enquire_link, inactivity, unbind.

use core::time::Duration;
use std::time::Instant;

use super::types::{Action, BindKind, CloseReason, Header};
use super::{Phase, Session};
use crate::command::CommandId;

/// `start + duration`; at the end of representable time the deadline is `start`
/// itself, firing at once rather than panicking.
pub(super) fn after(start: Instant, duration: Duration) -> Instant {
    start.checked_add(duration).unwrap_or(start)
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl Session {
    /// The earliest instant at which some timer fires.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let request = self.outbound.oldest().map(|entry| entry.deadline);
        let phase = match self.phase {
            Phase::Open | Phase::Binding { .. } => Some(self.bind_deadline()),
            Phase::Bound(_) => earliest(self.enquire_link_due(), self.inactivity_due()),
            Phase::PeerUnbind { deadline, .. } => Some(deadline),
            Phase::LocalUnbind {
                unbind_sent: false,
                drain_deadline,
                ..
            } => Some(drain_deadline),
            Phase::LocalUnbind { .. } => None,
            Phase::Closed => return None,
        };
        earliest(request, phase)
    }

    fn bind_deadline(&self) -> Instant {
        after(self.started_at, self.config.bind_timeout)
    }

    fn enquire_link_due(&self) -> Option<Instant> {
        if self.enquire_link_pending {
            return None;
        }
        let interval = self.config.enquire_link_interval?;
        Some(after(self.last_received_at, interval))
    }

    fn inactivity_due(&self) -> Option<Instant> {
        let timeout = self.config.inactivity_timeout?;
        Some(after(self.last_activity_at, timeout))
    }

    /// Fires every timer due at `now`.
    pub(super) fn on_timeout(&mut self, now: Instant) {
        self.expire_requests(now);
        match self.phase {
            Phase::Open | Phase::Binding { .. } if now >= self.bind_deadline() => {
                self.close_with(CloseReason::BindTimeout);
            }
            Phase::PeerUnbind {
                sequence_number,
                deadline,
            } if now >= deadline => self.finish_peer_unbind(sequence_number),
            Phase::Bound(_) => self.on_bound_timers(now),
            _ => {}
        }
    }

    fn on_bound_timers(&mut self, now: Instant) {
        if self.inactivity_due().is_some_and(|due| now >= due) {
            return self.start_local_unbind(CloseReason::Inactivity, now);
        }
        if self.enquire_link_due().is_some_and(|due| now >= due) {
            self.send_enquire_link(now);
        }
    }

    fn send_enquire_link(&mut self, now: Instant) {
        let sequence_number = self.allocate_sequence_number();
        if self
            .track(CommandId::ENQUIRE_LINK, sequence_number, 0, now)
            .is_ok()
        {
            self.enquire_link_pending = true;
            self.push(Action::Send(Header::request(
                CommandId::ENQUIRE_LINK,
                sequence_number,
            )));
        }
    }

    /// Expires requests whose deadline has passed, oldest first; the loop ends because
    /// every turn removes one entry from a bounded table.
    fn expire_requests(&mut self, now: Instant) {
        while let Some(&entry) = self.outbound.oldest() {
            if entry.deadline > now {
                break;
            }
            self.outbound.remove(entry.sequence_number);
            let fatal = match entry.command_id {
                CommandId::ENQUIRE_LINK => Some(CloseReason::EnquireLinkTimeout),
                CommandId::UNBIND => Some(CloseReason::UnbindTimeout),
                id if BindKind::from_request(id).is_some() => Some(CloseReason::BindTimeout),
                _ => self.time_out_request(entry.sequence_number, entry.token, entry.command_id),
            };
            if let Some(reason) = fatal {
                return self.close_with(reason);
            }
        }
        self.send_unbind_when_drained(now);
    }

    /// Reports an application request timed out; returns `DeadPeer` once too many in a row did.
    fn time_out_request(
        &mut self,
        sequence_number: u32,
        token: u64,
        command_id: CommandId,
    ) -> Option<CloseReason> {
        self.app_outstanding = self.app_outstanding.saturating_sub(1);
        self.push(Action::TimedOut {
            sequence_number,
            token,
            command_id,
        });
        self.consecutive_timeouts = self.consecutive_timeouts.saturating_add(1);
        let limit = self.config.close_after_timeouts?;
        (self.consecutive_timeouts >= limit.get()).then_some(CloseReason::DeadPeer)
    }
}
