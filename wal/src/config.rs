//! Configuration of a log: sizes, bounds, durability and recovery policy.

use crate::WalError;
use crate::fault::FaultInjector;
use crate::frame::{RELOCATION_PREFIX_BYTES, padded_record_bytes};
use crate::segment::SEGMENT_HEADER_BYTES;

/// When the syncer makes a batch durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fdatasync after every group commit batch; a durable LSN survives a power cut.
    #[default]
    Fsync,
    /// No fdatasync at all: for tests and benchmarks only. LOSES acknowledged records on a
    /// power cut or kernel crash (a killed process still leaves them in the page cache).
    None,
}

/// What recovery does when it finds corruption that is not a torn tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryMode {
    /// Refuse to open and name the file and offset; an operator decides.
    #[default]
    Strict,
    /// Operator override: cut the log at the first corruption, dropping every record after
    /// it (the report lists what was cut).
    TruncateAtCorruption,
}

/// Configuration of one log (one per shard).
#[derive(Debug, Clone)]
pub struct WalConfig {
    /// Size of each segment file, a multiple of 4096 (default 64 MiB).
    pub segment_bytes: u64,
    /// Bound on bytes appended but not yet taken by the syncer; appends beyond it get
    /// [`WalError::Full`]. The log holds at most twice this in memory (default 8 MiB).
    pub max_pending_bytes: usize,
    /// Largest payload one record may carry (default 1 MiB).
    pub max_record_bytes: usize,
    /// Sync policy (default [`Durability::Fsync`]).
    pub durability: Durability,
    /// Zero-filled spare segments kept ready so rotation never waits (default 1).
    pub spare_segments: usize,
    /// Reclaimed segments kept for reuse instead of deleted (default 2).
    pub max_recycled_segments: usize,
    /// A sealed segment whose live records are at most this percent of its records is a
    /// compaction candidate (default 25).
    pub compaction_live_percent: u8,
    /// Reaction to corruption in the middle of the log (default [`RecoveryMode::Strict`]).
    pub recovery: RecoveryMode,
    /// Named fault injection points, disarmed by default (tests arm them).
    pub faults: FaultInjector,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            segment_bytes: 64 << 20,
            max_pending_bytes: 8 << 20,
            max_record_bytes: 1 << 20,
            durability: Durability::Fsync,
            spare_segments: 1,
            max_recycled_segments: 2,
            compaction_live_percent: 25,
            recovery: RecoveryMode::Strict,
            faults: FaultInjector::default(),
        }
    }
}

/// Smallest `max_record_bytes` accepted: a checkpoint part must fit in one record.
pub(crate) const MIN_RECORD_BYTES_LIMIT: usize = 8 << 10;
/// Largest `max_record_bytes` accepted: lengths are framed as u32 and batches stay sane.
pub(crate) const MAX_RECORD_BYTES_LIMIT: usize = 64 << 20;

impl WalConfig {
    /// Checks that the bounds fit together.
    pub fn validate(&self) -> Result<(), WalError> {
        // A relocated copy carries the LSN it replaces in front of the payload.
        let record_max =
            padded_record_bytes(self.max_record_bytes + RELOCATION_PREFIX_BYTES) as u64;
        if !self.segment_bytes.is_multiple_of(4096) {
            return Err(WalError::Config("segment_bytes must be a multiple of 4096"));
        }
        if !(MIN_RECORD_BYTES_LIMIT..=MAX_RECORD_BYTES_LIMIT).contains(&self.max_record_bytes) {
            return Err(WalError::Config(
                "max_record_bytes must be between 8 KiB and 64 MiB",
            ));
        }
        if SEGMENT_HEADER_BYTES + record_max > self.segment_bytes {
            return Err(WalError::Config(
                "a record of max_record_bytes must fit in one segment",
            ));
        }
        if record_max > self.max_pending_bytes as u64 {
            return Err(WalError::Config(
                "a record of max_record_bytes must fit in max_pending_bytes",
            ));
        }
        if self.spare_segments == 0 {
            return Err(WalError::Config("spare_segments must be at least 1"));
        }
        if self.compaction_live_percent > 100 {
            return Err(WalError::Config("compaction_live_percent is a percentage"));
        }
        Ok(())
    }
}
