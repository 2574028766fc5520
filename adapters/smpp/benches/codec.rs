//! Codec micro-benchmarks: decode and encode of a typical submit_sm and deliver_sm receipt,
//! with rusmpp-core's borrowed decoder on the same octets as a baseline, and framing of a
//! buffer holding many PDUs.
//!
//! Run: `cargo bench -p tern-smpp --bench codec -- --warm-up-time 1 --measurement-time 3`

use std::borrow::Cow;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rusmpp_core::command::borrowed::Command as RCommand;
use rusmpp_core::decode::borrowed::DecodeWithLength;
use tern_smpp::*;

/// PDUs per framing batch.
const FRAME_BATCH: usize = 1000;

/// 11-digit addresses, a 140-octet short message, registered_delivery = 1.
fn submit_sm() -> PduOwned {
    Pdu::new(
        7,
        Body::SubmitSm(SubmitSm {
            source_addr_ton: ton::INTERNATIONAL,
            source_addr_npi: npi::ISDN,
            source_addr: Cow::Borrowed(b"44770090000"),
            dest_addr_ton: ton::INTERNATIONAL,
            dest_addr_npi: npi::ISDN,
            destination_addr: Cow::Borrowed(b"44770090001"),
            registered_delivery: 1,
            short_message: Cow::Owned(vec![b'x'; 140]),
            ..SubmitSm::default()
        }),
    )
}

/// A delivery receipt: receipt text, receipted_message_id and message_state TLVs.
fn deliver_sm_receipt() -> PduOwned {
    let text = b"id:5f3a9c0e12 sub:001 dlvrd:001 submit date:2503171430 done date:2503171431 \
stat:DELIVRD err:000 text:Hello";
    Pdu::new(
        8,
        Body::DeliverSm(DeliverSm {
            source_addr_ton: ton::INTERNATIONAL,
            source_addr_npi: npi::ISDN,
            source_addr: Cow::Borrowed(b"44770090001"),
            dest_addr_ton: ton::INTERNATIONAL,
            dest_addr_npi: npi::ISDN,
            destination_addr: Cow::Borrowed(b"44770090000"),
            esm_class: EsmClass::TYPE_DELIVERY_RECEIPT,
            short_message: Cow::Borrowed(text),
            tlvs: Tlvs::from_list(&[
                Tlv::ReceiptedMessageId(b"5f3a9c0e12"),
                Tlv::MessageState(MessageState::DELIVERED.0),
            ])
            .expect("encodable"),
            ..DeliverSm::default()
        }),
    )
}

fn encoded(pdu: &Pdu<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    pdu.encode(&mut out).expect("encodable");
    out
}

fn bench_decode(c: &mut Criterion, name: &str, pdu: &PduOwned) {
    let wire = encoded(pdu);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    group.bench_function("tern", |b| {
        b.iter(|| {
            let pdu = Pdu::decode(black_box(&wire)).expect("decodes");
            black_box(pdu.sequence_number)
        })
    });
    group.bench_function("rusmpp-core", |b| {
        b.iter(|| {
            let wire = black_box(&wire);
            let (command, _) =
                RCommand::<'_, 16>::decode(&wire[4..], wire.len() - 4).expect("decodes");
            black_box(command.sequence_number())
        })
    });
    group.finish();
}

fn bench_encode(c: &mut Criterion, name: &str, pdu: &PduOwned) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    let mut out = Vec::with_capacity(1024);
    group.bench_function("tern", |b| {
        b.iter(|| {
            out.clear();
            black_box(pdu).encode(&mut out).expect("encodes");
            black_box(out.len())
        })
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    let submit = submit_sm();
    let receipt = deliver_sm_receipt();
    bench_decode(c, "decode_submit_sm", &submit);
    bench_decode(c, "decode_deliver_sm_receipt", &receipt);
    bench_encode(c, "encode_submit_sm", &submit);
    bench_encode(c, "encode_deliver_sm_receipt", &receipt);

    let mut stream = Vec::new();
    for i in 0..FRAME_BATCH {
        let pdu = if i % 2 == 0 { &submit } else { &receipt };
        pdu.encode(&mut stream).expect("encodes");
    }
    let mut group = c.benchmark_group("frame_1000_pdus");
    group.throughput(Throughput::Elements(FRAME_BATCH as u64));
    let framer = Framer::default();
    group.bench_function("frames", |b| {
        b.iter(|| {
            let mut frames = framer.frames(black_box(&stream));
            let count = frames.by_ref().filter(Result::is_ok).count();
            black_box((count, frames.consumed()))
        })
    });
    group.bench_function("frames_and_decode", |b| {
        b.iter(|| {
            let mut sequence_sum = 0u64;
            for frame in framer.frames(black_box(&stream)).flatten() {
                let pdu = Pdu::decode(frame).expect("decodes");
                sequence_sum += u64::from(pdu.sequence_number);
            }
            black_box(sequence_sum)
        })
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
