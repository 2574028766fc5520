//! `tern bench http` against a small HTTP server written here (std threads, one per
//! connection) that answers like the gateway's API: 202 with an id per message, 429 or
//! 503 for some requests, callbacks posted to the `callback_url` before the 202 is
//! written, after it, or never, and connections dropped with requests in flight.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use tern_bench::http::{self, HttpLoadConfig};

/// How the test server answers.
#[derive(Clone, Copy, Default)]
struct Behaviour {
    /// Every n-th request (1-based) is refused with `refuse_status`; 0: none.
    refuse_every: u64,
    refuse_status: u16,
    /// Request number (1-based) at which the server drops the connection unanswered.
    drop_at: Option<u64>,
    /// Callbacks with unknown ids posted before the first answer.
    bogus_callbacks: u64,
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    messages: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    with_callback_url: AtomicU64,
    early: AtomicU64,
    late: AtomicU64,
    withheld: AtomicU64,
    bogus: AtomicU64,
    dropped: AtomicU64,
}

struct TestServer {
    url: String,
    tally: Arc<Tally>,
}

fn start(behaviour: Behaviour) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let tally = Arc::new(Tally::default());
    let bogus_sent = Arc::new(AtomicBool::new(false));
    let t = Arc::clone(&tally);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let (t, bogus_sent) = (Arc::clone(&t), Arc::clone(&bogus_sent));
            thread::spawn(move || serve(stream, behaviour, &t, &bogus_sent));
        }
    });
    TestServer { url, tally }
}

/// A keep-alive connection that posts callbacks and waits for each answer.
struct CallbackClient {
    stream: Option<TcpStream>,
}

impl CallbackClient {
    fn post(&mut self, url: &str, body: &str) {
        let rest = url.strip_prefix("http://").unwrap();
        let (authority, path) = rest.split_at(rest.find('/').unwrap());
        let stream = self.stream.get_or_insert_with(|| {
            let s = TcpStream::connect(authority).unwrap();
            s.set_nodelay(true).unwrap();
            s
        });
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while !answer.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).unwrap(), 1, "receiver closed");
            answer.push(byte[0]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 204"), "{answer:?}");
    }
}

fn serve(mut stream: TcpStream, b: Behaviour, t: &Tally, bogus_sent: &AtomicBool) {
    stream.set_nodelay(true).unwrap();
    let mut callbacks = CallbackClient { stream: None };
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut late = Vec::new();
        while let Some((body, consumed)) = whole_request(&buf) {
            let number = t.requests.fetch_add(1, Ordering::SeqCst) + 1;
            if b.drop_at == Some(number) {
                t.dropped.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(&out);
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            answer(
                &body,
                number,
                b,
                t,
                bogus_sent,
                &mut callbacks,
                &mut out,
                &mut late,
            );
            buf.drain(..consumed);
        }
        if stream.write_all(&out).is_err() {
            return;
        }
        out.clear();
        for (url, body) in late {
            callbacks.post(&url, &body);
        }
    }
}

/// The body of the first whole request in `buf` and the octets it takes.
fn whole_request(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head) = request.parse(buf).unwrap() else {
        return None;
    };
    assert_eq!(request.method, Some("POST"));
    let auth = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("authorization"));
    assert_eq!(auth.unwrap().value, b"Basic dTpw", "credentials u:p");
    let len: usize = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
        .unwrap();
    let body = buf.get(head..head + len)?.to_vec();
    Some((body, head + len))
}

#[allow(clippy::too_many_arguments)]
fn answer(
    body: &[u8],
    number: u64,
    b: Behaviour,
    t: &Tally,
    bogus_sent: &AtomicBool,
    callbacks: &mut CallbackClient,
    out: &mut Vec<u8>,
    late: &mut Vec<(String, String)>,
) {
    let doc: serde_json::Value = serde_json::from_slice(body).unwrap();
    let messages = match doc.get("messages") {
        Some(list) => list.as_array().unwrap().clone(),
        None => vec![doc],
    };
    t.messages
        .fetch_add(messages.len() as u64, Ordering::SeqCst);
    if b.refuse_every > 0 && number.is_multiple_of(b.refuse_every) {
        t.refused.fetch_add(messages.len() as u64, Ordering::SeqCst);
        out.extend_from_slice(
            format!(
                "HTTP/1.1 {} Busy\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n",
                b.refuse_status
            )
            .as_bytes(),
        );
        return;
    }
    let mut ids = Vec::new();
    for m in &messages {
        assert!(m["to"].as_str().unwrap().starts_with("4479"));
        assert!(!m["text"].as_str().unwrap().is_empty());
        let n = t.accepted.fetch_add(1, Ordering::SeqCst);
        let id = format!("m{n}");
        if let Some(url) = m.get("callback_url").and_then(|u| u.as_str()) {
            t.with_callback_url.fetch_add(1, Ordering::SeqCst);
            if !bogus_sent.swap(true, Ordering::SeqCst) {
                for i in 0..b.bogus_callbacks {
                    callbacks.post(
                        url,
                        &format!(r#"{{"id":"nobody-{i}","state":"delivered"}}"#),
                    );
                    t.bogus.fetch_add(1, Ordering::SeqCst);
                }
            }
            let callback = format!(
                r#"{{"id":"{id}","state":"delivered","reference":{}}}"#,
                m["reference"]
            );
            match n % 5 {
                0 => {
                    t.withheld.fetch_add(1, Ordering::SeqCst);
                }
                1 => {
                    // Before the 202 is even written: the client must park it.
                    callbacks.post(url, &callback);
                    t.early.fetch_add(1, Ordering::SeqCst);
                }
                _ => {
                    late.push((url.to_owned(), callback));
                    t.late.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        ids.push(format!(r#"{{"id":"{id}","to":{},"parts":1}}"#, m["to"]));
    }
    let json = format!(r#"{{"messages":[{}]}}"#, ids.join(","));
    out.extend_from_slice(
        format!("HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}", json.len())
            .as_bytes(),
    );
}

fn config(server: &TestServer) -> HttpLoadConfig {
    let mut c = HttpLoadConfig::new(&server.url, "u", "p");
    c.callback_wait_s = 0.5;
    c
}

fn load(t: &AtomicU64) -> u64 {
    t.load(Ordering::SeqCst)
}

#[test]
fn callbacks_match_whether_they_beat_the_202_or_not_and_refusals_count_by_status() {
    let server = start(Behaviour {
        refuse_every: 7,
        refuse_status: 429,
        bogus_callbacks: 2,
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("http.json");
    let mut c = config(&server);
    c.count = Some(500);
    c.connections = 2;
    c.concurrency = 8;
    c.receipts = true;
    c.json = Some(json.clone());
    let report = http::run(c).unwrap();
    let t = &server.tally;

    assert_eq!(report.messages_sent, 500);
    assert_eq!(report.requests_sent, 500);
    assert_eq!(report.accepted, load(&t.accepted));
    assert_eq!(report.refused.get("429").copied(), Some(load(&t.refused)));
    assert!(load(&t.refused) > 0);
    assert_eq!(report.accepted + load(&t.refused), 500);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(load(&t.with_callback_url), report.accepted);
    assert_eq!(report.callbacks_matched, load(&t.early) + load(&t.late));
    assert!(report.callbacks_early >= load(&t.early) && load(&t.early) > 0);
    assert_eq!(report.callbacks_missing, load(&t.withheld));
    assert_eq!(report.callbacks_unmatched, load(&t.bogus));
    assert_eq!(
        report.callbacks_received,
        report.callbacks_matched + load(&t.bogus)
    );
    assert_eq!(
        report.callback_states.get("delivered").copied(),
        Some(report.callbacks_received)
    );
    assert_eq!(report.latency.request.count, 500);
    assert_eq!(report.latency.send_callback.count, report.callbacks_matched);

    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(written["protocol"], "http");
    assert_eq!(written["accepted"], report.accepted);
    assert_eq!(written["callbacks_missing"], report.callbacks_missing);
    let curve = written["latency"]["send_callback"]["curve"]
        .as_array()
        .unwrap();
    assert!(curve.len() > 10);
    assert_eq!(
        curve.last().unwrap()["us"],
        written["latency"]["send_callback"]["max_us"]
    );
}

#[test]
fn batch_requests_carry_up_to_batch_messages_and_get_an_id_each() {
    let server = start(Behaviour::default());
    let mut c = config(&server);
    c.count = Some(95);
    c.batch = 10;
    c.receipts = true;
    let report = http::run(c).unwrap();
    assert_eq!(report.requests_sent, 10);
    assert_eq!(load(&server.tally.requests), 10);
    assert_eq!(report.messages_sent, 95);
    assert_eq!(report.accepted, 95);
    assert_eq!(report.callbacks_matched + report.callbacks_missing, 95);
    assert_eq!(report.callbacks_missing, load(&server.tally.withheld));
}

#[test]
fn without_receipts_no_callback_is_asked_or_awaited() {
    let server = start(Behaviour {
        refuse_every: 3,
        refuse_status: 503,
        ..Behaviour::default()
    });
    let mut c = config(&server);
    c.count = Some(60);
    c.long_mix = Some(0.5);
    c.callback_wait_s = 60.0;
    let report = http::run(c).unwrap();
    assert_eq!(load(&server.tally.with_callback_url), 0);
    assert_eq!(report.refused.get("503").copied(), Some(20));
    assert_eq!(report.accepted, 40);
    assert_eq!(
        (report.callbacks_received, report.callbacks_missing),
        (0, 0)
    );
    assert!(report.long_messages > 0 && report.long_messages < 60);
    assert!(
        report.total_elapsed_s < 60.0,
        "no callback wait without --receipts"
    );
}

#[test]
fn a_dropped_connection_counts_its_pipeline_as_errors_and_reconnects() {
    let server = start(Behaviour {
        drop_at: Some(20),
        ..Behaviour::default()
    });
    let mut c = config(&server);
    c.count = Some(200);
    c.concurrency = 4;
    let report = http::run(c).unwrap();
    let lost = report.errors.get("closed").copied().unwrap_or(0);
    assert!(lost >= 1, "{:?}", report.errors);
    assert!(report.reconnects >= 1);
    assert_eq!(report.accepted + lost, report.messages_sent);
    assert_eq!(report.messages_sent, 200);
}

#[test]
fn open_loop_runs_paced_for_a_duration_and_every_answer_is_counted() {
    let server = start(Behaviour::default());
    let mut c = config(&server);
    c.count = None;
    c.duration_s = Some(0.3);
    c.rate = 2000.0;
    c.connections = 2;
    c.receipts = true;
    let report = http::run(c).unwrap();
    assert!(report.messages_sent > 0);
    assert_eq!(report.accepted, report.messages_sent);
    assert_eq!(report.accepted, load(&server.tally.accepted));
    assert_eq!(
        report.callbacks_matched + report.callbacks_missing,
        report.accepted
    );
}

#[test]
fn an_unreachable_target_ends_the_run_with_connect_failures() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = HttpLoadConfig::new(&format!("http://127.0.0.1:{port}"), "u", "p");
    c.max_reconnects = 2;
    let report = http::run(c).unwrap();
    assert_eq!(report.connect_failures, 3);
    assert_eq!(report.messages_sent, 0);
}

/// The harness ceiling: as many messages as the load generator can push through this
/// server. Short by default; `TERN_HTTP_CEILING_COUNT`, `…_CONCURRENCY`, `…_BATCH`,
/// `…_CONNECTIONS` make it a measurement (see bench/README.md).
#[test]
fn ceiling_run_accepts_every_message() {
    let env = |name: &str, default: u64| {
        std::env::var(format!("TERN_HTTP_CEILING_{name}"))
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let server = start(Behaviour::default());
    let mut c = config(&server);
    c.count = Some(env("COUNT", 5000));
    c.concurrency = env("CONCURRENCY", 64) as usize;
    c.batch = env("BATCH", 1) as usize;
    c.connections = env("CONNECTIONS", 1) as usize;
    c.receipts = env("RECEIPTS", 0) == 1;
    let count = c.count;
    let report = http::run(c).unwrap();
    println!("{}", report.table());
    assert_eq!(Some(report.accepted), count);
}
