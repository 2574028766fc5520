//! Restart on the same data directory: what was acknowledged is sent after a restart, and
//! receipts owed to a client survive restarts until it binds.

mod e2e_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e_support::{Plan, one_connector_config, run_esme};
use tern_bench::sim::{SimConfig, SimHandle};
use tern_engine::gateway::{Gateway, GatewayHandle, StartOptions};
use tern_smpp::session::BindKind;

fn start(data_dir: &std::path::Path, upstream: SocketAddr) -> GatewayHandle {
    let config = one_connector_config(data_dir, upstream);
    Gateway::start_with(config, StartOptions { pin: Some(false) }).expect("gateway starts")
}

fn free_port_nobody_listens_on() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn acknowledged_messages_are_sent_after_restart_and_owed_receipts_wait_for_the_client() {
    const COUNT: u64 = 50;
    let dir = tempfile::tempdir().expect("temp dir");

    // 1. No upstream: every message is acknowledged (durable) and stays queued.
    let gateway = start(dir.path(), free_port_nobody_listens_on());
    let plan = Plan {
        submits: COUNT,
        kind: BindKind::Transmitter,
        receipts_wanted: 0,
        deadline: Duration::from_secs(20),
        validity_period: None,
    };
    let seen = run_esme(gateway.smpp_addr, plan);
    assert_eq!(seen.acked.len() as u64, COUNT, "{seen:?}");
    gateway.stop();

    // 2. Restart with an upstream: the queued messages go out and their receipts come
    // back while no client is bound, so they are owed.
    let upstream: SimHandle = tern_bench::sim::spawn(SimConfig {
        stats_interval_s: 0,
        ..SimConfig::default()
    })
    .expect("simulator");
    let gateway = start(dir.path(), upstream.addr);
    wait_for(
        "the upstream to take every message",
        Duration::from_secs(20),
        || upstream.stats().receipts_sent >= COUNT,
    );
    // Let the receipts be processed and logged before stopping.
    std::thread::sleep(Duration::from_millis(300));
    gateway.stop();
    assert_eq!(upstream.stats().submits_ok, COUNT);

    // 3. Restart again and bind a receiver: every owed receipt arrives, with our ids.
    let gateway = start(dir.path(), upstream.addr);
    let plan = Plan {
        submits: 0,
        kind: BindKind::Receiver,
        receipts_wanted: COUNT as usize,
        deadline: Duration::from_secs(20),
        validity_period: None,
    };
    let got = run_esme(gateway.smpp_addr, plan);
    let missing: Vec<_> = seen.acked.difference(&got.receipts).collect();
    assert!(missing.is_empty(), "receipts missing for {missing:?}");
    assert_eq!(upstream.stats().submits_ok, COUNT, "nothing was sent twice");
    gateway.stop();
}
