//! The WAL record kinds of a message's life, their errors, and decoding any of them.

use thiserror::Error;

use super::accepted::MessageRecord;
use super::id::{IdError, MessageId};
use super::progress::Progress;

/// Format version written as the first octet of every message record's payload.
pub const FORMAT_VERSION: u8 = 1;

/// The WAL `kind` byte of each message record. Message records use 0x10..=0x1F; the WAL
/// reserves 0xF0 and above.
pub mod kind {
    /// [`super::Record::Accepted`]: the message as accepted.
    pub const ACCEPTED: u8 = 0x10;
    /// [`crate::message::Progress::Submitted`]: a part's ID2.
    pub const SUBMITTED: u8 = 0x11;
    /// [`crate::message::Progress::Final`]: a part's or the message's final state.
    pub const FINAL: u8 = 0x12;
    /// [`crate::message::Progress::ReceiptPending`]: a final client receipt is owed.
    pub const RECEIPT_PENDING: u8 = 0x13;
    /// [`crate::message::Progress::ReceiptAcknowledged`]: the client took its receipt.
    pub const RECEIPT_ACKNOWLEDGED: u8 = 0x14;
    /// [`crate::message::Progress::Done`]: closed, nothing owed.
    pub const DONE: u8 = 0x15;

    /// [`crate::message::MoRecord`]: a mobile-originated message (or one part of a
    /// concatenated one) received from an upstream, live until its user took it.
    pub const MO: u8 = 0x18;

    /// True for the kinds this module reads (other subsystems' records are skipped).
    pub const fn is_message_kind(kind: u8) -> bool {
        kind >= ACCEPTED && kind <= DONE
    }
}

/// Why a payload is not a message record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RecordError {
    /// The WAL kind is not one of [`kind`].
    #[error("record kind {kind:#04x} is not a message record")]
    UnknownKind {
        /// The kind.
        kind: u8,
    },
    /// Written by a format this build does not read.
    #[error("record format version {version} is not supported (this build reads {FORMAT_VERSION})")]
    UnsupportedVersion {
        /// The version octet.
        version: u8,
    },
    /// The payload ends inside a field.
    #[error("record ends inside field `{field}`")]
    Truncated {
        /// The field.
        field: &'static str,
    },
    /// A field is longer than its bound.
    #[error("field `{field}` is {len} octets, more than {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A field holds a value with no meaning.
    #[error("field `{field}` holds {value}, which has no meaning")]
    InvalidValue {
        /// The field.
        field: &'static str,
        /// The value.
        value: u64,
    },
    /// The message id is not one ([`IdError`]).
    #[error("message id: {0}")]
    Id(IdError),
    /// Octets follow the last field.
    #[error("{count} octets follow the last field")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

/// Any message record, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// The message as accepted.
    Accepted(MessageRecord<'a>),
    /// A later step of its life.
    Progress(Progress),
}

impl<'a> Record<'a> {
    /// Decodes a payload of WAL kind `kind`. Never panics: every failure is typed.
    pub fn decode(kind: u8, payload: &'a [u8]) -> Result<Record<'a>, RecordError> {
        match kind {
            kind::ACCEPTED => MessageRecord::decode(payload).map(Record::Accepted),
            _ => Progress::decode(kind, payload).map(Record::Progress),
        }
    }

    /// The message it is about.
    pub fn id(&self) -> MessageId {
        match self {
            Record::Accepted(record) => record.id,
            Record::Progress(progress) => progress.id(),
        }
    }

    /// The WAL kind byte.
    pub fn kind(&self) -> u8 {
        match self {
            Record::Accepted(_) => kind::ACCEPTED,
            Record::Progress(progress) => progress.kind(),
        }
    }

    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), RecordError> {
        match self {
            Record::Accepted(record) => record.encode(out),
            Record::Progress(progress) => {
                progress.encode(out);
                Ok(())
            }
        }
    }
}
