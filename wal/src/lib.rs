//! Tern's write-ahead log: segmented files, group commit, crash recovery, bounded disk use.
//!
//! Tern acknowledges a message only once it is durable. One [`Wal`] per shard, owned by
//! the shard's executor thread (the *owner*), carries that promise at carrier rates: one
//! fdatasync covers every record appended while the previous one ran.
//!
//! # Design
//!
//! **Append.** [`Wal::append`] frames the record (24-byte header: length, kind, version,
//! flags, LSN, CRC32C; payload padded to 8 bytes, see [`frame`]) straight into an
//! in-memory batch under a mutex held for one memcpy, and returns the LSN. No syscall and
//! no page fault on the owner thread: the batch buffers are touched once at open, the
//! syncer holds the mutex only to swap two buffers, and the owner never writes through a
//! mapping (a fresh mmap page would fault, and msync would block). The only syscall an
//! append can make is the futex wake of an idle syncer, at most once per batch (measured
//! below: under 0.03 wakes per record). Unsynced bytes are bounded by `max_pending_bytes`; past it append returns
//! [`WalError::Full`], which the engine turns into `ESME_RMSGQFUL` / HTTP 503 (refuse at
//! the door rather than queue without bound). Memory: two batch buffers and one bit per
//! record of each segment in use.
//!
//! **Group commit.** A syncer thread per log loops: swap the pending batch with its own
//! empty buffer, `pwrite` it, `fdatasync`, publish the durable LSN (an atomic), wake the
//! waiters. Then at once the next batch, with whatever arrived meanwhile: no timer adds
//! latency, and the batch grows with the load. [`Wal::durable`] returns a [`Durable`]
//! future that holds no borrow of the log and works on any executor (std `Waker`, woken
//! from the syncer thread; tested with glommio and `futures_lite::block_on`). Waiters sit in
//! one queue sorted by LSN; a task awaiting many LSNs is queued once, and one wake serves a
//! whole batch. [`Durability::None`] skips fdatasync, for tests and benchmarks only: it
//! loses acknowledged records on a power cut.
//!
//! **Failure.** A failed write or fdatasync stops the log for good: the kernel may have
//! dropped the dirty pages, so retrying could report durable what is not. Waiters and later
//! appends get [`WalError::Failed`]; reopening recovers from what is on disk.
//!
//! **Segments.** Files `seg-NNNNNNNN.wal` of `segment_bytes` (default 64 MiB), each with a
//! versioned 4 KiB header ([`segment`]). A maintenance thread keeps `spare_segments`
//! preallocated and zero-filled (written zeros, so syncs never convert unwritten extents)
//! so rotation never waits, and recycles dead segments into the spare pool. The syncer
//! syncs a segment before it gives the next one its header, and syncs that header before
//! any record goes behind it. After every batch it writes a zero header, so a clean end
//! always reads as zeros, even in a recycled file.
//!
//! **Recovery** ([`Wal::open`], module [`recovery`]). Records carry consecutive LSNs; a
//! recycled file's old records carry LSNs below its new first LSN and are ignored. The
//! first record of each batch carries `FLAG_BATCH_START`. Damage in the last segment with
//! no later batch behind it is a torn tail: cut, and the rest of that batch's reach zeroed
//! (a power cut can persist a batch's pages out of order; such orphans are reported). Damage
//! followed by a later batch, or a segment whose end does not meet its successor's first
//! LSN, is corruption: a hard error naming file and offset, unless the operator chooses
//! [`RecoveryMode::TruncateAtCorruption`]. Limit: damage inside the last batch looks like a
//! tear even if that batch had been synced; nothing on disk can tell them apart. Recovered
//! records are borrowed from read-only maps of the segments ([`Recovery::records`]).
//!
//! **Space.** The owner marks records done ([`Wal::mark_done`]); a bit per record and a
//! live count per segment follow. Done marks are logged in batches as `DONE` tombstone
//! records; recovery subtracts them. A checkpoint (written at most once per segment, when
//! tombstones hold a dead segment back) lists the live set below its LSN, which makes
//! older tombstones unnecessary. A sealed segment with no live record and no tombstone
//! newer than the last durable checkpoint is reclaimed: its header is rewritten as a spare
//! and synced (so its records can never come back), then it joins the spare pool or is
//! deleted. Long-lived stragglers (a message waiting 48 h for its receipt) are copied
//! forward: [`Wal::compaction_candidate`] names the oldest sealed segment at most
//! `compaction_live_percent` live, [`Wal::read_live`] copies its live records off the owner
//! thread, [`Wal::relocate`] appends each again; the copy carries the old LSN in its frame
//! (`FLAG_RELOCATED`) and is that LSN's tombstone, so a crash can never leave both copies
//! or neither. With that policy every sealed segment is more than
//! `compaction_live_percent` live or on its way out, so disk use stays within about
//! `100 / compaction_live_percent` times the live data, plus the active segment, the one or
//! two segments awaiting the next checkpoint, and the spare pool.
//! A reclaim waits until everything appended before it is durable, so a copied record is on
//! disk before its original disappears.
//!
//! **Reads** ([`Wal::reader`], [`WalReader::read`], module `read`). A message waiting for
//! its receipt can be kept as its LSN alone and read back when the receipt comes, on any
//! thread: the [`WalReader`] is `Clone + Send + Sync` and borrows nothing from the `Wal`.
//! A read returns the payload and kind of an engine record that is durable and whose
//! segment is still on disk, and `None` otherwise (not durable yet, below the log's start,
//! segment reclaimed, or a tombstone/checkpoint). Records marked done, and the old LSN of a
//! relocated record, stay readable until their segment is reclaimed; a relocated copy reads
//! at its new LSN without its prefix. Each segment in use has a sparse offset index: a
//! point (LSN, file offset) at its first record and then at the first record at least
//! [`READ_POINT_STRIDE_BYTES`] (4 KiB) past the previous point, so **at most
//! `segment_bytes / 4096` points of 16 bytes per segment: 256 KiB for a 64 MiB segment**
//! (reserved when the segment opens), about 1.2 bytes per 300-byte record. The syncer
//! places the points as it writes each batch, on its own thread (a walk of the record
//! headers of the batch it just wrote; the owner's `append` is unchanged) and publishes them
//! under one short lock per batch, before the batch's LSNs turn durable; recovery rebuilds
//! them for every segment it scans. A read looks up the segment and the point under that
//! lock (no I/O under it), then makes one `pread` of at most 4 KiB plus one record from the
//! segment's open file (an `Arc<File>` per segment in use: one descriptor each, no `open()`
//! per read), checks the CRC of every frame it walks and that their LSNs run from the
//! point's up to the one asked for (a recycled file holds other LSNs), and moves the payload
//! to the front of the caller's buffer; nothing else is allocated. Damage where a durable
//! record should be is [`WalError::Corruption`] naming segment and offset. A segment leaves
//! the index before it is reclaimed; a read that raced the reclaim and finds the file's next
//! life gets `None`, not an error. After `close` reads fail with [`WalError::Closed`].
//!
//! **The owner's part.** Drop the [`Recovery`] once its records are loaded (while it lives,
//! reclaimed files are deleted rather than recycled, since they may still be mapped). Call
//! [`Wal::flush_done`] once per event-loop turn, so tombstones do not wait for 512 marks.
//! Run the compaction loop now and then (`compaction_candidate`, `read_live`, `relocate`)
//! and move references to the new LSNs. The first segment file is zero-filled in the
//! background right after the first open of an empty directory; the first batch waits for it.
//!
//! **Fault injection.** [`FaultInjector`] (in [`WalConfig::faults`]) arms named faults in
//! the syncer: [`Fault::FailSync`], [`Fault::CrashBeforeSync`], [`Fault::TornWrite`].
//!
//! # Why hand-written
//!
//! Every acknowledged message passes through `append` and the syncer, and the guarantees
//! (what a torn tail is, when a segment may go, what a failed fsync means) are the
//! product. Written here, each of those decisions is explicit, covered by a named fault and
//! a test, and shaped for the engine: a completion future any executor can await, no
//! syscall or page fault on the executor thread, tombstones and copy-forward keyed by the
//! owner's own record lifetimes. A general-purpose store would bring its own threads,
//! caches and sync policy to reconcile with glommio and with the rules above.
//!
//! # Measured
//!
//! Machine: 2 vCPU VM, ext4 on a virtio disk, shared with ~5 other builds running at the same
//! time, so every figure is noisy. Records of 200 bytes (224 on disk), default config
//! (64 MiB segments, 8 MiB pending bound), durability `fsync`.
//!
//! Load binary, open loop, 2 s warm-up (spares recycled, no zero-fill in the measured
//! window), 4 s measured, each durable record marked done:
//! `cargo run --release -p tern-wal --example wal-load -- --seconds 4 --dir target-wal`
//!
//! | offered/s | sustained/s | p50 µs | p99 µs | p99.9 µs | records/sync | disk |
//! |----------:|------------:|-------:|-------:|---------:|-------------:|------|
//! | 10 000    | 9 999       | 287    | 1 351  | 2 712    | 1.5          | quiet |
//! | 100 000   | 99 990      | 262    | 2 953  | 30 228   | 15           | quiet |
//! | 500 000   | 499 873     | 320    | 4 162  | 9 519    | 93           | quiet |
//! | 500 000   | 499 938     | 323    | 1 743  | 7 369    | 93           | quiet (fdatasync p50 146 µs, p99 325 µs by strace) |
//! | 10 000    | 9 990       | 4 256  | 14 303 | 21 758   | 12           | busy  |
//! | 100 000   | 99 798      | 7 008  | 19 890 | 32 784   | 285          | busy  |
//! | 500 000   | 498 923     | 7 053  | 20 775 | 34 308   | 1 058        | busy  |
//!
//! Idle box (load average 0.2, nothing else running; two consecutive runs):
//!
//! | offered/s | sustained/s | p50 µs | p99 µs | p99.9 µs | records/sync | new segments in window |
//! |----------:|------------:|-------:|-------:|---------:|-------------:|-----------------------:|
//! | 10 000    | 9 999       | 329    | 2 001  | 8 319    | 1.9          | 0 |
//! | 100 000   | 99 989      | 340    | 2 927  | 30 622   | 19           | 1 |
//! | 500 000   | 499 942     | 365    | 1 106  | 8 421    | 101          | 0 |
//! | 10 000    | 9 998       | 334    | 1 392  | 5 472    | 1.9          | 0 |
//! | 100 000   | 99 995      | 393    | 6 615  | 40 665   | 22           | 1 |
//! | 500 000   | 499 963     | 393    | 713    | 3 443    | 108          | 0 |
//!
//! The 100k rows are the only ones whose window includes the zero-fill of a new 64 MiB
//! segment by the maintenance thread: that write shares the disk with the fdatasyncs and
//! is the likely cause of their tail. Preallocating more spares at open, or pacing the
//! zero-fill, is the next thing to try.
//!
//! "Busy" means other helpers' builds were writing to the same disk; fdatasync alone then
//! took p50 2.7–4 ms and p99 5–10 ms (4 KiB probe). With `--durability none` the software
//! alone gives p50 78–143 µs and p99 0.4–1.9 ms at the same rates. Appends woke the syncer
//! 0.003–0.03 times per record at 10k/s and under 0.0003 above, so the futex wake really is
//! per batch. Nothing was refused (`Full`) and no rotation waited for a spare.
//!
//! Verdict on the target (≥ 500k records/s with commit p99 ≤ 3 ms): sustained 500k/s holds
//! in every run. Commit p99 ≤ 3 ms holds on an idle box (0.7–1.7 ms in three of four runs;
//! 4.2 ms in one run while other builds ran). On a busy disk it does not hold (20 ms),
//! because fdatasync alone is slower than the target there.
//!
//! Criterion (`cargo bench -p tern-wal --bench append -- --warm-up-time 1
//! --measurement-time 3`), closed loop:
//!
//! | bench | time | throughput |
//! |-------|-----:|-----------:|
//! | `append_200B_until_durable/none` (1000 appends + wait) | 179 µs | 5.6 M rec/s |
//! | `append_200B_until_durable/fsync` (1000 appends + wait) | 557 µs | 1.8 M rec/s |
//! | `append_200B_call/fsync` (owner cost per append) | 125 ns | 8.0 M rec/s |
//! | `append_200B_call/none` (includes more syncer wakes) | 155 ns | 6.4 M rec/s |
//!
//! Reads (`cargo bench -p tern-wal --bench read -- --warm-up-time 1 --measurement-time 3`):
//! 250 000 records of 300 bytes (82 MB over two 64 MiB segments, hot page cache, durability
//! `none`), one `WalReader::read` per iteration; criterion's estimate, range over three
//! runs on a busy box (load average 5–8 on 2 vCPU while other builds ran):
//!
//! | bench | time per read |
//! |-------|--------------:|
//! | `read_300B/random_lsn` | 1.8–3.0 µs |
//! | `read_300B/sequential_lsn` | 0.85–1.2 µs |
//! | `read_300B_after_reopen/random_lsn` (index rebuilt by recovery) | 2.0–2.7 µs |
//! | `read_300B_after_reopen/sequential_lsn` | 0.8–1.6 µs |
//!
//! A read is one `pread` of ~4 KiB from the page cache and the CRCs of the frames before the
//! one asked for (half a span on average); a read at random also misses the CPU caches.
//! The index held 19 232 points (308 KB) for those 250 000 records. In the same session the
//! owner's `append_200B_call/none` still took 123 ns per append (7.9 µs per 64).
#![warn(missing_docs)]

mod config;
mod error;
mod fault;
pub mod frame;
mod group_commit;
pub mod inspect;
mod liveness;
mod maintenance;
mod read;
pub mod recovery;
pub mod segment;
mod wal;

pub use config::{Durability, RecoveryMode, WalConfig};
pub use error::WalError;
pub use fault::{Fault, FaultInjector};
pub use group_commit::Durable;
pub use inspect::{InspectOptions, InspectReport, inspect};
pub use maintenance::{LiveRecord, MaintenanceReply, ReadLive};
pub use read::{READ_POINT_STRIDE_BYTES, WalReader};
pub use recovery::{RecordRef, Records, Recovery, RecoveryReport};
pub use segment::scan_segment_bytes;
pub use wal::Wal;

/// A log sequence number: dense and strictly increasing over the life of a data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for Lsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LSN {}", self.0)
    }
}

/// Identifies a segment; ids increase over the life of a data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId(pub u64);

/// Counters of a log, for reports and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalStats {
    /// Batches written.
    pub batches: u64,
    /// Appends that found the syncer parked and woke it (the only syscall an append makes).
    pub syncer_wakes: u64,
    /// fdatasync calls made by the syncer.
    pub syncs: u64,
    /// Record bytes written.
    pub written_bytes: u64,
    /// Rotations that had to wait for a spare segment.
    pub rotation_stalls: u64,
    /// Spare segments created (preallocated and zero-filled).
    pub segments_created: u64,
    /// Dead segments recycled into the spare pool.
    pub segments_recycled: u64,
    /// Dead segments deleted.
    pub segments_deleted: u64,
    /// Segments in use (the active one included).
    pub segments_in_use: usize,
    /// Live data records.
    pub live_records: u64,
}
