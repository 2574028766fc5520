//! Reading one durable record back by its LSN: the sparse offset index and [`WalReader`].
//!
//! The engine keeps a message that waits for its receipt as a small slot holding the LSN
//! of its record, not the record; when the receipt comes it reads the record back here.
//!
//! **Index.** Per segment in use, a sorted list of points `(LSN, file offset)`: one at the
//! segment's first record, then one at the first record that starts at least
//! [`READ_POINT_STRIDE_BYTES`] past the previous point. A segment of `segment_bytes`
//! therefore has at most `segment_bytes / 4096` points of 16 bytes, `segment_bytes / 256`
//! bytes of memory (256 KiB for a 64 MiB segment), reserved once when the segment opens.
//! The syncer places the points as it writes each batch (it walks the batch's record
//! headers, already in its cache, on its own thread; the owner's append path does not
//! change) and publishes them under one lock per batch, before it publishes the durable
//! LSN, so every durable LSN is covered. Recovery rebuilds the points of every segment it
//! scans at open.
//!
//! **Read.** Under the index lock: find the segment, binary-search the point at or below
//! the LSN, copy out the segment's `Arc<File>` and the span up to the next point (or the
//! segment's written end). Then, without the lock, one `pread` of that span (at most
//! 4 KiB plus one record) into the caller's buffer, and a walk of the frames in it: every
//! frame's CRC is checked and the LSNs must follow each other from the point's LSN up to
//! the one asked for. The payload is moved to the front of the buffer; nothing is
//! allocated besides growing that buffer.
//!
//! **Reclaim.** The maintenance thread removes a segment from the index before it turns it
//! into a spare. A read that copied the file handle just before may meet the file's next
//! life (other LSNs, or bytes being rewritten): bytes that fail the checks in a segment no
//! longer indexed mean "gone" (`None`); in a segment still indexed, they are corruption.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::frame::{
    self, FIRST_RESERVED_KIND, FLAG_RELOCATED, FrameError, RECORD_HEADER_BYTES,
    RELOCATION_PREFIX_BYTES,
};
use crate::group_commit::{Shared, lock};
use crate::segment::SEGMENT_HEADER_BYTES;
use crate::{Lsn, WalError};

/// A point is placed at the first record at least this many bytes past the previous one.
pub const READ_POINT_STRIDE_BYTES: u64 = 4096;

/// One entry of the sparse index: a record's LSN and where it starts in its segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Point {
    pub lsn: u64,
    pub offset: u64,
}

/// The most points a segment of `segment_bytes` can get (records start after the header).
pub(crate) fn max_points(segment_bytes: u64) -> usize {
    (segment_bytes.saturating_sub(SEGMENT_HEADER_BYTES) / READ_POINT_STRIDE_BYTES + 1) as usize
}

/// Decides, record by record in offset order, where the points of one segment go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PointPlacer {
    next_offset: u64,
}

impl PointPlacer {
    /// For a segment with no point yet: its first record gets one.
    pub fn new() -> Self {
        PointPlacer { next_offset: 0 }
    }

    /// For a segment whose last point is `last` (recovered, and written on).
    pub fn after(last: Option<Point>) -> Self {
        match last {
            Some(point) => PointPlacer {
                next_offset: point.offset.saturating_add(READ_POINT_STRIDE_BYTES),
            },
            None => PointPlacer::new(),
        }
    }

    /// The point for the record at `offset`, if it gets one.
    pub fn offer(&mut self, lsn: u64, offset: u64) -> Option<Point> {
        if offset < self.next_offset {
            return None;
        }
        self.next_offset = offset.saturating_add(READ_POINT_STRIDE_BYTES);
        Some(Point { lsn, offset })
    }
}

/// Places the points of a run of framed records written at `file_offset`; returns the LSN
/// after its last record. The bytes are the syncer's own batch, framed by `append`.
pub(crate) fn place_points(
    bytes: &[u8],
    file_offset: u64,
    placer: &mut PointPlacer,
    out: &mut Vec<Point>,
) -> Option<u64> {
    let mut position = 0usize;
    let mut end_lsn = None;
    while let Some((lsn, padded_bytes)) = bytes.get(position..).and_then(frame::peek_frame) {
        if let Some(point) = placer.offer(lsn, file_offset + position as u64) {
            out.push(point);
        }
        end_lsn = Some(lsn + 1);
        position += padded_bytes;
    }
    end_lsn
}

/// One segment as the index knows it.
#[derive(Debug)]
pub(crate) struct IndexedSegment {
    pub segment_id: u64,
    pub path: PathBuf,
    /// Shared with readers; `pread` needs no lock and no `open()` per read.
    pub file: Arc<File>,
    pub first_lsn: u64,
    /// The LSN after the last record written (durable once the syncer publishes it).
    pub end_lsn: u64,
    /// The offset after the last record written.
    pub end_offset: u64,
    pub points: Vec<Point>,
}

/// What the syncer learnt about one segment while writing a batch.
#[derive(Debug, Clone)]
pub(crate) struct SegmentUpdate {
    pub segment_id: u64,
    /// The range of the batch's new points that belong to this segment.
    pub points: std::ops::Range<usize>,
    pub end_lsn: u64,
    pub end_offset: u64,
}

#[derive(Debug, Default)]
struct IndexState {
    /// In LSN order (segments are opened in LSN order).
    segments: VecDeque<IndexedSegment>,
    closed: bool,
}

/// The sparse offset index of every segment in use, shared by the syncer, the maintenance
/// thread and the readers.
#[derive(Debug, Default)]
pub(crate) struct ReadIndex {
    state: Mutex<IndexState>,
}

/// Where to look for one LSN, copied out of the index.
#[derive(Debug)]
struct Span {
    segment_id: u64,
    file: Arc<File>,
    first_lsn: u64,
    start_offset: u64,
    end_offset: u64,
}

impl ReadIndex {
    /// An index over the segments recovery found, in LSN order.
    pub fn new(segments: Vec<IndexedSegment>) -> Self {
        ReadIndex {
            state: Mutex::new(IndexState {
                segments: segments.into(),
                closed: false,
            }),
        }
    }

    /// Adds a segment the syncer just opened (no records yet).
    pub fn register(&self, segment: IndexedSegment) {
        lock(&self.state).segments.push_back(segment);
    }

    /// Publishes the points and ends of one batch: called once per batch by the syncer,
    /// after the batch is written and before its LSNs are published durable.
    pub fn apply(&self, updates: &[SegmentUpdate], points: &[Point]) {
        let mut state = lock(&self.state);
        for update in updates {
            // The batch writes the newest segments: search from the back.
            let Some(segment) = state
                .segments
                .iter_mut()
                .rev()
                .find(|segment| segment.segment_id == update.segment_id)
            else {
                continue;
            };
            segment
                .points
                .extend_from_slice(points.get(update.points.clone()).unwrap_or_default());
            segment.end_lsn = segment.end_lsn.max(update.end_lsn);
            segment.end_offset = segment.end_offset.max(update.end_offset);
        }
    }

    /// Forgets a segment before it is reclaimed: reads of its LSNs return `None` from now.
    pub fn remove(&self, segment_id: u64) {
        let mut state = lock(&self.state);
        if let Some(at) = state
            .segments
            .iter()
            .position(|segment| segment.segment_id == segment_id)
        {
            state.segments.remove(at);
        }
    }

    /// The log closed: its files may be reused by the next open, so reads stop.
    pub fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        state.segments.clear();
    }

    /// Points held across segments.
    fn point_count(&self) -> usize {
        let state = lock(&self.state);
        state
            .segments
            .iter()
            .map(|segment| segment.points.len())
            .sum()
    }

    /// The span holding `lsn`, if an indexed segment holds it. Held for two binary searches
    /// and an `Arc` clone; never across I/O.
    fn locate(&self, lsn: u64) -> Result<Option<Span>, WalError> {
        let state = lock(&self.state);
        if state.closed {
            return Err(WalError::Closed);
        }
        let Some(segment) = state
            .segments
            .partition_point(|segment| segment.first_lsn <= lsn)
            .checked_sub(1)
            .and_then(|index| state.segments.get(index))
            .filter(|segment| lsn < segment.end_lsn)
        else {
            return Ok(None);
        };
        let Some(at) = segment
            .points
            .partition_point(|point| point.lsn <= lsn)
            .checked_sub(1)
        else {
            return Ok(None);
        };
        let (Some(point), next) = (segment.points.get(at), segment.points.get(at + 1)) else {
            return Ok(None);
        };
        Ok(Some(Span {
            segment_id: segment.segment_id,
            file: Arc::clone(&segment.file),
            first_lsn: point.lsn,
            start_offset: point.offset,
            end_offset: next.map_or(segment.end_offset, |next| next.offset),
        }))
    }

    /// The path of `segment_id` if the index still holds it with this very file.
    fn still_indexed(&self, segment_id: u64, file: &Arc<File>) -> Option<PathBuf> {
        let state = lock(&self.state);
        state
            .segments
            .iter()
            .find(|segment| segment.segment_id == segment_id && Arc::ptr_eq(&segment.file, file))
            .map(|segment| segment.path.clone())
    }
}

/// Why the bytes of a span do not hold the record asked for.
#[derive(Debug)]
enum Damage {
    Io(std::io::Error),
    Frame {
        offset: u64,
        error: FrameError,
    },
    Sequence {
        offset: u64,
        expected: u64,
        found: u64,
    },
}

/// Reads durable records back by LSN, from any thread.
///
/// Got from [`Wal::reader`](crate::Wal::reader); cheap to clone, `Send + Sync`, and holds
/// no borrow of the [`Wal`](crate::Wal). See [`WalReader::read`]. It keeps the log's shared
/// state (among it the unsynced batch buffer, `max_pending_bytes`) alive until dropped.
#[derive(Debug, Clone)]
pub struct WalReader {
    shared: Arc<Shared>,
}

impl WalReader {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        WalReader { shared }
    }

    /// Reads the engine record at `lsn` into `buf` (cleared first) and returns its kind.
    ///
    /// `Ok(None)` when `lsn` is not durable yet, lies in no segment still on disk (below
    /// the log's start, reclaimed, never written), or names one of the log's own records
    /// (tombstones, checkpoints). A record marked done stays readable until its segment is
    /// reclaimed. A relocated copy reads at its new LSN, without the relocation prefix;
    /// its old LSN keeps returning the original bytes until the old segment is reclaimed,
    /// then `None`.
    ///
    /// Every byte is checked (frame CRC, and the LSNs from the index point up to `lsn`).
    /// Damage where a durable record should be is [`WalError::Corruption`] naming the
    /// segment and offset; [`WalError::Io`] when `pread` fails; [`WalError::Closed`] once
    /// the log is closed. Allocates nothing besides growing `buf`.
    pub fn read(&self, lsn: Lsn, buf: &mut Vec<u8>) -> Result<Option<u8>, WalError> {
        buf.clear();
        if lsn.0 >= self.shared.durable_end() {
            return Ok(None);
        }
        let Some(span) = self.shared.read_index.locate(lsn.0)? else {
            return Ok(None);
        };
        let max_payload_bytes = self.shared.config.max_record_bytes + RELOCATION_PREFIX_BYTES;
        match read_span(&span, lsn.0, max_payload_bytes, buf) {
            Ok(kind) => Ok(kind),
            Err(damage) => {
                buf.clear();
                let index = &self.shared.read_index;
                match index.still_indexed(span.segment_id, &span.file) {
                    // Reclaimed while we read: the file went on to another life.
                    None => Ok(None),
                    Some(path) => Err(damage_error(damage, path, span.segment_id)),
                }
            }
        }
    }

    /// Points the sparse index holds across all segments in use (16 bytes each; at most
    /// `segment_bytes / 4096` per segment).
    pub fn index_points(&self) -> usize {
        self.shared.read_index.point_count()
    }
}

/// Reads the span and finds `lsn` in it; the payload ends up at the front of `buf`.
fn read_span(
    span: &Span,
    lsn: u64,
    max_payload_bytes: usize,
    buf: &mut Vec<u8>,
) -> Result<Option<u8>, Damage> {
    let span_bytes = span.end_offset.saturating_sub(span.start_offset) as usize;
    buf.resize(span_bytes, 0);
    span.file
        .read_exact_at(buf, span.start_offset)
        .map_err(Damage::Io)?;
    let mut position = 0usize;
    let mut expected = span.first_lsn;
    let offset = |position: usize| span.start_offset + position as u64;
    let (kind, flags, payload_bytes) = loop {
        let rest = buf.get(position..).unwrap_or_default();
        let view =
            frame::decode_record(rest, max_payload_bytes).map_err(|error| Damage::Frame {
                offset: offset(position),
                error,
            })?;
        if view.lsn != expected {
            return Err(Damage::Sequence {
                offset: offset(position),
                expected,
                found: view.lsn,
            });
        }
        if view.lsn == lsn {
            break (view.kind, view.flags, view.payload.len());
        }
        position += view.padded_bytes;
        expected += 1;
    };
    if kind >= FIRST_RESERVED_KIND {
        buf.clear();
        return Ok(None);
    }
    let prefix_bytes = if flags & FLAG_RELOCATED != 0 {
        RELOCATION_PREFIX_BYTES
    } else {
        0
    };
    let body_start = position + RECORD_HEADER_BYTES + prefix_bytes;
    let body_end = position + RECORD_HEADER_BYTES + payload_bytes;
    buf.copy_within(body_start..body_end, 0);
    buf.truncate(body_end - body_start);
    Ok(Some(kind))
}

fn damage_error(damage: Damage, file: PathBuf, segment_id: u64) -> WalError {
    let (offset, reason) = match damage {
        Damage::Io(source) => {
            return WalError::Io {
                context: "read record",
                source,
            };
        }
        Damage::Frame { offset, error } => (offset, format!("invalid record on read: {error}")),
        Damage::Sequence {
            offset,
            expected,
            found,
        } => (
            offset,
            format!("LSN {found} where {expected} was due, on read"),
        ),
    };
    WalError::Corruption {
        file,
        segment_id,
        offset,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::encode_record;

    #[test]
    fn points_are_at_least_a_stride_apart_and_the_first_record_gets_one() {
        let mut bytes = Vec::new();
        for lsn in 10..200u64 {
            encode_record(&mut bytes, 1, 0, lsn, &[7u8; 300]);
        }
        let mut placer = PointPlacer::new();
        let mut points = Vec::new();
        let end = place_points(&bytes, SEGMENT_HEADER_BYTES, &mut placer, &mut points);
        assert_eq!(end, Some(200));
        assert_eq!(
            points.first(),
            Some(&Point {
                lsn: 10,
                offset: SEGMENT_HEADER_BYTES
            })
        );
        for pair in points.windows(2) {
            assert!(pair[1].offset >= pair[0].offset + READ_POINT_STRIDE_BYTES);
            // The next record would have been past the stride: spans stay near 4 KiB.
            assert!(pair[1].offset < pair[0].offset + READ_POINT_STRIDE_BYTES + 324);
        }
        let segment_bytes = SEGMENT_HEADER_BYTES + bytes.len() as u64;
        assert!(points.len() <= max_points(segment_bytes));
    }

    #[test]
    fn a_placer_resumed_after_a_point_keeps_the_stride() {
        let mut placer = PointPlacer::after(Some(Point {
            lsn: 5,
            offset: 8192,
        }));
        assert_eq!(placer.offer(6, 8192 + 4088), None);
        assert_eq!(
            placer.offer(7, 8192 + 4096),
            Some(Point {
                lsn: 7,
                offset: 12288
            })
        );
    }
}
