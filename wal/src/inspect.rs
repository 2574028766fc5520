//! Inspection of a data directory for operators: segments, records, live counts and
//! corruption. Reads only (files are copied, not mapped, since a running log may be
//! writing them); `tern-wal inspect DIR` prints it, and `tern wal inspect` can reuse it.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::WalError;
use crate::frame::{KIND_CHECKPOINT, KIND_DONE};
use crate::recovery::{self, Access, Problem, TornTail};
use crate::segment::SEGMENT_HEADER_BYTES;

/// What to include in an inspection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InspectOptions {
    /// List every record, not only segment summaries.
    pub records: bool,
}

/// One segment file in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The file.
    pub file: PathBuf,
    /// Segment id.
    pub segment_id: u64,
    /// First LSN.
    pub first_lsn: u64,
    /// Last valid LSN, if it holds any record.
    pub last_lsn: Option<u64>,
    /// Size of the file.
    pub file_bytes: u64,
    /// Bytes up to the end of the last valid record.
    pub used_bytes: u64,
    /// Valid records of every kind.
    pub records: u64,
    /// Engine data records.
    pub data_records: u64,
    /// Tombstone (`DONE`) records.
    pub done_records: u64,
    /// Checkpoint parts.
    pub checkpoint_records: u64,
    /// Data records still live (after the latest checkpoint and tombstones).
    pub live_records: u64,
}

/// One record, for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordInfo {
    /// Segment holding it.
    pub segment_id: u64,
    /// Offset in the file.
    pub offset: u64,
    /// LSN.
    pub lsn: u64,
    /// Kind (0xFE: DONE, 0xFD: checkpoint part).
    pub kind: u8,
    /// Payload size.
    pub payload_bytes: u32,
    /// Live data record.
    pub live: bool,
    /// First record of a group commit batch.
    pub batch_start: bool,
}

/// Spare and leftover files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherFile {
    /// The file.
    pub file: PathBuf,
    /// What it is.
    pub state: &'static str,
}

/// The result of inspecting a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectReport {
    /// The directory inspected.
    pub dir: PathBuf,
    /// Segments in use, by id.
    pub segments: Vec<SegmentInfo>,
    /// Spare, blank and damaged files.
    pub other_files: Vec<OtherFile>,
    /// Corruption found (recovery would refuse to open).
    pub problems: Vec<Problem>,
    /// A torn tail (recovery would cut it).
    pub torn_tail: Option<TornTail>,
    /// First LSN of the latest complete checkpoint.
    pub checkpoint_lsn: Option<u64>,
    /// Every record, when asked for.
    pub records: Vec<RecordInfo>,
}

impl InspectReport {
    /// True when recovery would open the directory without an operator override.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Inspects the data directory `dir` without changing anything.
pub fn inspect(dir: &Path, options: InspectOptions) -> Result<InspectReport, WalError> {
    let scan = recovery::scan_dir(dir, Access::Read, options.records)?;
    let mut problems = scan.problems.clone();
    let liveness = match recovery::rebuild_liveness(&scan.segments) {
        Ok(liveness) => Some(liveness),
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    let mut segments = Vec::with_capacity(scan.segments.len());
    let mut records = Vec::new();
    for (index, segment) in scan.segments.iter().enumerate() {
        let live = liveness
            .as_ref()
            .and_then(|liveness| liveness.live.get(index));
        let count_kind =
            |kind: u8| segment.meta.iter().filter(|meta| meta.kind == kind).count() as u64;
        let record_count = segment.scan.record_count;
        segments.push(SegmentInfo {
            file: segment.path.clone(),
            segment_id: segment.segment_id(),
            first_lsn: segment.header.first_lsn,
            last_lsn: (record_count > 0).then(|| segment.scan.end_lsn - 1),
            file_bytes: segment.file_bytes,
            used_bytes: segment.scan.end_offset,
            records: record_count,
            data_records: segment.data.count_ones(),
            done_records: count_kind(KIND_DONE),
            checkpoint_records: count_kind(KIND_CHECKPOINT),
            live_records: live.map_or(0, |live| live.count_ones()),
        });
        records.extend(segment.listed.iter().map(|record| RecordInfo {
            segment_id: segment.segment_id(),
            offset: record.offset,
            lsn: record.lsn,
            kind: record.kind,
            payload_bytes: record.payload_bytes,
            batch_start: record.batch_start,
            live:
                live.is_some_and(|live| live.get((record.lsn - segment.header.first_lsn) as usize)),
        }));
    }
    let mut other_files: Vec<OtherFile> = scan
        .spares
        .iter()
        .map(|spare| OtherFile {
            file: spare.path.clone(),
            state: "spare",
        })
        .collect();
    other_files.extend(scan.blanks.iter().map(|path| OtherFile {
        file: path.clone(),
        state: "blank (creation interrupted)",
    }));
    other_files.extend(scan.damaged.iter().map(|path| OtherFile {
        file: path.clone(),
        state: "damaged header",
    }));
    Ok(InspectReport {
        dir: dir.to_path_buf(),
        segments,
        other_files,
        problems,
        torn_tail: scan.torn_tail,
        checkpoint_lsn: liveness.and_then(|liveness| liveness.checkpoint_lsn),
        records,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

impl fmt::Display for InspectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "data directory {}", self.dir.display())?;
        self.fmt_segments(f)?;
        match self.checkpoint_lsn {
            Some(lsn) => writeln!(f, "checkpoint at LSN {lsn}")?,
            None => writeln!(f, "no checkpoint")?,
        }
        if let Some(torn) = &self.torn_tail {
            let (file, offset) = (file_name(&torn.file), torn.offset);
            let (reason, orphans) = (&torn.reason, torn.dropped_records);
            writeln!(
                f,
                "torn tail in {file} at offset {offset}: {reason} ({orphans} orphan records)"
            )?;
        }
        for problem in &self.problems {
            let (file, segment, offset) =
                (file_name(&problem.file), problem.segment_id, problem.offset);
            writeln!(
                f,
                "CORRUPTION in {file} (segment {segment}) at offset {offset}: {}",
                problem.reason
            )?;
        }
        self.fmt_records(f)
    }
}

const SEGMENT_COLUMNS: [&str; 9] = [
    "file",
    "segment",
    "first_lsn",
    "last_lsn",
    "used_bytes",
    "records",
    "done",
    "ckpt",
    "live",
];

impl InspectReport {
    fn fmt_segments(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [
            file,
            segment,
            first,
            last,
            used,
            records,
            done,
            checkpoint,
            live,
        ] = SEGMENT_COLUMNS;
        writeln!(
            f,
            "{file:<18} {segment:>8} {first:>12} {last:>12} {used:>12} {records:>10} {done:>8} {checkpoint:>6} {live:>10}"
        )?;
        for info in &self.segments {
            let last = info
                .last_lsn
                .map_or_else(|| "-".into(), |lsn| lsn.to_string());
            writeln!(
                f,
                "{:<18} {:>8} {:>12} {:>12} {:>12} {:>10} {:>8} {:>6} {:>10}",
                file_name(&info.file),
                info.segment_id,
                info.first_lsn,
                last,
                info.used_bytes.saturating_sub(SEGMENT_HEADER_BYTES),
                info.data_records,
                info.done_records,
                info.checkpoint_records,
                info.live_records
            )?;
        }
        for other in &self.other_files {
            writeln!(f, "{:<18} {}", file_name(&other.file), other.state)?;
        }
        Ok(())
    }

    fn fmt_records(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.records.is_empty() {
            let columns = ["segment", "offset", "lsn", "kind", "bytes", "live", "batch"];
            let [segment, offset, lsn, kind, bytes, live, batch] = columns;
            writeln!(
                f,
                "{segment:>8} {offset:>10} {lsn:>12} {kind:>6} {bytes:>8} {live:>5} {batch:>6}"
            )?;
        }
        for record in &self.records {
            let batch = if record.batch_start { "start" } else { "" };
            writeln!(
                f,
                "{:>8} {:>10} {:>12} {:>#6x} {:>8} {:>5} {:>6}",
                record.segment_id,
                record.offset,
                record.lsn,
                record.kind,
                record.payload_bytes,
                record.live,
                batch
            )?;
        }
        Ok(())
    }
}
