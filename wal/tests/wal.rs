//! Append, durability, failure and done marks.

mod common;

use common::*;
use futures_lite::future::block_on;
use tern_wal::{Fault, Lsn, Wal, WalError};

#[test]
fn appended_records_come_back_in_order_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("open");
    assert_eq!(recovery.records().count(), 0);
    drop(recovery);
    let lsns: Vec<Lsn> = (0..2000).map(|_| append_verifiable(&mut wal)).collect();
    block_on(wal.durable(*lsns.last().expect("appended"))).expect("durable");
    assert!(
        wal.stats().segments_in_use > 3,
        "the test must cross segment boundaries"
    );
    wal.close().expect("close");
    let records = recovered(dir.path(), small_config());
    assert_eq!(records.len(), lsns.len());
    for ((lsn, payload), expected) in records.iter().zip(&lsns) {
        assert_eq!(*lsn, expected.get());
        assert_eq!(*payload, payload_for(*lsn));
    }
}

#[test]
fn durable_future_resolves_on_a_glommio_executor_woken_by_the_syncer_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let executor = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(move || async move {
            let (mut wal, _recovery) = Wal::open(&path, small_config()).expect("open");
            let mut last = Lsn(0);
            for _ in 0..10 {
                for _ in 0..50 {
                    last = append_verifiable(&mut wal);
                }
                wal.durable(last).await.expect("durable");
                assert!(wal.is_durable(last));
            }
            wal.close().expect("close");
            last
        })
        .expect("executor");
    let last = executor.join().expect("join");
    assert_eq!(
        recovered(dir.path(), small_config())
            .last()
            .map(|(lsn, _)| *lsn),
        Some(last.get())
    );
}

#[test]
fn one_wait_covers_many_appends_and_later_waits_resolve_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _recovery) = Wal::open(dir.path(), small_config()).expect("open");
    let lsns: Vec<Lsn> = (0..100).map(|_| append_verifiable(&mut wal)).collect();
    block_on(wal.durable(lsns[99])).expect("durable");
    for lsn in &lsns {
        let polled = block_on(futures_lite::future::poll_once(wal.durable(*lsn)));
        assert!(polled.is_some_and(|outcome| outcome.is_ok()));
    }
    assert!(wal.stats().batches <= 100);
}

#[test]
fn durable_of_a_never_appended_lsn_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _recovery) = Wal::open(dir.path(), small_config()).expect("open");
    let outcome = block_on(wal.durable(Lsn(wal.next_lsn().get() + 5)));
    assert!(matches!(outcome, Err(WalError::NotAppended { .. })));
}

#[test]
fn failed_fsync_stops_the_log_fails_waiters_and_refuses_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let faults = config.faults.clone();
    let (mut wal, _recovery) = Wal::open(dir.path(), config).expect("open");
    let durable = append_verifiable(&mut wal);
    block_on(wal.durable(durable)).expect("first batch durable");
    faults.arm(Fault::FailSync);
    let doomed = append_verifiable(&mut wal);
    assert!(matches!(
        block_on(wal.durable(doomed)),
        Err(WalError::Failed { .. })
    ));
    assert!(matches!(
        wal.append(1, b"after"),
        Err(WalError::Failed { .. })
    ));
    assert!(
        block_on(wal.durable(durable)).is_ok(),
        "what was durable stays durable"
    );
    assert!(matches!(wal.close(), Err(WalError::Failed { .. })));
    let records = recovered(dir.path(), small_config());
    assert_eq!(records.first().map(|(lsn, _)| *lsn), Some(durable.get()));
}

#[test]
fn crash_after_append_before_sync_loses_only_unsignalled_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let faults = config.faults.clone();
    let (mut wal, _recovery) = Wal::open(dir.path(), config).expect("open");
    let durable: Vec<Lsn> = (0..20).map(|_| append_verifiable(&mut wal)).collect();
    block_on(wal.durable(durable[19])).expect("durable");
    faults.arm(Fault::CrashBeforeSync);
    let lost = append_verifiable(&mut wal);
    assert!(block_on(wal.durable(lost)).is_err());
    drop(wal);
    let records = recovered(dir.path(), small_config());
    assert_eq!(
        records.iter().map(|(lsn, _)| *lsn).collect::<Vec<_>>(),
        durable.iter().map(|lsn| lsn.get()).collect::<Vec<_>>()
    );
}

#[test]
fn torn_write_recovers_every_signalled_record_and_reports_the_tear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let faults = config.faults.clone();
    let (mut wal, _recovery) = Wal::open(dir.path(), config).expect("open");
    let durable: Vec<Lsn> = (0..20).map(|_| append_verifiable(&mut wal)).collect();
    block_on(wal.durable(durable[19])).expect("durable");
    faults.arm(Fault::TornWrite);
    // One record alone in the torn batch: the fault writes half the batch, which is then
    // always inside that record (with several equal records half can fall on a boundary,
    // a clean end that recovery rightly does not call a tear).
    let torn = append_verifiable(&mut wal);
    assert!(block_on(wal.durable(torn)).is_err());
    drop(wal);
    let (wal, recovery) = Wal::open(dir.path(), small_config()).expect("reopen");
    let lsns: Vec<u64> = recovery.records().map(|record| record.lsn.get()).collect();
    assert!(lsns.len() >= 20 && lsns.len() < 60);
    assert_eq!(
        lsns,
        (durable[0].get()..durable[0].get() + lsns.len() as u64).collect::<Vec<_>>()
    );
    assert!(recovery.report().torn_tail.is_some());
    for record in recovery.records() {
        assert_eq!(record.payload, payload_for(record.lsn.get()));
    }
    drop(recovery);
    wal.close().expect("close");
}

#[test]
fn appends_after_recovering_a_torn_tail_survive_the_next_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let faults = config.faults.clone();
    let (mut wal, _recovery) = Wal::open(dir.path(), config).expect("open");
    for _ in 0..10 {
        append_verifiable(&mut wal);
    }
    block_on(wal.durable(Lsn(wal.next_lsn().get() - 1))).expect("durable");
    faults.arm(Fault::TornWrite);
    let _ = append_until_failed(&mut wal, 30);
    drop(wal);
    let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("reopen");
    let before = recovery.records().count();
    drop(recovery);
    let added: Vec<Lsn> = (0..30).map(|_| append_verifiable(&mut wal)).collect();
    wal.close().expect("close");
    let records = recovered(dir.path(), small_config());
    assert_eq!(records.len(), before + added.len());
    assert!(
        records
            .iter()
            .all(|(lsn, payload)| *payload == payload_for(*lsn))
    );
}

#[test]
fn full_buffer_is_backpressure_not_growth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _recovery) = Wal::open(dir.path(), small_config()).expect("open");
    let payload = vec![7u8; 4000];
    let mut refused = false;
    for _ in 0..10_000 {
        match wal.append(1, &payload) {
            Ok(_) => {}
            Err(WalError::Full {
                max_pending_bytes, ..
            }) => {
                assert_eq!(max_pending_bytes, 64 << 10);
                refused = true;
                break;
            }
            Err(error) => panic!("unexpected {error}"),
        }
    }
    assert!(refused, "an unbounded queue would never refuse");
}

#[test]
fn reserved_kinds_and_oversized_payloads_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _recovery) = Wal::open(dir.path(), small_config()).expect("open");
    assert!(matches!(
        wal.append(0xFE, b"x"),
        Err(WalError::ReservedKind { kind: 0xFE })
    ));
    assert!(matches!(
        wal.append(1, &vec![0u8; 9000]),
        Err(WalError::RecordTooLarge { .. })
    ));
}

#[test]
fn records_marked_done_are_not_recovered_and_others_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _recovery) = Wal::open(dir.path(), small_config()).expect("open");
    let lsns: Vec<Lsn> = (0..1000).map(|_| append_verifiable(&mut wal)).collect();
    for lsn in lsns.iter().filter(|lsn| !lsn.get().is_multiple_of(3)) {
        wal.mark_done(*lsn).expect("mark done");
    }
    let already_done = lsns
        .iter()
        .find(|lsn| !lsn.get().is_multiple_of(3))
        .expect("a done record");
    assert!(matches!(
        wal.mark_done(*already_done),
        Err(WalError::NotLive { .. })
    ));
    wal.close().expect("close");
    let records = recovered(dir.path(), small_config());
    let expected: Vec<u64> = lsns
        .iter()
        .map(|lsn| lsn.get())
        .filter(|lsn| lsn.is_multiple_of(3))
        .collect();
    assert_eq!(
        records.iter().map(|(lsn, _)| *lsn).collect::<Vec<_>>(),
        expected
    );
}

#[test]
fn close_logs_every_done_mark_even_when_they_overflow_the_pending_bound() {
    // 6,000 done marks make 12 tombstone records of ~4 KiB: three times the 16 KiB
    // pending bound, so close must wait for the syncer between batches.
    let config = tern_wal::WalConfig {
        max_pending_bytes: 16 << 10,
        ..small_config()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _recovery) = Wal::open(dir.path(), config.clone()).expect("open");
    // No wait for durability before marking: the syncer lags behind the appends, so the
    // tombstones meet a full batch (the case that lost every done mark before).
    let lsns: Vec<Lsn> = (0..6_001).map(|_| append_verifiable(&mut wal)).collect();
    let (kept, done) = lsns.split_last().expect("appended");
    for lsn in done {
        wal.mark_done(*lsn).expect("mark done");
    }
    wal.close().expect("close");
    let records = recovered(dir.path(), config);
    assert_eq!(
        records.iter().map(|(lsn, _)| *lsn).collect::<Vec<_>>(),
        vec![kept.get()]
    );
}

#[test]
fn marking_an_unknown_or_done_record_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _recovery) = Wal::open(dir.path(), small_config()).expect("open");
    let lsn = append_verifiable(&mut wal);
    wal.mark_done(lsn).expect("first mark");
    assert!(matches!(wal.mark_done(lsn), Err(WalError::NotLive { .. })));
    assert!(matches!(
        wal.mark_done(Lsn(999_999)),
        Err(WalError::NotLive { .. })
    ));
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, _recovery) = Wal::open(dir.path(), small_config()).expect("open");
    assert!(matches!(
        Wal::open(dir.path(), small_config()),
        Err(WalError::Locked(_))
    ));
}

#[test]
fn lsns_keep_increasing_across_restarts_even_when_everything_was_reclaimed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut last = 0;
    for _ in 0..3 {
        let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("open");
        drop(recovery);
        assert!(wal.next_lsn().get() > last);
        let lsns: Vec<Lsn> = (0..600).map(|_| append_verifiable(&mut wal)).collect();
        lsns.iter()
            .for_each(|lsn| wal.mark_done(*lsn).expect("done"));
        block_on(wal.settle()).expect("settle");
        last = lsns[599].get();
        wal.close().expect("close");
    }
    assert!(recovered(dir.path(), small_config()).is_empty());
}

/// Appends verifiable records until `count` are in or the log stops; returns the last LSN.
fn append_until_failed(wal: &mut Wal, count: usize) -> Lsn {
    let mut last = Lsn(wal.next_lsn().get() - 1);
    for _ in 0..count {
        match wal.append(1, &payload_for(wal.next_lsn().get())) {
            Ok(lsn) => last = lsn,
            Err(WalError::Failed { .. }) => break,
            Err(error) => panic!("unexpected {error}"),
        }
    }
    last
}
