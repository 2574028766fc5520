//! DLR index: maps the SMSC's message id (ID2) back to our message, so that a delivery
//! receipt finds the message it reports on.
//!
//! # What it must do
//! ID2 is known only when the SMSC answers `submit_sm_resp`; the receipt carrying it may come
//! seconds or two days later (48 h validity is typical, 90 % come within 10 minutes), or
//! *before* the `submit_sm_resp` has been recorded, on another bind. Jasmin throws such early
//! receipts away and leaks the mappings of multipart messages; both are designed out here,
//! and memory is bounded by configuration, never by load.
//!
//! # Design
//! - **Keys.** A key is (connector id, ID2 as the connector normalised it, ≤ 64 bytes). The
//!   index stores only its 64-bit [`Fingerprint`]: xxh3 of `connector ‖ id2` under a fixed
//!   seed, so it is the same across restarts and in run files (0 is remapped; it marks empty
//!   slots). Two keys collide with probability 2^-64 per pair; that is tolerated because the
//!   engine checks every match against the message record. [`shard_of`] picks the shard
//!   whose instance owns a key from a bijective remix of the fingerprint, so the choice does
//!   not bias the bits that a shard's tables and filters use. One instance per shard, owned
//!   by one thread: no locks. Sans-IO: time comes in as `now_ms` (ms since the Unix epoch,
//!   because run files outlive the process), and files are written and opened by the caller
//!   on a blocking thread.
//! - **Hot tier.** Up to `hot_generations_max` fixed-size tables of 16-byte slots
//!   (fingerprint, value) share `hot_bytes_max`. Inserts go to the newest; it is sealed once
//!   it is 7/8 full or `generation_span_ms` old, so old entries leave in bulk, a generation at
//!   a time. The tables use linear probing with a monotonic home slot (`fp × slots >> 64`)
//!   and keep clusters in fingerprint order, so the whole table is sorted: a miss stops at the
//!   first larger fingerprint, deletion shifts back (no tombstones), and a sealed table *is*
//!   a sorted run, written without a sort. Full tables cost 16 B / 0.875 = 18.3 B per entry.
//! - **Disk tier.** [`DlrIndex::poll_flush`] hands out the oldest sealed generation once its
//!   last insert is `hot_horizon_ms` old (earlier, counted, when half the hot budget is in
//!   use). The caller writes it ([`FrozenRun::write_to`]: temp file, fdatasync, rename,
//!   directory fsync), opens it ([`DiskRun::open`]: validates length, magic, version, both
//!   CRC-32Cs and order) and installs it; lookups see the table until then. In RAM a run
//!   keeps a split-block Bloom filter (12 bits = 1.5 B per entry, ≈ 0.5 % false positives,
//!   one cache line per probe) and one fence per 4 KiB page, so a lookup reads (`pread`)
//!   at most one page per run whose filter lets it through. Runs are read, never mapped:
//!   pages a mapping touches count in the process's RSS, and at carrier receipt rates
//!   lookups touch every page of every run within seconds (160 MB for 10 M entries,
//!   measured in `perf/run receipts-10m`); pages read stay in the kernel's page cache. Runs are dropped
//!   whole when their TTL passes, and the oldest goes early (counted) past `disk_bytes_max`;
//!   the caller deletes the files that [`DlrIndex::poll_obsolete_file`] names.
//! - **Lookups** go hot tables newest first, then runs newest first (merged by run id when
//!   writes finish out of order, so a key's newest value always wins). A miss first asks all
//!   run filters, without early exit, so their cache misses overlap.
//! - **Early receipts.** [`DlrIndex::lookup_or_park`] parks an unknown receipt's token (at
//!   most `parked_max`, for `park_timeout_ms`); the key's [`DlrIndex::insert`] returns the
//!   parked tokens; [`DlrIndex::poll_unmatched`] releases those that waited too long, so the
//!   engine can try once more or report a receipt for an unknown message. A full park
//!   answers [`LookupOrPark::Refused`]: the engine answers the `deliver_sm` with a transient
//!   error and the SMSC retries. Nothing is dropped silently.
//! - **Lifetimes.** An entry lives at least `ttl_ms` and at most `ttl_ms +
//!   generation_span_ms`, then leaves with its generation or run; every part of a multipart
//!   message has its own entry and leaves the same way, so nothing waits for a receipt that
//!   never comes. [`DlrIndex::remove`] deletes a finished message's entries from the hot
//!   tables at once. Runs are immutable: a removed key already written to a run (or handed
//!   out for writing) still answers until the run's TTL — with a value it once had, which the
//!   engine's record check rejects.
//! - **Budgets.** Hot tables never exceed `hot_bytes_max`: when a new table is needed and
//!   none is free, the oldest unwritten generation is dropped and counted
//!   (`hot_entries_evicted`): a caller that cannot write runs loses its oldest receipts'
//!   mappings, never its memory. (A generation dropped while its writer still holds it stays
//!   allocated until that write ends.)
//! - **Restart.** Runs in the directory are reopened with [`open_dir`] (bad or torn files are
//!   reported and skipped, leftover temp files listed) and installed before the first insert;
//!   the hot tier is rebuilt by replaying the WAL's mappings through `insert`, skipping
//!   those a run already maps to the same value ([`DlrIndex::peek`]; the shard's side is
//!   `crate::shard::dlr_runs`).
//!
//! # Why hand-written
//! This is on every submit and every receipt. A `HashMap<String, u64>` costs ≈ 78 B per
//! entry and cannot be frozen into a sorted run without a copy and a sort; Redis-style
//! mappings cost 341–474 B. No crate offers a table that is its own sorted run. The code is
//! safe Rust.
//!
//! # Figures
//! Memory (asserted by `engine/tests/dlr_index_memory.rs`, 64 MiB hot budget in 16 tables,
//! 1M entries): hot tier 20.97 B/entry (5 tables, the newest partly filled; full tables
//! 18.3 B); disk tier 1.53 B/entry of RAM and 16.0 B/entry on disk. 10M receipts outstanding
//! at default settings therefore need the 128 MiB hot budget plus ≈ 15 MiB of filters and
//! 4 MiB of park; run pages live in the page cache, not in the process.
//!
//! Speed, `cargo bench -p tern-engine --bench dlr_index -- --warm-up-time 1
//! --measurement-time 3`, 2-vCPU VM with a load average of ~11 from parallel compiles (so
//! noisy and pessimistic); precomputed fingerprints, random keys, 200k entries in RAM and the
//! rest in 4 (1M) or 43 (10M) runs:
//!
//! | operation                         | 1M entries          | 10M entries         |
//! |-----------------------------------|---------------------|---------------------|
//! | insert (with rotation, eviction)  | 216 ns (4.6 M/s)    | 210 ns (4.8 M/s)    |
//! | lookup, hit in RAM                | 98 ns (10.2 M/s)    | 114 ns (8.8 M/s)    |
//! | lookup, hit on disk               | 844 ns (1.2 M/s)    | 8.3 µs (121 k/s)    |
//! | lookup, miss                      | 474 ns (2.1 M/s)    | 5.9 µs (170 k/s)    |
//!
//! With the default 7.5-minute generations a 48 h TTL leaves ~384 runs: a miss against 381
//! runs (1M entries) took 12.8 µs, a hit in the oldest 12.2 µs — one filter probe per run.
//! The fingerprint of a 16-byte ID2 costs 38 ns.
//!
//! # Driving it
//! ```
//! use tern_engine::dlr_index::{DiskRun, DlrIndex, DlrIndexConfig, Key, LookupOrPark};
//!
//! let dir = std::env::temp_dir().join(format!("dlr-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let mut index = DlrIndex::new(DlrIndexConfig::default())?;
//! let now_ms = 1_700_000_000_000;
//! let key = Key::new(7, b"4f2a9c")?;
//!
//! // The receipt beats its submit_sm_resp: parked, then handed back by the insert.
//! assert_eq!(index.lookup_or_park(key, 11, now_ms), LookupOrPark::Parked);
//! let outcome = index.insert(key, 42, now_ms + 3);
//! assert_eq!(outcome.early_receipts, &[11]);
//!
//! // Later the generation is written as a run (on a blocking thread in the engine).
//! let later_ms = now_ms + 30 * 60_000;
//! index.expire(later_ms);
//! while let Some(frozen) = index.poll_flush(later_ms) {
//!     let run = DiskRun::open(&frozen.write_to(&dir)?)?;
//!     index.install_run(run, later_ms)?;
//! }
//! assert_eq!(index.lookup(key), Some(42));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod config;
mod filter;
mod index;
mod key;
mod park;
mod run;
mod stats;
mod table;

pub use config::{ConfigError, DlrIndexConfig, GENERATION_HOME_SLOTS_MIN};
pub use index::{DlrIndex, InsertOutcome, InstallError, LookupOrPark};
pub use key::{Fingerprint, ID2_LEN_MAX, Key, KeyError, shard_of};
pub use run::{
    DiskRun, FrozenRun, RUN_ENTRY_BYTES, RUN_FILE_SUFFIX, RUN_HEADER_BYTES, RUN_MAGIC,
    RUN_TEMP_SUFFIX, RUN_VERSION, ReopenedRuns, RunError, open_dir, run_file_name,
};
pub use stats::{DlrIndexCounters, DlrIndexStats};
