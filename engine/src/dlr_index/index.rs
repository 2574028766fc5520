//! The per-shard index: hot generations, runs, and parked early receipts.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;

use super::config::{ConfigError, DlrIndexConfig};
use super::key::Fingerprint;
use super::park::Park;
use super::run::{DiskRun, FrozenRun};
use super::stats::{DlrIndexCounters, DlrIndexStats};
use super::table::{Stored, Table};

/// What an insert did, and the early receipts it matched.
#[derive(Debug, PartialEq, Eq)]
pub struct InsertOutcome<'a> {
    /// The key was already in the newest generation; its value was overwritten.
    pub replaced: bool,
    /// Tokens of receipts parked for this key, oldest first: the engine processes them now
    /// against the value just inserted. They have left the park.
    pub early_receipts: &'a [u64],
}

/// The answer to [`DlrIndex::lookup_or_park`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupOrPark {
    /// The key's value.
    Found(u64),
    /// Unknown for now: the receipt waits for its submit_sm_resp, and comes back either from
    /// the key's [`DlrIndex::insert`] or from [`DlrIndex::poll_unmatched`].
    Parked,
    /// Unknown and the park is full: answer the receipt with a transient error so the SMSC
    /// sends it again.
    Refused,
}

/// A run could not be installed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InstallError {
    /// A hot generation with this id exists and was never handed out for writing.
    #[error("run {run_id} collides with a hot generation that was not handed out")]
    RunIdInUse {
        /// The run's id.
        run_id: u64,
    },
    /// A run with this id is already installed.
    #[error("run {run_id} is already installed")]
    DuplicateRun {
        /// The run's id.
        run_id: u64,
    },
    /// The run's entry count differs from the generation it was written from.
    #[error("run {run_id} holds {found} entries, its generation {expected}")]
    EntryCountMismatch {
        /// The run's id.
        run_id: u64,
        /// Entries in the generation.
        expected: u64,
        /// Entries in the run.
        found: u64,
    },
}

/// The generation inserts go to.
#[derive(Debug)]
struct Active {
    table: Table,
    first_insert_ms: u64,
    last_insert_ms: u64,
}

/// A generation that takes no more inserts: in RAM until its run is installed.
#[derive(Debug)]
struct Sealed {
    run_id: u64,
    table: Arc<Table>,
    /// Given to the caller by `poll_flush`; from then on the table is read-only.
    handed_out: bool,
    /// The caller's write failed; `poll_flush` offers the table again.
    retry: bool,
    created_at_ms: u64,
    flush_due_ms: u64,
    expires_at_ms: u64,
}

/// Where a lookup found its key.
enum Hit {
    Hot(u64),
    Disk(u64),
}

/// One shard's DLR index: maps (connector, ID2) fingerprints to the engine's packed value.
/// Owned by one thread; sans-IO (time comes in as `now_ms`, files are written and opened by
/// the caller).
#[derive(Debug)]
pub struct DlrIndex {
    config: DlrIndexConfig,
    generation_home_slots: usize,
    active: Option<Active>,
    /// Oldest first; run ids ascend.
    sealed: VecDeque<Sealed>,
    /// Oldest first; run ids ascend.
    runs: VecDeque<DiskRun>,
    park: Park,
    released: Vec<u64>,
    /// Scratch: which runs' filters let the key being looked up through.
    filter_hits: Vec<bool>,
    obsolete_files: VecDeque<PathBuf>,
    next_run_id: u64,
    counters: DlrIndexCounters,
}

impl DlrIndex {
    /// An empty index. Install runs reopened from disk ([`super::open_dir`]) before the first
    /// insert so that new runs get ids above theirs.
    pub fn new(config: DlrIndexConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            generation_home_slots: config.generation_home_slots(),
            park: Park::new(config.parked_max),
            config,
            active: None,
            sealed: VecDeque::new(),
            runs: VecDeque::new(),
            released: Vec::new(),
            filter_hits: Vec::new(),
            obsolete_files: VecDeque::new(),
            next_run_id: 0,
            counters: DlrIndexCounters::default(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &DlrIndexConfig {
        &self.config
    }

    /// Records `key → value` (inserted at `now_ms`) and hands back any receipts parked for the
    /// key. A newer insert of the same key shadows an older one.
    pub fn insert(
        &mut self,
        key: impl Into<Fingerprint>,
        value: u64,
        now_ms: u64,
    ) -> InsertOutcome<'_> {
        let fp = key.into().get();
        self.seal_active_if_due(now_ms);
        let replaced = self.store(fp, value, now_ms);
        self.released.clear();
        self.park.take_key(fp, &mut self.released);
        self.counters.park_matched += self.released.len() as u64;
        InsertOutcome {
            replaced,
            early_receipts: &self.released,
        }
    }

    fn store(&mut self, fp: u64, value: u64, now_ms: u64) -> bool {
        // A full table is sealed and the insert retried once in a fresh one, which always
        // has room.
        for _ in 0..2 {
            let active = self.active_or_open(now_ms);
            if let Ok(stored) = active.table.insert(fp, value) {
                active.last_insert_ms = active.last_insert_ms.max(now_ms);
                self.counters.inserts += 1;
                return stored == Stored::Replaced;
            }
            self.seal_active();
        }
        self.counters.insert_failures += 1;
        false
    }

    fn active_or_open(&mut self, now_ms: u64) -> &mut Active {
        if self.active.is_none() {
            while self.sealed.len() + 1 > self.config.hot_generations_max {
                self.evict_oldest_table();
            }
        }
        let home_slots = self.generation_home_slots;
        self.active.get_or_insert_with(|| Active {
            table: Table::new(home_slots),
            first_insert_ms: now_ms,
            last_insert_ms: now_ms,
        })
    }

    /// The budget is full and the caller has not flushed: the oldest data goes. Counted,
    /// because every entry dropped here is a receipt that may come back unmatched.
    fn evict_oldest_table(&mut self) {
        if let Some(oldest) = self.sealed.pop_front() {
            self.counters.hot_generations_evicted += 1;
            self.counters.hot_entries_evicted += oldest.table.len() as u64;
        }
    }

    fn seal_active_if_due(&mut self, now_ms: u64) {
        let span_ms = self.config.generation_span_ms;
        if self
            .active
            .as_ref()
            .is_some_and(|a| now_ms >= a.first_insert_ms.saturating_add(span_ms))
        {
            self.seal_active();
        }
    }

    fn seal_active(&mut self) {
        let Some(active) = self.active.take() else {
            return;
        };
        if active.table.len() == 0 {
            return;
        }
        let run_id = self.next_run_id;
        self.next_run_id = self.next_run_id.saturating_add(1);
        self.sealed.push_back(Sealed {
            run_id,
            table: Arc::new(active.table),
            handed_out: false,
            retry: false,
            created_at_ms: active.first_insert_ms,
            flush_due_ms: active
                .last_insert_ms
                .saturating_add(self.config.hot_horizon_ms),
            expires_at_ms: active.last_insert_ms.saturating_add(self.config.ttl_ms),
        });
    }

    /// The value stored for `key`: hot generations newest first, then runs newest first.
    pub fn lookup(&mut self, key: impl Into<Fingerprint>) -> Option<u64> {
        let found = self.find(key.into().get());
        match found {
            Some(Hit::Hot(value)) => {
                self.counters.lookups_hot_hit += 1;
                Some(value)
            }
            Some(Hit::Disk(value)) => {
                self.counters.lookups_disk_hit += 1;
                Some(value)
            }
            None => {
                self.counters.lookups_miss += 1;
                None
            }
        }
    }

    /// The value stored for `key`, like [`DlrIndex::lookup`] but not counted as a lookup:
    /// for the engine's own checks, such as a WAL replay asking whether a run reopened from
    /// disk already holds a mapping before inserting it again.
    pub fn peek(&mut self, key: impl Into<Fingerprint>) -> Option<u64> {
        self.find(key.into().get()).map(|hit| match hit {
            Hit::Hot(value) | Hit::Disk(value) => value,
        })
    }

    fn find(&mut self, fp: u64) -> Option<Hit> {
        if let Some(value) = self.active.as_ref().and_then(|a| a.table.get(fp)) {
            return Some(Hit::Hot(value));
        }
        let sealed_hit = self
            .sealed
            .iter()
            .rev()
            .find_map(|s| s.table.get(fp).map(|value| (s.run_id, value)));
        if let Some((sealed_id, value)) = sealed_hit {
            // A run newer than a sealed table exists only when writes finish out of order;
            // the newest value of a key still wins.
            let newer = self
                .runs
                .iter()
                .rev()
                .take_while(|r| r.run_id() > sealed_id);
            let disk = newer.filter(|r| r.may_contain(fp)).find_map(|r| r.get(fp));
            return Some(disk.map_or(Hit::Hot(value), Hit::Disk));
        }
        // All filters first, without early exit: their cache misses overlap instead of
        // queueing one behind the other, which is what a miss over hundreds of runs costs.
        self.filter_hits.clear();
        self.filter_hits
            .extend(self.runs.iter().map(|r| r.may_contain(fp)));
        let candidates = self.runs.iter().zip(&self.filter_hits).rev();
        for (run, _) in candidates.filter(|(_, maybe)| **maybe) {
            match run.get(fp) {
                Some(value) => return Some(Hit::Disk(value)),
                None => self.counters.filter_false_positives += 1,
            }
        }
        None
    }

    /// Looks `key` up; if unknown, parks `receipt_token` until the key's insert or until
    /// `now_ms + park_timeout_ms`, or refuses when `parked_max` receipts already wait.
    pub fn lookup_or_park(
        &mut self,
        key: impl Into<Fingerprint>,
        receipt_token: u64,
        now_ms: u64,
    ) -> LookupOrPark {
        let fp = key.into();
        if let Some(value) = self.lookup(fp) {
            return LookupOrPark::Found(value);
        }
        let deadline_ms = now_ms.saturating_add(self.config.park_timeout_ms);
        if self.park.park(fp.get(), receipt_token, deadline_ms) {
            self.counters.parked += 1;
            LookupOrPark::Parked
        } else {
            self.counters.park_refused += 1;
            LookupOrPark::Refused
        }
    }

    /// The next parked receipt whose wait is over, to be reported as a receipt for an
    /// unknown message (or tried once more). Call until `None`.
    pub fn poll_unmatched(&mut self, now_ms: u64) -> Option<u64> {
        let token = self.park.pop_expired(now_ms)?;
        self.counters.park_timed_out += 1;
        Some(token)
    }

    /// Deletes `key` from every hot generation that is not being written; returns how many
    /// entries went. Entries already in runs (or handed out for writing) stay until their
    /// run's TTL: the engine checks every match against the message record, so a stale hit
    /// for a finished message is answered as "no such message".
    pub fn remove(&mut self, key: impl Into<Fingerprint>) -> usize {
        let fp = key.into().get();
        let mut removed = usize::from(
            self.active
                .as_mut()
                .and_then(|a| a.table.remove(fp))
                .is_some(),
        );
        for sealed in self.sealed.iter_mut().filter(|s| !s.handed_out) {
            if Arc::get_mut(&mut sealed.table)
                .and_then(|t| t.remove(fp))
                .is_some()
            {
                removed += 1;
            }
        }
        self.counters.removes += removed as u64;
        removed
    }

    /// The oldest sealed generation that is due for writing: its last insert is
    /// `hot_horizon_ms` old, or half the hot budget is in use. The caller writes it with
    /// [`FrozenRun::write_to`], opens it with [`DiskRun::open`] (both off the executor) and
    /// hands it to [`DlrIndex::install_run`]. Until then lookups still see its entries.
    pub fn poll_flush(&mut self, now_ms: u64) -> Option<FrozenRun> {
        self.seal_active_if_due(now_ms);
        let in_ram = self.sealed.len() + usize::from(self.active.is_some());
        let pressure = in_ram * 2 >= self.config.hot_generations_max;
        let sealed = self.sealed.iter_mut().find(|s| {
            (!s.handed_out || s.retry) && (pressure || s.retry || now_ms >= s.flush_due_ms)
        })?;
        if !sealed.retry && now_ms < sealed.flush_due_ms {
            self.counters.early_flushes += 1;
        }
        sealed.handed_out = true;
        sealed.retry = false;
        Some(FrozenRun {
            run_id: sealed.run_id,
            created_at_ms: sealed.created_at_ms,
            expires_at_ms: sealed.expires_at_ms,
            table: Arc::clone(&sealed.table),
        })
    }

    /// Tells the index that writing run `run_id` failed, so `poll_flush` offers it again
    /// (the caller decides when to retry). False if no such run is being written.
    pub fn flush_failed(&mut self, run_id: u64) -> bool {
        match self
            .sealed
            .iter_mut()
            .find(|s| s.run_id == run_id && s.handed_out)
        {
            Some(sealed) => {
                sealed.retry = true;
                true
            }
            None => false,
        }
    }

    /// Installs a written (or reopened) run. A run written from a sealed generation replaces
    /// it and frees its table; any other takes its place by run id. Then expired runs and,
    /// past `disk_bytes_max`, the oldest runs are dropped (their files come out of
    /// [`DlrIndex::poll_obsolete_file`]).
    pub fn install_run(&mut self, run: DiskRun, now_ms: u64) -> Result<(), InstallError> {
        let run_id = run.run_id();
        if self.runs.iter().any(|r| r.run_id() == run_id) {
            return Err(InstallError::DuplicateRun { run_id });
        }
        if let Some(at) = self.sealed.iter().position(|s| s.run_id == run_id) {
            self.check_written_from(at, &run)?;
            self.sealed.remove(at);
        }
        let at = self.runs.partition_point(|r| r.run_id() < run_id);
        self.runs.insert(at, run);
        self.next_run_id = self.next_run_id.max(run_id.saturating_add(1));
        self.counters.runs_installed += 1;
        self.expire_levels(now_ms);
        self.enforce_disk_budget();
        Ok(())
    }

    fn check_written_from(&self, at: usize, run: &DiskRun) -> Result<(), InstallError> {
        let Some(sealed) = self.sealed.get(at) else {
            return Ok(());
        };
        let run_id = run.run_id();
        if !sealed.handed_out {
            return Err(InstallError::RunIdInUse { run_id });
        }
        let expected = sealed.table.len() as u64;
        if run.entry_count() != expected {
            return Err(InstallError::EntryCountMismatch {
                run_id,
                expected,
                found: run.entry_count(),
            });
        }
        Ok(())
    }

    fn enforce_disk_budget(&mut self) {
        let mut file_bytes: u64 = self.runs.iter().map(DiskRun::file_bytes).sum();
        while file_bytes > self.config.disk_bytes_max {
            let Some(oldest) = self.runs.pop_front() else {
                break;
            };
            file_bytes -= oldest.file_bytes();
            self.counters.runs_dropped_early += 1;
            self.counters.entries_dropped_early += oldest.entry_count();
            self.obsolete_files.push_back(oldest.path().to_path_buf());
        }
    }

    /// Seals the active generation once its span is over and drops every generation and run
    /// whose TTL has passed. Call when [`DlrIndex::poll_timeout`] says.
    pub fn expire(&mut self, now_ms: u64) {
        self.seal_active_if_due(now_ms);
        self.expire_levels(now_ms);
    }

    fn expire_levels(&mut self, now_ms: u64) {
        let counters = &mut self.counters;
        self.sealed.retain(|s| {
            let live = s.expires_at_ms > now_ms;
            counters.generations_expired += u64::from(!live);
            live
        });
        let obsolete = &mut self.obsolete_files;
        self.runs.retain(|r| {
            let live = r.expires_at_ms() > now_ms;
            if !live {
                counters.runs_expired += 1;
                obsolete.push_back(r.path().to_path_buf());
            }
            live
        });
    }

    /// A run file the index no longer uses; the caller deletes it (off the executor).
    pub fn poll_obsolete_file(&mut self) -> Option<PathBuf> {
        self.obsolete_files.pop_front()
    }

    /// The earliest time at which `poll_unmatched`, `poll_flush` or `expire` has work.
    pub fn poll_timeout(&self) -> Option<u64> {
        let span_ms = self.config.generation_span_ms;
        let seal_ms = self
            .active
            .as_ref()
            .map(|a| a.first_insert_ms.saturating_add(span_ms));
        let flush_ms = self
            .sealed
            .iter()
            .filter(|s| !s.handed_out)
            .map(|s| s.flush_due_ms)
            .min();
        let sealed_expiry_ms = self.sealed.iter().map(|s| s.expires_at_ms).min();
        let run_expiry_ms = self.runs.iter().map(DiskRun::expires_at_ms).min();
        [
            self.park.next_deadline_ms(),
            seal_ms,
            flush_ms,
            sealed_expiry_ms,
            run_expiry_ms,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Sizes and counters for metrics.
    pub fn stats(&self) -> DlrIndexStats {
        let active_entries = self.active.as_ref().map_or(0, |a| a.table.len());
        let active_bytes = self.active.as_ref().map_or(0, |a| a.table.bytes());
        DlrIndexStats {
            hot_entries: (active_entries + self.sealed.iter().map(|s| s.table.len()).sum::<usize>())
                as u64,
            hot_tables: self.sealed.len() + usize::from(self.active.is_some()),
            hot_tables_flushing: self.sealed.iter().filter(|s| s.handed_out).count(),
            hot_bytes: active_bytes + self.sealed.iter().map(|s| s.table.bytes()).sum::<usize>(),
            runs: self.runs.len(),
            run_entries: self.runs.iter().map(DiskRun::entry_count).sum(),
            run_file_bytes: self.runs.iter().map(DiskRun::file_bytes).sum(),
            run_ram_bytes: self.runs.iter().map(DiskRun::ram_bytes).sum(),
            parked: self.park.len(),
            park_bytes: self.park.bytes(),
            counters: self.counters,
        }
    }
}
