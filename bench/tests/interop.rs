//! Interoperability with SMPP implementations we did not write (Python smpplib and
//! smpp34, from the project's `.venv`, installed by `.ci/setup`).
//!
//! Without them the tests print "skipped: …" and pass, unless `TERN_INTEROP=require`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tern_bench::load::{self, LoadConfig};
use tern_bench::sim::{self, SimConfig};

fn python() -> PathBuf {
    tern_testkit::venv_python()
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

/// True when `module` imports; otherwise skips (or fails under TERN_INTEROP=require).
fn have_module(module: &str) -> bool {
    tern_testkit::python_with(&[module]).is_some()
}

/// Kills the child if the test fails half-way.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn smpplib_esme_binds_submits_and_gets_every_receipt_from_the_simulator() {
    if !have_module("smpplib") {
        return;
    }
    let sim = sim::spawn(SimConfig {
        receipt_delay_ms: "1..20".parse().expect("range"),
        stats_interval_s: 0,
        ..SimConfig::default()
    })
    .expect("simulator starts");
    let output = Command::new(python())
        .arg(script("smpplib_esme.py"))
        .arg(sim.addr.ip().to_string())
        .arg(sim.addr.port().to_string())
        .arg("100")
        .output()
        .expect("python runs");
    let stats = sim.stop();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "smpplib client failed: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json line");
    assert_eq!(seen["acked"], 100);
    assert_eq!(seen["matched"], 100);
    assert_eq!(stats.submits_ok, 100);
    assert_eq!(stats.receipts_sent, 100);
}

#[test]
fn load_generator_runs_against_the_smpp34_server() {
    if !have_module("smpp34") {
        return;
    }
    let child = Command::new(python())
        .arg(script("smpp34_smsc.py"))
        .arg("30")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python runs");
    let mut child = Reaped(child);
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("server announces its port");
    let port: u16 = first
        .strip_prefix("LISTENING ")
        .and_then(|p| p.trim().parse().ok())
        .expect("LISTENING <port>");
    let mut config = LoadConfig::new(([127, 0, 0, 1], port).into(), "tern", "secret");
    config.count = Some(300);
    config.window = 20;
    config.receipt_wait_s = 10.0;
    let report = load::run(config).expect("load run completes");
    assert_eq!(report.acked, 300, "{report:?}");
    assert_eq!(report.receipts_matched, 300, "{report:?}");
    assert_eq!(report.receipts_unmatched, 0);
    let summary = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("server summary");
    let counts: serde_json::Value = serde_json::from_str(&summary).expect("json line");
    assert_eq!(counts["submits"], 300);
}
