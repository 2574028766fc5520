//! Reading one durable record back by LSN (`WalReader::read`), hot page cache.
//!
//! `cargo bench -p tern-wal --bench read -- --warm-up-time 1 --measurement-time 3`
//!
//! 250 000 records of 300 bytes (default config: 64 MiB segments, so the log spans one
//! sealed and one active segment), read at random LSNs and in LSN order; then the same
//! after a reopen, from the index recovery rebuilt.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_lite::future::block_on;
use tern_wal::{Durability, Lsn, Wal, WalConfig, WalError, WalReader};

const RECORD_BYTES: usize = 300;
const RECORDS: u64 = 250_000;

fn config() -> WalConfig {
    WalConfig {
        durability: Durability::None,
        ..WalConfig::default()
    }
}

fn fill(wal: &mut Wal) -> (Lsn, Lsn) {
    let payload = vec![0x5a; RECORD_BYTES];
    let first = wal.next_lsn();
    for _ in 0..RECORDS {
        loop {
            match wal.append(1, &payload) {
                Ok(_) => break,
                Err(WalError::Full { .. }) => {
                    block_on(wal.durable(Lsn(wal.next_lsn().get() - 1))).expect("durable")
                }
                Err(error) => panic!("append: {error}"),
            }
        }
    }
    let last = Lsn(wal.next_lsn().get() - 1);
    block_on(wal.durable(last)).expect("durable");
    (first, last)
}

fn bench_reads(c: &mut Criterion, name: &str, reader: &WalReader, (first, last): (Lsn, Lsn)) {
    let span = last.get() - first.get() + 1;
    let mut buf = Vec::with_capacity(8 << 10);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    group.bench_function("random_lsn", |bencher| {
        bencher.iter(|| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let lsn = Lsn(first.get() + state % span);
            let kind = reader.read(lsn, &mut buf).expect("read");
            assert_eq!((kind, buf.len()), (Some(1), RECORD_BYTES));
        })
    });
    let mut next = 0u64;
    group.bench_function("sequential_lsn", |bencher| {
        bencher.iter(|| {
            let lsn = Lsn(first.get() + next % span);
            next += 1;
            let kind = reader.read(lsn, &mut buf).expect("read");
            assert_eq!((kind, buf.len()), (Some(1), RECORD_BYTES));
        })
    });
    group.finish();
    println!(
        "{name}: {} index points for {span} records ({} bytes)",
        reader.index_points(),
        reader.index_points() * 16
    );
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, recovery) = Wal::open(dir.path(), config()).expect("open");
    drop(recovery);
    let range = fill(&mut wal);
    println!("segments in use: {}", wal.stats().segments_in_use);
    bench_reads(c, "read_300B", &wal.reader(), range);
    wal.close().expect("close");
    let (wal, recovery) = Wal::open(dir.path(), config()).expect("reopen");
    drop(recovery);
    bench_reads(c, "read_300B_after_reopen", &wal.reader(), range);
    wal.close().expect("close");
}

criterion_group!(benches, bench);
criterion_main!(benches);
