//! Interop of the gateway with ESMEs we did not write (issue 4).
//!
//! - Python smpplib (in the workspace's .venv, made by .ci/setup) binds transceiver,
//!   submits GSM 7-bit, UCS-2 and a UDH-concatenated long message with registered
//!   delivery, and must get ESME_ROK with an id for every submit and a DELIVRD receipt
//!   naming every id.
//! - Kannel (Debian package, installed by .ci/setup): bearerbox binds to the gateway as an
//!   SMPP transceiver, smsbox takes messages over HTTP sendsms, and the messages must reach
//!   the SMSC simulator behind the gateway and their delivery reports must come back to
//!   Kannel (its dlr-url callbacks, status 1 = delivered).
//!
//! A missing tool skips the test with "skipped: …", unless TERN_INTEROP=require, which
//! makes it fail. The simulator behind the gateway answers every message DELIVRD, so the
//! assertions do not depend on a random receipt mix.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tern_bench::sim::{ReceiptMix, SimConfig, SimHandle};
use tern_engine::config::{Config, ConnectorConfig, Secret};
use tern_engine::gateway::{Gateway, GatewayHandle, StartOptions};

/// The Tern user both ESMEs bind as (the demo configuration's).
const USER: &str = "demo";
/// Its password.
const PASSWORD: &str = "demo";
/// GSM 7-bit messages smpplib submits (plus one UCS-2 and one long message).
const SMPPLIB_GSM_COUNT: usize = 5;
/// How long the smpplib script may wait for responses and receipts.
const SMPPLIB_DEADLINE_S: u64 = 20;
/// Messages sent through Kannel's sendsms.
const KANNEL_MESSAGES: usize = 3;
/// The whole Kannel exchange must be over by then.
const KANNEL_DEADLINE_S: u64 = 40;
/// Delivery report value Kannel gives a delivered message (dlr-mask bit 1).
const KANNEL_DLR_DELIVERED: u32 = 1;
/// Between two polls of something that is not ready yet.
const POLL_INTERVAL_MS: u64 = 50;

use tern_testkit::interop_tool;

fn interop_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

/// A simulator that delivers every message, with the ids it hands out.
fn delivering_simulator() -> SimHandle {
    tern_bench::sim::spawn(SimConfig {
        receipt_mix: ReceiptMix::ALL_DELIVERED,
        stats_interval_s: 0,
        ..SimConfig::default()
    })
    .expect("simulator starts")
}

/// The demo configuration (user demo/demo), on a free port and `data_dir`, routing
/// everything to the simulator at `sim`.
fn gateway_to(sim: SocketAddr, data_dir: &Path) -> GatewayHandle {
    let mut config = Config::demo();
    config.node.data_dir = data_dir.to_path_buf();
    config.node.shards = Some(1);
    config.smpp.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.http.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.connectors = vec![ConnectorConfig {
        name: "sim".into(),
        host: sim.ip().to_string(),
        port: sim.port(),
        system_id: "tern".into(),
        password: Secret::new("tern"),
        reconnect_backoff_min_ms: 20,
        reconnect_backoff_max_ms: 200,
        ..ConnectorConfig::default()
    }];
    let gateway =
        Gateway::start_with(config, StartOptions { pin: Some(false) }).expect("gateway starts");
    assert!(
        gateway.wait_bound(Duration::from_secs(10)),
        "upstream bind to the simulator is up"
    );
    gateway
}

/// Waits for `child` at most `limit`, killing it past that; its output either way.
fn output_within(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
    }
    let _ = child.kill();
    child.wait_with_output().expect("child output")
}

/// What the smpplib script printed.
#[derive(Debug, Default)]
struct SmpplibReport {
    submits: usize,
    /// (command_status, message_id) per submit_sm_resp.
    resps: Vec<(u32, String)>,
    /// Receipt stat by receipted message id.
    receipts: BTreeMap<String, String>,
}

fn parse_smpplib(stdout: &str) -> SmpplibReport {
    let mut report = SmpplibReport::default();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["submits", n] => report.submits = n.parse().unwrap_or(0),
            ["resp", status, id] => report
                .resps
                .push((status.parse().unwrap_or(u32::MAX), (*id).to_owned())),
            ["receipt", id, stat] => {
                report.receipts.insert((*id).to_owned(), (*stat).to_owned());
            }
            _ => {}
        }
    }
    report
}

fn python_with_smpplib() -> Option<PathBuf> {
    tern_testkit::python_with(&["smpplib"])
}

#[test]
fn smpplib_transceiver_gets_an_id_for_every_submit_and_a_delivered_receipt_for_every_id() {
    let Some(python) = python_with_smpplib() else {
        return;
    };
    let sim = delivering_simulator();
    let data = tempfile::tempdir().expect("temp dir");
    let gateway = gateway_to(sim.addr, data.path());
    let child = Command::new(python)
        .arg(interop_file("smpplib_client.py"))
        .args([
            gateway.smpp_addr.ip().to_string(),
            gateway.smpp_addr.port().to_string(),
            USER.into(),
            PASSWORD.into(),
            SMPPLIB_GSM_COUNT.to_string(),
            SMPPLIB_DEADLINE_S.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    let output = output_within(child, Duration::from_secs(SMPPLIB_DEADLINE_S + 10));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let context = format!(
        "smpplib exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report = parse_smpplib(&stdout);
    println!("smpplib saw: {report:?}");
    // GSM messages, the UCS-2 one, and at least two parts of the long one.
    assert!(report.submits > SMPPLIB_GSM_COUNT + 2, "{context}");
    assert_eq!(report.resps.len(), report.submits, "{context}");
    let ids: HashSet<&str> = report.resps.iter().map(|(_, id)| id.as_str()).collect();
    assert!(
        report
            .resps
            .iter()
            .all(|(status, id)| *status == 0 && !id.is_empty()),
        "every submit got ESME_ROK with an id: {context}"
    );
    assert_eq!(ids.len(), report.submits, "ids are distinct: {context}");
    for id in &ids {
        assert_eq!(
            report.receipts.get(*id).map(String::as_str),
            Some("DELIVRD"),
            "receipt for {id}: {context}"
        );
    }
    assert!(sim.stats().submits >= report.submits as u64, "{context}");
}

/// Kills the Kannel boxes on every path out of the test.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        // smsbox first, so it does not log bearerbox's death as an error.
        for child in self.0.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port nobody listens on now (the OS's ephemeral choice, released).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("ephemeral port")
        .port()
}

fn kannel_box(name: &str) -> Option<PathBuf> {
    let found = ["/usr/sbin", "/usr/local/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file());
    interop_tool(&format!("Kannel {name}"), found)
}

/// Ports of one Kannel instance.
struct KannelPorts {
    admin: u16,
    smsbox: u16,
    sendsms: u16,
}

fn write_kannel_conf(dir: &Path, gateway: SocketAddr, ports: &KannelPorts) -> PathBuf {
    let template =
        std::fs::read_to_string(interop_file("kannel.conf")).expect("kannel.conf template");
    let text = template
        .replace("@ADMIN_PORT@", &ports.admin.to_string())
        .replace("@SMSBOX_PORT@", &ports.smsbox.to_string())
        .replace("@SENDSMS_PORT@", &ports.sendsms.to_string())
        .replace("@GATEWAY_PORT@", &gateway.port().to_string())
        .replace("@USER@", USER)
        .replace("@PASSWORD@", PASSWORD)
        .replace("@DIR@", &dir.display().to_string());
    let path = dir.join("kannel.conf");
    std::fs::write(&path, text).expect("write kannel.conf");
    path
}

fn spawn_box(program: &Path, conf: &Path, dir: &Path, name: &str) -> Child {
    let log = |suffix: &str| {
        std::fs::File::create(dir.join(format!("{name}.{suffix}"))).expect("box output file")
    };
    Command::new(program)
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(log("stdout"))
        .stderr(log("stderr"))
        .spawn()
        .unwrap_or_else(|e| panic!("{name} starts: {e}"))
}

/// One HTTP/1.0 GET; the status code and body, or None if nobody answered.
fn http_get(port: u16, target: &str) -> Option<(u32, String)> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    Some((status, body))
}

/// Polls `ready` until it holds or `deadline` passes.
fn wait_until(deadline: Instant, mut ready: impl FnMut() -> bool) -> bool {
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
    }
    false
}

/// Bearerbox's status page shows the SMPP connection to Tern online once the bind is up.
fn kannel_bound(admin_port: u16) -> bool {
    http_get(admin_port, "/status.txt?password=interop").is_some_and(|(code, body)| {
        code == 200
            && body
                .lines()
                .any(|l| l.trim_start().starts_with("tern") && l.contains("(online"))
    })
}

/// The query value of `key` in a request line's target.
fn query_value<'a>(target: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Receives Kannel's dlr-url callbacks: (message number, dlr value) each, until `stop`.
fn spawn_dlr_listener(stop: Arc<AtomicBool>) -> (u16, mpsc::Receiver<(usize, u32)>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("dlr listener");
    let port = listener.local_addr().expect("dlr listener addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        while !stop.load(Ordering::Acquire) {
            match listener.accept() {
                Ok((stream, _)) => {
                    if let Some(hit) = read_dlr_hit(stream) {
                        let _ = tx.send(hit);
                    }
                }
                Err(_) => thread::sleep(Duration::from_millis(POLL_INTERVAL_MS)),
            }
        }
    });
    (port, rx)
}

fn read_dlr_hit(mut stream: TcpStream) -> Option<(usize, u32)> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(buf.get(..n)?);
    }
    let _ = stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    let request = String::from_utf8_lossy(&request);
    let target = request.lines().next()?.split(' ').nth(1)?;
    let number = query_value(target, "n")?.parse().ok()?;
    let status = query_value(target, "status")?.parse().ok()?;
    Some((number, status))
}

/// Percent-encodes everything but unreserved characters.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn sendsms_target(number: usize, dlr_port: u16) -> String {
    // %d is Kannel's delivery report value; the number tells the messages apart.
    let dlr_url = format!("http://127.0.0.1:{dlr_port}/dlr?n={number}&status=%d");
    format!(
        "/cgi-bin/sendsms?username=interop&password=interop&from=Tern&to=447911000{number:03}\
         &text={}&dlr-mask=31&dlr-url={}",
        url_encode(&format!("Kannel through Tern, message {number}")),
        url_encode(&dlr_url)
    )
}

fn kannel_logs(dir: &Path) -> String {
    ["bearerbox.log", "smsc-tern.log", "smsbox.log"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("--- {name} (last 30 lines)\n{}", tail.join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn kannel_bearerbox_binds_and_its_messages_are_delivered_with_reports() {
    let (Some(bearerbox), Some(smsbox)) = (kannel_box("bearerbox"), kannel_box("smsbox")) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(KANNEL_DEADLINE_S);
    let sim = delivering_simulator();
    let data = tempfile::tempdir().expect("temp dir");
    let gateway = gateway_to(sim.addr, data.path());
    let dir = tempfile::tempdir().expect("kannel dir");
    let ports = KannelPorts {
        admin: free_port(),
        smsbox: free_port(),
        sendsms: free_port(),
    };
    let conf = write_kannel_conf(dir.path(), gateway.smpp_addr, &ports);
    let mut children = Children(vec![spawn_box(&bearerbox, &conf, dir.path(), "bearerbox")]);
    assert!(
        wait_until(deadline, || kannel_bound(ports.admin)),
        "Kannel's SMPP bind to Tern came up\n{}",
        kannel_logs(dir.path())
    );
    children
        .0
        .push(spawn_box(&smsbox, &conf, dir.path(), "smsbox"));
    let stop = Arc::new(AtomicBool::new(false));
    let (dlr_port, dlr_hits) = spawn_dlr_listener(Arc::clone(&stop));
    for number in 0..KANNEL_MESSAGES {
        let target = sendsms_target(number, dlr_port);
        let mut answer = None;
        let accepted = wait_until(deadline, || {
            answer = http_get(ports.sendsms, &target);
            answer.as_ref().is_some_and(|(code, _)| *code == 202)
        });
        assert!(
            accepted,
            "sendsms {number} accepted, got {answer:?}\n{}",
            kannel_logs(dir.path())
        );
    }
    let mut delivered = HashSet::new();
    let mut hits = Vec::new();
    while delivered.len() < KANNEL_MESSAGES {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((number, status)) = dlr_hits.recv_timeout(left) else {
            break;
        };
        hits.push((number, status));
        if status == KANNEL_DLR_DELIVERED {
            delivered.insert(number);
        }
    }
    stop.store(true, Ordering::Release);
    let stats = sim.stats();
    println!("Kannel dlr-url hits (message, value): {hits:?}; simulator: {stats:?}");
    assert!(
        stats.submits >= KANNEL_MESSAGES as u64,
        "the messages reached the SMSC: {stats:?}"
    );
    assert_eq!(
        delivered.len(),
        KANNEL_MESSAGES,
        "every message got a delivered report back in Kannel; dlr-url hits {hits:?}\n{}",
        kannel_logs(dir.path())
    );
    drop(children);
    drop(gateway);
}
