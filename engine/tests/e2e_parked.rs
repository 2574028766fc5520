//! Messages waiting for their receipt are parked (a 24-byte slot, the record left in the
//! WAL) and come back whole when their receipt, their expiry or a restart comes.

mod e2e_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e_support::{Plan, Seen, one_connector_config, run_esme};
use tern_bench::sim::{DelayRange, SimConfig, SimHandle};
use tern_engine::config::Config;
use tern_engine::gateway::{Gateway, GatewayHandle, StartOptions};
use tern_smpp::session::BindKind;

/// message_state EXPIRED.
const EXPIRED: u8 = 3;

fn start(
    data_dir: &std::path::Path,
    upstream: SocketAddr,
    tune: impl FnOnce(&mut Config),
) -> GatewayHandle {
    let mut config = one_connector_config(data_dir, upstream);
    config.limits.messages_park_after_ms = 50;
    tune(&mut config);
    Gateway::start_with(config, StartOptions { pin: Some(false) }).expect("gateway starts")
}

fn simulator(receipt_delay_ms: u64) -> SimHandle {
    tern_bench::sim::spawn(SimConfig {
        stats_interval_s: 0,
        receipt_delay_ms: DelayRange {
            min_ms: receipt_delay_ms,
            max_ms: receipt_delay_ms,
        },
        ..SimConfig::default()
    })
    .expect("simulator")
}

/// The value of a node-wide metric, read from `/metrics` over HTTP.
fn metric(gateway: &GatewayHandle, name: &str) -> u64 {
    let body = ureq::get(&format!("http://{}/metrics", gateway.http_addr))
        .call()
        .expect("metrics answer")
        .into_string()
        .expect("metrics text");
    body.lines()
        .find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse::<f64>().ok())?
        })
        .map_or(0, |v| v as u64)
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the shard holds no message, then stops the gateway.
fn wait_released_and_stop(gateway: GatewayHandle) {
    wait_for(
        "the shard to let go of them",
        Duration::from_secs(10),
        || metric(&gateway, "tern_messages_held") == 0,
    );
    gateway.stop();
}

fn transceiver(submits: u64, receipts_wanted: usize) -> Plan {
    Plan {
        submits,
        kind: BindKind::Transceiver,
        receipts_wanted,
        deadline: Duration::from_secs(30),
        validity_period: None,
    }
}

fn assert_every_receipt_addressed(seen: &Seen, count: u64) {
    let missing: Vec<_> = seen.acked.difference(&seen.receipts).collect();
    assert!(missing.is_empty(), "receipts missing for {missing:?}");
    assert_eq!(seen.acked.len() as u64, count, "{seen:?}");
    assert_eq!(
        seen.receipts_addressed, seen.receipts_total,
        "every receipt carries its message's addresses: {seen:?}"
    );
}

#[test]
fn receipts_for_parked_messages_reach_the_client_with_their_addresses() {
    const COUNT: u64 = 300;
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = simulator(1_500);
    let gateway = start(dir.path(), upstream.addr, |_| {});
    let seen = run_esme(gateway.smpp_addr, transceiver(COUNT, COUNT as usize));
    assert_every_receipt_addressed(&seen, COUNT);
    assert!(
        metric(&gateway, "tern_messages_unparked_total") >= COUNT,
        "every message waited parked for its receipt"
    );
    assert_eq!(metric(&gateway, "tern_parked_read_failures_total"), 0);
    wait_released_and_stop(gateway);
}

#[test]
fn parked_messages_survive_a_restart_and_get_their_receipts() {
    const COUNT: u64 = 200;
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = simulator(4_000);
    let gateway = start(dir.path(), upstream.addr, |_| {});
    let acked = run_esme(gateway.smpp_addr, transceiver(COUNT, 0));
    assert_eq!(acked.acked.len() as u64, COUNT, "{acked:?}");
    wait_for(
        "every message to be parked",
        Duration::from_secs(10),
        || metric(&gateway, "tern_messages_parked") == COUNT,
    );
    gateway.stop();

    // The records are read back from the WAL after the restart too.
    let gateway = start(dir.path(), upstream.addr, |_| {});
    let seen = run_esme(gateway.smpp_addr, {
        let mut plan = transceiver(0, COUNT as usize);
        plan.kind = BindKind::Receiver;
        plan
    });
    let missing: Vec<_> = acked.acked.difference(&seen.receipts).collect();
    assert!(missing.is_empty(), "receipts missing for {missing:?}");
    assert_eq!(seen.receipts_addressed, seen.receipts_total, "{seen:?}");
    assert_eq!(upstream.stats().submits_ok, COUNT, "nothing was sent twice");
    // Recovery parked them again at once; each receipt read its record back.
    assert!(metric(&gateway, "tern_messages_unparked_total") >= COUNT);
    gateway.stop();
}

/// Messages whose receipts never come expire at their validity deadline: the client gets
/// an EXPIRED receipt and the shard lets go of them, whether they were parked or not.
fn expiry_case(park_after_ms: u32) {
    const COUNT: u64 = 100;
    let dir = tempfile::tempdir().expect("temp dir");
    // The receipts would come long after the validity.
    let upstream = simulator(600_000);
    let gateway = start(dir.path(), upstream.addr, |config| {
        config.limits.messages_park_after_ms = park_after_ms;
    });
    let seen = run_esme(gateway.smpp_addr, {
        let mut plan = transceiver(COUNT, COUNT as usize);
        plan.deadline = Duration::from_secs(40);
        // Relative: two seconds.
        plan.validity_period = Some(b"000000000002000R");
        plan
    });
    assert_every_receipt_addressed(&seen, COUNT);
    assert_eq!(
        seen.receipt_states.get(&EXPIRED).copied(),
        Some(COUNT),
        "{seen:?}"
    );
    wait_released_and_stop(gateway);
}

#[test]
fn parked_messages_expire_at_their_validity_deadline() {
    expiry_case(50);
}

#[test]
fn messages_held_in_full_expire_at_their_validity_deadline() {
    expiry_case(0);
}
