//! Gauges and counters an index instance exposes for metrics.

/// Cumulative event counts since the instance was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DlrIndexCounters {
    /// Entries stored by `insert`.
    pub inserts: u64,
    /// Inserts that found no room even in a fresh table (expected 0).
    pub insert_failures: u64,
    /// Hot entries deleted by `remove`.
    pub removes: u64,
    /// Lookups answered from a hot table.
    pub lookups_hot_hit: u64,
    /// Lookups answered from a run.
    pub lookups_disk_hit: u64,
    /// Lookups that found nothing.
    pub lookups_miss: u64,
    /// Run probes the filter let through that found nothing (one page read wasted each).
    pub filter_false_positives: u64,
    /// Receipts parked by `lookup_or_park`.
    pub parked: u64,
    /// Parked receipts handed back by the insert of their key.
    pub park_matched: u64,
    /// Parked receipts released as unmatched after `park_timeout_ms`.
    pub park_timed_out: u64,
    /// Receipts `lookup_or_park` refused because the park was full.
    pub park_refused: u64,
    /// Generations offered for flushing before `hot_horizon_ms` because the hot budget
    /// was half used.
    pub early_flushes: u64,
    /// Runs installed (written generations and reopened files).
    pub runs_installed: u64,
    /// Hot generations dropped unwritten because the hot budget was full.
    pub hot_generations_evicted: u64,
    /// Entries those evicted generations held.
    pub hot_entries_evicted: u64,
    /// Hot generations dropped because their TTL passed before they were written.
    pub generations_expired: u64,
    /// Runs dropped because their TTL passed.
    pub runs_expired: u64,
    /// Runs dropped before their TTL because the disk budget was full.
    pub runs_dropped_early: u64,
    /// Entries those early-dropped runs held.
    pub entries_dropped_early: u64,
}

/// A snapshot of an index instance's size and counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DlrIndexStats {
    /// Entries in hot tables (including tables being written).
    pub hot_entries: u64,
    /// Hot tables allocated, active one included.
    pub hot_tables: usize,
    /// Hot tables handed to the caller and not yet installed as runs.
    pub hot_tables_flushing: usize,
    /// Bytes those tables hold; never above `hot_bytes_max`.
    pub hot_bytes: usize,
    /// Runs installed.
    pub runs: usize,
    /// Entries in runs.
    pub run_entries: u64,
    /// Bytes of run files; never above `disk_bytes_max` after an install.
    pub run_file_bytes: u64,
    /// Bytes of RAM the runs hold for filters and fences.
    pub run_ram_bytes: usize,
    /// Receipts parked now.
    pub parked: usize,
    /// Bytes the park holds.
    pub park_bytes: usize,
    /// Cumulative counts.
    pub counters: DlrIndexCounters,
}
