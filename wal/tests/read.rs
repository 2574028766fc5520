//! Reading one durable record back by its LSN (`WalReader`).

mod common;

use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::*;
use futures_lite::future::block_on;
use proptest::prelude::*;
use tern_wal::{Fault, Lsn, Wal, WalError, WalReader};

const SEGMENT_BYTES: u64 = 64 << 10;

/// Payload sizes around the 4 KiB stride of the index and the 8-byte frame alignment.
fn size_for(index: usize) -> usize {
    const SIZES: [usize; 14] = [
        0,
        1,
        7,
        8,
        300,
        4047,
        4048,
        4072,
        4073,
        4095,
        4096,
        4097,
        6000,
        8 << 10,
    ];
    SIZES[index % SIZES.len()]
}

fn sized_payload(lsn: u64, size: usize) -> Vec<u8> {
    let mut bytes = payload_for(lsn);
    bytes.resize(size, (lsn % 251) as u8);
    bytes
}

fn append_until_accepted(wal: &mut Wal, kind: u8, payload: &[u8]) -> Lsn {
    loop {
        match wal.append(kind, payload) {
            Ok(lsn) => return lsn,
            Err(WalError::Full { .. }) => {
                let last = Lsn(wal.next_lsn().get() - 1);
                block_on(wal.durable(last)).expect("durable");
            }
            Err(error) => panic!("append failed: {error}"),
        }
    }
}

fn read(reader: &WalReader, lsn: Lsn) -> Option<(u8, Vec<u8>)> {
    let mut buf = Vec::new();
    reader
        .read(lsn, &mut buf)
        .expect("read")
        .map(|kind| (kind, buf))
}

#[test]
fn reader_is_clone_send_sync_and_outlives_no_borrow() {
    fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    assert_handle::<WalReader>();
}

#[test]
fn every_record_reads_back_after_sync_across_4k_strides_and_segment_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _recovery) = Wal::open(dir.path(), small_config()).expect("open");
    let reader = wal.reader();
    let mut written = Vec::new();
    for index in 0..300 {
        let payload = sized_payload(wal.next_lsn().get(), size_for(index));
        let kind = 1 + (index % 200) as u8;
        let lsn = append_until_accepted(&mut wal, kind, &payload);
        written.push((lsn, kind, payload));
    }
    let last = written.last().map(|(lsn, _, _)| *lsn).expect("appended");
    block_on(wal.durable(last)).expect("durable");
    assert!(
        wal.stats().segments_in_use > 5,
        "the test must cross segment boundaries"
    );
    let mut buf = Vec::new();
    for (lsn, kind, payload) in &written {
        assert_eq!(reader.read(*lsn, &mut buf).expect("read"), Some(*kind));
        assert_eq!(&buf, payload, "{lsn}");
    }
    let bound = wal.stats().segments_in_use * (SEGMENT_BYTES / 4096) as usize;
    assert!(reader.index_points() <= bound);
    assert!(reader.index_points() > wal.stats().segments_in_use);
    wal.close().expect("close");
}

#[test]
fn a_read_returns_some_only_for_durable_lsns_and_none_past_the_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _recovery) = Wal::open(dir.path(), small_config()).expect("open");
    let reader = wal.reader();
    assert_eq!(read(&reader, Lsn(0)), None, "LSNs start at 1");
    for _ in 0..500 {
        let lsn = append_verifiable(&mut wal);
        // Read at once, racing the syncer: found implies durable, and then exact.
        if let Some((_, payload)) = read(&reader, lsn) {
            assert!(wal.is_durable(lsn));
            assert_eq!(payload, payload_for(lsn.get()));
        }
        assert_eq!(read(&reader, wal.next_lsn()), None);
    }
    wal.close().expect("close");
}

#[test]
fn a_record_that_never_becomes_durable_reads_as_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config();
    let faults = config.faults.clone();
    let (mut wal, _recovery) = Wal::open(dir.path(), config).expect("open");
    let reader = wal.reader();
    let durable = append_verifiable(&mut wal);
    block_on(wal.durable(durable)).expect("durable");
    faults.arm(Fault::CrashBeforeSync);
    let lost = append_verifiable(&mut wal);
    assert!(block_on(wal.durable(lost)).is_err());
    assert_eq!(read(&reader, lost), None);
    assert_eq!(
        read(&reader, durable).map(|(_, payload)| payload),
        Some(payload_for(durable.get())),
        "what was durable stays readable after the log stopped"
    );
}

#[test]
fn every_live_record_reads_back_after_reopen_and_appends_continue_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("open");
    drop(recovery);
    let mut lsns: Vec<Lsn> = (0..1500).map(|_| append_verifiable(&mut wal)).collect();
    wal.close().expect("close");
    let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("reopen");
    assert_eq!(recovery.records().count(), lsns.len());
    drop(recovery);
    let reader = wal.reader();
    lsns.extend((0..300).map(|_| append_verifiable(&mut wal)));
    block_on(wal.durable(*lsns.last().expect("appended"))).expect("durable");
    let mut buf = Vec::new();
    for lsn in &lsns {
        assert_eq!(reader.read(*lsn, &mut buf).expect("read"), Some(1), "{lsn}");
        assert_eq!(buf, payload_for(lsn.get()), "{lsn}");
    }
    let bound = wal.stats().segments_in_use * (SEGMENT_BYTES / 4096) as usize;
    assert!(reader.index_points() <= bound);
    wal.close().expect("close");
}

#[test]
fn reads_of_a_reclaimed_segment_are_none_and_log_records_are_never_returned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("open");
    drop(recovery);
    let reader = wal.reader();
    let dead: Vec<Lsn> = (0..2000).map(|_| append_verifiable(&mut wal)).collect();
    block_on(wal.durable(dead[1999])).expect("durable");
    wal.mark_done(dead[0]).expect("done");
    assert!(
        read(&reader, dead[0]).is_some(),
        "a record marked done stays readable until its segment goes"
    );
    dead[1..]
        .iter()
        .for_each(|lsn| wal.mark_done(*lsn).expect("done"));
    let kept: Vec<Lsn> = (0..200).map(|_| append_verifiable(&mut wal)).collect();
    block_on(wal.settle()).expect("settle");
    let stats = wal.stats();
    assert!(
        stats.segments_recycled + stats.segments_deleted > 3,
        "{stats:?}"
    );
    let mut buf = Vec::new();
    let mut internal = 0;
    for lsn in 0..wal.next_lsn().get() + 10 {
        let lsn = Lsn(lsn);
        match reader.read(lsn, &mut buf).expect("no error, no panic") {
            Some(kind) => {
                assert_eq!(kind, 1);
                assert_eq!(buf, payload_for(lsn.get()));
            }
            None if kept.contains(&lsn) => panic!("live {lsn} must read"),
            None => internal += u64::from(lsn > dead[1999] && lsn < kept[0]),
        }
    }
    assert!(dead[..1500].iter().all(|lsn| read(&reader, *lsn).is_none()));
    assert!(internal > 0, "tombstones between the batches read as None");
    wal.close().expect("close");
    assert!(matches!(
        reader.read(kept[0], &mut buf),
        Err(WalError::Closed)
    ));
}

#[test]
fn a_relocated_record_reads_at_its_new_lsn_and_its_old_one_goes_with_its_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("open");
    drop(recovery);
    let reader = wal.reader();
    let mut moves = Vec::new();
    for _ in 0..6 {
        let lsns: Vec<Lsn> = (0..400).map(|_| append_verifiable(&mut wal)).collect();
        block_on(wal.durable(lsns[399])).expect("durable");
        lsns[1..]
            .iter()
            .for_each(|lsn| wal.mark_done(*lsn).expect("done"));
        while let Some(segment) = wal.compaction_candidate() {
            for record in block_on(wal.read_live(segment)).expect("read live") {
                if let Some(new_lsn) = wal.relocate(&record).expect("relocate") {
                    moves.push((record.lsn, new_lsn));
                }
            }
        }
    }
    assert!(!moves.is_empty(), "the test must relocate records");
    let first_old = moves[0].0;
    for (old, new) in &moves {
        block_on(wal.durable(*new)).expect("durable");
        let old_read = read(&reader, *old);
        assert!(
            old_read.is_none() || old_read == Some((1, payload_for(origin(&moves, *old).get()))),
            "before its segment goes, the old LSN is its original bytes or nothing"
        );
    }
    block_on(wal.settle()).expect("settle");
    // A record relocated twice has moved on again: check each at its latest LSN.
    for (_, new) in &moves {
        if moves.iter().any(|(from, _)| from == new) {
            continue;
        }
        let original = origin(&moves, *new);
        assert_eq!(read(&reader, *new), Some((1, payload_for(original.get()))));
    }
    assert_eq!(read(&reader, first_old), None, "its segment was reclaimed");
    wal.close().expect("close");
}

/// The LSN a record was first appended at, following relocations backwards.
fn origin(moves: &[(Lsn, Lsn)], mut lsn: Lsn) -> Lsn {
    while let Some(&(from, _)) = moves.iter().find(|(_, to)| *to == lsn) {
        lsn = from;
    }
    lsn
}

#[test]
fn a_damaged_durable_record_is_a_corruption_error_naming_segment_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("open");
    drop(recovery);
    let reader = wal.reader();
    let lsns: Vec<Lsn> = (0..50).map(|_| append_verifiable(&mut wal)).collect();
    block_on(wal.durable(lsns[49])).expect("durable");
    let victim = lsns[20];
    let payload = payload_for(victim.get());
    let (path, payload_offset) = find_in_segments(dir.path(), &payload).expect("on disk");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open segment");
    file.write_all_at(&[!payload[0]], payload_offset)
        .expect("flip a byte");
    let mut buf = Vec::new();
    match reader.read(victim, &mut buf) {
        Err(WalError::Corruption {
            file,
            offset,
            segment_id,
            ..
        }) => {
            assert_eq!(file, path);
            assert_eq!(offset, payload_offset - 24, "the damaged record's header");
            assert!(segment_id > 0);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    assert!(buf.is_empty());
    assert_eq!(
        read(&reader, lsns[49]).map(|(_, payload)| payload),
        Some(payload_for(lsns[49].get())),
        "records outside the damaged span still read"
    );
    drop(wal);
}

/// The segment file and offset holding `needle`.
fn find_in_segments(dir: &std::path::Path, needle: &[u8]) -> Option<(std::path::PathBuf, u64)> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.extension().is_none_or(|ext| ext != "wal") {
            continue;
        }
        let bytes = std::fs::read(&path).ok()?;
        if let Some(at) = bytes
            .windows(needle.len())
            .position(|window| window == needle)
        {
            return Some((path, at as u64));
        }
    }
    None
}

#[test]
fn reads_from_another_thread_while_the_owner_appends_see_exact_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("open");
    drop(recovery);
    let durable_through = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|seed: u64| {
            let reader = wal.reader();
            let durable_through = Arc::clone(&durable_through);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let (mut state, mut found) = (seed * 7919 + 1, 0u64);
                while !done.load(Ordering::Acquire) {
                    let through = durable_through.load(Ordering::Acquire);
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let lsn = Lsn(1 + (state >> 33) % (through + 20));
                    match reader.read(lsn, &mut buf).expect("read") {
                        Some(_) => {
                            assert_eq!(buf, payload_for(lsn.get()), "{lsn}");
                            found += 1;
                        }
                        None => assert!(lsn.get() > through, "durable {lsn} must read"),
                    }
                }
                found
            })
        })
        .collect();
    for _ in 0..40 {
        let lsns: Vec<Lsn> = (0..100).map(|_| append_verifiable(&mut wal)).collect();
        block_on(wal.durable(lsns[99])).expect("durable");
        durable_through.store(lsns[99].get(), Ordering::Release);
    }
    done.store(true, Ordering::Release);
    let found: u64 = readers
        .into_iter()
        .map(|reader| reader.join().expect("reader thread"))
        .sum();
    assert!(found > 0);
    assert!(wal.stats().segments_in_use > 3);
    wal.close().expect("close");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_sizes_and_random_reads_return_exactly_the_appended_bytes(
        sizes in proptest::collection::vec(0usize..9000, 1..120),
        probes in proptest::collection::vec(0u64..200, 1..80),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut wal, _recovery) = Wal::open(dir.path(), fast_config()).expect("open");
        let reader = wal.reader();
        let mut written = std::collections::HashMap::new();
        for (index, size) in sizes.iter().enumerate() {
            let size = (*size).min(8 << 10);
            let payload = sized_payload(wal.next_lsn().get(), size);
            let kind = 1 + (index % 100) as u8;
            let lsn = append_until_accepted(&mut wal, kind, &payload);
            written.insert(lsn, (kind, payload));
        }
        let last = Lsn(wal.next_lsn().get() - 1);
        block_on(wal.durable(last)).expect("durable");
        let mut buf = vec![0xAA; 17];
        for probe in probes {
            let lsn = Lsn(probe);
            let found = reader.read(lsn, &mut buf).expect("read");
            match written.get(&lsn) {
                Some((kind, payload)) => {
                    prop_assert_eq!(found, Some(*kind));
                    prop_assert_eq!(&buf, payload);
                }
                None => {
                    prop_assert_eq!(found, None);
                    prop_assert!(buf.is_empty());
                }
            }
        }
        wal.close().expect("close");
    }
}

#[test]
fn reads_racing_segment_recycling_get_exact_bytes_or_none_never_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, recovery) = Wal::open(dir.path(), fast_config()).expect("open");
    drop(recovery);
    let next_lsn = Arc::new(AtomicU64::new(1));
    let done = Arc::new(AtomicBool::new(false));
    let reader_thread = {
        let reader = wal.reader();
        let next_lsn = Arc::clone(&next_lsn);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let (mut state, mut found) = (3u64, 0u64);
            while !done.load(Ordering::Acquire) {
                let end = next_lsn.load(Ordering::Acquire);
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                // Mostly recent LSNs, whose segments are the ones being recycled.
                let lsn = Lsn(end.saturating_sub((state >> 33) % 1200));
                if let Some(kind) = reader.read(lsn, &mut buf).expect("never an error") {
                    assert_eq!(kind, 1);
                    assert_eq!(buf, payload_for(lsn.get()), "{lsn}");
                    found += 1;
                }
            }
            found
        })
    };
    for _ in 0..120 {
        let lsns: Vec<Lsn> = (0..200).map(|_| append_verifiable(&mut wal)).collect();
        block_on(wal.durable(lsns[199])).expect("durable");
        next_lsn.store(wal.next_lsn().get(), Ordering::Release);
        lsns.iter()
            .for_each(|lsn| wal.mark_done(*lsn).expect("done"));
    }
    done.store(true, Ordering::Release);
    let found = reader_thread.join().expect("reader thread");
    assert!(found > 0);
    assert!(
        wal.stats().segments_recycled > 10,
        "files must be reused under the reader: {:?}",
        wal.stats()
    );
    wal.close().expect("close");
}
