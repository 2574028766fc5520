//! One hop between two executors through the mesh's ring (glommio `channel_mesh`, the
//! engine's `RING_SLOTS` and `MeshMsg`): messages per second one message per ring slot
//! and `BATCH_MAX` per slot, and the round trip of one message there and back.
//!
//! `cargo bench -p tern-engine --bench ring_hop`; `RING_HOP_PIN=1` pins the executors to
//! CPUs 0 and 1 (otherwise they float, as the tests run them).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use glommio::{LocalExecutorBuilder, Placement};
use tern_engine::lifecycle::Event;
use tern_engine::mesh::pump::node_mesh;
use tern_engine::mesh::{BATCH_MAX, MeshMsg};
use tern_engine::message::{Id2, MessageId};
use tern_smpp::CommandStatus;

/// The most common message on the mesh: a submit_sm_resp going back to its owner.
fn message(sequence: u64) -> MeshMsg {
    MeshMsg::PartEvent {
        connector: 0,
        id: MessageId::new(1, sequence).unwrap_or_else(|e| panic!("message id: {e}")),
        event: Event::SubmitResult {
            part: 0,
            status: CommandStatus::ESME_ROK,
            id2: Id2::new(b"4f2a91c7").ok(),
        },
    }
}

fn placement(cpu: usize) -> Placement {
    if std::env::var_os("RING_HOP_PIN").is_some() {
        Placement::Fixed(cpu)
    } else {
        Placement::Unbound
    }
}

/// Time to move `total` messages from executor 0 to executor 1, `per_slot` per ring slot,
/// from the first send to the last receive.
fn one_way(total: u64, per_slot: usize) -> Duration {
    let mesh = node_mesh(2);
    let producer_mesh = mesh.clone();
    let (start_tx, start_rx) = mpsc::channel();
    let producer = LocalExecutorBuilder::new(placement(0))
        .spawn(move || async move {
            let Ok((senders, _receivers)) = producer_mesh.join().await else {
                return;
            };
            // glommio numbers peers by executor id: the other one is whichever we are not.
            let other = 1 - senders.peer_id();
            let _ = start_tx.send(Instant::now());
            let mut sent = 0u64;
            while sent < total {
                let n = (total - sent).min(per_slot as u64);
                let batch: Vec<MeshMsg> = (sent..sent + n).map(message).collect();
                if senders.send_to(other, batch).await.is_err() {
                    return;
                }
                sent += n;
            }
        })
        .unwrap_or_else(|e| panic!("producer: {e}"));
    let consumer = LocalExecutorBuilder::new(placement(1))
        .spawn(move || async move {
            let Ok((_senders, mut receivers)) = mesh.join().await else {
                return Instant::now();
            };
            let mut got = 0u64;
            for (_, stream) in receivers.streams() {
                while got < total {
                    let Some(batch) = stream.recv().await else {
                        break;
                    };
                    got += batch.len() as u64;
                }
            }
            Instant::now()
        })
        .unwrap_or_else(|e| panic!("consumer: {e}"));
    let _ = producer.join();
    let end = consumer.join().unwrap_or_else(|e| panic!("consumer: {e}"));
    let start = start_rx.recv().unwrap_or_else(|e| panic!("start: {e}"));
    end.saturating_duration_since(start)
}

/// Time for `rounds` single messages to go from executor 0 to 1 and back, one at a time.
fn round_trips(rounds: u64) -> Duration {
    let mesh = node_mesh(2);
    let echo_mesh = mesh.clone();
    let echo = LocalExecutorBuilder::new(placement(1))
        .spawn(move || async move {
            let Ok((senders, mut receivers)) = echo_mesh.join().await else {
                return;
            };
            for (from, stream) in receivers.streams() {
                while let Some(batch) = stream.recv().await {
                    if senders.send_to(from, batch).await.is_err() {
                        return;
                    }
                }
            }
        })
        .unwrap_or_else(|e| panic!("echo: {e}"));
    let pinger = LocalExecutorBuilder::new(placement(0))
        .spawn(move || async move {
            let Ok((senders, mut receivers)) = mesh.join().await else {
                return Duration::ZERO;
            };
            let streams = receivers.streams();
            let Some((_, stream)) = streams.first() else {
                return Duration::ZERO;
            };
            let other = 1 - senders.peer_id();
            let start = Instant::now();
            for round in 0..rounds {
                if senders.send_to(other, vec![message(round)]).await.is_err() {
                    break;
                }
                if stream.recv().await.is_none() {
                    break;
                }
            }
            let elapsed = start.elapsed();
            senders.close();
            elapsed
        })
        .unwrap_or_else(|e| panic!("pinger: {e}"));
    let elapsed = pinger.join().unwrap_or_else(|e| panic!("pinger: {e}"));
    let _ = echo.join();
    elapsed
}

fn ring_hop(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_hop");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_by_one", |b| b.iter_custom(|iters| one_way(iters, 1)));
    group.bench_function(format!("batched_{BATCH_MAX}"), |b| {
        b.iter_custom(|iters| one_way(iters, BATCH_MAX))
    });
    group.bench_function("round_trip", |b| b.iter_custom(round_trips));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = ring_hop
}
criterion_main!(benches);
