//! Recovery: reading a data directory back into the live set.
//!
//! 1. Every `seg-*.wal` file's header says what it is: a segment in use, a spare, a blank
//!    file (its creation was interrupted) or damage.
//! 2. Segments are scanned in id order. Records must carry consecutive LSNs; the scan
//!    stops at a zero header (clean end), a stale record from the file's previous life,
//!    or damage.
//! 3. A stop is classified. The syncer syncs a segment before it writes the next one's
//!    header, and writes a batch only after the previous one is synced, so:
//!    - a stop in a segment that has a successor must meet the successor's first LSN
//!      exactly, and must not be damage; otherwise synced records are missing: corruption;
//!    - in the last segment, damage followed by a valid record that opens a later batch is
//!      corruption (that batch was written after the damaged one was synced); damage with
//!      nothing behind it, or only orphan records of the same unsynced batch (a power cut
//!      can persist a batch's pages out of order), is a torn tail: it is cut, and the
//!      orphans are zeroed so they can never be mistaken for new records.
//! 4. The latest complete checkpoint and the tombstones after it give the live set.
//!
//! Corruption is a hard error naming file and offset, unless the operator chose
//! [`RecoveryMode::TruncateAtCorruption`](crate::RecoveryMode::TruncateAtCorruption).

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::ops::Deref;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::config::MAX_RECORD_BYTES_LIMIT;
use crate::frame::{self, FIRST_RESERVED_KIND, KIND_CHECKPOINT, KIND_DONE, padded_record_bytes};
use crate::group_commit::Shared;
use crate::liveness::{self, Bitmap, MalformedRecord};
use crate::maintenance::parse_segment_file_name;
use crate::read::{Point, PointPlacer};
use crate::segment::{
    self, HeaderError, LookAhead, SEGMENT_HEADER_BYTES, SegmentHeader, SegmentScan, SegmentState,
    Stop,
};
use crate::{Lsn, WalError};

/// Payload bound used when reading records back: the largest any configuration can write.
pub(crate) const SCAN_MAX_PAYLOAD_BYTES: usize = MAX_RECORD_BYTES_LIMIT;

/// How recovery reads files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Map them (the directory is locked by us).
    Map,
    /// Copy them (inspecting a directory another process may be writing).
    Read,
}

enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(map) => map,
            FileBytes::Read(bytes) => bytes,
        }
    }
}

fn load(file: &File, access: Access) -> std::io::Result<FileBytes> {
    let file_bytes = file.metadata()?.len();
    if access == Access::Read || file_bytes == 0 {
        let mut bytes = Vec::new();
        let mut reader = file;
        reader.read_to_end(&mut bytes)?;
        return Ok(FileBytes::Read(bytes));
    }
    // SAFETY: the data directory is locked against other processes, no thread of ours
    // writes to the log before recovery ends, and the map is dropped before any repair.
    let map = unsafe { memmap2::Mmap::map(file) }?;
    Ok(FileBytes::Mapped(map))
}

/// Corruption found in a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// Segment id from its header (0 when the header itself is damaged).
    pub segment_id: u64,
    /// Byte offset of the damage.
    pub offset: u64,
    /// What was found.
    pub reason: String,
}

impl Problem {
    pub(crate) fn to_error(&self) -> WalError {
        WalError::Corruption {
            file: self.file.clone(),
            segment_id: self.segment_id,
            offset: self.offset,
            reason: self.reason.clone(),
        }
    }
}

/// A torn tail that recovery cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The last segment's file.
    pub file: PathBuf,
    /// Its segment id.
    pub segment_id: u64,
    /// Where the log now ends (bytes from here on were zeroed).
    pub offset: u64,
    /// What was found at that offset.
    pub reason: String,
    /// Valid records of the same unsynced batch found past the tear and dropped.
    pub dropped_records: u64,
}

/// A record met while scanning, for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListedRecord {
    pub offset: u64,
    pub lsn: u64,
    pub kind: u8,
    pub payload_bytes: u32,
    pub batch_start: bool,
}

/// A record that tells recovery what is dead, kept from the scan (their payloads are
/// small): a `DONE` or `CHECKPOINT` record, or a relocated copy, whose kept payload is the
/// 8-byte LSN it replaces (the same encoding as a one-entry `DONE`).
#[derive(Debug, Clone)]
pub(crate) struct MetaRecord {
    pub lsn: u64,
    pub kind: u8,
    pub payload: Vec<u8>,
}

/// One segment as the scan found it.
#[derive(Debug)]
pub(crate) struct ScannedSegment {
    pub path: PathBuf,
    pub header: SegmentHeader,
    pub file_bytes: u64,
    pub scan: SegmentScan,
    pub look_ahead: LookAhead,
    /// Bit per LSN: the record is engine data (not a log-internal record).
    pub data: Bitmap,
    pub meta: Vec<MetaRecord>,
    pub listed: Vec<ListedRecord>,
    /// The read index points of its valid records.
    pub points: Vec<Point>,
}

impl ScannedSegment {
    pub fn segment_id(&self) -> u64 {
        self.header.segment_id
    }

    pub fn last_meta_lsn(&self) -> Option<u64> {
        self.meta.last().map(|meta| meta.lsn)
    }
}

/// A spare file met by the scan.
#[derive(Debug)]
pub(crate) struct SpareEntry {
    pub path: PathBuf,
    pub header: SegmentHeader,
    pub file_bytes: u64,
}

/// Where the first corruption cuts the log under the operator override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut {
    pub segment_index: usize,
    /// Keep the segment's records before the damage (false: drop the whole segment).
    pub keep_segment: bool,
}

/// Everything the scan of a data directory found.
#[derive(Debug, Default)]
pub(crate) struct DirScan {
    pub segments: Vec<ScannedSegment>,
    pub spares: Vec<SpareEntry>,
    pub blanks: Vec<PathBuf>,
    pub damaged: Vec<PathBuf>,
    pub problems: Vec<Problem>,
    pub first_cut: Option<Cut>,
    pub torn_tail: Option<TornTail>,
    pub next_file_no: u64,
}

impl DirScan {
    /// The segment id the next new segment gets: above every id any header names.
    pub fn next_segment_id(&self) -> u64 {
        let used = self.segments.iter().map(|segment| segment.segment_id());
        let retired = self.spares.iter().map(|spare| spare.header.segment_id);
        used.chain(retired).max().unwrap_or(0) + 1
    }

    /// The LSN the next record gets: above every LSN any file can still hold.
    pub fn next_lsn(&self) -> u64 {
        let ends = self.segments.iter().map(|segment| segment.scan.end_lsn);
        let floors = self.spares.iter().map(|spare| spare.header.first_lsn);
        ends.chain(floors).max().unwrap_or(1).max(1)
    }

    fn problem(
        &mut self,
        segment_index: Option<usize>,
        offset: u64,
        reason: String,
        keep_segment: bool,
    ) {
        let (file, segment_id) = match segment_index.and_then(|index| self.segments.get(index)) {
            Some(segment) => (segment.path.clone(), segment.segment_id()),
            None => (PathBuf::new(), 0),
        };
        self.problems.push(Problem {
            file,
            segment_id,
            offset,
            reason,
        });
        if let Some(segment_index) = segment_index
            && self
                .first_cut
                .is_none_or(|cut| segment_index < cut.segment_index)
        {
            self.first_cut = Some(Cut {
                segment_index,
                keep_segment,
            });
        }
    }
}

/// Lists and scans every segment file of `dir` and classifies what it finds. Reads only.
pub(crate) fn scan_dir(
    dir: &Path,
    access: Access,
    list_records: bool,
) -> Result<DirScan, WalError> {
    let mut scan = DirScan {
        next_file_no: 1,
        ..DirScan::default()
    };
    let mut candidates = Vec::new();
    for (file_no, path) in segment_files(dir)? {
        scan.next_file_no = scan.next_file_no.max(file_no + 1);
        let file = File::open(&path).map_err(WalError::io("open segment file"))?;
        let file_bytes = file
            .metadata()
            .map_err(WalError::io("stat segment file"))?
            .len();
        let mut fields = [0u8; segment::SEGMENT_HEADER_FIELD_BYTES];
        let read = file
            .read_at(&mut fields, 0)
            .map_err(WalError::io("read segment header"))?;
        match SegmentHeader::decode(&fields[..read]) {
            Ok(header) if header.state == SegmentState::Segment => {
                candidates.push((path, file, header, file_bytes))
            }
            Ok(header) => scan.spares.push(SpareEntry {
                path,
                header,
                file_bytes,
            }),
            Err(HeaderError::Blank) => scan.blanks.push(path),
            Err(error) => {
                let reason = format!("segment header unreadable: {error}");
                scan.problems.push(Problem {
                    file: path.clone(),
                    segment_id: 0,
                    offset: 0,
                    reason,
                });
                scan.damaged.push(path);
            }
        }
    }
    candidates.sort_by_key(|(_, _, header, _)| header.segment_id);
    let ids: Vec<u64> = candidates
        .iter()
        .map(|(_, _, header, _)| header.segment_id)
        .collect();
    for (index, (path, file, header, file_bytes)) in candidates.into_iter().enumerate() {
        let bytes = load(&file, access).map_err(WalError::io("read segment file"))?;
        let has_successor = ids.get(index + 1) == Some(&(header.segment_id + 1));
        let is_last = index + 1 == ids.len();
        let segment = scan_segment(
            path,
            &bytes,
            header,
            file_bytes,
            is_last || !has_successor,
            list_records,
        );
        scan.segments.push(segment);
    }
    classify(&mut scan);
    Ok(scan)
}

fn segment_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(WalError::io("list data directory"))? {
        let entry = entry.map_err(WalError::io("list data directory"))?;
        let name = entry.file_name();
        if let Some(file_no) = name.to_str().and_then(parse_segment_file_name) {
            files.push((file_no, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

fn scan_segment(
    path: PathBuf,
    bytes: &[u8],
    header: SegmentHeader,
    file_bytes: u64,
    look_ahead: bool,
    list_records: bool,
) -> ScannedSegment {
    let mut data = Bitmap::default();
    let mut meta = Vec::new();
    let mut listed = Vec::new();
    let mut points = Vec::new();
    let mut placer = PointPlacer::new();
    let scan = segment::scan_records(bytes, header.first_lsn, SCAN_MAX_PAYLOAD_BYTES, |record| {
        let view = record.view;
        if let Some(point) = placer.offer(view.lsn, record.offset) {
            points.push(point);
        }
        data.push(view.kind < FIRST_RESERVED_KIND);
        if view.kind == KIND_DONE || view.kind == KIND_CHECKPOINT {
            meta.push(MetaRecord {
                lsn: view.lsn,
                kind: view.kind,
                payload: view.payload.to_vec(),
            });
        } else if let Some(original) = view.relocated_from() {
            meta.push(MetaRecord {
                lsn: view.lsn,
                kind: view.kind,
                payload: original.to_le_bytes().to_vec(),
            });
        }
        if list_records {
            let payload_bytes = view.payload.len() as u32;
            let batch_start = view.flags & frame::FLAG_BATCH_START != 0;
            listed.push(ListedRecord {
                offset: record.offset,
                lsn: view.lsn,
                kind: view.kind,
                payload_bytes,
                batch_start,
            });
        }
    });
    let look_ahead = if look_ahead {
        segment::look_past_stop(bytes, &scan, SCAN_MAX_PAYLOAD_BYTES)
    } else {
        LookAhead::default()
    };
    ScannedSegment {
        path,
        header,
        file_bytes,
        scan,
        look_ahead,
        data,
        meta,
        listed,
        points,
    }
}

/// Describes why a scan stopped, for reports.
pub(crate) fn describe_stop(stop: Stop) -> String {
    match stop {
        Stop::Capacity => "end of segment".into(),
        Stop::Zero => "zero header".into(),
        Stop::Stale { lsn } => format!("record from an earlier life of the file (LSN {lsn})"),
        Stop::Invalid(error) => format!("invalid record: {error}"),
        Stop::OutOfSequence { expected, found } => format!("LSN {found} where {expected} was due"),
    }
}

fn classify(scan: &mut DirScan) {
    let ids: Vec<u64> = scan
        .segments
        .iter()
        .map(ScannedSegment::segment_id)
        .collect();
    for index in 0..scan.segments.len() {
        if index > 0 && ids[index] == ids[index - 1] {
            scan.problem(
                Some(index),
                0,
                format!("second file claims segment {}", ids[index]),
                false,
            );
            continue;
        }
        if index > 0
            && scan.segments[index].header.first_lsn < scan.segments[index - 1].scan.end_lsn
        {
            scan.problem(
                Some(index),
                0,
                "first LSN overlaps the previous segment".into(),
                false,
            );
            continue;
        }
        match scan.segments.get(index + 1) {
            None => classify_last(scan, index),
            Some(next) => {
                let next = (next.segment_id(), next.header.first_lsn);
                classify_sealed(scan, index, next);
            }
        }
    }
}

fn classify_sealed(scan: &mut DirScan, index: usize, (next_id, next_first_lsn): (u64, u64)) {
    let segment = &scan.segments[index];
    let (stop, end_offset, end_lsn) = (
        segment.scan.stop,
        segment.scan.end_offset,
        segment.scan.end_lsn,
    );
    let found_past =
        segment.look_ahead.later_batch_start.is_some() || segment.look_ahead.orphan_records > 0;
    let short = segment.file_bytes < segment.header.segment_bytes && stop == Stop::Capacity;
    let reason = if next_id == segment.segment_id() + 1 && next_first_lsn != end_lsn {
        Some(format!(
            "{}; segment ends at LSN {end_lsn} but segment {next_id} starts at LSN {next_first_lsn}",
            describe_stop(stop)
        ))
    } else if stop.is_damage() || found_past {
        Some(format!("{} in a sealed segment", describe_stop(stop)))
    } else if short {
        Some(format!(
            "file is {} bytes, its header says {}",
            segment.file_bytes, segment.header.segment_bytes
        ))
    } else {
        None
    };
    if let Some(reason) = reason {
        scan.problem(Some(index), end_offset, reason, true);
    }
}

fn classify_last(scan: &mut DirScan, index: usize) {
    let segment = &scan.segments[index];
    let (stop, end_offset) = (segment.scan.stop, segment.scan.end_offset);
    if let Some(later) = segment.look_ahead.later_batch_start {
        let reason = format!(
            "{}; a later batch starts at offset {later}",
            describe_stop(stop)
        );
        scan.problem(Some(index), end_offset, reason, true);
        return;
    }
    let orphans = segment.look_ahead.orphan_records;
    let truncated = segment.file_bytes < segment.header.segment_bytes && stop == Stop::Capacity;
    if stop.is_damage() || orphans > 0 || truncated {
        let reason = if truncated {
            "file truncated".into()
        } else {
            describe_stop(stop)
        };
        scan.torn_tail = Some(TornTail {
            file: segment.path.clone(),
            segment_id: segment.segment_id(),
            offset: end_offset,
            reason,
            dropped_records: orphans,
        });
    }
}

/// The live set rebuilt from the scanned segments.
#[derive(Debug)]
pub(crate) struct Liveness {
    /// Per segment, bit per LSN: live data.
    pub live: Vec<Bitmap>,
    /// First LSN of the latest complete checkpoint.
    pub checkpoint_lsn: Option<u64>,
}

/// A checkpoint found in the log: its first LSN and its parts' entries.
struct Checkpoint<'a> {
    lsn: u64,
    part_count: u32,
    entries: Vec<&'a [u8]>,
}

/// Finds the segment and bit of `lsn`, if a scanned segment holds it.
fn locate(segments: &[ScannedSegment], lsn: u64) -> Option<(usize, usize)> {
    let index = segments
        .partition_point(|segment| segment.header.first_lsn <= lsn)
        .checked_sub(1)?;
    let segment = segments.get(index)?;
    let bit = (lsn - segment.header.first_lsn) as usize;
    (bit < segment.data.len()).then_some((index, bit))
}

fn malformed(segment: &ScannedSegment, meta: &MetaRecord, error: MalformedRecord) -> Problem {
    Problem {
        file: segment.path.clone(),
        segment_id: segment.segment_id(),
        offset: 0,
        reason: format!("{error} at LSN {}", meta.lsn),
    }
}

/// Applies the latest complete checkpoint and the tombstones after it.
pub(crate) fn rebuild_liveness(segments: &[ScannedSegment]) -> Result<Liveness, Problem> {
    let checkpoint = latest_checkpoint(segments)?;
    let mut live: Vec<Bitmap> = segments
        .iter()
        .map(|segment| segment.data.clone())
        .collect();
    if let Some(checkpoint) = &checkpoint {
        apply_checkpoint(segments, checkpoint, &mut live);
    }
    let checkpoint_lsn = checkpoint.map(|checkpoint| checkpoint.lsn);
    for segment in segments {
        for meta in &segment.meta {
            let superseded = checkpoint_lsn.is_some_and(|checkpoint| meta.lsn < checkpoint);
            let is_tombstone = meta.kind == KIND_DONE || meta.kind < FIRST_RESERVED_KIND;
            if !is_tombstone || superseded {
                continue;
            }
            liveness::for_each_done(&meta.payload, |lsn| {
                if let Some((index, bit)) = locate(segments, lsn) {
                    live[index].clear(bit);
                }
            })
            .map_err(|error| malformed(segment, meta, error))?;
        }
    }
    Ok(Liveness {
        live,
        checkpoint_lsn,
    })
}

/// Below the checkpoint's LSN, a data record is live iff the checkpoint lists it.
fn apply_checkpoint(segments: &[ScannedSegment], checkpoint: &Checkpoint<'_>, live: &mut [Bitmap]) {
    for (segment, bits) in segments.iter().zip(live.iter_mut()) {
        bits.clear_below(checkpoint.lsn.saturating_sub(segment.header.first_lsn) as usize);
    }
    for entries in &checkpoint.entries {
        // Entries were decoded once in `latest_checkpoint`; a second pass cannot fail.
        let _ = liveness::for_each_live(entries, |lsn| {
            let found = locate(segments, lsn).filter(|&(index, bit)| segments[index].data.get(bit));
            if let Some((index, bit)) = found {
                live[index].set(bit);
            }
        });
    }
}

/// Finds the latest checkpoint whose parts are all present, with consecutive LSNs.
fn latest_checkpoint(segments: &[ScannedSegment]) -> Result<Option<Checkpoint<'_>>, Problem> {
    let mut complete = None;
    let mut building: Option<Checkpoint<'_>> = None;
    for segment in segments {
        for meta in segment
            .meta
            .iter()
            .filter(|meta| meta.kind == KIND_CHECKPOINT)
        {
            let part = liveness::decode_part(&meta.payload)
                .map_err(|error| malformed(segment, meta, error))?;
            liveness::for_each_live(part.entries, |_| {})
                .map_err(|error| malformed(segment, meta, error))?;
            let continues = building.as_ref().is_some_and(|checkpoint| {
                checkpoint.lsn == part.checkpoint_lsn
                    && checkpoint.part_count == part.part_count
                    && checkpoint.entries.len() == part.part_index as usize
                    && meta.lsn == checkpoint.lsn + u64::from(part.part_index)
            });
            if part.part_index == 0 && meta.lsn == part.checkpoint_lsn {
                building = Some(Checkpoint {
                    lsn: meta.lsn,
                    part_count: part.part_count,
                    entries: vec![part.entries],
                });
            } else if continues && let Some(checkpoint) = building.as_mut() {
                checkpoint.entries.push(part.entries);
            } else {
                building = None;
            }
            if building.as_ref().is_some_and(|checkpoint| {
                checkpoint.entries.len() == checkpoint.part_count as usize
            }) {
                complete = building.take();
            }
        }
    }
    Ok(complete)
}

/// What [`Wal::open`](crate::Wal::open) reports about the recovery.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecoveryReport {
    /// The segments kept, oldest first.
    pub segments: Vec<SegmentReport>,
    /// Spare files found (reused or deleted).
    pub spare_files: usize,
    /// Files whose creation was interrupted (header never written), removed.
    pub removed_blank_files: usize,
    /// The torn tail that was cut, if any.
    pub torn_tail: Option<TornTail>,
    /// Corruption cut under the operator override, if any; every record after it was dropped.
    pub truncated_at_corruption: Option<Problem>,
    /// Segment files dropped whole by the override.
    pub dropped_files: Vec<PathBuf>,
    /// First LSN of the checkpoint recovery started from.
    pub checkpoint_lsn: Option<Lsn>,
    /// The LSN the next append gets.
    pub next_lsn: Lsn,
    /// Live records recovered.
    pub live_records: u64,
}

/// One recovered segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentReport {
    /// Its file.
    pub file: PathBuf,
    /// Its id.
    pub segment_id: u64,
    /// Its first LSN.
    pub first_lsn: Lsn,
    /// The LSN after its last record.
    pub end_lsn: Lsn,
    /// Live data records in it.
    pub live_records: u64,
}

/// A recovered segment's records, mapped read-only.
#[derive(Debug)]
pub(crate) struct RecoveredSegment {
    pub map: Option<memmap2::Mmap>,
    pub first_lsn: u64,
    pub live: Bitmap,
}

/// Maps the records of a recovered segment: the range the log never writes again.
pub(crate) fn map_records(path: &Path, end_offset: u64) -> Result<Option<memmap2::Mmap>, WalError> {
    if end_offset <= SEGMENT_HEADER_BYTES {
        return Ok(None);
    }
    let file = File::open(path).map_err(WalError::io("open segment to map"))?;
    let length = (end_offset - SEGMENT_HEADER_BYTES) as usize;
    // SAFETY: the range holds recovered, durable records. The log only appends past
    // `end_offset`, rewrites headers outside the range, and deletes instead of recycling
    // a reclaimed file while a `Recovery` lives (unlinking keeps the mapped pages); the
    // data directory is locked against other processes.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(SEGMENT_HEADER_BYTES)
            .len(length)
            .map(&file)
    }
    .map_err(WalError::io("map segment records"))?;
    Ok(Some(map))
}

/// The live records found at open, in LSN order, borrowed from read-only maps.
#[derive(Debug)]
pub struct Recovery {
    pub(crate) segments: Vec<RecoveredSegment>,
    pub(crate) report: RecoveryReport,
    pub(crate) pin: Arc<Shared>,
}

impl Recovery {
    /// The live records, in LSN order.
    pub fn records(&self) -> Records<'_> {
        Records {
            segments: &self.segments,
            segment_index: 0,
            offset: 0,
        }
    }

    /// What recovery found and did.
    pub fn report(&self) -> &RecoveryReport {
        &self.report
    }
}

impl Drop for Recovery {
    fn drop(&mut self) {
        self.pin.recovery_pins.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A live record recovered at open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Its LSN.
    pub lsn: Lsn,
    /// Its kind.
    pub kind: u8,
    /// Its payload, borrowed from the mapped segment.
    pub payload: &'a [u8],
}

/// Iterator over the live records of a [`Recovery`].
#[derive(Debug)]
pub struct Records<'a> {
    segments: &'a [RecoveredSegment],
    segment_index: usize,
    offset: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = RecordRef<'a>;

    fn next(&mut self) -> Option<RecordRef<'a>> {
        loop {
            let segment = self.segments.get(self.segment_index)?;
            let bytes: &'a [u8] = segment.map.as_deref().unwrap_or_default();
            let view = bytes.get(self.offset..).and_then(frame::decode_trusted);
            let Some(view) = view else {
                self.segment_index += 1;
                self.offset = 0;
                continue;
            };
            self.offset += view.padded_bytes;
            let bit = view.lsn.wrapping_sub(segment.first_lsn) as usize;
            if segment.live.get(bit) {
                return Some(RecordRef {
                    lsn: Lsn(view.lsn),
                    kind: view.kind,
                    payload: view.body(),
                });
            }
        }
    }
}

/// Zeroes `start..end` of a file in 1 MiB writes.
pub(crate) fn zero_range(file: &File, start: u64, end: u64) -> std::io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let mut offset = start;
    while offset < end {
        let chunk_bytes = (end - offset).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..chunk_bytes], offset)?;
        offset += chunk_bytes as u64;
    }
    Ok(())
}

/// Cuts the last segment's torn tail: restores the file's size and zeroes past the tear as
/// far as one batch could reach, so orphans of the torn batch cannot pass for new records.
pub(crate) fn cut_torn_tail(
    segment: &ScannedSegment,
    max_record_bytes: usize,
) -> Result<(), WalError> {
    let file = OpenOptions::new()
        .write(true)
        .open(&segment.path)
        .map_err(WalError::io("open torn segment"))?;
    if segment.file_bytes < segment.header.segment_bytes {
        file.set_len(segment.header.segment_bytes)
            .map_err(WalError::io("restore segment size"))?;
    }
    let reach = segment
        .header
        .max_batch_bytes
        .saturating_add(padded_record_bytes(max_record_bytes) as u64);
    let end = segment
        .scan
        .end_offset
        .saturating_add(reach)
        .min(segment.header.segment_bytes);
    zero_range(&file, segment.scan.end_offset, end).map_err(WalError::io("zero torn tail"))?;
    file.sync_data().map_err(WalError::io("sync torn segment"))
}

/// Cuts a segment at corruption (operator override): zeroes everything past the cut.
pub(crate) fn cut_at_corruption(segment: &ScannedSegment) -> Result<(), WalError> {
    let file = OpenOptions::new()
        .write(true)
        .open(&segment.path)
        .map_err(WalError::io("open corrupt segment"))?;
    file.set_len(segment.header.segment_bytes)
        .map_err(WalError::io("restore segment size"))?;
    zero_range(&file, segment.scan.end_offset, segment.header.segment_bytes)
        .map_err(WalError::io("zero past corruption"))?;
    file.sync_data().map_err(WalError::io("sync cut segment"))
}
