//! Torn tails are cut cleanly; corruption in the middle is detected and reported.

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use common::*;
use futures_lite::future::block_on;
use rand::{Rng, SeedableRng, rngs::StdRng};
use tern_wal::frame::padded_record_bytes;
use tern_wal::inspect::{InspectOptions, RecordInfo, inspect};
use tern_wal::{RecoveryMode, Wal, WalConfig, WalError};

/// A log of several segments written in batches of 40 records; returns its record listing.
fn build_log(dir: &Path) -> Vec<RecordInfo> {
    let (mut wal, recovery) = Wal::open(dir, small_config()).expect("open");
    drop(recovery);
    for _ in 0..14 {
        let mut last = None;
        for _ in 0..40 {
            last = Some(append_verifiable(&mut wal));
        }
        block_on(wal.durable(last.expect("appended"))).expect("durable");
    }
    wal.close().expect("close");
    let report = inspect(dir, InspectOptions { records: true }).expect("inspect");
    assert!(report.is_clean() && report.torn_tail.is_none(), "{report}");
    assert!(report.segments.len() >= 2);
    report.records
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

fn segment_path(dir: &Path, segment_id: u64) -> PathBuf {
    let report = inspect(dir, InspectOptions::default()).expect("inspect");
    report
        .segments
        .iter()
        .find(|segment| segment.segment_id == segment_id)
        .expect("segment")
        .file
        .clone()
}

fn record_end(record: &RecordInfo) -> u64 {
    record.offset + padded_record_bytes(record.payload_bytes as usize) as u64
}

fn recovered_lsns(dir: &Path, config: WalConfig) -> Result<Vec<u64>, WalError> {
    let (wal, recovery) = Wal::open(dir, config)?;
    let lsns = recovery
        .records()
        .map(|record| {
            assert_eq!(
                record.payload,
                payload_for(record.lsn.get()),
                "recovered record intact"
            );
            record.lsn.get()
        })
        .collect();
    drop(recovery);
    wal.close()?;
    Ok(lsns)
}

fn flip_byte(path: &Path, offset: u64, mask: u8) {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open segment");
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset).expect("read byte");
    file.write_all_at(&[byte[0] ^ mask], offset)
        .expect("write byte");
}

#[test]
fn truncating_the_last_segment_at_random_offsets_recovers_exactly_the_intact_prefix() {
    let pristine = tempfile::tempdir().expect("tempdir");
    let records = build_log(pristine.path());
    let last_segment = records
        .iter()
        .map(|record| record.segment_id)
        .max()
        .expect("records");
    let used = records
        .iter()
        .filter(|record| record.segment_id == last_segment)
        .map(record_end)
        .max()
        .expect("used");
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..25 {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(pristine.path(), dir.path());
        let cut = rng.random_range(4096..=used);
        let path = segment_path(dir.path(), last_segment);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open")
            .set_len(cut)
            .expect("truncate");
        let expected: Vec<u64> = records
            .iter()
            .filter(|record| record.segment_id < last_segment || record_end(record) <= cut)
            .map(|record| record.lsn)
            .collect();
        assert_eq!(
            recovered_lsns(dir.path(), small_config()).expect("a torn tail opens"),
            expected,
            "cut at {cut}"
        );
        let (mut wal, recovery) = Wal::open(dir.path(), small_config()).expect("reopen");
        drop(recovery);
        for _ in 0..5 {
            append_verifiable(&mut wal);
        }
        wal.close().expect("close");
        assert_eq!(
            recovered_lsns(dir.path(), small_config())
                .expect("reopen")
                .len(),
            expected.len() + 5
        );
    }
}

#[test]
fn corrupting_bytes_of_the_last_batch_recovers_a_clean_prefix() {
    let pristine = tempfile::tempdir().expect("tempdir");
    let records = build_log(pristine.path());
    let last_segment = records
        .iter()
        .map(|record| record.segment_id)
        .max()
        .expect("records");
    let in_last: Vec<&RecordInfo> = records
        .iter()
        .filter(|record| record.segment_id == last_segment)
        .collect();
    let batch_start = in_last
        .iter()
        .filter(|record| record.batch_start)
        .map(|record| record.offset)
        .max()
        .expect("batch");
    let used = in_last
        .iter()
        .map(|record| record_end(record))
        .max()
        .expect("used");
    let all: Vec<u64> = records.iter().map(|record| record.lsn).collect();
    let mut rng = StdRng::seed_from_u64(11);
    for _ in 0..25 {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(pristine.path(), dir.path());
        let offset = rng.random_range(batch_start..used);
        flip_byte(
            &segment_path(dir.path(), last_segment),
            offset,
            rng.random_range(1..=255),
        );
        let lsns = recovered_lsns(dir.path(), small_config())
            .expect("damage in the last batch is a torn tail");
        let intact_before = records
            .iter()
            .filter(|record| record.segment_id < last_segment || record_end(record) <= offset)
            .count();
        assert!(
            lsns.len() >= intact_before,
            "flip at {offset} lost intact records"
        );
        assert_eq!(lsns[..], all[..lsns.len()], "recovery yields a prefix");
    }
}

#[test]
fn a_corrupted_record_followed_by_later_batches_is_reported_with_file_and_offset() {
    let pristine = tempfile::tempdir().expect("tempdir");
    let records = build_log(pristine.path());
    let last_segment = records
        .iter()
        .map(|record| record.segment_id)
        .max()
        .expect("records");
    let sealed_victim = records
        .iter()
        .find(|record| record.segment_id < last_segment && record.lsn % 7 == 3)
        .expect("victim");
    let last_batch = records
        .iter()
        .filter(|record| record.segment_id == last_segment && record.batch_start)
        .map(|record| record.offset)
        .max();
    let tail_victim = records
        .iter()
        .find(|record| record.segment_id == last_segment && Some(record.offset) < last_batch)
        .expect("a record before the last batch");
    for victim in [sealed_victim, tail_victim] {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(pristine.path(), dir.path());
        let path = segment_path(dir.path(), victim.segment_id);
        flip_byte(&path, victim.offset + 30, 0x40);
        match Wal::open(dir.path(), small_config()) {
            Err(WalError::Corruption {
                file,
                segment_id,
                offset,
                ..
            }) => {
                assert_eq!(
                    (file, segment_id, offset),
                    (path.clone(), victim.segment_id, victim.offset)
                );
            }
            other => panic!("corruption must be refused, got {:?}", other.map(|_| ())),
        }
        let report = inspect(dir.path(), InspectOptions::default()).expect("inspect");
        assert!(!report.is_clean());
        assert_eq!(report.problems[0].offset, victim.offset);
    }
}

#[test]
fn a_zeroed_block_in_a_sealed_segment_is_corruption_not_an_end() {
    let pristine = tempfile::tempdir().expect("tempdir");
    let records = build_log(pristine.path());
    let victim = records
        .iter()
        .find(|record| record.segment_id == records[0].segment_id && record.lsn > 50)
        .expect("victim");
    let path = segment_path(pristine.path(), victim.segment_id);
    let file = OpenOptions::new().write(true).open(&path).expect("open");
    file.write_all_at(&[0u8; 512], victim.offset).expect("zero");
    assert!(matches!(
        Wal::open(pristine.path(), small_config()),
        Err(WalError::Corruption { .. })
    ));
}

#[test]
fn operator_override_cuts_at_the_corruption_and_the_log_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = build_log(dir.path());
    let victim = records[records.len() / 3];
    flip_byte(
        &segment_path(dir.path(), victim.segment_id),
        victim.offset + 26,
        0x01,
    );
    let config = WalConfig {
        recovery: RecoveryMode::TruncateAtCorruption,
        ..small_config()
    };
    let (mut wal, recovery) = Wal::open(dir.path(), config).expect("override opens");
    let cut = recovery
        .report()
        .truncated_at_corruption
        .clone()
        .expect("the cut is reported");
    assert_eq!(cut.offset, victim.offset);
    let kept: Vec<u64> = recovery.records().map(|record| record.lsn.get()).collect();
    assert_eq!(
        kept,
        records
            .iter()
            .map(|record| record.lsn)
            .take_while(|lsn| *lsn < victim.lsn)
            .collect::<Vec<_>>()
    );
    drop(recovery);
    let added: Vec<u64> = (0..50).map(|_| append_verifiable(&mut wal).get()).collect();
    wal.close().expect("close");
    let after = recovered_lsns(dir.path(), small_config()).expect("strict open after the cut");
    assert_eq!(after, kept.into_iter().chain(added).collect::<Vec<_>>());
}
