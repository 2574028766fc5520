//! The load generator against the simulator, over real TCP on 127.0.0.1.

use std::net::SocketAddr;

use tern_bench::load::{self, BindMode, IdMatch, LoadConfig, LoadReport};
use tern_bench::sim::{self, IdFormat, ReceiptMix, SimConfig, SimHandle};

fn simulator(configure: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut config = SimConfig {
        receipt_mix: ReceiptMix::ALL_DELIVERED,
        stats_interval_s: 0,
        ..SimConfig::default()
    };
    configure(&mut config);
    sim::spawn(config).expect("simulator starts")
}

fn load(addr: SocketAddr, count: u64, configure: impl FnOnce(&mut LoadConfig)) -> LoadReport {
    let mut config = LoadConfig::new(addr, "bench", "secret");
    config.count = Some(count);
    config.window = 32;
    config.receipt_wait_s = 5.0;
    configure(&mut config);
    load::run(config).expect("load run completes")
}

#[test]
fn every_message_is_acked_and_every_receipt_matched() {
    let sim = simulator(|c| c.receipt_delay_ms = "1..5".parse().expect("range"));
    let report = load(sim.addr, 500, |c| c.connections = 2);
    let stats = sim.stop();
    assert_eq!(report.sent, 500);
    assert_eq!(report.acked, 500);
    assert_eq!(report.receipts_matched, 500);
    assert_eq!(report.receipts_unmatched, 0);
    assert_eq!(report.receipts_missing, 0);
    assert_eq!(report.latency.submit_resp.count, 500);
    assert_eq!(report.latency.submit_receipt.count, 500);
    assert_eq!(stats.submits_ok, 500);
    assert_eq!(stats.receipts_sent, 500);
    assert_eq!(stats.receipts_held, 0);
}

#[test]
fn receipts_sent_before_their_submit_resp_are_still_matched() {
    let sim = simulator(|c| c.early_receipt_ratio = 1.0);
    let report = load(sim.addr, 300, |_| {});
    let stats = sim.stop();
    assert_eq!(stats.receipts_early, 300);
    assert_eq!(report.acked, 300);
    assert_eq!(report.receipts_matched, 300);
    assert_eq!(report.receipts_unmatched, 0);
}

#[test]
fn hex_response_ids_match_decimal_receipt_ids() {
    let sim = simulator(|c| {
        c.id_format = IdFormat::Hex;
        c.receipt_id_format = IdFormat::Decimal;
    });
    let report = load(sim.addr, 200, |c| {
        c.resp_id_format = IdMatch::Hex;
        c.receipt_id_format = IdMatch::Decimal;
    });
    drop(sim);
    assert_eq!(report.receipts_matched, 200);
}

#[test]
fn submits_above_the_throttle_rate_get_esme_rthrottled() {
    let sim = simulator(|c| c.throttle_tps = 50);
    let report = load(sim.addr, 400, |_| {});
    let stats = sim.stop();
    let throttled = report.failed.get("ESME_RTHROTTLED").copied().unwrap_or(0);
    assert!(throttled > 0, "{report:?}");
    assert_eq!(throttled, stats.throttled);
    assert_eq!(report.acked + throttled, 400);
    assert_eq!(report.receipts_matched, report.acked);
}

#[test]
fn failed_submits_are_counted_by_status() {
    let sim = simulator(|c| {
        c.fail_ratio = 0.5;
        c.fail_status = 0x45;
    });
    let report = load(sim.addr, 400, |_| {});
    let stats = sim.stop();
    let failed = report.failed.get("ESME_RSUBMITFAIL").copied().unwrap_or(0);
    assert_eq!(failed, stats.failed);
    assert!(failed > 100 && failed < 300, "{failed}");
    assert_eq!(report.acked + failed, 400);
    assert_eq!(report.receipts_matched, report.acked);
}

#[test]
fn load_generator_reconnects_after_disconnects_and_completes() {
    let sim = simulator(|c| c.disconnect_after = 150);
    let report = load(sim.addr, 500, |c| c.window = 16);
    let stats = sim.stop();
    assert!(stats.disconnects >= 3, "{stats:?}");
    assert!(report.reconnects >= 3, "{report:?}");
    assert_eq!(report.acked, 500);
    assert_eq!(report.receipts_matched, 500);
    assert_eq!(report.receipts_missing, 0);
}

#[test]
fn long_messages_go_as_three_parts_each_with_a_receipt() {
    let sim = simulator(|_| {});
    let report = load(sim.addr, 300, |c| c.long_ratio = 1.0);
    drop(sim);
    assert_eq!(report.long_messages, 100);
    assert_eq!(report.acked, 300);
    assert_eq!(report.receipts_matched, 300);
}

#[test]
fn receipts_reach_a_separate_receiver_bind() {
    let sim = simulator(|_| {});
    let report = load(sim.addr, 200, |c| {
        c.bind = BindMode::Tx;
        c.rx_connections = 1;
    });
    drop(sim);
    assert_eq!(report.acked, 200);
    assert_eq!(report.receipts_matched, 200);
}

#[test]
fn mo_messages_reach_a_receiver_bind_with_concatenated_parts() {
    let sim = simulator(|c| {
        c.mo_rate = 200.0;
        c.mo_long_ratio = 0.5;
    });
    let report = load(sim.addr, 0, |c| {
        c.count = None;
        c.duration_s = Some(0.5);
        c.rate = 100.0;
        c.rx_connections = 1;
        c.bind = BindMode::Tx;
    });
    let stats = sim.stop();
    assert!(report.mo_received > 0, "{report:?}");
    assert!(report.mo_parts > report.mo_received, "{report:?}");
    assert!(report.mo_received <= stats.mo_sent);
}

#[test]
fn full_receipt_queue_refuses_with_esme_rmsgqful() {
    let sim = simulator(|c| {
        c.receipt_queue = 50;
        c.receipt_delay_ms = "60000".parse().expect("fixed");
    });
    let report = load(sim.addr, 200, |c| c.receipt_wait_s = 0.0);
    let stats = sim.stop();
    assert_eq!(report.acked, 50);
    assert_eq!(report.failed.get("ESME_RMSGQFUL").copied(), Some(150));
    assert_eq!(stats.queue_full, 150);
    assert!(stats.receipts_held <= 50);
}

#[test]
fn simulator_spreads_over_shards_and_routes_receipts_between_them() {
    let sim = simulator(|c| c.shards = 2);
    let report = load(sim.addr, 400, |c| {
        c.connections = 4;
        c.rx_connections = 2;
        c.bind = BindMode::Tx;
        c.shards = 2;
    });
    let stats = sim.stop();
    assert_eq!(report.acked, 400);
    assert_eq!(report.receipts_matched, 400);
    assert_eq!(stats.receipts_sent, 400);
}
