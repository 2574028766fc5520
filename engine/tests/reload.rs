//! Configuration reload on SIGHUP: the real `tern run --config` binary under SMPP load is
//! given a new file that routes a prefix to a second connector and adds a user; new
//! messages follow the new route, the new user binds, and every message in flight before
//! the reload is acknowledged and its receipt delivered. A file that does not validate,
//! or that changes what needs a restart, is refused and the old routes stay. The swap
//! itself is also tested on a [`Core`] without any I/O.

use std::borrow::Cow;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tern_bench::load::{LoadConfig, LoadReport};
use tern_bench::sim::{SimConfig, SimHandle};
use tern_engine::config::{Config, MtRouteConfig, Snapshot, UserConfig, plan_reload};
use tern_engine::dlr_index::{DlrIndex, DlrIndexConfig};
use tern_engine::message::{
    Address, ConnectorId, Content, MessageRecord, Route, SessionKind, UserId,
};
use tern_engine::router::MtQuery;
use tern_engine::shard::Core;
use tern_smpp::{EsmClass, RegisteredDelivery};

/// Messages the load in flight across the reload submits, and its rate (so it lasts
/// well past the reload).
const IN_FLIGHT_COUNT: u64 = 3_000;
const IN_FLIGHT_RATE: &str = "1500";
/// Longest wait for the gateway to do something it was asked (listen, reload, log).
const WAIT_MAX: Duration = Duration::from_secs(20);

#[derive(Parser)]
struct LoadArgs {
    #[command(flatten)]
    config: LoadConfig,
}

/// A free loopback port (the OS picks it; the gateway binds it right after).
fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

fn sim() -> SimHandle {
    tern_bench::sim::spawn(SimConfig {
        stats_interval_s: 0,
        receipt_delay_ms: "0..20".parse().expect("delay"),
        ..SimConfig::default()
    })
    .expect("simulator starts")
}

/// The configuration text: users, connectors `a` and `b` to the two simulators, routes.
fn config_text(a: SocketAddr, b: SocketAddr, users: &str, routes: &str) -> String {
    let connector = |name: &str, addr: SocketAddr| {
        format!(
            r#"
[[connectors]]
name = "{name}"
host = "{host}"
port = {port}
system_id = "tern"
password = "tern"
window_size = 64
tps_max = 100000
reconnect_backoff_min_ms = 20
reconnect_backoff_max_ms = 200
"#,
            host = addr.ip(),
            port = addr.port()
        )
    };
    format!(
        "{users}\n{}\n{}\n{routes}",
        connector("a", a),
        connector("b", b)
    )
}

const DEMO_USER: &str = r#"
[[users]]
name = "demo"
password = "demo"
tps_max = 100000
"#;

const FRESH_USER: &str = r#"
[[users]]
name = "fresh"
password = "fresh"
tps_max = 100000
"#;

const ALL_TO_A: &str = r#"
[[routes.mt]]
destination_prefixes = [""]
connectors = ["a"]
"#;

const UK_MOBILE_TO_B: &str = r#"
[[routes.mt]]
destination_prefixes = ["4479"]
connectors = ["b"]
"#;

/// The gateway as a child process, its log in a file; killed when dropped.
struct Tern {
    child: Child,
    log: PathBuf,
    smpp: SocketAddr,
}

impl Tern {
    fn spawn(config: &Path, data_dir: &Path) -> Tern {
        let smpp = free_addr();
        let log = data_dir.join("tern.log");
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_tern"))
            .args(["run", "--shards", "1"])
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--smpp-listen", &smpp.to_string()])
            .args(["--http-listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("tern runs");
        let tern = Tern { child, log, smpp };
        wait_for("tern listening", || TcpStream::connect(smpp).is_ok());
        tern
    }

    fn hangup(&self) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on our own child's pid with a valid signal number.
        let sent = unsafe { libc::kill(pid, libc::SIGHUP) };
        assert_eq!(sent, 0, "SIGHUP sent");
    }

    fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Waits until the log holds `needle` `count` times.
    fn wait_log(&self, needle: &str, count: usize) {
        wait_for(needle, || self.log_text().matches(needle).count() >= count);
    }
}

impl Drop for Tern {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT_MAX;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn load(target: SocketAddr, user: &str, count: u64, destination: &str, rate: &str) -> LoadReport {
    let target = target.to_string();
    let count = count.to_string();
    let args = [
        "load",
        "--target",
        &target,
        "--system-id",
        user,
        "--password",
        user,
        "--count",
        &count,
        "--rate",
        rate,
        "--destination",
        destination,
        "--registered-delivery",
        "1",
        "--receipt-wait-s",
        "20",
        "--max-reconnects",
        "0",
        "--quiet",
    ];
    let config = LoadArgs::try_parse_from(args).expect("load args").config;
    tern_bench::load::run(config).expect("load runs")
}

fn assert_complete(report: &LoadReport, count: u64) {
    assert_eq!(report.sent, count, "{report:?}");
    assert_eq!(report.acked, count, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.receipts_matched, count, "{report:?}");
    assert_eq!(report.receipts_missing, 0, "{report:?}");
}

fn submits(sim: &SimHandle) -> u64 {
    sim.stats().submits
}

#[test]
fn sighup_reroutes_new_messages_adds_users_and_keeps_every_message_in_flight() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, b) = (sim(), sim());
    let path = dir.path().join("tern.toml");
    std::fs::write(&path, config_text(a.addr, b.addr, DEMO_USER, ALL_TO_A)).expect("write");
    let tern = Tern::spawn(&path, dir.path());
    let target = tern.smpp;

    // Load in flight across the reload: 3,000 messages at 1,500/s to 4479....
    let in_flight = std::thread::spawn(move || {
        load(
            target,
            "demo",
            IN_FLIGHT_COUNT,
            "4479########",
            IN_FLIGHT_RATE,
        )
    });
    wait_for("load under way", || submits(&a) >= 300);
    let users = format!("{DEMO_USER}{FRESH_USER}");
    let routes = format!("{ALL_TO_A}{UK_MOBILE_TO_B}");
    std::fs::write(&path, config_text(a.addr, b.addr, &users, &routes)).expect("write");
    tern.hangup();
    tern.wait_log("configuration reloaded", 2); // run.rs, then the shard's swap
    assert!(
        !in_flight.is_finished(),
        "the load must still be in flight at the reload; raise IN_FLIGHT_COUNT"
    );

    // The new user binds; new 4479 messages go to b, others still to a.
    let (a_before, b_before) = (submits(&a), submits(&b));
    assert_complete(&load(target, "fresh", 100, "4479########", "0"), 100);
    assert_complete(&load(target, "fresh", 50, "3361########", "0"), 50);
    let report = in_flight.join().expect("load thread");
    assert_complete(&report, IN_FLIGHT_COUNT);
    let to_b = submits(&b) - b_before;
    assert!(
        to_b >= 100,
        "new 4479 messages follow the new route: {to_b}"
    );
    assert!(submits(&a) >= a_before + 50, "other numbers stay on a");
    assert_eq!(
        submits(&a) + submits(&b),
        IN_FLIGHT_COUNT + 150,
        "every message submitted upstream exactly once"
    );

    // A file that does not validate is refused, naming its line; old routes stay.
    let broken = format!(
        "{DEMO_USER}{FRESH_USER}{ALL_TO_A}\n[[routes.mt]]\ndestination_prefixes = [\"4479\"]\nconnectors = [\"nowhere\"]\n"
    );
    let broken = config_text(a.addr, b.addr, "", &broken);
    std::fs::write(&path, broken).expect("write");
    tern.hangup();
    tern.wait_log("reload refused", 1);
    assert!(
        tern.log_text().contains("line "),
        "the refusal names the line:\n{}",
        tern.log_text()
    );
    // A change that needs a restart (a third connector) is refused, listing it.
    let mut third = config_text(a.addr, b.addr, &users, &routes);
    third.push_str(
        "\n[[connectors]]\nname = \"c\"\nhost = \"127.0.0.1\"\nport = 9\nsystem_id = \"t\"\n",
    );
    std::fs::write(&path, third).expect("write");
    tern.hangup();
    tern.wait_log("need a restart", 1);
    let b_before = submits(&b);
    assert_complete(&load(target, "demo", 100, "4479########", "0"), 100);
    assert_eq!(submits(&b) - b_before, 100, "the routes in force stay");
    for sim in [a, b] {
        let _ = sim.stop();
    }
}

#[test]
fn sighup_without_a_configuration_file_reloads_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let smpp = free_addr();
    let log = dir.path().join("tern.log");
    let out = std::fs::File::create(&log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["run", "--shards", "1"])
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--smpp-listen", &smpp.to_string()])
        .args(["--http-listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .spawn()
        .expect("tern runs");
    let tern = Tern { child, log, smpp };
    wait_for("tern listening", || TcpStream::connect(smpp).is_ok());
    tern.hangup();
    tern.wait_log("nothing to reload", 1);
    assert_complete(&load(tern.smpp, "demo", 10, "4479########", "0"), 10);
}

/// A one-user, two-connector configuration routing everything to `x`.
fn core_config(data_dir: &Path) -> Config {
    let mut config = Config::demo();
    config.node.data_dir = data_dir.to_path_buf();
    let mut y = config.connectors[0].clone();
    config.connectors[0].name = "x".into();
    y.name = "y".into();
    config.connectors.push(y);
    config.routes.mt[0].connectors = vec!["x".into()];
    config
}

fn record(core: &mut Core, user: u32, connector: u16) -> MessageRecord<'static> {
    MessageRecord {
        id: core.next_id().expect("id"),
        user: UserId(user),
        session: SessionKind::Smpp {
            interface_version: 0x34,
        },
        accepted_at_ms: 1,
        validity_deadline_ms: u64::MAX / 2,
        schedule_at_ms: None,
        source: Address::default(),
        destination: Address {
            ton: 1,
            npi: 1,
            digits: Cow::Borrowed(b"447900000001"),
        },
        esm_class: EsmClass(0),
        protocol_id: 0,
        priority: 0,
        registered_delivery: RegisteredDelivery(1),
        data_coding: 0,
        service_type: Cow::Borrowed(b""),
        client_ref: Cow::Borrowed(b""),
        route: Route::single(ConnectorId(connector)),
        content: Content::ShortMessage(Cow::Borrowed(b"hi")),
        tlvs: Cow::Borrowed(b""),
        callback: Cow::Borrowed(b""),
        idempotency_key: Cow::Borrowed(b""),
    }
}

#[test]
fn core_swaps_in_a_newer_snapshot_with_new_routes_and_users_and_keeps_accepted_routes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let live = core_config(dir.path());
    let first = Arc::new(Snapshot::build(live.clone(), 1).expect("snapshot"));
    let (wal, recovery) =
        tern_wal::Wal::open(dir.path().join("wal"), Default::default()).expect("wal");
    let dlr = DlrIndex::new(DlrIndexConfig::default()).expect("dlr");
    let mut core = Core::new(0, Arc::clone(&first), wal, &recovery, dlr).expect("core");
    let before = record(&mut core, 0, 0);
    let before_id = before.id;
    core.accept(before).expect("accepted before the reload");

    let mut next = live.clone();
    next.users.push(UserConfig {
        name: "fresh".into(),
        password: Some(tern_engine::config::Secret::new("fresh")),
        ..UserConfig::default()
    });
    next.routes.mt.push(MtRouteConfig {
        destination_prefixes: vec!["4479".into()],
        connectors: vec!["y".into()],
        ..MtRouteConfig::default()
    });
    let plan = plan_reload(&live, next, 8).expect("live change");
    let second = Arc::new(Snapshot::build(plan.config, 2).expect("snapshot"));
    assert!(
        core.swap_snapshot(Arc::clone(&second)),
        "newer snapshot swapped in"
    );
    assert!(!core.swap_snapshot(first), "an older snapshot is ignored");
    assert_eq!(core.snapshot.generation, 2);

    let fresh = core.snapshot.users.lookup("fresh").expect("new user known");
    let route = core
        .snapshot
        .router
        .route_mt(&MtQuery {
            user: fresh,
            source: "",
            destination: "447900000001",
        })
        .expect("routed");
    assert_eq!(route.connectors()[0].index(), 1, "4479 now goes to y");
    // The new user has its per-user structures: its message is accepted, not dropped.
    let after = record(&mut core, fresh.0, 1);
    core.accept(after)
        .expect("the new user's message is accepted");
    let kept = core.record(before_id).expect("held").route;
    assert_eq!(kept.as_slice(), [ConnectorId(0)], "accepted route kept");

    // A snapshot that moves connectors is not applied.
    let mut moved = core_config(dir.path());
    moved.connectors.pop();
    moved.routes.mt.truncate(1);
    let third = Arc::new(Snapshot::build(moved, 3).expect("snapshot"));
    assert!(!core.swap_snapshot(third));
    assert_eq!(core.snapshot.generation, 2);
}
