//! Micro-benchmarks of the per-message hot paths: GSM 7-bit encoding, encoding choice,
//! segmentation and receipt parsing.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tern_sms::{
    Concatenation, EncodedText, Encoding, EncodingPolicy, LanguageSet, NationalPolicy,
    SegmentConfig, SeptetForm, choose_encoding, parse_receipt, segment,
};

const SENTENCE: &str =
    "Your code is 482913. It expires in 10 minutes; do not share it {ref: A-17}. ";

fn text_of(len: usize) -> String {
    SENTENCE.chars().cycle().take(len).collect()
}

fn gsm7_encoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("gsm7_encode");
    for len in [160usize, 459] {
        let text = text_of(len);
        let mut out = Vec::with_capacity(1024);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(format!("{len}_chars"), |b| {
            b.iter(|| {
                out.clear();
                tern_sms::encoding::encode_into(black_box(&text), Encoding::GSM7, &mut out)
                    .expect("GSM text");
                black_box(out.len())
            })
        });
    }
    group.finish();
}

fn encoding_choice(c: &mut Criterion) {
    let mut group = c.benchmark_group("choose_encoding");
    let default = EncodingPolicy::default();
    let national = EncodingPolicy {
        national: NationalPolicy {
            locking: LanguageSet::ALL_NATIONAL,
            single_shift: LanguageSet::ALL_NATIONAL,
        },
        ..EncodingPolicy::default()
    };
    let gsm = text_of(160);
    let turkish: String = "Güzel bir gün, şimdi ödeme yapın: ığüşöç. "
        .chars()
        .cycle()
        .take(160)
        .collect();
    let emoji: String = "Happy birthday 🎉🎂 ".chars().cycle().take(70).collect();
    group.bench_function("gsm7_160", |b| {
        b.iter(|| choose_encoding(black_box(&gsm), &default))
    });
    group.bench_function("turkish_160_national", |b| {
        b.iter(|| choose_encoding(black_box(&turkish), &national))
    });
    group.bench_function("emoji_70_ucs2", |b| {
        b.iter(|| choose_encoding(black_box(&emoji), &default))
    });
    group.finish();
}

fn segmentation(c: &mut Criterion) {
    let mut group = c.benchmark_group("segment");
    let config = SegmentConfig::new(Concatenation::Udh8 { reference: 42 });
    let gsm = EncodedText::encode(&text_of(459), Encoding::GSM7).expect("GSM text");
    let ucs2_text: String = "Привет, мир! 😀 ".chars().cycle().take(300).collect();
    let ucs2 = EncodedText::encode(&ucs2_text, Encoding::Ucs2).expect("UCS-2 text");
    let mut out = Vec::with_capacity(256);
    group.bench_function("gsm7_459_packed", |b| {
        b.iter(|| {
            let parts = segment(black_box(&gsm), &config).expect("fits");
            for part in parts.iter() {
                out.clear();
                part.write_user_data(SeptetForm::Packed, &mut out);
                black_box(out.len());
            }
        })
    });
    group.bench_function("ucs2_300", |b| {
        b.iter(|| {
            let parts = segment(black_box(&ucs2), &config).expect("fits");
            for part in parts.iter() {
                out.clear();
                part.write_user_data(SeptetForm::Unpacked, &mut out);
                black_box(out.len());
            }
        })
    });
    group.finish();
}

fn receipt_parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("receipt_parse");
    let standard: &[u8] = b"id:1234567890 sub:001 dlvrd:001 submit date:2401311159 done date:2401311200 stat:DELIVRD err:000 text:Your code is 4829";
    let deviant: &[u8] = b"ID: 7F3A9C01-aa_bb  Sub:001 DLVRD:001 submit_date:240131115930 done_date:240131120001 extra:1 Stat: delivrd Err: 000 Text:Your code is 4829";
    group.bench_function("standard", |b| {
        b.iter(|| parse_receipt(black_box(standard)))
    });
    group.bench_function("deviant", |b| b.iter(|| parse_receipt(black_box(deviant))));
    group.finish();
}

criterion_group!(
    benches,
    gsm7_encoding,
    encoding_choice,
    segmentation,
    receipt_parsing
);
criterion_main!(benches);
