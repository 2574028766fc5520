//! What the session does with each PDU the peer sends (the table in the module docs).

use std::time::Instant;

use super::rules::{self, Permission};
use super::types::{Action, BindKind, CloseReason, Header, INTERFACE_VERSION_33, Role};
use super::{Phase, Session, timers};
use crate::command::{CommandId, CommandStatus};

impl Session {
    /// Dispatches an inbound request by command.
    pub(super) fn on_request(
        &mut self,
        header: Header,
        interface_version: Option<u8>,
        now: Instant,
    ) {
        let command_id = header.command_id;
        if command_id == CommandId::ENQUIRE_LINK {
            self.push(Action::Send(Header::new(
                CommandId::ENQUIRE_LINK_RESP,
                CommandStatus::ESME_ROK,
                header.sequence_number,
            )));
        } else if command_id == CommandId::UNBIND {
            self.on_peer_unbind(header, now);
        } else if let Some(kind) = BindKind::from_request(command_id) {
            self.on_peer_bind(header, kind, interface_version);
        } else if command_id == CommandId::OUTBIND {
            self.on_outbind(header);
        } else if !command_id.is_known() {
            self.refuse(header, CommandStatus::ESME_RINVCMDID);
        } else {
            self.on_application_request(header);
        }
    }

    /// submit_sm, deliver_sm, data_sm, …: deliver to the app or refuse.
    fn on_application_request(&mut self, header: Header) {
        let refusal = match self.phase {
            Phase::Bound(kind) => {
                match rules::permission(self.role.peer(), header.command_id, kind) {
                    Permission::Allowed => None,
                    Permission::WrongDirection => Some(CommandStatus::ESME_RINVCMDID),
                    Permission::WrongBindKind => Some(CommandStatus::ESME_RINVBNDSTS),
                }
            }
            _ => Some(CommandStatus::ESME_RINVBNDSTS),
        };
        if let Some(status) = refusal {
            return self.refuse(header, status);
        }
        let deliver = Action::Deliver {
            command_id: header.command_id,
            sequence_number: header.sequence_number,
        };
        // Requests without a response (alert_notification) hold no slot.
        let Some(response_id) = header.command_id.response() else {
            return self.push(deliver);
        };
        if self.inbound.len() >= self.config.inbound_window_size as usize {
            return self.refuse(header, CommandStatus::ESME_RTHROTTLED);
        }
        if self.inbound.contains_key(&header.sequence_number) {
            return self.refuse(header, CommandStatus::ESME_RSYSERR);
        }
        self.inbound.insert(header.sequence_number, response_id);
        self.push(deliver);
    }

    fn on_peer_bind(&mut self, header: Header, kind: BindKind, interface_version: Option<u8>) {
        if self.role == Role::Esme {
            return self.refuse(header, CommandStatus::ESME_RINVCMDID);
        }
        match self.phase {
            Phase::Open => {
                let interface_version = interface_version.unwrap_or(INTERFACE_VERSION_33);
                self.peer_interface_version = Some(interface_version);
                self.phase = Phase::Binding {
                    kind,
                    sequence_number: header.sequence_number,
                };
                self.push(Action::BindRequested {
                    kind,
                    sequence_number: header.sequence_number,
                    interface_version,
                });
            }
            Phase::Binding { .. } | Phase::Bound(_) => {
                self.refuse(header, CommandStatus::ESME_RALYBND)
            }
            Phase::LocalUnbind { .. } | Phase::PeerUnbind { .. } | Phase::Closed => {
                self.refuse(header, CommandStatus::ESME_RINVBNDSTS)
            }
        }
    }

    fn on_outbind(&mut self, header: Header) {
        let refusal = match (self.role, self.phase) {
            (Role::Smsc, _) => CommandStatus::ESME_RINVCMDID,
            (Role::Esme, Phase::Open) => {
                return self.push(Action::OutbindReceived {
                    sequence_number: header.sequence_number,
                });
            }
            (Role::Esme, Phase::Binding { .. } | Phase::Bound(_)) => CommandStatus::ESME_RALYBND,
            (Role::Esme, _) => CommandStatus::ESME_RINVBNDSTS,
        };
        self.refuse(header, refusal);
    }

    fn on_peer_unbind(&mut self, header: Header, now: Instant) {
        match self.phase {
            Phase::Bound(_) if !self.inbound.is_empty() => {
                self.phase = Phase::PeerUnbind {
                    sequence_number: header.sequence_number,
                    deadline: timers::after(now, self.config.response_timeout),
                };
            }
            Phase::PeerUnbind { .. } => self.refuse(header, CommandStatus::ESME_RINVBNDSTS),
            _ => self.finish_peer_unbind(header.sequence_number),
        }
    }

    /// Matches a response to the request it answers.
    pub(super) fn on_response(
        &mut self,
        header: Header,
        interface_version: Option<u8>,
        now: Instant,
    ) {
        let Some(&entry) = self.outbound.get(header.sequence_number) else {
            return self.push(Action::UnmatchedResponse(header));
        };
        let answers = header.command_id == CommandId::GENERIC_NACK
            || entry.command_id.response() == Some(header.command_id);
        if !answers {
            return self.push(Action::UnmatchedResponse(header));
        }
        self.outbound.remove(header.sequence_number);
        self.consecutive_timeouts = 0;
        if entry.command_id == CommandId::ENQUIRE_LINK {
            self.enquire_link_pending = false;
        } else if entry.command_id == CommandId::UNBIND {
            let reason = match self.phase {
                Phase::LocalUnbind { reason, .. } => reason,
                _ => CloseReason::UnboundLocally,
            };
            self.close_with(reason);
        } else if let Some(kind) = BindKind::from_request(entry.command_id) {
            self.on_bind_response(kind, header.command_status, interface_version, now);
        } else {
            self.app_outstanding = self.app_outstanding.saturating_sub(1);
            self.push(Action::Completed {
                sequence_number: entry.sequence_number,
                token: entry.token,
                command_id: header.command_id,
                command_status: header.command_status,
            });
            self.send_unbind_when_drained(now);
        }
    }

    /// ESME role: our bind was answered (bind_*_resp or generic_nack).
    fn on_bind_response(
        &mut self,
        kind: BindKind,
        status: CommandStatus,
        interface_version: Option<u8>,
        now: Instant,
    ) {
        if !matches!(self.phase, Phase::Binding { .. }) {
            return;
        }
        if status.is_ok() {
            // 3.4 §5.3.2.25: a bind_resp without sc_interface_version comes from a 3.3 SMSC.
            self.peer_interface_version = Some(interface_version.unwrap_or(INTERFACE_VERSION_33));
            self.enter_bound(kind, now);
        } else {
            self.phase = Phase::Open;
            self.push(Action::BindRefused {
                command_status: status,
            });
        }
    }
}
