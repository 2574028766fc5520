//! The session's cost per message on the hot path, both ends.
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tern_smpp::session::{Action, BindKind, Config, Header, Role, Session};
use tern_smpp::{CommandId, CommandStatus};

fn config() -> Config {
    Config {
        window_size: 64,
        inbound_window_size: 64,
        ..Config::default()
    }
}

fn bound(role: Role, now: Instant) -> Session {
    let mut s = Session::new(role, config(), now).unwrap();
    let kind = BindKind::Transceiver;
    match role {
        Role::Esme => {
            let seq = s.bind(kind, now).unwrap();
            s.handle_pdu(Header::request(kind.response_id(), seq), Some(0x34), now);
        }
        Role::Smsc => {
            s.handle_pdu(Header::request(kind.request_id(), 1), Some(0x34), now);
            s.answer_bind(1, CommandStatus::ESME_ROK, now).unwrap();
        }
    }
    while s.poll_action().is_some() {}
    s
}

/// ESME: begin a submit_sm, take its submit_sm_resp, drain Completed; 32 in flight.
fn esme_submit(c: &mut Criterion) {
    let mut g = c.benchmark_group("session");
    g.throughput(Throughput::Elements(1));
    let base = Instant::now();
    let mut s = bound(Role::Esme, base);
    let mut ring = std::collections::VecDeque::new();
    let mut tick = 0u64;
    for t in 0..32 {
        ring.push_back(s.begin_request(CommandId::SUBMIT_SM, t, base).unwrap());
    }
    g.bench_function("esme_submit_and_complete", |b| {
        b.iter(|| {
            tick += 1;
            let now = base + Duration::from_nanos(tick);
            let seq = ring.pop_front().unwrap();
            s.handle_pdu(
                Header::new(CommandId::SUBMIT_SM_RESP, CommandStatus::ESME_ROK, seq),
                None,
                now,
            );
            while let Some(a) = s.poll_action() {
                black_box(a);
            }
            ring.push_back(s.begin_request(CommandId::SUBMIT_SM, tick, now).unwrap());
            black_box(s.poll_timeout());
        })
    });
    let mut s = bound(Role::Smsc, base);
    let mut seq = 1u32;
    g.bench_function("smsc_deliver_and_respond", |b| {
        b.iter(|| {
            tick += 1;
            seq = seq % 0x7FFF_FFFF + 1;
            let now = base + Duration::from_nanos(tick);
            s.handle_pdu(Header::request(CommandId::SUBMIT_SM, seq), None, now);
            while let Some(a) = s.poll_action() {
                if let Action::Deliver {
                    sequence_number, ..
                } = a
                {
                    black_box(s.respond(sequence_number, now).unwrap());
                }
            }
            black_box(s.poll_timeout());
        })
    });
    g.finish();
}

criterion_group!(benches, esme_submit);
criterion_main!(benches);
