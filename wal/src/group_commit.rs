//! Group commit: the state shared by the owner, the syncer thread and the maintenance
//! thread; the syncer loop; and the [`Durable`] completion future.
//!
//! The owner copies framed records into `Pending` under a mutex it holds for one memcpy.
//! The syncer swaps that buffer for its own empty one, writes it with `pwrite`, syncs, and
//! publishes the durable LSN; then it takes whatever was appended meanwhile, at once. There
//! is no timer: a batch is exactly what arrived during the previous sync.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::fault::Fault;
use crate::frame::RECORD_HEADER_BYTES;
use crate::maintenance::{self, MaintenanceState};
use crate::read::{self, IndexedSegment, Point, PointPlacer, ReadIndex, SegmentUpdate};
use crate::segment::{SegmentHeader, SegmentState};
use crate::{Durability, Lsn, WalConfig, WalError};

/// Locks a mutex, ignoring poisoning: no code path panics while holding these locks, and
/// the data they guard stays consistent between statements.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on a condition variable, ignoring poisoning (see [`lock`]).
pub(crate) fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

/// A contiguous stretch of a batch that goes to one segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    /// The segment the bytes belong to.
    pub segment_id: u64,
    /// Set when this run opens the segment: the syncer writes its header first.
    pub activate_first_lsn: Option<u64>,
    /// Size of the segment file.
    pub segment_bytes: u64,
    /// Where the bytes go in the file.
    pub file_offset: u64,
    /// Start of the run in the batch buffer.
    pub start: usize,
    /// End (exclusive) of the run in the batch buffer.
    pub end: usize,
}

/// Records appended but not yet taken by the syncer.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Framed records, back to back.
    pub bytes: Vec<u8>,
    /// Where each stretch of `bytes` goes.
    pub runs: Vec<Run>,
    /// The LSN after the last record in `bytes`.
    pub end_lsn: u64,
    /// The syncer is parked waiting for records; the next append must wake it.
    pub syncer_idle: bool,
    /// The owner is closing: the syncer drains and exits.
    pub shutdown: bool,
}

/// Counters shared by the threads (relaxed; for reports and tests).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub batches: AtomicU64,
    pub syncer_wakes: AtomicU64,
    pub syncs: AtomicU64,
    pub written_bytes: AtomicU64,
    pub rotation_stalls: AtomicU64,
    pub segments_created: AtomicU64,
    pub segments_recycled: AtomicU64,
    pub segments_deleted: AtomicU64,
}

/// Wakers waiting for LSNs to become durable, sorted by LSN.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    queue: VecDeque<(u64, Waker)>,
}

impl Waiters {
    /// Registers `waker` for `lsn`; a task already waiting for an earlier LSN is not added
    /// again, since it will be polled when that one completes.
    fn register(&mut self, lsn: u64, waker: &Waker) {
        match self.queue.back() {
            Some((back_lsn, back)) if *back_lsn <= lsn => {
                if !back.will_wake(waker) {
                    self.queue.push_back((lsn, waker.clone()));
                }
            }
            None => self.queue.push_back((lsn, waker.clone())),
            Some(_) => {
                let at = self.queue.partition_point(|(queued, _)| *queued <= lsn);
                self.queue.insert(at, (lsn, waker.clone()));
            }
        }
    }

    fn drain_below(&mut self, durable_end: u64, out: &mut Vec<Waker>) {
        while self
            .queue
            .front()
            .is_some_and(|(lsn, _)| *lsn < durable_end)
        {
            if let Some((_, waker)) = self.queue.pop_front() {
                out.push(waker);
            }
        }
    }
}

/// State shared by the owner, the syncer and the maintenance thread of one log.
#[derive(Debug)]
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub config: WalConfig,
    pub pending: Mutex<Pending>,
    pub syncer_cv: Condvar,
    /// Every LSN below this is durable.
    pub durable_end: AtomicU64,
    failed: AtomicBool,
    failure: OnceLock<Arc<str>>,
    waiters: Mutex<Waiters>,
    pub maintenance: Mutex<MaintenanceState>,
    /// The maintenance thread waits here for jobs, durability or a spare to make.
    pub maintenance_cv: Condvar,
    /// The syncer waits here for a spare segment.
    pub spare_cv: Condvar,
    /// The LSN the maintenance thread waits to see durable (u64::MAX: none).
    pub maintenance_wait_lsn: AtomicU64,
    /// Live [`crate::Recovery`] values still borrowing mapped segments.
    pub recovery_pins: AtomicUsize,
    /// Where each durable record lies, for [`crate::WalReader`].
    pub read_index: ReadIndex,
    pub counters: Counters,
}

impl Shared {
    pub fn new(
        dir: PathBuf,
        config: WalConfig,
        durable_end: u64,
        maintenance: MaintenanceState,
        read_index: ReadIndex,
    ) -> Self {
        let pending = Pending {
            bytes: prefaulted_buffer(config.max_pending_bytes),
            end_lsn: durable_end,
            ..Pending::default()
        };
        Shared {
            dir,
            config,
            pending: Mutex::new(pending),
            syncer_cv: Condvar::new(),
            durable_end: AtomicU64::new(durable_end),
            failed: AtomicBool::new(false),
            failure: OnceLock::new(),
            waiters: Mutex::new(Waiters::default()),
            maintenance: Mutex::new(maintenance),
            maintenance_cv: Condvar::new(),
            spare_cv: Condvar::new(),
            maintenance_wait_lsn: AtomicU64::new(u64::MAX),
            recovery_pins: AtomicUsize::new(0),
            read_index,
            counters: Counters::default(),
        }
    }

    /// Every LSN below the returned one is durable.
    pub fn durable_end(&self) -> u64 {
        self.durable_end.load(Ordering::SeqCst)
    }

    /// True once the log has stopped after a failure.
    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// The error every caller gets after the log failed.
    pub fn failure_error(&self) -> WalError {
        let reason = self
            .failure
            .get()
            .cloned()
            .unwrap_or_else(|| Arc::from("unknown failure"));
        WalError::Failed { reason }
    }

    /// Stops the log for good: appends are refused, waiters get the error, threads wind down.
    pub fn fail(&self, reason: &str) {
        let _ = self.failure.set(Arc::from(reason));
        self.failed.store(true, Ordering::Release);
        let mut woken = Vec::new();
        lock(&self.waiters).drain_below(u64::MAX, &mut woken);
        woken.into_iter().for_each(Waker::wake);
        let _maintenance = lock(&self.maintenance);
        self.maintenance_cv.notify_all();
        self.spare_cv.notify_all();
    }

    /// The outcome for a waiter on `lsn`, if it is known yet.
    fn durable_state(&self, lsn: u64) -> Option<Result<(), WalError>> {
        if self.durable_end.load(Ordering::Acquire) > lsn {
            return Some(Ok(()));
        }
        self.is_failed().then(|| Err(self.failure_error()))
    }
}

/// A buffer with its pages touched once, so appends never take a page fault on it.
pub(crate) fn prefaulted_buffer(capacity_bytes: usize) -> Vec<u8> {
    let mut buffer = vec![1u8; capacity_bytes];
    buffer.clear();
    buffer
}

/// Resolves once a record is durable (or with the error that stopped the log).
///
/// It holds no borrow of the log and works on any executor: the syncer thread wakes the
/// task's [`Waker`] from its own thread, and one wake serves every record of the batch.
#[derive(Debug)]
#[must_use = "a durability completion does nothing unless awaited"]
pub struct Durable {
    shared: Arc<Shared>,
    lsn: u64,
    appended: bool,
}

impl Durable {
    pub(crate) fn new(shared: Arc<Shared>, lsn: u64, appended: bool) -> Self {
        Durable {
            shared,
            lsn,
            appended,
        }
    }
}

impl Future for Durable {
    type Output = Result<(), WalError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.appended {
            return Poll::Ready(Err(WalError::NotAppended { lsn: Lsn(self.lsn) }));
        }
        if let Some(outcome) = self.shared.durable_state(self.lsn) {
            return Poll::Ready(outcome);
        }
        let mut waiters = lock(&self.shared.waiters);
        // Checked again under the lock: the syncer publishes before it drains the queue.
        if let Some(outcome) = self.shared.durable_state(self.lsn) {
            return Poll::Ready(outcome);
        }
        waiters.register(self.lsn, cx.waker());
        Poll::Pending
    }
}

/// The segment file the syncer is writing.
#[derive(Debug)]
pub(crate) struct ActiveFile {
    pub segment_id: u64,
    /// Shared with the read index, so readers `pread` the same open file.
    pub file: Arc<File>,
    pub dirty: bool,
    /// Where the segment's next read index point goes.
    pub placer: PointPlacer,
}

/// The syncer thread's state.
pub(crate) struct Syncer {
    shared: Arc<Shared>,
    active: Option<ActiveFile>,
    bytes: Vec<u8>,
    runs: Vec<Run>,
    woken: Vec<Waker>,
    /// The read index points of the batch being written (bounded by the batch size).
    index_points: Vec<Point>,
    /// Per run of the batch: its segment's new points and end (one entry per run).
    index_updates: Vec<SegmentUpdate>,
}

impl Syncer {
    pub fn new(shared: Arc<Shared>, active: Option<ActiveFile>) -> Self {
        let bytes = prefaulted_buffer(shared.config.max_pending_bytes);
        // A batch places at most one point per stride of its bytes, plus one per segment.
        let index_points = Vec::with_capacity(
            shared.config.max_pending_bytes / read::READ_POINT_STRIDE_BYTES as usize + 4,
        );
        Syncer {
            shared,
            active,
            bytes,
            runs: Vec::new(),
            woken: Vec::new(),
            index_points,
            index_updates: Vec::new(),
        }
    }

    /// The loop: take, write, sync, publish; back to back until shutdown or failure.
    pub fn run(mut self) {
        while let Some(end_lsn) = self.take_batch() {
            if let Err(reason) = self.write_batch() {
                self.shared.fail(&reason);
                break;
            }
            self.publish(end_lsn);
        }
        lock(&self.shared.maintenance).syncer_done = true;
        self.shared.maintenance_cv.notify_all();
    }

    /// Swaps the pending buffer for the syncer's empty one; `None` once closing and drained.
    fn take_batch(&mut self) -> Option<u64> {
        self.bytes.clear();
        self.runs.clear();
        self.index_points.clear();
        self.index_updates.clear();
        let mut pending = lock(&self.shared.pending);
        loop {
            if self.shared.is_failed() {
                return None;
            }
            if !pending.bytes.is_empty() {
                std::mem::swap(&mut pending.bytes, &mut self.bytes);
                std::mem::swap(&mut pending.runs, &mut self.runs);
                pending.syncer_idle = false;
                return Some(pending.end_lsn);
            }
            if pending.shutdown {
                return None;
            }
            pending.syncer_idle = true;
            pending = wait(&self.shared.syncer_cv, pending);
        }
    }

    fn write_batch(&mut self) -> Result<(), String> {
        let faults = &self.shared.config.faults;
        if faults.fire(Fault::CrashBeforeSync) {
            return Err("injected crash: batch dropped before it was written".into());
        }
        let torn = faults.fire(Fault::TornWrite);
        for index in 0..self.runs.len() {
            let run = self.runs[index];
            if let Some(first_lsn) = run.activate_first_lsn {
                self.activate(run.segment_id, first_lsn, run.segment_bytes)?;
            }
            let Some(active) = self
                .active
                .as_mut()
                .filter(|active| active.segment_id == run.segment_id)
            else {
                return Err(format!(
                    "internal: batch names segment {} the syncer does not hold",
                    run.segment_id
                ));
            };
            let data = self.bytes.get(run.start..run.end).unwrap_or_default();
            let data = if torn {
                data.get(..data.len() / 2).unwrap_or_default()
            } else {
                data
            };
            active
                .file
                .write_all_at(data, run.file_offset)
                .map_err(|error| format!("pwrite: {error}"))?;
            if torn {
                return Err("injected crash: torn write".into());
            }
            write_end_marker(&active.file, run)?;
            active.dirty = true;
            self.shared
                .counters
                .written_bytes
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            let first_point = self.index_points.len();
            let end_lsn = read::place_points(
                data,
                run.file_offset,
                &mut active.placer,
                &mut self.index_points,
            );
            if let Some(end_lsn) = end_lsn {
                self.index_updates.push(SegmentUpdate {
                    segment_id: run.segment_id,
                    points: first_point..self.index_points.len(),
                    end_lsn,
                    end_offset: run.file_offset + data.len() as u64,
                });
            }
        }
        self.sync_active()?;
        // Before the durable LSN moves, so every durable LSN is in the index.
        self.shared
            .read_index
            .apply(&self.index_updates, &self.index_points);
        Ok(())
    }

    /// Opens the next segment: the previous one is made durable first, and the new header
    /// is made durable before any record goes behind it, so a valid header proves that every
    /// earlier segment was complete and a spare header proves the file holds no new record.
    fn activate(
        &mut self,
        segment_id: u64,
        first_lsn: u64,
        segment_bytes: u64,
    ) -> Result<(), String> {
        self.sync_active()?;
        let spare = maintenance::take_spare(&self.shared)?;
        let header = SegmentHeader {
            state: SegmentState::Segment,
            segment_id,
            first_lsn,
            segment_bytes,
            max_batch_bytes: self.shared.config.max_pending_bytes as u64,
        };
        spare
            .file
            .write_all_at(&header.encode(), 0)
            .map_err(|error| format!("write segment header: {error}"))?;
        let file = Arc::new(spare.file);
        // The points are reserved whole now, so publishing them never reallocates under
        // the index lock.
        self.shared.read_index.register(IndexedSegment {
            segment_id,
            path: spare.path.clone(),
            file: Arc::clone(&file),
            first_lsn,
            end_lsn: first_lsn,
            end_offset: crate::segment::SEGMENT_HEADER_BYTES,
            points: Vec::with_capacity(read::max_points(segment_bytes)),
        });
        lock(&self.shared.maintenance)
            .files
            .insert(segment_id, spare.path);
        self.active = Some(ActiveFile {
            segment_id,
            file,
            dirty: true,
            placer: PointPlacer::new(),
        });
        self.sync_active()
    }

    fn sync_active(&mut self) -> Result<(), String> {
        let Some(active) = self.active.as_mut().filter(|active| active.dirty) else {
            return Ok(());
        };
        if self.shared.config.faults.fire(Fault::FailSync) {
            return Err("fdatasync failed: injected EIO".into());
        }
        if self.shared.config.durability == Durability::Fsync {
            active
                .file
                .sync_data()
                .map_err(|error| format!("fdatasync: {error}"))?;
            self.shared.counters.syncs.fetch_add(1, Ordering::Relaxed);
        }
        active.dirty = false;
        Ok(())
    }

    fn publish(&mut self, end_lsn: u64) {
        self.shared.durable_end.store(end_lsn, Ordering::SeqCst);
        self.shared.counters.batches.fetch_add(1, Ordering::Relaxed);
        lock(&self.shared.waiters).drain_below(end_lsn, &mut self.woken);
        self.woken.drain(..).for_each(Waker::wake);
        maintenance::notify_durable(&self.shared, end_lsn);
    }
}

/// Writes a zero record header after a run, so a clean end reads as zeros even when the
/// file still holds older records further on. Skipped when the run fills the segment.
fn write_end_marker(file: &File, run: Run) -> Result<(), String> {
    let end = run.file_offset + (run.end - run.start) as u64;
    if end + RECORD_HEADER_BYTES as u64 > run.segment_bytes {
        return Ok(());
    }
    file.write_all_at(&[0u8; RECORD_HEADER_BYTES], end)
        .map_err(|error| format!("pwrite end marker: {error}"))
}
