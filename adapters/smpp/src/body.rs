//! PDU bodies, declared in wire order exactly as the specification's tables list them.
//!
//! Each body is written once as a field list; the `body!` macro derives the struct, its
//! decoder, its encoder and its `into_owned`, so the three can never disagree on order.
//! Byte fields are `Cow<'a, [u8]>`: borrowed from the read buffer on decode, owned after
//! `into_owned()`. C-octet strings are held without their NUL.

use std::borrow::Cow;

use crate::command::CommandStatus as S;
use crate::error::{EncodeError, FieldError};
use crate::limits::*;
use crate::lists::{DestAddresses, UnsuccessSmes};
use crate::tlv::Tlvs;
use crate::wire::{Reader, own, put_cstr, put_octets_u8_len};

macro_rules! field_ty {
    (u8) => { u8 };
    (cstr) => { Cow<'a, [u8]> };
    (sm) => { Cow<'a, [u8]> };
    (tlvs) => { Tlvs<'a> };
    (dests) => { DestAddresses<'a> };
    (unsuccess) => { UnsuccessSmes<'a> };
}

macro_rules! field_read {
    ($r:ident, $name:ident, u8) => {
        $r.u8(stringify!($name))?
    };
    ($r:ident, $name:ident, cstr($max:expr, $status:expr)) => {
        Cow::Borrowed($r.cstr(stringify!($name), $max, $status)?)
    };
    ($r:ident, $name:ident, sm) => {
        Cow::Borrowed($r.octets_u8_len(stringify!($name))?)
    };
    ($r:ident, $name:ident, tlvs) => {
        read_tlvs($r)?
    };
    ($r:ident, $name:ident, dests) => {
        DestAddresses::read($r)?
    };
    ($r:ident, $name:ident, unsuccess) => {
        UnsuccessSmes::read($r)?
    };
}

macro_rules! field_write {
    ($out:ident, $v:expr, $name:ident, u8) => {
        $out.push($v)
    };
    ($out:ident, $v:expr, $name:ident, cstr($max:expr, $status:expr)) => {
        put_cstr($out, &$v, stringify!($name), $max)?
    };
    ($out:ident, $v:expr, $name:ident, sm) => {
        put_octets_u8_len($out, &$v, stringify!($name))?
    };
    ($out:ident, $v:expr, $name:ident, tlvs) => {
        $out.extend_from_slice($v.as_bytes())
    };
    ($out:ident, $v:expr, $name:ident, dests) => {
        $v.write($out)
    };
    ($out:ident, $v:expr, $name:ident, unsuccess) => {
        $v.write($out)
    };
}

macro_rules! field_owned {
    ($v:expr, u8) => {
        $v
    };
    ($v:expr, cstr) => {
        own($v)
    };
    ($v:expr, sm) => {
        own($v)
    };
    ($v:expr, $other:ident) => {
        $v.into_owned()
    };
}

macro_rules! body {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $kind:ident $( ( $($arg:expr),* ) )? , )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
        pub struct $name<'a> {
            $( $(#[$fmeta])* pub $field: field_ty!($kind), )*
        }

        impl<'a> $name<'a> {
            #[inline]
            pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Self, FieldError> {
                Ok($name {
                    $( $field: field_read!(r, $field, $kind $( ( $($arg),* ) )?), )*
                })
            }

            #[inline]
            pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
                $( field_write!(out, self.$field, $field, $kind $( ( $($arg),* ) )?); )*
                Ok(())
            }

            /// Copies every borrowed field so the body outlives the read buffer.
            pub fn into_owned(self) -> $name<'static> {
                $name {
                    $( $field: field_owned!(self.$field, $kind), )*
                }
            }
        }
    };
}

/// The TLV area: strict in requests (`ESME_RINVOPTPARSTREAM`), the well-formed prefix in
/// responses (trailing garbage after a response's fields is dropped).
#[inline]
fn read_tlvs<'a>(r: &mut Reader<'a>) -> Result<Tlvs<'a>, FieldError> {
    let rest = r.rest();
    let tlvs = if r.is_lenient() {
        Tlvs::valid_prefix(rest)
    } else {
        Tlvs::from_wire(rest).map_err(|e| FieldError {
            status: S::ESME_RINVOPTPARSTREAM,
            kind: crate::DecodeErrorKind::TlvStream {
                offset: r.pos() + e.valid_len,
            },
        })?
    };
    r.advance(rest.len());
    Ok(tlvs)
}

body! {
    /// bind_transmitter, bind_receiver, bind_transceiver (§4.1.1). `interface_version`
    /// below 0x34 marks an SMPP 3.3 peer: answer it without TLVs.
    pub struct Bind {
        /// Identifies the ESME.
        system_id: cstr(SYSTEM_ID_MAX_LEN, S::ESME_RINVSYSID),
        /// Authenticates it.
        password: cstr(PASSWORD_MAX_LEN, S::ESME_RINVPASWD),
        /// Kind of ESME (`"VMS"`, `"OTA"`, often empty).
        system_type: cstr(SYSTEM_TYPE_MAX_LEN, S::ESME_RINVSYSTYP),
        /// SMPP version: 0x33, 0x34 or 0x50.
        interface_version: u8,
        /// TON of the addresses served (receivers).
        addr_ton: u8,
        /// NPI of the addresses served.
        addr_npi: u8,
        /// Regular expression of the addresses served.
        address_range: cstr(ADDRESS_RANGE_MAX_LEN, S::ESME_RBINDFAIL),
    }
}

body! {
    /// bind_*_resp (§4.1.2). SMPP 3.4 adds sc_interface_version as a TLV; an SMPP 3.3 SMSC
    /// sends none.
    pub struct BindResp {
        /// Identifies the SMSC.
        system_id: cstr(SYSTEM_ID_MAX_LEN, S::ESME_RINVSYSID),
        /// sc_interface_version (absent: SMPP 3.3).
        tlvs: tlvs,
    }
}

body! {
    /// outbind (§4.1.7): an SMSC asks an ESME to bind as a receiver.
    pub struct Outbind {
        /// Identifies the SMSC.
        system_id: cstr(SYSTEM_ID_MAX_LEN, S::ESME_RINVSYSID),
        /// Authenticates it.
        password: cstr(PASSWORD_MAX_LEN, S::ESME_RINVPASWD),
    }
}

body! {
    /// submit_sm (§4.4.1) and deliver_sm (§4.6.1), which share one layout.
    pub struct SubmitSm {
        /// Service type (`"CMT"`, usually empty).
        service_type: cstr(SERVICE_TYPE_MAX_LEN, S::ESME_RINVSERTYP),
        /// TON of the originator.
        source_addr_ton: u8,
        /// NPI of the originator.
        source_addr_npi: u8,
        /// The originator.
        source_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVSRCADR),
        /// TON of the destination.
        dest_addr_ton: u8,
        /// NPI of the destination.
        dest_addr_npi: u8,
        /// The destination.
        destination_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVDSTADR),
        /// Message mode, type and GSM features (see [`crate::EsmClass`]).
        esm_class: u8,
        /// GSM TP-PID.
        protocol_id: u8,
        /// Priority, 0–3.
        priority_flag: u8,
        /// When to deliver (SMPP time; empty: now). Empty in deliver_sm.
        schedule_delivery_time: cstr(TIME_MAX_LEN, S::ESME_RINVSCHED),
        /// When to give up (SMPP time; empty: SMSC default). Empty in deliver_sm.
        validity_period: cstr(TIME_MAX_LEN, S::ESME_RINVEXPIRY),
        /// Which receipts are wanted (see [`crate::RegisteredDelivery`]).
        registered_delivery: u8,
        /// Replace a pending message with the same source and destination.
        replace_if_present_flag: u8,
        /// Data coding scheme (see [`crate::data_coding`]).
        data_coding: u8,
        /// Index of a canned message, 0 if none.
        sm_default_msg_id: u8,
        /// Up to 255 octets of user data (sm_length is its length).
        short_message: sm,
        /// Optional parameters.
        tlvs: tlvs,
    }
}

/// deliver_sm has the layout of submit_sm (SMPP 3.4 §4.6.1).
pub type DeliverSm<'a> = SubmitSm<'a>;

body! {
    /// submit_sm_resp, deliver_sm_resp, data_sm_resp, broadcast_sm_resp and
    /// query_broadcast_sm_resp: a message_id and TLVs (the latter from SMPP 5.0 on).
    pub struct SmResp {
        /// The SMSC's id of the message (empty in deliver_sm_resp).
        message_id: cstr(MESSAGE_ID_MAX_LEN, S::ESME_RINVMSGID),
        /// Optional parameters.
        tlvs: tlvs,
    }
}

body! {
    /// submit_multi (§4.5.1).
    pub struct SubmitMulti {
        /// Service type.
        service_type: cstr(SERVICE_TYPE_MAX_LEN, S::ESME_RINVSERTYP),
        /// TON of the originator.
        source_addr_ton: u8,
        /// NPI of the originator.
        source_addr_npi: u8,
        /// The originator.
        source_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVSRCADR),
        /// SME addresses and distribution lists.
        dest_addresses: dests,
        /// See [`crate::EsmClass`].
        esm_class: u8,
        /// GSM TP-PID.
        protocol_id: u8,
        /// Priority, 0–3.
        priority_flag: u8,
        /// When to deliver.
        schedule_delivery_time: cstr(TIME_MAX_LEN, S::ESME_RINVSCHED),
        /// When to give up.
        validity_period: cstr(TIME_MAX_LEN, S::ESME_RINVEXPIRY),
        /// See [`crate::RegisteredDelivery`].
        registered_delivery: u8,
        /// Replace a pending message.
        replace_if_present_flag: u8,
        /// Data coding scheme.
        data_coding: u8,
        /// Index of a canned message.
        sm_default_msg_id: u8,
        /// User data.
        short_message: sm,
        /// Optional parameters.
        tlvs: tlvs,
    }
}

body! {
    /// submit_multi_resp (§4.5.2).
    pub struct SubmitMultiResp {
        /// The SMSC's id of the message.
        message_id: cstr(MESSAGE_ID_MAX_LEN, S::ESME_RINVMSGID),
        /// Destinations that failed.
        unsuccess_smes: unsuccess,
        /// Optional parameters (SMPP 5.0).
        tlvs: tlvs,
    }
}

body! {
    /// data_sm (§4.7.1).
    pub struct DataSm {
        /// Service type.
        service_type: cstr(SERVICE_TYPE_MAX_LEN, S::ESME_RINVSERTYP),
        /// TON of the originator.
        source_addr_ton: u8,
        /// NPI of the originator.
        source_addr_npi: u8,
        /// The originator.
        source_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVSRCADR),
        /// TON of the destination.
        dest_addr_ton: u8,
        /// NPI of the destination.
        dest_addr_npi: u8,
        /// The destination.
        destination_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVDSTADR),
        /// See [`crate::EsmClass`].
        esm_class: u8,
        /// See [`crate::RegisteredDelivery`].
        registered_delivery: u8,
        /// Data coding scheme.
        data_coding: u8,
        /// Optional parameters; the user data is in message_payload.
        tlvs: tlvs,
    }
}

body! {
    /// query_sm (§4.8.1).
    pub struct QuerySm {
        /// The SMSC's id of the message.
        message_id: cstr(MESSAGE_ID_MAX_LEN, S::ESME_RINVMSGID),
        /// TON of the originator given at submission.
        source_addr_ton: u8,
        /// NPI of the originator given at submission.
        source_addr_npi: u8,
        /// The originator given at submission.
        source_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVSRCADR),
    }
}

body! {
    /// query_sm_resp (§4.8.2).
    pub struct QuerySmResp {
        /// The SMSC's id of the message.
        message_id: cstr(MESSAGE_ID_MAX_LEN, S::ESME_RINVMSGID),
        /// When the message reached a final state (SMPP time; empty if not final).
        final_date: cstr(TIME_MAX_LEN, S::ESME_RINVMSGLEN),
        /// See [`crate::MessageState`].
        message_state: u8,
        /// Network error code, 0 if none.
        error_code: u8,
    }
}

body! {
    /// cancel_sm (§4.9.1).
    pub struct CancelSm {
        /// Service type of the messages to cancel.
        service_type: cstr(SERVICE_TYPE_MAX_LEN, S::ESME_RINVSERTYP),
        /// The SMSC's id of the message (empty: by addresses).
        message_id: cstr(MESSAGE_ID_MAX_LEN, S::ESME_RINVMSGID),
        /// TON of the originator.
        source_addr_ton: u8,
        /// NPI of the originator.
        source_addr_npi: u8,
        /// The originator.
        source_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVSRCADR),
        /// TON of the destination.
        dest_addr_ton: u8,
        /// NPI of the destination.
        dest_addr_npi: u8,
        /// The destination.
        destination_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVDSTADR),
    }
}

body! {
    /// replace_sm (§4.10.1).
    pub struct ReplaceSm {
        /// The SMSC's id of the message to replace.
        message_id: cstr(MESSAGE_ID_MAX_LEN, S::ESME_RINVMSGID),
        /// TON of the originator.
        source_addr_ton: u8,
        /// NPI of the originator.
        source_addr_npi: u8,
        /// The originator.
        source_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVSRCADR),
        /// New delivery time.
        schedule_delivery_time: cstr(TIME_MAX_LEN, S::ESME_RINVSCHED),
        /// New validity.
        validity_period: cstr(TIME_MAX_LEN, S::ESME_RINVEXPIRY),
        /// See [`crate::RegisteredDelivery`].
        registered_delivery: u8,
        /// Index of a canned message.
        sm_default_msg_id: u8,
        /// New user data.
        short_message: sm,
        /// Optional parameters (SMPP 5.0: message_payload).
        tlvs: tlvs,
    }
}

body! {
    /// alert_notification (§4.12.1): a handset became available.
    pub struct AlertNotification {
        /// TON of the handset.
        source_addr_ton: u8,
        /// NPI of the handset.
        source_addr_npi: u8,
        /// The handset.
        source_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVSRCADR),
        /// TON of the ESME that asked.
        esme_addr_ton: u8,
        /// NPI of the ESME that asked.
        esme_addr_npi: u8,
        /// The ESME that asked.
        esme_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVDSTADR),
        /// Optional parameters (ms_availability_status).
        tlvs: tlvs,
    }
}

body! {
    /// broadcast_sm (SMPP 5.0 §4.4.1); the broadcast area, content type, repetitions and
    /// frequency are mandatory TLVs.
    pub struct BroadcastSm {
        /// Service type.
        service_type: cstr(SERVICE_TYPE_MAX_LEN, S::ESME_RINVSERTYP),
        /// TON of the originator.
        source_addr_ton: u8,
        /// NPI of the originator.
        source_addr_npi: u8,
        /// The originator.
        source_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVSRCADR),
        /// Id of a broadcast to replace (empty if none).
        message_id: cstr(MESSAGE_ID_MAX_LEN, S::ESME_RINVMSGID),
        /// Priority.
        priority_flag: u8,
        /// When to start.
        schedule_delivery_time: cstr(TIME_MAX_LEN, S::ESME_RINVSCHED),
        /// When to stop.
        validity_period: cstr(TIME_MAX_LEN, S::ESME_RINVEXPIRY),
        /// Replace a pending broadcast.
        replace_if_present_flag: u8,
        /// Data coding scheme.
        data_coding: u8,
        /// Index of a canned message.
        sm_default_msg_id: u8,
        /// Mandatory and optional TLVs.
        tlvs: tlvs,
    }
}

body! {
    /// query_broadcast_sm (SMPP 5.0 §4.6.1).
    pub struct QueryBroadcastSm {
        /// The broadcast's id.
        message_id: cstr(MESSAGE_ID_MAX_LEN, S::ESME_RINVMSGID),
        /// TON of the originator.
        source_addr_ton: u8,
        /// NPI of the originator.
        source_addr_npi: u8,
        /// The originator.
        source_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVSRCADR),
        /// Optional parameters (user_message_reference).
        tlvs: tlvs,
    }
}

body! {
    /// cancel_broadcast_sm (SMPP 5.0 §4.6.2).
    pub struct CancelBroadcastSm {
        /// Service type.
        service_type: cstr(SERVICE_TYPE_MAX_LEN, S::ESME_RINVSERTYP),
        /// The broadcast's id.
        message_id: cstr(MESSAGE_ID_MAX_LEN, S::ESME_RINVMSGID),
        /// TON of the originator.
        source_addr_ton: u8,
        /// NPI of the originator.
        source_addr_npi: u8,
        /// The originator.
        source_addr: cstr(ADDRESS_MAX_LEN, S::ESME_RINVSRCADR),
        /// Optional parameters (broadcast_content_type, user_message_reference).
        tlvs: tlvs,
    }
}

impl<'a> BindResp<'a> {
    /// The SMSC's SMPP version; `None` means SMPP 3.3 (§5.3.2.25).
    pub fn sc_interface_version(&self) -> Option<u8> {
        self.tlvs.sc_interface_version()
    }

    /// The answer to a bind whose interface_version was `peer_interface_version`: SMPP 3.4
    /// and later peers are told `sc_interface_version`, SMPP 3.3 peers get no TLVs at all.
    pub fn answering(
        system_id: Cow<'a, [u8]>,
        peer_interface_version: u8,
        sc_interface_version: u8,
    ) -> BindResp<'a> {
        let tlvs = if crate::values::supports_tlvs(peer_interface_version) {
            let tag = crate::Tag::SC_INTERFACE_VERSION.0.to_be_bytes();
            Tlvs::from_wire(&[tag[0], tag[1], 0, 1, sc_interface_version])
                .map(Tlvs::into_owned)
                .unwrap_or_default()
        } else {
            Tlvs::EMPTY
        };
        BindResp { system_id, tlvs }
    }
}

impl Bind<'_> {
    /// True for SMPP 3.3 peers, whose PDUs must carry no TLVs.
    pub fn is_smpp33(&self) -> bool {
        self.interface_version < crate::values::INTERFACE_VERSION_34
    }
}
