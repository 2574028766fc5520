//! A whole PDU: header fields and a typed body; decode from one frame, encode by appending.

use crate::body::*;
use crate::command::{CommandId, CommandStatus};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, FieldError};
use crate::header::{HEADER_LEN, Header};
use crate::wire::Reader;

macro_rules! bodies {
    (
        unit { $( $(#[$udoc:meta])* $unit:ident = $uid:ident, )* }
        data { $( $(#[$ddoc:meta])* $data:ident($ty:ident) = $did:ident, )* }
    ) => {
        /// The body of a PDU, one variant per command.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum Body<'a> {
            $( $(#[$udoc])* $unit, )*
            $( $(#[$ddoc])* $data($ty<'a>), )*
        }

        impl<'a> Body<'a> {
            /// The command_id this body is sent with.
            pub const fn command_id(&self) -> CommandId {
                match self {
                    $( Body::$unit => CommandId::$uid, )*
                    $( Body::$data(_) => CommandId::$did, )*
                }
            }

            /// Reads the body of `command_id`.
            #[inline]
            fn decode(command_id: CommandId, r: &mut Reader<'a>) -> Result<Self, FieldError> {
                Ok(match command_id {
                    $( CommandId::$uid => Body::$unit, )*
                    $( CommandId::$did => Body::$data($ty::decode(r)?), )*
                    _ => return Err(FieldError {
                        status: CommandStatus::ESME_RINVCMDID,
                        kind: DecodeErrorKind::UnknownCommand,
                    }),
                })
            }

            #[inline]
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
                match self {
                    $( Body::$unit => Ok(()), )*
                    $( Body::$data(body) => body.encode(out), )*
                }
            }

            /// Copies every borrowed field so the body outlives the read buffer.
            pub fn into_owned(self) -> Body<'static> {
                match self {
                    $( Body::$unit => Body::$unit, )*
                    $( Body::$data(body) => Body::$data(body.into_owned()), )*
                }
            }
        }
    };
}

bodies! {
    unit {
        /// generic_nack.
        GenericNack = GENERIC_NACK,
        /// unbind.
        Unbind = UNBIND,
        /// unbind_resp.
        UnbindResp = UNBIND_RESP,
        /// enquire_link.
        EnquireLink = ENQUIRE_LINK,
        /// enquire_link_resp.
        EnquireLinkResp = ENQUIRE_LINK_RESP,
        /// cancel_sm_resp.
        CancelSmResp = CANCEL_SM_RESP,
        /// replace_sm_resp.
        ReplaceSmResp = REPLACE_SM_RESP,
        /// cancel_broadcast_sm_resp (SMPP 5.0).
        CancelBroadcastSmResp = CANCEL_BROADCAST_SM_RESP,
    }
    data {
        /// bind_receiver.
        BindReceiver(Bind) = BIND_RECEIVER,
        /// bind_receiver_resp.
        BindReceiverResp(BindResp) = BIND_RECEIVER_RESP,
        /// bind_transmitter.
        BindTransmitter(Bind) = BIND_TRANSMITTER,
        /// bind_transmitter_resp.
        BindTransmitterResp(BindResp) = BIND_TRANSMITTER_RESP,
        /// bind_transceiver.
        BindTransceiver(Bind) = BIND_TRANSCEIVER,
        /// bind_transceiver_resp.
        BindTransceiverResp(BindResp) = BIND_TRANSCEIVER_RESP,
        /// outbind.
        Outbind(Outbind) = OUTBIND,
        /// submit_sm.
        SubmitSm(SubmitSm) = SUBMIT_SM,
        /// submit_sm_resp.
        SubmitSmResp(SmResp) = SUBMIT_SM_RESP,
        /// deliver_sm.
        DeliverSm(DeliverSm) = DELIVER_SM,
        /// deliver_sm_resp.
        DeliverSmResp(SmResp) = DELIVER_SM_RESP,
        /// submit_multi.
        SubmitMulti(SubmitMulti) = SUBMIT_MULTI,
        /// submit_multi_resp.
        SubmitMultiResp(SubmitMultiResp) = SUBMIT_MULTI_RESP,
        /// data_sm.
        DataSm(DataSm) = DATA_SM,
        /// data_sm_resp.
        DataSmResp(SmResp) = DATA_SM_RESP,
        /// query_sm.
        QuerySm(QuerySm) = QUERY_SM,
        /// query_sm_resp.
        QuerySmResp(QuerySmResp) = QUERY_SM_RESP,
        /// cancel_sm.
        CancelSm(CancelSm) = CANCEL_SM,
        /// replace_sm.
        ReplaceSm(ReplaceSm) = REPLACE_SM,
        /// alert_notification.
        AlertNotification(AlertNotification) = ALERT_NOTIFICATION,
        /// broadcast_sm (SMPP 5.0).
        BroadcastSm(BroadcastSm) = BROADCAST_SM,
        /// broadcast_sm_resp (SMPP 5.0).
        BroadcastSmResp(SmResp) = BROADCAST_SM_RESP,
        /// query_broadcast_sm (SMPP 5.0).
        QueryBroadcastSm(QueryBroadcastSm) = QUERY_BROADCAST_SM,
        /// query_broadcast_sm_resp (SMPP 5.0).
        QueryBroadcastSmResp(SmResp) = QUERY_BROADCAST_SM_RESP,
        /// cancel_broadcast_sm (SMPP 5.0).
        CancelBroadcastSm(CancelBroadcastSm) = CANCEL_BROADCAST_SM,
    }
}

/// A decoded or to-be-encoded PDU: the header's status and sequence number and a body
/// (which determines command_id; command_length is computed on encode).
///
/// `Pdu<'a>` borrows from the read buffer; [`PduOwned`] owns its octets for queues and
/// storage.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pdu<'a> {
    /// `ESME_ROK` for requests; the outcome for responses.
    pub command_status: CommandStatus,
    /// Correlates a response with its request.
    pub sequence_number: u32,
    /// The command and its fields.
    pub body: Body<'a>,
}

/// A PDU that owns its octets.
pub type PduOwned = Pdu<'static>;

impl<'a> Pdu<'a> {
    /// A request (status `ESME_ROK`).
    pub fn new(sequence_number: u32, body: Body<'a>) -> Self {
        Pdu {
            command_status: CommandStatus::ESME_ROK,
            sequence_number,
            body,
        }
    }

    /// A response carrying `command_status`.
    pub fn response(command_status: CommandStatus, sequence_number: u32, body: Body<'a>) -> Self {
        Pdu {
            command_status,
            sequence_number,
            body,
        }
    }

    /// The command_id this PDU is sent with.
    pub const fn command_id(&self) -> CommandId {
        self.body.command_id()
    }

    /// Decodes exactly one PDU from `frame` (as delimited by [`crate::Framer`]), borrowing
    /// its byte fields. Allocates nothing.
    #[inline]
    pub fn decode(frame: &'a [u8]) -> Result<Pdu<'a>, DecodeError> {
        let Some(header) = Header::peek(frame) else {
            return Err(DecodeError {
                command_id: CommandId::GENERIC_NACK,
                sequence_number: 0,
                status: CommandStatus::ESME_RINVCMDLEN,
                kind: DecodeErrorKind::ShortFrame { len: frame.len() },
            });
        };
        let fail = |status, kind| DecodeError {
            command_id: header.command_id,
            sequence_number: header.sequence_number,
            status,
            kind,
        };
        if usize::try_from(header.command_length) != Ok(frame.len()) {
            let kind = DecodeErrorKind::LengthMismatch {
                declared: header.command_length,
                actual: frame.len(),
            };
            return Err(fail(CommandStatus::ESME_RINVCMDLEN, kind));
        }
        let body = frame.get(HEADER_LEN..).unwrap_or_default();
        let mut reader = Reader::new(body, header.command_id.is_response());
        match Body::decode(header.command_id, &mut reader) {
            Ok(body) => Ok(Pdu {
                command_status: header.command_status,
                sequence_number: header.sequence_number,
                body,
            }),
            Err(e) => Err(fail(e.status, e.kind)),
        }
    }

    /// Appends the encoded PDU to `out` and returns its length. Nothing is allocated
    /// beyond `out`'s growth; on error `out` is left as it was.
    #[inline]
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        let start = out.len();
        Header {
            command_length: 0,
            command_id: self.command_id(),
            command_status: self.command_status,
            sequence_number: self.sequence_number,
        }
        .encode(out);
        if let Err(e) = self.body.encode(out) {
            out.truncate(start);
            return Err(e);
        }
        let len = out.len() - start;
        let Ok(len32) = u32::try_from(len) else {
            out.truncate(start);
            return Err(EncodeError::PduTooLong { len });
        };
        if let Some(slot) = out.get_mut(start..start + 4) {
            slot.copy_from_slice(&len32.to_be_bytes());
        }
        Ok(len)
    }

    /// Copies every borrowed field so the PDU outlives the read buffer.
    pub fn into_owned(self) -> PduOwned {
        Pdu {
            command_status: self.command_status,
            sequence_number: self.sequence_number,
            body: self.body.into_owned(),
        }
    }
}

/// Decodes exactly one PDU from `frame`; see [`Pdu::decode`].
#[inline]
pub fn decode(frame: &[u8]) -> Result<Pdu<'_>, DecodeError> {
    Pdu::decode(frame)
}

impl<'a> Body<'a> {
    /// The TLV area of bodies that have one.
    pub fn tlvs(&self) -> Option<&crate::Tlvs<'a>> {
        match self {
            Body::BindReceiverResp(b)
            | Body::BindTransmitterResp(b)
            | Body::BindTransceiverResp(b) => Some(&b.tlvs),
            Body::SubmitSm(b) | Body::DeliverSm(b) => Some(&b.tlvs),
            Body::SubmitSmResp(b)
            | Body::DeliverSmResp(b)
            | Body::DataSmResp(b)
            | Body::BroadcastSmResp(b)
            | Body::QueryBroadcastSmResp(b) => Some(&b.tlvs),
            Body::SubmitMulti(b) => Some(&b.tlvs),
            Body::SubmitMultiResp(b) => Some(&b.tlvs),
            Body::DataSm(b) => Some(&b.tlvs),
            Body::ReplaceSm(b) => Some(&b.tlvs),
            Body::AlertNotification(b) => Some(&b.tlvs),
            Body::BroadcastSm(b) => Some(&b.tlvs),
            Body::QueryBroadcastSm(b) => Some(&b.tlvs),
            Body::CancelBroadcastSm(b) => Some(&b.tlvs),
            Body::GenericNack
            | Body::Unbind
            | Body::UnbindResp
            | Body::EnquireLink
            | Body::EnquireLinkResp
            | Body::CancelSmResp
            | Body::ReplaceSmResp
            | Body::CancelBroadcastSmResp
            | Body::BindReceiver(_)
            | Body::BindTransmitter(_)
            | Body::BindTransceiver(_)
            | Body::Outbind(_)
            | Body::QuerySm(_)
            | Body::QuerySmResp(_)
            | Body::CancelSm(_) => None,
        }
    }
}
