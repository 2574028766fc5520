//! Durability under SIGKILL: the real `tern run` binary is killed at varied moments while a
//! client submits; after a last restart, every message that was acknowledged with ESME_ROK
//! has reached the SMSC and its receipt has reached the client, with our id.

mod e2e_support;

use std::collections::HashSet;
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e_support::{Plan, Seen, run_esme, run_esme_with_progress};
use tern_bench::sim::SimConfig;
use tern_smpp::session::BindKind;

/// Kill iterations; each costs under a second.
const KILLS: u64 = 6;
/// Messages a client tries to submit per iteration.
const SUBMITS_PER_RUN: u64 = 3_000;

/// A free port below the ephemeral range: a port from that range can be taken, while
/// the gateway is down, by an outbound socket or by a client's TCP self-connect, and
/// then the restarted gateway cannot listen on it. `salt` keeps the tests of one process
/// apart: with SO_REUSEPORT, two gateways on one port would share its clients.
fn free_addr(salt: u64) -> SocketAddr {
    let seed =
        (u64::from(std::process::id()) + salt * 5_003).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
    (0..1000u64)
        .map(|i| 20_000 + u16::try_from((seed + i * 7) % 10_000).unwrap_or(0))
        .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
        .find(|addr| std::net::TcpListener::bind(addr).is_ok())
        .expect("a free port")
}

/// Waits until nothing accepts on `listen`: a SIGKILLed glommio process's listener can
/// outlive it briefly (io_uring tears down asynchronously), and with SO_REUSEPORT the
/// kernel would hand new connections to that dead socket.
fn wait_port_closed(listen: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(listen).is_ok() {
        assert!(
            Instant::now() < deadline,
            "{listen} still accepts after the kill"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The node's configuration file: one fast user and one connector to `upstream`.
fn write_config(dir: &std::path::Path, upstream: SocketAddr) -> std::path::PathBuf {
    let text = format!(
        r#"
[[users]]
name = "demo"
password = "demo"
tps_max = 100000

[[connectors]]
name = "smsc"
host = "{host}"
port = {port}
system_id = "tern"
password = "tern"
window_size = 64
tps_max = 100000
reconnect_backoff_min_ms = 20
reconnect_backoff_max_ms = 200

[[routes.mt]]
destination_prefixes = [""]
connectors = ["smsc"]
"#,
        host = upstream.ip(),
        port = upstream.port()
    );
    let path = dir.join("tern.toml");
    std::fs::write(&path, text).expect("config written");
    path
}

fn spawn_tern(
    config: &std::path::Path,
    data_dir: &std::path::Path,
    listen: SocketAddr,
    shards: u32,
) -> Child {
    wait_port_closed(listen);
    let child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["run", "--shards", &shards.to_string()])
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--smpp-listen", &listen.to_string()])
        .args(["--http-listen", "127.0.0.1:0"])
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tern runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(listen).is_err() {
        assert!(Instant::now() < deadline, "tern did not listen on {listen}");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

/// A small deterministic spread of kill delays (ms), different each iteration.
fn kill_delay_ms(iteration: u64) -> u64 {
    let mixed = (iteration + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
    10 + mixed % 240
}

fn merge(into: &mut Seen, from: Seen) {
    into.acked.extend(from.acked);
    into.receipts.extend(from.receipts);
    into.receipts_total += from.receipts_total;
}

#[test]
fn every_acknowledged_message_is_delivered_and_reported_across_sigkills() {
    kill_restart_and_count(1);
}

/// The same at two shards: the connector's one bind lives on shard 0, so messages of
/// shard 1 are submitted, and their receipts answered upstream, across the mesh.
#[test]
fn every_acknowledged_message_is_delivered_and_reported_across_sigkills_at_two_shards() {
    kill_restart_and_count(2);
}

fn kill_restart_and_count(shards: u32) {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = tern_bench::sim::spawn(SimConfig {
        stats_interval_s: 0,
        receipt_delay_ms: "0..50".parse().expect("delay"),
        ..SimConfig::default()
    })
    .expect("simulator");
    let listen = free_addr(u64::from(shards));
    let config_dir = tempfile::tempdir().expect("config dir");
    let config = write_config(config_dir.path(), upstream.addr);
    let mut seen = Seen::default();
    for iteration in 0..KILLS {
        let mut child = spawn_tern(&config, dir.path(), listen, shards);
        let progress = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&progress);
        let client = std::thread::spawn(move || {
            let plan = Plan {
                submits: SUBMITS_PER_RUN,
                kind: BindKind::Transceiver,
                receipts_wanted: usize::MAX,
                deadline: Duration::from_secs(5),
                validity_period: None,
            };
            run_esme_with_progress(listen, plan, counter)
        });
        // The clock starts at the first acknowledgement, so every kill lands under load
        // however long start-up (password hashing, recovery) took.
        let deadline = Instant::now() + Duration::from_secs(10);
        while progress.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(kill_delay_ms(iteration)));
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("tern exited by itself: {status}");
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let run = client.join().expect("client");
        eprintln!(
            "iteration {iteration}: killed after {} ms, {} acked, {:?} refused, {} receipts, {:?}",
            kill_delay_ms(iteration),
            run.acked.len(),
            run.refusals,
            run.receipts.len(),
            run.error
        );
        merge(&mut seen, run);
    }
    assert!(
        !seen.acked.is_empty(),
        "some submits were acknowledged before the kills"
    );

    // Last start, no kill: what is owed is sent and reported.
    let mut child = spawn_tern(&config, dir.path(), listen, shards);
    for _ in 0..10 {
        let missing: HashSet<_> = seen.acked.difference(&seen.receipts).cloned().collect();
        if missing.is_empty() {
            break;
        }
        let plan = Plan {
            submits: 0,
            kind: BindKind::Receiver,
            receipts_wanted: missing.len(),
            deadline: Duration::from_secs(3),
            validity_period: None,
        };
        let run = run_esme(listen, plan);
        eprintln!("receiver: {} receipts, {:?}", run.receipts.len(), run.error);
        merge(&mut seen, run);
    }
    // A clean stop this time: SIGTERM unbinds, flushes and exits with success.
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: sending a signal to our own child process, whose pid we hold unreaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().expect("tern exits");
    assert!(status.success(), "SIGTERM ends tern cleanly: {status}");
    eprintln!(
        "{} acked, {} receipts, simulator took {}",
        seen.acked.len(),
        seen.receipts.len(),
        upstream.stats().submits_ok
    );
    let missing: Vec<_> = seen.acked.difference(&seen.receipts).collect();
    // TERN_KILL_KEEP=1 keeps the data directory and the missing ids for a post-mortem.
    if !missing.is_empty() && std::env::var_os("TERN_KILL_KEEP").is_some() {
        let kept = dir.keep();
        let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        std::fs::write(kept.join("missing.txt"), list.join("\n")).expect("write");
        eprintln!("data kept in {}", kept.display());
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages never got their receipt: {missing:?}",
        missing.len(),
        seen.acked.len()
    );
    assert!(upstream.stats().submits_ok >= seen.acked.len() as u64);
}
