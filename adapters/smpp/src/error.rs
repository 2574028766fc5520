//! Decode and encode errors. A decode error carries what the server must answer.

use crate::command::{CommandId, CommandStatus};
use crate::header::encode_header_only;
use crate::tlv::Tag;

/// Why a frame could not be decoded into a PDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// The frame is shorter than the 16-octet header.
    #[error("frame of {len} octets is shorter than the 16-octet header")]
    ShortFrame {
        /// Octets present.
        len: usize,
    },
    /// command_length disagrees with the number of octets in the frame.
    #[error("command_length {declared} disagrees with the frame's {actual} octets")]
    LengthMismatch {
        /// The header's command_length.
        declared: u32,
        /// Octets in the frame.
        actual: usize,
    },
    /// The command_id is not one this codec knows.
    #[error("unknown command_id")]
    UnknownCommand,
    /// The body ends inside a mandatory field.
    #[error("body ends inside {field}")]
    Truncated {
        /// The field's specification name.
        field: &'static str,
    },
    /// A C-octet string has no NUL within its accepted length.
    #[error("{field} is longer than {max_len} octets or not NUL-terminated")]
    FieldTooLong {
        /// The field's specification name.
        field: &'static str,
        /// The longest content accepted, NUL excluded.
        max_len: usize,
    },
    /// The optional-parameter (TLV) area of a request does not parse.
    #[error("malformed TLV stream at body offset {offset}")]
    TlvStream {
        /// Offset in the body where the bad TLV starts.
        offset: usize,
    },
    /// A submit_multi destination has a dest_flag other than 1 or 2.
    #[error("dest_flag {flag} is neither 1 (SME address) nor 2 (distribution list)")]
    DestFlag {
        /// The flag received.
        flag: u8,
    },
}

/// What the receiver of an undecodable PDU sends back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// generic_nack: the command is unknown, framing is in doubt, or the PDU has no
    /// response of its own (a response, outbind, alert_notification).
    GenericNack,
    /// The command's own response (e.g. submit_sm_resp) with the error status and no body.
    Response(CommandId),
}

impl Reply {
    /// The command_id of the reply PDU.
    pub const fn command_id(self) -> CommandId {
        match self {
            Reply::GenericNack => CommandId::GENERIC_NACK,
            Reply::Response(id) => id,
        }
    }
}

/// A PDU that could not be decoded, with what is needed to answer it.
///
/// SMPP answers an understood request with a bad body with its own `_resp` carrying the
/// error status, and an unknown command or a bad length with generic_nack; [`reply`]
/// makes that choice and [`encode_reply`] writes the answer.
///
/// [`reply`]: DecodeError::reply
/// [`encode_reply`]: DecodeError::encode_reply
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{command_id} (sequence {sequence_number}): {kind}; answer {status}")]
pub struct DecodeError {
    /// The peer's command_id (generic_nack when the header itself is missing).
    pub command_id: CommandId,
    /// The peer's sequence number (0 when the header itself is missing).
    pub sequence_number: u32,
    /// The status to answer with.
    pub status: CommandStatus,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// Which PDU answers this error.
    pub fn reply(&self) -> Reply {
        let framing = matches!(
            self.kind,
            DecodeErrorKind::ShortFrame { .. }
                | DecodeErrorKind::LengthMismatch { .. }
                | DecodeErrorKind::UnknownCommand
        );
        match self.command_id.response() {
            Some(response) if !framing => Reply::Response(response),
            _ => Reply::GenericNack,
        }
    }

    /// Appends the answer (header only, the error status, the peer's sequence number).
    pub fn encode_reply(&self, out: &mut Vec<u8>) {
        encode_header_only(
            self.reply().command_id(),
            self.status,
            self.sequence_number,
            out,
        );
    }
}

/// A field error found while reading a body, before the header is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) status: CommandStatus,
    pub(crate) kind: DecodeErrorKind,
}

impl FieldError {
    pub(crate) const fn truncated(field: &'static str) -> Self {
        FieldError {
            status: CommandStatus::ESME_RINVMSGLEN,
            kind: DecodeErrorKind::Truncated { field },
        }
    }

    pub(crate) const fn too_long(
        field: &'static str,
        max_len: usize,
        status: CommandStatus,
    ) -> Self {
        FieldError {
            status,
            kind: DecodeErrorKind::FieldTooLong { field, max_len },
        }
    }
}

/// A value that cannot be written as a valid PDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A C-octet string holds a NUL octet or is longer than this codec accepts on decode.
    #[error("{field} holds a NUL octet or is longer than {max_len} octets")]
    InvalidCString {
        /// The field's specification name.
        field: &'static str,
        /// The longest content accepted, NUL excluded.
        max_len: usize,
    },
    /// An octet string with a one-octet length prefix is longer than 255 octets.
    #[error("{field} of {len} octets is longer than 255")]
    OctetsTooLong {
        /// The field's specification name.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// A list counted by one octet has more than 255 entries.
    #[error("{field} has {count} entries, more than 255")]
    TooManyEntries {
        /// The list's specification name.
        field: &'static str,
        /// Entries given.
        count: usize,
    },
    /// A TLV value is longer than the 16-bit length field can express.
    #[error("TLV {tag:?} value of {len} octets is longer than 65535")]
    TlvTooLong {
        /// The TLV's tag.
        tag: Tag,
        /// Its length.
        len: usize,
    },
    /// The PDU would be longer than command_length can express.
    #[error("PDU of {len} octets does not fit command_length")]
    PduTooLong {
        /// Its length.
        len: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(command_id: CommandId, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            command_id,
            sequence_number: 9,
            status: CommandStatus::ESME_RINVMSGLEN,
            kind,
        }
    }

    #[test]
    fn understood_request_with_bad_body_gets_its_own_response() {
        let e = error(
            CommandId::SUBMIT_SM,
            DecodeErrorKind::Truncated { field: "x" },
        );
        assert_eq!(e.reply(), Reply::Response(CommandId::SUBMIT_SM_RESP));
        let mut out = Vec::new();
        e.encode_reply(&mut out);
        assert_eq!(
            out,
            [0, 0, 0, 16, 0x80, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 9].to_vec()
        );
    }

    #[test]
    fn unknown_command_bad_length_and_responses_get_generic_nack() {
        let unknown = error(CommandId(0x77), DecodeErrorKind::UnknownCommand);
        assert_eq!(unknown.reply(), Reply::GenericNack);
        let mismatch = error(
            CommandId::SUBMIT_SM,
            DecodeErrorKind::LengthMismatch {
                declared: 20,
                actual: 16,
            },
        );
        assert_eq!(mismatch.reply(), Reply::GenericNack);
        let response = error(
            CommandId::SUBMIT_MULTI_RESP,
            DecodeErrorKind::Truncated { field: "x" },
        );
        assert_eq!(response.reply(), Reply::GenericNack);
        let outbind = error(
            CommandId::OUTBIND,
            DecodeErrorKind::Truncated { field: "x" },
        );
        assert_eq!(outbind.reply(), Reply::GenericNack);
    }
}
