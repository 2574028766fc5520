//! Message records and the MT lifecycle: encode and decode of a typical Accepted record
//! and of a Submitted record, and a full single-part lifecycle (durable → submitted →
//! delivered → client acknowledged → released), the per-message cost of the state machine.
//!
//! `cargo bench -p tern-engine --bench lifecycle -- --warm-up-time 1 --measurement-time 3`

use std::borrow::Cow;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tern_engine::lifecycle::{Action, DlrKey, Event, Lifecycle, LifecycleConfig, MessageSlot};
use tern_engine::message::{
    Address, ConnectorId, Content, Id2, MessageId, MessageRecord, Progress, Route, SessionKind,
    Submitted, UserId, kind,
};
use tern_smpp::{CommandStatus, EsmClass, MessageState, RegisteredDelivery};
use tern_wal::Lsn;

const T0_MS: u64 = 1_700_000_000_000;

/// An OTP-style message: alphanumeric sender, international destination, 76 octets of
/// text, a two-connector route, a receipt on final.
fn typical(sequence: u64) -> MessageRecord<'static> {
    MessageRecord {
        id: MessageId::new(2, sequence).expect("sequence fits"),
        user: UserId(3),
        session: SessionKind::Http,
        accepted_at_ms: T0_MS,
        validity_deadline_ms: T0_MS + 48 * 3_600_000,
        schedule_at_ms: None,
        source: Address {
            ton: 5,
            npi: 0,
            digits: Cow::Borrowed(b"TernBank"),
        },
        destination: Address {
            ton: 1,
            npi: 1,
            digits: Cow::Borrowed(b"447700900123"),
        },
        esm_class: EsmClass(0),
        protocol_id: 0,
        priority: 1,
        registered_delivery: RegisteredDelivery(1),
        data_coding: 0,
        service_type: Cow::Borrowed(b""),
        client_ref: Cow::Borrowed(b"order-77-abcdef"),
        route: Route::new(&[ConnectorId(1), ConnectorId(2)]).expect("two connectors"),
        content: Content::ShortMessage(Cow::Borrowed(
            b"Your verification code is 123456. It expires in 10 minutes. Do not share it.",
        )),
        tlvs: Cow::Borrowed(b""),
        callback: Cow::Borrowed(b""),
        idempotency_key: Cow::Borrowed(b""),
    }
}

fn records(c: &mut Criterion) {
    let record = typical(1234);
    let mut buffer = Vec::with_capacity(1024);
    record.encode(&mut buffer).expect("within bounds");
    let bytes = buffer.clone();
    let mut group = c.benchmark_group("record");
    group.bench_function("accepted_encode", |b| {
        b.iter(|| {
            buffer.clear();
            black_box(&record)
                .encode(&mut buffer)
                .expect("within bounds");
            black_box(buffer.len())
        })
    });
    group.bench_function("accepted_decode", |b| {
        b.iter(|| {
            let decoded = MessageRecord::decode(black_box(&bytes)).expect("valid");
            black_box(decoded.destination.digits.len())
        })
    });
    let submitted = Progress::Submitted(Submitted {
        id: record.id,
        part: 0,
        connector: ConnectorId(1),
        id2: Id2::new(b"0a1b2c3d4e5f").expect("short"),
    });
    group.bench_function("submitted_encode_decode", |b| {
        b.iter(|| {
            buffer.clear();
            black_box(&submitted).encode(&mut buffer);
            black_box(Progress::decode(kind::SUBMITTED, &buffer).expect("valid"))
        })
    });
    group.finish();
}

/// Feeds back LSNs for the Log actions of `out` like a shell, then clears it.
fn settle(
    lifecycle: &mut Lifecycle,
    out: &mut Vec<Action>,
    follow: &mut Vec<Action>,
    next_lsn: &mut u64,
) {
    for action in out.iter() {
        if let Action::Log(progress) = action {
            *next_lsn += 1;
            lifecycle.logged(progress, Lsn(*next_lsn), follow);
        }
    }
    black_box(&*out);
    black_box(&*follow);
    out.clear();
    follow.clear();
}

fn lifecycle(c: &mut Criterion) {
    let config = LifecycleConfig::default();
    let record = typical(1);
    let id2 = Id2::new(b"0a1b2c3d4e5f").expect("short");
    let key = DlrKey {
        connector: ConnectorId(1),
        id2,
    };
    let mut out = Vec::with_capacity(16);
    let mut follow = Vec::with_capacity(16);
    let mut next_lsn = 0u64;
    let mut group = c.benchmark_group("lifecycle");
    group.bench_function("single_part_full_life", |b| {
        b.iter(|| {
            next_lsn += 1;
            let mut machine = Lifecycle::new(black_box(&record), Lsn(next_lsn));
            let events = [
                Event::Durable,
                Event::RetryDue,
                Event::SubmitResult {
                    part: 0,
                    status: CommandStatus::ESME_ROK,
                    id2: Some(id2),
                },
                Event::Receipt {
                    part: 0,
                    state: MessageState::DELIVERED,
                    error: 0,
                    matched: Some(key),
                },
                Event::ClientAcknowledged,
            ];
            for event in events {
                machine.handle(&config, T0_MS, event, &mut out);
                settle(&mut machine, &mut out, &mut follow, &mut next_lsn);
            }
            black_box(machine.is_released())
        })
    });
    let mut awaiting = Lifecycle::new(&record, Lsn(1));
    for event in [
        Event::Durable,
        Event::RetryDue,
        Event::SubmitResult {
            part: 0,
            status: CommandStatus::ESME_ROK,
            id2: Some(id2),
        },
    ] {
        awaiting.handle(&config, T0_MS, event, &mut out);
        settle(&mut awaiting, &mut out, &mut follow, &mut next_lsn);
    }
    group.bench_function("park_unpark", |b| {
        b.iter(|| {
            let slot = MessageSlot::park(black_box(&awaiting)).expect("parkable");
            black_box(slot.unpark(record.id))
        })
    });
    group.finish();
}

criterion_group!(benches, records, lifecycle);
criterion_main!(benches);
