//! Append throughput of 200-byte records, with durability `none` and `fsync`.
//!
//! `cargo bench -p tern-wal --bench append -- --warm-up-time 1 --measurement-time 3`

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_lite::future::block_on;
use tern_wal::{Durability, Lsn, Wal, WalConfig, WalError};

const RECORD_BYTES: usize = 200;
const BATCH_RECORDS: u64 = 1000;

fn open(durability: Durability) -> (tempfile::TempDir, Wal) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = WalConfig {
        durability,
        ..WalConfig::default()
    };
    let (wal, recovery) = Wal::open(dir.path(), config).expect("open");
    drop(recovery);
    (dir, wal)
}

/// Appends a batch and waits until it is durable; returns the time, then marks it done
/// (untimed) so segments recycle and disk use stays flat.
fn durable_batch(wal: &mut Wal, payload: &[u8]) -> Duration {
    let start = Instant::now();
    let first = wal.next_lsn();
    let mut last = first;
    for _ in 0..BATCH_RECORDS {
        last = append_waiting(wal, payload);
    }
    block_on(wal.durable(last)).expect("durable");
    let elapsed = start.elapsed();
    for lsn in first.get()..=last.get() {
        let _ = wal.mark_done(Lsn(lsn));
    }
    elapsed
}

fn append_waiting(wal: &mut Wal, payload: &[u8]) -> Lsn {
    loop {
        match wal.append(1, payload) {
            Ok(lsn) => return lsn,
            Err(WalError::Full { .. }) => {
                block_on(wal.durable(Lsn(wal.next_lsn().get() - 1))).expect("durable")
            }
            Err(error) => panic!("append: {error}"),
        }
    }
}

fn bench_durable_batches(c: &mut Criterion) {
    let payload = vec![0x5a; RECORD_BYTES];
    let mut group = c.benchmark_group("append_200B_until_durable");
    group.throughput(Throughput::Elements(BATCH_RECORDS));
    for (name, durability) in [("none", Durability::None), ("fsync", Durability::Fsync)] {
        let (_dir, mut wal) = open(durability);
        group.bench_function(name, |bencher| {
            bencher.iter_custom(|iterations| {
                (0..iterations)
                    .map(|_| durable_batch(&mut wal, &payload))
                    .sum()
            });
        });
    }
    group.finish();
}

/// The owner's cost of one append call (the memcpy into the batch), timed over runs of 64
/// appends so the clock reads do not dominate; waits for room are untimed. With `none`
/// the syncer drains every record at once and parks, so many appends also pay the futex
/// wake of an idle syncer; with `fsync` it is busy syncing and they almost never do.
fn bench_append_call(c: &mut Criterion) {
    let payload = vec![0x5a; RECORD_BYTES];
    let mut group = c.benchmark_group("append_200B_call");
    group.throughput(Throughput::Elements(APPENDS_PER_TIMING));
    for (name, durability) in [("none", Durability::None), ("fsync", Durability::Fsync)] {
        let (_dir, mut wal) = open(durability);
        group.bench_function(name, |bencher| {
            bencher.iter_custom(|iterations| {
                (0..iterations)
                    .map(|_| timed_appends(&mut wal, &payload))
                    .sum()
            });
        });
    }
    group.finish();
}

const APPENDS_PER_TIMING: u64 = 64;

/// Times 64 appends (refused ones retried untimed); every 4096 records waits, untimed,
/// and marks them done.
fn timed_appends(wal: &mut Wal, payload: &[u8]) -> Duration {
    let mut timed = Duration::ZERO;
    let mut remaining = APPENDS_PER_TIMING;
    while remaining > 0 {
        let start = Instant::now();
        let mut outcome = Ok(Lsn(0));
        while remaining > 0 {
            outcome = wal.append(1, payload);
            if outcome.is_err() {
                break;
            }
            remaining -= 1;
        }
        timed += start.elapsed();
        match outcome {
            Ok(lsn) if lsn.get() % 4096 < APPENDS_PER_TIMING => retire_through(wal, lsn),
            Ok(_) => {}
            Err(WalError::Full { .. }) => {
                block_on(wal.durable(Lsn(wal.next_lsn().get() - 1))).expect("durable")
            }
            Err(error) => panic!("append: {error}"),
        }
    }
    timed
}

/// Waits until `last` is durable and marks every live record up to it done.
fn retire_through(wal: &mut Wal, last: Lsn) {
    block_on(wal.durable(last)).expect("durable");
    let first = last.get().saturating_sub(8192).max(1);
    for lsn in first..=last.get() {
        let _ = wal.mark_done(Lsn(lsn));
    }
}

criterion_group!(benches, bench_durable_batches, bench_append_call);
criterion_main!(benches);
