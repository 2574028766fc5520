//! Behaviour of the DLR index through its public API: parking, flushing, expiry, budgets,
//! multipart messages and persistence.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use tern_engine::dlr_index::{
    DiskRun, DlrIndex, DlrIndexConfig, Fingerprint, InstallError, Key, LookupOrPark,
    RUN_HEADER_BYTES, RunError, open_dir,
};

const MINUTE_MS: u64 = 60_000;
const T0_MS: u64 = 1_700_000_000_000;

fn key(connector: u32, id2: &str) -> Fingerprint {
    Key::new(connector, id2.as_bytes())
        .expect("test ids are short")
        .fingerprint()
}

/// Distinct, well-spread fingerprints without building keys (splitmix64).
fn spread(i: u64) -> Fingerprint {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    Fingerprint::from_hash(x ^ (x >> 31))
}

fn small_config() -> DlrIndexConfig {
    DlrIndexConfig {
        hot_bytes_max: 1 << 20,
        parked_max: 16,
        ..DlrIndexConfig::default()
    }
}

fn index(config: DlrIndexConfig) -> DlrIndex {
    DlrIndex::new(config).expect("valid config")
}

/// Writes, reopens and installs every generation `poll_flush` offers; returns how many.
fn flush_all(index: &mut DlrIndex, dir: &Path, now_ms: u64) -> usize {
    let mut flushed = 0;
    while let Some(frozen) = index.poll_flush(now_ms) {
        let path = frozen.write_to(dir).expect("write run");
        let run = DiskRun::open(&path).expect("reopen run");
        index.install_run(run, now_ms).expect("install run");
        flushed += 1;
    }
    flushed
}

/// Time at which everything inserted at `T0_MS` is due for flushing.
fn after_horizon(config: &DlrIndexConfig) -> u64 {
    T0_MS + config.generation_span_ms + config.hot_horizon_ms
}

#[test]
fn receipt_before_submit_resp_is_parked_then_matched_on_insert() {
    let mut index = index(small_config());
    let id = key(1, "abc123");
    assert_eq!(index.lookup_or_park(id, 77, T0_MS), LookupOrPark::Parked);
    assert_eq!(
        index.lookup_or_park(id, 78, T0_MS + 1),
        LookupOrPark::Parked
    );
    assert_eq!(index.stats().parked, 2);

    let outcome = index.insert(id, 42, T0_MS + 5);
    assert_eq!(outcome.early_receipts, &[77, 78]);
    assert!(!outcome.replaced);
    assert_eq!(index.stats().parked, 0);
    assert_eq!(index.stats().counters.park_matched, 2);
    assert_eq!(
        index.lookup_or_park(id, 79, T0_MS + 6),
        LookupOrPark::Found(42)
    );
    assert_eq!(index.poll_unmatched(T0_MS + MINUTE_MS), None);
}

#[test]
fn parked_receipt_is_released_as_unmatched_after_timeout() {
    let config = small_config();
    let timeout_ms = config.park_timeout_ms;
    let mut index = index(config);
    let id = key(1, "late-resp");
    assert_eq!(index.lookup_or_park(id, 5, T0_MS), LookupOrPark::Parked);
    assert_eq!(index.poll_timeout(), Some(T0_MS + timeout_ms));
    assert_eq!(index.poll_unmatched(T0_MS + timeout_ms - 1), None);
    assert_eq!(index.poll_unmatched(T0_MS + timeout_ms), Some(5));
    assert_eq!(index.poll_unmatched(T0_MS + timeout_ms), None);
    assert_eq!(index.stats().counters.park_timed_out, 1);
    // The submit_sm_resp that comes too late finds nothing parked any more.
    assert!(
        index
            .insert(id, 9, T0_MS + timeout_ms + 1)
            .early_receipts
            .is_empty()
    );
}

#[test]
fn park_full_is_refused_not_dropped() {
    let mut index = index(DlrIndexConfig {
        parked_max: 2,
        ..small_config()
    });
    assert_eq!(
        index.lookup_or_park(key(1, "a"), 1, T0_MS),
        LookupOrPark::Parked
    );
    assert_eq!(
        index.lookup_or_park(key(1, "b"), 2, T0_MS),
        LookupOrPark::Parked
    );
    assert_eq!(
        index.lookup_or_park(key(1, "c"), 3, T0_MS),
        LookupOrPark::Refused
    );
    assert_eq!(index.stats().counters.park_refused, 1);
    // Those already parked are still there and still matched.
    assert_eq!(index.insert(key(1, "a"), 10, T0_MS).early_receipts, &[1]);
    assert_eq!(index.insert(key(1, "b"), 11, T0_MS).early_receipts, &[2]);
    // Room again: the refused receipt's retry is parked.
    assert_eq!(
        index.lookup_or_park(key(1, "c"), 3, T0_MS),
        LookupOrPark::Parked
    );
}

#[test]
fn old_generation_flushes_to_a_run_and_is_still_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let mut index = index(config.clone());
    for i in 0..1000u64 {
        index.insert(key(2, &format!("m{i}")), i, T0_MS);
    }
    assert!(index.poll_flush(T0_MS + MINUTE_MS).is_none(), "not due yet");
    let due_ms = after_horizon(&config);
    let frozen = index.poll_flush(due_ms).expect("due after the horizon");
    assert_eq!(frozen.entry_count(), 1000);
    // While the caller writes, the entries are still answered from RAM.
    assert_eq!(index.lookup(key(2, "m7")), Some(7));
    assert_eq!(index.stats().hot_tables_flushing, 1);

    let path = frozen.write_to(dir.path()).expect("write run");
    drop(frozen);
    index
        .install_run(DiskRun::open(&path).expect("open run"), due_ms)
        .expect("install");
    let stats = index.stats();
    assert_eq!(
        (stats.hot_entries, stats.hot_tables, stats.hot_bytes),
        (0, 0, 0)
    );
    assert_eq!((stats.runs, stats.run_entries), (1, 1000));
    for i in 0..1000u64 {
        assert_eq!(index.lookup(key(2, &format!("m{i}"))), Some(i));
    }
    assert_eq!(index.lookup(key(2, "never")), None);
    assert_eq!(index.stats().counters.lookups_disk_hit, 1000);
}

#[test]
fn run_is_dropped_when_ttl_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let mut index = index(config.clone());
    index.insert(key(3, "x"), 1, T0_MS);
    assert_eq!(flush_all(&mut index, dir.path(), after_horizon(&config)), 1);
    let expiry_ms = T0_MS + config.ttl_ms;
    assert_eq!(index.poll_timeout(), Some(expiry_ms));

    index.expire(expiry_ms - 1);
    assert_eq!(index.lookup(key(3, "x")), Some(1));
    index.expire(expiry_ms);
    assert_eq!(index.lookup(key(3, "x")), None);
    assert_eq!(index.stats().runs, 0);
    assert_eq!(index.stats().counters.runs_expired, 1);
    let obsolete = index.poll_obsolete_file().expect("file to delete");
    assert!(obsolete.starts_with(dir.path()));
    assert_eq!(index.poll_obsolete_file(), None);
    assert_eq!(index.poll_timeout(), None);
}

#[test]
fn memory_stays_within_hot_budget_under_any_insert_rate() {
    let config = small_config();
    for inserts_per_ms in [1u64, 50, 5_000] {
        let mut index = index(config.clone());
        let mut inserted = 0u64;
        for step in 0..20_000u64 {
            let now_ms = T0_MS + step / inserts_per_ms;
            index.insert(spread(step), step, now_ms);
            inserted += 1;
            // A caller that never flushes: the budget holds and what it costs is counted.
            let stats = index.stats();
            assert!(stats.hot_bytes <= config.hot_bytes_max, "{stats:?}");
            assert_eq!(
                stats.hot_entries + stats.counters.hot_entries_evicted,
                inserted,
                "every entry is held or counted as evicted"
            );
        }
        assert!(index.stats().hot_tables <= config.hot_generations_max);
    }
}

#[test]
fn half_full_budget_offers_generations_early() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let mut index = index(config.clone());
    let mut i = 0u64;
    while index.stats().hot_tables * 2 < config.hot_generations_max {
        index.insert(spread(i), i, T0_MS);
        i += 1;
    }
    assert!(flush_all(&mut index, dir.path(), T0_MS) >= 1);
    assert!(index.stats().counters.early_flushes >= 1);
    assert_eq!(index.stats().counters.hot_entries_evicted, 0);
    assert_eq!(index.lookup(spread(i)), None);
    assert_eq!(index.lookup(spread(1)), Some(1));
}

#[test]
fn multipart_entries_leave_with_their_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let parts = [key(4, "p-1"), key(4, "p-2"), key(4, "p-3")];
    let pack = |slot: u64, part: u64| slot << 8 | part;

    // Final message: the engine removes every part's entry.
    let mut index = index(config.clone());
    for (part, id) in parts.iter().enumerate() {
        index.insert(*id, pack(900, part as u64), T0_MS);
    }
    assert_eq!(index.lookup(parts[1]), Some(pack(900, 1)));
    let removed: usize = parts.iter().map(|id| index.remove(*id)).sum();
    assert_eq!(removed, 3);
    assert!(parts.iter().all(|id| index.lookup(*id).is_none()));
    assert_eq!(index.stats().hot_entries, 0);

    // Never final (only the last part's receipt came): all parts go with the TTL, from RAM
    // and from disk alike.
    for (part, id) in parts.iter().enumerate() {
        index.insert(*id, pack(901, part as u64), T0_MS + 1);
    }
    assert_eq!(flush_all(&mut index, dir.path(), after_horizon(&config)), 1);
    index.expire(T0_MS + 1 + config.ttl_ms);
    assert!(parts.iter().all(|id| index.lookup(*id).is_none()));
    let stats = index.stats();
    assert_eq!(
        (stats.hot_entries, stats.run_entries, stats.runs),
        (0, 0, 0)
    );
}

#[test]
fn unflushed_generation_also_leaves_when_ttl_passes() {
    let config = small_config();
    let mut index = index(config.clone());
    index.insert(key(4, "p-1"), 1, T0_MS);
    index.expire(T0_MS + config.ttl_ms);
    assert_eq!(index.lookup(key(4, "p-1")), None);
    assert_eq!(index.stats().hot_tables, 0);
    assert_eq!(index.stats().counters.generations_expired, 1);
}

#[test]
fn reopened_runs_answer_lookups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let mut before = index(config.clone());
    for i in 0..500u64 {
        before.insert(key(5, &format!("r{i}")), i, T0_MS + i);
    }
    assert_eq!(
        flush_all(&mut before, dir.path(), T0_MS + config.ttl_ms / 2),
        1
    );
    drop(before);

    let reopened = open_dir(dir.path()).expect("read dir");
    assert!(reopened.failed.is_empty() && reopened.stale_temp_files.is_empty());
    let mut after = index(config.clone());
    let now_ms = T0_MS + config.ttl_ms / 2;
    for run in reopened.runs {
        after.install_run(run, now_ms).expect("install");
    }
    for i in 0..500u64 {
        assert_eq!(after.lookup(key(5, &format!("r{i}"))), Some(i));
    }
    // New runs take ids above the reopened ones, so they never collide on disk.
    after.insert(key(5, "new"), 1, now_ms);
    let frozen = after
        .poll_flush(now_ms + config.generation_span_ms + config.hot_horizon_ms)
        .expect("due");
    assert_eq!(frozen.run_id(), 1);
}

fn write_run(dir: &Path, index: &mut DlrIndex, id2: &str, at_ms: u64) -> std::path::PathBuf {
    let config = index.config().clone();
    index.insert(key(6, id2), 6, at_ms);
    let frozen = index
        .poll_flush(at_ms + config.generation_span_ms + config.hot_horizon_ms)
        .expect("due");
    frozen.write_to(dir).expect("write")
}

#[test]
fn corrupt_run_file_is_reported_and_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut writer = index(small_config());
    let good = write_run(dir.path(), &mut writer, "good", T0_MS);
    let flipped = write_run(dir.path(), &mut writer, "flipped", T0_MS + 1);
    let torn = write_run(dir.path(), &mut writer, "torn", T0_MS + 2);
    let mut file = OpenOptions::new().write(true).open(&flipped).expect("open");
    file.seek(SeekFrom::Start(RUN_HEADER_BYTES as u64 + 3))
        .expect("seek");
    file.write_all(&[0xff]).expect("flip a byte");
    let len = fs::metadata(&torn).expect("stat").len();
    OpenOptions::new()
        .write(true)
        .open(&torn)
        .and_then(|f| f.set_len(len - 5))
        .expect("truncate");
    fs::write(dir.path().join("dlr-junk.run"), b"hello").expect("junk");
    fs::write(dir.path().join("dlr-0000000000000009.run.tmp"), b"partial").expect("tmp");

    let reopened = open_dir(dir.path()).expect("read dir");
    assert_eq!(reopened.runs.len(), 1);
    assert_eq!(reopened.runs[0].path(), good.as_path());
    assert_eq!(reopened.failed.len(), 3);
    for (path, error) in &reopened.failed {
        let expected = match error {
            RunError::EntriesCrc => &flipped,
            RunError::LengthMismatch { .. } => &torn,
            RunError::Truncated { file_bytes: 5 } => &dir.path().join("dlr-junk.run"),
            other => panic!("unexpected error {other}"),
        };
        assert_eq!(path, expected);
    }
    assert_eq!(reopened.stale_temp_files.len(), 1);
}

#[test]
fn header_tampering_is_caught_by_its_checksum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut writer = index(small_config());
    let path = write_run(dir.path(), &mut writer, "hdr", T0_MS);
    let mut bytes = fs::read(&path).expect("read");
    bytes[33] ^= 1; // expiry time
    fs::write(&path, &bytes).expect("write");
    assert!(matches!(DiskRun::open(&path), Err(RunError::HeaderCrc)));
    bytes[0] = b'X';
    fs::write(&path, &bytes).expect("write");
    assert!(matches!(DiskRun::open(&path), Err(RunError::BadMagic)));
}

#[test]
fn newest_insert_of_a_key_shadows_older_generations_and_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let mut index = index(config.clone());
    let id = key(7, "reused-id");
    index.insert(id, 1, T0_MS);
    assert_eq!(flush_all(&mut index, dir.path(), after_horizon(&config)), 1);
    let later_ms = after_horizon(&config) + 1;
    index.insert(id, 2, later_ms);
    assert_eq!(index.lookup(id), Some(2));
    let replaced = index.insert(id, 3, later_ms).replaced;
    assert!(replaced);
    assert_eq!(index.lookup(id), Some(3));
}

#[test]
fn removed_key_in_a_run_stays_until_the_run_expires() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let mut index = index(config.clone());
    let id = key(8, "final-on-disk");
    index.insert(id, 5, T0_MS);
    flush_all(&mut index, dir.path(), after_horizon(&config));
    // Documented: the disk tier cannot delete; the engine's record check rejects the hit.
    assert_eq!(index.remove(id), 0);
    assert_eq!(index.lookup(id), Some(5));
    index.expire(T0_MS + config.ttl_ms);
    assert_eq!(index.lookup(id), None);
}

#[test]
fn disk_budget_drops_the_oldest_run_early_and_counts_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = DlrIndexConfig {
        disk_bytes_max: 2 * (RUN_HEADER_BYTES as u64 + 16),
        ..small_config()
    };
    let mut index = index(config.clone());
    for (i, id2) in ["d0", "d1", "d2"].iter().enumerate() {
        let at_ms = T0_MS + i as u64 * config.ttl_ms / 8;
        index.insert(key(9, id2), i as u64, at_ms);
        flush_all(
            &mut index,
            dir.path(),
            at_ms + config.generation_span_ms + config.hot_horizon_ms,
        );
    }
    let stats = index.stats();
    assert_eq!(stats.runs, 2);
    assert!(stats.run_file_bytes <= config.disk_bytes_max);
    assert_eq!(stats.counters.runs_dropped_early, 1);
    assert_eq!(stats.counters.entries_dropped_early, 1);
    assert_eq!(index.lookup(key(9, "d0")), None);
    assert_eq!(index.lookup(key(9, "d2")), Some(2));
    assert!(index.poll_obsolete_file().is_some());
}

#[test]
fn failed_flush_is_offered_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let mut index = index(config.clone());
    index.insert(key(10, "retry"), 1, T0_MS);
    let due_ms = after_horizon(&config);
    let frozen = index.poll_flush(due_ms).expect("due");
    assert!(index.poll_flush(due_ms).is_none(), "handed out once");
    let bad_dir = dir.path().join("missing");
    assert!(matches!(
        frozen.write_to(&bad_dir),
        Err(RunError::Io { .. })
    ));
    assert!(index.flush_failed(frozen.run_id()));
    let again = index.poll_flush(due_ms).expect("offered again");
    assert_eq!(again.run_id(), frozen.run_id());
    let path = again.write_to(dir.path()).expect("write");
    index
        .install_run(DiskRun::open(&path).expect("open"), due_ms)
        .expect("install");
    assert_eq!(index.lookup(key(10, "retry")), Some(1));
}

#[test]
fn runs_installed_out_of_order_keep_newest_value_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let mut index = index(config.clone());
    let id = key(11, "twice");
    index.insert(id, 1, T0_MS);
    let second_ms = T0_MS + config.generation_span_ms;
    index.insert(id, 2, second_ms);
    let due_ms = second_ms + config.generation_span_ms + config.hot_horizon_ms;
    let older = index.poll_flush(due_ms).expect("older due");
    let newer = index.poll_flush(due_ms).expect("newer due");
    assert!(older.run_id() < newer.run_id());
    let newer_path = newer.write_to(dir.path()).expect("write");
    index
        .install_run(DiskRun::open(&newer_path).expect("open"), due_ms)
        .expect("install");
    // The older generation is still in RAM, the newer on disk: the newer still wins.
    assert_eq!(index.lookup(id), Some(2));
    let older_path = older.write_to(dir.path()).expect("write");
    index
        .install_run(DiskRun::open(&older_path).expect("open"), due_ms)
        .expect("install");
    assert_eq!(index.lookup(id), Some(2));
    let duplicate = DiskRun::open(&older_path).expect("open");
    assert_eq!(
        index.install_run(duplicate, due_ms),
        Err(InstallError::DuplicateRun {
            run_id: older.run_id()
        })
    );
}

#[test]
fn run_id_of_an_unwritten_generation_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let mut first = index(config.clone());
    let path = write_run(dir.path(), &mut first, "a", T0_MS);
    let mut second = index(config.clone());
    second.insert(key(12, "b"), 1, T0_MS);
    second.expire(T0_MS + config.generation_span_ms);
    let run = DiskRun::open(&path).expect("open");
    assert_eq!(
        second.install_run(run, T0_MS),
        Err(InstallError::RunIdInUse { run_id: 0 })
    );
    assert_eq!(second.lookup(key(12, "b")), Some(1));
}

#[test]
fn poll_timeout_reports_the_earliest_pending_work() {
    let config = small_config();
    let mut index = index(config.clone());
    assert_eq!(index.poll_timeout(), None);
    index.insert(key(13, "t"), 1, T0_MS);
    assert_eq!(
        index.poll_timeout(),
        Some(T0_MS + config.generation_span_ms)
    );
    index.expire(T0_MS + config.generation_span_ms);
    assert_eq!(index.poll_timeout(), Some(T0_MS + config.hot_horizon_ms));
    index.lookup_or_park(key(13, "u"), 2, T0_MS + 1);
    assert_eq!(
        index.poll_timeout(),
        Some(T0_MS + 1 + config.park_timeout_ms)
    );
}
