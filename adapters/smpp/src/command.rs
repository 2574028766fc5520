//! SMPP command identifiers and command status codes (SMPP 3.4 §5.1.2, §5.1.3; SMPP 5.0 §4.7.5).
//!
//! Both are newtypes over the wire `u32` rather than closed enums: a peer may send ids and
//! statuses we do not know (vendor statuses 0x400–0x4FF, SMPP 5.0 additions), and the gateway
//! must carry them through or answer them (generic_nack with the peer's sequence number),
//! never fail to represent them.

use core::fmt;

/// The `command_id` field of an SMPP header.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(pub u32);

/// Bit set in the `command_id` of every response PDU.
pub const RESPONSE_BIT: u32 = 0x8000_0000;

macro_rules! command_ids {
    ($( $(#[$doc:meta])* $name:ident = $value:expr, $text:literal; )*) => {
        impl CommandId {
            $( $(#[$doc])* pub const $name: CommandId = CommandId($value); )*

            /// The specification's name of this command (`"submit_sm"`), or `None` if unknown.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some($text), )*
                    _ => None,
                }
            }

            /// Every command id this crate knows, requests and responses.
            pub const ALL: &'static [CommandId] = &[$( CommandId($value), )*];
        }
    };
}

command_ids! {
    /// generic_nack: the answer to a PDU that could not be understood.
    GENERIC_NACK = 0x8000_0000, "generic_nack";
    /// bind_receiver.
    BIND_RECEIVER = 0x0000_0001, "bind_receiver";
    /// bind_receiver_resp.
    BIND_RECEIVER_RESP = 0x8000_0001, "bind_receiver_resp";
    /// bind_transmitter.
    BIND_TRANSMITTER = 0x0000_0002, "bind_transmitter";
    /// bind_transmitter_resp.
    BIND_TRANSMITTER_RESP = 0x8000_0002, "bind_transmitter_resp";
    /// query_sm.
    QUERY_SM = 0x0000_0003, "query_sm";
    /// query_sm_resp.
    QUERY_SM_RESP = 0x8000_0003, "query_sm_resp";
    /// submit_sm.
    SUBMIT_SM = 0x0000_0004, "submit_sm";
    /// submit_sm_resp.
    SUBMIT_SM_RESP = 0x8000_0004, "submit_sm_resp";
    /// deliver_sm.
    DELIVER_SM = 0x0000_0005, "deliver_sm";
    /// deliver_sm_resp.
    DELIVER_SM_RESP = 0x8000_0005, "deliver_sm_resp";
    /// unbind.
    UNBIND = 0x0000_0006, "unbind";
    /// unbind_resp.
    UNBIND_RESP = 0x8000_0006, "unbind_resp";
    /// replace_sm.
    REPLACE_SM = 0x0000_0007, "replace_sm";
    /// replace_sm_resp.
    REPLACE_SM_RESP = 0x8000_0007, "replace_sm_resp";
    /// cancel_sm.
    CANCEL_SM = 0x0000_0008, "cancel_sm";
    /// cancel_sm_resp.
    CANCEL_SM_RESP = 0x8000_0008, "cancel_sm_resp";
    /// bind_transceiver.
    BIND_TRANSCEIVER = 0x0000_0009, "bind_transceiver";
    /// bind_transceiver_resp.
    BIND_TRANSCEIVER_RESP = 0x8000_0009, "bind_transceiver_resp";
    /// outbind: an SMSC asks an ESME to bind to it.
    OUTBIND = 0x0000_000B, "outbind";
    /// enquire_link.
    ENQUIRE_LINK = 0x0000_0015, "enquire_link";
    /// enquire_link_resp.
    ENQUIRE_LINK_RESP = 0x8000_0015, "enquire_link_resp";
    /// submit_multi.
    SUBMIT_MULTI = 0x0000_0021, "submit_multi";
    /// submit_multi_resp.
    SUBMIT_MULTI_RESP = 0x8000_0021, "submit_multi_resp";
    /// alert_notification (no response exists).
    ALERT_NOTIFICATION = 0x0000_0102, "alert_notification";
    /// data_sm.
    DATA_SM = 0x0000_0103, "data_sm";
    /// data_sm_resp.
    DATA_SM_RESP = 0x8000_0103, "data_sm_resp";
    /// broadcast_sm (SMPP 5.0).
    BROADCAST_SM = 0x0000_0111, "broadcast_sm";
    /// broadcast_sm_resp (SMPP 5.0).
    BROADCAST_SM_RESP = 0x8000_0111, "broadcast_sm_resp";
    /// query_broadcast_sm (SMPP 5.0).
    QUERY_BROADCAST_SM = 0x0000_0112, "query_broadcast_sm";
    /// query_broadcast_sm_resp (SMPP 5.0).
    QUERY_BROADCAST_SM_RESP = 0x8000_0112, "query_broadcast_sm_resp";
    /// cancel_broadcast_sm (SMPP 5.0).
    CANCEL_BROADCAST_SM = 0x0000_0113, "cancel_broadcast_sm";
    /// cancel_broadcast_sm_resp (SMPP 5.0).
    CANCEL_BROADCAST_SM_RESP = 0x8000_0113, "cancel_broadcast_sm_resp";
}

impl CommandId {
    /// True for response PDUs (the high bit is set), generic_nack included.
    pub const fn is_response(self) -> bool {
        self.0 & RESPONSE_BIT != 0
    }

    /// True if this crate knows the command.
    pub const fn is_known(self) -> bool {
        self.name().is_some()
    }

    /// The id of the response to this request (`submit_sm` → `submit_sm_resp`), or `None`
    /// for responses and for requests that have no response (outbind, alert_notification).
    pub const fn response(self) -> Option<CommandId> {
        if self.is_response() || self.0 == Self::OUTBIND.0 || self.0 == Self::ALERT_NOTIFICATION.0 {
            None
        } else {
            Some(CommandId(self.0 | RESPONSE_BIT))
        }
    }

    /// The request this response answers (`submit_sm_resp` → `submit_sm`); `None` for
    /// requests and for generic_nack, which may answer any request.
    pub const fn request(self) -> Option<CommandId> {
        if self.is_response() && self.0 != Self::GENERIC_NACK.0 {
            Some(CommandId(self.0 & !RESPONSE_BIT))
        } else {
            None
        }
    }
}

impl fmt::Debug for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "command_id(0x{:08x})", self.0),
        }
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The `command_status` field of an SMPP header: `ESME_ROK` or an error.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CommandStatus(pub u32);

macro_rules! statuses {
    ($( $(#[$doc:meta])* $name:ident = $value:expr; )*) => {
        impl CommandStatus {
            $( $(#[$doc])* pub const $name: CommandStatus = CommandStatus($value); )*

            /// The specification's name (`"ESME_RTHROTTLED"`), or `None` if not standard.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some(stringify!($name)), )*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    /// No error.
    ESME_ROK = 0x0000;
    /// Message length is invalid.
    ESME_RINVMSGLEN = 0x0001;
    /// Command length is invalid.
    ESME_RINVCMDLEN = 0x0002;
    /// Invalid command id.
    ESME_RINVCMDID = 0x0003;
    /// Incorrect bind status for the given command.
    ESME_RINVBNDSTS = 0x0004;
    /// ESME already in bound state.
    ESME_RALYBND = 0x0005;
    /// Invalid priority flag.
    ESME_RINVPRTFLG = 0x0006;
    /// Invalid registered delivery flag.
    ESME_RINVREGDLVFLG = 0x0007;
    /// System error.
    ESME_RSYSERR = 0x0008;
    /// Invalid source address.
    ESME_RINVSRCADR = 0x000A;
    /// Invalid destination address.
    ESME_RINVDSTADR = 0x000B;
    /// Message id is invalid.
    ESME_RINVMSGID = 0x000C;
    /// Bind failed.
    ESME_RBINDFAIL = 0x000D;
    /// Invalid password.
    ESME_RINVPASWD = 0x000E;
    /// Invalid system id.
    ESME_RINVSYSID = 0x000F;
    /// cancel_sm failed.
    ESME_RCANCELFAIL = 0x0011;
    /// replace_sm failed.
    ESME_RREPLACEFAIL = 0x0013;
    /// Message queue full.
    ESME_RMSGQFUL = 0x0014;
    /// Invalid service type.
    ESME_RINVSERTYP = 0x0015;
    /// Invalid number of destinations.
    ESME_RINVNUMDESTS = 0x0033;
    /// Invalid distribution list name.
    ESME_RINVDLNAME = 0x0034;
    /// Destination flag is invalid (submit_multi).
    ESME_RINVDESTFLAG = 0x0040;
    /// Invalid submit-with-replace request.
    ESME_RINVSUBREP = 0x0042;
    /// Invalid esm_class field data.
    ESME_RINVESMCLASS = 0x0043;
    /// Cannot submit to distribution list.
    ESME_RCNTSUBDL = 0x0044;
    /// submit_sm or submit_multi failed.
    ESME_RSUBMITFAIL = 0x0045;
    /// Invalid source address TON.
    ESME_RINVSRCTON = 0x0048;
    /// Invalid source address NPI.
    ESME_RINVSRCNPI = 0x0049;
    /// Invalid destination address TON.
    ESME_RINVDSTTON = 0x0050;
    /// Invalid destination address NPI.
    ESME_RINVDSTNPI = 0x0051;
    /// Invalid system_type field.
    ESME_RINVSYSTYP = 0x0053;
    /// Invalid replace_if_present flag.
    ESME_RINVREPFLAG = 0x0054;
    /// Invalid number of messages.
    ESME_RINVNUMMSGS = 0x0055;
    /// Throttling error: the ESME exceeded its allowed message limits.
    ESME_RTHROTTLED = 0x0058;
    /// Invalid scheduled delivery time.
    ESME_RINVSCHED = 0x0061;
    /// Invalid message validity period (expiry time).
    ESME_RINVEXPIRY = 0x0062;
    /// Predefined message invalid or not found.
    ESME_RINVDFTMSGID = 0x0063;
    /// ESME receiver temporary app error code.
    ESME_RX_T_APPN = 0x0064;
    /// ESME receiver permanent app error code.
    ESME_RX_P_APPN = 0x0065;
    /// ESME receiver reject message error code.
    ESME_RX_R_APPN = 0x0066;
    /// query_sm request failed.
    ESME_RQUERYFAIL = 0x0067;
    /// Error in the optional part of the PDU body.
    ESME_RINVOPTPARSTREAM = 0x00C0;
    /// Optional parameter not allowed.
    ESME_ROPTPARNOTALLWD = 0x00C1;
    /// Invalid parameter length.
    ESME_RINVPARLEN = 0x00C2;
    /// Expected optional parameter missing.
    ESME_RMISSINGOPTPARAM = 0x00C3;
    /// Invalid optional parameter value.
    ESME_RINVOPTPARAMVAL = 0x00C4;
    /// Delivery failure (data_sm_resp).
    ESME_RDELIVERYFAILURE = 0x00FE;
    /// Unknown error.
    ESME_RUNKNOWNERR = 0x00FF;
    /// SMPP 5.0: ESME not authorised to use the service type.
    ESME_RSERTYPUNAUTH = 0x0100;
    /// SMPP 5.0: ESME prohibited from using the operation.
    ESME_RPROHIBITED = 0x0101;
    /// SMPP 5.0: specified service type unavailable.
    ESME_RSERTYPUNAVAIL = 0x0102;
    /// SMPP 5.0: specified service type denied.
    ESME_RSERTYPDENIED = 0x0103;
    /// SMPP 5.0: invalid data coding scheme.
    ESME_RINVDCS = 0x0104;
    /// SMPP 5.0: source address subunit invalid.
    ESME_RINVSRCADDRSUBUNIT = 0x0105;
    /// SMPP 5.0: destination address subunit invalid.
    ESME_RINVDSTADDRSUBUNIT = 0x0106;
    /// SMPP 5.0: broadcast frequency interval invalid.
    ESME_RINVBCASTFREQINT = 0x0107;
    /// SMPP 5.0: broadcast alias name invalid.
    ESME_RINVBCASTALIAS_NAME = 0x0108;
    /// SMPP 5.0: broadcast area format invalid.
    ESME_RINVBCASTAREAFMT = 0x0109;
    /// SMPP 5.0: number of broadcast areas invalid.
    ESME_RINVNUMBCAST_AREAS = 0x010A;
    /// SMPP 5.0: broadcast content type invalid.
    ESME_RINVBCASTCNTTYPE = 0x010B;
    /// SMPP 5.0: broadcast message class invalid.
    ESME_RINVBCASTMSGCLASS = 0x010C;
    /// SMPP 5.0: broadcast_sm failed.
    ESME_RBCASTFAIL = 0x010D;
    /// SMPP 5.0: query_broadcast_sm failed.
    ESME_RBCASTQUERYFAIL = 0x010E;
    /// SMPP 5.0: cancel_broadcast_sm failed.
    ESME_RBCASTCANCELFAIL = 0x010F;
    /// SMPP 5.0: number of repeated broadcasts invalid.
    ESME_RINVBCAST_REP = 0x0110;
    /// SMPP 5.0: broadcast service group invalid.
    ESME_RINVBCASTSRVGRP = 0x0111;
    /// SMPP 5.0: broadcast channel indicator invalid.
    ESME_RINVBCASTCHANIND = 0x0112;
}

impl CommandStatus {
    /// True for `ESME_ROK`.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// True for the vendor-specific range (0x400–0x4FF), which is carried through untouched.
    pub const fn is_vendor(self) -> bool {
        self.0 >= 0x400 && self.0 <= 0x4FF
    }

    /// True for errors after which the same request may succeed later (queue full,
    /// throttled, system error, temporary application error): the gateway requeues with
    /// backoff instead of failing the message.
    pub const fn is_transient(self) -> bool {
        matches!(self.0, 0x0008 | 0x0014 | 0x0058 | 0x0064)
    }
}

impl fmt::Debug for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "command_status(0x{:08x})", self.0),
        }
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_maps_to_its_response_and_back() {
        for &id in CommandId::ALL {
            if let Some(resp) = id.response() {
                assert!(resp.is_known(), "{id:?} has no known response");
                assert_eq!(resp.request(), Some(id));
            }
        }
        assert_eq!(CommandId::OUTBIND.response(), None);
        assert_eq!(CommandId::ALERT_NOTIFICATION.response(), None);
        assert_eq!(CommandId::GENERIC_NACK.request(), None);
    }

    #[test]
    fn unknown_values_are_carried_and_named_in_hex() {
        assert_eq!(format!("{:?}", CommandId(0x1234)), "command_id(0x00001234)");
        assert_eq!(
            format!("{:?}", CommandStatus(0x401)),
            "command_status(0x00000401)"
        );
        assert!(CommandStatus(0x401).is_vendor());
        assert_eq!(
            CommandStatus::ESME_RTHROTTLED.name(),
            Some("ESME_RTHROTTLED")
        );
    }
}
