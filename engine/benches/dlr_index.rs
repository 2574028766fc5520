//! DLR index micro-benchmarks: insert and lookup (hit in RAM, hit on disk, miss) on an index
//! holding 1M and 10M entries, a miss against the ~384 runs a 48 h TTL leaves at default
//! settings, and the key hash.
//!
//! `cargo bench -p tern-engine --bench dlr_index -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tern_engine::dlr_index::{DiskRun, DlrIndex, DlrIndexConfig, Fingerprint, Key};

const T0_MS: u64 = 1_700_000_000_000;
const PROBE_KEYS: u64 = 1 << 20;

fn spread(i: u64) -> Fingerprint {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    Fingerprint::from_hash(x ^ (x >> 31))
}

fn config() -> DlrIndexConfig {
    DlrIndexConfig {
        hot_bytes_max: 64 << 20,
        hot_generations_max: 16,
        disk_bytes_max: u64::MAX,
        ..DlrIndexConfig::default()
    }
}

fn flush_due(index: &mut DlrIndex, dir: &Path, now_ms: u64) {
    while let Some(frozen) = index.poll_flush(now_ms) {
        let path = frozen.write_to(dir).expect("write run");
        let run = DiskRun::open(&path).expect("open run");
        index.install_run(run, now_ms).expect("install run");
    }
}

/// Entries left in RAM (the newest generation) by `build`.
const HOT_ENTRIES: u64 = 200_000;

/// An index with `entries` keys: all but the newest `HOT_ENTRIES` written as runs, those
/// still in the RAM generation inserts go to. Returns it with the first key still in RAM.
fn build(entries: u64, dir: &Path) -> (DlrIndex, u64) {
    let config = config();
    let mut index = DlrIndex::new(config.clone()).expect("valid config");
    let first_hot = entries - HOT_ENTRIES;
    for i in 0..first_hot {
        index.insert(spread(i), i, T0_MS);
        if i % 100_000 == 0 {
            flush_due(&mut index, dir, T0_MS);
        }
    }
    // Later, so the older generations are due for writing and this one is not.
    let hot_ms = T0_MS + config.generation_span_ms + 60_000;
    for i in first_hot..entries {
        index.insert(spread(i), i, hot_ms);
    }
    flush_due(&mut index, dir, T0_MS + config.hot_horizon_ms);
    let stats = index.stats();
    eprintln!(
        "{entries} entries: {} hot ({:.1} B/entry), {} in {} runs ({:.2} B/entry RAM), {} hot tables",
        stats.hot_entries,
        stats.hot_bytes as f64 / stats.hot_entries.max(1) as f64,
        stats.run_entries,
        stats.runs,
        stats.run_ram_bytes as f64 / stats.run_entries.max(1) as f64,
        stats.hot_tables,
    );
    assert_eq!(stats.hot_entries, HOT_ENTRIES);
    (index, first_hot)
}

fn bench_lookups(c: &mut Criterion, label: &str, index: &mut DlrIndex, keys: &[Fingerprint]) {
    let mut group = c.benchmark_group("dlr_index");
    group.throughput(Throughput::Elements(1));
    let mut at = 0usize;
    group.bench_function(label, |b| {
        b.iter(|| {
            at = (at + 1) % keys.len();
            black_box(index.lookup(keys[at]))
        })
    });
    group.finish();
}

fn bench_size(c: &mut Criterion, entries: u64, name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut index, first_hot) = build(entries, dir.path());
    let probe = |from: u64, span: u64| -> Vec<Fingerprint> {
        (0..PROBE_KEYS)
            .map(|i| spread(from + i % span.max(1)))
            .collect()
    };
    let hot = probe(first_hot, entries - first_hot);
    let disk = probe(0, first_hot);
    let missing = probe(u64::MAX / 2, PROBE_KEYS);
    bench_lookups(c, &format!("{name}/lookup_hit_hot"), &mut index, &hot);
    bench_lookups(c, &format!("{name}/lookup_hit_disk"), &mut index, &disk);
    bench_lookups(c, &format!("{name}/lookup_miss"), &mut index, &missing);

    let mut group = c.benchmark_group("dlr_index");
    group.throughput(Throughput::Elements(1));
    let mut next = entries;
    group.bench_function(format!("{name}/insert"), |b| {
        // New keys into the index at this size; generations rotate and, since nothing is
        // flushed here, the oldest are evicted: the steady state of the executor's side.
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(index.insert(spread(next), next, T0_MS).replaced);
                next += 1;
            }
            start.elapsed()
        })
    });
    group.finish();
}

fn index_1m(c: &mut Criterion) {
    bench_size(c, 1_000_000, "1M");
}

fn index_10m(c: &mut Criterion) {
    bench_size(c, 10_000_000, "10M");
}

/// A 48 h TTL cut into 7.5-minute generations: 384 runs, every one probed by a miss.
fn many_runs_miss(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config();
    let mut index = DlrIndex::new(config.clone()).expect("valid config");
    let runs = config.ttl_ms / config.generation_span_ms;
    let per_run = 2_600u64;
    for run in 0..runs {
        let now_ms = T0_MS + run * config.generation_span_ms;
        for i in 0..per_run {
            index.insert(spread(run * per_run + i), i, now_ms);
        }
        flush_due(&mut index, dir.path(), now_ms);
    }
    let end_ms = T0_MS + runs * config.generation_span_ms + config.hot_horizon_ms;
    index.expire(end_ms);
    flush_due(&mut index, dir.path(), end_ms);
    eprintln!(
        "{} runs, {} entries on disk",
        index.stats().runs,
        index.stats().run_entries
    );
    let missing: Vec<Fingerprint> = (0..PROBE_KEYS).map(|i| spread(u64::MAX / 2 + i)).collect();
    bench_lookups(c, "384_runs/lookup_miss", &mut index, &missing);
    let oldest: Vec<Fingerprint> = (0..PROBE_KEYS).map(|i| spread(i % per_run)).collect();
    bench_lookups(c, "384_runs/lookup_hit_oldest_run", &mut index, &oldest);
}

fn key_fingerprint(c: &mut Criterion) {
    let ids: Vec<String> = (0..1024u32)
        .map(|i| format!("{:016x}", u64::from(i) * 7919))
        .collect();
    let mut group = c.benchmark_group("dlr_index");
    group.throughput(Throughput::Elements(1));
    let mut at = 0usize;
    group.bench_function("fingerprint_16_byte_id2", |b| {
        b.iter(|| {
            at = (at + 1) % ids.len();
            let key = Key::new(3, ids[at].as_bytes()).expect("short id");
            black_box(key.fingerprint())
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    key_fingerprint,
    index_1m,
    index_10m,
    many_runs_miss
);
criterion_main!(benches);
