//! The maintenance thread: keeps zero-filled spare segments ready, reclaims dead segments
//! (recycles or deletes them), and reads live records of old segments for compaction, all
//! off the owner's executor thread.
//!
//! Jobs run in the order the owner queued them, each only once every LSN below its
//! `after_lsn` is durable: a segment is reclaimed only after the records copied out of it,
//! and the checkpoint that made its tombstones unnecessary, are on disk.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::group_commit::{Shared, lock, wait};
use crate::segment::{self, SegmentHeader, SegmentState};
use crate::{Durability, Lsn, WalError};

/// A spare segment file, zero-filled or recycled, with a durable spare header.
#[derive(Debug)]
pub(crate) struct SpareFile {
    pub path: PathBuf,
    pub file: File,
}

/// A live record copied out of an old segment so the owner can append it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRecord {
    /// Its LSN in the old segment.
    pub lsn: Lsn,
    /// Its kind.
    pub kind: u8,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// Work the owner hands to the maintenance thread.
#[derive(Debug)]
pub(crate) enum Job {
    /// Turn a dead segment into a spare (or delete it).
    Reclaim {
        segment_id: u64,
        end_lsn: u64,
        after_lsn: u64,
    },
    /// Copy the listed live records out of a sealed segment.
    ReadLive {
        segment_id: u64,
        lsns: Vec<u64>,
        after_lsn: u64,
        reply: Arc<Reply<Result<Vec<LiveRecord>, WalError>>>,
    },
    /// Resolve once every job queued before it has run.
    Barrier {
        after_lsn: u64,
        reply: Arc<Reply<Result<(), WalError>>>,
    },
}

impl Job {
    fn after_lsn(&self) -> u64 {
        match self {
            Job::Reclaim { after_lsn, .. }
            | Job::ReadLive { after_lsn, .. }
            | Job::Barrier { after_lsn, .. } => *after_lsn,
        }
    }
}

/// State guarded by the maintenance mutex.
#[derive(Debug, Default)]
pub(crate) struct MaintenanceState {
    pub jobs: VecDeque<Job>,
    pub spares: VecDeque<SpareFile>,
    /// Paths of the segments in use, by segment id.
    pub files: HashMap<u64, PathBuf>,
    pub next_file_no: u64,
    /// The owner is closing and the syncer has exited: finish the queue and stop.
    pub shutdown: bool,
    /// The syncer has exited: the durable LSN will not move again.
    pub syncer_done: bool,
}

/// The file name of segment file number `file_no`.
pub(crate) fn segment_file_name(file_no: u64) -> String {
    format!("seg-{file_no:08}.wal")
}

/// The file number in a segment file name, if it is one.
pub(crate) fn parse_segment_file_name(name: &str) -> Option<u64> {
    name.strip_prefix("seg-")?
        .strip_suffix(".wal")?
        .parse()
        .ok()
}

/// A one-shot reply slot filled by the maintenance thread.
#[derive(Debug)]
pub(crate) struct Reply<T> {
    slot: Mutex<(Option<T>, Option<Waker>)>,
}

impl<T> Reply<T> {
    pub fn new() -> Arc<Self> {
        Arc::new(Reply {
            slot: Mutex::new((None, None)),
        })
    }

    pub fn send(&self, value: T) {
        let waker = {
            let mut slot = lock(&self.slot);
            slot.0 = Some(value);
            slot.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Resolves with the reply to a maintenance job.
#[derive(Debug)]
#[must_use = "a maintenance reply does nothing unless awaited"]
pub struct MaintenanceReply<T> {
    reply: Arc<Reply<T>>,
}

impl<T> MaintenanceReply<T> {
    pub(crate) fn new(reply: Arc<Reply<T>>) -> Self {
        MaintenanceReply { reply }
    }
}

impl<T> Future for MaintenanceReply<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = lock(&self.reply.slot);
        match slot.0.take() {
            Some(value) => Poll::Ready(value),
            None => {
                slot.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Resolves with the live records of a segment, copied off the owner's thread.
pub type ReadLive = MaintenanceReply<Result<Vec<LiveRecord>, WalError>>;

/// Queues a job and wakes the maintenance thread.
pub(crate) fn submit(shared: &Shared, job: Job) {
    lock(&shared.maintenance).jobs.push_back(job);
    shared.maintenance_cv.notify_all();
}

/// Called by the syncer after each publish: wakes the maintenance thread if it waits for it.
pub(crate) fn notify_durable(shared: &Shared, durable_end: u64) {
    if durable_end >= shared.maintenance_wait_lsn.load(Ordering::SeqCst) {
        let _state = lock(&shared.maintenance);
        shared.maintenance_cv.notify_all();
    }
}

/// Takes a ready spare for the syncer, waiting for the maintenance thread if none is ready.
pub(crate) fn take_spare(shared: &Shared) -> Result<SpareFile, String> {
    let mut state = lock(&shared.maintenance);
    let mut stalled = false;
    loop {
        if let Some(spare) = state.spares.pop_front() {
            drop(state);
            shared.maintenance_cv.notify_all();
            return Ok(spare);
        }
        if shared.is_failed() {
            return Err("no spare segment: the log failed".into());
        }
        if !stalled {
            stalled = true;
            shared
                .counters
                .rotation_stalls
                .fetch_add(1, Ordering::Relaxed);
            shared.maintenance_cv.notify_all();
        }
        state = wait(&shared.spare_cv, state);
    }
}

enum Work {
    CreateSpare(PathBuf),
    Job(Job),
}

/// The maintenance thread's loop.
pub(crate) fn run(shared: Arc<Shared>) {
    while let Some(work) = next_work(&shared) {
        let outcome = match work {
            Work::CreateSpare(path) => create_spare(&shared, &path),
            Work::Job(job) => run_job(&shared, job),
        };
        if let Err(reason) = outcome {
            shared.fail(&reason);
        }
    }
}

fn next_work(shared: &Shared) -> Option<Work> {
    let mut state = lock(&shared.maintenance);
    loop {
        let failed = shared.is_failed();
        if !failed && !state.shutdown && state.spares.len() < shared.config.spare_segments {
            let file_no = state.next_file_no;
            state.next_file_no += 1;
            return Some(Work::CreateSpare(
                shared.dir.join(segment_file_name(file_no)),
            ));
        }
        let Some(after_lsn) = state.jobs.front().map(Job::after_lsn) else {
            if state.shutdown {
                return None;
            }
            state = wait(&shared.maintenance_cv, state);
            continue;
        };
        // Announce the wait before reading the durable LSN, so a publish in between is seen
        // either here or by the syncer's check in notify_durable.
        shared
            .maintenance_wait_lsn
            .store(after_lsn, Ordering::SeqCst);
        if shared.durable_end() >= after_lsn || failed || state.syncer_done {
            shared
                .maintenance_wait_lsn
                .store(u64::MAX, Ordering::SeqCst);
            return state.jobs.pop_front().map(Work::Job);
        }
        state = wait(&shared.maintenance_cv, state);
        shared
            .maintenance_wait_lsn
            .store(u64::MAX, Ordering::SeqCst);
    }
}

fn run_job(shared: &Shared, job: Job) -> Result<(), String> {
    let ready = shared.durable_end() >= job.after_lsn();
    match job {
        Job::Reclaim {
            segment_id,
            end_lsn,
            ..
        } if ready => reclaim(shared, segment_id, end_lsn),
        // Not durable and never will be: leaving the segment in place loses nothing.
        Job::Reclaim { .. } => Ok(()),
        Job::ReadLive {
            segment_id,
            lsns,
            reply,
            ..
        } => {
            let outcome = if ready {
                read_live(shared, segment_id, &lsns)
            } else {
                Err(not_ready_error(shared))
            };
            reply.send(outcome);
            Ok(())
        }
        Job::Barrier { reply, .. } => {
            reply.send(if ready {
                Ok(())
            } else {
                Err(not_ready_error(shared))
            });
            Ok(())
        }
    }
}

fn not_ready_error(shared: &Shared) -> WalError {
    if shared.is_failed() {
        shared.failure_error()
    } else {
        WalError::Closed
    }
}

fn sync_if_durable(shared: &Shared, file: &File, context: &str) -> Result<(), String> {
    if shared.config.durability == Durability::Fsync {
        file.sync_data()
            .map_err(|error| format!("{context}: {error}"))?;
    }
    Ok(())
}

/// Creates a preallocated, zero-filled spare: zeros are written (not just allocated) so
/// later syncs do not also have to convert unwritten extents in the file system journal.
fn create_spare(shared: &Shared, path: &Path) -> Result<(), String> {
    let segment_bytes = shared.config.segment_bytes;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|error| format!("create spare {}: {error}", path.display()))?;
    preallocate(&file, segment_bytes)
        .map_err(|error| format!("fallocate {}: {error}", path.display()))?;
    let zeros = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    while offset < segment_bytes {
        let chunk_bytes = (segment_bytes - offset).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..chunk_bytes], offset)
            .map_err(|error| format!("zero-fill spare: {error}"))?;
        offset += chunk_bytes as u64;
    }
    write_spare_header(shared, &file, 0, 0)?;
    sync_if_durable(shared, &file, "sync spare")?;
    if shared.config.durability == Durability::Fsync {
        sync_dir(&shared.dir).map_err(|error| format!("sync data directory: {error}"))?;
    }
    shared
        .counters
        .segments_created
        .fetch_add(1, Ordering::Relaxed);
    push_spare(
        shared,
        SpareFile {
            path: path.to_path_buf(),
            file,
        },
    );
    Ok(())
}

fn preallocate(file: &File, bytes: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let Ok(length) = libc::off_t::try_from(bytes) else {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    };
    // SAFETY: fallocate reads no memory of ours; the descriptor is open for the call's duration.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, length) };
    if rc == 0 {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    // File systems without fallocate still work: the zero-fill allocates the blocks.
    match error.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => file.set_len(bytes),
        _ => Err(error),
    }
}

/// fsyncs the data directory so a new file's name survives a power cut.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn write_spare_header(
    shared: &Shared,
    file: &File,
    retired_id: u64,
    lsn_floor: u64,
) -> Result<(), String> {
    let header = SegmentHeader {
        state: SegmentState::Spare,
        segment_id: retired_id,
        first_lsn: lsn_floor,
        segment_bytes: shared.config.segment_bytes,
        max_batch_bytes: shared.config.max_pending_bytes as u64,
    };
    file.write_all_at(&header.encode(), 0)
        .map_err(|error| format!("write spare header: {error}"))
}

fn push_spare(shared: &Shared, spare: SpareFile) {
    lock(&shared.maintenance).spares.push_back(spare);
    shared.spare_cv.notify_all();
}

/// Makes a dead segment a spare: its header is rewritten as a spare whose LSN floor is the
/// segment's end and synced before anything else, so a crash can never bring its records
/// back. Then the file joins the pool, or is deleted when the pool is full, when it has the
/// wrong size, or while a `Recovery` may still map it.
fn reclaim(shared: &Shared, segment_id: u64, end_lsn: u64) -> Result<(), String> {
    // Readers first: from here on a read of the segment's LSNs is `None`, never its next life.
    shared.read_index.remove(segment_id);
    let Some(path) = lock(&shared.maintenance).files.remove(&segment_id) else {
        return Err(format!(
            "internal: no file for reclaimed segment {segment_id}"
        ));
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|error| format!("open {} to reclaim: {error}", path.display()))?;
    write_spare_header(shared, &file, segment_id, end_lsn)?;
    sync_if_durable(shared, &file, "sync reclaimed segment")?;
    let file_bytes = file
        .metadata()
        .map_err(|error| format!("stat {}: {error}", path.display()))?
        .len();
    let pool_full = {
        let state = lock(&shared.maintenance);
        state.spares.len() >= shared.config.spare_segments + shared.config.max_recycled_segments
    };
    let mapped = shared.recovery_pins.load(Ordering::SeqCst) > 0;
    if pool_full || mapped || file_bytes != shared.config.segment_bytes {
        std::fs::remove_file(&path)
            .map_err(|error| format!("delete {}: {error}", path.display()))?;
        shared
            .counters
            .segments_deleted
            .fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    shared
        .counters
        .segments_recycled
        .fetch_add(1, Ordering::Relaxed);
    push_spare(shared, SpareFile { path, file });
    Ok(())
}

/// Copies the records listed in `lsns` (sorted) out of a sealed, durable segment.
fn read_live(shared: &Shared, segment_id: u64, lsns: &[u64]) -> Result<Vec<LiveRecord>, WalError> {
    let path = lock(&shared.maintenance)
        .files
        .get(&segment_id)
        .cloned()
        .ok_or(WalError::Closed)?;
    let file = File::open(&path).map_err(WalError::io("open segment for compaction"))?;
    // SAFETY: the segment is sealed and durable, so the syncer no longer writes it; only
    // this thread could reclaim it, and only after this job; the data directory is locked
    // against other processes.
    let map =
        unsafe { memmap2::Mmap::map(&file) }.map_err(WalError::io("map segment for compaction"))?;
    let header = SegmentHeader::decode(&map).map_err(|_| WalError::Corruption {
        file: path.clone(),
        segment_id,
        offset: 0,
        reason: "segment header unreadable during compaction".into(),
    })?;
    let mut wanted = lsns.iter().copied().peekable();
    let mut live = Vec::with_capacity(lsns.len());
    segment::scan_records(
        &map,
        header.first_lsn,
        shared.config.max_record_bytes,
        |record| {
            while wanted.next_if(|&lsn| lsn < record.view.lsn).is_some() {}
            if wanted.next_if_eq(&record.view.lsn).is_some() {
                live.push(LiveRecord {
                    lsn: Lsn(record.view.lsn),
                    kind: record.view.kind,
                    payload: record.view.body().to_vec(),
                });
            }
        },
    );
    Ok(live)
}
