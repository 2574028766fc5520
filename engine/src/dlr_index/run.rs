//! Immutable sorted runs: the long tail of the index, on disk.
//!
//! File layout (little-endian), `dlr-<run id, 16 hex digits>.run`:
//!
//! | bytes          | field                                               |
//! |----------------|-----------------------------------------------------|
//! | 0..8           | magic `TERNDLR\0`                                   |
//! | 8..12          | version ([`RUN_VERSION`])                           |
//! | 12..16         | reserved, 0                                         |
//! | 16..24         | run id (orders runs newest-first for lookups)       |
//! | 24..32         | created at, ms since the Unix epoch (first insert)  |
//! | 32..40         | expires at, ms since the Unix epoch                 |
//! | 40..48         | entry count                                         |
//! | 48..52         | CRC-32C of the entry bytes                          |
//! | 52..56         | CRC-32C of bytes 0..52                              |
//! | 56..4096       | zero, so that entries start on a page boundary      |
//! | 4096..         | entries: fingerprint u64, value u64; fingerprints ascend, none is 0 |
//!
//! A page of entries holds 256 of them, so one fence per page (its first fingerprint) lets a
//! lookup go straight to the one page that can hold the key.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use super::filter::BlockFilter;
use super::table::{SLOT_BYTES, Table};

/// Magic at the start of every run file.
pub const RUN_MAGIC: [u8; 8] = *b"TERNDLR\0";
/// Format version written and accepted.
pub const RUN_VERSION: u32 = 1;
/// Bytes of the header page that precedes the entries.
pub const RUN_HEADER_BYTES: usize = 4096;
/// Bytes of one entry on disk.
pub const RUN_ENTRY_BYTES: usize = SLOT_BYTES;
/// File name suffix of a complete run.
pub const RUN_FILE_SUFFIX: &str = ".run";
/// File name suffix of a run being written; one found at start is a leftover of a crash.
pub const RUN_TEMP_SUFFIX: &str = ".run.tmp";

const ENTRIES_PER_PAGE: usize = 4096 / RUN_ENTRY_BYTES;
const HEADER_CRC_AT: usize = 52;
const WRITE_CHUNK_BYTES: usize = 256 * 1024;

/// A run file could not be written or opened.
#[derive(Debug, Error)]
pub enum RunError {
    /// A file-system call failed.
    #[error("{op} {path}")]
    Io {
        /// The call that failed.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file is shorter than its header page.
    #[error("run file is {file_bytes} bytes, shorter than its {RUN_HEADER_BYTES}-byte header")]
    Truncated {
        /// Length found.
        file_bytes: u64,
    },
    /// The file does not start with [`RUN_MAGIC`].
    #[error("not a run file (bad magic)")]
    BadMagic,
    /// The file's version is not [`RUN_VERSION`].
    #[error("unsupported run version {version}")]
    UnsupportedVersion {
        /// Version found.
        version: u32,
    },
    /// The header's checksum does not match.
    #[error("run header checksum mismatch")]
    HeaderCrc,
    /// The length does not match the header's entry count (a torn write).
    #[error("run should be {expected_bytes} bytes for its entry count, is {file_bytes}")]
    LengthMismatch {
        /// Length the header implies.
        expected_bytes: u64,
        /// Length found.
        file_bytes: u64,
    },
    /// The entries' checksum does not match.
    #[error("run entries checksum mismatch")]
    EntriesCrc,
    /// Entry `index` is not above its predecessor, or is 0.
    #[error("run entry {index} is out of order or has fingerprint 0")]
    Unsorted {
        /// Position of the offending entry.
        index: u64,
    },
}

fn io_error<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> RunError + 'a {
    move |source| RunError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The fixed fields of a run header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunHeader {
    run_id: u64,
    created_at_ms: u64,
    expires_at_ms: u64,
    entry_count: u64,
    entries_crc: u32,
}

impl RunHeader {
    fn encode(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        let fields: [(usize, &[u8]); 7] = [
            (0, &RUN_MAGIC),
            (8, &RUN_VERSION.to_le_bytes()),
            (16, &self.run_id.to_le_bytes()),
            (24, &self.created_at_ms.to_le_bytes()),
            (32, &self.expires_at_ms.to_le_bytes()),
            (40, &self.entry_count.to_le_bytes()),
            (48, &self.entries_crc.to_le_bytes()),
        ];
        for (at, bytes) in fields {
            if let Some(dst) = out.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        }
        let crc = crc32c::crc32c(out.get(..HEADER_CRC_AT).unwrap_or_default());
        if let Some(dst) = out.get_mut(HEADER_CRC_AT..HEADER_CRC_AT + 4) {
            dst.copy_from_slice(&crc.to_le_bytes());
        }
        out
    }

    fn decode(page: &[u8]) -> Result<Self, RunError> {
        let file_bytes = page.len() as u64;
        let truncated = RunError::Truncated { file_bytes };
        if page.get(..8) != Some(&RUN_MAGIC[..]) {
            return Err(if page.len() < 8 {
                truncated
            } else {
                RunError::BadMagic
            });
        }
        let (Some(version), Some(stored_crc)) = (le_u32(page, 8), le_u32(page, HEADER_CRC_AT))
        else {
            return Err(truncated);
        };
        if version != RUN_VERSION {
            return Err(RunError::UnsupportedVersion { version });
        }
        if page.get(..HEADER_CRC_AT).map(crc32c::crc32c) != Some(stored_crc) {
            return Err(RunError::HeaderCrc);
        }
        match (
            le_u64(page, 16),
            le_u64(page, 24),
            le_u64(page, 32),
            le_u64(page, 40),
        ) {
            (Some(run_id), Some(created_at_ms), Some(expires_at_ms), Some(entry_count)) => {
                Ok(Self {
                    run_id,
                    created_at_ms,
                    expires_at_ms,
                    entry_count,
                    entries_crc: le_u32(page, 48).unwrap_or_default(),
                })
            }
            _ => Err(truncated),
        }
    }
}

fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let raw = bytes.get(at..at.checked_add(8)?)?;
    raw.try_into().ok().map(u64::from_le_bytes)
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw = bytes.get(at..at.checked_add(4)?)?;
    raw.try_into().ok().map(u32::from_le_bytes)
}

/// The file name of run `run_id`.
pub fn run_file_name(run_id: u64) -> String {
    format!("dlr-{run_id:016x}{RUN_FILE_SUFFIX}")
}

/// A sealed hot generation handed to the caller to write as a run, off the executor thread.
///
/// Cloning is cheap (the table is shared); the index keeps answering lookups from the same
/// table until [`super::DlrIndex::install_run`] replaces it with the written run.
#[derive(Debug, Clone)]
pub struct FrozenRun {
    pub(crate) run_id: u64,
    pub(crate) created_at_ms: u64,
    pub(crate) expires_at_ms: u64,
    pub(crate) table: Arc<Table>,
}

impl FrozenRun {
    /// The id the run will carry; [`super::DlrIndex::install_run`] matches on it.
    pub fn run_id(&self) -> u64 {
        self.run_id
    }

    /// When the run's oldest entry was inserted, ms since the Unix epoch.
    pub fn created_at_ms(&self) -> u64 {
        self.created_at_ms
    }

    /// When the whole run may be dropped, ms since the Unix epoch.
    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }

    /// Entries the run holds.
    pub fn entry_count(&self) -> usize {
        self.table.len()
    }

    /// Bytes the run file will take.
    pub fn file_bytes(&self) -> u64 {
        (RUN_HEADER_BYTES + self.table.len() * RUN_ENTRY_BYTES) as u64
    }

    /// Entries in ascending fingerprint order, for a caller with its own writer.
    pub fn entries(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.table.iter()
    }

    /// Writes the run into `dir` (temp file, fdatasync, rename, directory fsync) and returns
    /// its path. Blocking: call it on a helper thread, never on the executor.
    pub fn write_to(&self, dir: &Path) -> Result<PathBuf, RunError> {
        let name = run_file_name(self.run_id);
        let temp = dir.join(format!("{name}.tmp"));
        let path = dir.join(name);
        if let Err(error) = self.write_temp(&temp) {
            // Best effort: a leftover temp file is reported at the next start anyway.
            let _ = fs::remove_file(&temp);
            return Err(error);
        }
        fs::rename(&temp, &path).map_err(io_error("rename", &temp))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error("fsync directory", dir))?;
        Ok(path)
    }

    fn write_temp(&self, temp: &Path) -> Result<(), RunError> {
        let mut file = File::create(temp).map_err(io_error("create", temp))?;
        file.write_all(&[0u8; RUN_HEADER_BYTES])
            .map_err(io_error("write", temp))?;
        let (entry_count, entries_crc) = write_entries(&mut file, self.table.iter(), temp)?;
        let header = RunHeader {
            run_id: self.run_id,
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.expires_at_ms,
            entry_count,
            entries_crc,
        };
        file.write_all_at(&header.encode(), 0)
            .map_err(io_error("write header", temp))?;
        file.sync_data().map_err(io_error("fdatasync", temp))
    }
}

/// Streams entries in chunks, checking order before anything reaches the disk (the same check
/// runs again when the file is opened). Returns the count and the CRC of the entry bytes.
fn write_entries(
    file: &mut File,
    entries: impl Iterator<Item = (u64, u64)>,
    path: &Path,
) -> Result<(u64, u32), RunError> {
    let mut chunk = Vec::with_capacity(WRITE_CHUNK_BYTES);
    let (mut count, mut crc, mut previous_fp) = (0u64, 0u32, 0u64);
    for (fp, value) in entries {
        if fp <= previous_fp {
            return Err(RunError::Unsorted { index: count });
        }
        previous_fp = fp;
        count += 1;
        chunk.extend_from_slice(&fp.to_le_bytes());
        chunk.extend_from_slice(&value.to_le_bytes());
        if chunk.len() >= WRITE_CHUNK_BYTES {
            crc = crc32c::crc32c_append(crc, &chunk);
            file.write_all(&chunk).map_err(io_error("write", path))?;
            chunk.clear();
        }
    }
    crc = crc32c::crc32c_append(crc, &chunk);
    file.write_all(&chunk).map_err(io_error("write", path))?;
    Ok((count, crc))
}

/// An opened, validated run: its entries on disk, read a page per lookup, plus, in RAM, a
/// filter (1.5 B/entry) and one fence per 4 KiB page (0.03 B/entry).
#[derive(Debug)]
pub struct DiskRun {
    path: PathBuf,
    header: RunHeader,
    file: File,
    fences: Box<[u64]>,
    filter: BlockFilter,
    file_bytes: u64,
}

impl DiskRun {
    /// Opens and validates a run file (length, magic, version, both CRCs, order) and builds
    /// its filter and fences. Blocking and reads the whole file: call it on a helper thread.
    pub fn open(path: &Path) -> Result<Self, RunError> {
        let file = File::open(path).map_err(io_error("open", path))?;
        let file_bytes = file.metadata().map_err(io_error("stat", path))?.len();
        if file_bytes < RUN_HEADER_BYTES as u64 {
            return Err(RunError::Truncated { file_bytes });
        }
        let mut head = [0u8; RUN_HEADER_BYTES];
        file.read_exact_at(&mut head, 0)
            .map_err(io_error("read", path))?;
        let header = RunHeader::decode(&head)?;
        let expected_bytes = header
            .entry_count
            .checked_mul(RUN_ENTRY_BYTES as u64)
            .and_then(|b| b.checked_add(RUN_HEADER_BYTES as u64))
            .unwrap_or(u64::MAX);
        if expected_bytes != file_bytes {
            return Err(RunError::LengthMismatch {
                expected_bytes,
                file_bytes,
            });
        }
        // Read, never mapped: pages a mapping touches count in the process's RSS (up to
        // 160 MB for 10 M entries, touched within seconds by receipts at carrier rates);
        // pages read stay in the page cache, which the kernel reclaims. A lookup reads
        // the one page that can hold its key.
        let count = usize::try_from(header.entry_count).unwrap_or(usize::MAX);
        let mut index = EntryIndex::new(count);
        let mut crc = 0u32;
        let mut chunk = vec![0u8; VALIDATE_CHUNK_BYTES];
        let mut offset = RUN_HEADER_BYTES as u64;
        while offset < file_bytes {
            let len = usize::try_from(file_bytes - offset)
                .unwrap_or(usize::MAX)
                .min(VALIDATE_CHUNK_BYTES);
            let bytes = chunk.get_mut(..len).unwrap_or_default();
            file.read_exact_at(bytes, offset)
                .map_err(io_error("read", path))?;
            crc = crc32c::crc32c_append(crc, bytes);
            index.push(bytes)?;
            offset += len as u64;
        }
        if crc != header.entries_crc {
            return Err(RunError::EntriesCrc);
        }
        let (fences, filter) = index.finish();
        Ok(Self {
            path: path.to_path_buf(),
            header,
            file,
            fences,
            filter,
            file_bytes,
        })
    }

    /// Where the run lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run's id; newer runs have larger ids.
    pub fn run_id(&self) -> u64 {
        self.header.run_id
    }

    /// When the run's oldest entry was inserted, ms since the Unix epoch.
    pub fn created_at_ms(&self) -> u64 {
        self.header.created_at_ms
    }

    /// When the whole run may be dropped, ms since the Unix epoch.
    pub fn expires_at_ms(&self) -> u64 {
        self.header.expires_at_ms
    }

    /// Entries the run holds.
    pub fn entry_count(&self) -> u64 {
        self.header.entry_count
    }

    /// Bytes of the file on disk.
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    /// Bytes of RAM the run holds outside the page cache (filter and fences).
    pub fn ram_bytes(&self) -> usize {
        self.filter.bytes() + self.fences.len() * 8
    }

    /// False when the run certainly does not hold `fp` (answered from RAM).
    pub(crate) fn may_contain(&self, fp: u64) -> bool {
        self.filter.may_contain(fp)
    }

    /// Looks `fp` up in the entries: the fences pick the one page that can hold it, which is
    /// read (one `pread` of at most 4 KiB, usually from the page cache), then a binary
    /// search inside that page. A read error is a miss (logged): the receipt is then held
    /// as for an unknown id, never applied to a wrong message.
    pub(crate) fn get(&self, fp: u64) -> Option<u64> {
        let page = self
            .fences
            .partition_point(|&fence| fence <= fp)
            .checked_sub(1)?;
        let count = usize::try_from(self.header.entry_count).unwrap_or(usize::MAX);
        let first = page.checked_mul(ENTRIES_PER_PAGE)?;
        let entries = count.checked_sub(first)?.min(ENTRIES_PER_PAGE);
        let mut buf = [0u8; ENTRIES_PER_PAGE * RUN_ENTRY_BYTES];
        let bytes = buf.get_mut(..entries * RUN_ENTRY_BYTES)?;
        let offset = (RUN_HEADER_BYTES + first * RUN_ENTRY_BYTES) as u64;
        if let Err(error) = self.file.read_exact_at(bytes, offset) {
            tracing::warn!(path = %self.path.display(), offset, %error, "DLR run read failed");
            return None;
        }
        let (mut low, mut high) = (0, entries);
        while low < high {
            let mid = low + (high - low) / 2;
            let at = mid * RUN_ENTRY_BYTES;
            let mid_fp = le_u64(bytes, at)?;
            match mid_fp.cmp(&fp) {
                std::cmp::Ordering::Equal => return le_u64(bytes, at + 8),
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
            }
        }
        None
    }
}

/// Bytes of a run file read at a time while it is validated (a multiple of an entry).
const VALIDATE_CHUNK_BYTES: usize = 1 << 20;

/// Checks order and builds the fences and the filter in one pass over the entries, fed in
/// chunks that hold whole entries.
struct EntryIndex {
    fences: Vec<u64>,
    filter: BlockFilter,
    previous_fp: u64,
    index: u64,
}

impl EntryIndex {
    fn new(count: usize) -> EntryIndex {
        EntryIndex {
            fences: Vec::with_capacity(count.div_ceil(ENTRIES_PER_PAGE)),
            filter: BlockFilter::with_entries(count),
            previous_fp: 0,
            index: 0,
        }
    }

    fn push(&mut self, entries: &[u8]) -> Result<(), RunError> {
        for entry in entries.chunks_exact(RUN_ENTRY_BYTES) {
            let fp = le_u64(entry, 0).unwrap_or_default();
            if fp <= self.previous_fp {
                return Err(RunError::Unsorted { index: self.index });
            }
            if self.index.is_multiple_of(ENTRIES_PER_PAGE as u64) {
                self.fences.push(fp);
            }
            self.filter.insert(fp);
            self.previous_fp = fp;
            self.index += 1;
        }
        Ok(())
    }

    fn finish(self) -> (Box<[u64]>, BlockFilter) {
        (self.fences.into_boxed_slice(), self.filter)
    }
}

/// Runs found in a directory at start.
#[derive(Debug, Default)]
pub struct ReopenedRuns {
    /// Valid runs, oldest (smallest id) first.
    pub runs: Vec<DiskRun>,
    /// Run files that failed validation; they are left in place for an operator to inspect.
    pub failed: Vec<(PathBuf, RunError)>,
    /// Temp files from writes a crash interrupted; safe to delete.
    pub stale_temp_files: Vec<PathBuf>,
}

/// Opens every run file in `dir`. A bad file is reported in [`ReopenedRuns::failed`] and
/// skipped, never fatal; only an unreadable directory is an error. Blocking.
pub fn open_dir(dir: &Path) -> Result<ReopenedRuns, RunError> {
    let mut found = ReopenedRuns::default();
    let listing = fs::read_dir(dir).map_err(io_error("read directory", dir))?;
    for entry in listing {
        let path = entry.map_err(io_error("read directory", dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.starts_with("dlr-") {
            continue;
        }
        if name.ends_with(RUN_TEMP_SUFFIX) {
            found.stale_temp_files.push(path);
        } else if name.ends_with(RUN_FILE_SUFFIX) {
            match DiskRun::open(&path) {
                Ok(run) => found.runs.push(run),
                Err(error) => found.failed.push((path, error)),
            }
        }
    }
    found.runs.sort_by_key(DiskRun::run_id);
    Ok(found)
}
