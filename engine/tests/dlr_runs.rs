//! The DLR index's disk tier in the running gateway, over real TCP: generations go to run
//! files while receipts are still due, receipts match after a restart from the runs alone,
//! and runs whose TTL passed leave the disk. Tiny generations (tens of ms) stand in for the
//! production 7.5 minutes.

mod e2e_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e_support::{Plan, one_connector_config, run_esme};
use tern_bench::load::{LoadConfig, LoadReport};
use tern_bench::sim::{DelayRange, SimConfig, SimHandle};
use tern_engine::config::{Config, ConfigError};
use tern_engine::gateway::{Gateway, GatewayHandle, StartOptions};
use tern_engine::metrics::DlrMetrics;
use tern_engine::shard::dlr_runs::runs_dir;
use tern_smpp::session::BindKind;

const GENERATIONS: u32 = 4;

/// `shards` shards, tiny generations (so a generation is sealed every few ms of traffic and due
/// on disk at once), a connector to `upstream`.
fn config(data_dir: &Path, upstream: SocketAddr, message_ttl_s: u32, shards: u32) -> Config {
    let mut config = one_connector_config(data_dir, upstream);
    config.node.shards = Some(shards);
    config.limits.dlr_hot_generations_max = GENERATIONS;
    config.limits.dlr_generation_span_ms = 100;
    config.limits.dlr_hot_horizon_ms = 200;
    config.limits.message_ttl_s = message_ttl_s;
    config
}

fn start(config: Config) -> GatewayHandle {
    let gateway =
        Gateway::start_with(config, StartOptions { pin: Some(false) }).expect("gateway starts");
    assert!(
        gateway.wait_bound(Duration::from_secs(10)),
        "upstream bind up"
    );
    gateway
}

fn sim(receipt_delay_ms: u64) -> SimHandle {
    tern_bench::sim::spawn(SimConfig {
        stats_interval_s: 0,
        receipt_delay_ms: DelayRange {
            min_ms: receipt_delay_ms,
            max_ms: receipt_delay_ms,
        },
        ..SimConfig::default()
    })
    .expect("simulator starts")
}

fn dlr(gateway: &GatewayHandle) -> std::sync::Arc<tern_engine::metrics::ShardMetrics> {
    std::sync::Arc::clone(&gateway.metrics().shards[0])
}

/// A DLR value summed over the shards.
fn total(gateway: &GatewayHandle, value: fn(&DlrMetrics) -> u64) -> u64 {
    gateway.metrics().shards.iter().map(|s| value(&s.dlr)).sum()
}

fn summaries(gateway: &GatewayHandle) -> Vec<String> {
    gateway
        .metrics()
        .shards
        .iter()
        .map(|s| summary(&s.dlr))
        .collect()
}

/// Run files of every shard.
fn run_files(data_dir: &Path) -> Vec<PathBuf> {
    (0..2)
        .filter_map(|shard| std::fs::read_dir(runs_dir(data_dir, shard)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".run"))
        .collect()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn summary(m: &DlrMetrics) -> String {
    format!(
        "hot {} runs {} run entries {} written {} failures {} deleted {} evicted {} restored {}",
        m.hot_entries.get(),
        m.runs.get(),
        m.run_entries.get(),
        m.runs_written.get(),
        m.run_write_failures.get(),
        m.run_files_deleted.get(),
        m.hot_entries_evicted.get(),
        m.restored_from_runs.get()
    )
}

#[test]
fn generations_go_to_disk_runs_and_every_delayed_receipt_still_matches() {
    const COUNT: u64 = 1_500;
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = sim(1_500);
    let gateway = start(config(dir.path(), upstream.addr, 3_600, 1));
    // Paced, so the traffic spans many more generations than RAM holds: without the disk
    // tier the oldest would be evicted and their receipts come back unmatched.
    let mut load = LoadConfig::new(gateway.smpp_addr, "demo", "demo");
    load.count = Some(COUNT);
    load.rate = 1_500.0;
    load.window = 64;
    load.receipt_wait_s = 20.0;
    load.quiet = true;
    let report: LoadReport = tern_bench::load::run(load).expect("load runs");
    assert_eq!(report.acked, COUNT, "{report:?}");
    assert_eq!(report.receipts_matched, COUNT, "{report:?}");
    assert_eq!(report.receipts_unmatched, 0, "{report:?}");

    let shard = dlr(&gateway);
    let m = &shard.dlr;
    assert_eq!(m.hot_entries_evicted.get(), 0, "{}", summary(m));
    assert!(
        m.runs_written.get() > u64::from(GENERATIONS),
        "more generations written than RAM holds: {}",
        summary(m)
    );
    assert_eq!(m.run_write_failures.get(), 0, "{}", summary(m));
    assert!(m.run_entries.get() > 0, "{}", summary(m));
    assert!(!run_files(dir.path()).is_empty(), "run files on disk");
    gateway.stop();
}

#[test]
fn receipts_after_a_restart_match_mappings_reopened_from_runs() {
    restart_matches_from_runs(1);
}

#[test]
fn receipts_after_a_restart_match_runs_of_other_index_shards() {
    restart_matches_from_runs(2);
}

/// Mappings all on disk, stop, restart: the replay inserts none of them again (their runs
/// hold them, on whichever shard indexes the key), and receipts sent after the restart
/// all match.
fn restart_matches_from_runs(shards: u32) {
    const COUNT: u64 = 200;
    let dir = tempfile::tempdir().expect("temp dir");
    // Long enough that no receipt comes before the restart (checked below).
    let upstream = sim(6_000);
    let gateway = start(config(dir.path(), upstream.addr, 3_600, shards));
    let plan = Plan {
        submits: COUNT,
        kind: BindKind::Transmitter,
        receipts_wanted: 0,
        deadline: Duration::from_secs(20),
        validity_period: None,
    };
    let seen = run_esme(gateway.smpp_addr, plan);
    assert_eq!(seen.acked.len() as u64, COUNT, "{seen:?}");
    wait_for("every mapping written to a run", || {
        total(&gateway, |m| m.run_entries.get()) == COUNT
            && total(&gateway, |m| m.hot_entries.get()) == 0
    });
    gateway.stop();
    assert_eq!(
        upstream.stats().receipts_sent,
        0,
        "precondition: receipts come after the restart"
    );

    let gateway = start(config(dir.path(), upstream.addr, 3_600, shards));
    wait_for("the replay to find every mapping in a reopened run", || {
        total(&gateway, |m| m.restored_from_runs.get()) == COUNT
    });
    assert_eq!(total(&gateway, |m| m.run_entries.get()), COUNT);
    let hot = total(&gateway, |m| m.hot_entries.get());
    assert_eq!(hot, 0, "replayed into RAM again: {:?}", summaries(&gateway));

    let plan = Plan {
        submits: 0,
        kind: BindKind::Receiver,
        receipts_wanted: COUNT as usize,
        deadline: Duration::from_secs(30),
        validity_period: None,
    };
    let got = run_esme(gateway.smpp_addr, plan);
    let missing: Vec<_> = seen.acked.difference(&got.receipts).collect();
    assert!(missing.is_empty(), "receipts missing for {missing:?}");
    assert_eq!(upstream.stats().submits_ok, COUNT, "nothing was sent twice");
    assert_eq!(total(&gateway, |m| m.hot_entries_evicted.get()), 0);
    gateway.stop();
}

#[test]
fn runs_whose_ttl_passed_are_deleted_from_disk() {
    const COUNT: u64 = 100;
    let dir = tempfile::tempdir().expect("temp dir");
    // No receipt within the test: the mappings outlive nothing but their TTL.
    let upstream = sim(600_000);
    let gateway = start(config(dir.path(), upstream.addr, 2, 1));
    let plan = Plan {
        submits: COUNT,
        kind: BindKind::Transmitter,
        receipts_wanted: 0,
        deadline: Duration::from_secs(20),
        validity_period: None,
    };
    let seen = run_esme(gateway.smpp_addr, plan);
    assert_eq!(seen.acked.len() as u64, COUNT, "{seen:?}");
    let shard = dlr(&gateway);
    let mut seen_on_disk = 0;
    wait_for("a run written", || {
        seen_on_disk = seen_on_disk.max(run_files(dir.path()).len());
        shard.dlr.runs_written.get() > 0 && seen_on_disk > 0
    });
    // The counter follows the blocking delete, so it is part of the wait.
    wait_for("every run's TTL to pass and its file to go", || {
        let m = &shard.dlr;
        m.runs.get() == 0
            && run_files(dir.path()).is_empty()
            && m.run_files_deleted.get() == m.runs_written.get()
    });
    gateway.stop();
}

#[test]
fn disk_tier_settings_are_validated_by_field() {
    let refused = |edit: fn(&mut Config)| {
        let mut config = Config::demo();
        edit(&mut config);
        match config.validate("tern.toml") {
            Err(ConfigError::Invalid { diagnostics, .. }) => diagnostics
                .iter()
                .map(|d| d.path.clone())
                .collect::<Vec<_>>(),
            other => panic!("expected refusal, got {other:?}"),
        }
    };
    let paths = refused(|c| c.limits.dlr_hot_generations_max = 1);
    assert_eq!(paths, ["limits.dlr_hot_generations_max"]);
    let paths = refused(|c| {
        c.limits.dlr_generation_span_ms = 1_000;
        c.limits.dlr_hot_horizon_ms = 500;
    });
    assert_eq!(paths, ["limits.dlr_generation_span_ms"]);
    let paths = refused(|c| c.limits.dlr_hot_horizon_ms = 3_600_001 * 48);
    assert_eq!(paths, ["limits.dlr_hot_horizon_ms"]);
    let paths = refused(|c| c.limits.dlr_disk_bytes_max = 0);
    assert_eq!(paths, ["limits.dlr_disk_bytes_max"]);
    // 1 MiB in 1,024 generations: each too small for a table.
    let paths = refused(|c| {
        c.node.shards = Some(1);
        c.limits.dlr_hot_bytes_max = 1 << 20;
        c.limits.dlr_hot_generations_max = 1_024;
    });
    assert_eq!(paths, ["limits.dlr_hot_generations_max"]);
}
