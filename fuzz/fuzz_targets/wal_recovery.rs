//! Fuzzes the WAL recovery reader: segment header, record scan, look-ahead past the
//! stop, and the tombstone/checkpoint payload decoders, over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_wal::scan_segment_bytes;
use tern_wal::segment::{SEGMENT_HEADER_BYTES, SegmentHeader, SegmentState};

const MAX_PAYLOAD_BYTES: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    // Raw bytes exercise the header decoder; behind a valid header (chosen by the first
    // byte) the fuzzer reaches the record reader without forging a header checksum.
    let _ = scan_segment_bytes(data, MAX_PAYLOAD_BYTES);
    let Some((&selector, records)) = data.split_first() else {
        return;
    };
    let header = SegmentHeader {
        state: SegmentState::Segment,
        segment_id: 1,
        first_lsn: u64::from(selector),
        segment_bytes: SEGMENT_HEADER_BYTES + records.len() as u64,
        max_batch_bytes: 1 << 16,
    };
    let mut bytes = header.encode().to_vec();
    bytes.resize(SEGMENT_HEADER_BYTES as usize, 0);
    bytes.extend_from_slice(records);
    let summary = scan_segment_bytes(&bytes, MAX_PAYLOAD_BYTES);
    if let Some(scan) = summary.scan {
        assert!(scan.end_offset as usize <= bytes.len());
    }
});
