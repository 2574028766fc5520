//! Measures the index's memory per entry. These are size bounds, not timings.

use tern_engine::dlr_index::{DiskRun, DlrIndex, DlrIndexConfig, Fingerprint};

const ENTRIES: u64 = 1_000_000;
const T0_MS: u64 = 1_700_000_000_000;

fn spread(i: u64) -> Fingerprint {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    Fingerprint::from_hash(x ^ (x >> 31))
}

/// 64 MiB of hot budget in 16 generations of 4 MiB: sized, as in production, so that the
/// hot horizon's worth of entries fits.
fn config() -> DlrIndexConfig {
    DlrIndexConfig {
        hot_bytes_max: 64 << 20,
        hot_generations_max: 16,
        ..DlrIndexConfig::default()
    }
}

#[test]
fn hot_tier_holds_a_million_entries_in_at_most_24_bytes_each() {
    let mut index = DlrIndex::new(config()).expect("valid config");
    for i in 0..ENTRIES {
        index.insert(spread(i), i, T0_MS);
    }
    let stats = index.stats();
    assert_eq!(stats.hot_entries, ENTRIES);
    assert_eq!(stats.counters.hot_entries_evicted, 0);
    let bytes_per_entry = stats.hot_bytes as f64 / ENTRIES as f64;
    println!(
        "hot tier: {} tables, {} bytes, {bytes_per_entry:.2} B/entry",
        stats.hot_tables, stats.hot_bytes
    );
    assert!(bytes_per_entry <= 24.0, "{bytes_per_entry:.2} B/entry");
    // Full tables sit at 7/8 load: 16 B / 0.875 ≈ 18.3 B; only the newest is partly filled.
    assert!(bytes_per_entry >= 18.0);
}

#[test]
fn disk_tier_keeps_under_two_bytes_of_ram_per_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config();
    let mut index = DlrIndex::new(config.clone()).expect("valid config");
    for i in 0..ENTRIES {
        index.insert(spread(i), i, T0_MS);
    }
    let due_ms = T0_MS + config.generation_span_ms + config.hot_horizon_ms;
    while let Some(frozen) = index.poll_flush(due_ms) {
        let path = frozen.write_to(dir.path()).expect("write");
        let run = DiskRun::open(&path).expect("open");
        index.install_run(run, due_ms).expect("install");
    }
    let stats = index.stats();
    assert_eq!(stats.run_entries, ENTRIES);
    assert_eq!(stats.hot_bytes, 0);
    let ram_per_entry = stats.run_ram_bytes as f64 / ENTRIES as f64;
    let disk_per_entry = stats.run_file_bytes as f64 / ENTRIES as f64;
    println!("disk tier: {ram_per_entry:.2} B/entry of RAM, {disk_per_entry:.2} B/entry on disk");
    assert!(ram_per_entry <= 2.0, "{ram_per_entry:.2} B/entry");
    assert!(disk_per_entry <= 16.1, "{disk_per_entry:.2} B/entry");
    for i in (0..ENTRIES).step_by(997) {
        assert_eq!(index.lookup(spread(i)), Some(i));
    }
}
