//! MO messages end to end over real TCP: the SMSC simulator (and a scripted SMSC for a
//! second destination) sends MOs; they reach the routed user's SMPP receiver (parts as
//! sent) or its HTTP callback (reassembled, retried), survive a restart, and cross from
//! the shard that received them to a receiver on the other shard.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tern_bench::sim::{SimConfig, SimHandle};
use tern_engine::config::{Config, ConnectorConfig, MoRouteConfig, Secret, UserConfig};
use tern_engine::gateway::{Gateway, GatewayHandle, StartOptions};
use tern_engine::metrics::NodeMetrics;
use tern_smpp::{Bind, BindResp, Body, CommandStatus, Pdu, SmResp, SubmitSm};

const WAIT: Duration = Duration::from_secs(30);

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

// ---- a blocking SMPP peer over std TCP -------------------------------------------------

fn send(stream: &mut TcpStream, seq: u32, status: CommandStatus, body: Body<'_>) {
    let mut out = Vec::new();
    let pdu = Pdu {
        command_status: status,
        sequence_number: seq,
        body,
    };
    pdu.encode(&mut out).expect("encode");
    let _ = stream.write_all(&out);
}

/// The next PDU's octets; `None` on a read timeout or a closed connection.
fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let total = u32::from_be_bytes(len) as usize;
    let mut frame = len.to_vec();
    frame.resize(total.max(4), 0);
    stream.read_exact(&mut frame[4..]).ok()?;
    Some(frame)
}

/// An MO as a client received it.
#[derive(Debug, Clone)]
struct GotMo {
    source: Vec<u8>,
    destination: Vec<u8>,
    short_message: Vec<u8>,
}

/// A receiver bound as `user`, answering every deliver_sm OK, until stopped.
struct Receiver {
    got: Arc<Mutex<Vec<GotMo>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Receiver {
    fn connect(addr: SocketAddr, user: &str) -> Receiver {
        Receiver::on(TcpStream::connect(addr).expect("connect"), user)
    }

    fn on(mut stream: TcpStream, user: &str) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (got2, stop2, user) = (Arc::clone(&got), Arc::clone(&stop), user.to_owned());
        let thread = thread::spawn(move || {
            stream
                .set_read_timeout(Some(Duration::from_millis(50)))
                .expect("timeout");
            let bind = Bind {
                system_id: user.as_bytes().into(),
                password: user.as_bytes().into(),
                interface_version: 0x34,
                ..Bind::default()
            };
            send(
                &mut stream,
                1,
                CommandStatus::ESME_ROK,
                Body::BindReceiver(bind),
            );
            while !stop2.load(Ordering::Acquire) {
                let Some(frame) = read_frame(&mut stream) else {
                    continue;
                };
                let Ok(pdu) = Pdu::decode(&frame) else {
                    continue;
                };
                let seq = pdu.sequence_number;
                match &pdu.body {
                    Body::DeliverSm(sm) => {
                        got2.lock().unwrap().push(GotMo {
                            source: sm.source_addr.to_vec(),
                            destination: sm.destination_addr.to_vec(),
                            short_message: sm.short_message.to_vec(),
                        });
                        let body = Body::DeliverSmResp(SmResp::default());
                        send(&mut stream, seq, CommandStatus::ESME_ROK, body);
                    }
                    Body::EnquireLink => send(
                        &mut stream,
                        seq,
                        CommandStatus::ESME_ROK,
                        Body::EnquireLinkResp,
                    ),
                    Body::BindReceiverResp(_) => {
                        assert_eq!(pdu.command_status, CommandStatus::ESME_ROK, "bind refused")
                    }
                    _ => {}
                }
            }
        });
        Receiver {
            got,
            stop,
            thread: Some(thread),
        }
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }

    fn got(&self) -> Vec<GotMo> {
        self.got.lock().unwrap().clone()
    }

    fn close(mut self) -> Vec<GotMo> {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.got()
    }
}

/// A scripted SMSC: takes one bind and sends `count` MOs to `destination`, then idles.
fn scripted_smsc(count: u32, destination: &'static [u8]) -> (SocketAddr, Arc<AtomicUsize>) {
    let (addr, acked, _) = scripted_smsc_with_refusals(count, destination);
    (addr, acked)
}

/// [`scripted_smsc`], also keeping the status of every refused MO.
fn scripted_smsc_with_refusals(
    count: u32,
    destination: &'static [u8],
) -> (SocketAddr, Arc<AtomicUsize>, Arc<Mutex<Vec<CommandStatus>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = listener.local_addr().expect("addr");
    let acked = Arc::new(AtomicUsize::new(0));
    let acked2 = Arc::clone(&acked);
    let refused = Arc::new(Mutex::new(Vec::new()));
    let refused2 = Arc::clone(&refused);
    thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
        let mut sent = 0u32;
        let mut bound = false;
        loop {
            if bound && sent < count {
                sent += 1;
                let source = format!("4470000{sent:05}");
                let body = Body::DeliverSm(SubmitSm {
                    source_addr: source.as_bytes().into(),
                    destination_addr: destination.into(),
                    short_message: b"scripted".as_slice().into(),
                    ..SubmitSm::default()
                });
                send(&mut stream, sent, CommandStatus::ESME_ROK, body);
            }
            let Some(frame) = read_frame(&mut stream) else {
                if stream.peek(&mut [0u8; 1]).is_ok_and(|n| n == 0) {
                    return;
                }
                continue;
            };
            let Ok(pdu) = Pdu::decode(&frame) else {
                continue;
            };
            let seq = pdu.sequence_number;
            match pdu.body {
                Body::BindTransceiver(_) => {
                    let body = Body::BindTransceiverResp(BindResp {
                        system_id: b"scripted".as_slice().into(),
                        ..BindResp::default()
                    });
                    send(&mut stream, seq, CommandStatus::ESME_ROK, body);
                    bound = true;
                }
                Body::DeliverSmResp(_) if pdu.command_status == CommandStatus::ESME_ROK => {
                    acked2.fetch_add(1, Ordering::AcqRel);
                }
                Body::DeliverSmResp(_) | Body::GenericNack => {
                    refused2.lock().unwrap().push(pdu.command_status);
                }
                Body::EnquireLink => send(
                    &mut stream,
                    seq,
                    CommandStatus::ESME_ROK,
                    Body::EnquireLinkResp,
                ),
                Body::Unbind => {
                    send(&mut stream, seq, CommandStatus::ESME_ROK, Body::UnbindResp);
                    return;
                }
                _ => {}
            }
        }
    });
    (addr, acked, refused)
}

// ---- configuration -------------------------------------------------------------------

fn user(name: &str) -> UserConfig {
    UserConfig {
        name: name.into(),
        password: Some(Secret::new(name)),
        tps_max: 10_000,
        ..UserConfig::default()
    }
}

fn connector(name: &str, addr: SocketAddr) -> ConnectorConfig {
    ConnectorConfig {
        name: name.into(),
        host: addr.ip().to_string(),
        port: addr.port(),
        system_id: "tern".into(),
        password: Secret::new("tern"),
        binds: 1,
        tps_max: 10_000,
        reconnect_backoff_min_ms: 20,
        reconnect_backoff_max_ms: 100,
        ..ConnectorConfig::default()
    }
}

/// alice gets MOs to 1234 (the simulator's), bob those to 5555.
fn config(data_dir: &std::path::Path, shards: u32, upstreams: &[SocketAddr]) -> Config {
    let mut config = Config::demo();
    config.node.data_dir = data_dir.to_path_buf();
    config.node.shards = Some(shards);
    config.smpp.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.http.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.http.callback_backoff_min_ms = 20;
    config.http.callback_backoff_max_ms = 100;
    config.users = vec![user("alice"), user("bob")];
    config.connectors = upstreams
        .iter()
        .enumerate()
        .map(|(i, addr)| connector(&format!("smsc{i}"), *addr))
        .collect();
    config.routes.mt[0].connectors = vec!["smsc0".into()];
    config.routes.mo = vec![
        MoRouteConfig {
            destination_prefixes: vec!["1234".into()],
            user: "alice".into(),
        },
        MoRouteConfig {
            destination_prefixes: vec!["5555".into()],
            user: "bob".into(),
        },
    ];
    config
}

fn start(config: Config) -> GatewayHandle {
    let gateway = start_unbound(config);
    assert!(gateway.wait_bound(WAIT), "upstream binds up");
    gateway
}

fn start_unbound(config: Config) -> GatewayHandle {
    Gateway::start_with(config, StartOptions { pin: Some(false) }).expect("gateway starts")
}

fn sim(long_ratio: f64) -> SimHandle {
    tern_bench::sim::spawn(SimConfig {
        stats_interval_s: 0,
        mo_rate: 100.0,
        mo_long_ratio: long_ratio,
        ..SimConfig::default()
    })
    .expect("simulator starts")
}

fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

fn mo_received(metrics: &NodeMetrics, user: u32) -> u64 {
    metrics
        .shards
        .iter()
        .map(|s| s.user(user).mo_received.get())
        .sum()
}

fn mo_delivered(metrics: &NodeMetrics, user: u32) -> u64 {
    metrics
        .shards
        .iter()
        .map(|s| s.user(user).mo_delivered.get())
        .sum()
}

/// Parts by (source, UDH reference): every concatenated MO must have all 3 parts.
fn assert_every_long_mo_complete(got: &[GotMo]) {
    let mut groups: BTreeMap<(Vec<u8>, u8), HashSet<u8>> = BTreeMap::new();
    for mo in got {
        if let [5, 0, 3, reference, 3, seq, ..] = mo.short_message[..] {
            groups
                .entry((mo.source.clone(), reference))
                .or_default()
                .insert(seq);
        }
    }
    assert!(!groups.is_empty(), "some MOs were concatenated");
    for (key, seqs) in groups {
        assert_eq!(seqs.len(), 3, "all parts of {key:?}");
    }
}

// ---- tests ---------------------------------------------------------------------------

#[test]
fn mo_reaches_the_routed_users_receiver_with_every_part_and_only_its_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = sim(0.5);
    let (scripted, scripted_acked) = scripted_smsc(5, b"5555");
    let gateway = start(config(dir.path(), 1, &[upstream.addr, scripted]));
    let metrics = gateway.metrics();
    let alice = Receiver::connect(gateway.smpp_addr, "alice");
    let bob = Receiver::connect(gateway.smpp_addr, "bob");
    wait_for("alice's first MOs", || alice.count() >= 30);
    upstream.stop();
    wait_for("every logged MO delivered", || {
        mo_received(&metrics, 0) == mo_delivered(&metrics, 0)
            && alice.count() as u64 >= mo_received(&metrics, 0)
            && bob.count() == 5
    });
    wait_for("the scripted SMSC's answers, once durable", || {
        scripted_acked.load(Ordering::Acquire) == 5
    });
    let alice = alice.close();
    let bob = bob.close();
    assert!(
        alice.iter().all(|m| m.destination == b"1234"),
        "alice only gets 1234"
    );
    assert!(
        bob.iter().all(|m| m.destination == b"5555"),
        "bob only gets 5555"
    );
    let sources: HashSet<_> = bob.iter().map(|m| m.source.clone()).collect();
    assert_eq!(sources.len(), 5, "each of bob's MOs once");
    assert_every_long_mo_complete(&alice);
    gateway.stop();
}

#[test]
fn mo_accepted_but_not_delivered_is_delivered_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = sim(0.5);
    let gateway = start(config(dir.path(), 1, &[upstream.addr]));
    let metrics = gateway.metrics();
    wait_for("MOs logged", || mo_received(&metrics, 0) >= 20);
    upstream.stop();
    gateway.stop();
    let logged = mo_received(&metrics, 0);
    assert_eq!(
        mo_delivered(&metrics, 0),
        0,
        "nobody was bound to take them"
    );

    let gateway = start_unbound(config(dir.path(), 1, &[dead_port()]));
    let alice = Receiver::connect(gateway.smpp_addr, "alice");
    wait_for("every logged MO after the restart", || {
        alice.count() as u64 >= logged
    });
    let metrics = gateway.metrics();
    wait_for("acknowledgements counted", || {
        mo_delivered(&metrics, 0) >= logged
    });
    let got = alice.close();
    assert_eq!(got.len() as u64, logged, "each once");
    assert_every_long_mo_complete(&got);
    gateway.stop();
}

#[test]
fn mo_received_on_one_shard_reaches_a_receiver_on_the_other() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = sim(0.0);
    // The one bind of connector 0 lives on shard 0; the receiver must land on shard 1.
    let gateway = start(config(dir.path(), 2, &[upstream.addr]));
    let metrics = gateway.metrics();
    let stream = loop {
        let before = gateway.sessions_accepted();
        let stream = TcpStream::connect(gateway.smpp_addr).expect("connect");
        wait_for("the connection accepted", || {
            gateway.sessions_accepted() != before
        });
        let after = gateway.sessions_accepted();
        if after.get(1) != before.get(1) {
            break stream;
        }
        drop(stream);
    };
    let alice = Receiver::on(stream, "alice");
    wait_for("MOs across the mesh", || alice.count() >= 20);
    upstream.stop();
    wait_for("every logged MO delivered", || {
        mo_delivered(&metrics, 0) == mo_received(&metrics, 0)
    });
    let shard0 = metrics.shards[0].user(0).mo_received.get();
    assert_eq!(
        shard0,
        mo_received(&metrics, 0),
        "all were received on shard 0"
    );
    let got = alice.close();
    assert!(
        got.len() as u64 >= shard0,
        "each logged MO reached shard 1's receiver"
    );
    gateway.stop();
}

#[test]
fn unrouted_mo_is_refused_permanently_and_mo_over_the_users_bound_is_refused_for_later() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (unrouted, unrouted_ok, unrouted_refused) = scripted_smsc_with_refusals(3, b"9999");
    let (bounded, bounded_ok, bounded_refused) = scripted_smsc_with_refusals(5, b"5555");
    let mut config = config(dir.path(), 1, &[unrouted, bounded]);
    // bob holds at most 3 MOs, and has no receiver bound to take them.
    config.users[1].receipts_pending_max = Some(3);
    let gateway = start(config);
    wait_for("every MO answered", || {
        unrouted_refused.lock().unwrap().len() == 3
            && bounded_ok.load(Ordering::Acquire) + bounded_refused.lock().unwrap().len() == 5
    });
    assert_eq!(unrouted_ok.load(Ordering::Acquire), 0);
    let statuses = unrouted_refused.lock().unwrap().clone();
    assert!(
        statuses.iter().all(|s| *s == CommandStatus::ESME_RX_P_APPN),
        "{statuses:?}"
    );
    assert_eq!(bounded_ok.load(Ordering::Acquire), 3, "bob's bound");
    let statuses = bounded_refused.lock().unwrap().clone();
    assert!(
        statuses.iter().all(|s| *s == CommandStatus::ESME_RMSGQFUL),
        "{statuses:?}"
    );
    let metrics = gateway.metrics();
    let connector = |c: u16| metrics.shards[0].connector(c).mo_refused.get();
    assert_eq!(
        (connector(0), connector(1)),
        (3, 2),
        "refusals counted per connector"
    );
    assert_eq!(
        metrics.shards[0].user(1).mo_refused.get(),
        2,
        "and per user"
    );
    gateway.stop();
}

// ---- HTTP ----------------------------------------------------------------------------

/// A callback receiver: answers 500 to the first `fail_first` requests, then 200; keeps
/// the JSON bodies of the requests it acknowledged.
fn callback_server(fail_first: usize) -> (SocketAddr, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = listener.local_addr().expect("addr");
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(AtomicUsize::new(0));
    let shared = Arc::clone(&bodies);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (bodies, seen) = (Arc::clone(&shared), Arc::clone(&seen));
            thread::spawn(move || serve_callbacks(stream, fail_first, &bodies, &seen));
        }
    });
    (addr, bodies)
}

fn serve_callbacks(
    mut stream: TcpStream,
    fail_first: usize,
    bodies: &Mutex<Vec<serde_json::Value>>,
    seen: &AtomicUsize,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < end + 4 + length {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..end + 4 + length).skip(end + 4).collect();
        let ok = seen.fetch_add(1, Ordering::AcqRel) >= fail_first;
        if ok && let Ok(json) = serde_json::from_slice(&body) {
            bodies.lock().unwrap().push(json);
        }
        let status = if ok {
            "200 OK"
        } else {
            "500 Internal Server Error"
        };
        let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn an_http_user_gets_every_mo_once_reassembled_after_failed_attempts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (callbacks, bodies) = callback_server(5);
    let upstream = sim(0.5);
    let mut config = config(dir.path(), 1, &[upstream.addr]);
    config.users[0].mo_url = Some(format!("http://{callbacks}/mo"));
    let gateway = start(config);
    let metrics = gateway.metrics();
    wait_for("callbacks", || bodies.lock().unwrap().len() >= 10);
    upstream.stop();
    wait_for("every logged MO acknowledged", || {
        mo_delivered(&metrics, 0) == mo_received(&metrics, 0)
    });
    let bodies = bodies.lock().unwrap().clone();
    let ids: HashSet<_> = bodies.iter().map(|b| b["id"].to_string()).collect();
    assert_eq!(ids.len(), bodies.len(), "each MO once");
    let long: Vec<_> = bodies
        .iter()
        .filter(|b| {
            b["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Tern bench long"))
        })
        .collect();
    assert!(!long.is_empty(), "some MOs were concatenated");
    for body in &long {
        let text = body["text"].as_str().unwrap_or_default();
        assert!(text.ends_with("1.") || text.contains("1.Tern"), "{text}");
        assert!(
            text.contains("2.Tern") && text.ends_with("3."),
            "reassembled: {text}"
        );
        assert_eq!(body["event"], "mo");
        assert_eq!(body["to"], "1234");
    }
    gateway.stop();
}
