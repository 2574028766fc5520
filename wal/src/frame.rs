//! Record framing: the 24-byte header every record carries on disk.
//!
//! ```text
//! 0..4   payload_bytes  u32 LE
//! 4      kind           u8   (engine kinds 1..=0xEF; 0xF0..=0xFF belong to the log)
//! 5      version        u8   (frame format version, FRAME_VERSION)
//! 6..8   flags          u16 LE (FLAG_BATCH_START, FLAG_RELOCATED; others must be zero)
//! 8..16  lsn            u64 LE
//! 16..20 crc32c         u32 LE over bytes 0..16 followed by the payload
//! 20..24 length_check   u32 LE = !payload_bytes (cheap plausibility check)
//! payload, then zero padding up to a multiple of 8 bytes
//! ```
//!
//! A header of 24 zero bytes is not a record: it marks the end of the written data.
//!
//! A record with `FLAG_RELOCATED` is a copy made by compaction: its payload starts with the
//! 8-byte LE LSN of the record it replaces, and it is that LSN's tombstone too, so a copy and
//! the death of its original reach the disk in one record, never one without the other.

/// Bytes of the fixed record header.
pub const RECORD_HEADER_BYTES: usize = 24;
/// Every record starts at a multiple of this many bytes.
pub const RECORD_ALIGN_BYTES: usize = 8;
/// The frame format version this code writes and reads.
pub const FRAME_VERSION: u8 = 1;
/// Flag: this record is the first one of a group commit batch in its segment.
pub const FLAG_BATCH_START: u16 = 1;
/// Flag: the payload starts with the LSN of the record this copy replaces.
pub const FLAG_RELOCATED: u16 = 2;
/// Bytes of the LSN prefix of a relocated record.
pub const RELOCATION_PREFIX_BYTES: usize = 8;
const KNOWN_FLAGS: u16 = FLAG_BATCH_START | FLAG_RELOCATED;
/// The first record kind reserved for the log's own records.
pub const FIRST_RESERVED_KIND: u8 = 0xF0;
/// Kind of a record listing LSNs the owner marked done (tombstones).
pub const KIND_DONE: u8 = 0xFE;
/// Kind of one part of a checkpoint of the live set.
pub const KIND_CHECKPOINT: u8 = 0xFD;

/// Why bytes do not decode as a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes remain than the header or the payload it announces.
    #[error("record truncated")]
    Truncated,
    /// The length check field disagrees with the length field.
    #[error("length fields disagree")]
    LengthMismatch,
    /// The payload is longer than the configured maximum.
    #[error("payload longer than the maximum")]
    TooLarge,
    /// The frame version is not one this code reads.
    #[error("unknown frame version {0}")]
    UnknownVersion(u8),
    /// Flag bits this code does not know are set.
    #[error("unknown flags {0:#06x}")]
    UnknownFlags(u16),
    /// A relocated record too short to hold the LSN it replaces.
    #[error("relocated record without its original LSN")]
    ShortRelocation,
    /// The checksum does not match the header and payload.
    #[error("checksum mismatch")]
    CrcMismatch,
}

/// A record decoded in place, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// The record's log sequence number.
    pub lsn: u64,
    /// The record kind.
    pub kind: u8,
    /// The frame version it was written with.
    pub version: u8,
    /// Frame flags.
    pub flags: u16,
    /// The payload bytes.
    pub payload: &'a [u8],
    /// Bytes the record occupies on disk, header and padding included.
    pub padded_bytes: usize,
}

impl<'a> RecordView<'a> {
    /// The LSN this record replaces, when it is a relocated copy.
    pub fn relocated_from(&self) -> Option<u64> {
        if self.flags & FLAG_RELOCATED == 0 {
            return None;
        }
        self.payload
            .get(..RELOCATION_PREFIX_BYTES)
            .map(|prefix| read_u64(prefix, 0))
    }

    /// The engine's payload: without the relocation prefix of a relocated copy.
    pub fn body(&self) -> &'a [u8] {
        if self.flags & FLAG_RELOCATED == 0 {
            return self.payload;
        }
        self.payload
            .get(RELOCATION_PREFIX_BYTES..)
            .unwrap_or_default()
    }
}

/// What the bytes at a record position hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A valid record.
    Record(RecordView<'a>),
    /// A zero header: no record was written here.
    Zero,
    /// Bytes that are neither a record nor a zero header.
    Invalid(FrameError),
}

/// Bytes a record with `payload_bytes` of payload occupies, padding included.
pub const fn padded_record_bytes(payload_bytes: usize) -> usize {
    (RECORD_HEADER_BYTES + payload_bytes).next_multiple_of(RECORD_ALIGN_BYTES)
}

/// Appends one framed record to `out`; the caller has checked `payload.len()` fits in u32.
pub fn encode_record(out: &mut Vec<u8>, kind: u8, flags: u16, lsn: u64, payload: &[u8]) {
    encode_record_with_prefix(out, kind, flags, lsn, &[], payload);
}

/// Appends one framed record whose payload is `prefix` followed by `payload`.
pub(crate) fn encode_record_with_prefix(
    out: &mut Vec<u8>,
    kind: u8,
    flags: u16,
    lsn: u64,
    prefix: &[u8],
    payload: &[u8],
) {
    let payload_bytes = (prefix.len() + payload.len()) as u32;
    let mut header = [0u8; RECORD_HEADER_BYTES];
    header[0..4].copy_from_slice(&payload_bytes.to_le_bytes());
    header[4] = kind;
    header[5] = FRAME_VERSION;
    header[6..8].copy_from_slice(&flags.to_le_bytes());
    header[8..16].copy_from_slice(&lsn.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[0..16]), prefix);
    let crc = crc32c::crc32c_append(crc, payload);
    header[16..20].copy_from_slice(&crc.to_le_bytes());
    header[20..24].copy_from_slice(&(!payload_bytes).to_le_bytes());
    let start = out.len();
    out.extend_from_slice(&header);
    out.extend_from_slice(prefix);
    out.extend_from_slice(payload);
    out.resize(start + padded_record_bytes(payload_bytes as usize), 0);
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The header fields of a record, checked for plausibility but not yet for its checksum.
#[derive(Debug, Clone, Copy)]
struct Header {
    payload_bytes: usize,
    kind: u8,
    version: u8,
    flags: u16,
    lsn: u64,
    crc: u32,
}

fn decode_header(bytes: &[u8], max_payload_bytes: usize) -> Result<Header, FrameError> {
    let Some(header) = bytes.get(..RECORD_HEADER_BYTES) else {
        return Err(FrameError::Truncated);
    };
    let payload_bytes = read_u32(header, 0);
    if read_u32(header, 20) != !payload_bytes {
        return Err(FrameError::LengthMismatch);
    }
    let payload_bytes = payload_bytes as usize;
    if payload_bytes > max_payload_bytes {
        return Err(FrameError::TooLarge);
    }
    let version = header[5];
    if version != FRAME_VERSION {
        return Err(FrameError::UnknownVersion(version));
    }
    let flags = u16::from_le_bytes([header[6], header[7]]);
    if flags & !KNOWN_FLAGS != 0 {
        return Err(FrameError::UnknownFlags(flags));
    }
    if flags & FLAG_RELOCATED != 0 && payload_bytes < RELOCATION_PREFIX_BYTES {
        return Err(FrameError::ShortRelocation);
    }
    Ok(Header {
        payload_bytes,
        kind: header[4],
        version,
        flags,
        lsn: read_u64(header, 8),
        crc: read_u32(header, 16),
    })
}

/// Decodes the record at the start of `bytes`, checking every field and the checksum.
pub fn decode_record(bytes: &[u8], max_payload_bytes: usize) -> Result<RecordView<'_>, FrameError> {
    let header = decode_header(bytes, max_payload_bytes)?;
    let padded_bytes = padded_record_bytes(header.payload_bytes);
    if bytes.len() < padded_bytes {
        return Err(FrameError::Truncated);
    }
    let payload = &bytes[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + header.payload_bytes];
    let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[0..16]), payload);
    if crc != header.crc {
        return Err(FrameError::CrcMismatch);
    }
    Ok(RecordView {
        lsn: header.lsn,
        kind: header.kind,
        version: header.version,
        flags: header.flags,
        payload,
        padded_bytes,
    })
}

/// Decodes the record at the start of `bytes`, telling a zero header from garbage.
pub fn decode_at(bytes: &[u8], max_payload_bytes: usize) -> Decoded<'_> {
    if let Some(header) = bytes.get(..RECORD_HEADER_BYTES)
        && header.iter().all(|&byte| byte == 0)
    {
        return Decoded::Zero;
    }
    match decode_record(bytes, max_payload_bytes) {
        Ok(view) => Decoded::Record(view),
        Err(error) => Decoded::Invalid(error),
    }
}

/// Reads the LSN a header claims without checking anything else (for cheap look-ahead filters).
pub(crate) fn peek_lsn(bytes: &[u8]) -> Option<u64> {
    bytes.get(8..16).map(|word| read_u64(word, 0))
}

/// Reads the LSN and on-disk size a header claims, checking only that its length fields
/// agree (for walking records the log framed itself; `None` at a zero or short header).
pub(crate) fn peek_frame(bytes: &[u8]) -> Option<(u64, usize)> {
    let header = bytes.get(..RECORD_HEADER_BYTES)?;
    let payload_bytes = read_u32(header, 0);
    if read_u32(header, 20) != !payload_bytes {
        return None;
    }
    Some((
        read_u64(header, 8),
        padded_record_bytes(payload_bytes as usize),
    ))
}

/// Decodes a record whose checksum was already verified during recovery, without re-checking it.
pub(crate) fn decode_trusted(bytes: &[u8]) -> Option<RecordView<'_>> {
    let header = decode_header(bytes, u32::MAX as usize).ok()?;
    let padded_bytes = padded_record_bytes(header.payload_bytes);
    let payload = bytes.get(RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + header.payload_bytes)?;
    Some(RecordView {
        lsn: header.lsn,
        kind: header.kind,
        version: header.version,
        flags: header.flags,
        payload,
        padded_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_record_decodes_to_the_same_fields() {
        let mut out = Vec::new();
        encode_record(&mut out, 7, FLAG_BATCH_START, 42, b"hello");
        assert_eq!(out.len(), 32);
        let view = decode_record(&out, 1024).expect("valid record");
        assert_eq!(
            (view.lsn, view.kind, view.flags, view.payload),
            (42, 7, FLAG_BATCH_START, &b"hello"[..])
        );
    }

    #[test]
    fn flipped_payload_bit_fails_the_checksum() {
        let mut out = Vec::new();
        encode_record(&mut out, 7, 0, 42, b"hello");
        out[RECORD_HEADER_BYTES] ^= 1;
        assert_eq!(decode_record(&out, 1024), Err(FrameError::CrcMismatch));
    }

    #[test]
    fn relocated_record_carries_the_lsn_it_replaces_apart_from_the_payload() {
        let mut out = Vec::new();
        encode_record_with_prefix(
            &mut out,
            3,
            FLAG_RELOCATED,
            90,
            &17u64.to_le_bytes(),
            b"body",
        );
        let view = decode_record(&out, 1024).expect("valid record");
        assert_eq!(
            (view.relocated_from(), view.body()),
            (Some(17), &b"body"[..])
        );
        let mut short = Vec::new();
        encode_record(&mut short, 3, FLAG_RELOCATED, 91, b"1234567");
        assert_eq!(
            decode_record(&short, 1024),
            Err(FrameError::ShortRelocation)
        );
    }

    #[test]
    fn zero_header_is_end_not_garbage() {
        assert_eq!(decode_at(&[0u8; 64], 1024), Decoded::Zero);
    }
}
