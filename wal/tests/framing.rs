//! Properties of record framing and of the segment recovery reader.

use proptest::collection::vec;
use proptest::prelude::*;
use tern_wal::frame::{
    self, FLAG_BATCH_START, RECORD_HEADER_BYTES, encode_record, padded_record_bytes,
};
use tern_wal::scan_segment_bytes;
use tern_wal::segment::{SEGMENT_HEADER_BYTES, SegmentHeader, SegmentState, Stop, scan_records};

const MAX_PAYLOAD_BYTES: usize = 1 << 20;
const FIRST_LSN: u64 = 1000;

/// A segment holding `payloads` as consecutive records, first of each 5 opening a batch.
fn segment_of(payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<u64>) {
    let header = SegmentHeader {
        state: SegmentState::Segment,
        segment_id: 3,
        first_lsn: FIRST_LSN,
        segment_bytes: 1 << 20,
        max_batch_bytes: 1 << 16,
    };
    let mut bytes = header.encode().to_vec();
    bytes.resize(SEGMENT_HEADER_BYTES as usize, 0);
    let mut ends = Vec::new();
    for (index, payload) in payloads.iter().enumerate() {
        let flags = if index % 5 == 0 { FLAG_BATCH_START } else { 0 };
        encode_record(&mut bytes, 9, flags, FIRST_LSN + index as u64, payload);
        ends.push(bytes.len() as u64);
    }
    bytes.resize(bytes.len() + 64, 0);
    (bytes, ends)
}

fn scanned_payloads(bytes: &[u8]) -> (Vec<Vec<u8>>, Stop) {
    let mut payloads = Vec::new();
    let scan = scan_records(bytes, FIRST_LSN, MAX_PAYLOAD_BYTES, |record| {
        payloads.push(record.view.payload.to_vec())
    });
    (payloads, scan.stop)
}

proptest! {
    #[test]
    fn an_encoded_record_decodes_to_exactly_what_was_encoded(
        kind in any::<u8>(),
        batch_start in any::<bool>(),
        lsn in any::<u64>(),
        payload in vec(any::<u8>(), 0..2000),
    ) {
        let flags = if batch_start { FLAG_BATCH_START } else { 0 };
        let mut bytes = Vec::new();
        encode_record(&mut bytes, kind, flags, lsn, &payload);
        prop_assert_eq!(bytes.len(), padded_record_bytes(payload.len()));
        prop_assert_eq!(bytes.len() % 8, 0);
        let view = frame::decode_record(&bytes, MAX_PAYLOAD_BYTES).expect("decodes");
        prop_assert_eq!((view.kind, view.flags, view.lsn, view.payload), (kind, flags, lsn, &payload[..]));
        prop_assert_eq!(view.padded_bytes, bytes.len());
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in vec(any::<u8>(), 0..512)) {
        let _ = frame::decode_at(&bytes, MAX_PAYLOAD_BYTES);
        let _ = frame::decode_record(&bytes, 64);
    }

    #[test]
    fn recovering_arbitrary_segment_bytes_never_panics(
        tail in vec(any::<u8>(), 0..6000),
        with_header in any::<bool>(),
    ) {
        let mut bytes = if with_header { segment_of(&[]).0 } else { Vec::new() };
        bytes.truncate(SEGMENT_HEADER_BYTES as usize);
        bytes.extend_from_slice(&tail);
        let summary = scan_segment_bytes(&bytes, MAX_PAYLOAD_BYTES);
        if let Some(scan) = summary.scan {
            prop_assert!(scan.end_offset as usize <= bytes.len().max(SEGMENT_HEADER_BYTES as usize));
        }
    }

    #[test]
    fn records_scan_back_whole_and_any_truncation_yields_the_intact_prefix(
        payloads in vec(vec(any::<u8>(), 0..300), 1..40),
        cut_permille in 0u64..=1000,
    ) {
        let (bytes, ends) = segment_of(&payloads);
        let (whole, stop) = scanned_payloads(&bytes);
        prop_assert_eq!(&whole, &payloads);
        prop_assert_eq!(stop, Stop::Zero);
        let used = *ends.last().expect("records");
        let cut = SEGMENT_HEADER_BYTES + (used - SEGMENT_HEADER_BYTES) * cut_permille / 1000;
        let (prefix, _) = scanned_payloads(&bytes[..cut as usize]);
        let intact = ends.iter().filter(|end| **end <= cut).count();
        prop_assert_eq!(&prefix[..], &payloads[..intact]);
    }

    #[test]
    fn a_flipped_bit_never_yields_a_wrong_record(
        payloads in vec(vec(any::<u8>(), 0..200), 1..30),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let (mut bytes, ends) = segment_of(&payloads);
        let used = *ends.last().expect("records") as usize;
        let at = SEGMENT_HEADER_BYTES as usize + position.index(used - SEGMENT_HEADER_BYTES as usize);
        bytes[at] ^= 1 << bit;
        let (scanned, _) = scanned_payloads(&bytes);
        prop_assert!(scanned.len() <= payloads.len());
        prop_assert_eq!(&scanned[..], &payloads[..scanned.len()]);
        let damaged = ends.iter().position(|end| *end as usize > at).expect("inside a record");
        let record_start = if damaged == 0 { SEGMENT_HEADER_BYTES as usize } else { ends[damaged - 1] as usize };
        let in_padding = at >= record_start + RECORD_HEADER_BYTES + payloads[damaged].len();
        prop_assert!(in_padding || scanned.len() == damaged, "the damaged record and what follows are not returned");
    }

    #[test]
    fn garbage_after_the_records_never_hides_or_alters_them(
        payloads in vec(vec(any::<u8>(), 0..200), 1..20),
        garbage in vec(any::<u8>(), 1..2000),
    ) {
        let (mut bytes, ends) = segment_of(&payloads);
        let used = *ends.last().expect("records") as usize;
        bytes.truncate(used);
        bytes.extend_from_slice(&garbage);
        let (scanned, _) = scanned_payloads(&bytes);
        prop_assert_eq!(&scanned, &payloads);
    }
}
