//! The Dispatcher against a real receiver (std TcpListener, a thread per connection,
//! optionally behind rustls with a self-signed certificate).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tern_http::callback::{Acknowledgement, receipts_from_kannel_mask};
use tern_http::{
    CallbackMethod, CallbackOutcome, CallbackRequest, CallbackSpec, CallbackStyle, DispatchFull,
    Dispatcher, DispatcherConfig, ReceiptNotice, ReceiptState, render_receipt,
};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    signature: Option<String>,
    body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Behaviour {
    fail_first: usize,
    ok_body: String,
    delay_ms: u64,
    seen: Vec<Seen>,
    current: usize,
    max_concurrent: usize,
    connections: usize,
}

struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<Behaviour>>,
    stop: Arc<AtomicBool>,
}

type TlsConfig = Arc<futures_rustls::rustls::ServerConfig>;

impl Receiver {
    fn start(fail_first: usize, ok_body: &str, delay_ms: u64) -> Receiver {
        Receiver::start_with(fail_first, ok_body, delay_ms, None)
    }

    fn start_with(
        fail_first: usize,
        ok_body: &str,
        delay_ms: u64,
        tls: Option<TlsConfig>,
    ) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(Behaviour {
            fail_first,
            ok_body: ok_body.into(),
            delay_ms,
            ..Default::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            // Bounded: stops when told or after 30 s, whichever comes first.
            let until = Instant::now() + Duration::from_secs(30);
            while !st.load(Ordering::Relaxed) && Instant::now() < until {
                match listener.accept() {
                    Ok((conn, _)) => {
                        s.lock().expect("lock").connections += 1;
                        let s = s.clone();
                        let tls = tls.clone();
                        std::thread::spawn(move || {
                            conn.set_read_timeout(Some(Duration::from_secs(10)))
                                .expect("timeout");
                            match tls {
                                None => serve_conn(conn, &s),
                                Some(cfg) => {
                                    let session =
                                        futures_rustls::rustls::ServerConnection::new(cfg)
                                            .expect("tls session");
                                    serve_conn(
                                        futures_rustls::rustls::StreamOwned::new(session, conn),
                                        &s,
                                    );
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Receiver { addr, state, stop }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("lock").seen.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_conn<S: Read + Write>(conn: S, state: &Arc<Mutex<Behaviour>>) {
    let mut reader = BufReader::new(conn);
    for _ in 0..1000 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let (mut length, mut signature) = (0usize, None);
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "x-tern-signature" => signature = Some(value.trim().to_owned()),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (delay, fail, ok_body) = {
            let mut b = state.lock().expect("lock");
            b.seen.push(Seen {
                method,
                target,
                signature,
                body,
            });
            b.current += 1;
            b.max_concurrent = b.max_concurrent.max(b.current);
            let fail = b.seen.len() <= b.fail_first;
            (b.delay_ms, fail, b.ok_body.clone())
        };
        std::thread::sleep(Duration::from_millis(delay));
        state.lock().expect("lock").current -= 1;
        let (status, body) = if fail {
            ("500 Internal Server Error", "no".to_owned())
        } else {
            ("200 OK", ok_body)
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if reader.get_mut().write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn quick(config: impl FnOnce(&mut DispatcherConfig)) -> DispatcherConfig {
    let mut c = DispatcherConfig {
        backoff_min_ms: 20,
        backoff_max_ms: 100,
        request_timeout_ms: 5_000,
        give_up_after_s: 20,
        ..DispatcherConfig::default()
    };
    config(&mut c);
    c
}

fn post(url: String, body: &str, ack: Acknowledgement) -> CallbackRequest {
    CallbackRequest {
        method: CallbackMethod::Post,
        url,
        content_type: Some("application/json"),
        body: body.as_bytes().to_vec(),
        ack,
    }
}

/// Runs `scenario` on a glommio executor on this thread and returns its result.
fn on_executor<T: 'static>(scenario: impl AsyncFnOnce() -> T + 'static) -> T {
    let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .make()
        .expect("executor");
    ex.run(async move { scenario().await })
}

async fn collect(d: &Dispatcher, n: usize) -> Vec<(u64, CallbackOutcome)> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(d.next_completion().await);
    }
    out
}

#[test]
fn failing_receiver_is_retried_with_backoff_until_it_acknowledges() {
    let rx = Receiver::start(3, "ok", 0);
    let url = rx.url("/cb");
    let (done, counters, metrics) = on_executor(async move || {
        let d = Dispatcher::new(quick(|_| {}));
        d.enqueue(7, post(url, "{}", Acknowledgement::Status2xx))
            .expect("room");
        let done = collect(&d, 1).await;
        let mut metrics = String::new();
        d.render_metrics(&mut metrics);
        (done, d.counters(), metrics)
    });
    assert_eq!(
        done,
        vec![(7, CallbackOutcome::Acknowledged { attempts: 4 })]
    );
    assert_eq!((counters.acknowledged, counters.attempts_failed), (1, 3));
    assert!(metrics.contains("tern_callbacks_total{outcome=\"acknowledged\"} 1\n"));
    assert_eq!(rx.seen().len(), 4);
}

#[test]
fn jasmin_style_needs_ack_jasmin_in_the_body() {
    let rx = Receiver::start(0, "OK", 0);
    let url = rx.url("/dlr");
    let state = rx.state.clone();
    let done = on_executor(async move || {
        let d = Dispatcher::new(quick(|_| {}));
        d.enqueue(1, post(url, "id=1", Acknowledgement::JasminAck))
            .expect("room");
        // Let two plain "OK" answers be refused, then answer as Jasmin clients do.
        while state.lock().expect("lock").seen.len() < 2 {
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
        state.lock().expect("lock").ok_body = "ACK/Jasmin".into();
        collect(&d, 1).await
    });
    match done.as_slice() {
        [(1, CallbackOutcome::Acknowledged { attempts })] => assert!(*attempts >= 3),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn per_host_concurrency_bound_holds_and_connections_are_reused() {
    let rx = Receiver::start(0, "ok", 30);
    let url = rx.url("/cb");
    let done = on_executor(async move || {
        let d = Dispatcher::new(quick(|c| c.max_in_flight_per_host = 2));
        for token in 0..8 {
            d.enqueue(token, post(url.clone(), "{}", Acknowledgement::Status2xx))
                .expect("room");
        }
        collect(&d, 8).await
    });
    assert_eq!(done.len(), 8);
    assert!(
        done.iter()
            .all(|(_, o)| matches!(o, CallbackOutcome::Acknowledged { attempts: 1 }))
    );
    let state = rx.state.lock().expect("lock");
    assert_eq!(
        state.max_concurrent, 2,
        "never more than the bound, and the bound is used"
    );
    assert_eq!(
        state.connections, 2,
        "8 requests over 2 kept-alive connections"
    );
}

#[test]
fn a_slow_host_does_not_hold_back_other_hosts() {
    let slow = Receiver::start(0, "ok", 1_000);
    let fast = Receiver::start(0, "ok", 0);
    let (slow_url, fast_url) = (slow.url("/s"), fast.url("/f"));
    let order = on_executor(async move || {
        let d = Dispatcher::new(quick(|c| c.max_in_flight_per_host = 1));
        for token in 0..3 {
            d.enqueue(
                token,
                post(slow_url.clone(), "{}", Acknowledgement::Status2xx),
            )
            .expect("room");
        }
        for token in 10..13 {
            d.enqueue(
                token,
                post(fast_url.clone(), "{}", Acknowledgement::Status2xx),
            )
            .expect("room");
        }
        collect(&d, 6)
            .await
            .into_iter()
            .map(|(t, _)| t)
            .collect::<Vec<_>>()
    });
    assert_eq!(&order[..3], &[10, 11, 12]);
}

#[test]
fn a_callback_that_keeps_failing_is_given_up_after_the_configured_time() {
    let rx = Receiver::start(usize::MAX, "ok", 0);
    let url = rx.url("/cb");
    let done = on_executor(async move || {
        let d = Dispatcher::new(quick(|c| c.give_up_after_s = 1));
        d.enqueue(3, post(url, "{}", Acknowledgement::Status2xx))
            .expect("room");
        collect(&d, 1).await
    });
    match done.as_slice() {
        [
            (
                3,
                CallbackOutcome::GaveUp {
                    attempts,
                    last_error,
                },
            ),
        ] => {
            assert!(*attempts >= 2);
            assert!(last_error.contains("500"), "{last_error}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn queue_is_bounded_and_a_taken_completion_frees_its_slot() {
    on_executor(async move || {
        let d = Dispatcher::new(quick(|c| c.queue_capacity = 1));
        let unusable = || post("ftp://127.0.0.1/x".into(), "", Acknowledgement::Status2xx);
        d.enqueue(1, unusable()).expect("room");
        assert_eq!(d.enqueue(2, unusable()), Err(DispatchFull));
        let (token, outcome) = d.next_completion().await;
        assert_eq!(token, 1);
        assert!(matches!(
            outcome,
            CallbackOutcome::GaveUp { attempts: 0, .. }
        ));
        d.enqueue(2, unusable()).expect("room again");
    });
}

#[test]
fn signature_verifies_with_the_documented_recipe() {
    let rx = Receiver::start(0, "ok", 0);
    let url = rx.url("/signed?x=1");
    let sent_url = url.clone();
    on_executor(async move || {
        let d = Dispatcher::new(quick(|c| c.signing_key = Some(b"s3cret".to_vec())));
        d.enqueue(1, post(url, r#"{"a":1}"#, Acknowledgement::Status2xx))
            .expect("room");
        collect(&d, 1).await
    });
    let seen = rx.seen();
    let header = seen[0].signature.clone().expect("signature header");
    let (t, v1) = header.split_once(',').expect("t=…,v1=…");
    let t = t.strip_prefix("t=").expect("t");
    let v1 = v1.strip_prefix("v1=").expect("v1");
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").expect("key");
    mac.update(format!("{t}.POST.{sent_url}.").as_bytes());
    mac.update(&seen[0].body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected);
}

#[test]
fn kannel_placeholders_arrive_substituted_and_escaped() {
    let rx = Receiver::start(0, "ok", 0);
    let spec = CallbackSpec {
        url: rx.url("/dlr?type=%d&id=%I&smsc=%i&answer=%A&to=%p&ts=%T"),
        method: CallbackMethod::Get,
        style: CallbackStyle::Kannel { mask: 31 },
        receipts: receipts_from_kannel_mask(31),
    };
    let notice = ReceiptNotice {
        id: "m-1".into(),
        user: "alice".into(),
        to: "+4915112345".into(),
        from: "Tern".into(),
        client_ref: None,
        state: ReceiptState::Delivered,
        error: 0,
        smsc_id: Some("a1".into()),
        connector: "smsc one".into(),
        submitted_at_ms: 1_700_000_000_000,
        done_at_ms: 1_700_000_005_000,
        parts: 1,
        receipt_text: "id:a1 stat:DELIVRD err:000".into(),
    };
    let request = render_receipt(&spec, &notice).expect("mask 31 wants it");
    on_executor(async move || {
        let d = Dispatcher::new(quick(|_| {}));
        d.enqueue(1, request).expect("room");
        collect(&d, 1).await
    });
    let seen = rx.seen();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].target,
        "/dlr?type=1&id=m-1&smsc=smsc%20one&answer=id%3Aa1%20stat%3ADELIVRD%20err%3A000&to=%2B4915112345&ts=1700000005"
    );
}

#[test]
fn https_callbacks_check_the_certificate_and_are_acknowledged() {
    use futures_rustls::rustls;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let cert_der = certified.cert.der().to_vec();
    let key_der = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert_der.clone())],
            PrivateKeyDer::Pkcs8(key_der),
        )
        .expect("server config");
    let rx = Receiver::start_with(0, "ok", 0, Some(Arc::new(server)));
    // "localhost" may resolve to ::1 first; the receiver listens on 127.0.0.1 only.
    let url = format!("https://localhost:{}/secure", rx.addr.port());
    let (trusted, untrusted) = on_executor(async move || {
        let d = Dispatcher::new(quick(|c| {
            c.tls_webpki_roots = false;
            c.tls_extra_roots_der = vec![cert_der];
        }));
        d.enqueue(1, post(url.clone(), "{}", Acknowledgement::Status2xx))
            .expect("room");
        let trusted = collect(&d, 1).await;
        let strict = Dispatcher::new(quick(|c| c.give_up_after_s = 0));
        strict
            .enqueue(2, post(url, "{}", Acknowledgement::Status2xx))
            .expect("room");
        (trusted, collect(&strict, 1).await)
    });
    assert_eq!(
        trusted,
        vec![(1, CallbackOutcome::Acknowledged { attempts: 1 })]
    );
    match untrusted.as_slice() {
        [(2, CallbackOutcome::GaveUp { last_error, .. })] => {
            assert!(last_error.contains("tls"), "{last_error}")
        }
        other => panic!("unexpected {other:?}"),
    }
    let seen = rx.seen();
    assert_eq!(
        seen.len(),
        1,
        "the untrusting dispatcher never sent its request"
    );
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("POST", "/secure")
    );
}
