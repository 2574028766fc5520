//! WAL compaction run by the shard: copying long-lived records out of mostly dead segments
//! so that disk use follows the live data, not the traffic.
//!
//! # Why
//! The WAL reclaims a sealed segment only once none of its records is live. A message
//! waiting 48 h for its receipt keeps its Accepted and Submitted records live, so one
//! straggler per segment would hold every 64 MiB segment written meanwhile. The WAL offers
//! copy-forward ([`Wal::compaction_candidate`], [`Wal::read_live`], [`Wal::relocate`]; see
//! tern-wal's "Space"); this module is the owner's part of it.
//!
//! # Design
//! - **One loop per shard** ([`run`], a task on the shard's executor, spawned by the
//!   gateway): when the WAL names a candidate (the oldest sealed segment at most
//!   `compaction_live_percent` live, 25% by default), its live records are read by the
//!   WAL's maintenance thread ([`Core::compaction_start`]; the task awaits the copy, the
//!   shard never blocks on the disk), then relocated in batches of at most
//!   [`RELOCATE_BATCH_MAX`] records per borrow of the core ([`Core::relocate_batch`]),
//!   yielding to the executor between batches so client traffic is never stalled behind
//!   a segment. One segment at a time; with no candidate the loop looks again every
//!   [`IDLE_MS`]. A full unsynced buffer ([`WalError::Full`]) is backpressure: the loop
//!   waits [`FULL_BACKOFF_MS`] and retries the same record; client traffic has priority.
//! - **Every reference follows the copy, in the same borrow** as the relocate, through
//!   one dispatcher, [`Core::relocated`] (record kind and payload → the holder): message
//!   records (Accepted, Submitted, Final, ReceiptPending) → the message's
//!   [`crate::lifecycle::Lifecycle::relocated`]; MO records → the [`crate::mo::MoBook`].
//!   No other engine state holds an LSN as a record reference (the LSNs that sessions,
//!   binds and the mesh keep are durability waits, which a copy does not change). A
//!   parked message's slot ([`crate::lifecycle::MessageSlot`]) follows its copies too;
//!   until an Accepted copy is durable, a read of it falls back to the original (whose
//!   segment is reclaimed only after the copy is durable).
//! - **A record with no holder** (a record of the engine's kinds whose message or MO is
//!   gone: an orphan left by an older run) has its copy marked done at once, so it leaves
//!   the log with its segment. A record of a kind the engine does not know is left live
//!   and logged: better an unreclaimed segment than a record dropped.
//! - **Crash safety** is the WAL's: the copy carries the old LSN and is its tombstone, so
//!   a crash leaves exactly one of the two; a reclaim waits until the copies are durable.
//!   Recovery then sees a message's records out of their life's order (an Accepted copy
//!   after its Submitted record); [`crate::lifecycle::Recovery`] gathers each message's
//!   records before it judges them, so the order does not matter.
//!
//! # Bounds
//! The records read are those of one segment that is at most `compaction_live_percent`
//! live: at most a quarter of a segment (16 MiB at the default 64 MiB) in memory, once.
//! Each batch appends at most [`RELOCATE_BATCH_MAX`] copies (≤ 256 × the largest record)
//! to the unsynced buffer, whose own bound refuses the rest.
//!
//! # Metrics
//! Per shard ([`crate::metrics::ShardMetrics`]): `wal_segments_compacted`,
//! `wal_records_relocated`, and the gauges `wal_segments_in_use`, `wal_live_records`
//! (set by the loop at each look), rendered as `tern_wal_*` on `/metrics`.
//!
//! # Measured
//! `cargo test -p tern-engine --test wal_compaction -- --nocapture` (debug build, one
//! shard, fsync on, 256 KiB segments, 2-vCPU VM shared with other builds; three runs):
//! 12,000 messages, one in 20 (600) whose receipts the SMSC withholds: 16 segments
//! compacted, 3 in use afterwards (1 MiB of WAL files with the spare pool) where without
//! compaction every one of them would stay; the 1,200 live records were copied
//! 6,377–6,918 times in all (each ~5 times: the segment that takes the copies fills with
//! traffic, is sealed mostly dead, and qualifies again). The WAL's policy bounds that
//! cost in records: a segment is copied only when at most a quarter of its records are
//! live, so each record copied frees at least three. In bytes the ratio is weaker, since
//! the records that stay live (Accepted) are larger than the average one.

use std::time::Duration;

use glommio::timer::sleep;
use tern_wal::{LiveRecord, Lsn, ReadLive, SegmentId, Wal, WalError};

use super::{Core, CoreRef};
use crate::message::{MoRecord, Record, kind};

/// Most records relocated in one borrow of the core; the loop yields between batches.
pub const RELOCATE_BATCH_MAX: usize = 256;
/// How often the loop looks for a candidate when there is none, in milliseconds.
pub const IDLE_MS: u64 = 100;
/// Wait after the WAL's unsynced buffer was full, in milliseconds.
pub const FULL_BACKOFF_MS: u64 = 10;

/// True for the record kinds the engine writes and [`Core::relocated`] knows the holders of.
fn is_engine_kind(record_kind: u8) -> bool {
    kind::is_message_kind(record_kind) || record_kind == kind::MO
}

impl Core {
    /// The segment to compact next and the read of its live records (a future served by
    /// the WAL's maintenance thread); `None` when no segment qualifies or the WAL is closed.
    pub fn compaction_start(&self) -> Option<(SegmentId, ReadLive)> {
        let wal = self.wal.as_ref()?;
        let segment = wal.compaction_candidate()?;
        Some((segment, wal.read_live(segment)))
    }

    /// Copies forward the first [`RELOCATE_BATCH_MAX`] of `records` (or fewer, when the
    /// WAL's buffer fills) and moves each holder's reference to the copy; returns how
    /// many records were dealt with. A record that died meanwhile is skipped.
    ///
    /// Fails with [`WalError::Full`] when not even the first record fits now (back off),
    /// and with the WAL's error when it is closed or stopped.
    pub fn relocate_batch(&mut self, records: &[LiveRecord]) -> Result<usize, WalError> {
        let mut handled = 0;
        for record in records.iter().take(RELOCATE_BATCH_MAX) {
            let wal = self.wal.as_mut().ok_or(WalError::Closed)?;
            let new = match wal.relocate(record) {
                Ok(new) => new,
                Err(WalError::Full { .. }) if handled > 0 => return Ok(handled),
                Err(error) => return Err(error),
            };
            handled += 1;
            let Some(new) = new else {
                continue;
            };
            self.metrics.wal_records_relocated.inc();
            if self.relocated(record.kind, &record.payload, record.lsn, new) {
                continue;
            }
            self.relocated_without_holder(record.kind, record.lsn, new);
        }
        Ok(handled)
    }

    /// The WAL copied the record (`record_kind`, `payload`) from `old` to `new`: moves
    /// the reference of whoever holds it. False when nothing here holds it. The one
    /// place every holder of an LSN is named.
    pub fn relocated(&mut self, record_kind: u8, payload: &[u8], old: Lsn, new: Lsn) -> bool {
        if kind::is_message_kind(record_kind) {
            let Ok(record) = Record::decode(record_kind, payload) else {
                return false;
            };
            let id = record.id();
            return match self.messages.get_mut(&id) {
                Some(entry) => entry.lifecycle.relocated(old, new),
                None => self.relocated_parked(id, old, new),
            };
        }
        if record_kind == kind::MO {
            return MoRecord::decode(payload).is_ok_and(|record| {
                let id = record.id;
                self.mo.relocated(id, old, new)
            });
        }
        false
    }

    /// A copy nobody refers to: an orphan of the engine's kinds leaves the log; a record
    /// of an unknown kind stays live (never drop what might be someone's).
    fn relocated_without_holder(&mut self, record_kind: u8, old: Lsn, new: Lsn) {
        if !is_engine_kind(record_kind) {
            tracing::error!(
                shard = self.shard,
                kind = record_kind,
                old = old.get(),
                new = new.get(),
                "relocated a record of a kind no holder knows; left live"
            );
            return;
        }
        tracing::debug!(
            shard = self.shard,
            kind = record_kind,
            old = old.get(),
            "relocated record has no holder; marked done"
        );
        if let Some(Err(error)) = self.wal.as_mut().map(|wal| wal.mark_done(new)) {
            tracing::warn!(error = %error, "mark_done of an orphan copy failed");
        }
    }

    /// Publishes the WAL's segment and live-record counts for `/metrics` and tests.
    pub fn publish_wal_gauges(&self) {
        let Some(stats) = self.wal.as_ref().map(Wal::stats) else {
            return;
        };
        self.metrics
            .wal_segments_in_use
            .set(stats.segments_in_use as u64);
        self.metrics.wal_live_records.set(stats.live_records);
    }
}

/// How relocating one segment's records ended.
enum Pass {
    /// Every record was dealt with.
    Done,
    /// The WAL failed or closed: try another segment later.
    Failed,
    /// The shard is stopping.
    Stopped,
}

/// The shard's compaction loop; returns once the core is stopping.
pub async fn run(core: CoreRef) {
    loop {
        let start = {
            let core = core.borrow();
            if core.stopping {
                return;
            }
            core.publish_wal_gauges();
            core.compaction_start()
        };
        let Some((segment, read)) = start else {
            sleep(Duration::from_millis(IDLE_MS)).await;
            continue;
        };
        let records = match read.await {
            Ok(records) => records,
            Err(error) => {
                tracing::warn!(segment = segment.0, error = %error, "compaction read failed");
                sleep(Duration::from_millis(IDLE_MS)).await;
                continue;
            }
        };
        match relocate_all(&core, &records).await {
            Pass::Done => {
                let core = core.borrow();
                core.metrics.wal_segments_compacted.inc();
                tracing::debug!(
                    shard = core.shard,
                    segment = segment.0,
                    records = records.len(),
                    "segment compacted"
                );
            }
            Pass::Failed => sleep(Duration::from_millis(IDLE_MS)).await,
            Pass::Stopped => return,
        }
    }
}

/// Relocates `records` batch by batch, yielding between batches.
async fn relocate_all(core: &CoreRef, records: &[LiveRecord]) -> Pass {
    let mut next = 0;
    while let Some(rest) = records.get(next..).filter(|rest| !rest.is_empty()) {
        let step = {
            let mut core = core.borrow_mut();
            if core.stopping {
                return Pass::Stopped;
            }
            core.relocate_batch(rest)
        };
        match step {
            Ok(handled) => {
                next += handled;
                futures_lite::future::yield_now().await;
            }
            Err(WalError::Full { .. }) => sleep(Duration::from_millis(FULL_BACKOFF_MS)).await,
            Err(error) => {
                tracing::warn!(error = %error, "compaction relocate failed");
                return Pass::Failed;
            }
        }
    }
    Pass::Done
}
