//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;

use tern_wal::{Durability, Lsn, Wal, WalConfig};

/// A small-segment configuration so tests rotate often.
pub fn small_config() -> WalConfig {
    WalConfig {
        segment_bytes: 64 << 10,
        max_pending_bytes: 64 << 10,
        max_record_bytes: 8 << 10,
        ..WalConfig::default()
    }
}

/// Like [`small_config`] without fdatasync (for tests that never cut power).
pub fn fast_config() -> WalConfig {
    WalConfig {
        durability: Durability::None,
        ..small_config()
    }
}

/// A payload that is a pure function of the LSN, so recovery can verify every byte.
pub fn payload_for(lsn: u64) -> Vec<u8> {
    let mut state = lsn.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let len = 16 + (state % 300) as usize;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Appends a verifiable record, retrying while the buffer is full.
pub fn append_verifiable(wal: &mut Wal) -> Lsn {
    let lsn = wal.next_lsn();
    let payload = payload_for(lsn.get());
    loop {
        match wal.append(1, &payload) {
            Ok(appended) => {
                assert_eq!(appended, lsn);
                return appended;
            }
            Err(tern_wal::WalError::Full { .. }) => {
                futures_lite::future::block_on(wal.durable(Lsn(lsn.get() - 1))).expect("durable");
            }
            Err(error) => panic!("append failed: {error}"),
        }
    }
}

/// Recovered (lsn, payload) pairs.
pub fn recovered(dir: &Path, config: WalConfig) -> Vec<(u64, Vec<u8>)> {
    let (wal, recovery) = Wal::open(dir, config).expect("open");
    let records = recovery
        .records()
        .map(|record| (record.lsn.get(), record.payload.to_vec()))
        .collect();
    drop(recovery);
    wal.close().expect("close");
    records
}

/// Number of segment files in a directory.
pub fn segment_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|entry| entry.file_name().to_string_lossy().ends_with(".wal"))
        })
        .count()
}
