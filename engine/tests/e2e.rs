//! End to end over real TCP: a load generator binds to the gateway, which relays to SMSC
//! simulators and brings the receipts back.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use tern_bench::load::{LoadConfig, LoadReport};
use tern_bench::sim::{IdFormat as SimIdFormat, SimConfig, SimHandle};
use tern_engine::config::{Config, ConnectorConfig, IdFormat, MtRouteConfig, Secret};
use tern_engine::gateway::{Gateway, GatewayHandle, StartOptions};

#[derive(Parser)]
struct LoadArgs {
    #[command(flatten)]
    config: LoadConfig,
}

/// The demo configuration on a free port and a temp data dir, with fast connectors.
fn base_config(data_dir: &std::path::Path) -> Config {
    let mut config = Config::demo();
    config.node.data_dir = data_dir.to_path_buf();
    config.node.shards = Some(1);
    config.smpp.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.http.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    for connector in &mut config.connectors {
        fast(connector);
    }
    for user in &mut config.users {
        user.tps_max = 100_000;
    }
    config
}

fn fast(connector: &mut ConnectorConfig) {
    connector.tps_max = 100_000;
    connector.window_size = 64;
    connector.reconnect_backoff_min_ms = 20;
    connector.reconnect_backoff_max_ms = 200;
}

/// A connector named `name` to the simulator at `addr`.
fn connector_to(name: &str, addr: SocketAddr) -> ConnectorConfig {
    let mut connector = ConnectorConfig {
        name: name.into(),
        host: addr.ip().to_string(),
        port: addr.port(),
        system_id: "tern".into(),
        password: Secret::new("tern"),
        ..ConnectorConfig::default()
    };
    fast(&mut connector);
    connector
}

/// A configuration whose only route goes to `connectors`, in failover order.
fn config_with(data_dir: &std::path::Path, connectors: Vec<ConnectorConfig>) -> Config {
    let mut config = base_config(data_dir);
    config.routes.mt = vec![MtRouteConfig {
        destination_prefixes: vec![String::new()],
        connectors: connectors.iter().map(|c| c.name.clone()).collect(),
        ..MtRouteConfig::default()
    }];
    config.connectors = connectors;
    config
}

fn start(config: Config) -> GatewayHandle {
    let gateway =
        Gateway::start_with(config, StartOptions { pin: Some(false) }).expect("gateway starts");
    assert!(
        gateway.wait_bound(Duration::from_secs(10)),
        "upstream binds up"
    );
    gateway
}

fn sim(config: SimConfig) -> SimHandle {
    tern_bench::sim::spawn(SimConfig {
        stats_interval_s: 0,
        ..config
    })
    .expect("simulator starts")
}

fn load(target: SocketAddr, extra: &[&str]) -> LoadReport {
    let target = target.to_string();
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
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let config = LoadArgs::try_parse_from(args).expect("load args").config;
    tern_bench::load::run(config).expect("load runs")
}

fn assert_all_acked_with_receipts(report: &LoadReport, count: u64) {
    assert_eq!(report.sent, count, "{report:?}");
    assert_eq!(report.acked, count, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.receipts_matched, count, "{report:?}");
    assert_eq!(report.receipts_unmatched, 0, "{report:?}");
}

#[test]
fn every_submit_is_acknowledged_and_every_receipt_comes_back_with_our_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gateway = start(base_config(dir.path()));
    let report = load(gateway.smpp_addr, &["--count", "300", "--window", "32"]);
    assert_all_acked_with_receipts(&report, 300);
    let stats = gateway.simulator_stats();
    assert_eq!(stats.iter().map(|s| s.submits_ok).sum::<u64>(), 300);
    gateway.stop();
}

#[test]
fn several_client_connections_each_get_their_own_receipts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gateway = start(base_config(dir.path()));
    let report = load(gateway.smpp_addr, &["--count", "200", "--connections", "3"]);
    assert_all_acked_with_receipts(&report, 200);
    gateway.stop();
}

#[test]
fn multipart_segments_pass_through_each_as_its_own_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gateway = start(base_config(dir.path()));
    let report = load(gateway.smpp_addr, &["--count", "40", "--long-ratio", "1.0"]);
    // `--count` counts submits: every segment is one, carrying its own UDH.
    assert!(report.long_messages > 0, "{report:?}");
    assert_eq!(report.acked, report.sent, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.receipts_matched, report.sent, "{report:?}");
    let stats = gateway.simulator_stats();
    assert_eq!(stats.iter().map(|s| s.submits_ok).sum::<u64>(), report.sent);
    gateway.stop();
}

#[test]
fn a_down_upstream_is_skipped_for_the_next_connector_of_the_route() {
    let dir = tempfile::tempdir().expect("temp dir");
    let up = sim(SimConfig::default());
    // Nothing listens there: the bind never comes up.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let down_addr = closed.local_addr().expect("addr");
    drop(closed);
    let config = config_with(
        dir.path(),
        vec![connector_to("down", down_addr), connector_to("up", up.addr)],
    );
    let gateway = Gateway::start_with(config, StartOptions { pin: Some(false) }).expect("start");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while gateway.binds_up() < 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let report = load(gateway.smpp_addr, &["--count", "100"]);
    assert_all_acked_with_receipts(&report, 100);
    assert_eq!(up.stats().submits_ok, 100);
    gateway.stop();
}

#[test]
fn throttled_submits_are_retried_until_the_upstream_takes_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = sim(SimConfig {
        throttle_tps: 100,
        ..SimConfig::default()
    });
    let gateway = start(config_with(
        dir.path(),
        vec![connector_to("slow", upstream.addr)],
    ));
    let report = load(gateway.smpp_addr, &["--count", "150"]);
    assert_all_acked_with_receipts(&report, 150);
    let stats = upstream.stats();
    assert_eq!(stats.submits_ok, 150);
    assert!(
        stats.throttled > 0,
        "the simulator throttled some submits: {stats:?}"
    );
    gateway.stop();
}

#[test]
fn receipt_before_its_submit_resp_is_parked_and_matched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = sim(SimConfig {
        early_receipt_ratio: 1.0,
        ..SimConfig::default()
    });
    let gateway = start(config_with(
        dir.path(),
        vec![connector_to("early", upstream.addr)],
    ));
    let report = load(gateway.smpp_addr, &["--count", "200"]);
    assert_all_acked_with_receipts(&report, 200);
    assert!(upstream.stats().receipts_early > 0);
    gateway.stop();
}

#[test]
fn hex_submit_resp_ids_meet_decimal_receipt_ids() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = sim(SimConfig {
        id_format: SimIdFormat::Hex,
        receipt_id_format: SimIdFormat::Decimal,
        ..SimConfig::default()
    });
    let mut connector = connector_to("mixed", upstream.addr);
    connector.quirks.submit_resp_id = IdFormat::Hex;
    connector.quirks.receipt_id = IdFormat::Decimal;
    let gateway = start(config_with(dir.path(), vec![connector]));
    let report = load(gateway.smpp_addr, &["--count", "200"]);
    assert_all_acked_with_receipts(&report, 200);
    gateway.stop();
}

#[test]
fn upstream_disconnects_are_survived_by_rebinding_and_resubmitting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = sim(SimConfig {
        disconnect_after: 70,
        ..SimConfig::default()
    });
    let gateway = start(config_with(
        dir.path(),
        vec![connector_to("flaky", upstream.addr)],
    ));
    let report = load(gateway.smpp_addr, &["--count", "200"]);
    assert_all_acked_with_receipts(&report, 200);
    assert!(upstream.stats().disconnects > 0);
    gateway.stop();
}

#[test]
fn a_permanent_upstream_refusal_fails_the_message_with_a_failure_receipt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = sim(SimConfig {
        fail_ratio: 1.0,
        fail_status: 0x01, // ESME_RINVMSGLEN: about the message itself, never retried
        ..SimConfig::default()
    });
    let gateway = start(config_with(
        dir.path(),
        vec![connector_to("strict", upstream.addr)],
    ));
    let report = load(gateway.smpp_addr, &["--count", "50"]);
    assert_all_acked_with_receipts(&report, 50);
    assert_eq!(
        report.receipt_states.get("UNDELIVERABLE"),
        Some(&50),
        "{report:?}"
    );
    assert_eq!(upstream.stats().submits_ok, 0);
    gateway.stop();
}

#[test]
fn a_user_over_its_tps_is_throttled_at_the_door() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = base_config(dir.path());
    for user in &mut config.users {
        user.tps_max = 10;
    }
    let gateway = start(config);
    let report = load(gateway.smpp_addr, &["--count", "100"]);
    let throttled = report.failed.get("ESME_RTHROTTLED").copied().unwrap_or(0);
    assert!(throttled > 0, "{report:?}");
    assert_eq!(report.acked + throttled, 100, "{report:?}");
    assert_eq!(report.receipts_matched, report.acked, "{report:?}");
    gateway.stop();
}

#[test]
fn messages_held_beyond_the_shard_bound_are_refused_at_the_door() {
    let upstream = sim(SimConfig {
        receipt_delay_ms: tern_bench::sim::DelayRange {
            min_ms: 1_500,
            max_ms: 1_500,
        },
        ..SimConfig::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = config_with(dir.path(), vec![connector_to("slow", upstream.addr)]);
    config.limits.messages_held_max = 20;
    let gateway = start(config);
    // Receipts come after 1.5 s: the first 20 messages are held and the rest refused,
    // rather than kept in memory.
    let report = load(gateway.smpp_addr, &["--count", "100", "--window", "100"]);
    let refused = report.failed.get("ESME_RMSGQFUL").copied().unwrap_or(0);
    assert!(report.acked >= 20 && refused > 0, "{report:?}");
    assert_eq!(report.acked + refused, 100, "{report:?}");
    assert_eq!(report.receipts_matched, report.acked, "{report:?}");
    gateway.stop();
}

#[test]
fn a_burst_of_binds_that_miss_the_login_cache_all_bind_and_submit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gateway = start(base_config(dir.path()));
    // 16 connections bind at once with a password no bind has verified yet: their
    // Argon2 checks run off the shard, two at a time, and every bind is answered.
    let report = load(
        gateway.smpp_addr,
        &["--count", "320", "--connections", "16", "--window", "8"],
    );
    assert_eq!(report.bind_failures, 0, "{report:?}");
    assert_all_acked_with_receipts(&report, 320);
    gateway.stop();
}

/// The status of each of `count` submit_sm written in one go right after a bind, in
/// sequence order, on a gateway whose user may submit 2 messages a second.
fn statuses_of_a_burst(overload_pause_ms: u32, count: u32) -> Vec<tern_smpp::CommandStatus> {
    use std::io::{Read, Write};
    use tern_smpp::{Bind, Body, CommandStatus, Pdu, SubmitSm};

    let upstream = sim(SimConfig::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = config_with(dir.path(), vec![connector_to("sim", upstream.addr)]);
    for user in &mut config.users {
        user.tps_max = 2;
    }
    config.smpp.overload_pause_ms = overload_pause_ms;
    let gateway = start(config);
    let mut stream = std::net::TcpStream::connect(gateway.smpp_addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let read_pdu = |stream: &mut std::net::TcpStream| {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).expect("length");
        let mut frame = len.to_vec();
        frame.resize(u32::from_be_bytes(len) as usize, 0);
        stream.read_exact(&mut frame[4..]).expect("frame");
        frame
    };
    let mut out = Vec::new();
    let bind = Bind {
        system_id: b"demo".as_slice().into(),
        password: b"demo".as_slice().into(),
        interface_version: 0x34,
        ..Bind::default()
    };
    Pdu::new(1, Body::BindTransmitter(bind))
        .encode(&mut out)
        .expect("encode");
    stream.write_all(&out).expect("bind");
    let frame = read_pdu(&mut stream);
    let resp = Pdu::decode(&frame).expect("bind resp");
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK, "bound");
    out.clear();
    for seq in 2..2 + count {
        let submit = SubmitSm {
            source_addr: b"Tern".as_slice().into(),
            destination_addr: b"447700900123".as_slice().into(),
            short_message: b"burst".as_slice().into(),
            ..SubmitSm::default()
        };
        Pdu::new(seq, Body::SubmitSm(submit))
            .encode(&mut out)
            .expect("encode");
    }
    stream.write_all(&out).expect("burst");
    let mut statuses = vec![None; count as usize];
    for _ in 0..count {
        let frame = read_pdu(&mut stream);
        let resp = Pdu::decode(&frame).expect("submit resp");
        let slot = statuses
            .get_mut((resp.sequence_number - 2) as usize)
            .expect("a sequence we sent");
        *slot = Some(resp.command_status);
    }
    gateway.stop();
    statuses.into_iter().map(|s| s.expect("answered")).collect()
}

#[test]
fn a_session_stops_reading_after_an_overload_refusal() {
    use tern_smpp::CommandStatus as S;
    // Two tokens: the first two are accepted and the third throttled. With a pause of a
    // second the fourth is read only after it, when the bucket has refilled; without a
    // pause it is read at once and throttled too.
    assert_eq!(
        statuses_of_a_burst(1_000, 4),
        [S::ESME_ROK, S::ESME_ROK, S::ESME_RTHROTTLED, S::ESME_ROK]
    );
    assert_eq!(
        statuses_of_a_burst(0, 4),
        [
            S::ESME_ROK,
            S::ESME_ROK,
            S::ESME_RTHROTTLED,
            S::ESME_RTHROTTLED
        ]
    );
}
