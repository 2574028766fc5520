//! Segment files: the versioned header and the scan of the records behind it.
//!
//! A segment file is preallocated and zero-filled. Its first [`SEGMENT_HEADER_BYTES`] hold
//! a header whose first 64 bytes are meaningful:
//!
//! ```text
//! 0..8   magic "TERNWAL\0"
//! 8..10  format version u16 (SEGMENT_FORMAT_VERSION)
//! 10..12 state u16: 1 = segment in use, 2 = spare (free for reuse)
//! 12..16 header bytes u32 (4096)
//! 16..24 segment id u64 (spare: id of the segment it last held, 0 if none)
//! 24..32 first LSN u64 (spare: every LSN its old records carry is below this floor)
//! 32..40 segment bytes u64 (file size)
//! 40..48 max batch bytes u64 (largest write between two syncs, bounds a torn tail)
//! 48..52 crc32c of bytes 0..48
//! ```
//!
//! Records follow the header back to back, 8-byte aligned. After the last record of every
//! batch the syncer writes a zero header, so a clean end always reads as zeros even in a
//! recycled file that still holds older records further on.

use crate::frame::{
    self, Decoded, FLAG_BATCH_START, FrameError, RECORD_ALIGN_BYTES, RECORD_HEADER_BYTES,
};
use crate::liveness;

/// Bytes reserved for the segment header; records start here.
pub const SEGMENT_HEADER_BYTES: u64 = 4096;
/// Bytes of the header that carry fields (the rest of the header block is zero).
pub const SEGMENT_HEADER_FIELD_BYTES: usize = 64;
/// The segment format version this code writes and reads.
pub const SEGMENT_FORMAT_VERSION: u16 = 1;
const MAGIC: [u8; 8] = *b"TERNWAL\0";
const STATE_SEGMENT: u16 = 1;
const STATE_SPARE: u16 = 2;

/// What a segment file's header says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentState {
    /// A segment in use: records from `first_lsn` on.
    Segment,
    /// A spare file waiting for reuse; its old records all carry LSNs below `first_lsn`.
    Spare,
}

/// The decoded header of a segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Segment or spare.
    pub state: SegmentState,
    /// Segment id (for a spare: the id it last held).
    pub segment_id: u64,
    /// First LSN (for a spare: the floor above every LSN it holds).
    pub first_lsn: u64,
    /// File size in bytes.
    pub segment_bytes: u64,
    /// The largest batch the writer could write between two syncs.
    pub max_batch_bytes: u64,
}

/// Why a header does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The header bytes are all zero: the file was never initialised.
    #[error("header never written")]
    Blank,
    /// The header is damaged or not ours.
    #[error("header damaged or foreign")]
    Damaged,
    /// A future format version.
    #[error("unsupported segment format version {0}")]
    UnsupportedVersion(u16),
}

impl SegmentHeader {
    /// Encodes the header into its 64-byte field block.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_FIELD_BYTES] {
        let mut out = [0u8; SEGMENT_HEADER_FIELD_BYTES];
        let state = match self.state {
            SegmentState::Segment => STATE_SEGMENT,
            SegmentState::Spare => STATE_SPARE,
        };
        out[0..8].copy_from_slice(&MAGIC);
        out[8..10].copy_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
        out[10..12].copy_from_slice(&state.to_le_bytes());
        out[12..16].copy_from_slice(&(SEGMENT_HEADER_BYTES as u32).to_le_bytes());
        out[16..24].copy_from_slice(&self.segment_id.to_le_bytes());
        out[24..32].copy_from_slice(&self.first_lsn.to_le_bytes());
        out[32..40].copy_from_slice(&self.segment_bytes.to_le_bytes());
        out[40..48].copy_from_slice(&self.max_batch_bytes.to_le_bytes());
        let crc = crc32c::crc32c(&out[0..48]);
        out[48..52].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a header from the first bytes of a file.
    pub fn decode(bytes: &[u8]) -> Result<Self, HeaderError> {
        let Some(fields) = bytes.get(..SEGMENT_HEADER_FIELD_BYTES) else {
            return if bytes.iter().all(|&byte| byte == 0) {
                Err(HeaderError::Blank)
            } else {
                Err(HeaderError::Damaged)
            };
        };
        if fields.iter().all(|&byte| byte == 0) {
            return Err(HeaderError::Blank);
        }
        let crc = u32::from_le_bytes(word(fields, 48));
        if fields[0..8] != MAGIC || crc32c::crc32c(&fields[0..48]) != crc {
            return Err(HeaderError::Damaged);
        }
        let version = u16::from_le_bytes([fields[8], fields[9]]);
        if version != SEGMENT_FORMAT_VERSION {
            return Err(HeaderError::UnsupportedVersion(version));
        }
        let state = match u16::from_le_bytes([fields[10], fields[11]]) {
            STATE_SEGMENT => SegmentState::Segment,
            STATE_SPARE => SegmentState::Spare,
            _ => return Err(HeaderError::Damaged),
        };
        let header = SegmentHeader {
            state,
            segment_id: u64::from_le_bytes(word(fields, 16)),
            first_lsn: u64::from_le_bytes(word(fields, 24)),
            segment_bytes: u64::from_le_bytes(word(fields, 32)),
            max_batch_bytes: u64::from_le_bytes(word(fields, 40)),
        };
        let header_bytes = u32::from_le_bytes(word(fields, 12));
        if u64::from(header_bytes) != SEGMENT_HEADER_BYTES
            || header.segment_bytes < SEGMENT_HEADER_BYTES
        {
            return Err(HeaderError::Damaged);
        }
        Ok(header)
    }
}

fn word<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

/// Why the scan of a segment stopped where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// No room for another record header before the end of the segment.
    Capacity,
    /// A zero header: the end of the written data.
    Zero,
    /// A valid record from the file's previous life (LSN below the segment's first).
    Stale {
        /// The old record's LSN.
        lsn: u64,
    },
    /// Bytes that are not a valid record.
    Invalid(FrameError),
    /// A valid record whose LSN is not the next one.
    OutOfSequence {
        /// The LSN expected here.
        expected: u64,
        /// The LSN found.
        found: u64,
    },
}

impl Stop {
    /// True when the stop is damage rather than a clean end.
    pub fn is_damage(self) -> bool {
        matches!(self, Stop::Invalid(_) | Stop::OutOfSequence { .. })
    }
}

/// One record met by the scan, without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedRecord<'a> {
    /// Offset of the record in the segment file.
    pub offset: u64,
    /// The decoded record.
    pub view: frame::RecordView<'a>,
}

/// The outcome of scanning one segment's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentScan {
    /// Offset just past the last valid record.
    pub end_offset: u64,
    /// The LSN the next record would carry.
    pub end_lsn: u64,
    /// Valid records found.
    pub record_count: u64,
    /// Why the scan stopped.
    pub stop: Stop,
}

/// Records of this segment's life found past the stop point (see [`look_past_stop`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LookAhead {
    /// Offset of the first valid record that opens a later batch, if any.
    pub later_batch_start: Option<u64>,
    /// Valid records of this life found past the stop that open no batch.
    pub orphan_records: u64,
}

/// Scans the records of a segment whose bytes (the whole file) are `bytes`.
///
/// Calls `visit` for each valid record in order. Never panics, whatever the bytes.
pub fn scan_records<'a>(
    bytes: &'a [u8],
    first_lsn: u64,
    max_payload_bytes: usize,
    mut visit: impl FnMut(ScannedRecord<'a>),
) -> SegmentScan {
    let mut offset = SEGMENT_HEADER_BYTES as usize;
    let mut expected = first_lsn;
    let mut record_count = 0;
    let stop = loop {
        let Some(rest) = bytes
            .get(offset..)
            .filter(|rest| rest.len() >= RECORD_HEADER_BYTES)
        else {
            break Stop::Capacity;
        };
        let view = match frame::decode_at(rest, max_payload_bytes) {
            Decoded::Zero => break Stop::Zero,
            Decoded::Invalid(error) => break Stop::Invalid(error),
            Decoded::Record(view) => view,
        };
        if view.lsn < first_lsn {
            break Stop::Stale { lsn: view.lsn };
        }
        if view.lsn != expected {
            break Stop::OutOfSequence {
                expected,
                found: view.lsn,
            };
        }
        visit(ScannedRecord {
            offset: offset as u64,
            view,
        });
        offset += view.padded_bytes;
        expected += 1;
        record_count += 1;
    };
    SegmentScan {
        end_offset: offset as u64,
        end_lsn: expected,
        record_count,
        stop,
    }
}

/// Looks past a stop for valid records of this segment's life (LSN at or above `end_lsn`).
///
/// A record among them that opens a batch was written after the batch holding the stop
/// point was synced, so the stop is corruption of synced data, not a torn tail.
pub fn look_past_stop(bytes: &[u8], scan: &SegmentScan, max_payload_bytes: usize) -> LookAhead {
    let mut found = LookAhead::default();
    if scan.stop == Stop::Capacity {
        return found;
    }
    // Bounds the LSN filter: a segment cannot hold more records than header-sized slots.
    let lsn_limit = scan
        .end_lsn
        .saturating_add(bytes.len() as u64 / RECORD_HEADER_BYTES as u64);
    let mut offset = scan.end_offset as usize + RECORD_ALIGN_BYTES;
    while let Some(rest) = bytes
        .get(offset..)
        .filter(|rest| rest.len() >= RECORD_HEADER_BYTES)
    {
        let plausible =
            frame::peek_lsn(rest).is_some_and(|lsn| lsn >= scan.end_lsn && lsn < lsn_limit);
        let step = match plausible.then(|| frame::decode_record(rest, max_payload_bytes)) {
            Some(Ok(view)) => {
                if view.flags & FLAG_BATCH_START != 0 {
                    found.later_batch_start = Some(offset as u64);
                    return found;
                }
                found.orphan_records += 1;
                view.padded_bytes
            }
            _ => RECORD_ALIGN_BYTES,
        };
        offset += step;
    }
    found
}

/// A summary of recovering one segment file from raw bytes (the fuzz target's entry point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSummary {
    /// The header, or why it did not decode.
    pub header: Result<SegmentHeader, HeaderError>,
    /// The record scan, when the header names a segment in use.
    pub scan: Option<SegmentScan>,
    /// What lies past the stop, when the header names a segment in use.
    pub look_ahead: Option<LookAhead>,
    /// Sum of payload bytes of the valid records.
    pub payload_bytes: u64,
    /// LSNs listed by the tombstone and checkpoint records found.
    pub listed_lsns: u64,
    /// Tombstone or checkpoint records whose payload does not decode.
    pub malformed_internal_records: u64,
}

/// Recovers a segment from arbitrary file bytes: header, records, and what lies past the end.
///
/// Pure and total: it never panics and never reads outside `bytes`.
pub fn scan_segment_bytes(bytes: &[u8], max_payload_bytes: usize) -> SegmentSummary {
    let header = SegmentHeader::decode(bytes);
    let mut summary = SegmentSummary {
        header,
        scan: None,
        look_ahead: None,
        payload_bytes: 0,
        listed_lsns: 0,
        malformed_internal_records: 0,
    };
    let Ok(header) = header else {
        return summary;
    };
    if header.state != SegmentState::Segment {
        return summary;
    }
    let (mut payload_bytes, mut listed_lsns, mut malformed) = (0u64, 0u64, 0u64);
    let scan = scan_records(bytes, header.first_lsn, max_payload_bytes, |record| {
        payload_bytes += record.view.payload.len() as u64;
        match internal_record_lsns(record.view.kind, record.view.payload) {
            Ok(count) => listed_lsns += count,
            Err(_) => malformed += 1,
        }
    });
    summary.listed_lsns = listed_lsns;
    summary.malformed_internal_records = malformed;
    summary.look_ahead = Some(look_past_stop(bytes, &scan, max_payload_bytes));
    summary.scan = Some(scan);
    summary.payload_bytes = payload_bytes;
    summary
}

/// Counts the LSNs a tombstone or checkpoint record lists (0 for engine records).
fn internal_record_lsns(kind: u8, payload: &[u8]) -> Result<u64, liveness::MalformedRecord> {
    let mut count = 0u64;
    match kind {
        frame::KIND_DONE => liveness::for_each_done(payload, |_| count += 1)?,
        frame::KIND_CHECKPOINT => {
            liveness::for_each_live(liveness::decode_part(payload)?.entries, |_| count += 1)?
        }
        _ => {}
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::encode_record;

    fn segment_with(records: &[(u64, u16, &[u8])]) -> Vec<u8> {
        let header = SegmentHeader {
            state: SegmentState::Segment,
            segment_id: 1,
            first_lsn: 10,
            segment_bytes: 8192,
            max_batch_bytes: 4096,
        };
        let mut bytes = header.encode().to_vec();
        bytes.resize(SEGMENT_HEADER_BYTES as usize, 0);
        for &(lsn, flags, payload) in records {
            encode_record(&mut bytes, 1, flags, lsn, payload);
        }
        bytes.resize(8192, 0);
        bytes
    }

    #[test]
    fn header_round_trips() {
        let header = SegmentHeader {
            state: SegmentState::Spare,
            segment_id: 9,
            first_lsn: 77,
            segment_bytes: 1 << 20,
            max_batch_bytes: 1 << 16,
        };
        assert_eq!(SegmentHeader::decode(&header.encode()), Ok(header));
    }

    #[test]
    fn scan_stops_at_zero_after_last_record() {
        let bytes = segment_with(&[(10, FLAG_BATCH_START, b"a"), (11, 0, b"bc")]);
        let scan = scan_records(&bytes, 10, 1024, |_| {});
        assert_eq!(
            (scan.record_count, scan.end_lsn, scan.stop),
            (2, 12, Stop::Zero)
        );
    }

    #[test]
    fn later_batch_start_past_damage_is_found() {
        let mut bytes = segment_with(&[
            (10, FLAG_BATCH_START, b"a"),
            (11, 0, b"b"),
            (12, FLAG_BATCH_START, b"c"),
        ]);
        bytes[SEGMENT_HEADER_BYTES as usize + 32 + 24] ^= 0xff;
        let scan = scan_records(&bytes, 10, 1024, |_| {});
        assert_eq!(scan.end_lsn, 11);
        let ahead = look_past_stop(&bytes, &scan, 1024);
        assert_eq!(ahead.later_batch_start, Some(SEGMENT_HEADER_BYTES + 64));
    }
}
