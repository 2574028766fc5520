//! The /v1 API, /metrics, /health, /v1/openapi.json and the server's limits, driven by
//! ureq (an independent blocking client) against `serve` on a glommio thread.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{ALICE, TestServer, reply};
use tern_http::{
    CallbackMethod, CallbackSpec, CallbackStyle, ReceiptNotice, ReceiptRequest, ReceiptState,
    Refusal, jasmin, render_receipt, v1,
};

fn post_json(server: &TestServer, path: &str, auth: &str, body: &str) -> common::Reply {
    reply(
        ureq::post(&server.url(path))
            .set("Authorization", auth)
            .set("Content-Type", "application/json")
            .send_string(body),
    )
}

#[test]
fn one_message_is_accepted_and_the_idempotency_key_reaches_the_backend() {
    let server = TestServer::start();
    let r = reply(
        ureq::post(&server.url("/v1/messages"))
            .set("Authorization", ALICE)
            .set("Content-Type", "application/json")
            .set("Idempotency-Key", "k-42")
            .send_string(r#"{"to":"+4915112345","from":"Tern","text":"hello","reference":"r1","priority":2,"validity_s":600,"schedule_at":"2030-01-01T00:00:00Z"}"#),
    );
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["messages"][0]["id"], "m1");
    assert_eq!(r.json()["messages"][0]["to"], "4915112345");
    assert_eq!(r.json()["messages"][0]["parts"], 1);
    let submits = server.submits();
    assert_eq!(submits.len(), 1);
    assert_eq!(submits[0].idempotency_key.as_deref(), Some("k-42"));
    let m = &submits[0].messages[0];
    assert_eq!((m.to.ton, m.to.digits.as_str()), (1, "4915112345"));
    assert_eq!((m.from.ton, m.from.digits.as_str()), (5, "Tern"));
    assert_eq!(m.client_ref.as_deref(), Some("r1"));
    assert_eq!((m.priority, m.validity_s), (2, Some(600)));
    assert_eq!(m.schedule_at_ms, Some(1_893_456_000_000));
    assert_eq!(m.encoded.data_coding, 0);
    assert_eq!(m.encoded.parts, vec![b"\x68\x65\x6c\x6c\x6f".to_vec()]);
}

#[test]
fn bearer_token_and_recipient_array_make_one_submission_per_recipient() {
    let server = TestServer::start();
    let r = post_json(
        &server,
        "/v1/messages",
        "Bearer tok",
        r#"{"to":["111","222"],"from":"123","text":"x"}"#,
    );
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["messages"].as_array().map(Vec::len), Some(2));
    assert_eq!(server.submits()[0].messages.len(), 2);
}

#[test]
fn long_text_is_sent_as_several_parts_with_a_concatenation_udh() {
    let server = TestServer::start();
    let text = "x".repeat(400);
    let r = post_json(
        &server,
        "/v1/messages",
        ALICE,
        &format!(r#"{{"to":"1","from":"T","text":"{text}"}}"#),
    );
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["messages"][0]["parts"], 3);
    let encoded = &server.submits()[0].messages[0].encoded;
    assert!(encoded.udhi);
    let reference = encoded.parts[0][3];
    for (i, part) in encoded.parts.iter().enumerate() {
        assert_eq!(&part[..6], &[5, 0, 3, reference, 3, i as u8 + 1]);
    }
    let septets: usize = encoded.parts.iter().map(|p| p.len() - 6).sum();
    assert_eq!(septets, 400);
}

#[test]
fn non_gsm_text_is_sent_as_ucs2() {
    let server = TestServer::start();
    let r = post_json(
        &server,
        "/v1/messages",
        ALICE,
        r#"{"to":"1","from":"T","text":"Привет 👋"}"#,
    );
    assert_eq!(r.status, 202);
    let encoded = &server.submits()[0].messages[0].encoded;
    assert_eq!(encoded.data_coding, 8);
    let expected: Vec<u8> = "Привет 👋"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    assert_eq!(encoded.parts, vec![expected]);
}

#[test]
fn a_bad_batch_item_makes_the_whole_request_400_naming_it() {
    let server = TestServer::start();
    let body = r#"{"messages":[{"to":"1","from":"T","text":"a"},{"to":"1","from":"T","text":"b"},{"to":"1","from":"T","text":"c"},{"to":"nope","from":"T","text":"d"}]}"#;
    let r = post_json(&server, "/v1/messages/batch", ALICE, body);
    assert_eq!(r.status, 400);
    assert_eq!(r.content_type, "application/problem+json");
    let p = r.json();
    assert_eq!(p["field"], "messages[3].to");
    assert_eq!(p["status"], 400);
    assert!(p["type"].is_string() && p["title"].is_string() && p["detail"].is_string());
    assert!(server.submits().is_empty());
}

#[test]
fn a_batch_is_accepted_with_per_item_results_and_a_shared_schedule() {
    let server = TestServer::start();
    let body = r#"{"schedule_at":1900000000,"messages":[{"to":"1","from":"T","text":"a"},{"to":["2","3"],"from":"T","hex":"0102","coding":"binary"}]}"#;
    let r = post_json(&server, "/v1/messages/batch", ALICE, body);
    assert_eq!(r.status, 202);
    let items = r.json()["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        items
            .iter()
            .map(|i| i["to"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    let subs = &server.submits()[0].messages;
    assert!(
        subs.iter()
            .all(|s| s.schedule_at_ms == Some(1_900_000_000_000))
    );
    assert_eq!(
        (
            subs[1].encoded.data_coding,
            subs[1].encoded.parts[0].clone()
        ),
        (4, vec![1, 2])
    );
}

#[test]
fn malformed_json_and_wrong_fields_are_400_problems_naming_the_field() {
    let server = TestServer::start();
    let cases = [
        (r#"{"to":"1","from":"T","text":"#, "body"),
        (r#"{"to":"1","from":"T"}"#, "text"),
        (
            r#"{"to":"1","from":"T","text":"a","priority":7}"#,
            "priority",
        ),
        (
            r#"{"to":"1","from":"T","text":"a","coding":"ebcdic"}"#,
            "coding",
        ),
        (
            r#"{"to":"1","from":"T","text":"Ж","coding":"gsm7"}"#,
            "text",
        ),
        (
            r#"{"to":"1","from":"T","text":"a","callback_ulr":"http://x/"}"#,
            "callback_ulr",
        ),
        (
            r#"{"to":"1","from":"T","text":"a","callback_url":"ftp://x/"}"#,
            "callback_url",
        ),
        (r#"{"to":"1","from":"T","hex":"0","udh":"00"}"#, "hex"),
        (
            r#"{"to":"1","from":"T","text":"a","schedule_at":"tomorrow"}"#,
            "schedule_at",
        ),
        (r#"{"to":[1],"from":"T","text":"a"}"#, "to[0]"),
    ];
    for (body, field) in cases {
        let r = post_json(&server, "/v1/messages", ALICE, body);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["field"], field, "{body}");
    }
}

#[test]
fn missing_or_wrong_credentials_are_401_with_www_authenticate() {
    let server = TestServer::start();
    for auth in ["Basic YWxpY2U6d3Jvbmc=", "Bearer nope", "Digest x"] {
        let r = post_json(
            &server,
            "/v1/messages",
            auth,
            r#"{"to":"1","from":"T","text":"a"}"#,
        );
        assert_eq!(r.status, 401);
        assert!(
            r.www_authenticate
                .as_deref()
                .is_some_and(|v| v.contains("Basic"))
        );
    }
    let r = reply(ureq::get(&server.url("/v1/messages/m1")).call());
    assert_eq!(r.status, 401);
}

#[test]
fn throttling_is_429_and_overload_503_both_with_retry_after() {
    let server = TestServer::start();
    server.refuse_with(Some(Refusal::Throttled { retry_after_s: 3 }));
    let r = post_json(
        &server,
        "/v1/messages",
        ALICE,
        r#"{"to":"1","from":"T","text":"a"}"#,
    );
    assert_eq!((r.status, r.retry_after.as_deref()), (429, Some("3")));
    server.refuse_with(Some(Refusal::Overloaded { retry_after_s: 5 }));
    let r = post_json(
        &server,
        "/v1/messages",
        ALICE,
        r#"{"to":"1","from":"T","text":"a"}"#,
    );
    assert_eq!((r.status, r.retry_after.as_deref()), (503, Some("5")));
    server.refuse_with(Some(Refusal::NoRoute("1".into())));
    let r = post_json(
        &server,
        "/v1/messages",
        ALICE,
        r#"{"to":"1","from":"T","text":"a"}"#,
    );
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("to")));
    server.refuse_with(None);
    server.shared.lock().expect("lock").auth_busy = true;
    let r = post_json(
        &server,
        "/v1/messages",
        ALICE,
        r#"{"to":"1","from":"T","text":"a"}"#,
    );
    assert_eq!((r.status, r.retry_after.as_deref()), (503, Some("1")));
}

#[test]
fn status_has_parts_and_timeline_and_unknown_ids_are_404() {
    let server = TestServer::start();
    let r = reply(
        ureq::get(&server.url("/v1/messages/m1"))
            .set("Authorization", ALICE)
            .call(),
    );
    assert_eq!(r.status, 200);
    let s = r.json();
    assert_eq!(
        (s["state"].as_str(), s["reference"].as_str()),
        (Some("delivered"), Some("ref-1"))
    );
    assert_eq!(s["parts"][0]["smsc_id"], "abc");
    assert_eq!(s["timeline"][1]["state"], "delivered");
    assert_eq!(s["timeline"][0]["at"], "2023-11-14T22:13:20.000Z");
    let r = reply(
        ureq::get(&server.url("/v1/messages/zz"))
            .set("Authorization", ALICE)
            .call(),
    );
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (404, "application/problem+json")
    );
}

#[test]
fn wrong_method_unknown_route_media_type_and_body_size_are_refused() {
    let server = TestServer::with_config(|c| c.max_body_octets = 1000);
    let r = reply(ureq::get(&server.url("/v1/messages")).call());
    assert_eq!(r.status, 405);
    let r = reply(ureq::get(&server.url("/nowhere")).call());
    assert_eq!(r.status, 404);
    let r = reply(
        ureq::post(&server.url("/v1/messages"))
            .set("Authorization", ALICE)
            .set("Content-Type", "text/plain")
            .send_string("x"),
    );
    assert_eq!(r.status, 415);
    let big = format!(r#"{{"to":"1","from":"T","text":"{}"}}"#, "a".repeat(2000));
    let r = post_json(&server, "/v1/messages", ALICE, &big);
    assert_eq!(r.status, 413);
}

#[test]
fn metrics_carry_the_engine_families_and_request_counts_by_route_and_status() {
    let server = TestServer::start();
    let _ = post_json(
        &server,
        "/v1/messages",
        ALICE,
        r#"{"to":"1","from":"T","text":"a"}"#,
    );
    let _ = reply(ureq::get(&server.url("/health")).call());
    let r = reply(ureq::get(&server.url("/metrics")).call());
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/plain"));
    assert!(r.body.contains("tern_engine_fake 1\n"));
    assert!(
        r.body
            .contains("tern_http_requests_total{route=\"/v1/messages\",status=\"202\"} 1\n")
    );
    assert!(
        r.body
            .contains("tern_http_requests_total{route=\"/health\",status=\"200\"} 1\n")
    );
    assert!(
        r.body
            .contains("tern_http_request_duration_seconds_count{route=\"/v1/messages\"} 1\n")
    );
}

#[test]
fn health_reports_readiness_and_binds() {
    let server = TestServer::start();
    let r = reply(ureq::get(&server.url("/health")).call());
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.json()["ready"].as_bool(), r.json()["binds_up"].as_u64()),
        (Some(true), Some(1))
    );
}

#[test]
fn openapi_names_only_routes_and_fields_that_exist() {
    let server = TestServer::start();
    let r = reply(ureq::get(&server.url("/v1/openapi.json")).call());
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    let mut documented = Vec::new();
    for (path, ops) in &paths {
        for method in ops
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let url = server.url(&path.replace("{id}", "m1"));
            let req = ureq::request(&method.to_uppercase(), &url).set("Authorization", ALICE);
            let r = reply(req.send_string(""));
            assert!(
                r.status != 404 && r.status != 405,
                "{method} {path} is documented but answers {}",
                r.status
            );
            documented.push(path.clone());
        }
    }
    for route in [
        "/v1/messages",
        "/v1/messages/batch",
        "/v1/messages/{id}",
        "/v1/openapi.json",
        "/metrics",
        "/health",
        "/cgi-bin/sendsms",
        "/send",
    ] {
        assert!(
            documented.iter().any(|p| p == route),
            "{route} is served but not documented"
        );
    }
    let props: Vec<String> = doc["components"]["schemas"]["Message"]["properties"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let mut expected: Vec<String> = v1::message_fields().iter().map(|s| s.to_string()).collect();
    let mut got = props.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    let jasmin_params: Vec<String> = doc["paths"]["/send"]["get"]["parameters"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for p in &jasmin_params {
        assert!(
            jasmin::fields().contains(&p.as_str()),
            "/send documents unknown {p}"
        );
    }
    assert_eq!(jasmin_params.len(), jasmin::fields().len());
    assert!(doc["paths"]["/v1/messages"]["post"]["callbacks"]["receipt"].is_object());

    // The documented shapes are the ones produced.
    let schema_keys = |name: &str| -> Vec<String> {
        let mut keys: Vec<String> = doc["components"]["schemas"][name]["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    };
    let object_keys = |v: &serde_json::Value| -> Vec<String> {
        let mut keys: Vec<String> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    };
    let status = reply(
        ureq::get(&server.url("/v1/messages/m1"))
            .set("Authorization", ALICE)
            .call(),
    )
    .json();
    assert_eq!(object_keys(&status), schema_keys("Status"));
    let health = reply(ureq::get(&server.url("/health")).call()).json();
    assert_eq!(object_keys(&health), schema_keys("Health"));
    let spec = CallbackSpec {
        url: "http://h/cb".into(),
        method: CallbackMethod::Post,
        style: CallbackStyle::Json,
        receipts: ReceiptRequest {
            on_success: true,
            on_failure: true,
            intermediate: true,
        },
    };
    let notice = ReceiptNotice {
        id: "m1".into(),
        user: "alice".into(),
        to: "1".into(),
        from: "T".into(),
        client_ref: None,
        state: ReceiptState::Delivered,
        error: 0,
        smsc_id: None,
        connector: "c".into(),
        submitted_at_ms: 0,
        done_at_ms: 0,
        parts: 1,
        receipt_text: String::new(),
    };
    let receipt = render_receipt(&spec, &notice).expect("wanted");
    let body: serde_json::Value = serde_json::from_slice(&receipt.body).expect("JSON receipt");
    assert_eq!(object_keys(&body), schema_keys("Receipt"));
}

#[test]
fn connections_over_the_shard_limit_get_503_with_retry_after() {
    let server = TestServer::with_config(|c| c.max_connections = 1);
    let mut held = std::net::TcpStream::connect(server.addr).expect("connect");
    held.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut first = [0u8; 12];
    held.read_exact(&mut first).expect("first answer");
    assert_eq!(&first, b"HTTP/1.1 200");
    let r = reply(ureq::get(&server.url("/health")).call());
    assert_eq!((r.status, r.retry_after.as_deref()), (503, Some("1")));
}

#[test]
fn a_connection_that_never_finishes_its_head_is_closed() {
    let server = TestServer::with_config(|c| c.header_read_timeout_ms = 100);
    let mut slow = std::net::TcpStream::connect(server.addr).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    slow.write_all(b"GET /health HTTP/1.1\r\nHost")
        .expect("write");
    let mut buf = [0u8; 64];
    assert_eq!(slow.read(&mut buf).expect("closed, not timed out"), 0);
}
