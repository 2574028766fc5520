//! The small records of a message's life after acceptance: Submitted, Final,
//! ReceiptPending, ReceiptAcknowledged, Done.

use std::fmt;

use tern_smpp::{CommandStatus, MessageState};

use super::id::{ConnectorId, MessageId, UserId};
use super::record::{FORMAT_VERSION, RecordError, kind};
use super::wire::{Reader, put_bytes_u8, put_u8, put_u16, put_u32, put_u64};

/// Longest ID2, equal to the DLR index's key bound (SMPP message_id: 64 octets).
pub const ID2_LEN_MAX: usize = 64;
const _: () = assert!(ID2_LEN_MAX == crate::dlr_index::ID2_LEN_MAX);

/// The upstream's message id (ID2) for one part, normalised by its connector (radix,
/// case), held inline so that actions and records carry it without allocating.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Id2 {
    len: u8,
    bytes: [u8; ID2_LEN_MAX],
}

/// Why octets are not an [`Id2`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Id2Error {
    /// No octets: no receipt could ever be matched to it.
    #[error("ID2 is empty")]
    Empty,
    /// Longer than [`ID2_LEN_MAX`].
    #[error("ID2 is {len} octets, more than {ID2_LEN_MAX}")]
    TooLong {
        /// Its length.
        len: usize,
    },
}

impl Id2 {
    /// An ID2 of 1 to 64 octets.
    pub fn new(id2: &[u8]) -> Result<Id2, Id2Error> {
        if id2.is_empty() {
            return Err(Id2Error::Empty);
        }
        if id2.len() > ID2_LEN_MAX {
            return Err(Id2Error::TooLong { len: id2.len() });
        }
        let mut bytes = [0u8; ID2_LEN_MAX];
        bytes[..id2.len()].copy_from_slice(id2);
        Ok(Id2 {
            len: id2.len() as u8,
            bytes,
        })
    }

    /// The octets.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl fmt::Debug for Id2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id2({:?})", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// How a message (or one part of it) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinalState {
    /// Delivered to the handset (every part, for a split message).
    Delivered,
    /// The network could not deliver it.
    Undeliverable,
    /// The validity period passed first.
    Expired,
    /// Rejected by the network or the upstream's receipt.
    Rejected,
    /// Deleted (cancelled by the client or an operator, or by the SMSC).
    Deleted,
    /// The upstream took it but its fate is unknown.
    Unknown,
    /// The upstream refused the submit (or every attempt failed) with this status.
    Failed {
        /// The last command_status received (ESME_RUNKNOWNERR when none came, after
        /// timeouts or disconnects).
        status: CommandStatus,
    },
}

impl FinalState {
    /// True only for [`FinalState::Delivered`].
    pub fn is_success(self) -> bool {
        self == FinalState::Delivered
    }

    /// The SMPP message_state a client receipt reports (a failed submit reads as
    /// UNDELIVERABLE, its status going in the receipt's error code).
    pub fn message_state(self) -> MessageState {
        match self {
            FinalState::Delivered => MessageState::DELIVERED,
            FinalState::Undeliverable | FinalState::Failed { .. } => MessageState::UNDELIVERABLE,
            FinalState::Expired => MessageState::EXPIRED,
            FinalState::Rejected => MessageState::REJECTED,
            FinalState::Deleted => MessageState::DELETED,
            FinalState::Unknown => MessageState::UNKNOWN,
        }
    }

    fn code(self) -> (u8, u32) {
        match self {
            FinalState::Delivered => (1, 0),
            FinalState::Undeliverable => (2, 0),
            FinalState::Expired => (3, 0),
            FinalState::Rejected => (4, 0),
            FinalState::Deleted => (5, 0),
            FinalState::Unknown => (6, 0),
            FinalState::Failed { status } => (7, status.0),
        }
    }

    fn from_code(code: u8, status: u32) -> Result<FinalState, RecordError> {
        Ok(match code {
            1 => FinalState::Delivered,
            2 => FinalState::Undeliverable,
            3 => FinalState::Expired,
            4 => FinalState::Rejected,
            5 => FinalState::Deleted,
            6 => FinalState::Unknown,
            7 => FinalState::Failed {
                status: CommandStatus(status),
            },
            other => {
                return Err(RecordError::InvalidValue {
                    field: "state",
                    value: u64::from(other),
                });
            }
        })
    }
}

/// What a Final record closes: one part of a split message, or the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinalScope {
    /// One part reached its final state; the message is still open.
    Part(u8),
    /// The message reached its final state.
    Message,
}

/// A part was accepted upstream under this ID2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Submitted {
    /// The message.
    pub id: MessageId,
    /// The part (0 for a message sent whole).
    pub part: u8,
    /// The connector that took it: with the ID2, the DLR key.
    pub connector: ConnectorId,
    /// The upstream's id.
    pub id2: Id2,
}

/// A part or the message reached its final state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Final {
    /// The message.
    pub id: MessageId,
    /// A part or the whole message.
    pub scope: FinalScope,
    /// The state.
    pub state: FinalState,
    /// The receipt's error code (`err:`, or the network_error_code), 0 if none.
    pub error: u32,
    /// When (Unix ms); the receipt's `done date`.
    pub at_ms: u64,
}

/// A final client receipt is owed to this user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptPending {
    /// The message.
    pub id: MessageId,
    /// The client it goes to.
    pub user: UserId,
}

/// Every record of a message's life but the Accepted one: small, fixed-size, `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Progress {
    /// A part was accepted upstream.
    Submitted(Submitted),
    /// A part or the message reached its final state.
    Final(Final),
    /// A final client receipt is owed.
    ReceiptPending(ReceiptPending),
    /// The client acknowledged its final receipt: the message is closed.
    ReceiptAcknowledged {
        /// The message.
        id: MessageId,
    },
    /// The message is closed with nothing owed to anyone.
    Done {
        /// The message.
        id: MessageId,
    },
}

const SCOPE_MESSAGE: u8 = 0;
const SCOPE_PART: u8 = 1;

impl Progress {
    /// The message it is about.
    pub fn id(&self) -> MessageId {
        match self {
            Progress::Submitted(record) => record.id,
            Progress::Final(record) => record.id,
            Progress::ReceiptPending(record) => record.id,
            Progress::ReceiptAcknowledged { id } | Progress::Done { id } => *id,
        }
    }

    /// The WAL kind byte of this record.
    pub fn kind(&self) -> u8 {
        match self {
            Progress::Submitted(_) => kind::SUBMITTED,
            Progress::Final(_) => kind::FINAL,
            Progress::ReceiptPending(_) => kind::RECEIPT_PENDING,
            Progress::ReceiptAcknowledged { .. } => kind::RECEIPT_ACKNOWLEDGED,
            Progress::Done { .. } => kind::DONE,
        }
    }

    /// True for the records that close a message (ReceiptAcknowledged, Done).
    pub fn closes(&self) -> bool {
        matches!(
            self,
            Progress::ReceiptAcknowledged { .. } | Progress::Done { .. }
        )
    }

    /// Appends the payload (format version 1). Infallible: every field is bounded by its
    /// type.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u8(out, FORMAT_VERSION);
        put_u64(out, self.id().get());
        match self {
            Progress::Submitted(record) => {
                put_u8(out, record.part);
                put_u16(out, record.connector.0);
                put_bytes_u8(out, record.id2.as_bytes());
            }
            Progress::Final(record) => {
                let (scope, part) = match record.scope {
                    FinalScope::Message => (SCOPE_MESSAGE, 0),
                    FinalScope::Part(part) => (SCOPE_PART, part),
                };
                let (state, status) = record.state.code();
                for byte in [scope, part, state] {
                    put_u8(out, byte);
                }
                put_u32(out, status);
                put_u32(out, record.error);
                put_u64(out, record.at_ms);
            }
            Progress::ReceiptPending(record) => put_u32(out, record.user.0),
            Progress::ReceiptAcknowledged { .. } | Progress::Done { .. } => {}
        }
    }

    /// Reads a payload of WAL kind `kind` written by [`Progress::encode`]. Never panics.
    pub fn decode(kind: u8, payload: &[u8]) -> Result<Progress, RecordError> {
        let mut reader = Reader::new(payload);
        let version = reader.u8("version")?;
        if version != FORMAT_VERSION {
            return Err(RecordError::UnsupportedVersion { version });
        }
        let id = MessageId::from_u64(reader.u64("id")?).map_err(RecordError::Id)?;
        let record = match kind {
            kind::SUBMITTED => Progress::Submitted(decode_submitted(id, &mut reader)?),
            kind::FINAL => Progress::Final(decode_final(id, &mut reader)?),
            kind::RECEIPT_PENDING => Progress::ReceiptPending(ReceiptPending {
                id,
                user: UserId(reader.u32("user")?),
            }),
            kind::RECEIPT_ACKNOWLEDGED => Progress::ReceiptAcknowledged { id },
            kind::DONE => Progress::Done { id },
            other => return Err(RecordError::UnknownKind { kind: other }),
        };
        reader.finish()?;
        Ok(record)
    }
}

fn decode_submitted(id: MessageId, reader: &mut Reader<'_>) -> Result<Submitted, RecordError> {
    let part = reader.u8("part")?;
    let connector = ConnectorId(reader.u16("connector")?);
    let id2 =
        Id2::new(reader.bytes_u8("id2", ID2_LEN_MAX)?).map_err(|_| RecordError::InvalidValue {
            field: "id2",
            value: 0,
        })?;
    Ok(Submitted {
        id,
        part,
        connector,
        id2,
    })
}

fn decode_final(id: MessageId, reader: &mut Reader<'_>) -> Result<Final, RecordError> {
    let scope = reader.u8("scope")?;
    let part = reader.u8("part")?;
    let state = reader.u8("state")?;
    let status = reader.u32("status")?;
    let scope = match scope {
        SCOPE_MESSAGE => FinalScope::Message,
        SCOPE_PART => FinalScope::Part(part),
        other => {
            return Err(RecordError::InvalidValue {
                field: "scope",
                value: u64::from(other),
            });
        }
    };
    Ok(Final {
        id,
        scope,
        state: FinalState::from_code(state, status)?,
        error: reader.u32("error")?,
        at_ms: reader.u64("at_ms")?,
    })
}
