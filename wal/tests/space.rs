//! Disk use stays bounded by live data, whatever the history.

mod common;

use std::collections::HashMap;

use common::*;
use futures_lite::future::block_on;
use tern_wal::{Lsn, Wal};

const SEGMENT_BYTES: u64 = 64 << 10;

#[test]
fn churn_of_many_segments_keeps_segment_files_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("open");
    drop(recovery);
    let mut most_files = 0;
    for _ in 0..150 {
        let lsns: Vec<Lsn> = (0..200).map(|_| append_verifiable(&mut wal)).collect();
        block_on(wal.durable(lsns[199])).expect("durable");
        lsns.iter()
            .for_each(|lsn| wal.mark_done(*lsn).expect("done"));
        most_files = most_files.max(segment_files(dir.path()));
    }
    let written_segments = wal.stats().written_bytes / SEGMENT_BYTES;
    block_on(wal.settle()).expect("settle");
    let stats = wal.stats();
    assert!(
        written_segments > 80,
        "history must span many segments, got {written_segments}"
    );
    assert!(
        most_files <= 10,
        "files peaked at {most_files} for {written_segments} segments written"
    );
    assert!(
        segment_files(dir.path()) <= 5,
        "active + spare pool, got {}",
        segment_files(dir.path())
    );
    assert!(
        stats.segments_recycled > 0,
        "dead segments are recycled: {stats:?}"
    );
    wal.close().expect("close");
    assert!(recovered(dir.path(), small_config()).is_empty());
}

#[test]
fn stragglers_pin_old_segments_until_copied_forward() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("open");
    drop(recovery);
    let pinned = churn_with_stragglers(&mut wal, 60, false);
    block_on(wal.settle()).expect("settle");
    assert!(
        segment_files(dir.path()) >= 20,
        "without compaction every straggler pins its segment"
    );
    drop(pinned);
    wal.close().expect("close");
}

#[test]
fn copy_forward_frees_old_segments_and_keeps_stragglers_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("open");
    drop(recovery);
    let stragglers = churn_with_stragglers(&mut wal, 60, true);
    block_on(wal.settle()).expect("settle");
    let files = segment_files(dir.path());
    assert!(files <= 8, "compaction bounds the files, got {files}");
    wal.close().expect("close");
    let mut expected: Vec<Vec<u8>> = stragglers.values().cloned().collect();
    let mut found: Vec<Vec<u8>> = recovered(dir.path(), small_config())
        .into_iter()
        .map(|(_, payload)| payload)
        .collect();
    expected.sort();
    found.sort();
    assert_eq!(
        found, expected,
        "every straggler survives, byte for byte, under its new LSN"
    );
}

/// Rounds of ~1.3 segments each where all records but one die; returns live LSN -> payload.
fn churn_with_stragglers(wal: &mut Wal, rounds: usize, compact: bool) -> HashMap<Lsn, Vec<u8>> {
    let mut stragglers = HashMap::new();
    for _ in 0..rounds {
        let lsns: Vec<Lsn> = (0..400).map(|_| append_verifiable(wal)).collect();
        block_on(wal.durable(lsns[399])).expect("durable");
        stragglers.insert(lsns[0], payload_for(lsns[0].get()));
        lsns[1..]
            .iter()
            .for_each(|lsn| wal.mark_done(*lsn).expect("done"));
        while let Some(segment) = compact.then(|| wal.compaction_candidate()).flatten() {
            for record in block_on(wal.read_live(segment)).expect("read live") {
                assert_eq!(stragglers.get(&record.lsn), Some(&record.payload));
                if let Some(new_lsn) = wal.relocate(&record).expect("relocate") {
                    stragglers.remove(&record.lsn);
                    stragglers.insert(new_lsn, record.payload);
                }
            }
        }
    }
    stragglers
}

#[test]
fn a_relocated_record_is_recovered_exactly_once_when_the_process_dies_right_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let faults = config.faults.clone();
    let (mut wal, recovery) = Wal::open(dir.path(), config).expect("open");
    drop(recovery);
    let lsns: Vec<Lsn> = (0..400).map(|_| append_verifiable(&mut wal)).collect();
    lsns[1..]
        .iter()
        .for_each(|lsn| wal.mark_done(*lsn).expect("done"));
    wal.flush_done().expect("flush");
    block_on(wal.durable(Lsn(wal.next_lsn().get() - 1))).expect("durable");
    let segment = wal
        .compaction_candidate()
        .expect("the straggler's segment is a candidate");
    let live = block_on(wal.read_live(segment)).expect("read live");
    assert_eq!(
        live.iter().map(|record| record.lsn).collect::<Vec<_>>(),
        vec![lsns[0]]
    );
    let moved = wal
        .relocate(&live[0])
        .expect("relocate")
        .expect("still live");
    block_on(wal.durable(moved)).expect("durable");
    // Nothing written after the copy reaches the disk: no separate tombstone can help.
    faults.arm(tern_wal::Fault::CrashBeforeSync);
    drop(wal);
    let records = recovered(dir.path(), small_config());
    assert_eq!(records, vec![(moved.get(), payload_for(lsns[0].get()))]);
}
