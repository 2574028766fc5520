//! The HTTP API against a running gateway, with a real HTTP client (ureq) and a real
//! callback receiver (tiny_http): sends in the /v1, Kannel and Jasmin dialects, status,
//! callbacks retried through a receiver that fails at first, a restart between acceptance
//! and callback, refusals, metrics and health.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tern_engine::config::{Config, Secret};
use tern_engine::gateway::{Gateway, GatewayHandle, StartOptions};

const TOKEN: &str = "tok-0123456789abcdef";

fn config(data_dir: &std::path::Path) -> Config {
    let mut config = Config::demo();
    config.node.data_dir = data_dir.to_path_buf();
    config.node.shards = Some(1);
    config.smpp.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.http.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.http.callback_backoff_min_ms = 50;
    config.http.callback_backoff_max_ms = 200;
    config.http.callback_signing_key = Some(Secret::new("signing-key-0123456789"));
    for user in &mut config.users {
        user.tokens = vec![Secret::new(TOKEN)];
    }
    config
}

fn start(config: Config) -> GatewayHandle {
    let gateway =
        Gateway::start_with(config, StartOptions { pin: Some(false) }).expect("gateway starts");
    assert!(gateway.wait_bound(Duration::from_secs(10)), "upstream up");
    gateway
}

/// A callback receiver: records every request; answers 503 to the first `fail_first`.
struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    attempts: Arc<AtomicUsize>,
    /// While set, every request is answered 503.
    refusing: Arc<std::sync::atomic::AtomicBool>,
    server: Arc<tiny_http::Server>,
    thread: Option<thread::JoinHandle<()>>,
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    url: String,
    body: String,
    signature: Option<String>,
}

impl Receiver {
    fn start(fail_first: usize, ack_body: &'static str) -> Receiver {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let server = Arc::new(tiny_http::Server::http(addr).expect("receiver binds"));
        let addr = server.server_addr().to_ip().expect("ip address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let attempts = Arc::new(AtomicUsize::new(0));
        let refusing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let (server, seen, attempts) = (server.clone(), seen.clone(), attempts.clone());
            let refusing = refusing.clone();
            thread::spawn(move || {
                for mut request in server.incoming_requests() {
                    let n = attempts.fetch_add(1, Ordering::SeqCst);
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    if n < fail_first || refusing.load(Ordering::SeqCst) {
                        let _ = request.respond(tiny_http::Response::empty(503));
                        continue;
                    }
                    let signature = request
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv("X-Tern-Signature"))
                        .map(|h| h.value.to_string());
                    seen.lock().unwrap().push(Seen {
                        method: request.method().to_string(),
                        url: request.url().to_string(),
                        body,
                        signature,
                    });
                    let _ = request.respond(tiny_http::Response::from_string(ack_body));
                }
            })
        };
        Receiver {
            addr,
            seen,
            attempts,
            refusing,
            server,
            thread: Some(thread),
        }
    }

    fn wait_for(&self, count: usize) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let seen = self.seen.lock().unwrap().clone();
            if seen.len() >= count || Instant::now() > deadline {
                return seen;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build()
}

fn basic() -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("demo:demo")
    )
}

/// Calls and returns (status, body) whatever the status.
fn call(request: ureq::Request, body: Option<&str>) -> (u16, String) {
    let result = match body {
        Some(b) => request.send_string(b),
        None => request.call(),
    };
    match result {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("transport error: {e}"),
    }
}

fn status_of(gateway: &GatewayHandle, id: &str) -> serde_json::Value {
    let url = format!("http://{}/v1/messages/{id}", gateway.http_addr);
    let (code, body) = call(agent().get(&url).set("Authorization", &basic()), None);
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).expect("status JSON")
}

fn wait_state(gateway: &GatewayHandle, id: &str, state: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = status_of(gateway, id);
        if status["state"] == state || Instant::now() > deadline {
            return status;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_json_send_is_delivered_and_its_receipt_called_back_after_failed_tries() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(config(dir.path()));
    let receiver = Receiver::start(2, "");
    let url = format!("http://{}/v1/messages", gateway.http_addr);
    let body = serde_json::json!({
        "to": "447700900123",
        "from": "Tern",
        "text": "Your code is 123456",
        "reference": "order-77",
        "callback_url": format!("http://{}/dlr", receiver.addr),
    });
    let (code, answer) = call(
        agent()
            .post(&url)
            .set("Authorization", &format!("Bearer {TOKEN}"))
            .set("Content-Type", "application/json"),
        Some(&body.to_string()),
    );
    assert_eq!(code, 202, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let id = answer["messages"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(answer["messages"][0]["parts"], 1);

    let seen = receiver.wait_for(1);
    assert_eq!(seen.len(), 1, "one callback acknowledged");
    assert!(
        receiver.attempts.load(Ordering::SeqCst) >= 3,
        "retried after two 503s"
    );
    let callback: serde_json::Value = serde_json::from_str(&seen[0].body).expect("JSON body");
    assert_eq!(callback["id"], id.as_str());
    assert_eq!(callback["state"], "delivered");
    assert_eq!(callback["reference"], "order-77");
    assert!(
        seen[0]
            .signature
            .as_deref()
            .is_some_and(|s| s.contains("v1="))
    );

    let status = wait_state(&gateway, &id, "delivered");
    assert_eq!(status["state"], "delivered", "{status}");
    assert_eq!(status["reference"], "order-77");
    assert!(status["parts"][0]["smsc_id"].is_string(), "{status}");
    let timeline: Vec<_> = status["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(timeline.first().map(String::as_str), Some("accepted"));
    assert_eq!(timeline.last().map(String::as_str), Some("delivered"));
    gateway.stop();
}

#[test]
fn kannel_and_jasmin_clients_send_unchanged_and_get_their_receipts_their_way() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(config(dir.path()));
    let kannel_receiver = Receiver::start(0, "");
    let jasmin_receiver = Receiver::start(0, "ACK/Jasmin");

    // Kannel: GET /cgi-bin/sendsms with a dlr-url carrying %-placeholders.
    let dlr_url = format!(
        "http://{}/kannel?id=%I&status=%d&to=%p",
        kannel_receiver.addr
    );
    let (code, body) = call(
        agent()
            .get(&format!("http://{}/cgi-bin/sendsms", gateway.http_addr))
            .query("username", "demo")
            .query("password", "demo")
            .query("from", "Tern")
            .query("to", "447700900124")
            .query("text", "Hello from Kannel")
            .query("dlr-mask", "3")
            .query("dlr-url", &dlr_url),
        None,
    );
    assert_eq!(code, 202, "{body}");
    assert!(body.starts_with("0: Accepted for delivery"), "{body}");
    let seen = kannel_receiver.wait_for(1);
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].url.contains("status=1"),
        "delivered is type 1: {}",
        seen[0].url
    );
    assert!(seen[0].url.contains("to=447700900124"), "{}", seen[0].url);

    // Jasmin: POST /send, form parameters, terminal-level receipts by POST.
    let form = format!(
        "username=demo&password=demo&to=447700900125&from=Tern&content=Hello+from+Jasmin&dlr=yes&dlr-url=http%3A%2F%2F{}%2Fjasmin&dlr-level=2&dlr-method=POST",
        jasmin_receiver.addr
    );
    let (code, body) = call(
        agent()
            .post(&format!("http://{}/send", gateway.http_addr))
            .set("Content-Type", "application/x-www-form-urlencoded"),
        Some(&form),
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.starts_with("Success \""), "{body}");
    let id = body
        .trim()
        .trim_start_matches("Success \"")
        .trim_end_matches('"')
        .to_owned();
    let seen = jasmin_receiver.wait_for(1);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert!(
        seen[0].body.contains(&format!("id={id}")),
        "{}",
        seen[0].body
    );
    assert!(
        seen[0].body.contains("message_status=DELIVRD"),
        "{}",
        seen[0].body
    );
    gateway.stop();
}

#[test]
fn a_callback_owed_at_a_restart_is_sent_after_it() {
    let dir = tempfile::tempdir().unwrap();
    // The receiver refuses everything during the first run.
    let down = Receiver::start(0, "");
    down.refusing.store(true, Ordering::SeqCst);
    let addr = down.addr;
    let gateway = start(config(dir.path()));
    let body = serde_json::json!({
        "to": "447700900126",
        "from": "Tern",
        "text": "survives a restart",
        "callback_url": format!("http://{addr}/dlr"),
    });
    let (code, answer) = call(
        agent()
            .post(&format!("http://{}/v1/messages", gateway.http_addr))
            .set("Authorization", &basic())
            .set("Content-Type", "application/json"),
        Some(&body.to_string()),
    );
    assert_eq!(code, 202, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let id = answer["messages"][0]["id"].as_str().unwrap().to_owned();
    let status = wait_state(&gateway, &id, "delivered");
    assert_eq!(status["state"], "delivered");
    let deadline = Instant::now() + Duration::from_secs(10);
    while down.attempts.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(
        down.attempts.load(Ordering::SeqCst) > 0,
        "a callback was tried"
    );
    gateway.stop();
    assert!(down.seen.lock().unwrap().is_empty());
    down.refusing.store(false, Ordering::SeqCst);
    let up = down;

    let gateway = start(config(dir.path()));
    let seen = up.wait_for(1);
    assert_eq!(seen.len(), 1, "the owed callback came after the restart");
    let callback: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(callback["id"], id.as_str());
    assert_eq!(callback["state"], "delivered");
    gateway.stop();
}

#[test]
fn bad_and_unauthorised_requests_are_refused_with_a_clear_answer() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(config(dir.path()));
    let url = format!("http://{}/v1/messages", gateway.http_addr);
    let (code, _) = call(
        agent().post(&url).set("Content-Type", "application/json"),
        Some(r#"{"to":"4477","text":"x"}"#),
    );
    assert_eq!(code, 401);
    let (code, _) = call(
        agent()
            .post(&url)
            .set("Authorization", "Bearer wrong-token-0000000")
            .set("Content-Type", "application/json"),
        Some(r#"{"to":"4477","text":"x"}"#),
    );
    assert_eq!(code, 401);
    let (code, problem) = call(
        agent()
            .post(&url)
            .set("Authorization", &basic())
            .set("Content-Type", "application/json"),
        Some(r#"{"to":"4477","from":"Tern"}"#),
    );
    assert_eq!(code, 400, "{problem}");
    assert!(
        problem.contains("text"),
        "the problem names the field: {problem}"
    );
    let (code, problem) = call(
        agent()
            .post(&url)
            .set("Authorization", &basic())
            .set("Content-Type", "application/json"),
        Some("{not json"),
    );
    assert_eq!(code, 400, "{problem}");
    let (code, _) = call(
        agent()
            .get(&format!(
                "http://{}/v1/messages/ffffffffffffffff",
                gateway.http_addr
            ))
            .set("Authorization", &basic()),
        None,
    );
    assert_eq!(code, 404);
    let (code, body) = call(
        agent()
            .get(&format!("http://{}/cgi-bin/sendsms", gateway.http_addr))
            .query("username", "demo")
            .query("password", "nope")
            .query("to", "4477")
            .query("text", "x"),
        None,
    );
    assert_eq!(code, 403, "{body}");
    gateway.stop();
}

#[test]
fn metrics_health_and_the_openapi_document_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(config(dir.path()));
    let url = format!("http://{}/v1/messages", gateway.http_addr);
    let (code, _) = call(
        agent()
            .post(&url)
            .set("Authorization", &basic())
            .set("Content-Type", "application/json"),
        Some(r#"{"to":"447700900127","from":"Tern","text":"count me"}"#),
    );
    assert_eq!(code, 202);
    let (code, metrics) = call(
        agent().get(&format!("http://{}/metrics", gateway.http_addr)),
        None,
    );
    assert_eq!(code, 200);
    assert!(
        metrics.contains("tern_user_messages_accepted_total{user=\"demo\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tern_connector_binds_up{connector=\"sim\"}"),
        "{metrics}"
    );
    let (code, _) = call(
        agent().get(&format!("http://{}/health", gateway.http_addr)),
        None,
    );
    assert_eq!(code, 200);
    let (code, doc) = call(
        agent().get(&format!("http://{}/v1/openapi.json", gateway.http_addr)),
        None,
    );
    assert_eq!(code, 200);
    assert!(doc.contains("\"openapi\""));
    gateway.stop();
}

#[test]
fn at_two_shards_status_and_idempotency_hold_whichever_shard_a_request_lands_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.node.shards = Some(2);
    let gateway = start(config);
    let url = format!("http://{}/v1/messages", gateway.http_addr);
    let mut ids = Vec::new();
    // A fresh agent per request: a new connection each time, which SO_REUSEPORT spreads
    // over both shards.
    for i in 0..16 {
        let body = format!(r#"{{"to":"4477009002{i:02}","from":"Tern","text":"spread {i}"}}"#);
        let (code, answer) = call(
            agent()
                .post(&url)
                .set("Authorization", &basic())
                .set("Content-Type", "application/json"),
            Some(&body),
        );
        assert_eq!(code, 202, "{answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        ids.push(answer["messages"][0]["id"].as_str().unwrap().to_owned());
    }
    let owners: std::collections::HashSet<_> = ids.iter().map(|id| id[..2].to_owned()).collect();
    assert_eq!(owners.len(), 2, "both shards accepted messages: {ids:?}");
    for id in &ids {
        for _ in 0..3 {
            let status = status_of(&gateway, id);
            assert_eq!(status["id"], id.as_str());
        }
        assert_eq!(wait_state(&gateway, id, "delivered")["state"], "delivered");
    }
    let keyed = |agent: ureq::Agent| {
        call(
            agent
                .post(&url)
                .set("Authorization", &basic())
                .set("Content-Type", "application/json")
                .set("Idempotency-Key", "order-4242"),
            Some(r#"{"to":"447700900999","from":"Tern","text":"exactly once"}"#),
        )
    };
    let (code, first) = keyed(agent());
    assert_eq!(code, 202, "{first}");
    for _ in 0..6 {
        let (code, again) = keyed(agent());
        assert_eq!(code, 202, "{again}");
        assert_eq!(again, first, "a retry on any shard gets the first answer");
    }
    gateway.stop();
}

#[test]
fn a_burst_of_new_connections_with_one_password_all_get_in() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(config(dir.path()));
    let url = format!("http://{}/v1/messages", gateway.http_addr);
    // Every request misses the login cache at once; only two Argon2 runs may go at a
    // time, and the others wait for the answer rather than being refused.
    let threads: Vec<_> = (0..24)
        .map(|i| {
            let url = url.clone();
            thread::spawn(move || {
                call(
                    agent()
                        .post(&url)
                        .set("Authorization", &basic())
                        .set("Content-Type", "application/json"),
                    Some(&format!(
                        r#"{{"to":"44770090{i:04}","from":"Tern","text":"burst"}}"#
                    )),
                )
                .0
            })
        })
        .collect();
    let codes: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(codes.iter().all(|&c| c == 202), "{codes:?}");
    gateway.stop();
}

#[test]
fn an_idempotency_key_is_still_recognised_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // The receiver refuses callbacks, so the message stays owed (live in the WAL).
    let receiver = Receiver::start(0, "");
    receiver.refusing.store(true, Ordering::SeqCst);
    let body = serde_json::json!({
        "to": "447700900321",
        "from": "Tern",
        "text": "once only",
        "callback_url": format!("http://{}/dlr", receiver.addr),
    })
    .to_string();
    let send = |gateway: &GatewayHandle, body: &str| {
        call(
            agent()
                .post(&format!("http://{}/v1/messages", gateway.http_addr))
                .set("Authorization", &basic())
                .set("Content-Type", "application/json")
                .set("Idempotency-Key", "restart-77"),
            Some(body),
        )
    };
    let gateway = start(config(dir.path()));
    let (code, first) = send(&gateway, &body);
    assert_eq!(code, 202, "{first}");
    gateway.stop();

    let gateway = start(config(dir.path()));
    let (code, again) = send(&gateway, &body);
    assert_eq!(code, 202, "{again}");
    assert_eq!(
        again, first,
        "the retry after the restart gets the first answer"
    );
    let (code, other) = send(&gateway, &body.replace("once only", "another text"));
    assert_eq!(code, 422, "the key reused for another request: {other}");
    gateway.stop();
}
