//! `tern-wal inspect` reports segments and live counts, and fails on corruption.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;

use futures_lite::future::block_on;
use tern_wal::{Lsn, Wal, WalConfig};

fn config() -> WalConfig {
    WalConfig {
        segment_bytes: 64 << 10,
        max_pending_bytes: 64 << 10,
        max_record_bytes: 8 << 10,
        ..WalConfig::default()
    }
}

/// Writes 600 records of 200 bytes in batches of 50, marks every other one done.
fn write_log(dir: &Path) {
    let (mut wal, _recovery) = Wal::open(dir, config()).expect("open");
    let mut lsns = Vec::new();
    for _ in 0..12 {
        let batch: Vec<Lsn> = (0..50)
            .map(|_| wal.append(1, &[7u8; 200]).expect("append"))
            .collect();
        block_on(wal.durable(batch[49])).expect("durable");
        lsns.extend(batch);
    }
    lsns.iter()
        .step_by(2)
        .for_each(|lsn| wal.mark_done(*lsn).expect("done"));
    wal.close().expect("close");
}

fn inspect(dir: &Path, records: bool) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tern-wal"));
    command.arg("inspect").arg(dir);
    if records {
        command.arg("--records");
    }
    let output = command.output().expect("run tern-wal");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn inspect_lists_segments_with_live_counts_and_exits_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_log(dir.path());
    let (code, out) = inspect(dir.path(), false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("seg-00000001.wal"), "{out}");
    let live: u64 = out
        .lines()
        .filter(|line| line.starts_with("seg-") && !line.contains("spare"))
        .filter_map(|line| line.split_whitespace().last()?.parse::<u64>().ok())
        .sum();
    assert_eq!(live, 300, "{out}");
    assert!(!out.contains("CORRUPTION"));
}

#[test]
fn inspect_with_records_lists_each_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_log(dir.path());
    let (code, out) = inspect(dir.path(), true);
    assert_eq!(code, 0);
    let listed = out
        .lines()
        .filter(|line| line.split_whitespace().nth(3) == Some("0x1"))
        .count();
    assert_eq!(listed, 600, "{out}");
}

#[test]
fn inspect_reports_corruption_with_offset_and_exits_nonzero() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_log(dir.path());
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("seg-00000001.wal"))
        .expect("open");
    file.write_all_at(&[0xAA; 8], 4096 + 2 * 224 + 40)
        .expect("corrupt");
    let (code, out) = inspect(dir.path(), false);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("CORRUPTION in seg-00000001.wal (segment 1) at offset 4544"),
        "{out}"
    );
}

#[test]
fn inspect_of_a_missing_directory_is_an_error() {
    let (code, out) = inspect(Path::new("/nonexistent/tern-wal-dir"), false);
    assert_eq!(code, 1);
    assert!(out.contains("cannot inspect"));
}
