//! The owner's handle: append, durability, done marks, space reclamation and compaction.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use crate::frame::{
    FIRST_RESERVED_KIND, FLAG_BATCH_START, FLAG_RELOCATED, KIND_CHECKPOINT, KIND_DONE,
    RECORD_HEADER_BYTES, encode_record_with_prefix, padded_record_bytes,
};
use crate::group_commit::{ActiveFile, Durable, Run, Shared, Syncer, lock};
use crate::liveness::{self, Bitmap, CHECKPOINT_PART_HEADER_BYTES, DONE_LSNS_PER_RECORD};
use crate::maintenance::{
    self, Job, LiveRecord, MaintenanceReply, MaintenanceState, ReadLive, Reply, SpareFile,
};
use crate::read::{self, IndexedSegment, PointPlacer, ReadIndex, WalReader};
use crate::recovery::{
    self, Access, DirScan, Liveness, RecoveredSegment, Recovery, RecoveryReport, SegmentReport,
};
use crate::segment::SEGMENT_HEADER_BYTES;
use crate::{Lsn, RecoveryMode, SegmentId, WalConfig, WalError, WalStats};

/// Largest checkpoint part payload (a part is one record).
const CHECKPOINT_PART_MAX_BYTES: usize = 64 << 10;

/// Where the owner writes next.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    segment_id: u64,
    offset: u64,
    segment_bytes: u64,
}

/// Where one record goes.
#[derive(Debug, Clone, Copy)]
struct Placement {
    segment_id: u64,
    file_offset: u64,
    segment_bytes: u64,
    opens_segment: bool,
}

/// What the owner knows about one segment in use.
#[derive(Debug)]
struct SegmentMeta {
    id: u64,
    first_lsn: u64,
    end_lsn: u64,
    /// Bit per LSN: live data.
    live: Bitmap,
    live_count: u64,
    data_count: u64,
    /// LSN of its last `DONE` or checkpoint record.
    last_meta_lsn: Option<u64>,
}

impl SegmentMeta {
    /// Dead and holding no tombstone or checkpoint that recovery could still need.
    fn is_reclaimable(&self, checkpoint_lsn: Option<u64>) -> bool {
        let meta_superseded = self
            .last_meta_lsn
            .is_none_or(|meta| checkpoint_lsn.is_some_and(|checkpoint| meta < checkpoint));
        self.live_count == 0 && meta_superseded
    }
}

#[derive(Debug, Default)]
struct CheckpointState {
    /// First LSN of the latest checkpoint known durable.
    durable_lsn: Option<u64>,
    /// (first LSN, end LSN) of a checkpoint written but not yet durable.
    in_flight: Option<(u64, u64)>,
    /// The active segment when the last checkpoint was written (one per segment suffices).
    written_in_segment: Option<u64>,
}

/// A segmented write-ahead log owned by one thread (one per shard).
///
/// `append` copies a framed record into an in-memory batch and returns its LSN at once; a
/// syncer thread writes and syncs batches back to back; [`Wal::durable`] resolves when an
/// LSN is on disk. See the crate docs for the design.
#[derive(Debug)]
pub struct Wal {
    shared: Arc<Shared>,
    next_lsn: u64,
    next_segment_id: u64,
    cursor: Option<Cursor>,
    segments: VecDeque<SegmentMeta>,
    done_pending: Vec<u64>,
    checkpoint: CheckpointState,
    rotated: bool,
    scratch: Vec<u8>,
    entry: Vec<u8>,
    part_bounds: Vec<(usize, usize)>,
    syncer: Option<JoinHandle<()>>,
    maintainer: Option<JoinHandle<()>>,
    _dir_lock: File,
}

impl Wal {
    /// Opens (or creates) the log in `dir`, recovers it, and starts its threads.
    ///
    /// Returns the log and the live records found, in LSN order. Corruption in the middle
    /// of the log is an error naming file and offset, unless `config.recovery` says to cut.
    pub fn open(dir: impl AsRef<Path>, config: WalConfig) -> Result<(Wal, Recovery), WalError> {
        config.validate()?;
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(WalError::io("create data directory"))?;
        let dir_lock = lock_dir(&dir)?;
        let mut opened = recover_dir(&dir, &config)?;
        let mut maintenance_state = MaintenanceState {
            next_file_no: opened.scan.next_file_no,
            ..MaintenanceState::default()
        };
        maintenance_state
            .spares
            .extend(std::mem::take(&mut opened.spares));
        for segment in &opened.scan.segments {
            maintenance_state
                .files
                .insert(segment.segment_id(), segment.path.clone());
        }
        let (segments, recovered) = segment_states(&mut opened)?;
        let (cursor, active) = active_segment(&opened)?;
        let read_index = read_index(&opened, active.as_ref())?;
        let shared = Arc::new(Shared::new(
            dir,
            config,
            opened.next_lsn,
            maintenance_state,
            read_index,
        ));
        shared.recovery_pins.fetch_add(1, Ordering::SeqCst);
        let recovery = Recovery {
            segments: recovered,
            report: opened.report,
            pin: Arc::clone(&shared),
        };
        let syncer = spawn("tern-wal-sync", {
            let syncer = Syncer::new(Arc::clone(&shared), active);
            move || syncer.run()
        })?;
        let maintainer = spawn("tern-wal-maint", {
            let shared = Arc::clone(&shared);
            move || maintenance::run(shared)
        })?;
        let wal = Wal {
            shared,
            next_lsn: opened.next_lsn,
            next_segment_id: opened.next_segment_id,
            cursor,
            segments,
            done_pending: Vec::with_capacity(DONE_LSNS_PER_RECORD),
            checkpoint: CheckpointState {
                durable_lsn: opened.liveness.checkpoint_lsn,
                ..CheckpointState::default()
            },
            rotated: false,
            scratch: Vec::new(),
            entry: Vec::new(),
            part_bounds: Vec::new(),
            syncer: Some(syncer),
            maintainer: Some(maintainer),
            _dir_lock: dir_lock,
        };
        Ok((wal, recovery))
    }

    /// Appends a record and returns its LSN at once; [`Wal::durable`] tells when it is on
    /// disk. No syscall, no page fault: a memcpy into the pending batch under a short lock
    /// (plus a wake of the syncer when it was idle).
    ///
    /// Fails with [`WalError::Full`] when `max_pending_bytes` are waiting (backpressure:
    /// refuse the message upstream, e.g. `ESME_RMSGQFUL`), and with [`WalError::Failed`]
    /// for good once a write or sync failed.
    pub fn append(&mut self, kind: u8, payload: &[u8]) -> Result<Lsn, WalError> {
        if kind >= FIRST_RESERVED_KIND {
            return Err(WalError::ReservedKind { kind });
        }
        let lsn = self.append_record(kind, payload, None)?;
        if std::mem::take(&mut self.rotated) {
            self.maintain();
        }
        Ok(Lsn(lsn))
    }

    /// A handle that reads durable records back by LSN, on any thread ([`WalReader`]).
    pub fn reader(&self) -> WalReader {
        WalReader::new(Arc::clone(&self.shared))
    }

    /// A future that resolves once `lsn` is durable, or with the error that stopped the log.
    pub fn durable(&self, lsn: Lsn) -> Durable {
        Durable::new(Arc::clone(&self.shared), lsn.0, lsn.0 < self.next_lsn)
    }

    /// True when `lsn` is already durable.
    pub fn is_durable(&self, lsn: Lsn) -> bool {
        lsn.0 < self.shared.durable_end()
    }

    /// The LSN the next append will get.
    pub fn next_lsn(&self) -> Lsn {
        Lsn(self.next_lsn)
    }

    /// True when `lsn` is a live record (appended and not marked done).
    pub fn is_live(&self, lsn: Lsn) -> bool {
        self.segment_index(lsn.0)
            .and_then(|index| self.segments.get(index))
            .is_some_and(|segment| segment.live.get((lsn.0 - segment.first_lsn) as usize))
    }

    /// Live data records in the log.
    pub fn live_records(&self) -> u64 {
        self.segments.iter().map(|segment| segment.live_count).sum()
    }

    /// Marks a record done: it will not be recovered after the next restart once its
    /// tombstone (batched, see [`Wal::flush_done`]) or a checkpoint is durable.
    pub fn mark_done(&mut self, lsn: Lsn) -> Result<(), WalError> {
        let emptied = self.clear_live(lsn)?;
        self.done_pending.push(lsn.0);
        if self.done_pending.len() >= DONE_LSNS_PER_RECORD {
            self.flush_done()?;
        }
        if emptied || self.checkpoint_turned_durable() {
            self.maintain();
        }
        Ok(())
    }

    /// Clears a live record's bit; returns whether its segment has no live record left.
    fn clear_live(&mut self, lsn: Lsn) -> Result<bool, WalError> {
        let index = self.segment_index(lsn.0).ok_or(WalError::NotLive { lsn })?;
        let Some(segment) = self.segments.get_mut(index) else {
            return Err(WalError::NotLive { lsn });
        };
        if !segment.live.clear((lsn.0 - segment.first_lsn) as usize) {
            return Err(WalError::NotLive { lsn });
        }
        segment.live_count -= 1;
        Ok(segment.live_count == 0)
    }

    /// Logs the pending done marks as `DONE` records now (they are also logged every 512
    /// marks). When the buffer is full the rest stay pending for a later call.
    pub fn flush_done(&mut self) -> Result<(), WalError> {
        while !self.done_pending.is_empty() {
            let count = self.done_pending.len().min(DONE_LSNS_PER_RECORD);
            let mut payload = std::mem::take(&mut self.scratch);
            payload.clear();
            liveness::encode_done(&mut payload, &self.done_pending[..count]);
            let outcome = self.append_record(KIND_DONE, &payload, None);
            self.scratch = payload;
            match outcome {
                Ok(_) => drop(self.done_pending.drain(..count)),
                Err(WalError::Full { .. }) => return Ok(()),
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Reclaims dead segments and writes a checkpoint when tombstones hold segments back.
    /// Runs by itself on rotation and when a segment empties; an idle owner may call it.
    pub fn maintain(&mut self) {
        self.maintain_with(false);
    }

    /// The oldest sealed segment whose live share is at most `compaction_live_percent`:
    /// copy its live records forward ([`Wal::read_live`], [`Wal::relocate`]) to free it.
    pub fn compaction_candidate(&self) -> Option<SegmentId> {
        let active = self.cursor.map(|cursor| cursor.segment_id);
        let percent = u64::from(self.shared.config.compaction_live_percent);
        self.segments
            .iter()
            .find(|segment| {
                Some(segment.id) != active
                    && segment.live_count > 0
                    && segment.live_count * 100 <= segment.data_count * percent
            })
            .map(|segment| SegmentId(segment.id))
    }

    /// Copies the live records of a sealed segment, read off the owner's thread.
    pub fn read_live(&self, segment: SegmentId) -> ReadLive {
        let reply = Reply::new();
        let active = self.cursor.map(|cursor| cursor.segment_id);
        match self.segments.iter().find(|meta| meta.id == segment.0) {
            None => reply.send(Ok(Vec::new())),
            Some(meta) if Some(meta.id) == active => reply.send(Err(WalError::NotSealed {
                segment_id: meta.id,
            })),
            Some(meta) => {
                let lsns = meta
                    .live
                    .ones()
                    .map(|bit| meta.first_lsn + bit as u64)
                    .collect();
                let job = Job::ReadLive {
                    segment_id: meta.id,
                    lsns,
                    after_lsn: meta.end_lsn,
                    reply: Arc::clone(&reply),
                };
                maintenance::submit(&self.shared, job);
            }
        }
        MaintenanceReply::new(reply)
    }

    /// Copies a live record forward: appends it again, and the copy itself marks the old
    /// LSN done, so a crash can never leave both or neither. Returns the new LSN, or `None`
    /// when the record died meanwhile. The owner must move its references to the new LSN.
    pub fn relocate(&mut self, record: &LiveRecord) -> Result<Option<Lsn>, WalError> {
        if record.kind >= FIRST_RESERVED_KIND {
            return Err(WalError::ReservedKind { kind: record.kind });
        }
        if !self.is_live(record.lsn) {
            return Ok(None);
        }
        let lsn = self.append_record(record.kind, &record.payload, Some(record.lsn.0))?;
        let emptied = self.clear_live(record.lsn)?;
        if emptied || std::mem::take(&mut self.rotated) {
            self.maintain();
        }
        Ok(Some(Lsn(lsn)))
    }

    /// Brings space reclamation up to date: logs done marks, checkpoints if needed, waits
    /// until everything appended is durable and every reclaim queued has run.
    pub async fn settle(&mut self) -> Result<(), WalError> {
        self.flush_done()?;
        self.maintain_with(true);
        self.durable(Lsn(self.next_lsn - 1)).await?;
        self.maintain_with(false);
        let reply = Reply::new();
        maintenance::submit(
            &self.shared,
            Job::Barrier {
                after_lsn: self.next_lsn,
                reply: Arc::clone(&reply),
            },
        );
        MaintenanceReply::new(reply).await
    }

    /// Counters for reports and tests.
    pub fn stats(&self) -> WalStats {
        let counters = &self.shared.counters;
        WalStats {
            batches: counters.batches.load(Ordering::Relaxed),
            syncer_wakes: counters.syncer_wakes.load(Ordering::Relaxed),
            syncs: counters.syncs.load(Ordering::Relaxed),
            written_bytes: counters.written_bytes.load(Ordering::Relaxed),
            rotation_stalls: counters.rotation_stalls.load(Ordering::Relaxed),
            segments_created: counters.segments_created.load(Ordering::Relaxed),
            segments_recycled: counters.segments_recycled.load(Ordering::Relaxed),
            segments_deleted: counters.segments_deleted.load(Ordering::Relaxed),
            segments_in_use: self.segments.len(),
            live_records: self.live_records(),
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Flushes done marks, drains the syncer and stops the threads; reports a failure.
    pub fn close(mut self) -> Result<(), WalError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), WalError> {
        let flushed = if self.shared.is_failed() {
            Ok(())
        } else {
            self.flush_all_done()
        };
        lock(&self.shared.pending).shutdown = true;
        self.shared.syncer_cv.notify_all();
        if let Some(syncer) = self.syncer.take() {
            let _ = syncer.join();
        }
        lock(&self.shared.maintenance).shutdown = true;
        self.shared.maintenance_cv.notify_all();
        if let Some(maintainer) = self.maintainer.take() {
            let _ = maintainer.join();
        }
        self.shared.read_index.close();
        flushed?;
        if self.shared.is_failed() {
            Err(self.shared.failure_error())
        } else {
            Ok(())
        }
    }

    /// Logs every pending done mark. `flush_done` stops when the unsynced batch is full;
    /// at close nothing may stay behind (it would come back as live after the restart),
    /// so wait for the syncer to drain the batch and go on until none is left.
    fn flush_all_done(&mut self) -> Result<(), WalError> {
        loop {
            self.flush_done()?;
            if self.done_pending.is_empty() {
                return Ok(());
            }
            block_on(self.durable(Lsn(self.next_lsn - 1)))?;
        }
    }

    fn segment_index(&self, lsn: u64) -> Option<usize> {
        let index = self
            .segments
            .partition_point(|segment| segment.first_lsn <= lsn)
            .checked_sub(1)?;
        self.segments
            .get(index)
            .filter(|segment| lsn < segment.end_lsn)
            .map(|_| index)
    }

    fn placement(&self, record_bytes: usize) -> Placement {
        match self.cursor {
            Some(cursor) if cursor.offset + record_bytes as u64 <= cursor.segment_bytes => {
                Placement {
                    segment_id: cursor.segment_id,
                    file_offset: cursor.offset,
                    segment_bytes: cursor.segment_bytes,
                    opens_segment: false,
                }
            }
            _ => Placement {
                segment_id: self.next_segment_id,
                file_offset: SEGMENT_HEADER_BYTES,
                segment_bytes: self.shared.config.segment_bytes,
                opens_segment: true,
            },
        }
    }

    /// Frames a record into the pending batch; the owner-side bookkeeping follows only
    /// once the record is in. `relocated_from` makes it a copy that retires that LSN.
    fn append_record(
        &mut self,
        kind: u8,
        payload: &[u8],
        relocated_from: Option<u64>,
    ) -> Result<u64, WalError> {
        let max_record_bytes = self.shared.config.max_record_bytes;
        if payload.len() > max_record_bytes {
            return Err(WalError::RecordTooLarge {
                payload_bytes: payload.len(),
                max_record_bytes,
            });
        }
        let prefix = relocated_from.map(u64::to_le_bytes);
        let prefix: &[u8] = prefix.as_ref().map_or(&[], |prefix| prefix);
        let record_bytes = padded_record_bytes(prefix.len() + payload.len());
        let placement = self.placement(record_bytes);
        let lsn = self.next_lsn;
        let relocated = if relocated_from.is_some() {
            FLAG_RELOCATED
        } else {
            0
        };
        let wake_syncer = self.stage(placement, lsn, record_bytes, |bytes, opens_batch| {
            let flags = relocated | if opens_batch { FLAG_BATCH_START } else { 0 };
            encode_record_with_prefix(bytes, kind, flags, lsn, prefix, payload);
        })?;
        if wake_syncer {
            self.shared
                .counters
                .syncer_wakes
                .fetch_add(1, Ordering::Relaxed);
            self.shared.syncer_cv.notify_one();
        }
        self.account(placement, record_bytes, lsn, kind, relocated_from.is_some());
        Ok(lsn)
    }

    /// Copies one record into the pending batch under the lock (one memcpy); returns
    /// whether the syncer is parked and must be woken.
    fn stage(
        &self,
        placement: Placement,
        lsn: u64,
        record_bytes: usize,
        encode: impl FnOnce(&mut Vec<u8>, bool),
    ) -> Result<bool, WalError> {
        let mut pending = lock(&self.shared.pending);
        if self.shared.is_failed() {
            return Err(self.shared.failure_error());
        }
        let max_pending_bytes = self.shared.config.max_pending_bytes;
        let pending_bytes = pending.bytes.len();
        if pending_bytes + record_bytes > max_pending_bytes {
            return Err(WalError::Full {
                pending_bytes,
                record_bytes,
                max_pending_bytes,
            });
        }
        let new_run = placement.opens_segment
            || pending
                .runs
                .last()
                .is_none_or(|run| run.segment_id != placement.segment_id);
        if new_run {
            pending.runs.push(Run {
                segment_id: placement.segment_id,
                activate_first_lsn: placement.opens_segment.then_some(lsn),
                segment_bytes: placement.segment_bytes,
                file_offset: placement.file_offset,
                start: pending_bytes,
                end: pending_bytes,
            });
        }
        // The first record the syncer will write in a batch, or in a segment, opens a batch.
        encode(
            &mut pending.bytes,
            pending_bytes == 0 || placement.opens_segment,
        );
        let end = pending.bytes.len();
        if let Some(run) = pending.runs.last_mut() {
            run.end = end;
        }
        pending.end_lsn = lsn + 1;
        Ok(std::mem::take(&mut pending.syncer_idle))
    }

    fn account(
        &mut self,
        placement: Placement,
        record_bytes: usize,
        lsn: u64,
        kind: u8,
        retires_lsn: bool,
    ) {
        if placement.opens_segment {
            self.next_segment_id += 1;
            self.rotated = true;
            let capacity_bits = bits_for(placement.segment_bytes);
            self.segments.push_back(SegmentMeta {
                id: placement.segment_id,
                first_lsn: lsn,
                end_lsn: lsn,
                live: Bitmap::with_capacity(capacity_bits),
                live_count: 0,
                data_count: 0,
                last_meta_lsn: None,
            });
        }
        self.cursor = Some(Cursor {
            segment_id: placement.segment_id,
            offset: placement.file_offset + record_bytes as u64,
            segment_bytes: placement.segment_bytes,
        });
        self.next_lsn = lsn + 1;
        if let Some(segment) = self.segments.back_mut() {
            let is_data = kind < FIRST_RESERVED_KIND;
            segment.end_lsn = lsn + 1;
            segment.live.push(is_data);
            if is_data {
                segment.live_count += 1;
                segment.data_count += 1;
            }
            // Tombstones, checkpoints and relocated copies tell recovery what is dead.
            if !is_data || retires_lsn {
                segment.last_meta_lsn = Some(lsn);
            }
        }
    }

    fn checkpoint_turned_durable(&mut self) -> bool {
        match self.checkpoint.in_flight {
            Some((first_lsn, end_lsn)) if self.shared.durable_end() >= end_lsn => {
                self.checkpoint.durable_lsn = Some(first_lsn);
                self.checkpoint.in_flight = None;
                true
            }
            _ => false,
        }
    }

    fn maintain_with(&mut self, force_checkpoint: bool) {
        self.checkpoint_turned_durable();
        self.reclaim_dead_segments();
        if self.checkpoint_wanted(force_checkpoint) {
            // A checkpoint that does not fit now is retried on the next maintenance.
            let _ = self.write_checkpoint();
        }
    }

    fn reclaim_dead_segments(&mut self) {
        let active = self.cursor.map(|cursor| cursor.segment_id);
        let checkpoint_lsn = self.checkpoint.durable_lsn;
        let mut index = 0;
        while let Some(segment) = self.segments.get(index) {
            if Some(segment.id) == active || !segment.is_reclaimable(checkpoint_lsn) {
                index += 1;
                continue;
            }
            if let Some(segment) = self.segments.remove(index) {
                // after_lsn: everything appended so far (copies of its records included)
                // must be durable before the segment disappears.
                let job = Job::Reclaim {
                    segment_id: segment.id,
                    end_lsn: segment.end_lsn,
                    after_lsn: self.next_lsn,
                };
                maintenance::submit(&self.shared, job);
            }
        }
    }

    fn checkpoint_wanted(&self, force: bool) -> bool {
        let active = self.cursor.map(|cursor| cursor.segment_id);
        if self.checkpoint.in_flight.is_some()
            || (!force && self.checkpoint.written_in_segment == active)
        {
            return false;
        }
        let checkpoint_lsn = self.checkpoint.durable_lsn;
        self.segments.iter().any(|segment| {
            Some(segment.id) != active
                && segment.live_count == 0
                && !segment.is_reclaimable(checkpoint_lsn)
        })
    }

    /// Writes a checkpoint of the live set: every live data LSN below its first LSN.
    fn write_checkpoint(&mut self) -> Result<(), WalError> {
        let checkpoint_lsn = self.next_lsn;
        self.encode_checkpoint(checkpoint_lsn);
        let total_bytes: usize = self
            .part_bounds
            .iter()
            .map(|(start, end)| padded_record_bytes(end - start))
            .sum();
        let room = {
            let pending = lock(&self.shared.pending);
            self.shared
                .config
                .max_pending_bytes
                .saturating_sub(pending.bytes.len())
        };
        if total_bytes > room {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.scratch);
        let bounds = std::mem::take(&mut self.part_bounds);
        let outcome = bounds.iter().try_for_each(|&(start, end)| {
            self.append_record(
                KIND_CHECKPOINT,
                bytes.get(start..end).unwrap_or_default(),
                None,
            )
            .map(drop)
        });
        self.scratch = bytes;
        self.part_bounds = bounds;
        outcome?;
        self.checkpoint.in_flight = Some((checkpoint_lsn, self.next_lsn));
        self.checkpoint.written_in_segment = self.cursor.map(|cursor| cursor.segment_id);
        // The checkpoint already reflects every pending done mark.
        self.done_pending.clear();
        Ok(())
    }

    /// Encodes the checkpoint parts into `scratch`, their bounds into `part_bounds`.
    fn encode_checkpoint(&mut self, checkpoint_lsn: u64) {
        let part_limit = self
            .shared
            .config
            .max_record_bytes
            .min(CHECKPOINT_PART_MAX_BYTES);
        let (bytes, bounds, entry) = (&mut self.scratch, &mut self.part_bounds, &mut self.entry);
        bytes.clear();
        bounds.clear();
        let mut part_start = 0;
        bytes.resize(CHECKPOINT_PART_HEADER_BYTES, 0);
        for segment in self
            .segments
            .iter()
            .filter(|segment| segment.live_count > 0)
        {
            liveness::encode_checkpoint_entries(
                entry,
                &segment.live,
                segment.first_lsn,
                |encoded| {
                    if bytes.len() - part_start + encoded.len() > part_limit {
                        bounds.push((part_start, bytes.len()));
                        part_start = bytes.len();
                        bytes.resize(part_start + CHECKPOINT_PART_HEADER_BYTES, 0);
                    }
                    bytes.extend_from_slice(encoded);
                },
            );
        }
        bounds.push((part_start, bytes.len()));
        let part_count = bounds.len() as u32;
        for (part_index, &(start, end)) in bounds.iter().enumerate() {
            if let Some(part) = bytes.get_mut(start..end) {
                liveness::write_part_header(part, checkpoint_lsn, part_index as u32, part_count);
            }
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// A data directory read back and repaired, before the log starts.
struct Opened {
    scan: DirScan,
    liveness: Liveness,
    report: RecoveryReport,
    spares: Vec<SpareFile>,
    next_lsn: u64,
    next_segment_id: u64,
    /// The last segment takes the next records (false after a cut or an LSN gap).
    continues_last: bool,
}

/// Scans, resolves corruption, cuts a torn tail and rebuilds the live set.
fn recover_dir(dir: &Path, config: &WalConfig) -> Result<Opened, WalError> {
    let mut scan = recovery::scan_dir(dir, Access::Map, false)?;
    let mut report = RecoveryReport::default();
    let (next_lsn, next_segment_id) = (scan.next_lsn(), scan.next_segment_id());
    let cut = resolve_corruption(&mut scan, config.recovery, &mut report)?;
    repair(&scan, config, cut, &mut report)?;
    let liveness =
        recovery::rebuild_liveness(&scan.segments).map_err(|problem| problem.to_error())?;
    let spares = adopt_spares(&scan, config)?;
    let continues_last = !cut
        && scan
            .segments
            .last()
            .is_some_and(|last| last.scan.end_lsn == next_lsn);
    report.checkpoint_lsn = liveness.checkpoint_lsn.map(Lsn);
    report.next_lsn = Lsn(next_lsn);
    report.spare_files = scan.spares.len();
    report.removed_blank_files = scan.blanks.len();
    Ok(Opened {
        scan,
        liveness,
        report,
        spares,
        next_lsn,
        next_segment_id,
        continues_last,
    })
}

/// The owner's view of each recovered segment, and the read-only maps of their records.
fn segment_states(
    opened: &mut Opened,
) -> Result<(VecDeque<SegmentMeta>, Vec<RecoveredSegment>), WalError> {
    let live_bitmaps = std::mem::take(&mut opened.liveness.live);
    let mut metas = VecDeque::with_capacity(opened.scan.segments.len());
    let mut recovered = Vec::with_capacity(opened.scan.segments.len());
    let count = opened.scan.segments.len();
    for (index, (segment, live)) in opened.scan.segments.iter().zip(live_bitmaps).enumerate() {
        let is_active = opened.continues_last && index + 1 == count;
        // The active segment's bitmap grows with appends: reserve its whole capacity now.
        let capacity_bits = if is_active {
            bits_for(segment.header.segment_bytes)
        } else {
            live.len()
        };
        let mut owner_live = Bitmap::with_capacity(capacity_bits);
        (0..live.len()).for_each(|bit| owner_live.push(live.get(bit)));
        let meta = SegmentMeta {
            id: segment.segment_id(),
            first_lsn: segment.header.first_lsn,
            end_lsn: segment.scan.end_lsn,
            live_count: live.count_ones(),
            data_count: segment.data.count_ones(),
            last_meta_lsn: segment.last_meta_lsn(),
            live: owner_live,
        };
        opened.report.segments.push(SegmentReport {
            file: segment.path.clone(),
            segment_id: meta.id,
            first_lsn: Lsn(meta.first_lsn),
            end_lsn: Lsn(meta.end_lsn),
            live_records: meta.live_count,
        });
        opened.report.live_records += meta.live_count;
        let map = recovery::map_records(&segment.path, segment.scan.end_offset)?;
        recovered.push(RecoveredSegment {
            map,
            first_lsn: segment.header.first_lsn,
            live,
        });
        metas.push_back(meta);
    }
    Ok((metas, recovered))
}

/// Bits needed for every record a segment of `segment_bytes` can hold.
fn bits_for(segment_bytes: u64) -> usize {
    (segment_bytes.saturating_sub(SEGMENT_HEADER_BYTES) / RECORD_HEADER_BYTES as u64) as usize
}

/// Where appends continue after recovery, and the file the syncer keeps writing.
fn active_segment(opened: &Opened) -> Result<(Option<Cursor>, Option<ActiveFile>), WalError> {
    let Some(last) = opened
        .scan
        .segments
        .last()
        .filter(|_| opened.continues_last)
    else {
        return Ok((None, None));
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&last.path)
        .map_err(WalError::io("open active segment"))?;
    let file = Arc::new(file);
    let cursor = Cursor {
        segment_id: last.segment_id(),
        offset: last.scan.end_offset,
        segment_bytes: last.header.segment_bytes,
    };
    let active = ActiveFile {
        segment_id: last.segment_id(),
        file,
        dirty: false,
        placer: PointPlacer::after(last.points.last().copied()),
    };
    Ok((Some(cursor), Some(active)))
}

/// The read index over the recovered segments, from the points their scan placed. Each
/// segment gets an open file for readers (the active one shares the syncer's).
fn read_index(opened: &Opened, active: Option<&ActiveFile>) -> Result<ReadIndex, WalError> {
    let mut indexed = Vec::with_capacity(opened.scan.segments.len());
    for segment in &opened.scan.segments {
        let active = active.filter(|active| active.segment_id == segment.segment_id());
        let (file, points_capacity) = match active {
            // The active segment's points grow with appends: reserve the whole bound now.
            Some(active) => (
                Arc::clone(&active.file),
                read::max_points(segment.header.segment_bytes),
            ),
            None => {
                let file =
                    File::open(&segment.path).map_err(WalError::io("open segment for reads"))?;
                (Arc::new(file), segment.points.len())
            }
        };
        let mut points = Vec::with_capacity(points_capacity.max(segment.points.len()));
        points.extend_from_slice(&segment.points);
        indexed.push(IndexedSegment {
            segment_id: segment.segment_id(),
            path: segment.path.clone(),
            file,
            first_lsn: segment.header.first_lsn,
            end_lsn: segment.scan.end_lsn,
            end_offset: segment.scan.end_offset,
            points,
        });
    }
    Ok(ReadIndex::new(indexed))
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, WalError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(body)
        .map_err(WalError::io("spawn WAL thread"))
}

/// Takes an exclusive lock on the data directory for the life of the log.
fn lock_dir(dir: &Path) -> Result<File, WalError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("LOCK"))
        .map_err(WalError::io("open lock file"))?;
    // SAFETY: flock takes a descriptor we own and touches no memory.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(WalError::Locked(dir.to_path_buf()));
    }
    Ok(file)
}

/// Strict mode refuses corruption; the override cuts the log at the first one.
/// Returns whether the log was cut.
fn resolve_corruption(
    scan: &mut DirScan,
    mode: RecoveryMode,
    report: &mut RecoveryReport,
) -> Result<bool, WalError> {
    let Some(first) = scan.problems.first().cloned() else {
        return Ok(false);
    };
    if mode == RecoveryMode::Strict {
        return Err(first.to_error());
    }
    let mut dropped: Vec<PathBuf> = std::mem::take(&mut scan.damaged);
    let mut cut = false;
    if let Some(point) = scan.first_cut {
        let keep = point.segment_index + usize::from(point.keep_segment);
        dropped.extend(
            scan.segments
                .drain(keep.min(scan.segments.len())..)
                .map(|segment| segment.path),
        );
        if point.keep_segment
            && let Some(segment) = scan.segments.last()
        {
            recovery::cut_at_corruption(segment)?;
        }
        scan.torn_tail = None;
        cut = true;
    }
    for path in &dropped {
        std::fs::remove_file(path).map_err(WalError::io("delete segment dropped at corruption"))?;
    }
    report.truncated_at_corruption = scan
        .problems
        .iter()
        .find(|problem| problem.segment_id != 0)
        .cloned()
        .or(Some(first));
    report.dropped_files = dropped;
    Ok(cut)
}

/// Removes blank files and cuts a torn tail.
fn repair(
    scan: &DirScan,
    config: &WalConfig,
    cut: bool,
    report: &mut RecoveryReport,
) -> Result<(), WalError> {
    for path in &scan.blanks {
        std::fs::remove_file(path).map_err(WalError::io("delete blank segment file"))?;
    }
    if let (Some(torn), Some(last), false) = (&scan.torn_tail, scan.segments.last(), cut) {
        recovery::cut_torn_tail(last, config.max_record_bytes)?;
        report.torn_tail = Some(torn.clone());
    }
    Ok(())
}

/// Reuses spare files of the configured size up to the pool bound; deletes the rest.
fn adopt_spares(scan: &DirScan, config: &WalConfig) -> Result<Vec<SpareFile>, WalError> {
    let limit = config.spare_segments + config.max_recycled_segments;
    let mut spares = Vec::new();
    for spare in &scan.spares {
        if spare.file_bytes != config.segment_bytes || spares.len() >= limit {
            std::fs::remove_file(&spare.path).map_err(WalError::io("delete surplus spare"))?;
            continue;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&spare.path)
            .map_err(WalError::io("open spare"))?;
        spares.push(SpareFile {
            path: spare.path.clone(),
            file,
        });
    }
    Ok(spares)
}

/// Runs a future to completion on the calling thread, parking between polls. Only for
/// `close`, which runs off any executor and must wait for the syncer.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}
