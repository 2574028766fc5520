//! The DLR index's disk tier, run by the shard: sealed generations become run files in
//! `data_dir/shard-<i>/dlr`, runs reopen at start, expired runs' files are deleted.
//!
//! # Design
//! [`crate::dlr_index`] is sans-IO: it says which generation is due on disk
//! ([`DlrIndex::poll_flush`]) and which file it no longer needs
//! ([`DlrIndex::poll_obsolete_file`]); this module is the shell that does the I/O.
//! - **Start** ([`reopen`], from the gateway's `open_core`, before the WAL replay):
//!   creates the directory, deletes temp files a crash left behind, renames files that fail
//!   validation to `*.bad` (kept for an operator, never read again nor overwritten by a
//!   new run with the same id) and installs the valid runs. It reads every run file once
//!   (checksums, filter): start-up work on the shard thread, like the WAL's recovery.
//! - **Replay.** The WAL replay maps again every part that still awaits its receipt
//!   (`Recovered::dlr_entry`: the live Submitted records). A mapping whose run was written
//!   before the stop is found in that run with the same value and is *not* inserted again
//!   (`Core::restore_dlr`, and [`crate::mesh::MeshMsg::DlrRestore`] for a key another
//!   shard indexes): inserting it would put the long tail back in RAM with a fresh TTL, evict
//!   (the replay runs before any flush can), and write it to disk a second time. A mapping
//!   that no run holds (its generation was still in RAM, or its write was abandoned at the
//!   stop) is inserted into the hot tier as before. The cost is one index lookup per replayed
//!   mapping (a filter probe per run).
//! - **Running** ([`spawn`]: one task per shard): every [`FLUSH_POLL_INTERVAL_MS`] it expires
//!   what the TTL passed, takes at most one due generation, writes and opens it on glommio's
//!   blocking pool (temp file, fdatasync, rename, directory fsync, then validation), and
//!   installs it back on the shard; a written run is polled for the next one at once, so a
//!   backlog drains back to back. One flush in flight per shard bounds the extra memory to
//!   one 256 KiB write buffer and the run's filter. A failed write or open is logged,
//!   counted and handed back ([`DlrIndex::flush_failed`]); the index offers it again after
//!   [`FLUSH_RETRY_MS`] (meanwhile lookups still see the table in RAM). Obsolete files are
//!   deleted on the blocking pool too, [`DELETE_BATCH_MAX`] per turn.
//! - **Stop.** The task ends when the shard stops; a flush in flight is abandoned. Nothing is
//!   lost: a run whose rename happened is reopened at the next start, a temp file is
//!   deleted, and the WAL replay rebuilds the hot tier from the mappings no run holds.
//! - **Metrics** ([`crate::metrics::DlrMetrics`]) are set by the task at each turn.
//!
//! # Bounds
//! Hot RAM: `limits.dlr_hot_bytes_max` per node (split over shards). Disk:
//! `limits.dlr_disk_bytes_max` per node (split); RAM for the runs' filters and fences
//! ≈ 1.53 B per entry on disk. Files: one per `dlr_generation_span_ms` of traffic for
//! `message_ttl_s` (384 at the defaults), plus at most one temp file.

use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::timer::sleep;

use crate::config::LimitsConfig;
use crate::dlr_index::{DiskRun, DlrIndex, DlrIndexConfig, FrozenRun, Key, RunError, open_dir};
use crate::lifecycle::DlrKey;
use crate::mesh::MeshMsg;
use crate::message::PartRef;

use super::{Core, CoreRef, unix_now_ms};

/// How often the disk-tier task looks for due generations and expired runs when idle.
pub const FLUSH_POLL_INTERVAL_MS: u64 = 50;
/// How long after a failed run write the generation is offered again.
pub const FLUSH_RETRY_MS: u64 = 1_000;
/// Most obsolete run files deleted in one blocking job.
pub const DELETE_BATCH_MAX: usize = 64;
/// Suffix given to a run file that failed validation at start.
pub const BAD_RUN_SUFFIX: &str = ".bad";

/// The disk tier could not be opened at start.
#[derive(Debug, thiserror::Error)]
pub enum DiskTierError {
    /// The runs directory could not be created.
    #[error("create {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The runs directory could not be listed.
    #[error("open runs: {0}")]
    Open(#[from] RunError),
}

/// What [`reopen`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reopened {
    /// Runs installed.
    pub runs: usize,
    /// Entries they hold.
    pub entries: u64,
    /// Run files that failed validation (renamed to `*.bad`) or installation.
    pub skipped: usize,
    /// Temp files of interrupted writes, deleted.
    pub temp_files_deleted: usize,
}

/// Where shard `shard` keeps its runs.
pub fn runs_dir(data_dir: &Path, shard: usize) -> PathBuf {
    data_dir.join(format!("shard-{shard}")).join("dlr")
}

/// The index configuration of one shard of a node of `shards`, from `[limits]`.
pub fn index_config(limits: &LimitsConfig, shards: u32, park_timeout_ms: u64) -> DlrIndexConfig {
    let per_shard = |bytes: u64| usize::try_from(bytes).unwrap_or(usize::MAX);
    DlrIndexConfig {
        hot_bytes_max: per_shard(limits.dlr_hot_bytes_per_shard(shards)),
        hot_generations_max: limits.dlr_hot_generations_max as usize,
        hot_horizon_ms: limits.dlr_hot_horizon_ms,
        generation_span_ms: limits.dlr_generation_span_ms,
        ttl_ms: u64::from(limits.message_ttl_s) * 1000,
        disk_bytes_max: limits.dlr_disk_bytes_per_shard(shards),
        parked_max: limits.receipts_parked_max as usize,
        park_timeout_ms,
    }
}

/// Opens `dir` (creating it) and installs its runs into `index`, which must not have had
/// an insert yet. Temp files are deleted, bad files renamed to `*.bad`; both are logged.
/// Blocking: call at start, before the WAL replay.
pub fn reopen(index: &mut DlrIndex, dir: &Path, now_ms: u64) -> Result<Reopened, DiskTierError> {
    std::fs::create_dir_all(dir).map_err(|source| DiskTierError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let found = open_dir(dir)?;
    let mut reopened = Reopened::default();
    for temp in found.stale_temp_files {
        match std::fs::remove_file(&temp) {
            Ok(()) => reopened.temp_files_deleted += 1,
            Err(error) => {
                tracing::warn!(path = %temp.display(), %error, "stale run temp file not deleted")
            }
        }
    }
    for (path, error) in found.failed {
        reopened.skipped += 1;
        let mut aside = path.clone().into_os_string();
        aside.push(BAD_RUN_SUFFIX);
        let renamed = std::fs::rename(&path, &aside);
        tracing::warn!(
            path = %path.display(),
            %error,
            renamed = renamed.is_ok(),
            "DLR run file failed validation; set aside as *.bad, its receipts may not match"
        );
    }
    for run in found.runs {
        let (path, entries) = (run.path().to_path_buf(), run.entry_count());
        match index.install_run(run, now_ms) {
            Ok(()) => {
                reopened.runs += 1;
                reopened.entries += entries;
            }
            Err(error) => {
                reopened.skipped += 1;
                tracing::warn!(path = %path.display(), %error, "DLR run not installed");
            }
        }
    }
    tracing::info!(
        dir = %dir.display(),
        runs = reopened.runs,
        entries = reopened.entries,
        skipped = reopened.skipped,
        temp_files_deleted = reopened.temp_files_deleted,
        "DLR runs reopened"
    );
    Ok(reopened)
}

impl Core {
    /// Maps `key` to `part` again at restart (WAL replay) unless the index already maps it
    /// to the same part (a run reopened from disk holds it). See the module docs.
    pub(super) fn restore_dlr(&mut self, key: DlrKey, part: PartRef, now_ms: u64) {
        let Ok(k) = Key::new(u32::from(key.connector.0), key.id2.as_bytes()) else {
            return;
        };
        let index = self.index_shard(&k);
        if index != usize::from(self.shard) {
            self.mesh.send(index, MeshMsg::DlrRestore { key, part });
            return;
        }
        if self.dlr.peek(k) == Some(part.to_dlr_value()) {
            self.dlr_restored_from_runs += 1;
            return;
        }
        self.insert_dlr(key, part, now_ms);
    }

    /// Expires what the TTL passed; the next generation due on disk (at most one is
    /// handed out at a time by the caller); obsolete files, at most `files_max`.
    fn dlr_disk_turn(
        &mut self,
        now_ms: u64,
        flush: bool,
        files: &mut Vec<PathBuf>,
        files_max: usize,
    ) -> Option<FrozenRun> {
        self.dlr.expire(now_ms);
        let frozen = if flush {
            self.dlr.poll_flush(now_ms)
        } else {
            None
        };
        while files.len() < files_max {
            let Some(path) = self.dlr.poll_obsolete_file() else {
                break;
            };
            files.push(path);
        }
        self.publish_dlr_metrics();
        frozen
    }

    fn publish_dlr_metrics(&self) {
        let stats = self.dlr.stats();
        let m = &self.metrics.dlr;
        m.hot_entries.set(stats.hot_entries);
        m.runs.set(stats.runs as u64);
        m.run_entries.set(stats.run_entries);
        m.run_file_bytes.set(stats.run_file_bytes);
        m.hot_entries_evicted
            .set(stats.counters.hot_entries_evicted);
        m.restored_from_runs.set(self.dlr_restored_from_runs);
    }

    /// Installs run `run_id` written off the shard, or hands the generation back.
    fn dlr_flush_done(
        &mut self,
        run_id: u64,
        written: Result<DiskRun, RunError>,
        elapsed: Duration,
    ) -> bool {
        match written {
            Ok(run) => match self.dlr.install_run(run, unix_now_ms()) {
                Ok(()) => {
                    tracing::debug!(
                        shard = self.shard,
                        run_id,
                        elapsed_us = elapsed.as_micros() as u64,
                        "DLR run written"
                    );
                    self.metrics.dlr.runs_written.inc();
                    self.publish_dlr_metrics();
                    true
                }
                Err(error) => {
                    // Not expected (the table is read-only once handed out). The generation
                    // stays in RAM, answering lookups, until its TTL or an eviction; the
                    // file is valid and is reopened at the next start.
                    self.metrics.dlr.run_write_failures.inc();
                    tracing::error!(shard = self.shard, run_id, %error, "DLR run not installed");
                    false
                }
            },
            Err(error) => {
                self.metrics.dlr.run_write_failures.inc();
                tracing::warn!(
                    shard = self.shard,
                    run_id,
                    %error,
                    retry_ms = FLUSH_RETRY_MS,
                    "DLR run write failed; the generation stays in RAM and is tried again"
                );
                self.dlr.flush_failed(run_id);
                false
            }
        }
    }
}

/// Starts shard `core`'s disk-tier task over `dir` (see the module docs); it ends when the
/// shard stops.
pub fn spawn(core: &CoreRef, dir: PathBuf) {
    glommio::spawn_local(run(Rc::clone(core), dir)).detach();
}

async fn run(core: CoreRef, dir: PathBuf) {
    let mut retry_at_ms = 0u64;
    let mut obsolete = Vec::with_capacity(DELETE_BATCH_MAX);
    loop {
        let now_ms = unix_now_ms();
        let frozen = {
            let mut core = core.borrow_mut();
            if core.stopping {
                return;
            }
            core.dlr_disk_turn(
                now_ms,
                now_ms >= retry_at_ms,
                &mut obsolete,
                DELETE_BATCH_MAX,
            )
        };
        if !obsolete.is_empty() {
            let files = std::mem::take(&mut obsolete);
            let deleted = glommio::executor()
                .spawn_blocking(move || delete_files(files))
                .await;
            for _ in 0..deleted {
                core.borrow().metrics.dlr.run_files_deleted.inc();
            }
        }
        let Some(frozen) = frozen else {
            sleep(Duration::from_millis(FLUSH_POLL_INTERVAL_MS)).await;
            continue;
        };
        let run_id = frozen.run_id();
        let target = dir.clone();
        let started = Instant::now();
        let written = glommio::executor()
            .spawn_blocking(move || frozen.write_to(&target).and_then(|p| DiskRun::open(&p)))
            .await;
        let elapsed = started.elapsed();
        if !core.borrow_mut().dlr_flush_done(run_id, written, elapsed) {
            retry_at_ms = unix_now_ms().saturating_add(FLUSH_RETRY_MS);
        }
    }
}

/// Deletes run files the index dropped; returns how many went. Blocking.
fn delete_files(files: Vec<PathBuf>) -> usize {
    let mut deleted = 0;
    for path in files {
        match std::fs::remove_file(&path) {
            Ok(()) => deleted += 1,
            // Already gone (an operator, or a reopen that found it expired twice): fine.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "DLR run file not deleted")
            }
        }
    }
    deleted
}
