//! Which requests each role may issue on each bind (SMPP 3.4 table 2-1 and §4; SMPP 5.0
//! table 2-1 for the broadcast operations).

use super::types::{BindKind, Role};
use crate::command::CommandId;

/// The verdict on an application (non-session) request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Permission {
    /// May be sent on this bind.
    Allowed,
    /// The issuing role never sends this command (an ESME's deliver_sm).
    WrongDirection,
    /// The bind kind does not carry this direction (deliver_sm on a transmitter bind).
    WrongBindKind,
}

/// True for commands the session sends and answers by itself.
pub(crate) const fn is_session_command(command_id: CommandId) -> bool {
    matches!(
        command_id,
        CommandId::BIND_TRANSMITTER
            | CommandId::BIND_RECEIVER
            | CommandId::BIND_TRANSCEIVER
            | CommandId::UNBIND
            | CommandId::ENQUIRE_LINK
            | CommandId::OUTBIND
            | CommandId::GENERIC_NACK
    )
}

/// Which roles may issue an application request. Unknown (vendor) requests are let
/// through outbound — the app knows what it sends — and answered with generic_nack
/// inbound before they get here.
const fn issued_by(command_id: CommandId, issuer: Role) -> bool {
    match command_id {
        CommandId::SUBMIT_SM
        | CommandId::SUBMIT_MULTI
        | CommandId::QUERY_SM
        | CommandId::CANCEL_SM
        | CommandId::REPLACE_SM
        | CommandId::BROADCAST_SM
        | CommandId::QUERY_BROADCAST_SM
        | CommandId::CANCEL_BROADCAST_SM => matches!(issuer, Role::Esme),
        CommandId::DELIVER_SM | CommandId::ALERT_NOTIFICATION => matches!(issuer, Role::Smsc),
        _ => true,
    }
}

/// May `issuer` send the application request `command_id` on a `kind` bind?
///
/// The bind kind names the ESME's view: a transmitter bind carries requests issued by
/// the ESME, a receiver bind those issued by the SMSC, a transceiver bind both. data_sm
/// goes either way, so its direction follows its issuer.
pub(crate) const fn permission(issuer: Role, command_id: CommandId, kind: BindKind) -> Permission {
    if !issued_by(command_id, issuer) {
        return Permission::WrongDirection;
    }
    let carried = match issuer {
        Role::Esme => kind.esme_transmits(),
        Role::Smsc => kind.esme_receives(),
    };
    if carried {
        Permission::Allowed
    } else {
        Permission::WrongBindKind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_needs_an_esme_transmitter_and_deliver_an_smsc_receiver() {
        use BindKind::*;
        use Permission::*;
        let cases = [
            (Role::Esme, CommandId::SUBMIT_SM, Transmitter, Allowed),
            (Role::Esme, CommandId::SUBMIT_SM, Transceiver, Allowed),
            (Role::Esme, CommandId::SUBMIT_SM, Receiver, WrongBindKind),
            (
                Role::Smsc,
                CommandId::SUBMIT_SM,
                Transceiver,
                WrongDirection,
            ),
            (Role::Smsc, CommandId::DELIVER_SM, Receiver, Allowed),
            (
                Role::Smsc,
                CommandId::DELIVER_SM,
                Transmitter,
                WrongBindKind,
            ),
            (
                Role::Esme,
                CommandId::DELIVER_SM,
                Transceiver,
                WrongDirection,
            ),
            (Role::Esme, CommandId::DATA_SM, Transmitter, Allowed),
            (Role::Esme, CommandId::DATA_SM, Receiver, WrongBindKind),
            (Role::Smsc, CommandId::DATA_SM, Receiver, Allowed),
            (
                Role::Smsc,
                CommandId::ALERT_NOTIFICATION,
                Transmitter,
                WrongBindKind,
            ),
        ];
        for (issuer, id, kind, expected) in cases {
            assert_eq!(
                permission(issuer, id, kind),
                expected,
                "{issuer:?} {id} on {kind:?}"
            );
        }
    }
}
