//! Two shards over real TCP: clients land on both (SO_REUSEPORT), the only upstream bind
//! lives on shard 0, so every message shard 1 accepts crosses the mesh to be submitted,
//! its DLR mapping goes to whichever shard's index owns the key, and its receipt comes
//! back to a receiving session wherever that one landed.

mod e2e_support;

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use clap::Parser;
use e2e_support::{Plan, Seen, run_esme};
use tern_bench::load::{LoadConfig, LoadReport};
use tern_bench::sim::{SimConfig, SimHandle};
use tern_engine::config::{Config, ConnectorConfig, MtRouteConfig, Secret};
use tern_engine::gateway::{Gateway, GatewayHandle, StartOptions};
use tern_engine::message::MessageId;
use tern_smpp::session::BindKind;

const SHARDS: u32 = 2;
/// Client connections per run: enough that the kernel's hash puts some on each shard.
const CONNECTIONS: usize = 8;

#[derive(Parser)]
struct LoadArgs {
    #[command(flatten)]
    config: LoadConfig,
}

/// Two shards, one connector with ONE bind (on shard 0) to `upstream`.
fn config(data_dir: &std::path::Path, upstream: SocketAddr) -> Config {
    let mut config = Config::demo();
    config.node.data_dir = data_dir.to_path_buf();
    config.node.shards = Some(SHARDS);
    config.smpp.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.connectors = vec![ConnectorConfig {
        name: "smsc".into(),
        host: upstream.ip().to_string(),
        port: upstream.port(),
        system_id: "tern".into(),
        password: Secret::new("tern"),
        binds: 1,
        tps_max: 100_000,
        window_size: 64,
        reconnect_backoff_min_ms: 20,
        reconnect_backoff_max_ms: 100,
        ..ConnectorConfig::default()
    }];
    config.routes.mt = vec![MtRouteConfig {
        destination_prefixes: vec![String::new()],
        connectors: vec!["smsc".into()],
        ..MtRouteConfig::default()
    }];
    for user in &mut config.users {
        user.tps_max = 100_000;
    }
    config
}

fn start(config: Config) -> GatewayHandle {
    Gateway::start_with(config, StartOptions { pin: Some(false) }).expect("gateway starts")
}

fn sim() -> SimHandle {
    tern_bench::sim::spawn(SimConfig {
        stats_interval_s: 0,
        ..SimConfig::default()
    })
    .expect("simulator starts")
}

fn load(target: SocketAddr, extra: &[&str]) -> LoadReport {
    let target = target.to_string();
    let connections = CONNECTIONS.to_string();
    let mut args = vec![
        "load",
        "--target",
        &target,
        "--system-id",
        "demo",
        "--password",
        "demo",
        "--registered-delivery",
        "1",
        "--receipt-wait-s",
        "20",
        "--connections",
        &connections,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let config = LoadArgs::try_parse_from(args).expect("load args").config;
    tern_bench::load::run(config).expect("load runs")
}

/// The shards that own the messages behind these ids (our ids carry their shard).
fn owners(ids: &HashSet<String>) -> HashSet<u8> {
    ids.iter()
        .filter_map(|id| MessageId::parse(id).ok())
        .map(MessageId::shard)
        .collect()
}

fn assert_both_shards_took_clients(gateway: &GatewayHandle) {
    let accepted = gateway.sessions_accepted();
    assert_eq!(accepted.len(), SHARDS as usize);
    assert!(
        accepted.iter().all(|&n| n > 0),
        "the kernel spread clients over both shards: {accepted:?}"
    );
}

/// Submits `per_connection` messages on each of `CONNECTIONS` transmitter binds at once.
fn submit_from_many_connections(addr: SocketAddr, per_connection: u64) -> Seen {
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            std::thread::spawn(move || {
                run_esme(
                    addr,
                    Plan {
                        submits: per_connection,
                        kind: BindKind::Transmitter,
                        receipts_wanted: 0,
                        deadline: Duration::from_secs(20),
                        validity_period: None,
                    },
                )
            })
        })
        .collect();
    let mut seen = Seen::default();
    for client in clients {
        let run = client.join().expect("client");
        assert_eq!(run.acked.len() as u64, per_connection, "{run:?}");
        seen.acked.extend(run.acked);
    }
    seen
}

fn receive(addr: SocketAddr, wanted: usize) -> Seen {
    run_esme(
        addr,
        Plan {
            submits: 0,
            kind: BindKind::Receiver,
            receipts_wanted: wanted,
            deadline: Duration::from_secs(20),
            validity_period: None,
        },
    )
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn two_shards_carry_every_message_through_one_upstream_bind_and_bring_every_receipt_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = sim();
    let gateway = start(config(dir.path(), upstream.addr));
    assert!(gateway.wait_bound(Duration::from_secs(10)), "bind up");
    let report = load(gateway.smpp_addr, &["--count", "800", "--window", "32"]);
    assert_eq!(report.sent, 800, "{report:?}");
    assert_eq!(report.acked, 800, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.receipts_matched, 800, "{report:?}");
    assert_eq!(report.receipts_unmatched, 0, "{report:?}");
    assert_both_shards_took_clients(&gateway);
    assert_eq!(upstream.stats().submits_ok, 800);
    gateway.stop();
}

#[test]
fn receipts_of_both_shards_reach_one_receiver_wherever_it_is_bound() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = sim();
    let gateway = start(config(dir.path(), upstream.addr));
    assert!(gateway.wait_bound(Duration::from_secs(10)), "bind up");
    let seen = submit_from_many_connections(gateway.smpp_addr, 40);
    // Messages of both shards, so whichever shard the receiver lands on, the other
    // shard's receipts must cross to it.
    assert_eq!(
        owners(&seen.acked).len(),
        SHARDS as usize,
        "{:?}",
        seen.acked
    );
    let got = receive(gateway.smpp_addr, seen.acked.len());
    let missing: Vec<_> = seen.acked.difference(&got.receipts).collect();
    assert!(missing.is_empty(), "receipts missing for {missing:?}");
    assert_eq!(upstream.stats().submits_ok, seen.acked.len() as u64);
    gateway.stop();
}

#[test]
fn multipart_messages_cross_shards_part_by_part() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = sim();
    let gateway = start(config(dir.path(), upstream.addr));
    assert!(gateway.wait_bound(Duration::from_secs(10)), "bind up");
    let report = load(
        gateway.smpp_addr,
        &["--count", "120", "--long-ratio", "1.0"],
    );
    assert!(report.long_messages > 0, "{report:?}");
    assert_eq!(report.acked, report.sent, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.receipts_matched, report.sent, "{report:?}");
    assert_both_shards_took_clients(&gateway);
    assert_eq!(upstream.stats().submits_ok, report.sent);
    gateway.stop();
}

#[test]
fn a_restart_at_two_shards_sends_what_was_acknowledged_and_delivers_what_was_owed() {
    let dir = tempfile::tempdir().expect("temp dir");

    // 1. No upstream: every message is acknowledged (durable) and stays queued on the
    //    shard that accepted it.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let down = nobody.local_addr().expect("addr");
    drop(nobody);
    let gateway = start(config(dir.path(), down));
    let seen = submit_from_many_connections(gateway.smpp_addr, 10);
    assert_eq!(
        owners(&seen.acked).len(),
        SHARDS as usize,
        "{:?}",
        seen.acked
    );
    gateway.stop();

    // 2. Restart with an upstream: each shard recovers its own WAL; shard 1's messages
    //    flow to the bind on shard 0; receipts come back while no client is bound.
    let upstream = sim();
    let gateway = start(config(dir.path(), upstream.addr));
    let count = seen.acked.len() as u64;
    wait_for(
        "the upstream to take every message",
        Duration::from_secs(20),
        || upstream.stats().receipts_sent >= count,
    );
    // Let the receipts be applied and logged before stopping.
    std::thread::sleep(Duration::from_millis(300));
    gateway.stop();
    assert_eq!(upstream.stats().submits_ok, count);

    // 3. Restart again and bind one receiver: every owed receipt arrives, from both
    //    shards' WALs, with our ids.
    let gateway = start(config(dir.path(), upstream.addr));
    let got = receive(gateway.smpp_addr, seen.acked.len());
    let missing: Vec<_> = seen.acked.difference(&got.receipts).collect();
    assert!(missing.is_empty(), "receipts missing for {missing:?}");
    assert_eq!(upstream.stats().submits_ok, count, "nothing was sent twice");
    gateway.stop();
}
