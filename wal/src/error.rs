//! The log's error type.

use std::path::PathBuf;
use std::sync::Arc;

use crate::Lsn;

/// Everything that can go wrong with the log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// An I/O call failed; `context` says which step.
    #[error("{context}: {source}")]
    Io {
        /// The step that failed.
        context: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A write or sync failed earlier; the log accepts nothing until it is reopened.
    #[error(
        "the log stopped after a failed write or sync ({reason}); reopen it to recover from disk"
    )]
    Failed {
        /// What failed.
        reason: Arc<str>,
    },
    /// The in-memory buffer of unsynced records is full (backpressure).
    #[error(
        "unsynced buffer full: {pending_bytes} + {record_bytes} bytes exceed {max_pending_bytes}"
    )]
    Full {
        /// Bytes already waiting for the syncer.
        pending_bytes: usize,
        /// Bytes the refused record needs.
        record_bytes: usize,
        /// The configured bound.
        max_pending_bytes: usize,
    },
    /// The payload is larger than `max_record_bytes`.
    #[error("payload of {payload_bytes} bytes exceeds the maximum of {max_record_bytes}")]
    RecordTooLarge {
        /// Payload size offered.
        payload_bytes: usize,
        /// The configured maximum.
        max_record_bytes: usize,
    },
    /// Kinds 0xF0..=0xFF belong to the log itself.
    #[error("record kind {kind:#04x} is reserved for the log")]
    ReservedKind {
        /// The refused kind.
        kind: u8,
    },
    /// The LSN names no live record (never appended, already done, or reclaimed).
    #[error("{lsn} is not a live record")]
    NotLive {
        /// The LSN given.
        lsn: Lsn,
    },
    /// The LSN was never appended, so it can never become durable.
    #[error("{lsn} was never appended")]
    NotAppended {
        /// The LSN given.
        lsn: Lsn,
    },
    /// The segment is the one being written; only sealed segments can be compacted.
    #[error("segment {segment_id} is still being written")]
    NotSealed {
        /// The segment named.
        segment_id: u64,
    },
    /// Damage that is not a torn tail: records after it prove the damaged bytes were synced.
    #[error("corruption in {file} (segment {segment_id}) at offset {offset}: {reason}")]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// The segment id from the file's header (0 when the header itself is damaged).
        segment_id: u64,
        /// Byte offset of the damage in the file.
        offset: u64,
        /// What was found.
        reason: String,
    },
    /// The configuration is inconsistent.
    #[error("invalid WAL configuration: {0}")]
    Config(&'static str),
    /// Another process holds the data directory.
    #[error("data directory {0} is locked by another process")]
    Locked(PathBuf),
    /// The log was closed.
    #[error("the log is closed")]
    Closed,
}

impl WalError {
    /// Wraps an I/O error with the step that failed.
    pub(crate) fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> WalError {
        move |source| WalError::Io { context, source }
    }
}
